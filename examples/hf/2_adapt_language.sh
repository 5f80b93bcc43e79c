#!/usr/bin/env bash
# (d) Step 2: LANG's token embeddings learned over a frozen body: the whole imported model
# (full_roberta, the standard recipe) or MiniPost's mini-model of it (minipost; runs 1b first).
#   examples/hf/2_adapt_language.sh NAME LANG full_roberta|minipost|random_roberta [SEED] [extra flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "${1:-}"
lang="${2:?give LANG}"; method="${3:?give METHOD}"; seed="${4:-1}"; shift $(( $# < 4 ? $# : 4 ))
need_import; hf_method "$method"
[ -e "$DATA/$lang" ] || [ "$DRY_RUN" = 1 ] || bash examples/hf/prepare.sh "$hf_name" "$lang"
if [ "$method" = minipost ]; then bash examples/hf/1b_minipost.sh "$hf_name"; fi
# --body-dict: the source dictionary with the counts of the source text (prepare.sh), which the
# shared embedding init compares with the target's; import-hf's dict.txt has no frequencies
bash examples/bible/2_adapt_language.sh "$lang" "$method" "$seed" --body-dict "$DATA/$SRC/mlm/dict.txt" "$@"
