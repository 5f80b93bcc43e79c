#!/usr/bin/env bash
# The whole method on the Bible genre task: English -> each of $LANGS, standard
# recipe (full) vs MiniJoint, over $SEEDS, plus the random-embedding control.
#   examples/bible/run_all.sh              # CPU default, about 40 minutes on 2 cores
#   PRETRAIN_UPDATES=4000 ADAPT_UPDATES=1000 SEEDS="1 2 3" examples/bible/run_all.sh
# Prints the results table and writes it to $RUNS/results.md.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
start=$(date +%s)
LANGS="$SRC,${LANGS// /,}" bash examples/bible/prepare.sh
bash examples/bible/1_pretrain_minijoint.sh > /dev/null
echo "step 1 done: $PRIMARY, $MINI"
: > "$RUNS/results.tsv"
for seed in $SEEDS; do
  bash examples/bible/3_finetune.sh "$seed"
  row=$($MINIMODEL evaluate --classifier "$RUNS/finetune/seed$seed/checkpoint_best.pt" --data "$DATA/$SRC/cls" --lang "$SRC" | tail -n 1)
  read -r _ acc n majority _ <<<"$row"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$SRC" in-language "$seed" "$acc" "$n" "$majority" NA >> "$RUNS/results.tsv"
done
for lang in $LANGS; do
  for seed in $SEEDS; do
    for method in full minijoint random; do
      bash examples/bible/2_adapt_language.sh "$lang" "$method" "$seed"
      bash examples/bible/4_transfer.sh "$lang" "$method" "$seed"
    done
  done
done
.venv/bin/python examples/bible/table.py "$RUNS/results.tsv" | tee "$RUNS/results.md"
echo "run_all: $(( $(date +%s) - start )) s in all; table in $RUNS/results.md"
