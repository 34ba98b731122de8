"""Writes what the GPU check ran on as JSON (GPU, capability, SMs, driver, torch, CUDA, nvcc,
compute-sanitizer, ncu, CPUs) and prints it; scripts/gpu_report.py puts it at the top of the report.

It is the first step and does not import awing_ext, so the report names the machine even when
the build fails. The tools are the ones gpu_check.sh found ($AWING_SANITIZER, $AWING_NCU).

    python scripts/gpu_environment.py OUT.json
"""
import json
import os
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


def tool_version(path: str) -> str:
    """The version line of a CUDA tool, or 'not found'."""
    exe = shutil.which(path)
    if exe is None:
        return "not found"
    lines = [line for line in command_output([exe, "--version"]).splitlines() if re.search(r"\d+\.\d+", line)]
    return f"{lines[-1].strip()} ({exe})" if lines else exe


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "cpus": os.cpu_count()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, capability="%d.%d" % (props.major, props.minor), sms=props.multi_processor_count,
                   memory_gib=round(props.total_memory / 2**30, 1), gpus=torch.cuda.device_count())
    smi = command_output(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]).strip()
    env["driver"] = smi.splitlines()[0] if smi else None
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    match = re.search(r"release ([\d.]+)", command_output([nvcc, "--version"]))
    env["nvcc"] = match.group(1) if match else None
    env["compute_sanitizer"] = tool_version(os.environ.get("AWING_SANITIZER", "compute-sanitizer"))
    env["ncu"] = tool_version(os.environ.get("AWING_NCU", "ncu"))
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
