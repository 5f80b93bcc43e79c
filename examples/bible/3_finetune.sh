#!/usr/bin/env bash
# Step 3: fine-tune the full (primary) model on the source-language genre task
# with its token embeddings frozen.
#   examples/bible/3_finetune.sh [SEED] [extra fairseq-train flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
seed="${1:-1}"; shift $(( $# < 1 ? $# : 1 ))
[ -f "$PRIMARY" ] || { echo "no $PRIMARY: run examples/bible/1_pretrain_minijoint.sh first" >&2; exit 2; }
out="$RUNS/finetune/seed$seed"
if [ -f "$out/DONE" ]; then echo "step 3: $out is done, skipped"; exit 0; fi
mkdir -p "$out"
"${FAIRSEQ_TRAIN[@]}" "$DATA/$SRC/cls" \
  --task sentence_prediction_frozen_embeddings --criterion sentence_prediction --arch roberta \
  --body-checkpoint "$PRIMARY" --num-classes 6 --init-token 0 --separator-token 2 \
  --max-positions "$TOKENS" --shorten-method truncate --batch-size "$FT_BSZ" \
  --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.1 --clip-norm 0 \
  --lr "$FT_LR" --lr-scheduler polynomial_decay --warmup-updates $((FT_UPDATES / 10)) \
  --total-num-update "$FT_UPDATES" --max-update "$FT_UPDATES" --max-epoch 1000 \
  --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric --seed "$seed" \
  --save-dir "$out" "$@" > "$out/train.log" 2>&1 || { tail -n 30 "$out/train.log" >&2; exit 1; }
touch "$out/DONE"
echo "step 3 done: seed $seed: $out/checkpoint_best.pt"
