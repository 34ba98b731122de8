"""The whole GPU verification of awing in one command (`bash scripts/gpu_check.sh`, docs/gpu.md),
sized for a short loan of a GPU machine: the speed goals first, the correctness checks next, the
extras last, in 420 s. `--rehearse SPEC` runs the same orchestration on any machine, each step a
short stand-in whose outcome SPEC gives; `--dry-run` lists the steps.

Each step (STEPS) runs as `bash -c COMMAND` in a process group of its own, ended whole when its
time limit, cut to what is left of the budget, runs out. A failed build skips the rest. The
probes run compute-sanitizer and ncu over a trivial CUDA program (gpu_probe.cu): a tool that is
missing or refused makes its passes `unavailable`, which counts as neither pass nor failure.
OUTDIR gets three files: report.md (rewritten after every step, and once more when SIGTERM,
SIGINT or SIGHUP ends the run, which then exits 143), steps.tsv and bundle.tar.gz (logs, JSON,
ncu text). Exit status: 1 if a correctness step failed, else 2 if a benchmark or profile step
failed, else 0. The steps run with this interpreter; CUDA_HOME is searched for the CUDA tools
after PATH; AWING_REHEARSE_SECONDS (default 1) is a stand-in's length and AWING_REHEARSE_LIMIT
(default 5) every step's limit in a rehearsal. `--helper NAME ARGS` runs a step's Python part.
"""
import argparse
import datetime
import glob
import inspect
import itertools
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]

Step = namedtuple("Step", "name kind group limit tool command")
# name, kind (correctness, benchmark or probe), group (a group's steps run at the same time), time
# limit in seconds, tool (whose probe must pass), command: a bash -c line, its {fields} filled in
# by plan(). memcheck, racecheck and synccheck instrument only awing's kernels where the sanitizer
# can filter by name ({filter}); initcheck runs unfiltered, since torch's kernels write the tensors
# awing's read. racecheck and synccheck run over the ops whose kernels use shared memory or
# barriers (tests/tools/test_gpu_check.py checks csrc/cuda for them): the loss's cub::BlockReduce
# and the warp shuffles of decode, soft_argmax and integral_coords.
STEPS = tuple(Step(*row) for row in (
    ("environment", "correctness", "", 30, "", "{helper} environment {work}/env.json {sanitizer} {ncu}"),
    ("build", "correctness", "", 240, "", "{helper} build {build_mode} {work}/build_info.json"),
    ("bench-loss", "benchmark", "", 150, "", "{py} -m benchmarks.bench_loss --devices cuda --batch-sizes 32 "
     "--losses all --repeat 30 --json {work}/loss.json"),
    ("bench-targets", "benchmark", "", 45, "", "{py} -m benchmarks.bench_targets --devices cuda "
     "--batch-sizes 32 64 --repeat 30 --json {work}/targets.json"),
    ("cuda-tests", "correctness", "", 150, "", "{py} -m pytest -p no:cacheprovider -q -rs -m '' -k cuda "
     "--ignore-glob='tests/tools/test_gpu_check*' tests --junitxml={work}/cuda_tests.xml; rc=$?; "
     "{helper} cuda-skips {work}/cuda_tests.xml || rc=1; exit $rc"),
    ("sanitizer-probe", "probe", "", 45, "sanitizer", "{helper} probe compute-sanitizer {sanitizer} {scratch}"),
    ("memcheck", "correctness", "sanitizers", 150, "sanitizer",
     "{sanitize} {filter}--tool memcheck {workload} --int64"),
    ("racecheck", "correctness", "sanitizers", 150, "sanitizer",
     "{sanitize} {filter}--tool racecheck {workload} --ops loss"),
    ("synccheck", "correctness", "sanitizers", 150, "sanitizer",
     "{sanitize} {filter}--tool synccheck {workload} --ops loss,decode,soft_argmax,integral"),
    ("initcheck", "correctness", "sanitizers", 150, "sanitizer", "{sanitize} --tool initcheck {workload}"),
    ("bench-train-step", "benchmark", "", 75, "", "{py} -m benchmarks.bench_train_step --devices cuda "
     "--preset paper --amp bf16 --batch-sizes 32 --repeat 10 --json {work}/train_step.json"),
    ("torchrun-nccl", "correctness", "", 90, "", "NCCL_SOCKET_IFNAME=lo {py} -m torch.distributed.run --standalone "
     "--nproc_per_node=1 -m training.train --device cuda --preset tiny --train-samples 64 --val-samples 32 "
     "--test-samples 32 --batch-size 8 --epochs 1 --workers 0 --no-progress --out {work}/torchrun_run"),
    ("ncu-probe", "probe", "", 45, "ncu", "{helper} probe ncu {ncu} {scratch}"),
    ("ncu-profile", "benchmark", "", 75, "ncu", "{ncu} --clock-control none --nvtx --nvtx-include 'awing/' "
     "--section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats "
     "{py} -m benchmarks.profile_workload | tee {work}/ncu_kernels.txt || exit $?; grep -q adaptive_wing_loss_kernel "
     "{work}/ncu_kernels.txt || {{ echo 'error: ncu profiled no awing kernel'; exit 1; }}"),
))
# The repository files the steps run (the dry run checks that they exist).
NEEDED_FILES = ("setup.py", "benchmarks/gpu_probe.cu", "benchmarks/sanitize_workload.py",
                "benchmarks/profile_workload.py", "benchmarks/bench_loss.py", "benchmarks/bench_targets.py",
                "benchmarks/bench_train_step.py", "training/train.py", "tests/ops/adaptive_wing_loss/test_cuda.py",
                "tests/helpers/cuda_parity.py")
OUTCOMES = ("pass", "fail", "timeout", "unavailable")
RESERVE = 10      # seconds kept at the end for the report and the bundle
MIN_WINDOW = 10   # a step is not started with less than this left
KILL_GRACE = 10   # seconds between a timed-out step's SIGTERM and its SIGKILL
UNAVAILABLE = 69  # a step's exit status for "this tool does not work here" (EX_UNAVAILABLE)


def find_tool(name: str) -> str:
    """A CUDA tool from PATH, else from CUDA_HOME, /usr/local/cuda or Nsight Compute; else its bare name."""
    folders = [os.environ.get("CUDA_HOME", ""), "/usr/local/cuda", *sorted(glob.glob("/opt/nvidia/nsight-compute/*"))]
    candidates = [Path(d) / sub / name for d in folders if d for sub in ("bin", ".")]
    return shutil.which(name) or next((str(p) for p in candidates if p.is_file() and os.access(p, os.X_OK)), name)


def command_output(args, timeout=30) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=timeout).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def plan(work: str, scratch: str, wanted: Optional[list] = None, rehearse: Optional[dict] = None) -> list:
    """The steps to run, in order, their commands filled in: those --steps names (all by default)
    after environment and build, with the probe of each one's tool; a rehearsal's are stand-ins."""
    q, py = shlex.quote, shlex.quote(sys.executable)
    sanitizer, ncu = find_tool("compute-sanitizer"), find_tool("ncu")
    filters_by_name = "--kernel-name " in command_output([sanitizer, "--help"])
    fields = dict(py=py, helper=f"{py} -m benchmarks.gpu_check --helper", work=q(work), scratch=q(scratch),
                  sanitizer=q(sanitizer), ncu=q(ncu), build_mode="if-stale" if wanted else "always",
                  # PyTorch's caching allocator hides out-of-bounds accesses in its cached blocks from memcheck
                  sanitize=f"PYTORCH_NO_CUDA_MEMORY_CACHING=1 {q(sanitizer)} --error-exitcode 1 --print-limit 30",
                  filter="--kernel-name kns=awing " if filters_by_name else "",
                  workload=f"{py} -m benchmarks.sanitize_workload")
    tools = {step.tool for step in STEPS if step.name in (wanted or ())}
    steps = []
    for step in STEPS:
        probe_needed = step.kind == "probe" and step.tool in tools
        if wanted and step.name not in (*wanted, "environment", "build") and not probe_needed:
            continue
        if rehearse is not None:
            outcome = rehearse.get(step.name, "pass")
            step = step._replace(command=f"{{helper}} standin {step.name} {outcome} {{work}}",
                                 limit=int(os.environ.get("AWING_REHEARSE_LIMIT", "5")))
        steps.append(step._replace(command=step.command.format(**fields)))
    return steps


# ------------------------------------------------------------------------------ the scheduler

@dataclass
class Started:
    step: Step
    proc: subprocess.Popen
    deadline: float
    ended: Optional[float] = None
    timed_out: bool = False


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Run:
    """One GPU check under way: its steps, what has finished, the budget and OUTDIR's three files."""

    def __init__(self, steps: list, out: Path, scratch: Path, budget: int, rehearsal: bool):
        self.steps, self.out, self.scratch, self.budget, self.rehearsal = steps, out, scratch, budget, rehearsal
        self.work = scratch / "work"
        (self.work / "logs").mkdir(parents=True)
        self.start = time.monotonic()
        self.rows = []        # [name, kind, status, seconds, log] per finished step, as in steps.tsv
        self.tool_down = {}   # tool -> the log of the probe that found it unavailable
        self.stop = 0         # the signal that ended the run, once one has
        for name in ("report.md", "bundle.tar.gz"):
            (out / name).unlink(missing_ok=True)
        (out / "steps.tsv").write_text("")

    def record(self, step: Step, status: str, seconds: int, log: str) -> None:
        self.rows.append([step.name, step.kind, status, str(seconds), log])
        with open(self.out / "steps.tsv", "a") as f:
            f.write("\t".join(self.rows[-1]) + "\n")

    def run_batch(self, batch: list) -> None:
        """Starts the batch's steps (one, or a group) that may run, waits for them, records each."""
        started, now = [], time.monotonic()
        left = int(self.start + self.budget - now - RESERVE)
        for step in batch:
            if self.stop:  # a signal came while the batch was starting: the rest is not reached
                break
            if any(row[0] == "build" and row[2] not in ("pass", "skipped (budget spent)") for row in self.rows):
                skip = ("skipped (build failed)", "-", "")
            elif step.kind != "probe" and step.tool in self.tool_down:
                skip = ("unavailable", self.tool_down[step.tool], f" (see {self.tool_down[step.tool]})")
            elif left < MIN_WINDOW:
                skip = ("skipped (budget spent)", "-", f": the {self.budget} s budget is spent")
            else:
                limit = min(step.limit, left)
                print(f"== {step.name} ({step.kind}, limit {limit} s)", flush=True)
                with open(self.work / "logs" / f"{step.name}.log", "wb") as log:
                    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", step.command], cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
                started.append(Started(step, proc, now + limit))
                continue
            print(f"== {step.name}: {skip[0]}{skip[2]}", flush=True)
            self.record(step, skip[0], 0, skip[1])
        self.wait(started)
        for s in started:
            self.finish(s, now)

    def wait(self, started: list) -> None:
        """Until every started step has ended: one past its limit has its process group sent SIGTERM,
        and SIGKILL KILL_GRACE s later; a signal to the run ends them all (SIGKILL after 3 s)."""
        while True:
            now = time.monotonic()
            for s in started:
                if s.ended is None and s.proc.poll() is not None:
                    s.ended = now
            alive = [s for s in started if s.ended is None]
            if not alive:
                return
            for s in alive:
                if self.stop or (now > s.deadline and not s.timed_out):
                    s.timed_out = not self.stop
                    signal_group(s.proc, signal.SIGTERM)
                elif now > s.deadline + KILL_GRACE:
                    signal_group(s.proc, signal.SIGKILL)
            if self.stop:
                for s in alive:
                    try:
                        s.proc.wait(max(0.0, now + 3 - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        signal_group(s.proc, signal.SIGKILL)
                        s.proc.wait()
                return
            time.sleep(0.2)

    def finish(self, s: Started, batch_start: float) -> None:
        step, rc, log = s.step, s.proc.returncode, f"logs/{s.step.name}.log"
        if s.ended is None:
            status = "killed"  # the run was ended while the step ran
        elif s.timed_out or rc in (124, 137):
            status = "timeout"
        else:
            status = {0: "pass", UNAVAILABLE: "unavailable"}.get(rc, f"fail(rc={rc})")
        # A probe never fails: a tool it cannot run is unavailable, and so are that tool's passes.
        # A pass the machine refused (the probe passed, the real run did not) is no kernel bug either.
        if status not in ("pass", "killed") and (step.kind == "probe" or step.tool and refused(self.work / log)):
            status = "unavailable"
        if step.kind == "probe" and status == "unavailable":
            self.tool_down[step.tool] = log
        seconds = int((s.ended or time.monotonic()) - batch_start)
        for line in read_lines(self.work / log)[-3:]:
            print("   " + line[:200])
        print(f"   -> {step.name}: {status} in {seconds} s", flush=True)
        self.record(step, status, seconds, log)

    def exit_status(self) -> int:
        failed = {kind for _, kind, status, *_ in self.rows if status not in ("pass", "unavailable")}
        return 1 if "correctness" in failed else 2 if "benchmark" in failed else 0

    def report(self, state: str, exit_status: Optional[int] = None) -> None:
        """report.md and bundle.tar.gz as things stand, each written in the scratch folder and then
        moved into OUTDIR, so that OUTDIR never holds half of one, nor a fourth file."""
        done = {row[0] for row in self.rows}
        rows = self.rows + [[s.name, s.kind, "pending" if state == "running" else "not reached", "", "-"]
                            for s in self.steps if s.name not in done]
        elapsed = int(time.monotonic() - self.start)
        try:
            text = report_text(rows, self.work, state, self.budget, elapsed, exit_status, self.rehearsal)
        except Exception:  # the report must come back even when its writer breaks
            text = ("# awing GPU check: the report writer failed\n\n```\n" + "\n".join("\t".join(r) for r in rows)
                    + "\n\n" + traceback.format_exc() + "```\n")
        (self.scratch / "report.md").write_text(text)
        publish(self.scratch / "report.md", self.out / "report.md")
        try:
            write_bundle(self.work, self.scratch / "bundle.tar.gz")
            publish(self.scratch / "bundle.tar.gz", self.out / "bundle.tar.gz")
        except OSError as exc:
            print(f"gpu_check: no bundle: {exc}", file=sys.stderr)


def publish(draft: Path, dest: Path) -> None:
    try:
        os.replace(draft, dest)
    except OSError:  # another file system: copied under its final name
        shutil.copyfile(draft, dest)


def write_bundle(work: Path, path: Path, limit: int = 4 << 20) -> None:
    """Everything in the scratch folder but checkpoints; a file over 4 MB keeps its first and last MB."""
    with tarfile.open(path, "w:gz") as tar:
        for f in sorted(work.rglob("*")):
            if not f.is_file() or f.suffix == ".pt":
                continue
            if f.stat().st_size > limit:
                with open(f, "rb") as fh:
                    head = fh.read(limit // 4)
                    fh.seek(-(limit // 4), os.SEEK_END)
                    f.with_name(f.name + ".cut").write_bytes(head + b"\n[... cut by gpu_check ...]\n" + fh.read())
                os.replace(f.with_name(f.name + ".cut"), f)
            tar.add(f, str(f.relative_to(work)))


def check(args) -> int:
    out = args.outdir.resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"gpu_check: cannot make the output folder: {exc}", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="awing-gpu-check."))
    steps = plan(str(scratch / "work"), str(scratch), args.steps, args.rehearse)
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    if args.wheelhouse:  # missing test packages, installed for this run only
        wheels = sorted(glob.glob(str(args.wheelhouse.resolve() / "*.whl")))
        if subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                           "--target", str(scratch / "wheels"), *wheels]).returncode == 0:
            paths.insert(0, str(scratch / "wheels"))
    os.environ.update(PYTHONPATH=os.pathsep.join(paths), PYTHONUNBUFFERED="1")
    run = Run(steps, out, scratch, args.budget, args.rehearse is not None)

    def stop(signum, frame):
        run.stop = signum
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    run.report("running")
    for _, batch in itertools.groupby(steps, key=lambda step: step.group or step.name):  # a group runs at once
        if not run.stop:
            run.run_batch(batch)
        if not run.stop:
            run.report("running")
    if run.stop:
        print("gpu_check: killed; writing the report", file=sys.stderr)
        status = 143
        run.report("killed")
    else:
        status = run.exit_status()
        run.report("finished", status)
        print("\n" + (out / "report.md").read_text(), end="")
    shutil.rmtree(scratch, ignore_errors=True)
    return status


def dry_run(args) -> int:
    scratch = "/tmp/awing-gpu-check.XXXXXX"
    print(f"gpu_check steps (OUTDIR={args.outdir or 'OUTDIR'}, python={sys.executable}), budget {args.budget} s:")
    for s in plan(scratch + "/work", scratch, args.steps, args.rehearse):
        print(f"{s.name:<16} {s.kind:<11} {s.limit:4}s  {s.command}")
    print(f"budget {args.budget} s for the whole run ({RESERVE} s of it kept for the report); "
          "memcheck, racecheck, synccheck and initcheck run at the same time")
    print("then: OUTDIR/report.md, OUTDIR/steps.tsv and OUTDIR/bundle.tar.gz with the logs, JSON and ncu text")
    missing = [f for f in NEEDED_FILES if not (ROOT / f).is_file()]
    for f in missing:
        print(f"gpu_check: missing {f}", file=sys.stderr)
    return 1 if missing else 0


# -------------------------------------------------------------------- the steps' Python parts

def environment(out: str, sanitizer: str, ncu: str) -> int:
    """The machine as JSON (GPU, driver, torch, CUDA, the tools, CPUs). It runs first and does not
    import awing_ext, so that a failed build still names the machine."""
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "cpus": os.cpu_count()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, capability="%d.%d" % (props.major, props.minor), sms=props.multi_processor_count,
                   memory_gib=round(props.total_memory / 2**30, 1), gpus=torch.cuda.device_count())
    env["driver"] = (command_output(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
                     .strip().splitlines() or [None])[0]
    nvcc = re.search(r"release ([\d.]+)", command_output([find_tool("nvcc"), "--version"]))
    env["nvcc"] = nvcc.group(1) if nvcc else None
    for key, exe in (("compute_sanitizer", shutil.which(sanitizer)), ("ncu", shutil.which(ncu))):
        versions = [line.strip() for line in command_output([exe, "--version"]).splitlines()
                    if re.search(r"\d+\.\d+", line)] if exe else []
        env[key] = f"{versions[-1]} ({exe})" if versions else exe or "not found"
    Path(out).write_text(json.dumps(env, indent=2) + "\n")
    print(json.dumps(env, indent=2))
    if not torch.cuda.is_available():
        print("error: torch sees no CUDA device", file=sys.stderr)
        return 1
    return 0


def imported_build_info() -> Optional[dict]:
    """awing_ext.build_info() from a fresh interpreter (this one may hold an older build)."""
    code = "import json, awing_ext; print(json.dumps(awing_ext.build_info()))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    print(r.stderr if r.returncode else "", end="")
    return json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else None


def stale_reason() -> Optional[str]:
    """Why the in-place build cannot be reused (None: it is built with CUDA and newer than its sources)."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    built = glob.glob(str(ROOT / "awing_ext" / f"*{suffix}"))
    if not any(Path(f).name == f"_C{suffix}" for f in built):
        return "awing_ext/_C is not built"
    built_at = min(os.path.getmtime(f) for f in built)
    sources = [*(ROOT / "csrc").rglob("*"), ROOT / "setup.py"]
    newer = [p for p in sources if p.is_file() and p.stat().st_mtime > built_at]
    if newer:
        return f"{newer[0].relative_to(ROOT)} is newer than the build"
    info = imported_build_info()
    if info is None:
        return "the built awing_ext does not import"
    return None if info.get("cuda") else "the built awing_ext has no CUDA kernels"


def build(mode: str, out: str) -> int:
    """mode "always" or "if-stale" (a rerun keeps a current CUDA build): one `setup.py build_ext
    --inplace` for the visible GPU's architecture (no pip: a failed pip attempt followed by a
    second build would compile everything twice and bury the first error; the report shows the
    log's first error lines), then build_info() from a fresh interpreter, which must say cuda."""
    reason = stale_reason() if mode == "if-stale" else "a full run builds"
    if reason is None:
        print("awing_ext is already built with CUDA and newer than csrc/ and setup.py: not rebuilt")
    else:
        print(f"building: {reason}")
        import torch
        if not torch.cuda.is_available():
            print(f"error: torch sees no CUDA device to build for (torch {torch.__version__}, "
                  f"CUDA {torch.version.cuda})")
            return 1
        arch = "%d.%d" % torch.cuda.get_device_capability()
        env = {"TORCH_CUDA_ARCH_LIST": arch, "AWING_FORCE_CUDA": "1",
               "MAX_JOBS": os.environ.get("MAX_JOBS", str(os.cpu_count() or 4))}
        command = [sys.executable, "setup.py", "build_ext", "--inplace"]
        print(" ".join(f"{k}={v}" for k, v in env.items()), shlex.join(command), flush=True)
        rc = subprocess.run(command, cwd=ROOT, env={**os.environ, **env}).returncode
        if rc != 0:
            print(f"error: the build failed (rc={rc})")
            return 1
    info = imported_build_info()
    if info is None:
        print("error: awing_ext does not import after the build")
        return 1
    print("build_info", info)
    Path(out).write_text(json.dumps(info, indent=2) + "\n")
    if not info.get("cuda"):
        print("error: awing_ext was built without its CUDA kernels (build_info()['cuda'] is false)")
        return 1
    return 0


# Skip reasons that mean "this machine cannot run the CUDA tests" (tests/helpers/device_support.py's
# among them), as opposed to legitimate ones such as "needs two CUDA devices".
LACKING_CUDA = re.compile(r"no CUDA device|without CUDA|CUDA (is )?not available|no GPU|sees no CUDA", re.I)


def cuda_skips(junit: str) -> int:
    """A CUDA test run whose tests skipped for lack of a device or a CUDA build verified nothing:
    that is a failure, not a pass."""
    try:
        cases = list(ET.parse(junit).getroot().iter("testcase"))
    except (OSError, ET.ParseError) as exc:
        print(f"error: no test results to check ({exc})")
        return 1
    skipped = [(c, s) for c in cases for s in c.findall("skipped")]
    lacking = [s for c, s in skipped if LACKING_CUDA.search((s.get("message") or "") + " " + (s.text or ""))]
    print(f"cuda-skips: {len(cases)} tests, {len(skipped)} skipped, {len(lacking)} of them for lack of CUDA")
    for case, skip in skipped:
        print(f"  skipped {case.get('classname')}::{case.get('name')}: {skip.get('message')}")
    if not cases:
        print("error: no CUDA test ran")
    elif lacking:
        print(f"error: {len(lacking)} CUDA tests skipped for lack of a CUDA device or build "
              f"(first: {lacking[0].get('message')!r}): this run verified nothing on the GPU")
    return 1 if lacking or not cases else 0


# What compute-sanitizer and ncu print when the machine refuses them (seen: "Device not supported"
# then error 999 at the first allocation; "Failed to initialize the profiler: LibraryNotLoaded").
TOOL_REFUSALS = re.compile(r"Device not supported|LibraryNotLoaded|ERR_NVGPUCTRPERM|Failed to initialize the profiler"
                           r"|permission to access NVIDIA GPU Performance Counters|\berror 999\b", re.I)
PROBE_TIMEOUT = 90
PROBE_OPTIONS = {"compute-sanitizer": ["--tool", "memcheck", "--error-exitcode", "1"],
                 "ncu": ["--clock-control", "none", "--section", "SpeedOfLight"]}
TORCH_PROBE = ("import torch; x = torch.ones(32, device='cuda') + 1; torch.cuda.synchronize(); "
               "print('probe: kernel ran' if x.sum().item() == 64 else 'probe: failed')")


def refused(log: Path) -> bool:
    return bool(TOOL_REFUSALS.search("\n".join(read_lines(log))))


def probe_verdict(tool: str, rc: int, output: str) -> Optional[str]:
    """Why `tool` cannot be used here, judged from its run over the trivial program (None: usable)."""
    refusal = TOOL_REFUSALS.search(output)
    if refusal:
        return f"refused this machine ({refusal.group(0)!r})"
    if rc != 0:
        return f"exited with rc={rc} over a trivial CUDA program"
    if "probe: kernel ran" not in output:
        return "kept the trivial CUDA program from running its kernel"
    if tool == "compute-sanitizer" and "ERROR SUMMARY: 0 errors" not in output:
        return "reported errors in a trivial CUDA program"
    if tool == "ncu" and not re.search(r"^\s+Duration\s", output, re.M):
        return "profiled no kernel of a trivial CUDA program"
    return None


def probe(tool: str, path: str, workdir: str) -> int:
    """Runs `tool` over gpu_probe.cu (compiled once with nvcc; without nvcc, a one-kernel torch program)."""
    exe = shutil.which(path)
    if exe is None:
        print(f"unavailable: {tool} not found ({path} is not on PATH or in the CUDA toolkit)")
        return UNAVAILABLE
    program, nvcc = Path(workdir) / "gpu_probe", shutil.which(find_tool("nvcc"))
    if nvcc and not program.exists():
        r = subprocess.run([nvcc, "-o", str(program), str(ROOT / "benchmarks" / "gpu_probe.cu")],
                           capture_output=True, text=True)
        if r.returncode:
            print(f"nvcc could not build the probe (rc={r.returncode}), probing with torch:\n{r.stdout}{r.stderr}")
    target = [str(program)] if program.exists() else [sys.executable, "-c", TORCH_PROBE]
    command = [exe, *PROBE_OPTIONS[tool], *target]
    print("$ " + shlex.join(command), flush=True)
    try:
        r = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=PROBE_TIMEOUT)
        rc, output = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as exc:
        rc, output = 124, f"{exc.stdout or ''}{exc.stderr or ''}\n(no answer in {PROBE_TIMEOUT} s)"
    print(output)
    reason = probe_verdict(tool, rc, output)
    print(f"unavailable: {tool} {reason}; its passes are skipped as unavailable" if reason
          else f"{tool} works on this machine")
    return UNAVAILABLE if reason else 0


# A rehearsal's failing stand-ins print what the real step would; the passing ones leave made-up
# outputs (a benchmark also prints its table), so that every section of the report is filled.
FAKE_ERRORS = {
    "build": ['csrc/cuda/adaptive_wing_loss.cu(42): error: identifier "rehearsal" is undefined',
              "error: command '/usr/local/cuda/bin/nvcc' failed with exit code 2"],
    "cuda-tests": ["FAILED tests/ops/adaptive_wing_loss/test_cuda.py::test_reduction_is_deterministic - AssertionError",
                   "1 failed, 400 passed in 61.0s"],
    "memcheck": ["========= Invalid __global__ read of size 4 bytes",
                 "=========     at awing::cuda::loss_map_mask_kernel",
                 "========= ERROR SUMMARY: 1 error"],
}
FAKE_OUTPUTS = {  # step: (file, content); a benchmark's content is its one row of results
    "environment": ("env.json", {"gpu": "rehearsal (no GPU)", "torch": "rehearsal", "cuda": "rehearsal"}),
    "build": ("build_info.json", {"cpu": True, "cuda": True, "cuda_version": "rehearsal"}),
    "bench-loss": ("loss.json", {"loss": "awing", "device": "cuda", "N": 32, "pass": "fwd+bwd", "fused ms": 0.05,
                                 "speedup_vs_eager": 12.0, "speedup_vs_compiled": 4.0, "fused_over_floor": 1.25}),
    "bench-targets": ("targets.json", {"device": "cuda", "batch": 64, "ms / call": 0.2, "over_write_floor": 1.33}),
    "bench-train-step": ("train_step.json", {"device": "cuda", "preset": "paper", "amp": "bf16", "batch": 32,
                                             "step ms": 30.4}),
    "ncu-profile": ("ncu_kernels.txt", "  void awing::cuda::adaptive_wing_loss_kernel<float, int, 4, false>"
                    "(const float *, int) (1056, 1, 1)x(256, 1, 1), Context 1, Stream 7, Device 0, CC 9.0\n"
                    "    Duration                         us        30.05\n"),
}


def standin(step: str, outcome: str, workdir: str) -> int:
    print(f"rehearsal: a stand-in for step {step}, outcome {outcome}", flush=True)
    if outcome == "timeout":
        time.sleep(10 ** 6)  # the scheduler ends it at its time limit
    time.sleep(float(os.environ.get("AWING_REHEARSE_SECONDS", "1")))
    if outcome == "fail":
        print("\n".join(FAKE_ERRORS.get(step, [f"error: {step} failed (a rehearsal stand-in)"])))
        return 1
    if outcome == "unavailable":
        print(f"========= Error: Device not supported (a rehearsal stand-in for a machine that refuses {step})")
        return UNAVAILABLE
    name, content = FAKE_OUTPUTS.get(step, ("", None))
    if step.startswith("bench-"):
        print(table(list(content), [list(content.values())]))
        content = {"rehearsal": True, "results": [content]}
    if content:
        (Path(workdir) / name).write_text(content if isinstance(content, str) else json.dumps(content))
    print(f"rehearsal: {step} passed")
    return 0


HELPERS = {"environment": environment, "build": build, "cuda-skips": cuda_skips, "probe": probe, "standin": standin}


def run_helper(argv: list) -> int:
    """`--helper NAME ARGS`: a step's Python part, its arguments checked against the function's."""
    helper = HELPERS.get(argv[0] if argv else "")
    try:
        inspect.signature(helper).bind(*argv[1:])
    except (TypeError, ValueError):
        print(f"usage: gpu_check --helper {{{','.join(HELPERS)}}} ARGS", file=sys.stderr)
        return 2
    return helper(*argv[1:])


# ---------------------------------------------------------------------------------- the report

# Each benchmark's section: its step, title, JSON, the row its goals are read from and the goals
# (issue "CUDA path"; reported, never asserted by a test). Its table is the benchmark's own, from its log.
BENCHMARKS = (
    ("bench-loss", "The loss", "loss.json", {"loss": "awing", "device": "cuda", "N": 32, "pass": "fwd+bwd"},
     (("fused_over_floor", "<=", 1.5, "fused / streaming floor"), ("speedup_vs_eager", ">=", 10.0, "eager / fused"),
      ("speedup_vs_compiled", ">=", 3.0, "compiled / fused"))),
    ("bench-targets", "Training targets", "targets.json", {"device": "cuda", "batch": 64},
     (("over_write_floor", "<=", 2.0, "targets / writing their bytes once"),)),
    ("bench-train-step", "A training step", "train_step.json", {}, ()),
)
NCU_METRICS = ("Duration", "DRAM Throughput", "Memory Throughput", "Compute (SM) Throughput",
               "L1/TEX Hit Rate", "L2 Hit Rate", "Achieved Occupancy", "Registers Per Thread")
FIRST_ERRORS = re.compile(r"\berror\b|^FAILED |^ERROR |Traceback|Invalid __|hazard|uninitiali[sz]ed|AssertionError",
                          re.I)
FENCE = "`" * 3


def read_lines(path: Path) -> list:
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []


def load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def table(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def clean(line: str, width: int = 300) -> str:
    line = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line).rstrip().replace(FENCE, "'''")
    return line if len(line) <= width else line[:width] + " ..."


def log_excerpt(lines: list, tail: int) -> str:
    """The log's first error-looking lines (a compiler's first `error:` is the one to fix) and its tail."""
    text = f"The whole log ({len(lines)} line{'s' if len(lines) != 1 else ''}):"
    if len(lines) > tail:
        errors = list(dict.fromkeys(clean(line) for line in lines[:-tail] if FIRST_ERRORS.search(line)))[:12]
        first = f"First error lines:\n\n{FENCE}\n" + "\n".join(errors) + f"\n{FENCE}\n\n" if errors else ""
        text = first + f"Last {tail} of {len(lines)} lines:"
    return text + f"\n\n{FENCE}\n" + "\n".join(clean(line) for line in lines[-tail:]) + f"\n{FENCE}"


def failures_section(rows, work: Path) -> str:
    """Each step that ran and did not pass, with its log pasted in (only the report comes back for sure)."""
    parts, behind_probe = [], {}
    for name, kind, status, seconds, log in rows:
        if status == "pass" or log in ("", "-"):
            continue
        if status == "unavailable" and log != f"logs/{name}.log":  # its tool's probe found it unavailable
            behind_probe.setdefault(log, []).append(name)
        elif not (work / log).exists():
            parts.append(f"### {name}: {status}\n\n(no log: `{log}` is missing)")
        else:
            tail = 12 if status == "unavailable" else 40
            parts.append(f"### {name}: {status}\n\n" + log_excerpt(read_lines(work / log), tail))
    for log, names in behind_probe.items():
        parts.append(f"### {', '.join(names)}: unavailable\n\nNot run: their tool's probe (`{log}`, above) "
                     "found it unavailable here.")
    return "\n\n".join(parts) or "None: every step that ran passed."


def benchmark_section(step: str, json_name: str, where: dict, goals: tuple, work: Path) -> str:
    """The benchmark's own tables, from its log, and a met/missed verdict per goal, from its JSON."""
    tables = "\n".join(line for line in read_lines(work / "logs" / f"{step}.log") if line.startswith("|"))
    results = (load_json(work / json_name) or {}).get("results")
    if results is None:
        return (tables + "\n\n" if tables else "") + f"{json_name} is missing: the benchmark did not run or failed."
    text = tables or f"No table in `logs/{step}.log`."
    if not goals:
        return text
    row = next((r for r in results if all(r.get(k) == v for k, v in where.items())), None)
    if row is None:
        return text + f"\n\n{json_name} has no row with {where}: the goals were not measured."
    verdicts = []
    for key, op, bound, label in goals:
        value = row.get(key)
        met = value is not None and (value <= bound if op == "<=" else value >= bound)
        verdicts.append([label, f"{op} {bound}", "n/a" if value is None else f"{value:.2f}",
                         "not measured" if value is None else "met" if met else "**missed**"])
    return (text + f"\n\nGoals ({', '.join(f'{k} {v}' for k, v in where.items())}; float32):\n\n"
            + table(["ratio", "goal", "measured", "verdict"], verdicts))


def ncu_section(path: Path) -> str:
    """Per profiled kernel, the headline metrics of ncu's SpeedOfLight/Memory/Occupancy sections."""
    if not path.exists():
        return "ncu_kernels.txt is missing (ncu did not run)."
    kernels = []
    for line in read_lines(path):
        head = re.match(r"\s{0,4}(\S.*?)\s+\(\d+, \d+, \d+\)x\(\d+, \d+, \d+\)", line)
        if head:
            name = re.search(r"([A-Za-z_]\w*)\s*(<.*?>)?\s*\(", head.group(1))
            kernels.append({"kernel": ((name.group(1) + (name.group(2) or "")) if name else head.group(1))[:120]})
            continue
        metric = re.match(r"\s+(.*?)\s+(\S+)\s+([\d.,]+)\s*$", line)
        if kernels and metric and metric.group(1) in NCU_METRICS:
            kernels[-1].setdefault(metric.group(1), f"{metric.group(3)} {metric.group(2)}")
    if not kernels:
        return "ncu ran but reported no kernel (see ncu_kernels.txt)."
    return table(["kernel", *NCU_METRICS], [[k["kernel"], *(k.get(m, "") for m in NCU_METRICS)] for k in kernels])


def summary_lines(rows, state, budget, elapsed, exit_status) -> list:
    """The run line (how far it got) and the result line (what failed, was skipped or unavailable)."""
    done = sum(1 for r in rows if r[2] not in ("pending", "not reached", "killed"))
    clock = f"{elapsed} s of the {budget} s budget"
    meaning = {0: "no step failed", 1: "a correctness step failed", 2: "a benchmark or profile step failed"}
    run = {"running": f"in progress: {done} of {len(rows)} steps done after {clock} (this report is rewritten "
                      "after every step)",
           "killed": f"**KILLED** after {clock}, {done} of {len(rows)} steps done; the others are listed as "
                     "not reached",
           }.get(state, f"finished in {clock}; exit status {exit_status} ({meaning.get(exit_status, '?')})")
    failed = [r[0] for r in rows if r[2] not in ("pass", "unavailable", "pending", "not reached")
              and not r[2].startswith("skipped")]
    skipped = {}
    for name, _, status, *_ in rows:
        if status.startswith("skipped"):
            skipped.setdefault(status, []).append(name)
    unavailable = [r[0] for r in rows if r[2] == "unavailable"]
    result = "FAILED: " + ", ".join(failed) if failed else "all steps passed" if not skipped else "no step failed"
    result += "".join(f"; {status}: {', '.join(names)}" for status, names in skipped.items())
    if unavailable:
        result += f" (unavailable on this machine, counted as neither: {', '.join(unavailable)})"
    return [f"- run: {run}", f"- result: {result}"]


def report_text(rows, work: Path, state: str, budget: int, elapsed: int, exit_status=None, rehearsal=False) -> str:
    """report.md: rows are [name, kind, status, seconds, log] per planned step; work is the scratch folder."""
    env = load_json(work / "env.json") or {}
    facts = {key: env.get(key, "n/a") for key in ("gpu", "capability", "sms", "memory_gib", "driver", "cpus", "torch",
                                                    "cuda", "nvcc", "python", "compute_sanitizer", "ncu")}
    shown = [[name, kind, "PASS" if status == "pass" else status if status in ("unavailable", "pending", "not reached")
              else f"**{status.upper()}**", seconds, f"`{log}`" if log not in ("", "-") else "-"]
             for name, kind, status, seconds, log in rows]
    files = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file() and p.suffix != ".pt")
    listing = ", ".join(f"`{n}`" for n in files[:60]) + (f" and {len(files) - 60} more" if len(files) > 60 else "")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# awing GPU check: {env.get('gpu', 'unknown GPU')}, {when}", ""]
    if rehearsal:
        lines += ["**REHEARSAL** (`gpu_check.sh --rehearse`): every step was a short stand-in and no GPU ran; "
                  "the numbers below are made up.", ""]
    lines += summary_lines(rows, state, budget, elapsed, exit_status) + [
        "- GPU: {gpu} (compute capability {capability}, {sms} SMs, {memory_gib} GiB, driver {driver}); "
        "{cpus} CPUs".format(**facts),
        "- torch {torch}, CUDA runtime {cuda}, nvcc {nvcc}, Python {python}".format(**facts),
        "- compute-sanitizer: {compute_sanitizer}; ncu: {ncu}".format(**facts),
        f"- awing_ext build: {load_json(work / 'build_info.json') or 'n/a (the build step did not pass)'}", "",
        "## Steps", "", table(["step", "kind", "result", "seconds", "log"], shown), "",
        "## Steps that did not pass", "", failures_section(rows, work), ""]
    for step, title, json_name, where, goals in BENCHMARKS:
        lines += [f"## {title} (`python -m benchmarks.{step.replace('-', '_')} --devices cuda`)", "",
                  benchmark_section(step, json_name, where, goals, work), ""]
    return "\n".join(lines + [
        "## Kernel profile (ncu, one call each: `python -m benchmarks.profile_workload`)", "",
        ncu_section(work / "ncu_kernels.txt"), "",
        "## What came back", "",
        "OUTDIR holds three files: this `report.md`, `steps.tsv` and `bundle.tar.gz` (`tar -xzf bundle.tar.gz`), "
        f"which holds {listing or 'nothing yet'}.", ""])


# ------------------------------------------------------------------------------- command line

def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", nargs="?", type=Path, help="where report.md, steps.tsv and bundle.tar.gz go")
    parser.add_argument("--steps", type=lambda text: [name for name in text.split(",") if name],
                        help="comma-separated steps to run, after environment and build (the build is kept if "
                             "awing_ext is built with CUDA and newer than csrc/ and setup.py)")
    parser.add_argument("--budget", default="420", help="the whole run's seconds (default 420): a step gets at most "
                        "what is left, and those that no longer fit are `skipped (budget spent)`, a failure")
    parser.add_argument("--wheelhouse", type=Path, help="first install the wheels in DIR (pip --no-index)")
    parser.add_argument("--rehearse", metavar="SPEC", help="comma-separated step=pass|fail|timeout|unavailable; "
                        "unnamed steps pass, '' all pass (e.g. --rehearse build=fail /tmp/r)")
    parser.add_argument("--dry-run", action="store_true", help="list the steps, their time limits and the budget")
    args = parser.parse_args(argv)
    names = [step.name for step in STEPS]
    if not args.dry_run and args.outdir is None:
        parser.error("give an output folder (or --dry-run)")
    if not args.budget.isdigit():
        parser.error(f"--budget needs whole seconds, got {args.budget}")
    args.budget = int(args.budget)
    for name in args.steps or ():
        if name not in names:
            parser.error(f"--steps: no step named '{name}' (steps: {' '.join(names)})")
    if args.rehearse is not None:
        pairs = [pair.partition("=") for pair in args.rehearse.split(",") if pair]
        for name, _, outcome in pairs:
            if name not in names:
                parser.error(f"--rehearse: no step named '{name}' (steps: {' '.join(names)})")
            if outcome not in OUTCOMES:
                parser.error(f"--rehearse: {name}={outcome}: the outcome is pass, fail, timeout or unavailable")
        args.rehearse = {name: outcome for name, _, outcome in pairs}
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--helper"]:
        return run_helper(argv[1:])
    args = parse_args(argv)
    return dry_run(args) if args.dry_run else check(args)


if __name__ == "__main__":
    sys.exit(main())
