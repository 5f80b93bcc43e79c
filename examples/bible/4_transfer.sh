#!/usr/bin/env bash
# Step 4: swap LANG's step-2 embeddings into the step-3 classifier and score it
# zero-shot on LANG's test chapters. Appends a row to $RUNS/results.tsv.
#   examples/bible/4_transfer.sh LANG METHOD [SEED]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
lang="$1"; method="$2"; seed="${3:-1}"
adapt="$RUNS/adapt/$lang/$method/seed$seed"
classifier="$RUNS/finetune/$(big_model_of "$method")/seed$seed/checkpoint_best.pt"
out="$RUNS/transfer/$lang/$method/seed$seed.pt"
$MINIMODEL swap-embeddings --classifier "$classifier" --embeddings "$adapt/checkpoint_last.pt" --out "$out" --force
row=$($MINIMODEL evaluate --classifier "$out" --data "$DATA/$lang/cls" --lang "$lang" | tail -n 1)
read -r _ acc n majority _ <<<"$row"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$lang" "$method" "$seed" "$acc" "$n" "$majority" \
  "$(cat "$adapt/train_seconds" 2>/dev/null || echo NA)" >> "$RUNS/results.tsv"
echo "step 4: $lang $method seed $seed: zero-shot accuracy $acc (n=$n, majority $majority)"
