#!/usr/bin/env bash
# Step 1b (MiniPost): truncate the plain RoBERTa to its bottom K layers, add M
# new layers (copies of layers K+1..K+M) and train only those and the LM head
# on the source language, so the mini-model stays aligned with the big model.
#   MINIPOST_K=2 MINIPOST_M=1 MINIPOST_UPDATES=200 [MINIPOST_HEAD_INIT=copy|random] \
#     examples/bible/1b_minipost.sh [extra flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need "$PLAIN" "run examples/bible/1_pretrain_roberta.sh first"
out="$RUNS/pretrain/minipost"
# done once: a rerun would resume at the last update and train one more at lr 0 (fairseq),
# adding its start-up time to the recorded one-off cost
if [ -f "$out/train_seconds" ] && [ "$DRY_RUN" != 1 ]; then
  say "step 1b: $out is done, skipped (delete $out/train_seconds to retrain)"; exit 0
fi
bpe_flags "$SRC"
fairseq_train "step 1b MiniPost" "$MINIPOST_UPDATES" "$out" "$DATA/$SRC/mlm" \
  --task minipost_mlm --criterion masked_lm --arch minipost_roberta --source-checkpoint "$PLAIN" \
  --mini-layers "$MINIPOST_K" --mini-new-layers "$MINIPOST_M" --new-layer-init copy --mini-head-init "$MINIPOST_HEAD_INIT" \
  --tokens-per-sample "$TOKENS" --batch-size "$PRETRAIN_BSZ" \
  --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0 --lr "$PRETRAIN_LR" \
  --lr-scheduler polynomial_decay --warmup-updates $((MINIPOST_UPDATES / 10)) \
  --total-num-update "$MINIPOST_UPDATES" --max-update "$MINIPOST_UPDATES" --max-epoch 1000 \
  --validate-interval-updates "$MINIPOST_UPDATES" --max-valid-steps "$MINIPOST_VALID_STEPS" --seed 1 \
  "${BPE_FLAGS[@]}" "$@"
# step 2 reads checkpoint_last.pt (the settings' MINIPOST): its best-loss copy would be a second one
[ ! -f "$out/checkpoint_last.pt" ] || rm -f "$out/checkpoint_best.pt"
train_seconds "$out/train.log" > "$out/train_seconds"
say "step 1b done: MiniPost mini-model $MINIPOST ($(cat "$out/train_seconds") s)"
