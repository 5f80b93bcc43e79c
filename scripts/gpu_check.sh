#!/usr/bin/env bash
# GPU readiness check: the method's steps in miniature with --fp16 and --bf16 on a CUDA GPU
# (scripts/gpu_check.py says what is checked; docs/benchmarks.md, "GPU readiness", how to run it).
#   scripts/gpu_check.sh [gpu_check.py options]      e.g. --precisions bf16 --updates 10
# The GPU machine has torch, transformers, sentencepiece, scikit-learn ... but no fairseq: when
# python3 cannot import fairseq, the wheels in .whl/ (fairseq-fixed, hydra-core, omegaconf,
# antlr4-python3-runtime, bitarray; cp312) are installed into /tmp/site first, never torch.
# Writes $OUT/gpu_check.txt (and gpu_check.log with failing runs' log tails) when OUT is set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python3}"
if ! "$PY" -c "import fairseq" 2>/dev/null; then
  ls .whl/*.whl >/dev/null 2>&1 || { echo "gpu_check: fairseq is missing and .whl/ holds no wheels (docs/benchmarks.md)" >&2; exit 2; }
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
# the plugin from this checkout (a lent machine has it uninstalled)
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" scripts/gpu_check.py "$@"
