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
SEEDS="${SEEDS:-1}"                   # seeds of steps 2-3 (docs/results.md: SEEDS="1 2")
export VOCAB="${VOCAB:-4000}"         # sentencepiece vocabulary per language (prepare.sh)
ARCH="${ARCH:-minijoint_roberta_small}"
MODEL_FLAGS="${MODEL_FLAGS:-}"        # e.g. "--encoder-layers 4 --encoder-embed-dim 64" for a miniature run
TOKENS="${TOKENS:-128}"               # tokens per sample
# step 1: pretraining (MiniJoint, and the plain RoBERTa that MiniPost starts from)
PRETRAIN_UPDATES="${PRETRAIN_UPDATES:-2000}"
PRETRAIN_BSZ="${PRETRAIN_BSZ:-16}"
PRETRAIN_LR="${PRETRAIN_LR:-1e-3}"
# step 1b: MiniPost (K copied + M new layers of the plain RoBERTa)
MINIPOST_K="${MINIPOST_K:-2}"
MINIPOST_M="${MINIPOST_M:-1}"
MINIPOST_UPDATES="${MINIPOST_UPDATES:-200}"
MINIPOST_HEAD_INIT="${MINIPOST_HEAD_INIT:-copy}"  # copy: the big model's LM head; random: a new one
# step 2: new-language embeddings
ADAPT_UPDATES="${ADAPT_UPDATES:-500}"
MINI_ADAPT_UPDATES="${MINI_ADAPT_UPDATES:-$ADAPT_UPDATES}"  # minijoint/minipost (cheaper updates; benchmarks give them more)
ADAPT_BSZ="${ADAPT_BSZ:-16}"
ADAPT_LR="${ADAPT_LR:-2e-3}"
# shared: rows of tokens spelled as in the source dictionary start from the source embedding
# (names, numbers, punctuation). At CPU scale it is what makes transfer work: over a weakly
# contextual body, masked LM pins the new embeddings down only up to a rotation, and the copied
# rows fix it (docs/results.md). shared_translit: shared, plus Cyrillic tokens matched through
# their romanisation (Давид -> David; Russian: 281 rows instead of 50); the same as shared for
# Latin-script languages. random: the paper's N(0, 0.02) init.
EMBED_INIT="${EMBED_INIT:-shared_translit}"
# step 3: fine-tuning
FT_UPDATES="${FT_UPDATES:-400}"
FT_BSZ="${FT_BSZ:-32}"
FT_LR="${FT_LR:-2e-4}"
LOG_FORMAT="${LOG_FORMAT:-simple}"
THREADS="${THREADS:-$(nproc)}"

PRIMARY="$RUNS/pretrain/minijoint/checkpoint_last.pt"   # MiniJoint's full model
MINI="$RUNS/pretrain/minijoint/mini.pt"                 # its mini-model (extract-mini)
PLAIN="$RUNS/pretrain/roberta/checkpoint_last.pt"       # plain RoBERTa (stock masked_lm)
MINIPOST="$RUNS/pretrain/minipost/checkpoint_last.pt"   # MiniPost mini-model of PLAIN

export OMP_NUM_THREADS="$THREADS"
# --data-buffer-size 0: fairseq otherwise prefetches batches in a daemon thread; when
# training stops, Python 3.11 kills that thread inside torch's C++ code at interpreter
# exit, and the process can abort ("terminate called without an active exception",
# a non-zero exit after a finished run). With --num-workers 0 the buffer buys nothing.
FAIRSEQ_TRAIN=(.venv/bin/fairseq-train --user-dir minimodel_fairseq --cpu --num-workers 0 --data-buffer-size 0
  --log-format "$LOG_FORMAT" --log-interval 25 --no-epoch-checkpoints)
MINIMODEL=.venv/bin/minimodel

# the pretraining flags shared by MiniJoint and the plain RoBERTa (same size, data, schedule)
PRETRAIN_FLAGS=(--tokens-per-sample "$TOKENS" --batch-size "$PRETRAIN_BSZ"
  --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.01 --clip-norm 0
  --lr "$PRETRAIN_LR" --lr-scheduler polynomial_decay --warmup-updates $((PRETRAIN_UPDATES / 10))
  --total-num-update "$PRETRAIN_UPDATES" --max-update "$PRETRAIN_UPDATES"
  --validate-interval-updates $((PRETRAIN_UPDATES / 4)) --save-interval-updates $((PRETRAIN_UPDATES / 4))
  --keep-interval-updates 1 --max-epoch 1000 --seed 1)

# which big model each step-2 METHOD belongs to: its body (step 2) and its classifier (step 3)
body_of() { case "$1" in full|random|copy_only) echo "$PRIMARY" ;; minijoint) echo "$MINI" ;;
  full_roberta|random_roberta) echo "$PLAIN" ;; minipost) echo "$MINIPOST" ;;
  *) echo "unknown METHOD '$1': use full, minijoint, random, copy_only, minipost, full_roberta or random_roberta" >&2; return 2 ;; esac; }
big_model_of() { case "$1" in minipost|full_roberta|random_roberta) echo roberta ;; *) echo minijoint ;; esac; }
checkpoint_of() { case "$1" in roberta) echo "$PLAIN" ;; *) echo "$PRIMARY" ;; esac; }

# seconds of training that a fairseq-train log reports ("done training in X seconds")
train_seconds() { sed -n 's/.*done training in \([0-9.]*\) seconds.*/\1/p' "$1" | tail -n 1; }
