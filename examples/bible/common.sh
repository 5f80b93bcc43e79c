# Shared part of the Bible recipes (sourced, not run). The settings and the method table are
# defined once, in settings.py (also read by benchmarks/ and table.py): every setting is an
# environment variable with a CPU-sized default; `.venv/bin/python -m minimodel_recipes.settings`
# lists them, `--methods` the step-2 methods. Scale up by exporting them.
#   DRY_RUN=1 examples/bible/<recipe>.sh ...   prints the fairseq-train command instead of running it
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::DeprecationWarning}"

# exports DATA, RUNS, SRC, LANGS, SEEDS, METHODS, ... (settings.py); sets PRIMARY, MINI, PLAIN,
# MINIPOST (the step-1 checkpoints), RESULTS_HEADER, and the method table as functions:
# body_of METHOD, big_model_of METHOD, checkpoint_of BIG_MODEL, step2_of METHOD ("UPDATES LR INIT WARMUP")
_settings=$(.venv/bin/python -m minimodel_recipes.settings --shell)
eval "$_settings"
unset _settings

export OMP_NUM_THREADS="$THREADS"
export MINIMODEL_DROPOUT_MASKS="$DROPOUT_MASKS"  # read by every fairseq-train (minimodel_fairseq/dropout.py)
# --data-buffer-size 0: fairseq otherwise prefetches batches in a daemon thread; when
# training stops, Python 3.11 kills that thread inside torch's C++ code at interpreter
# exit, and the process can abort ("terminate called without an active exception",
# a non-zero exit after a finished run). With --num-workers 0 the buffer buys nothing.
# LAUNCH (a command prefix, unquoted: split into words) goes before each fairseq-train, minimodel
# and python -m minimodel_fairseq... run
FAIRSEQ_TRAIN=($LAUNCH .venv/bin/fairseq-train --user-dir minimodel_fairseq --cpu --num-workers 0 --data-buffer-size 0
  --log-format "$LOG_FORMAT" --log-interval 25 --no-epoch-checkpoints "${PRECISION_FLAGS[@]}")
MINIMODEL="${LAUNCH:+$LAUNCH }.venv/bin/minimodel"

# the pretraining flags shared by MiniJoint and the plain RoBERTa (same size, data, schedule)
PRETRAIN_FLAGS=(--tokens-per-sample "$TOKENS" --batch-size "$PRETRAIN_BSZ"
  --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.01 --clip-norm 0
  --lr "$PRETRAIN_LR" --lr-scheduler polynomial_decay --warmup-updates $((PRETRAIN_UPDATES / 10))
  --total-num-update "$PRETRAIN_UPDATES" --max-update "$PRETRAIN_UPDATES"
  --validate-interval-updates $((PRETRAIN_UPDATES / 4)) --save-interval-updates $((PRETRAIN_UPDATES / 4))
  --keep-interval-updates 1 --max-epoch 1000 --seed 1)
# active forgetting (minimodel_fairseq/forgetting.py), for MiniJoint and the plain RoBERTa alike
FORGET_FLAGS=()
[ "$FORGET_EVERY" = 0 ] || FORGET_FLAGS=(--forget-embeddings-every "$FORGET_EVERY")
[ "$FORGET_EVERY" = 0 ] || [ "$FORGET_LR" = run ] || FORGET_FLAGS+=(--forget-lr-schedule "$FORGET_LR")
# step 2 on a leading share of the target's text (new_language_mlm's --train-fraction)
FRACTION_FLAGS=()
[ "$ADAPT_FRACTION" = 1 ] || FRACTION_FLAGS=(--train-fraction "$ADAPT_FRACTION")

# the tokenizer flags for text in LANG: fairseq stores them in the checkpoint, so that
# RobertaModel.from_pretrained encodes raw text without being told (absolute: from any directory).
# SRC_HF_TOKENIZER (examples/hf/common.sh): SRC was encoded with an imported model's own tokenizer.
bpe_flags() {
  local d="$DATA"; [[ "$d" == /* ]] || d="$ROOT/$d"
  if [ "$1" = "$SRC" ] && [ -n "${SRC_HF_TOKENIZER:-}" ]; then
    BPE_FLAGS=(--bpe hf_tokenizer --hf-tokenizer "$SRC_HF_TOKENIZER")
  else
    BPE_FLAGS=(--bpe sentencepiece --sentencepiece-model "$d/$1/spm.model")
  fi
}

# prepare_data LANG[,LANG...] [prepare.sh flags]: prepare.sh, quiet about languages that are ready
# (not in a dry run)
prepare_data() {
  [ "$DRY_RUN" = 1 ] && return 0
  local langs="$1"; shift
  # --line-buffered: grep writing to a pipe would hold preparation's progress lines back until it ends
  { LANGS="$langs" bash examples/bible/prepare.sh "$@" 2>&1 1>&3 | { grep --line-buffered -v ': skipped, ' || true; } >&2; } 3>&1
}

# need FILE WHAT: stop with a message unless FILE exists (not in a dry run: nothing is read there)
need() { [ "$DRY_RUN" = 1 ] || [ -f "$1" ] || { echo "no $1: $2" >&2; exit 2; }; }

# say MSG: a progress line (run_all.sh sets PROGRESS_PREFIX to its job counter)
say() { echo "${PROGRESS_PREFIX:-}$*"; }

# print a command, shell-quoted, on one line
print_command() { printf '%q' "$1"; shift; [ $# = 0 ] || printf ' %q' "$@"; echo; }

# fairseq_train LABEL UPDATES OUT ARGS...: one fairseq-train run saving to OUT, its full log in
# OUT/train.log and tensorboard logs in OUT/tb. Prints a start line, a progress line every
# PROGRESS_EVERY seconds (progress.py reads the log; training is not slowed), and the log's tail
# on failure. DRY_RUN=1: prints the command and ends the recipe.
fairseq_train() {
  local label="$1" total="$2" out="$3"; shift 3
  local cmd=("${FAIRSEQ_TRAIN[@]}" --save-dir "$out" --tensorboard-logdir "$out/tb" "$@")
  if [ "$DRY_RUN" = 1 ]; then print_command "${cmd[@]}"; exit 0; fi
  mkdir -p "$out"
  say "$label: $total update$([ "$total" = 1 ] || echo s) (full log $out/train.log)"
  .venv/bin/python -m minimodel_recipes.progress "$out/train.log" --label "${PROGRESS_PREFIX:-}$label" \
    --total "$total" --every "$PROGRESS_EVERY" &
  local follower=$! rc=0
  "${cmd[@]}" > "$out/train.log" 2>&1 || rc=$?
  kill "$follower" 2>/dev/null || true
  wait "$follower" 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    tail -n 30 "$out/train.log" >&2
    echo "$label failed (exit $rc); full log: $out/train.log" >&2
    exit 1
  fi
}

# run_minimodel ARGS...: the plugin's command line tool (DRY_RUN=1: print it instead)
run_minimodel() { if [ "$DRY_RUN" = 1 ]; then print_command $MINIMODEL "$@"; else $MINIMODEL "$@"; fi; }

# results_row LANG METHOD SEED ACCURACY N MAJORITY STEP2_SECONDS: add to RUNS/results.tsv, or to
# RESULTS_TSV if set (run_langs.sh: one file per result) (settings.RESULTS_COLUMNS; the header is
# written with the first row). A row of the same LANG METHOD SEED is replaced, so scoring again
# (a rerun, or examples/hf/demo.sh after run_all.sh) does not count one run twice.
results_row() {
  local file="${RESULTS_TSV:-$RUNS/results.tsv}"
  if [ ! -s "$file" ]; then
    mkdir -p "$RUNS"
    printf '%s\n' "$RESULTS_HEADER" > "$file"
  elif [ "$(head -n 1 "$file")" != "$RESULTS_HEADER" ]; then
    echo "$file has no header line (an older version of the recipes wrote it): delete it or rerun run_all.sh" >&2
    exit 2
  fi
  local tmp; tmp=$(mktemp "$file.XXXXXX")
  awk -F '\t' -v l="$1" -v m="$2" -v s="$3" 'NR == 1 || !($1 == l && $2 == m && $3 == s)' "$file" > "$tmp"
  (IFS=$'\t'; printf '%s\n' "$*") >> "$tmp"
  mv "$tmp" "$file"
}

# seconds of training that a fairseq-train log reports ("done training in X seconds")
train_seconds() { sed -n 's/.*done training in \([0-9.]*\) seconds.*/\1/p' "$1" | tail -n 1; }
