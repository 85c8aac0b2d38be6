#!/usr/bin/env bash
# The GPU check: the CUDA tests, then the engine benchmarks at a GPU size on `cuda`, each
# printing its rate as a share of this GPU's own matmul rate (float32 and bfloat16 products
# of the same shapes). Under 8 minutes on one H100; every step has its own time limit.
#
#     bash benchmarks/gpu_check.sh           # on a machine with a CUDA GPU
#     bash benchmarks/gpu_check.sh --smoke   # the same steps on CPU at their --smoke sizes
#
# The figures go to docs/matching.md ("Measured on a GPU").
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

device=cuda
smoke=()
if [[ "${1:-}" == "--smoke" ]]; then
    device=cpu
    smoke=(--smoke)
elif [[ $# -gt 0 ]]; then
    echo "usage: bash benchmarks/gpu_check.sh [--smoke]" >&2
    exit 2
fi

step() {  # step SECONDS TITLE COMMAND...: run one step under a time limit, say how long
    local limit=$1 title=$2
    shift 2
    echo
    echo "== $title (limit ${limit} s)"
    local start=$SECONDS
    timeout "$limit" "$@"
    echo "-- $title: $((SECONDS - start)) s"
}

if [[ $device == cuda ]]; then
    python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; \
print(torch.cuda.get_device_name(0), torch.__version__, 'CUDA', torch.version.cuda)"
    step 180 "CUDA tests" python -m pytest -q -p no:cacheprovider -k cuda \
        tests/empirics/engine tests/runstore/test_devices.py
else
    step 120 "CUDA tests (collected only: no GPU)" python -m pytest -q -p no:cacheprovider \
        --collect-only -k cuda tests/empirics/engine tests/runstore/test_devices.py
fi
step 150 "block engine: float32 and bfloat16 against the matmul rate" \
    python benchmarks/bench_matching.py --device "$device" --neurons 8192 --tokens 131072 \
    --batch 8192 --corrcoef-tokens 2048 --groups 16 "${smoke[@]}"
step 120 "official replay against the exact engine" \
    python benchmarks/bench_official.py --device "$device" --samples 2000000 --neurons 1024 \
    --batch 8192 "${smoke[@]}"
