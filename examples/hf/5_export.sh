#!/usr/bin/env bash
# (f) Export the LANG classifier (step 4's swapped checkpoint) as a Hugging Face directory:
# config with the genre labels, safetensors weights, and LANG's tokenizer (ids = LANG's dict.txt).
#   examples/hf/5_export.sh NAME LANG METHOD [SEED]  ->  $RUNS/export/LANG/METHOD/seedSEED/
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "${1:-}"
lang="${2:?give LANG}"; method="${3:?give METHOD}"; seed="${4:-1}"
hf_method "$method"
classifier="$RUNS/transfer/$lang/$method/seed$seed.pt"
out="$RUNS/export/$lang/$method/seed$seed"
need "$classifier" "run examples/hf/4_transfer.sh $hf_name $lang $method $seed first"
if [ "$out/config.json" -nt "$classifier" ] && [ "$DRY_RUN" != 1 ]; then say "export: $out is up to date, skipped"; exit 0; fi
run_minimodel export-hf "$classifier" --out "$out" --force \
  --spm "$DATA/$lang/spm.model" --dict "$DATA/$lang/cls/input0/dict.txt"
[ "$DRY_RUN" = 1 ] || say "export done: $out (AutoTokenizer + AutoModelForSequenceClassification)"
