#!/usr/bin/env bash
# The whole GPU verification of awing in one command, sized for a short loan of a GPU machine:
# the speed goals first, the correctness checks next, the extras last, in 420 s by default.
#
#   bash scripts/gpu_check.sh OUTDIR [--steps a,b] [--budget S] [--wheelhouse DIR]   with an NVIDIA GPU
#   bash scripts/gpu_check.sh --dry-run              lists the steps, their limits and the budget
#   bash scripts/gpu_check.sh --rehearse SPEC OUTDIR the same run on any machine, each step a ~1 s
#                                                    stand-in whose outcome SPEC gives
#
# Order: environment (no awing_ext import) -> build (once: setup.py build_ext --inplace, for the
# visible GPU only; asserts build_info()["cuda"]) -> bench-loss (N = 32) -> bench-targets ->
# cuda-tests (fail if a test skipped for lack of CUDA) -> sanitizer-probe -> memcheck, racecheck,
# synccheck, initcheck (at the same time) -> bench-train-step (bf16, batch 32) -> torchrun-nccl ->
# ncu-probe -> ncu-profile. A failed build skips the rest. The probes run compute-sanitizer and ncu
# over a trivial CUDA program: a tool that is missing or refused makes its passes `unavailable`,
# which counts as neither pass nor failure.
#
# OUTDIR gets three files: report.md (rewritten after every step, so a killed run leaves one;
# with the log of every step that did not pass pasted in), steps.tsv and bundle.tar.gz (logs,
# JSON, ncu text); scratch work goes to a temporary folder. The run ends by printing report.md.
# Exit status: 1 if a correctness step failed, else 2 if a benchmark/profile step failed, else 0.
#
# --steps a,b   runs only the named steps (environment always; build unless awing_ext is already
#               built with CUDA and newer than csrc/ and setup.py)
# --budget S    caps the run at S seconds (default 420): a step gets at most what is left; steps
#               that no longer fit are `skipped (budget spent)` and count as failures
# --rehearse SPEC   comma-separated step=pass|fail|timeout|unavailable; unnamed steps pass, '' all
#               pass (e.g. --rehearse build=fail /tmp/r). AWING_REHEARSE_SECONDS (default 1) is a
#               stand-in's length, AWING_REHEARSE_LIMIT (default 5) every step's time limit.
# --wheelhouse DIR  first installs the wheels in DIR (a missing test package) with pip --no-index.
# Needs: python3 with torch (a CUDA build) and the test packages (pytest, numpy, scipy,
# hypothesis, opencv-python-headless; see requirements-dev.txt), nvcc, compute-sanitizer and ncu
# on PATH or in $CUDA_HOME/bin. Needs no network.
#   PYTHON   the interpreter (default: python3)
set -uo pipefail
caller_dir="$PWD"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }
die() { echo "gpu_check: $1" >&2; usage >&2; exit 2; }

dry_run=0
rehearse=0
spec=""
out=""
wheelhouse=""
only=""
budget=420
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --rehearse) [ $# -ge 2 ] || die "--rehearse needs a SPEC ('' for all pass)"; rehearse=1; spec="$2"; shift ;;
    --steps) only="${2:?--steps needs a comma-separated list}"; shift ;;
    --budget) budget="${2:?--budget needs seconds}"; shift ;;
    --wheelhouse) wheelhouse="${2:?--wheelhouse needs a folder}"; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) out="$1" ;;
  esac
  shift
done
[[ "$budget" =~ ^[0-9]+$ ]] || die "--budget needs whole seconds, got $budget"
if [ "$dry_run" = 0 ] && [ -z "$out" ]; then die "give an output folder (or --dry-run)"; fi
# Folders named on the command line are the caller's, not the repository root's.
[ -n "$out" ] && [[ "$out" != /* ]] && out="$caller_dir/$out"
[ -n "$wheelhouse" ] && [[ "$wheelhouse" != /* ]] && wheelhouse="$caller_dir/$wheelhouse"
py="${PYTHON:-python3}"
q() { printf '%q' "$1"; }  # the steps' commands are bash -c strings: their paths are quoted for it
tool() {  # a CUDA tool from PATH or the toolkit
  command -v "$1" 2>/dev/null || { for d in "${CUDA_HOME:-}" /usr/local/cuda /opt/nvidia/nsight-compute/*; do
    [ -n "$d" ] && [ -x "$d/bin/$1" ] && { echo "$d/bin/$1"; return; }; [ -x "$d/$1" ] && { echo "$d/$1"; return; }; done; echo "$1"; }
}
sanitizer="$(tool compute-sanitizer)"
ncu="$(tool ncu)"
export AWING_SANITIZER="$sanitizer" AWING_NCU="$ncu"

if [ "$dry_run" = 1 ]; then
  tmp="/tmp/awing-gpu-check.XXXXXX" work="/tmp/awing-gpu-check.XXXXXX/work"
else
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/awing-gpu-check.XXXXXX")" && work="$tmp/work" && mkdir -p "$work/logs" \
    || { echo "gpu_check: cannot make a scratch folder" >&2; exit 2; }
fi

# Instrument only awing's kernels when this compute-sanitizer can filter by name; initcheck runs
# unfiltered, since torch's own kernels write the tensors awing's kernels read.
filter=""
if "$sanitizer" --help 2>/dev/null | grep -q -- "--kernel-name "; then filter="--kernel-name kns=awing "; fi
# PyTorch's caching allocator hides out-of-bounds accesses inside its cached blocks from memcheck.

# The ops whose kernels racecheck/synccheck can find something in (tests/tools/test_gpu_check.py checks
# csrc/cuda for them): the loss's cub::BlockReduce (shared memory and __syncthreads, reduce.cuh)
# and the warp shuffles of decode, soft_argmax and integral_coords.
race_ops=loss
sync_ops=loss,decode,soft_argmax,integral
san="PYTORCH_NO_CUDA_MEMORY_CACHING=1 $(q "$sanitizer") --error-exitcode 1 --print-limit 30"
driver="$(q "$py") scripts/gpu_sanitize_driver.py"
build_flag=""
[ -n "$only" ] && build_flag="--if-stale "

py_q=$(q "$py") work_q=$(q "$work") tmp_q=$(q "$tmp") sanitizer_q=$(q "$sanitizer") ncu_q=$(q "$ncu")
# Each step: name, kind (correctness, benchmark, probe), group (steps of one group run at the same
# time), time limit in seconds, tool whose probe must pass (or -), command.
names=() kinds=() groups=() limits=() tools=() cmds=()
step() { names+=("$1"); kinds+=("$2"); groups+=("$3"); limits+=("$4"); tools+=("$5"); cmds+=("$6"); }
step environment correctness - 30 - "$py_q scripts/gpu_environment.py $work_q/env.json"
step build correctness - 240 - "$py_q scripts/gpu_steps.py build $build_flag$work_q/build_info.json"
step bench-loss benchmark - 150 - "$py_q -m benchmarks.bench_loss --devices cuda --batch-sizes 32 --losses all --repeat 30 --json $work_q/loss.json"
step bench-targets benchmark - 45 - "$py_q -m benchmarks.bench_targets --devices cuda --batch-sizes 32 64 --repeat 30 --json $work_q/targets.json"
step cuda-tests correctness - 150 - "$py_q -m pytest -p no:cacheprovider -q -rs -m '' -k cuda --ignore-glob='tests/tools/test_gpu_check*' tests --junitxml=$work_q/cuda_tests.xml; rc=\$?; $py_q scripts/gpu_steps.py cuda-skips $work_q/cuda_tests.xml || rc=1; exit \$rc"
step sanitizer-probe probe - 45 - "$py_q scripts/gpu_steps.py probe compute-sanitizer $sanitizer_q $tmp_q"
step memcheck correctness sanitizers 150 sanitizer "$san ${filter}--tool memcheck $driver --int64"
step racecheck correctness sanitizers 150 sanitizer "$san ${filter}--tool racecheck $driver --ops $race_ops"
step synccheck correctness sanitizers 150 sanitizer "$san ${filter}--tool synccheck $driver --ops $sync_ops"
step initcheck correctness sanitizers 150 sanitizer "$san --tool initcheck $driver"
step bench-train-step benchmark - 75 - "$py_q -m benchmarks.bench_train_step --devices cuda --preset paper --amp bf16 --batch-sizes 32 --repeat 10 --json $work_q/train_step.json"
step torchrun-nccl correctness - 90 - "NCCL_SOCKET_IFNAME=lo $py_q -m torch.distributed.run --standalone --nproc_per_node=1 -m training.train --device cuda --preset tiny --train-samples 64 --val-samples 32 --test-samples 32 --batch-size 8 --epochs 1 --workers 0 --no-progress --out $work_q/torchrun_run"
step ncu-probe probe - 45 - "$py_q scripts/gpu_steps.py probe ncu $ncu_q $tmp_q"
step ncu-profile benchmark - 75 ncu "$ncu_q --clock-control none --nvtx --nvtx-include 'awing/' --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats $py_q scripts/gpu_profile_kernels.py | tee $work_q/ncu_kernels.txt || exit \$?; grep -q adaptive_wing_loss_kernel $work_q/ncu_kernels.txt || { echo 'error: ncu profiled no awing kernel'; exit 1; }"
# The repository files the steps run (the dry run checks that they exist).
files=(setup.py scripts/gpu_environment.py scripts/gpu_steps.py scripts/gpu_probe.cu scripts/gpu_sanitize_driver.py
       scripts/gpu_profile_kernels.py scripts/gpu_report.py benchmarks/bench_loss.py benchmarks/bench_targets.py
       benchmarks/bench_train_step.py training/train.py tests/ops/adaptive_wing_loss/test_cuda.py tests/helpers/cuda_parity.py)
reserve=10     # seconds kept at the end for the report and the bundle
min_window=10  # a step is not started with less than this left
UNAVAILABLE=69 # a step's "this tool does not work here" (scripts/gpu_steps.py)
n=${#names[@]}

if [ "$dry_run" = 1 ]; then
  echo "gpu_check steps (OUTDIR=${out:-OUTDIR}, python=$py), budget $budget s:"
  for ((i = 0; i < n; i++)); do
    printf '%-16s %-11s %4ss  %s\n' "${names[i]}" "${kinds[i]}" "${limits[i]}" "${cmds[i]}"
  done
  echo "budget $budget s for the whole run ($reserve s of it kept for the report); memcheck, racecheck, synccheck and initcheck run at the same time"
  echo "then: $py scripts/gpu_report.py OUTDIR (report.md), and OUTDIR/bundle.tar.gz with the logs, JSON and ncu text"
  missing=0
  for f in "${files[@]}"; do [ -f "$f" ] || { echo "gpu_check: missing $f" >&2; missing=1; }; done
  exit $missing
fi

# The rehearsal: every step's command becomes a stand-in with SPEC's outcome and a short limit.
if [ "$rehearse" = 1 ]; then
  declare -A outcome=()
  IFS=, read -ra pairs <<<"$spec"
  for pair in "${pairs[@]}"; do
    [ -z "$pair" ] && continue
    key="${pair%%=*}" value="${pair#*=}"
    [[ " ${names[*]} " == *" $key "* ]] || die "--rehearse: no step named '$key' (steps: ${names[*]})"
    [[ "$value" =~ ^(pass|fail|timeout|unavailable)$ ]] || die "--rehearse: $key=$value: the outcome is pass, fail, timeout or unavailable"
    outcome[$key]="$value"
  done
  for ((i = 0; i < n; i++)); do
    cmds[i]="$py_q scripts/gpu_steps.py standin ${names[i]} ${outcome[${names[i]}]:-pass} $work_q"
    limits[i]="${AWING_REHEARSE_LIMIT:-5}"
  done
fi
if [ -n "$only" ]; then
  IFS=, read -ra wanted <<<"$only"
  for w in "${wanted[@]}"; do [[ " ${names[*]} " == *" $w "* ]] || die "--steps: no step named '$w' (steps: ${names[*]})"; done
fi
selected() {  # environment and build always; a probe when one of its tool's steps is wanted
  local i=$1 j
  [ -z "$only" ] && return 0
  [[ ",$only," == *",${names[i]},"* ]] && return 0
  case "${names[i]}" in environment|build) return 0 ;; esac
  if [ "${kinds[i]}" = probe ]; then
    for ((j = 0; j < n; j++)); do
      [ "${tools[j]}" = "${names[i]%-probe}" ] && [[ ",$only," == *",${names[j]},"* ]] && return 0
    done
  fi
  return 1
}

mkdir -p "$out" || exit 2
rm -f "$out/report.md" "$out/steps.tsv" "$out/bundle.tar.gz" "$out/.report.md.tmp"
: >"$out/steps.tsv"
: >"$work/plan.tsv"
for ((i = 0; i < n; i++)); do selected "$i" && printf '%s\t%s\n' "${names[i]}" "${kinds[i]}" >>"$work/plan.tsv"; done
export PYTHONUNBUFFERED=1
if [ -n "$wheelhouse" ]; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --target "$tmp/wheels" "$wheelhouse"/*.whl \
    && export PYTHONPATH="$tmp/wheels${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

started=$(date +%s)
deadline=$(( started + budget ))
correctness_failed=0
benchmark_failed=0
build_failed=0
declare -A tool_down=()  # tool -> its probe's log, once the probe said unavailable
running_pids=() running_names=()
step_start=$started

record() {  # name kind status seconds log
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$out/steps.tsv"
  case "$3" in
    pass|unavailable) ;;
    *) if [ "$2" = correctness ]; then correctness_failed=1; elif [ "$2" = benchmark ]; then benchmark_failed=1; fi ;;
  esac
}
bundle() {  # everything in the scratch folder but checkpoints, huge logs cut to their ends
  find "$work" -type f -size +4M ! -name '*.pt' -print0 2>/dev/null | while IFS= read -r -d '' f; do
    { head -c 1000000 "$f"; printf '\n[... cut by gpu_check.sh ...]\n'; tail -c 1000000 "$f"; } >"$f.cut" && mv -f "$f.cut" "$f"
  done
  tar -czf "$tmp/bundle.tar.gz" -C "$work" --exclude='*.pt' . 2>/dev/null && mv -f "$tmp/bundle.tar.gz" "$out/bundle.tar.gz"
}
report() {  # state [exit status]
  local extra=()
  [ "$rehearse" = 1 ] && extra+=(--rehearsal)
  [ $# -ge 2 ] && extra+=(--exit-status "$2")
  if ! "$py" scripts/gpu_report.py "$out" --work "$work" --state "$1" --budget "$budget" \
      --elapsed $(( $(date +%s) - started )) "${extra[@]}" >"$work/report.log" 2>&1; then
    # The report must come back even if its writer breaks: then it is the table and the error.
    { echo "# awing GPU check: scripts/gpu_report.py failed"; echo; echo '```'; cat "$out/steps.tsv";
      echo; tail -n 30 "$work/report.log"; echo '```'; } >"$out/report.md"
  fi
  bundle
}
on_signal() {  # a killed run still reports, naming the steps it was running
  trap - TERM INT HUP
  local k
  for pid in "${running_pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; done
  for k in "${running_names[@]}"; do
    grep -q "^$k"$'\t' "$out/steps.tsv" || record "$k" "$(kind_of "$k")" killed $(( $(date +%s) - step_start )) "logs/$k.log"
  done
  echo "gpu_check: killed; writing the report" >&2
  report killed
  rm -rf "$tmp"
  exit 143
}
trap on_signal TERM INT HUP
kind_of() { local i; for ((i = 0; i < n; i++)); do [ "${names[i]}" = "$1" ] && { echo "${kinds[i]}"; return; }; done; }

# Runs the steps with the given indices (one, or a group's) at the same time and records each.
run_batch() {
  local i left limit rc status secs log
  declare -A pid_of=() done_at=()
  running_pids=() running_names=()
  step_start=$(date +%s)
  for i in "$@"; do
    left=$(( deadline - step_start - reserve ))
    if [ "$build_failed" = 1 ]; then
      echo "== ${names[i]}: skipped (build failed)"; record "${names[i]}" "${kinds[i]}" "skipped (build failed)" 0 -
    elif [ "${tools[i]}" != - ] && [ -n "${tool_down[${tools[i]}]:-}" ]; then
      echo "== ${names[i]}: unavailable (see ${tool_down[${tools[i]}]})"
      record "${names[i]}" "${kinds[i]}" unavailable 0 "${tool_down[${tools[i]}]}"
    elif [ "$left" -lt "$min_window" ]; then
      echo "== ${names[i]}: skipped (the ${budget} s budget is spent)"
      record "${names[i]}" "${kinds[i]}" "skipped (budget spent)" 0 -
    else
      limit=${limits[i]}; [ "$limit" -gt "$left" ] && limit=$left
      echo "== ${names[i]} (${kinds[i]}, limit ${limit} s)"
      timeout --kill-after=10 "$limit" bash -o pipefail -c "${cmds[i]}" >"$work/logs/${names[i]}.log" 2>&1 </dev/null &
      pid_of[$i]=$!
      running_pids+=("$!"); running_names+=("${names[i]}")
    fi
  done
  # Wait for them all, noting when each ends (a sleep is interrupted by a signal; wait would not be).
  while [ ${#done_at[@]} -lt ${#pid_of[@]} ]; do
    for i in "${!pid_of[@]}"; do
      [ -n "${done_at[$i]:-}" ] && continue
      kill -0 "${pid_of[$i]}" 2>/dev/null || done_at[$i]=$(date +%s)
    done
    [ ${#done_at[@]} -lt ${#pid_of[@]} ] && sleep 0.2
  done
  for i in "$@"; do
    [ -z "${pid_of[$i]:-}" ] && continue
    wait "${pid_of[$i]}"; rc=$?
    secs=$(( done_at[$i] - step_start ))
    case $rc in
      0) status=pass ;;
      124|137) status=timeout ;;
      "$UNAVAILABLE") status=unavailable ;;
      *) status="fail(rc=$rc)" ;;
    esac
    log="logs/${names[i]}.log"
    # A probe never fails: a tool it cannot run is unavailable, and so are that tool's passes.
    if [ "${kinds[i]}" = probe ] && [ "$status" != pass ]; then status=unavailable; fi
    # A pass the machine refused (the probe passed, the real run did not) is no kernel bug either.
    if [ "${tools[i]}" != - ] && [ "$status" != pass ] && "$py" scripts/gpu_steps.py refused "$work/$log"; then
      status=unavailable
    fi
    if [ "${kinds[i]}" = probe ] && [ "$status" = unavailable ]; then tool_down[${names[i]%-probe}]="$log"; fi
    tail -n 3 "$work/$log" | cut -c1-200 | sed 's/^/   /'
    echo "   -> ${names[i]}: $status in ${secs} s"
    record "${names[i]}" "${kinds[i]}" "$status" "$secs" "$log"
    if [ "${names[i]}" = build ] && [ "$status" != pass ]; then build_failed=1; fi
  done
  running_pids=() running_names=()
}

report running
i=0
while [ $i -lt $n ]; do
  if ! selected "$i"; then i=$((i + 1)); continue; fi
  end=$((i + 1))
  if [ "${groups[i]}" != - ]; then
    while [ $end -lt $n ] && [ "${groups[end]}" = "${groups[i]}" ]; do end=$((end + 1)); done
  fi
  batch=()
  for ((k = i; k < end; k++)); do selected "$k" && batch+=("$k"); done
  run_batch "${batch[@]}"
  report running
  i=$end
done

status=0
if [ "$correctness_failed" = 1 ]; then status=1; elif [ "$benchmark_failed" = 1 ]; then status=2; fi
report finished "$status"
trap - TERM INT HUP
echo
cat "$out/report.md"
rm -rf "$tmp"
exit $status
