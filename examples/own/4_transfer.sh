#!/usr/bin/env bash
# (e) Step 4: swap LANG's step-2 embeddings into the step-3 classifier; with a target test set
# (DATA/LANG/cls, prepare.sh --target-test) score it zero-shot as examples/hf/4_transfer.sh does (a row
# of $RUNS/results.tsv), without one only swap (the classifier is still exported).
#   examples/own/4_transfer.sh NAME LANG METHOD [SEED]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "${1:-}"
lang="${2:?give LANG}"; method="${3:?give METHOD}"; seed="${4:-1}"
hf_method "$method"
if [ -f "$DATA/$lang/cls/DONE" ]; then exec bash examples/hf/4_transfer.sh "$hf_name" "$lang" "$method" "$seed"; fi
out="$RUNS/transfer/$lang/$method/seed$seed.pt"
swap=(swap-embeddings --classifier "$RUNS/finetune/$(big_model_of "$method")/seed$seed/checkpoint_best.pt"
  --embeddings "$RUNS/adapt/$lang/$method/seed$seed/checkpoint_last.pt" --out "$out" --force)
# a dry run prepares nothing, so it shows this branch (with a target test set, examples/hf/4_transfer.sh also scores)
if [ "$DRY_RUN" = 1 ]; then run_minimodel "${swap[@]}"; exit 0; fi
$MINIMODEL "${swap[@]}" > /dev/null
say "step 4/4 $lang $method seed $seed: swapped ($out); no target test set was given, so no zero-shot score"
