# Shared settings of the Hugging Face recipe (sourced with the run's NAME as $1, not run).
# A model imported from a Hugging Face directory takes the place of the Bible recipes' plain
# RoBERTa (MiniPost's big model): the recipes in examples/bible run unchanged over it, with
# every setting of examples/bible/common.sh, in a run directory of its own:
#   RUNS=$HF_RUNS/NAME    import/ (minimodel import-hf's output), pretrain/roberta/checkpoint_last.pt
#                         (a link to import/model.pt), pretrain/minipost/, finetune/roberta/, adapt/,
#                         transfer/, export/, results.tsv
#   DATA=$HF_DATA/NAME    $SRC/ tokenized with the imported tokenizer (prepare.sh --hf-tokenizer), and
#                         one link per target language to $TARGET_DATA/<lang> (sentencepiece, as always)
# Methods (examples/bible/2_adapt_language.sh's names): full_roberta = the standard recipe over the
# imported model, minipost = MiniPost's mini-model of it, random_roberta = the untrained control.
# Settings besides those of examples/bible/common.sh:
#   HF_RUNS=runs/hf  HF_DATA=data/hf  TARGET_DATA (default: DATA, i.e. data/bible)
#   PREPARE_FLAGS    extra flags for preparing $SRC (python -m minimodel_fairseq.data.bible), e.g.
#                    "--workers 4" or, in the tests, "--db tests.db --translations en=4"
set -euo pipefail
hf_name="${1:?give the run NAME (the directory under HF_RUNS that examples/hf/1_import.sh made)}"
[[ "$hf_name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || { echo "bad run NAME '$hf_name': use letters, digits, '.', '-', '_'" >&2; exit 2; }
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export HF_RUNS="${HF_RUNS:-runs/hf}" HF_DATA="${HF_DATA:-data/hf}" PREPARE_FLAGS="${PREPARE_FLAGS:-}"
export TARGET_DATA="${TARGET_DATA:-${DATA:-data/bible}}"  # exported before DATA changes below
export RUNS="$HF_RUNS/$hf_name" DATA="$HF_DATA/$hf_name"
source examples/bible/common.sh
IMPORT="$RUNS/import"   # model.pt, dict.txt, tokenizer/, import.json
export SRC_HF_TOKENIZER="$ROOT/$IMPORT"  # SRC's checkpoints record --bpe hf_tokenizer (bpe_flags)
[[ "$IMPORT" != /* ]] || SRC_HF_TOKENIZER="$IMPORT"
need_import() { need "$IMPORT/import.json" "run examples/hf/1_import.sh HF_DIR $hf_name first"; need "$PLAIN" "run examples/hf/1_import.sh HF_DIR $hf_name first"; }
hf_method() { case "$1" in full_roberta|minipost|random_roberta) ;; *) echo "METHOD '$1': the Hugging Face recipe's methods are full_roberta (the standard recipe over the imported model), minipost and random_roberta (control)" >&2; exit 2 ;; esac; }
# accuracy_of RESULTS_TSV LANG METHOD SEED: the accuracy of the last matching row (columns by the header)
accuracy_of() { awk -F'\t' -v l="$2" -v m="$3" -v s="$4" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  $c["lang"] == l && $c["method"] == m && $c["seed"] == s { a = $c["accuracy"] } END { print a }' "$1"; }
# in_language_row CLASSIFIER SPLIT: minimodel evaluate's last line for CLASSIFIER on $SRC's SPLIT, scored
# once and kept beside it (CLASSIFIER without .pt + .SRC.SPLIT.row): at base size a pass takes many minutes
in_language_row() {
  local row="${1%.pt}.$SRC.$2.row"
  if ! { [ "$row" -nt "$1" ] && [ "$row" -nt "$DATA/$SRC/cls/input0/$2.bin" ]; }; then
    { $MINIMODEL evaluate --classifier "$1" --data "$DATA/$SRC/cls" --lang "$SRC" --subset "$2" | tail -n 1 > "$row.tmp"; } || { rm -f "$row.tmp"; return 1; }
    mv "$row.tmp" "$row"
  fi
  cat "$row"
}
