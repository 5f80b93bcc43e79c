#!/usr/bin/env bash
# Step 1b for MiniPost: the imported model's bottom MINIPOST_K layers (frozen) + MINIPOST_M new
# layers and the LM head, trained on the source language: examples/bible/1b_minipost.sh with the
# imported model as --source-checkpoint.
#   MINIPOST_K=4 MINIPOST_M=1 examples/hf/1b_minipost.sh NAME [extra fairseq-train flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "${1:-}"; shift
need_import
bash examples/bible/1b_minipost.sh "$@"
