#!/usr/bin/env bash
# Step 1 (for MiniPost, and the plain reference): an ordinary RoBERTa, stock
# fairseq `--task masked_lm`, same size, data and schedule as MiniJoint's model
# (roberta_small is minijoint_roberta_small without the secondary head).
#   PLAIN_ARCH=roberta_small examples/bible/1_pretrain_roberta.sh [extra fairseq-train flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out="$RUNS/pretrain/roberta"
if [ -f "$out/DONE" ] && [ "$DRY_RUN" != 1 ]; then say "step 1/4: $out is done, skipped (delete $out/DONE to retrain)"; exit 0; fi
prepare_data "$SRC"
bpe_flags "$SRC"
fairseq_train "step 1/4 pretraining plain RoBERTa" "$PRETRAIN_UPDATES" "$out" "$DATA/$SRC/mlm" \
  --task "$([ "$FORGET_EVERY" = 0 ] && echo masked_lm || echo forgetting_mlm)" --criterion masked_lm \
  --arch "$PLAIN_ARCH" $(echo "$MODEL_FLAGS" | sed 's/--mini-layer [0-9]*//') \
  "${PRETRAIN_FLAGS[@]}" "${FORGET_FLAGS[@]}" "${BPE_FLAGS[@]}" "$@"
train_seconds "$out/train.log" > "$out/train_seconds"
touch "$out/DONE"
say "step 1/4 done: plain RoBERTa $PLAIN ($(cat "$out/train_seconds") s)"
