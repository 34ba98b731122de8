#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py; docs/gpu.md), from any folder: OUTDIR and --wheelhouse
# are the caller's. PYTHON is the interpreter (default python3), with torch and the test packages.
#   bash scripts/gpu_check.sh OUTDIR [--steps a,b] [--budget S] [--wheelhouse DIR]   with an NVIDIA GPU
#   bash scripts/gpu_check.sh --dry-run                lists the steps, their limits and the 420 s budget
#   bash scripts/gpu_check.sh --rehearse SPEC OUTDIR   the same run on any machine, steps as stand-ins
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" -m benchmarks.gpu_check "$@"
