#!/usr/bin/env bash
# Create .venv in the repo root and install everything the plugin needs.
# Idempotent: when .venv is complete (stamp file newer than setup.py and this
# script), it returns in well under a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.minimodel-setup-complete"
py="${PYTHON:-python3}"

if [ -f "$stamp" ] && [ "$stamp" -nt "$root/setup.py" ] && [ "$stamp" -nt "$root/scripts/setup.sh" ]; then
  exit 0
fi

echo "[setup] creating $venv (first run takes 3-6 minutes: fairseq builds from source)" >&2
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip="$venv/bin/python -m pip --disable-pip-version-check -q"
export PIP_CONSTRAINT="$root/scripts/constraints.txt"

# 1. torch first, pinned: on this machine `torch==2.13.0` is a CPU wheel on disk.
#    An unpinned torch would pull a multi-GB CUDA build.
$pip install "torch==2.13.0"
# 2. build requirements of fairseq, installed before it so that the build can
#    run without isolation (isolation would pull a CUDA torch into the build env).
$pip install "cython<3.2" "numpy>=1.26,<3" "setuptools<81" wheel
# 3. fairseq itself, in its own pip call, without build isolation.
$pip install --no-build-isolation "fairseq-fixed==0.12.3.1"
# 4. the rest, and this package in editable mode (no deps: they are above).
#    matplotlib only draws benchmarks/transfer.py's accuracy-versus-compute plot.
$pip install "sentencepiece==0.2.1" "pytest>=8,<9" "pytest-xdist==3.8.0" "sacrebleu>=2.4,<3" "matplotlib>=3.8,<4"
# 5. Hugging Face import/export (minimodel import-hf / export-hf; imported only by those
#    commands), fairseq's --tensorboard-logdir, and the romaniser behind the anchored init.
$pip install "transformers==5.23.0" "safetensors==0.8.0" "tokenizers==0.23.3" "tensorboardX==2.6.5" "uroman==1.3.1.1"
# fairseq pulls torchaudio, whose wheels here are CUDA builds for another torch: it cannot load,
# and transformers imports it when present. Nothing of fairseq that the plugin uses needs it.
$pip uninstall -y -q torchaudio 2>/dev/null || true
$pip install --no-build-isolation --no-deps -e "$root"
touch "$stamp"
echo "[setup] done: $venv" >&2
