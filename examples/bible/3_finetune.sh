#!/usr/bin/env bash
# Step 3: fine-tune a big model on the source-language genre task with its
# token embeddings frozen. MODEL: minijoint (MiniJoint's primary model, default)
# or roberta (the plain RoBERTa, MiniPost's big model).
#   examples/bible/3_finetune.sh [SEED] [MODEL] [extra fairseq-train flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
seed="${1:-1}"; model="${2:-minijoint}"; shift $(( $# < 2 ? $# : 2 ))
body=$(checkpoint_of "$model") || exit 2
need "$body" "run the step-1 recipes first"
out="$RUNS/finetune/$model/seed$seed"
if [ -f "$out/DONE" ] && [ "$DRY_RUN" != 1 ]; then say "step 3/4: $out is done, skipped"; exit 0; fi
prepare_data "$SRC"
# --num-classes: the labels in the task's label/dict.txt (fairseq-preprocess pads it with madeupwordNNNN rows)
labels="$DATA/$SRC/cls/label/dict.txt"
if [ -f "$labels" ]; then
  num_classes=$(awk '$1 !~ /^madeupword[0-9]+$/ { n++ } END { print n + 0 }' "$labels")
  [ "$num_classes" -gt 0 ] || { echo "$labels lists no labels: prepare the task's data again (docs/data.md, docs/hf.md)" >&2; exit 2; }
elif [ "$DRY_RUN" = 1 ]; then num_classes=6  # not prepared yet: the Bible's six genres
else echo "no $labels: prepare the source-language task first" >&2; exit 2; fi
bpe_flags "$SRC"
fairseq_train "step 3/4 fine-tuning $model seed $seed" "$FT_UPDATES" "$out" "$DATA/$SRC/cls" \
  --task sentence_prediction_frozen_embeddings --criterion sentence_prediction --arch roberta \
  --body-checkpoint "$body" --num-classes "$num_classes" --init-token 0 --separator-token 2 \
  --max-positions "$TOKENS" --shorten-method truncate --batch-size "$FT_BSZ" \
  --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.1 --clip-norm 0 \
  --lr "$FT_LR" --lr-scheduler polynomial_decay --warmup-updates $((FT_UPDATES / 10)) \
  --total-num-update "$FT_UPDATES" --max-update "$FT_UPDATES" --max-epoch 1000 \
  --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric --seed "$seed" "${BPE_FLAGS[@]}" "$@"
# the recipes read checkpoint_best.pt only: the last one (1.8 GB with Adam's state at base size) goes
[ ! -f "$out/checkpoint_best.pt" ] || rm -f "$out/checkpoint_last.pt"
touch "$out/DONE"
say "step 3/4 done: $model seed $seed: $out/checkpoint_best.pt"
