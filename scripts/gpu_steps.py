"""The parts of scripts/gpu_check.sh's steps that need more than one command line, in Python so
the CPU tests can reach them, and the stand-ins its rehearsal runs instead of the real steps.

    python scripts/gpu_steps.py build [--if-stale] OUT.json   build awing_ext in place for the visible GPU
    python scripts/gpu_steps.py cuda-skips JUNIT.xml          fail if a CUDA test skipped for lack of a GPU
    python scripts/gpu_steps.py probe TOOL PATH WORKDIR       does compute-sanitizer/ncu work here? (69: no)
    python scripts/gpu_steps.py refused LOG                   exit 0 if LOG shows a tool refusing the device
    python scripts/gpu_steps.py standin STEP OUTCOME WORKDIR  a rehearsal's ~1 s stand-in for STEP

Exit status 69 (EX_UNAVAILABLE) means "this tool does not work on this machine": gpu_check.sh
reports it as `unavailable`, which counts as neither a failure nor a pass.
"""
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
UNAVAILABLE = 69
# Skip reasons that mean "this machine cannot run the CUDA tests" (tests/helpers/device_support.py's among them),
# as opposed to legitimate ones such as "needs two CUDA devices".
LACKING_CUDA = re.compile(r"no CUDA device|without CUDA|CUDA (is )?not available|no GPU|sees no CUDA", re.I)
# What compute-sanitizer and ncu print when the machine refuses them (seen: "Device not supported"
# then error 999 at the first allocation; "Failed to initialize the profiler: LibraryNotLoaded").
TOOL_REFUSALS = re.compile(r"Device not supported|LibraryNotLoaded|ERR_NVGPUCTRPERM|Failed to initialize the profiler"
                           r"|permission to access NVIDIA GPU Performance Counters|\berror 999\b", re.I)
PROBE_TIMEOUT = 90
TORCH_PROBE = ("import torch; x = torch.ones(32, device='cuda') + 1; torch.cuda.synchronize(); "
               "print('probe: kernel ran' if x.sum().item() == 64 else 'probe: failed')")


# ------------------------------------------------------------------------------------ build

def extension_files() -> list:
    """This interpreter's compiled modules of the in-place build (none unless awing_ext._C is among them)."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    built = sorted(glob.glob(str(ROOT / "awing_ext" / f"*{suffix}")))
    return built if any(Path(f).name == f"_C{suffix}" for f in built) else []


def imported_build_info() -> Optional[dict]:
    """awing_ext.build_info() from a fresh interpreter (this one may hold an older build)."""
    code = "import json, awing_ext; print(json.dumps(awing_ext.build_info()))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        print(r.stdout + r.stderr, end="")
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def stale_reason() -> Optional[str]:
    """Why the in-place build cannot be reused (None: it is built with CUDA and newer than its sources)."""
    built = extension_files()
    if not built:
        return "awing_ext/_C is not built"
    built_at = min(os.path.getmtime(f) for f in built)
    sources = [p for p in (ROOT / "csrc").rglob("*") if p.is_file()] + [ROOT / "setup.py"]
    newer = [p for p in sources if p.stat().st_mtime > built_at]
    if newer:
        return f"{newer[0].relative_to(ROOT)} is newer than the build"
    info = imported_build_info()
    if info is None:
        return "the built awing_ext does not import"
    if not info.get("cuda"):
        return "the built awing_ext has no CUDA kernels"
    return None


def build(out_json: str, if_stale: bool) -> int:
    """One `setup.py build_ext --inplace` for the visible GPU's architecture (no pip: a failed
    pip attempt followed by a second build would compile everything twice and bury the first
    error), then build_info() from a fresh interpreter, which must say cuda."""
    reason = stale_reason() if if_stale else "a full run builds"
    if reason is None:
        print("awing_ext is already built with CUDA and newer than csrc/ and setup.py: not rebuilt")
    else:
        print(f"building: {reason}")
        import torch
        if not torch.cuda.is_available():
            print("error: torch sees no CUDA device to build for "
                  f"(torch {torch.__version__}, CUDA {torch.version.cuda})")
            return 1
        arch = "%d.%d" % torch.cuda.get_device_capability()
        env = {**os.environ, "TORCH_CUDA_ARCH_LIST": arch, "AWING_FORCE_CUDA": "1",
               "MAX_JOBS": os.environ.get("MAX_JOBS", str(os.cpu_count() or 4))}
        command = [sys.executable, "setup.py", "build_ext", "--inplace"]
        print(f"arch {arch}: TORCH_CUDA_ARCH_LIST={arch} AWING_FORCE_CUDA=1 MAX_JOBS={env['MAX_JOBS']} "
              + shlex.join(command), flush=True)
        errors = []
        with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace") as proc:
            for line in proc.stdout:
                sys.stdout.write(line)
                if re.search(r"\berror\b", line, re.I) and len(errors) < 10:
                    errors.append(line.rstrip())
        sys.stdout.flush()
        if proc.returncode != 0:
            print(f"\nerror: the build failed (rc={proc.returncode}); its first error lines:")
            print("\n".join(errors) or "(none matched 'error')")
            return 1
    info = imported_build_info()
    if info is None:
        print("error: awing_ext does not import after the build")
        return 1
    print("build_info", info)
    Path(out_json).write_text(json.dumps(info, indent=2) + "\n")
    if not info.get("cuda"):
        print("error: awing_ext was built without its CUDA kernels (build_info()['cuda'] is false)")
        return 1
    return 0


# ------------------------------------------------------------------------------- cuda tests

def cuda_skips(junit: str) -> int:
    """A CUDA test run whose tests skipped for lack of a device or a CUDA build has verified
    nothing: that is a failure, not a pass."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError) as exc:
        print(f"error: no test results to check ({exc})")
        return 1
    cases = list(root.iter("testcase"))
    skipped = [(c, s) for c in cases for s in c.findall("skipped")]
    lacking = [(c, s) for c, s in skipped if LACKING_CUDA.search((s.get("message") or "") + " " + (s.text or ""))]
    print(f"cuda-skips: {len(cases)} tests, {len(skipped)} skipped, {len(lacking)} of them for lack of CUDA")
    for case, skip in skipped:
        print(f"  skipped {case.get('classname')}::{case.get('name')}: {skip.get('message')}")
    if not cases:
        print("error: no CUDA test ran")
        return 1
    if lacking:
        print(f"error: {len(lacking)} CUDA tests skipped for lack of a CUDA device or build "
              f"(first: {lacking[0][1].get('message')!r}): this run verified nothing on the GPU")
        return 1
    return 0


# ------------------------------------------------------------------------------------ probes

def probe_program(workdir: Path) -> list:
    """scripts/gpu_probe.cu compiled once (nvcc), else a one-kernel torch program."""
    exe = workdir / "gpu_probe"
    if exe.exists():
        return [str(exe)]
    nvcc = shutil.which("nvcc") or next((str(Path(d) / "bin" / "nvcc") for d in (os.environ.get("CUDA_HOME"), "/usr/local/cuda")
                                         if d and (Path(d) / "bin" / "nvcc").exists()), None)
    if nvcc:
        workdir.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([nvcc, "-o", str(exe), str(ROOT / "scripts" / "gpu_probe.cu")], capture_output=True, text=True)
        if r.returncode == 0:
            return [str(exe)]
        print(f"nvcc could not build the probe (rc={r.returncode}), probing with torch instead:\n{r.stdout}{r.stderr}")
    return [sys.executable, "-c", TORCH_PROBE]


def probe_verdict(tool: str, rc: int, output: str) -> Optional[str]:
    """Why `tool` cannot be used here, judged from its run over the trivial program (None: usable)."""
    refusal = TOOL_REFUSALS.search(output)
    if refusal:
        return f"refused this machine ({refusal.group(0)!r})"
    if rc != 0:
        return f"exited with rc={rc} over a trivial CUDA program"
    if "probe: kernel ran" not in output:
        return "kept the trivial CUDA program from running its kernel"
    if tool == "compute-sanitizer" and not re.search(r"ERROR SUMMARY: 0 errors", output):
        return "reported errors in a trivial CUDA program"
    if tool == "ncu" and not re.search(r"^\s+Duration\s", output, re.M):
        return "profiled no kernel of a trivial CUDA program"
    return None


def probe(tool: str, path: str, workdir: str) -> int:
    exe = shutil.which(path)
    if exe is None:
        print(f"unavailable: {tool} not found ({path} is not on PATH or in the CUDA toolkit)")
        return UNAVAILABLE
    options = {"compute-sanitizer": ["--tool", "memcheck", "--error-exitcode", "1"],
               "ncu": ["--clock-control", "none", "--section", "SpeedOfLight"]}[tool]
    command = [exe, *options, *probe_program(Path(workdir))]
    print("$ " + shlex.join(command), flush=True)
    try:
        r = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=PROBE_TIMEOUT)
        rc, output = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as exc:
        rc, output = 124, f"{exc.stdout or ''}{exc.stderr or ''}\n(no answer in {PROBE_TIMEOUT} s)"
    print(output)
    reason = probe_verdict(tool, rc, output)
    if reason:
        print(f"unavailable: {tool} {reason}; its passes are skipped as unavailable")
        return UNAVAILABLE
    print(f"{tool} works on this machine")
    return 0


def refused(log: str) -> int:
    try:
        text = Path(log).read_text(errors="replace")
    except OSError:
        return 1
    return 0 if TOOL_REFUSALS.search(text) else 1


# -------------------------------------------------------------------------------- rehearsal

FAKE_ERRORS = {
    "build": ['csrc/cuda/adaptive_wing_loss.cu(42): error: identifier "rehearsal" is undefined',
              '1 error detected in the compilation of "csrc/cuda/adaptive_wing_loss.cu".',
              "error: command '/usr/local/cuda/bin/nvcc' failed with exit code 2"],
    "cuda-tests": ["FAILED tests/ops/adaptive_wing_loss/test_cuda.py::test_reduction_is_deterministic - AssertionError",
                   "1 failed, 400 passed in 61.0s"],
    "memcheck": ["========= Invalid __global__ read of size 4 bytes", "=========     at awing::cuda::loss_map_mask_kernel",
                 "========= ERROR SUMMARY: 1 error"],
}
NCU_FAKE = """\
  void awing::cuda::adaptive_wing_loss_kernel<float, int, 4, false>(const float *, int) (1056, 1, 1)x(256, 1, 1), Context 1, Stream 7, Device 0, CC 9.0
    Section: GPU Speed Of Light Throughput
    Memory Throughput                 %        71.25
    DRAM Throughput                   %        69.10
    Duration                         us        30.05
"""


def fake_outputs(step: str, work: Path) -> None:
    """Small stand-ins for what the real step leaves in the scratch folder, so the rehearsal's
    report has every section filled (each number is marked as the rehearsal's)."""
    r = "rehearsal"
    if step == "environment":
        (work / "env.json").write_text(json.dumps({"gpu": "rehearsal (no GPU)", "capability": r, "sms": r,
                                                   "driver": r, "torch": r, "cuda": r, "nvcc": r, "python": r}))
    elif step == "build":
        (work / "build_info.json").write_text(json.dumps({"cpu": True, "cuda": True, "cuda_version": r}))
    elif step == "bench-loss":
        row = {"device": "cuda", "N": 32, "pass": "fwd+bwd",
               "median_ms": {"fused": 0.05, "eager": 0.6, "compiled": 0.2, "floor": 0.04},
               "speedup_vs_eager": 12.0, "speedup_vs_compiled": 4.0, "fused_over_floor": 1.25}
        (work / "loss.json").write_text(json.dumps({"rehearsal": True, "results": [row]}))
    elif step == "bench-targets":
        row = {"impl": "batched awing_ext", "device": "cuda", "batch": 64, "timing": {"median_ms": 0.2},
               "parts_median_ms": {"heatmaps": 0.08, "boundary": 0.06, "loss_map_mask": 0.06},
               "write_floor_ms": 0.15, "over_write_floor": 1.33, "samples_per_s": 3.2e5}
        (work / "targets.json").write_text(json.dumps({"rehearsal": True, "results": [row]}))
    elif step == "bench-train-step":
        phases = {"data": 20.0, "targets": 0.3, "forward": 10.0, "loss": 0.1, "backward": 20.0}
        compute = sum(v for k, v in phases.items() if k != "data")
        row = {"device": "cuda", "preset": "paper", "amp": "bf16", "batch_size": 32, "median_ms": phases,
               "compute_ms": compute, "share": {k: phases[k] / compute for k in ("targets", "forward", "loss", "backward")}}
        (work / "train_step.json").write_text(json.dumps({"rehearsal": True, "results": [row]}))
    elif step == "ncu-profile":
        (work / "ncu_kernels.txt").write_text(NCU_FAKE)
    elif step == "cuda-tests":
        (work / "cuda_tests.xml").write_text('<testsuites><testsuite name="pytest" tests="1">'
                                             '<testcase classname="rehearsal" name="test"/></testsuite></testsuites>')


def standin(step: str, outcome: str, workdir: str) -> int:
    seconds = float(os.environ.get("AWING_REHEARSE_SECONDS", "1"))
    print(f"rehearsal: a stand-in for step {step}, outcome {outcome}", flush=True)
    if outcome == "timeout":
        time.sleep(10 ** 6)  # gpu_check.sh's timeout ends it
    time.sleep(seconds)
    if outcome == "fail":
        print("\n".join(FAKE_ERRORS.get(step, [f"error: {step} failed (a rehearsal stand-in)"])))
        return 1
    if outcome == "unavailable":
        print(f"========= Error: Device not supported (a rehearsal stand-in for a machine that refuses {step})")
        return UNAVAILABLE
    fake_outputs(step, Path(workdir))
    print(f"rehearsal: {step} passed")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    if command == "build" and args and len(args) <= 2:
        return build(args[-1], "--if-stale" in args[:-1])
    if command == "cuda-skips" and len(args) == 1:
        return cuda_skips(args[0])
    if command == "probe" and len(args) == 3 and args[0] in ("compute-sanitizer", "ncu"):
        return probe(*args)
    if command == "refused" and len(args) == 1:
        return refused(args[0])
    if command == "standin" and len(args) == 3 and args[1] in ("pass", "fail", "timeout", "unavailable"):
        return standin(*args)
    print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
