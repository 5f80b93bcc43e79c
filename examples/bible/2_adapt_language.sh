#!/usr/bin/env bash
# Step 2: learn LANG's token embeddings by masked LM with the body frozen.
#   examples/bible/2_adapt_language.sh LANG METHOD [SEED] [extra fairseq-train flags]
# METHOD: full      - the standard recipe: MiniJoint's whole primary model is the body
#         minijoint - the MiniJoint mini-model (bottom K layers + secondary head)
#         minipost  - the MiniPost mini-model of the plain RoBERTa (1b_minipost.sh)
#         full_roberta - the standard recipe on the plain RoBERTa (MiniPost's big model)
#         random, random_roberta - controls: untrained embeddings (lr 0), random init
#         copy_only - control: untrained embeddings with the shared init (only the copied rows;
#                     EMBED_INIT's matching, shared when EMBED_INIT is random)
# The trained methods start from EMBED_INIT (common.sh: shared_translit by default).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
lang="$1"; method="$2"; seed="${3:-1}"; shift $(( $# < 3 ? $# : 3 ))
body=$(body_of "$method") || exit 2
[ -f "$body" ] || { echo "no body checkpoint $body: run the step-1 recipes first" >&2; exit 2; }
LANGS="$lang" bash examples/bible/prepare.sh
out="$RUNS/adapt/$lang/$method/seed$seed"
if [ -f "$out/train_seconds" ]; then echo "step 2: $out is done, skipped"; exit 0; fi
mkdir -p "$out"
updates="$ADAPT_UPDATES"; lr="$ADAPT_LR"
case "$method" in minijoint|minipost) updates="$MINI_ADAPT_UPDATES" ;; esac
init="$EMBED_INIT"
case "$method" in random*) updates=1; lr=0; init=random ;; copy_only) updates=1; lr=0; init="${EMBED_INIT/#random/shared}" ;; esac
"${FAIRSEQ_TRAIN[@]}" "$DATA/$lang/mlm" \
  --task new_language_mlm --criterion masked_lm --arch roberta --body-checkpoint "$body" --embedding-init "$init" \
  --tokens-per-sample "$TOKENS" --batch-size "$ADAPT_BSZ" \
  --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0 \
  --lr "$lr" --lr-scheduler fixed --warmup-updates $((ADAPT_UPDATES / 10)) \
  --max-update "$updates" --max-epoch 1000 --disable-validation --seed "$seed" \
  --save-dir "$out" "$@" > "$out/train.log" 2>&1 || { tail -n 30 "$out/train.log" >&2; exit 1; }
train_seconds "$out/train.log" > "$out/train_seconds"
echo "step 2 done: $lang $method seed $seed: $out/checkpoint_last.pt ($(cat "$out/train_seconds") s)"
