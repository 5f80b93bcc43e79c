#!/usr/bin/env bash
# (e) Step 4: swap LANG's step-2 embeddings into the step-3 classifier of the imported model and
# score it zero-shot on LANG's test chapters (a row in $RUNS/results.tsv).
#   examples/hf/4_transfer.sh NAME LANG METHOD [SEED]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "${1:-}"
lang="${2:?give LANG}"; method="${3:?give METHOD}"; seed="${4:-1}"
hf_method "$method"
bash examples/bible/4_transfer.sh "$lang" "$method" "$seed"
