#!/usr/bin/env bash
# (c) Step 3: fine-tune the imported model on the source-language genre task (tokenized with its
# own tokenizer), token embeddings frozen: examples/bible/3_finetune.sh SEED roberta.
#   examples/hf/3_finetune.sh NAME [SEED] [extra fairseq-train flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "${1:-}"
seed="${2:-1}"; shift $(( $# < 2 ? $# : 2 ))
need_import
bash examples/bible/3_finetune.sh "$seed" roberta "$@"
