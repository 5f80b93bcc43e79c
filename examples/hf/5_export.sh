#!/usr/bin/env bash
# (f) Export the LANG classifier (step 4's swapped checkpoint) as a Hugging Face directory:
# config with the genre labels, safetensors weights, and LANG's tokenizer (ids = LANG's dict.txt).
# Then the adapted masked LM (minimodel export-mlm): the big model with LANG's embeddings.
#   examples/hf/5_export.sh NAME LANG METHOD [SEED]  ->  $RUNS/export/LANG/METHOD/seedSEED/ and seedSEED_mlm/
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "${1:-}"
lang="${2:?give LANG}"; method="${3:?give METHOD}"; seed="${4:-1}"
hf_method "$method"
classifier="$RUNS/transfer/$lang/$method/seed$seed.pt"
out="$RUNS/export/$lang/$method/seed$seed"
need "$classifier" "run examples/hf/4_transfer.sh $hf_name $lang $method $seed first"
if [ "$out/config.json" -nt "$classifier" ] && [ "${out}_mlm/hf/config.json" -nt "$classifier" ] && [ "$DRY_RUN" != 1 ]; then
  say "export: $out and ${out}_mlm are up to date, skipped"; exit 0
fi
run_minimodel export-hf "$classifier" --out "$out" --force \
  --spm "$DATA/$lang/spm.model" --dict "$DATA/$lang/mlm/dict.txt"
[ "$DRY_RUN" = 1 ] || say "export done: $out (AutoTokenizer + AutoModelForSequenceClassification)"
# the adapted masked LM: the big model (for minipost too, not the mini-model) with LANG's embeddings
big=$(checkpoint_of "$(big_model_of "$method")") || exit 2
run_minimodel export-mlm --big "$big" --embeddings "$RUNS/adapt/$lang/$method/seed$seed/checkpoint_last.pt" \
  --out "${out}_mlm" --force
[ "$DRY_RUN" = 1 ] || say "export done: ${out}_mlm (fairseq model.pt + hf/: AutoTokenizer + AutoModelForMaskedLM)"
