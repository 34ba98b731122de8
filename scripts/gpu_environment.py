"""Writes what the GPU check ran on as JSON (GPU, capability, SMs, driver, torch, CUDA, nvcc,
awing_ext's build_info) and prints it; scripts/gpu_report.py puts it at the top of the report.

    python scripts/gpu_environment.py OUT.json
"""
import json
import platform
import re
import shutil
import subprocess
import sys


def command_output(args) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    import torch

    import awing_ext
    env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "build_info": awing_ext.build_info()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, capability="%d.%d" % (props.major, props.minor), sms=props.multi_processor_count,
                   memory_gib=round(props.total_memory / 2**30, 1), gpus=torch.cuda.device_count())
    smi = command_output(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]).strip()
    env["driver"] = smi.splitlines()[0] if smi else None
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    match = re.search(r"release ([\d.]+)", command_output([nvcc, "--version"]))
    env["nvcc"] = match.group(1) if match else None
    text = json.dumps(env, indent=2)
    print(text)
    if argv:
        with open(argv[0], "w") as f:
            f.write(text + "\n")
    if not torch.cuda.is_available():
        print("error: torch sees no CUDA device", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
