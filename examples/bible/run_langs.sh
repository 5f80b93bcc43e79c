#!/usr/bin/env bash
# Many languages in one command: adapt the one pretrained model (MiniJoint: its full model and its
# mini-model) to every language of $LANGS, over $SEEDS and $METHODS (settings.py), with the
# controls, and end with one table: per language the anchored rows, the accuracy of every method,
# and whether it transfers; then the step-2 compute of each method summed over all languages.
#   LANGS="de fr es it pt ru ar zh ja hi" TRANSLATIONS="zh=c ja=j hi=i" SEEDS="1 2" \
#     examples/bible/run_langs.sh
#   examples/bible/run_langs.sh --db PATH ...   # extra arguments go to prepare.sh (docs/data.md)
# TRANSLATIONS: translation codes for languages without default public-domain translations
# (LANG=CODE[,CODE], space-separated; docs/data.md lists the codes). A language prepared once
# (DATA/<lang>/DONE) is used as it was prepared, whatever its codes or --raw-text; a --raw-text
# corpus has no labelled test set, so step 4 cannot score it: adapt it with 2_adapt_language.sh.
# Finished work is skipped: step 1 and step 3 by their DONE files, step 2 by its train_seconds,
# each (language, method, seed) result by its row in RUNS/langs/rows/; an interrupted run
# resumes where it stopped (a killed step-2 run continues from its checkpoint_last.pt).
# Writes RUNS/langs/results.tsv (every row) and RUNS/langs/results.md (the table).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
TRANSLATIONS="${TRANSLATIONS:-}"
start=$(date +%s)
elapsed() { local s=$(( $(date +%s) - start )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
out="$RUNS/langs"
models=$(for m in $METHODS; do big_model_of "$m"; done | sort -u)
n_jobs=$(( $(wc -w <<<"$LANGS") * $(wc -w <<<"$SEEDS") * $(wc -w <<<"$METHODS") ))
prep=("$@")
for t in $TRANSLATIONS; do
  [[ " $LANGS " == *" ${t%%=*} "* ]] || { echo "TRANSLATIONS names ${t%%=*}, which is not in LANGS ($LANGS)" >&2; exit 2; }
done
[ -z "$TRANSLATIONS" ] || prep+=(--translations $TRANSLATIONS)

if [ "$DRY_RUN" != 1 ]; then
  echo "run_langs: $SRC -> $LANGS; methods $METHODS; seeds $SEEDS; $n_jobs step-2 runs"
  prepare_data "$SRC,${LANGS// /,}" "${prep[@]}"
  echo "run_langs: data ready in $DATA ($SRC $LANGS)"
fi
bash examples/bible/1_pretrain_minijoint.sh
if [[ "$models" == *roberta* ]]; then
  bash examples/bible/1_pretrain_roberta.sh
  bash examples/bible/1b_minipost.sh
fi
[ "$DRY_RUN" = 1 ] || mkdir -p "$out/rows"
# one_row FILE COMMAND...: run COMMAND with results_row writing to FILE.tmp, then rename it into
# place; an existing FILE means done (a killed run leaves at most a FILE.tmp, redone next time)
one_row() {
  local file="$1"; shift
  [ -s "$file" ] && return 0
  rm -f "$file.tmp"
  RESULTS_TSV="$file.tmp" "$@"
  [ "$DRY_RUN" = 1 ] || mv "$file.tmp" "$file"
}
in_language() {  # in_language MODEL SEED: the step-3 classifier scored on the source language
  local evaluate=(evaluate --classifier "$RUNS/finetune/$1/seed$2/checkpoint_best.pt" --data "$DATA/$SRC/cls" --lang "$SRC")
  if [ "$DRY_RUN" = 1 ]; then run_minimodel "${evaluate[@]}"; return 0; fi
  read -r _ acc n majority _ <<<"$($MINIMODEL "${evaluate[@]}" | tail -n 1)"
  results_row "$SRC" "in-language ($1)" "$2" "$acc" "$n" "$majority" NA
}
for model in $models; do
  for seed in $SEEDS; do
    bash examples/bible/3_finetune.sh "$seed" "$model"
    one_row "$out/rows/$SRC.in-language_$model.seed$seed.tsv" in_language "$model" "$seed"
  done
done
job=0
for lang in $LANGS; do
  for seed in $SEEDS; do
    for method in $METHODS; do
      job=$((job + 1)); export PROGRESS_PREFIX="[$job/$n_jobs] "
      row="$out/rows/$lang.$method.seed$seed.tsv"
      if [ -s "$row" ]; then say "$lang $method seed $seed: done, skipped"; continue; fi
      bash examples/bible/2_adapt_language.sh "$lang" "$method" "$seed"
      one_row "$row" bash examples/bible/4_transfer.sh "$lang" "$method" "$seed"
    done
  done
done
unset PROGRESS_PREFIX
[ "$DRY_RUN" != 1 ] || exit 0
# every row of this run's languages, seeds and methods, in that order, under one header
{ printf '%s\n' "$RESULTS_HEADER"
  for model in $models; do for seed in $SEEDS; do tail -n +2 "$out/rows/$SRC.in-language_$model.seed$seed.tsv"; done; done
  for lang in $LANGS; do for seed in $SEEDS; do for method in $METHODS; do
    tail -n +2 "$out/rows/$lang.$method.seed$seed.tsv"
  done; done; done; } > "$out/results.tsv.tmp"
mv "$out/results.tsv.tmp" "$out/results.tsv"
.venv/bin/python -m minimodel_recipes.langs_table "$out/results.tsv" --runs "$RUNS" > "$out/results.md.tmp"
mv "$out/results.md.tmp" "$out/results.md"
cat "$out/results.md"
echo
echo "run_langs: done in $(elapsed). Table: $out/results.md (rows: $out/results.tsv)"
