#!/usr/bin/env bash
# The Hugging Face recipe on the project's own pretrained model, since no pretrained weights can be
# downloaded here: MiniJoint's primary model (examples/bible/1_pretrain_minijoint.sh) is exported
# with export-hf, and examples/hf/run.sh runs on that directory. The standard recipe from the
# export must give the same LANG zero-shot accuracy as the fairseq-native run of the same model
# and seed (examples/bible 3_finetune.sh, 2_adapt_language.sh LANG full, 4_transfer.sh): the
# conversion is exact, so the two runs train on the same ids from the same weights.
#   examples/hf/demo.sh [LANG] [SEED]          (default de 1; sizes: examples/bible/common.sh)
# The native run uses RUNS/DATA (runs/bible, data/bible); the exported model and its run go
# under $RUNS/hf (HF_RUNS) and $RUNS/hf_data (HF_DATA). Exit 1 if the two differ by > 0.1 points.
source "$(dirname "${BASH_SOURCE[0]}")/../bible/common.sh"
lang="${1:-de}"; seed="${2:-1}"
native_results="$RUNS/results.tsv"; primary="$PRIMARY"
export HF_RUNS="${HF_RUNS:-$RUNS/hf}" HF_DATA="${HF_DATA:-$RUNS/hf_data}" TARGET_DATA="$DATA"
name=minijoint; hf_dir="$HF_RUNS/exported/$name"
start=$(date +%s)
bash examples/bible/1_pretrain_minijoint.sh > /dev/null
echo "step 1 done: MiniJoint $PRIMARY"
bash examples/bible/3_finetune.sh "$seed" minijoint
bash examples/bible/2_adapt_language.sh "$lang" full "$seed"
bash examples/bible/4_transfer.sh "$lang" full "$seed"
if [ "$hf_dir/config.json" -nt "$PRIMARY" ]; then
  echo "export: $hf_dir is up to date, skipped"
else
  $MINIMODEL export-hf "$PRIMARY" --out "$hf_dir" --force
fi
# a fresh import when the exported directory is newer than it (step 1 retrained)
if [ -f "$HF_RUNS/$name/import/import.json" ] && [ "$hf_dir/config.json" -nt "$HF_RUNS/$name/import/import.json" ]; then
  rm -rf "${HF_RUNS:?}/$name" "${HF_DATA:?}/$name"
fi
mkdir -p "$HF_RUNS/$name"
HF_NAME="$name" bash examples/hf/run.sh "$hf_dir" "$lang" "$seed" | tee "$HF_RUNS/$name/run.log"
source examples/hf/common.sh "$name"  # RUNS is now the Hugging Face run's
native=$(accuracy_of "$native_results" "$lang" full "$seed")
hf=$(accuracy_of "$RUNS/results.tsv" "$lang" full_roberta "$seed")
echo
echo "$lang zero-shot accuracy, standard recipe, seed $seed, the same pretrained model ($primary):"
printf '  %-52s %s\n' "fairseq-native (examples/bible)" "$native" "from its Hugging Face export (examples/hf, $hf_dir)" "$hf"
.venv/bin/python - "$native" "$hf" "$(( $(date +%s) - start ))" <<'PY'
import sys
native, hf, seconds = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
diff = 100 * (hf - native)
print(f"  difference: {diff:+.2f} points ({'within' if abs(diff) <= 0.1 else 'NOT within'} 0.1; demo {seconds} s)")
sys.exit(0 if abs(diff) <= 0.1 else 1)
PY
