#!/usr/bin/env bash
# Step 1 (for MiniPost, and the plain reference): an ordinary RoBERTa, stock
# fairseq `--task masked_lm`, same size, data and schedule as MiniJoint's model
# (roberta_small is minijoint_roberta_small without the secondary head).
#   PLAIN_ARCH=roberta_small examples/bible/1_pretrain_roberta.sh [extra fairseq-train flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LANGS="$SRC" bash examples/bible/prepare.sh
out="$RUNS/pretrain/roberta"
if [ -f "$out/DONE" ]; then echo "step 1: $out is done, skipped (delete $out/DONE to retrain)"; exit 0; fi
mkdir -p "$out"
"${FAIRSEQ_TRAIN[@]}" "$DATA/$SRC/mlm" \
  --task masked_lm --criterion masked_lm --arch "${PLAIN_ARCH:-roberta_small}" \
  $(echo "$MODEL_FLAGS" | sed 's/--mini-layer [0-9]*//') \
  "${PRETRAIN_FLAGS[@]}" --save-dir "$out" "$@" 2>&1 | tee "$out/train.log"
train_seconds "$out/train.log" > "$out/train_seconds"
touch "$out/DONE"
echo "step 1 done: plain RoBERTa $PLAIN"
