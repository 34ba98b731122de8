"""scripts/gpu_check.sh stays runnable on machines without a GPU: the dry run lists its steps,
every command line it would run parses, and its helper scripts and report work on the CPU."""
import importlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
STEPS = ("build", "environment", "cuda-tests", "memcheck", "racecheck", "synccheck", "initcheck",
         "torchrun-nccl", "bench-loss", "bench-targets", "bench-train-step", "ncu-profile")


def run_script(*args, **kwargs):
    return subprocess.run(["bash", str(SCRIPTS / "gpu_check.sh"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, **kwargs)


def dry_run_commands() -> dict:
    result = run_script("--dry-run")
    assert result.returncode == 0, result.stderr
    commands = {}
    for line in result.stdout.splitlines()[1:]:
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[0] in STEPS:
            commands[parts[0]] = parts[3]
    return commands


def test_dry_run_lists_every_step_in_order():
    assert list(dry_run_commands()) == list(STEPS)


def test_without_an_output_folder_it_says_so():
    result = run_script()
    assert result.returncode == 2
    assert "give an output folder" in result.stderr


def test_unknown_option_is_refused():
    result = run_script("--fast")
    assert result.returncode == 2 and "unknown option --fast" in result.stderr


@pytest.mark.parametrize("step,module", [("bench-loss", "benchmarks.bench_loss"),
                                         ("bench-targets", "benchmarks.bench_targets"),
                                         ("bench-train-step", "benchmarks.bench_train_step"),
                                         ("torchrun-nccl", "training.train")])
def test_step_command_lines_parse(step, module):
    """The options gpu_check passes exist (a renamed option would fail only on the GPU machine)."""
    words = shlex.split(dry_run_commands()[step])
    argv = words[words.index(module) + 1:]
    args = importlib.import_module(module).parse_args(argv)
    if step.startswith("bench"):
        assert args.devices == ["cuda"] and str(args.json).endswith(".json")


def test_sanitize_driver_runs_on_the_cpu(capsys):
    sys.path.insert(0, str(SCRIPTS))
    try:
        import gpu_sanitize_driver
        assert gpu_sanitize_driver.main(["--device", "cpu"]) == 0
    finally:
        sys.path.remove(str(SCRIPTS))
    assert "op calls on cpu finished" in capsys.readouterr().out


def test_profile_script_runs_on_the_cpu():
    result = subprocess.run([sys.executable, str(SCRIPTS / "gpu_profile_kernels.py"), "--device", "cpu"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "targets of 64 faces" in result.stdout


NCU_SAMPLE = """\
==PROF== Disconnected from process 1
  void awing::cuda::(anonymous namespace)::adaptive_wing_loss_kernel<float, int, 4, false>(const float *, int) (1056, 1, 1)x(256, 1, 1), Context 1, Stream 7, Device 0, CC 9.0
    Section: GPU Speed Of Light Throughput
    ----------------------- ----------- ------------
    Metric Name             Metric Unit Metric Value
    ----------------------- ----------- ------------
    Memory Throughput                 %        71.25
    DRAM Throughput                   %        69.10
    Duration                         us        30.05
    Compute (SM) Throughput           %        44.80
  void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>, std::array<char *, 3>>(int, at::native::CUDAFunctor_add<float>, std::array<char *, 3>) (8448, 1, 1)x(128, 1, 1), Context 1, Stream 7, Device 0, CC 9.0
    Section: GPU Speed Of Light Throughput
    DRAM Throughput                   %        91.00
    Duration                         us        21.50
"""


def write_check_outputs(out: Path) -> None:
    (out / "steps.tsv").write_text("build\tcorrectness\tpass\t80\tlogs/build.log\n"
                                   "memcheck\tcorrectness\tfail(rc=1)\t40\tlogs/memcheck.log\n"
                                   "bench-loss\tbenchmark\tskipped\t0\t-\n")
    (out / "env.json").write_text(json.dumps({"gpu": "NVIDIA H200", "capability": "9.0", "sms": 132,
                                              "torch": "2.11.0+cu130", "cuda": "13.0"}))
    loss_row = {"device": "cuda", "N": 32, "pass": "fwd+bwd",
                "median_ms": {"fused": 0.05, "eager": 0.4, "compiled": 0.2, "floor": 0.04},
                "speedup_vs_eager": 8.0, "speedup_vs_compiled": 4.0, "fused_over_floor": 1.25}
    (out / "loss.json").write_text(json.dumps({"results": [loss_row]}))
    target_row = {"impl": "batched awing_ext", "device": "cuda", "batch": 64, "timing": {"median_ms": 0.3},
                  "parts_median_ms": {"heatmaps": 0.1, "boundary": 0.1, "weight_map": 0.1},
                  "write_floor_ms": 0.1, "over_write_floor": 3.0, "samples_per_s": 2e5}
    (out / "targets.json").write_text(json.dumps({"results": [target_row]}))
    (out / "ncu_kernels.txt").write_text(NCU_SAMPLE)


def test_report_states_results_goals_and_missing_inputs(tmp_path):
    write_check_outputs(tmp_path)
    sys.path.insert(0, str(SCRIPTS))
    try:
        import gpu_report
        assert gpu_report.main([str(tmp_path)]) == 0
    finally:
        sys.path.remove(str(SCRIPTS))
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# awing GPU check: NVIDIA H200")
    assert "result: FAILED: memcheck, bench-loss" in report
    assert "| memcheck | correctness | **FAIL(RC=1)** | 40 |" in report
    # hand-checked verdicts: 1.25 <= 1.5 met, 8 >= 10 missed, 4 >= 3 met; targets 3.0 <= 2 missed
    assert "| fused / streaming floor | <= 1.5 | 1.25 | met |" in report
    assert "| eager / fused | >= 10.0 | 8.00 | **missed** |" in report
    assert "| compiled / fused | >= 3.0 | 4.00 | met |" in report
    assert "measured 3.00, **missed**" in report
    assert "train_step.json is missing" in report
    assert "| adaptive_wing_loss_kernel<float, int, 4, false> | 30.05 us | 69.10 % | 71.25 % | 44.80 % |" in report
    assert "| vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>, std::array<char *, 3>> | 21.50 us" in report


def test_a_run_without_a_gpu_fails_at_the_build_and_still_reports(tmp_path):
    """On this CPU-only machine the build step fails (no device to build for): the run stops,
    exits 1 and the report names the failed step."""
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the real run is scripts/gpu_check.sh itself")
    result = run_script(str(tmp_path / "out"), "--budget", "60", env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout + result.stderr
    report = (tmp_path / "out" / "report.md").read_text()
    assert "result: FAILED: build" in report
    assert (tmp_path / "out" / "logs" / "build.log").exists()
