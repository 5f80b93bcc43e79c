#!/usr/bin/env bash
# (a) Import a Hugging Face RoBERTa-family directory (RobertaForMaskedLM, XLMRobertaForMaskedLM,
# RobertaPreLayerNormForMaskedLM: config.json, weights, tokenizer files) as a fairseq checkpoint,
# and put it where the Bible recipes look for their plain RoBERTa.
#   examples/hf/1_import.sh HF_DIR [NAME]     (NAME: the run's name, default HF_DIR's base name)
[ $# -ge 1 ] && [ -d "$1" ] || { echo "usage: examples/hf/1_import.sh HF_DIR [NAME]: HF_DIR must be a Hugging Face model directory" >&2; exit 2; }
hf_dir="$(cd "$1" && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "${2:-$(basename "$hf_dir")}"
if [ -f "$IMPORT/import.json" ] && [ "$DRY_RUN" != 1 ]; then
  say "import: $IMPORT is done, skipped (delete it to import again)"
else
  run_minimodel import-hf "$hf_dir" --out "$IMPORT"
fi
[ "$DRY_RUN" != 1 ] || exit 0
mkdir -p "$(dirname "$PLAIN")"
ln -sfn "$(realpath --relative-to="$(dirname "$PLAIN")" "$IMPORT/model.pt")" "$PLAIN"
say "import done: $IMPORT/model.pt (the recipes' big model: $PLAIN)"
