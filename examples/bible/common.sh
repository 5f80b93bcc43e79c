# Shared settings of the Bible recipes (sourced, not run). Every value is an
# environment variable with a CPU-sized default; scale up by exporting them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::DeprecationWarning}"

export DATA="${DATA:-data/bible}"     # output of prepare.sh
RUNS="${RUNS:-runs/bible}"            # checkpoints and results
SRC="${SRC:-en}"                      # source language (pretraining, fine-tuning)
LANGS="${LANGS:-de fr ru}"            # target languages
SEEDS="${SEEDS:-1 2}"                 # seeds of steps 2-3
export VOCAB="${VOCAB:-4000}"         # sentencepiece vocabulary per language (prepare.sh)
ARCH="${ARCH:-minijoint_roberta_small}"
MODEL_FLAGS="${MODEL_FLAGS:-}"        # e.g. "--encoder-layers 4 --encoder-embed-dim 64" for a miniature run
TOKENS="${TOKENS:-128}"               # tokens per sample
# step 1: MiniJoint pretraining
PRETRAIN_UPDATES="${PRETRAIN_UPDATES:-1000}"
PRETRAIN_BSZ="${PRETRAIN_BSZ:-16}"
PRETRAIN_LR="${PRETRAIN_LR:-1e-3}"
# step 2: new-language embeddings
ADAPT_UPDATES="${ADAPT_UPDATES:-400}"
ADAPT_BSZ="${ADAPT_BSZ:-16}"
ADAPT_LR="${ADAPT_LR:-2e-3}"
# step 3: fine-tuning
FT_UPDATES="${FT_UPDATES:-600}"
FT_BSZ="${FT_BSZ:-32}"
FT_LR="${FT_LR:-2e-4}"
LOG_FORMAT="${LOG_FORMAT:-simple}"
THREADS="${THREADS:-$(nproc)}"

PRIMARY="$RUNS/pretrain/minijoint/checkpoint_last.pt"
MINI="$RUNS/pretrain/minijoint/mini.pt"

export OMP_NUM_THREADS="$THREADS"
FAIRSEQ_TRAIN=(.venv/bin/fairseq-train --user-dir minimodel_fairseq --cpu --num-workers 0
  --log-format "$LOG_FORMAT" --log-interval 25 --no-epoch-checkpoints)
MINIMODEL=.venv/bin/minimodel

# seconds of training that a fairseq-train log reports ("done training in X seconds")
train_seconds() { sed -n 's/.*done training in \([0-9.]*\) seconds.*/\1/p' "$1" | tail -n 1; }
