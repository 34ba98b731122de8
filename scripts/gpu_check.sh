#!/usr/bin/env bash
# The whole GPU verification of awing in one command: build, CUDA tests, compute-sanitizer,
# benchmarks, a torchrun/NCCL smoke run and a kernel profile, summarised in OUTDIR/report.md.
#
#   bash scripts/gpu_check.sh OUTDIR [--steps a,b] [--budget S] [--wheelhouse DIR]   with an NVIDIA GPU
#   bash scripts/gpu_check.sh --dry-run          lists the steps and checks their files (no GPU needed)
#
# --steps runs only the named steps (a rerun after a fix; build is always run first);
# --budget caps the whole run at S seconds (default 540): a step gets at most what is left, and
# steps that no longer fit are reported as skipped.
# Needs: python3 with torch (a CUDA build) and the test packages (pytest, numpy, scipy,
# hypothesis, opencv-python-headless; see requirements-dev.txt), nvcc, compute-sanitizer and ncu
# on PATH or in $CUDA_HOME/bin. Needs no network: awing_ext is built in place against the
# installed torch, for the visible GPU's architecture only. --wheelhouse DIR first installs the
# wheels in DIR (e.g. a missing test package) into a scratch folder with pip --no-index.
#
# Writes OUTDIR/report.md (pass/fail per step, the benchmark tables and goals, GPU and versions),
# OUTDIR/{loss,targets,train_step}.json, OUTDIR/ncu_kernels.txt and OUTDIR/logs/<step>.log.
# Exit status: 1 if a correctness step failed, else 2 if a benchmark/profile step failed, else 0.
#   PYTHON   the interpreter (default: python3)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }

dry_run=0
out=""
wheelhouse=""
only=""
budget=540
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --steps) only="${2:?--steps needs a comma-separated list}"; shift ;;
    --budget) budget="${2:?--budget needs seconds}"; shift ;;
    --wheelhouse) wheelhouse="${2:?--wheelhouse needs a folder}"; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "gpu_check: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) out="$1" ;;
  esac
  shift
done
if [ "$dry_run" = 0 ] && [ -z "$out" ]; then
  echo "gpu_check: give an output folder (or --dry-run)" >&2; usage >&2; exit 2
fi
out="${out:-/tmp/awing-gpu-check}"
py="${PYTHON:-python3}"
tool() {  # a CUDA tool from PATH or the toolkit
  command -v "$1" 2>/dev/null || { for d in "${CUDA_HOME:-}" /usr/local/cuda /opt/nvidia/nsight-compute/*; do
    [ -n "$d" ] && [ -x "$d/bin/$1" ] && { echo "$d/bin/$1"; return; }; [ -x "$d/$1" ] && { echo "$d/$1"; return; }; done; echo "$1"; }
}
sanitizer="$(tool compute-sanitizer)"
ncu="$(tool ncu)"
# Instrument only awing's kernels when this compute-sanitizer can filter by name.
sanitizer_filter=""
if "$sanitizer" --help 2>/dev/null | grep -q -- "--kernel-name "; then sanitizer_filter="--kernel-name kns=awing"; fi
# PyTorch's caching allocator hides out-of-bounds accesses inside its cached blocks from memcheck.
san="PYTORCH_NO_CUDA_MEMORY_CACHING=1 $sanitizer $sanitizer_filter --error-exitcode 1 --print-limit 30"

# name | kind (correctness, benchmark) | timeout seconds | command
steps=(
  "build|correctness|300|arch=\$($py -c 'import torch; print(\"%d.%d\" % torch.cuda.get_device_capability())') && echo \"arch \$arch\" && export TORCH_CUDA_ARCH_LIST=\$arch AWING_FORCE_CUDA=1 MAX_JOBS=\$(nproc) && { $py -m pip install --no-build-isolation --no-deps --no-index -e . || $py setup.py build_ext --inplace; } && $py -c 'import awing_ext; print(\"build_info\", awing_ext.build_info())'"
  "environment|correctness|60|$py scripts/gpu_environment.py $out/env.json"
  "cuda-tests|correctness|300|$py -m pytest -p no:cacheprovider -q -rs -m '' -k cuda tests --junitxml=$out/cuda_tests.xml"
  "memcheck|correctness|240|$san --tool memcheck $py scripts/gpu_sanitize_driver.py --int64"
  "racecheck|correctness|240|$san --tool racecheck $py scripts/gpu_sanitize_driver.py"
  "synccheck|correctness|240|$san --tool synccheck $py scripts/gpu_sanitize_driver.py"
  "initcheck|correctness|240|$san --tool initcheck $py scripts/gpu_sanitize_driver.py"
  "torchrun-nccl|correctness|180|$py -m torch.distributed.run --standalone --nproc_per_node=1 -m training.train --device cuda --preset tiny --train-samples 64 --val-samples 32 --test-samples 32 --batch-size 8 --epochs 1 --workers 0 --no-progress --out $out/torchrun_run"
  "bench-loss|benchmark|240|$py -m benchmarks.bench_loss --devices cuda --batch-sizes 8 32 --repeat 30 --json $out/loss.json"
  "bench-targets|benchmark|180|$py -m benchmarks.bench_targets --devices cuda --batch-sizes 16 32 64 --repeat 30 --json $out/targets.json"
  "bench-train-step|benchmark|240|$py -m benchmarks.bench_train_step --devices cuda --preset paper --amp fp32 bf16 --batch-sizes 16 32 --repeat 10 --json $out/train_step.json"
  "ncu-profile|benchmark|180|$ncu --clock-control none --nvtx --nvtx-include 'awing/' --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats $py scripts/gpu_profile_kernels.py > $out/ncu_kernels.txt"
)
# The repository files the steps run (the dry run checks that they exist).
files=(setup.py scripts/gpu_environment.py scripts/gpu_sanitize_driver.py scripts/gpu_profile_kernels.py
       scripts/gpu_report.py benchmarks/bench_loss.py benchmarks/bench_targets.py benchmarks/bench_train_step.py
       training/train.py tests/test_adaptive_wing_loss_cuda.py tests/test_cuda_graphs.py tests/cuda_parity.py)

if [ "$dry_run" = 1 ]; then
  echo "gpu_check steps (OUTDIR=$out, python=$py):"
  for s in "${steps[@]}"; do
    IFS='|' read -r name kind limit cmd <<<"$s"
    printf '%-16s %-12s %4ss  %s\n' "$name" "$kind" "$limit" "$cmd"
  done
  echo "then: $py scripts/gpu_report.py $out  (writes $out/report.md)"
  missing=0
  for f in "${files[@]}"; do [ -f "$f" ] || { echo "gpu_check: missing $f" >&2; missing=1; }; done
  exit $missing
fi

mkdir -p "$out/logs"
: > "$out/steps.tsv"
export PYTHONUNBUFFERED=1
if [ -n "$wheelhouse" ]; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --target /tmp/awing-wheels "$wheelhouse"/*.whl \
    && export PYTHONPATH="/tmp/awing-wheels${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

correctness_failed=0
benchmark_failed=0
deadline=$(( $(date +%s) + budget ))
for s in "${steps[@]}"; do
  IFS='|' read -r name kind limit cmd <<<"$s"
  if [ -n "$only" ] && [ "$name" != build ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
  log="logs/$name.log"
  left=$(( deadline - $(date +%s) - 15 ))  # 15 s kept for the report
  if [ "$left" -lt 20 ]; then
    echo "== $name: skipped (the ${budget}s budget is spent)"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "skipped" 0 "-" >>"$out/steps.tsv"
    if [ "$kind" = correctness ]; then correctness_failed=1; else benchmark_failed=1; fi
    continue
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name ($kind, limit ${limit}s)"
  start=$(date +%s)
  timeout --kill-after=10 "$limit" bash -c "$cmd" >"$out/$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  case $rc in
    0) status=pass ;;
    124|137) status=timeout ;;
    *) status="fail(rc=$rc)" ;;
  esac
  tail -n 3 "$out/$log" | sed 's/^/   /'
  echo "   -> $status in ${secs}s"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$status" "$secs" "$log" >>"$out/steps.tsv"
  if [ "$status" != pass ]; then
    if [ "$kind" = correctness ]; then correctness_failed=1; else benchmark_failed=1; fi
    # Nothing else can run without the extension.
    if [ "$name" = build ]; then break; fi
  fi
done

"$py" scripts/gpu_report.py "$out"
if [ "$correctness_failed" = 1 ]; then exit 1; fi
if [ "$benchmark_failed" = 1 ]; then exit 2; fi
exit 0
