#!/usr/bin/env bash
# The whole method on your own files: a Hugging Face model, plain text in the target language, a
# labelled source-language task (single texts or sentence pairs) and optionally a target test set.
# Import (a), data (b), step 3 (c), step 2 by the standard recipe and by MiniPost (d), swap and score
# (e), export of each target classifier and adapted masked LM (f), and a check that each exported
# tokenizer encodes pairs as fairseq does (<s> a </s></s> b </s>). Finished steps are skipped.
#   examples/own/run.sh HF_DIR --lang LANG --target-text FILE --train FILE --valid FILE [--test FILE]
#                              [--target-test FILE] [--seed N]
# Task files: .tsv (header text,label or text_a,text_b,label) or .jsonl (docs/hf.md, "Your own files").
# Run name: OWN_NAME (default HF_DIR's base name); runs in OWN_RUNS/NAME (runs/own), data in
# OWN_DATA/NAME (data/own); sizes and DRY_RUN=1 as in examples/bible (settings.py).
[ $# -ge 1 ] && [ -d "$1" ] || { echo "usage: examples/own/run.sh HF_DIR --lang LANG --target-text FILE --train FILE --valid FILE [--test FILE] [--target-test FILE] [--seed N]: HF_DIR must be a Hugging Face model directory" >&2; exit 2; }
hf_dir="$(cd "$1" && pwd)"; shift
name="${OWN_NAME:-$(basename "$hf_dir")}"
own_script="examples/own/run.sh HF_DIR"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$name" "$@"
start=$(date +%s)
options=(--lang "$lang" --target-text "$target_text" --train "$train" --valid "$valid" ${test:+--test "$test"}
         ${target_test:+--target-test "$target_test"})
bash examples/hf/1_import.sh "$hf_dir" "$name"
bash examples/own/prepare.sh "$name" "${options[@]}"
bash examples/hf/3_finetune.sh "$name" "$seed"
classifier="$RUNS/finetune/roberta/seed$seed/checkpoint_best.pt"
src_split=$([ -n "$test" ] && echo test || echo valid)
# the imported tokenizer, as the source task was encoded, against fairseq's hub on the step-3 classifier
run_own check-pairs --tokenizer "$IMPORT/tokenizer" --classifier "$classifier" --data "$DATA/$SRC/cls" --split "$src_split"
for method in full_roberta minipost; do
  bash examples/hf/2_adapt_language.sh "$name" "$lang" "$method" "$seed"
  bash examples/own/4_transfer.sh "$name" "$lang" "$method" "$seed"
  bash examples/hf/5_export.sh "$name" "$lang" "$method" "$seed"  # export-hf of the classifier, export-mlm
  if [ -n "$target_test" ]; then  # the exported tokenizer (built from LANG's sentencepiece model) against fairseq's hub
    run_own check-pairs --tokenizer "$RUNS/export/$lang/$method/seed$seed" \
      --classifier "$RUNS/transfer/$lang/$method/seed$seed.pt" --data "$DATA/$lang/cls"
  fi
done
[ "$DRY_RUN" != 1 ] || exit 0
row=$(in_language_row "$classifier" "$src_split")
read -r _ in_lang _ <<<"$row"
echo
echo "Your own files, $hf_dir ($name), seed $seed: accuracy"
printf '  %-44s %s\n' "$SRC, in-language (step 3, $src_split split)" "$in_lang"
if [ -n "$target_test" ]; then
  printf '  %-44s %s\n' \
    "$lang zero-shot, standard recipe (full_roberta)" "$(accuracy_of "$RUNS/results.tsv" "$lang" full_roberta "$seed")" \
    "$lang zero-shot, MiniPost (K=$MINIPOST_K, M=$MINIPOST_M)" "$(accuracy_of "$RUNS/results.tsv" "$lang" minipost "$seed")"
else
  echo "  $lang zero-shot: no target test set was given (--target-test FILE scores it)"
fi
echo "  exported: $RUNS/export/$lang/{full_roberta,minipost}/seed$seed (classifiers) and .../seed${seed}_mlm (masked LMs)" \
  "($(( $(date +%s) - start )) s)"
