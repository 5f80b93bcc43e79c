#!/usr/bin/env bash
# Step 2: learn LANG's token embeddings by masked LM with the body frozen.
#   examples/bible/2_adapt_language.sh LANG METHOD [SEED] [extra fairseq-train flags]
# METHOD (settings.py's method table; `.venv/bin/python -m minimodel_recipes.settings --methods`):
#         full      - the standard recipe: MiniJoint's whole primary model is the body
#         minijoint - the MiniJoint mini-model (bottom K layers + secondary head)
#         minipost  - the MiniPost mini-model of the plain RoBERTa (1b_minipost.sh)
#         full_roberta - the standard recipe on the plain RoBERTa (MiniPost's big model)
#         random, random_roberta - controls: untrained embeddings (lr 0), random init
#         copy_only - control: untrained embeddings with the shared init (only the copied rows;
#                     EMBED_INIT's matching, shared when EMBED_INIT is random)
# The trained methods start from EMBED_INIT (shared_translit by default) and run ADAPT_UPDATES
# updates, MINI_ADAPT_UPDATES over a mini-model.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 2 ] || { echo "usage: examples/bible/2_adapt_language.sh LANG METHOD [SEED] [fairseq-train flags]" >&2; exit 2; }
lang="$1"; method="$2"; seed="${3:-1}"; shift $(( $# < 3 ? $# : 3 ))
body=$(body_of "$method") || exit 2
read -r updates lr init warmup <<<"$(step2_of "$method")"
need "$body" "run the step-1 recipes first"
out="$RUNS/adapt/$lang/$method/seed$seed"
if [ -f "$out/train_seconds" ] && [ "$DRY_RUN" != 1 ]; then say "step 2/4: $out is done, skipped"; exit 0; fi
prepare_data "$lang"
bpe_flags "$lang"
fairseq_train "step 2/4 $lang $method seed $seed" "$updates" "$out" "$DATA/$lang/mlm" \
  --task new_language_mlm --criterion masked_lm --arch roberta --body-checkpoint "$body" --embedding-init "$init" \
  --tokens-per-sample "$TOKENS" --batch-size "$ADAPT_BSZ" \
  --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0 \
  --lr "$lr" --lr-scheduler fixed --warmup-updates "$warmup" \
  --max-update "$updates" --max-epoch 1000 --disable-validation --seed "$seed" "${FRACTION_FLAGS[@]}" "${BPE_FLAGS[@]}" "$@"
train_seconds "$out/train.log" > "$out/train_seconds"
say "step 2/4 done: $lang $method seed $seed: $out/checkpoint_last.pt ($(cat "$out/train_seconds") s)"
