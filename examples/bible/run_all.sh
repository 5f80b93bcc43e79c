#!/usr/bin/env bash
# The whole method on the Bible genre task: English -> each of $LANGS, over
# $SEEDS: the standard recipe (full), MiniJoint, and two controls with untrained target
# embeddings: random init (random) and the shared init's copied rows alone (copy_only).
# METHODS picks the set: add minipost for MiniPost (it pretrains a plain RoBERTa too,
# about as long again), full_roberta / random_roberta for that RoBERTa's own baseline
# and control (settings.py --methods).
#   examples/bible/run_all.sh              # CPU default (bf16 where the CPU has it), one seed: 25 min measured on 2 idle cores
#   JOBS=1 examples/bible/run_all.sh       # after step 1, one training job at a time on every thread
#   SEEDS="1 2" examples/bible/run_all.sh    # docs/results/history.md's table: 78 min measured
#   PRETRAIN_UPDATES=4000 ADAPT_UPDATES=1000 SEEDS="1 2 3" examples/bible/run_all.sh
#   DRY_RUN=1 examples/bible/run_all.sh    # print every command instead of running it
# Every training step prints its progress and the time it has left; the full fairseq logs are
# in RUNS/<step>/.../train.log. Ends with the table (RUNS/results.md) and a plot (RUNS/results.png).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
start=$(date +%s)
elapsed() { local s=$(( $(date +%s) - start )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
models=$(for m in $METHODS; do big_model_of "$m"; done | sort -u)
# the jobs, for the [i/n] counter: step 1 (MiniJoint; plain RoBERTa and MiniPost), step 3 per
# big model and seed, steps 2 + 4 per language, seed and method
n_models=$(wc -w <<<"$models"); n_seeds=$(wc -w <<<"$SEEDS"); n_pretrain=1
[[ "$models" != *roberta* ]] || n_pretrain=3
n_jobs=$(( n_pretrain + n_models * n_seeds + $(wc -w <<<"$LANGS") * n_seeds * $(wc -w <<<"$METHODS") ))
job=0
next_job() { job=$((job + 1)); export PROGRESS_PREFIX="[$job/$n_jobs] "; }

# After step 1, the training runs of steps 3 and 2 depend only on step 1: JOBS of them run at once,
# each on THREADS / JOBS threads (two one-thread runs do more per second on two cores than one
# two-thread run: docs/benchmarks.md); the scoring (steps 3 and 4, which write results.tsv) follows
# one by one. JOBS=1 or DRY_RUN: one after another, in order.
running=0
job_threads=$(( THREADS / JOBS > 0 ? THREADS / JOBS : 1 ))
kill_tree() { local child; for child in $(pgrep -P "$1"); do kill_tree "$child"; done; kill "$1" 2>/dev/null || true; }
pool_failed() {
  echo "run_all: a training job failed (its error is above); stopping the others, whose checkpoints resume" >&2
  local pid; for pid in $(jobs -p); do kill_tree "$pid"; done; wait || true; exit 1
}
in_pool() {
  if [ "$JOBS" = 1 ] || [ "$DRY_RUN" = 1 ]; then "$@"; return; fi
  THREADS=$job_threads "$@" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || pool_failed; running=$((running - 1)); fi
}
pool_wait() { while [ "$running" -gt 0 ]; do wait -n || pool_failed; running=$((running - 1)); done; }

if [ "$DRY_RUN" != 1 ]; then
  echo "run_all: $SRC -> $LANGS; methods $METHODS; seeds $SEEDS; $n_jobs jobs, each with its progress and time left"
  echo "run_all: settings: .venv/bin/python -m minimodel_recipes.settings; full logs: $RUNS/<step>/.../train.log"
  prepare_data "$SRC,${LANGS// /,}"
  echo "run_all: data ready in $DATA ($SRC $LANGS)"
fi
next_job; bash examples/bible/1_pretrain_minijoint.sh
if [[ "$models" == *roberta* ]]; then
  next_job; bash examples/bible/1_pretrain_roberta.sh
  next_job; bash examples/bible/1b_minipost.sh
fi
[ "$DRY_RUN" = 1 ] || { mkdir -p "$RUNS"; printf '%s\n' "$RESULTS_HEADER" > "$RUNS/results.tsv"; }
for model in $models; do
  for seed in $SEEDS; do
    next_job; in_pool bash examples/bible/3_finetune.sh "$seed" "$model"
  done
done
for lang in $LANGS; do
  for seed in $SEEDS; do
    for method in $METHODS; do
      next_job; in_pool bash examples/bible/2_adapt_language.sh "$lang" "$method" "$seed"
    done
  done
done
pool_wait
unset PROGRESS_PREFIX
for model in $models; do
  for seed in $SEEDS; do
    evaluate=(evaluate --classifier "$RUNS/finetune/$model/seed$seed/checkpoint_best.pt" --data "$DATA/$SRC/cls" --lang "$SRC")
    if [ "$DRY_RUN" = 1 ]; then run_minimodel "${evaluate[@]}"; continue; fi
    read -r _ acc n majority _ <<<"$($MINIMODEL "${evaluate[@]}" | tail -n 1)"
    results_row "$SRC" "in-language ($model)" "$seed" "$acc" "$n" "$majority" NA
    say "step 3/4 $model seed $seed: in-language ($SRC) accuracy $acc (n=$n, majority $majority); $(elapsed) so far"
  done
done
for lang in $LANGS; do
  for seed in $SEEDS; do
    for method in $METHODS; do
      bash examples/bible/4_transfer.sh "$lang" "$method" "$seed"
    done
  done
done
[ "$DRY_RUN" != 1 ] || exit 0
.venv/bin/python -m minimodel_recipes.table "$RUNS/results.tsv" --plot "$RUNS/results.png" | tee "$RUNS/results.md"
echo
echo "run_all: done in $(elapsed). Table: $RUNS/results.md (rows: $RUNS/results.tsv); plot: $RUNS/results.png;"
echo "run_all: full training logs: $RUNS/{pretrain,finetune,adapt}/.../train.log; tensorboard logs: .../tb"
