#!/usr/bin/env bash
# The whole method on the Bible genre task: English -> each of $LANGS, over
# $SEEDS: the standard recipe (full), MiniJoint, and two controls with untrained target
# embeddings: random init (random) and the shared init's copied rows alone (copy_only).
# METHODS picks the set: add minipost for MiniPost (it pretrains a plain RoBERTa too,
# about as long again), full_roberta / random_roberta for that RoBERTa's own baseline
# and control.
#   examples/bible/run_all.sh              # CPU default, one seed: about 50 min on 2 cores
#   SEEDS="1 2" examples/bible/run_all.sh    # docs/results.md's table: 78 min measured
#   PRETRAIN_UPDATES=4000 ADAPT_UPDATES=1000 SEEDS="1 2 3" examples/bible/run_all.sh
# Prints the results table and writes it to $RUNS/results.md.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
start=$(date +%s)
LANGS="$SRC,${LANGS// /,}" bash examples/bible/prepare.sh
METHODS="${METHODS:-full minijoint random copy_only}"
models=$(for m in $METHODS; do big_model_of "$m"; done | sort -u)
bash examples/bible/1_pretrain_minijoint.sh > /dev/null
echo "step 1 done: MiniJoint $PRIMARY, mini-model $MINI"
if [[ "$models" == *roberta* ]]; then
  bash examples/bible/1_pretrain_roberta.sh > /dev/null
  echo "step 1 done: plain RoBERTa $PLAIN"
  bash examples/bible/1b_minipost.sh
fi
: > "$RUNS/results.tsv"
for model in $models; do
  for seed in $SEEDS; do
    bash examples/bible/3_finetune.sh "$seed" "$model"
    row=$($MINIMODEL evaluate --classifier "$RUNS/finetune/$model/seed$seed/checkpoint_best.pt" --data "$DATA/$SRC/cls" --lang "$SRC" | tail -n 1)
    read -r _ acc n majority _ <<<"$row"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$SRC" "in-language ($model)" "$seed" "$acc" "$n" "$majority" NA >> "$RUNS/results.tsv"
  done
done
for lang in $LANGS; do
  for seed in $SEEDS; do
    for method in $METHODS; do
      bash examples/bible/2_adapt_language.sh "$lang" "$method" "$seed"
      bash examples/bible/4_transfer.sh "$lang" "$method" "$seed"
    done
  done
done
.venv/bin/python examples/bible/table.py "$RUNS/results.tsv" | tee "$RUNS/results.md"
echo "run_all: $(( $(date +%s) - start )) s in all; table in $RUNS/results.md"
