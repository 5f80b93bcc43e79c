#!/usr/bin/env bash
# Step 4: swap LANG's step-2 embeddings into the step-3 classifier and score it
# zero-shot on LANG's test chapters. Appends a row to $RUNS/results.tsv (header: settings.py);
# each verse's prediction goes to $RUNS/transfer/LANG/METHOD/seedSEED.predictions.tsv (paired.py).
#   examples/bible/4_transfer.sh LANG METHOD [SEED]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 2 ] || { echo "usage: examples/bible/4_transfer.sh LANG METHOD [SEED]" >&2; exit 2; }
lang="$1"; method="$2"; seed="${3:-1}"
adapt="$RUNS/adapt/$lang/$method/seed$seed"
big=$(big_model_of "$method") || exit 2
classifier="$RUNS/finetune/$big/seed$seed/checkpoint_best.pt"
out="$RUNS/transfer/$lang/$method/seed$seed.pt"
swap=(swap-embeddings --classifier "$classifier" --embeddings "$adapt/checkpoint_last.pt" --out "$out" --force)
evaluate=(evaluate --classifier "$out" --data "$DATA/$lang/cls" --lang "$lang" --predictions "${out%.pt}.predictions.tsv")
if [ "$DRY_RUN" = 1 ]; then run_minimodel "${swap[@]}"; run_minimodel "${evaluate[@]}"; exit 0; fi
# scored already from these very files (a rerun): at base size a scoring pass takes minutes
preds="${out%.pt}.predictions.tsv"
if [ "$preds" -nt "$classifier" ] && [ "$preds" -nt "$adapt/checkpoint_last.pt" ] && [ "$preds" -nt "$out" ] \
   && [ "$preds" -nt "$DATA/$lang/cls/input0/test.bin" ] && grep -q "^$lang	$method	$seed	" "${RESULTS_TSV:-$RUNS/results.tsv}" 2>/dev/null; then
  say "step 4/4 $lang $method seed $seed: scored already ($preds), skipped"; exit 0
fi
$MINIMODEL "${swap[@]}" > /dev/null
row=$($MINIMODEL "${evaluate[@]}" | tail -n 1)
read -r _ acc n majority _ <<<"$row"
results_row "$lang" "$method" "$seed" "$acc" "$n" "$majority" "$(cat "$adapt/train_seconds" 2>/dev/null || echo NA)"
say "step 4/4 $lang $method seed $seed: zero-shot accuracy $acc (n=$n, majority $majority)"
