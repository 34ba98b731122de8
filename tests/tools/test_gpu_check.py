"""The GPU check (benchmarks/gpu_check.py, run as scripts/gpu_check.sh) stays runnable without a GPU:
the dry run lists its steps and budget, every command line it would run parses, its steps' Python
parts, workloads and report work on the CPU, and its rehearsal (the real orchestration, each step
a short stand-in) brings back a whole report in at most three files whatever the steps do. The
GPU window is short: a mistake found there costs the run, so these tests find it here."""
import importlib
import inspect
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import sysconfig
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import gpu_check
from helpers import REPO as ROOT

STEPS = ("environment", "build", "bench-loss", "bench-targets", "cuda-tests", "sanitizer-probe", "memcheck",
         "racecheck", "synccheck", "initcheck", "bench-train-step", "torchrun-nccl", "ncu-probe", "ncu-profile")
SANITIZERS = ("memcheck", "racecheck", "synccheck", "initcheck")
REHEARSAL_ENV = {"AWING_REHEARSE_SECONDS": "0.2", "AWING_REHEARSE_LIMIT": "3"}


def script_env(**extra):
    return {**os.environ, "PYTHON": sys.executable, **extra}


def run_script(*args):
    return subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), *args], capture_output=True, text=True,
                          cwd="/", timeout=60, env=script_env())


def dry_run(*args) -> dict:
    """step -> its command line, as the dry run lists them (from another folder: the script finds the repository)."""
    result = run_script("--dry-run", *args)
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 3) for line in result.stdout.splitlines()[1:]]
    return {row[0]: row[3] for row in rows if len(row) == 4 and row[0] in STEPS}


# ------------------------------------------------------------------------------- the dry run

def test_dry_run_lists_every_step_in_order_within_the_gpu_window():
    """About 15 minutes of GPU time, 1-2 of them the machine's start: the run must leave room for a rerun."""
    assert list(dry_run()) == list(STEPS)
    assert "budget 420 s" in run_script("--dry-run").stdout


def test_a_rerun_of_some_steps_runs_them_after_the_environment_build_and_their_probe():
    commands = dry_run("--steps", "memcheck,bench-loss")
    assert list(commands) == ["environment", "build", "bench-loss", "sanitizer-probe", "memcheck"]
    assert " build if-stale " in commands["build"] and " build always " in dry_run()["build"]


@pytest.mark.parametrize("args,message", [([], "give an output folder"),
                                          (["--fast"], "unrecognized arguments: --fast"),
                                          (["--budget", "7m", "/tmp/x"], "--budget needs whole seconds"),
                                          (["--rehearse", "bild=fail", "/tmp/x"], "no step named 'bild'"),
                                          (["--rehearse", "build=crash", "/tmp/x"], "build=crash"),
                                          (["--steps", "memchek", "/tmp/x"], "no step named 'memchek'")])
def test_bad_options_are_refused(args, message):
    result = run_script(*args)
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.parametrize("step,module", [("bench-loss", "benchmarks.bench_loss"),
                                         ("bench-targets", "benchmarks.bench_targets"),
                                         ("bench-train-step", "benchmarks.bench_train_step"),
                                         ("torchrun-nccl", "training.train")])
def test_step_command_lines_parse(step, module):
    """The options gpu_check passes exist (a renamed option would fail only on the GPU machine)."""
    words = shlex.split(dry_run()[step])
    args = importlib.import_module(module).parse_args(words[words.index(module) + 1:])
    if step.startswith("bench"):
        assert args.devices == ["cuda"] and str(args.json).endswith(".json")
    if step == "bench-loss":
        assert args.batch_sizes == [32]
    if step == "bench-targets":
        assert 64 in args.batch_sizes  # the goal's batch
    if step == "bench-train-step":
        assert args.amp == ["bf16"] and args.batch_sizes == [32]
    if step == "torchrun-nccl":
        assert words[0] == "NCCL_SOCKET_IFNAME=lo"  # the loopback interface


def test_the_cuda_tests_command_line_parses(tmp_path):
    """pytest accepts the options (a usage error exits 4; 5 is "no test selected"), collecting one file."""
    words = shlex.split(dry_run()["cuda-tests"].split(";")[0])[3:]  # after `python -m pytest`
    argv = [w for w in words if w != "tests" and not w.startswith("--junitxml=")]
    argv += ["--collect-only", "tests/tools/test_benchmarks.py", f"--junitxml={tmp_path}/j.xml"]
    result = subprocess.run([sys.executable, "-m", "pytest", *argv], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode in (0, 5) and (tmp_path / "j.xml").exists(), result.stdout + result.stderr


def test_the_steps_python_parts_accept_their_command_lines():
    helper_lines = [shlex.split(line) for command in dry_run().values()
                    for line in re.findall(r"--helper ([^;|]*)", command)]
    assert len(helper_lines) == 5  # environment, build, cuda-skips (after pytest), the two probes
    for name, *args in helper_lines:
        inspect.signature(gpu_check.HELPERS[name]).bind(*args)
    assert gpu_check.main(["--helper", "build"]) == 2 and gpu_check.main(["--helper", "nope", "x"]) == 2


def test_sanitizer_passes_are_set_up_as_the_tools_need():
    commands = dry_run()
    for name in SANITIZERS:
        assert f"--tool {name} " in commands[name] and "PYTORCH_NO_CUDA_MEMORY_CACHING=1" in commands[name]
    # initcheck sees torch's kernels write the tensors awing's kernels read only when unfiltered
    assert "--kernel-name" not in commands["initcheck"]
    assert "--int64" in commands["memcheck"] and "--ops" not in commands["memcheck"]


# The op each CUDA source's kernels belong to (benchmarks/sanitize_workload.py --ops).
KERNEL_OPS = {"adaptive_wing_loss.cu": "loss", "heatmap_losses.cu": "loss", "decode_heatmaps.cu": "decode",
              "render_heatmaps.cu": "heatmaps", "render_boundaries.cu": "boundaries",
              "loss_map_mask.cu": "loss_map_mask", "soft_argmax.cu": "soft_argmax", "integral_coords.cu": "integral"}


def source_with_includes(path: Path) -> str:
    text = path.read_text()
    for include in re.findall(r'#include "(\w+\.cuh)"', text):
        text += source_with_includes(path.parent / include)
    return text


def test_racecheck_and_synccheck_cover_every_kernel_with_shared_memory_or_barriers():
    """They only run over the ops whose kernels need them, so a new __shared__ or barrier must add its op."""
    commands = dry_run()
    race = set(re.search(r"--ops (\S+)", commands["racecheck"]).group(1).split(","))
    sync = set(re.search(r"--ops (\S+)", commands["synccheck"]).group(1).split(","))
    cu_files = sorted((ROOT / "csrc" / "cuda").glob("*.cu"))
    assert {p.name for p in cu_files} == set(KERNEL_OPS), "a new CUDA source: add its op to KERNEL_OPS"
    for path in cu_files:
        text = source_with_includes(path)
        if "__shared__" in text:
            assert KERNEL_OPS[path.name] in race, path.name
        if re.search(r"__shared__|__syncthreads|__syncwarp|_sync\(", text):
            assert KERNEL_OPS[path.name] in sync, path.name
    assert race == {"loss"} and sync == {"loss", "decode", "soft_argmax", "integral"}  # and no more than those


# ------------------------------------------------------------ the workloads and the steps' parts

def test_sanitize_workload_runs_on_the_cpu(capsys):
    from benchmarks import sanitize_workload
    assert sanitize_workload.main(["--device", "cpu"]) == 0
    assert ("op calls (loss,loss_map_mask,heatmaps,boundaries,decode,soft_argmax,integral) on cpu finished"
            in capsys.readouterr().out)
    assert sanitize_workload.main(["--device", "cpu", "--ops", "loss,decode"]) == 0
    assert "op calls (loss,decode) on cpu" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        sanitize_workload.main(["--device", "cpu", "--ops", "loss,nope"])


def test_profile_workload_runs_on_the_cpu(capsys):
    from benchmarks import profile_workload
    assert profile_workload.main(["--device", "cpu"]) == 0
    assert "targets of 64 faces" in capsys.readouterr().out


def test_environment_step_names_the_machine_without_importing_awing_ext(tmp_path):
    """It runs first so that a failed build still has a named machine in its report."""
    code = ("import sys; from benchmarks import gpu_check; "
            f"rc = gpu_check.environment({str(tmp_path / 'env.json')!r}, 'no-sanitizer', 'no-ncu'); "
            "print('awing_ext imported:', 'awing_ext' in sys.modules, 'rc:', rc)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "awing_ext imported: False" in result.stdout, result.stderr
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["torch"] and env["compute_sanitizer"] == env["ncu"] == "not found"


def write_junit(path: Path, skips) -> None:
    cases = "".join(f'<testcase classname="t" name="t{i}"><skipped message="{m}"/></testcase>'
                    for i, m in enumerate(skips))
    path.write_text(f'<testsuites><testsuite><testcase classname="t" name="ran"/>{cases}</testsuite></testsuites>')


@pytest.mark.parametrize("skips,rc", [([], 0), (["needs two CUDA devices"], 0), (["needs a GPU with >= 40 GiB"], 0),
                                      (["no CUDA device present"], 1), (None, 1),  # None: no results at all
                                      (["awing_ext was built without CUDA kernels"], 1), (["built without CUDA"], 1)])
def test_cuda_tests_fail_when_a_test_skipped_for_lack_of_cuda(tmp_path, skips, rc):
    if skips is not None:
        write_junit(tmp_path / "j.xml", skips)
    assert gpu_check.cuda_skips(str(tmp_path / "j.xml")) == rc


@pytest.mark.parametrize("tool,rc,output,usable", [
    ("compute-sanitizer", 0, "probe: kernel ran\n========= ERROR SUMMARY: 0 errors\n", True),
    ("compute-sanitizer", 1, "========= Error: Device not supported\n========= error 999\n", False),
    ("compute-sanitizer", 0, "probe: kernel ran\n========= ERROR SUMMARY: 2 errors\n", False),
    ("compute-sanitizer", 1, "probe: failed: unknown error\n", False),
    ("ncu", 0, "probe: kernel ran\n  awing_probe_kernel(int *) (1, 1, 1)x(32, 1, 1)\n    Duration   us   1.50\n", True),
    ("ncu", 1, "==ERROR== Failed to initialize the profiler: LibraryNotLoaded\n", False),
    ("ncu", 0, "probe: kernel ran\n==WARNING== No kernels were profiled.\n", False),
    ("ncu", 0, "==ERROR== ERR_NVGPUCTRPERM - The user does not have permission\nprobe: kernel ran\n", False)])
def test_a_refused_or_broken_tool_is_unavailable(tool, rc, output, usable):
    assert (gpu_check.probe_verdict(tool, rc, output) is None) == usable


def test_a_missing_tool_is_unavailable(tmp_path, capsys):
    assert gpu_check.probe("ncu", str(tmp_path / "no-ncu"), str(tmp_path)) == gpu_check.UNAVAILABLE
    assert "not found" in capsys.readouterr().out


def test_reruns_skip_a_current_build(tmp_path, monkeypatch):
    assert "cuda" in gpu_check.imported_build_info()  # this checkout's build, from a fresh interpreter
    (tmp_path / "awing_ext").mkdir()
    (tmp_path / "csrc" / "cuda").mkdir(parents=True)
    for name in ("setup.py", "csrc/cuda/a.cu"):
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (1e9, 1e9))
    monkeypatch.setattr(gpu_check, "ROOT", tmp_path)
    monkeypatch.setattr(gpu_check, "imported_build_info", lambda: {"cuda": True})
    assert gpu_check.stale_reason() == "awing_ext/_C is not built"
    (tmp_path / "awing_ext" / "_C.cpython-30-other.so").write_text("")  # another interpreter's build
    assert gpu_check.stale_reason() == "awing_ext/_C is not built"
    (tmp_path / "awing_ext" / ("_C" + sysconfig.get_config_var("EXT_SUFFIX"))).write_text("")
    assert gpu_check.stale_reason() is None
    (tmp_path / "csrc" / "cuda" / "a.cu").write_text("// edited")
    assert "a.cu is newer" in gpu_check.stale_reason()
    os.utime(tmp_path / "csrc" / "cuda" / "a.cu", (1e9, 1e9))
    monkeypatch.setattr(gpu_check, "imported_build_info", lambda: {"cuda": False})
    assert gpu_check.stale_reason() == "the built awing_ext has no CUDA kernels"


# --------------------------------------------------------------------------------- the report

LOSS_KERNEL = ("void awing::cuda::(anonymous namespace)::adaptive_wing_loss_kernel<float, int, 4, false>"
               "(const float *, int) (1056, 1, 1)x(256, 1, 1), Context 1, Stream 7, Device 0, CC 9.0")
ADD_KERNEL = ("void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>, "
              "std::array<char *, 3>>(int, at::native::CUDAFunctor_add<float>, std::array<char *, 3>) "
              "(8448, 1, 1)x(128, 1, 1), Context 1")
NCU_SAMPLE = f"""\
==PROF== Disconnected from process 1
  {LOSS_KERNEL}
    Section: GPU Speed Of Light Throughput
    Metric Name             Metric Unit Metric Value
    ----------------------- ----------- ------------
    Memory Throughput                 %        71.25
    DRAM Throughput                   %        69.10
    Duration                         us        30.05
    Compute (SM) Throughput           %        44.80
  {ADD_KERNEL}
    DRAM Throughput                   %        91.00
    Duration                         us        21.50
"""
ROWS = [["build", "correctness", "pass", "80", "logs/build.log"],
        ["memcheck", "correctness", "fail(rc=1)", "40", "logs/memcheck.log"],
        ["bench-loss", "benchmark", "pass", "30", "logs/bench-loss.log"],
        ["bench-targets", "benchmark", "pass", "9", "logs/bench-targets.log"],
        ["bench-train-step", "benchmark", "skipped (budget spent)", "0", "-"]]


def write_check_outputs(work: Path) -> None:
    (work / "logs").mkdir()
    (work / "logs" / "memcheck.log").write_text("========= Invalid __global__ read of size 4 bytes\n"
                                                + "=========     at 0x40 in loss_map_mask_kernel\n" * 60
                                                + "========= ERROR SUMMARY: 1 error\n")
    (work / "logs" / "bench-loss.log").write_text("torch 2.11\n| loss  | N  |\n|---|---|\n| awing | 32 |\nraw\n")
    (work / "env.json").write_text(json.dumps({"gpu": "NVIDIA H200", "capability": "9.0", "sms": 132,
                                               "torch": "2.11.0+cu130", "cuda": "13.0"}))
    loss_row = {"loss": "awing", "device": "cuda", "N": 32, "pass": "fwd+bwd",
                "speedup_vs_eager": 8.0, "speedup_vs_compiled": 4.0, "fused_over_floor": 1.25}
    (work / "loss.json").write_text(json.dumps({"results": [{**loss_row, "loss": "mse"}, loss_row]}))
    targets_row = {"device": "cuda", "batch": 64, "over_write_floor": 3.0}
    (work / "targets.json").write_text(json.dumps({"results": [targets_row]}))
    (work / "ncu_kernels.txt").write_text(NCU_SAMPLE)


def test_report_states_results_goals_and_missing_inputs(tmp_path):
    write_check_outputs(tmp_path)
    report = gpu_check.report_text(ROWS, tmp_path, "finished", 420, 120, exit_status=1)
    assert report.startswith("# awing GPU check: NVIDIA H200")
    assert "- run: finished in 120 s of the 420 s budget; exit status 1 (a correctness step failed)" in report
    assert "result: FAILED: memcheck; skipped (budget spent): bench-train-step" in report
    assert "| memcheck | correctness | **FAIL(RC=1)** | 40 |" in report
    # the failed step's first error and its tail are pasted in (only the report comes back)
    assert "### memcheck: fail(rc=1)" in report and "First error lines:\n\n```\n========= Invalid __global__" in report
    assert "ERROR SUMMARY: 1 error\n```" in report
    # the benchmark's own table, and hand-checked verdicts from the awing row: 1.25 <= 1.5 met,
    # 8 >= 10 missed, 4 >= 3 met; targets 3.0 <= 2 missed
    assert "| loss  | N  |\n|---|---|\n| awing | 32 |" in report
    assert "| fused / streaming floor | <= 1.5 | 1.25 | met |" in report
    assert "| eager / fused | >= 10.0 | 8.00 | **missed** |" in report
    assert "| compiled / fused | >= 3.0 | 4.00 | met |" in report
    assert "| targets / writing their bytes once | <= 2.0 | 3.00 | **missed** |" in report
    assert "No table in `logs/bench-targets.log`" in report and "train_step.json is missing" in report
    assert "| adaptive_wing_loss_kernel<float, int, 4, false> | 30.05 us | 69.10 % | 71.25 % | 44.80 % |" in report
    assert "| vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>, std::array<char *, 3>> | 21.50 us" \
        in report


def test_a_broken_report_writer_still_leaves_a_report(tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    run = gpu_check.Run(gpu_check.plan("w", "s")[:2], tmp_path / "out", tmp_path / "scratch", 420, rehearsal=False)
    run.rows.append(["environment", "correctness", "pass", "3", "logs/environment.log"])
    monkeypatch.setattr(gpu_check, "report_text", lambda *args: 1 / 0)
    run.report("running")
    report = (tmp_path / "out" / "report.md").read_text()
    assert "the report writer failed" in report and "environment\tcorrectness\tpass" in report
    assert "build\tcorrectness\tpending" in report and "ZeroDivisionError" in report
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["bundle.tar.gz", "report.md", "steps.tsv"]


# ------------------------------------------------------------------------------ the rehearsal

# name -> (gpu_check.sh arguments after OUTDIR, extra environment)
RUNS = {
    "all-pass": (["--rehearse", ""], REHEARSAL_ENV),
    "tools-unavailable": (["--rehearse", "sanitizer-probe=unavailable,ncu-probe=unavailable"], REHEARSAL_ENV),
    "build-fails": (["--rehearse", "build=fail"], REHEARSAL_ENV),
    "cuda-tests-fail": (["--rehearse", "cuda-tests=fail"], REHEARSAL_ENV),
    "benchmark-times-out": (["--rehearse", "bench-train-step=timeout,memcheck=unavailable"], REHEARSAL_ENV),
    "budget-spent": (["--rehearse", "", "--budget", "15"], REHEARSAL_ENV),
    "killed": (["--rehearse", ""], {"AWING_REHEARSE_SECONDS": "1"}),
    "terminated": (["--rehearse", ""], {"AWING_REHEARSE_SECONDS": "1"}),
    # the real orchestration and steps on this machine, which has no GPU
    "no-gpu": (["--budget", "60"], {"PATH": "/usr/bin:/bin"}),
}
KILL_AFTER_ROWS = 3  # steps finished before the killed runs are killed


def finished(out: Path, proc: subprocess.Popen) -> SimpleNamespace:
    stdout, stderr = proc.communicate(timeout=90)
    report = (out / "report.md").read_text() if (out / "report.md").exists() else ""
    rows = [line.split("\t") for line in (out / "steps.tsv").read_text().splitlines()]
    return SimpleNamespace(out=out, rc=proc.returncode, stdout=stdout, stderr=stderr, report=report,
                           status={row[0]: row[2] for row in rows}, files=sorted(p.name for p in out.iterdir()))


def tsv_rows(out: Path) -> int:
    return len((out / "steps.tsv").read_text().splitlines()) if (out / "steps.tsv").exists() else 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every run above at the same time (the stand-ins mostly sleep), so the file stays quick. Each
    OUTDIR is given relative to the caller's folder, as a user would."""
    import torch
    base = tmp_path_factory.mktemp("gpu_check")
    (base / "tmp").mkdir()
    started = {}
    for name, (args, env) in RUNS.items():
        if name.startswith("no-gpu") and torch.cuda.is_available():
            continue  # on a GPU machine the real run is scripts/gpu_check.sh itself
        proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "gpu_check.sh"), name, *args], cwd=base, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=script_env(TMPDIR=str(base / "tmp"), **env), start_new_session=True)
        started[name] = proc
    deadline = time.time() + 60
    for name, sig in (("killed", signal.SIGKILL), ("terminated", signal.SIGTERM)):
        while tsv_rows(base / name) < KILL_AFTER_ROWS and time.time() < deadline and started[name].poll() is None:
            time.sleep(0.1)
        if sig == signal.SIGKILL:
            os.killpg(started[name].pid, sig)  # nothing of the check survives to write another report
        else:
            started[name].send_signal(sig)  # as a time limit's kill: the check reports, then exits
    return {**{name: finished(base / name, proc) for name, proc in started.items()}, "scratch": base / "tmp"}


def bundle_names(out: Path) -> set:
    with tarfile.open(out / "bundle.tar.gz") as tar:
        return set(tar.getnames())


@pytest.mark.parametrize("name", list(RUNS))
def test_at_most_three_files_come_back(runs, name):
    """The GPU machine returns at most 8 files, no deeper than OUTDIR/a/b/file: the run leaves three."""
    if name not in runs:
        pytest.skip("a GPU is present: the real run is scripts/gpu_check.sh itself")
    assert set(runs[name].files) <= {"report.md", "steps.tsv", "bundle.tar.gz"}
    assert "report.md" in runs[name].files and "steps.tsv" in runs[name].files


def test_rehearsal_where_every_step_passes(runs):
    run = runs["all-pass"]
    assert run.rc == 0, run.stdout + run.stderr
    assert run.files == ["bundle.tar.gz", "report.md", "steps.tsv"]
    assert list(run.status) == list(STEPS) and set(run.status.values()) == {"pass"}
    assert "result: all steps passed" in run.report and "exit status 0" in run.report and "REHEARSAL" in run.report
    assert run.stdout.rstrip().endswith(run.report.rstrip())  # the run ends by printing the report
    for section in ("| fused / streaming floor | <= 1.5 | 1.25 | met |", "| targets / writing their bytes once |",
                    "| cuda | paper | bf16 | 32 |", "| adaptive_wing_loss_kernel<float, int, 4, false> | 30.05 us"):
        assert section in run.report
    names = bundle_names(run.out)
    assert {f"logs/{step}.log" for step in STEPS} <= names
    assert {"env.json", "build_info.json", "loss.json", "targets.json", "train_step.json", "ncu_kernels.txt"} <= names


def test_scratch_folders_are_removed(runs):
    """Only the run killed outright (SIGKILL: nothing can clean up) leaves its temporary folder behind."""
    assert len(list(runs["scratch"].iterdir())) <= 1


def test_rehearsal_where_the_sanitizer_and_ncu_are_refused(runs):
    """A machine that refuses a tool is no kernel bug: its passes are unavailable and the run passes."""
    run = runs["tools-unavailable"]
    assert run.rc == 0, run.stdout + run.stderr
    for name in ("sanitizer-probe", *SANITIZERS, "ncu-probe", "ncu-profile"):
        assert run.status[name] == "unavailable", name
    assert all(run.status[name] == "pass" for name in ("build", "cuda-tests", "bench-train-step", "torchrun-nccl"))
    assert "FAILED" not in run.report and "counted as neither: sanitizer-probe, memcheck" in run.report
    assert "Device not supported" in run.report  # the probe's log says why
    assert "### memcheck, racecheck, synccheck, initcheck: unavailable" in run.report


def test_rehearsal_where_the_build_fails(runs):
    run = runs["build-fails"]
    assert run.rc == 1
    assert run.status["environment"] == "pass" and run.status["build"] == "fail(rc=1)"
    later = list(STEPS)[2:]
    assert [run.status[name] for name in later] == ["skipped (build failed)"] * len(later)
    assert "gpu: rehearsal" in run.report.lower() and "result: FAILED: build" in run.report
    assert 'error: identifier "rehearsal" is undefined' in run.report  # the compiler's error, pasted in


def test_rehearsal_where_the_cuda_tests_fail(runs):
    run = runs["cuda-tests-fail"]
    assert run.rc == 1
    assert run.status["cuda-tests"] == "fail(rc=1)"
    assert all(run.status[name] == "pass" for name in STEPS if name != "cuda-tests")
    assert "FAILED tests/ops/adaptive_wing_loss/test_cuda.py" in run.report


def test_rehearsal_where_a_benchmark_times_out(runs):
    run = runs["benchmark-times-out"]
    assert run.rc == 2, run.stdout + run.stderr  # a benchmark failed, no correctness step did
    assert run.status["bench-train-step"] == "timeout" and run.status["memcheck"] == "unavailable"
    assert all(run.status[name] == "pass" for name in STEPS if name not in ("bench-train-step", "memcheck"))
    assert "train_step.json is missing" in run.report and "### bench-train-step: timeout" in run.report


def test_rehearsal_out_of_budget(runs):
    run = runs["budget-spent"]
    assert run.rc == 1
    assert set(run.status.values()) == {"skipped (budget spent)"} and list(run.status) == list(STEPS)


def test_a_killed_run_still_leaves_its_report(runs):
    """Killed outright after a few steps: the report written after the last finished step remains."""
    run = runs["killed"]
    assert run.rc == -signal.SIGKILL
    assert "in progress" in run.report
    assert "| environment | correctness | PASS |" in run.report
    assert "| ncu-profile | benchmark | pending |" in run.report
    assert "logs/environment.log" in bundle_names(run.out)


def test_a_terminated_run_reports_what_it_was_doing(runs):
    run = runs["terminated"]
    assert run.rc == 143
    assert "**KILLED** after" in run.report and "not reached" in run.report
    assert set(run.status.values()) <= {"pass", "killed"}  # killed: a step it was running, if any


def test_a_real_run_without_a_gpu_fails_at_the_build_and_still_reports(runs):
    """On a CPU-only machine the build step fails (no device to build for): exit 1, a whole report."""
    if "no-gpu" not in runs:
        pytest.skip("a GPU is present: the real run is scripts/gpu_check.sh itself")
    run = runs["no-gpu"]
    assert run.rc == 1, run.stdout + run.stderr
    assert run.status["build"] == "fail(rc=1)" and list(run.status) == list(STEPS)
    assert all(run.status[name] == "skipped (build failed)" for name in list(STEPS)[2:])
    assert "result: FAILED: environment, build" in run.report and "torch sees no CUDA device" in run.report
    assert {"logs/environment.log", "logs/build.log", "env.json"} <= bundle_names(run.out)
