#!/usr/bin/env bash
# The whole method from a Hugging Face directory, source language -> LANG, one seed: import (a),
# data with the imported tokenizer (b), step 3 (c), step 2 by the standard recipe and by MiniPost
# (d), swap and score (e), export of both LANG classifiers and adapted masked LMs as Hugging Face
# directories (f).
# Prints the accuracies; finished steps are skipped on a rerun.
#   examples/hf/run.sh HF_DIR LANG [SEED]            (HF_NAME=... names the run, default HF_DIR's base name)
#   MINIPOST_K=4 MINIPOST_M=1 examples/hf/run.sh ~/models/xlm-roberta-base de     (docs/hf.md)
[ $# -ge 2 ] && [ -d "$1" ] || { echo "usage: examples/hf/run.sh HF_DIR LANG [SEED]: HF_DIR must be a Hugging Face model directory" >&2; exit 2; }
hf_dir="$(cd "$1" && pwd)"; lang="$2"; seed="${3:-1}"
name="${HF_NAME:-$(basename "$hf_dir")}"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$name"
start=$(date +%s)
bash examples/hf/1_import.sh "$hf_dir" "$name"
bash examples/hf/prepare.sh "$name" "$lang"
bash examples/hf/3_finetune.sh "$name" "$seed"
for method in full_roberta minipost; do
  bash examples/hf/2_adapt_language.sh "$name" "$lang" "$method" "$seed"
  bash examples/hf/4_transfer.sh "$name" "$lang" "$method" "$seed"
  bash examples/hf/5_export.sh "$name" "$lang" "$method" "$seed"
done
[ "$DRY_RUN" != 1 ] || exit 0
row=$(in_language_row "$RUNS/finetune/roberta/seed$seed/checkpoint_best.pt" test)
read -r _ in_lang _ <<<"$row"
echo
echo "Hugging Face recipe, $hf_dir ($name), seed $seed: genre accuracy on the test chapters"
printf '  %-44s %s\n' "$SRC, in-language (step 3)" "$in_lang" \
  "$lang zero-shot, standard recipe (full_roberta)" "$(accuracy_of "$RUNS/results.tsv" "$lang" full_roberta "$seed")" \
  "$lang zero-shot, MiniPost (K=$MINIPOST_K, M=$MINIPOST_M)" "$(accuracy_of "$RUNS/results.tsv" "$lang" minipost "$seed")"
echo "  exported: $RUNS/export/$lang/{full_roberta,minipost}/seed$seed (classifiers) and .../seed${seed}_mlm (masked LMs)" \
  "($(( $(date +%s) - start )) s)"
