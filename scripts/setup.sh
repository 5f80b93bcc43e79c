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

# pin NAME: setup.py's requirement string for NAME (the pins are written once, there)
pin() { sed -n "s/^ *\"\($1[=<>][^\"]*\)\",\{0,1\}$/\1/p" "$root/setup.py" | head -n 1; }
# 1. torch first, pinned: on this machine `torch==2.13.0` is a CPU wheel on disk.
#    An unpinned torch would pull a multi-GB CUDA build.
$pip install "$(pin torch)"
# 2. build requirements of fairseq, installed before it so that the build can
#    run without isolation (isolation would pull a CUDA torch into the build env).
$pip install "cython<3.2" "$(pin numpy)" "setuptools<81" wheel
# 3. fairseq and everything else, at setup.py's pins (the one list of versions), without build
#    isolation, with this package in editable mode.
$pip install --no-build-isolation -e "$root[all]"
# fairseq pulls torchaudio, whose wheels here are CUDA builds for another torch: it cannot load,
# and transformers imports it when present. Nothing of fairseq that the plugin uses needs it.
$pip uninstall -y -q torchaudio 2>/dev/null || true
touch "$stamp"
echo "[setup] done: $venv" >&2
