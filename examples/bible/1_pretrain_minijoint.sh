#!/usr/bin/env bash
# Step 1 (MiniJoint): pretrain one RoBERTa with a second MLM head at layer K on
# the source language. Its primary model is the "full" model of the standard
# recipe; `minimodel extract-mini` cuts out the mini-model.
#   PRETRAIN_UPDATES=1000 examples/bible/1_pretrain_minijoint.sh [extra fairseq-train flags]
# Default: minijoint_roberta_small (8 x 256, K=2), PRETRAIN_UPDATES (settings.py) updates of
# 16 x 128 tokens, about 0.65 s each on 2 idle CPU cores. Scale with PRETRAIN_UPDATES / ARCH / PRETRAIN_BSZ.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out="$RUNS/pretrain/minijoint"
if [ -f "$out/DONE" ] && [ "$DRY_RUN" != 1 ]; then say "step 1/4: $out is done, skipped (delete $out/DONE to retrain)"; exit 0; fi
prepare_data "$SRC"
bpe_flags "$SRC"
fairseq_train "step 1/4 pretraining MiniJoint" "$PRETRAIN_UPDATES" "$out" "$DATA/$SRC/mlm" \
  --task minijoint_mlm --criterion minijoint_mlm --arch "$ARCH" $MODEL_FLAGS \
  "${PRETRAIN_FLAGS[@]}" "${FORGET_FLAGS[@]}" "${BPE_FLAGS[@]}" "$@"
train_seconds "$out/train.log" > "$out/train_seconds"
if [ ! -f "$MINI" ] || [ "$PRIMARY" -nt "$MINI" ]; then
  $MINIMODEL extract-mini "$PRIMARY" --out "$MINI" --force > /dev/null
fi
touch "$out/DONE"
say "step 1/4 done: MiniJoint's full (primary) model $PRIMARY, its mini-model $MINI ($(cat "$out/train_seconds") s)"
