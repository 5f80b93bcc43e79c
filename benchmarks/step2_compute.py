"""Compute (FLOPs, from minimodel_fairseq.flops) and wall time of step 2 per method, and MiniPost's one-off cost.

    .venv/bin/python benchmarks/step2_compute.py [RUNS]   (default runs/bible, after examples/bible/run_all.sh)

Reads the checkpoints and logs that the recipes wrote; FLOPs are per training update of
the recipes' shape (ADAPT_BSZ x TOKENS, 15 % masked), times the updates run.
"""
import os
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import minimodel_fairseq  # noqa: F401
from fairseq import checkpoint_utils
from minimodel_fairseq.flops import UpdateShape, roberta_update_flops
from minimodel_fairseq.freezing import set_trainable
from minimodel_fairseq.tasks.minipost_mlm import minipost_trainable
from minimodel_fairseq.tasks.new_language_mlm import NEW_LANGUAGE_TRAINABLE


def per_update(checkpoint, trainable, shape):
    (model,), _, _ = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)])
    set_trainable(model, trainable=trainable)
    return roberta_update_flops(model, shape)["total"]


def main(runs="runs/bible"):
    runs = Path(runs)
    bsz, tokens = int(os.environ.get("ADAPT_BSZ", 16)), int(os.environ.get("TOKENS", 128))
    shape = UpdateShape(bsz, tokens, round(0.15 * bsz * tokens))
    adapt_updates = int(os.environ.get("ADAPT_UPDATES", 300))
    minipost_updates = int(os.environ.get("MINIPOST_UPDATES", 200))

    wall = defaultdict(list)
    for line in (runs / "results.tsv").read_text().splitlines():
        lang, method, _seed, _a, _n, _m, secs = line.split("\t")
        if secs != "NA":
            wall[method].append(float(secs))
    step2 = {}
    for method in ("full", "minijoint", "minipost", "full_roberta"):
        ckpt = next((runs / "adapt").glob(f"*/{method}/seed*/checkpoint_last.pt"), None)
        if ckpt is not None:
            step2[method] = per_update(ckpt, NEW_LANGUAGE_TRAINABLE, shape)
    print(f"step 2 per language and seed: {adapt_updates} updates of {bsz} x {tokens} tokens")
    print("| method | GFLOPs/update | TFLOPs/run | wall s/run (mean) | FLOP ratio vs full | wall ratio vs full |")
    print("|---|---|---|---|---|---|")
    for method, f in step2.items():
        w = statistics.mean(wall[method]) if wall[method] else float("nan")
        wf = statistics.mean(wall["full"]) if wall["full"] else float("nan")
        print(f"| {method} | {f / 1e9:.2f} | {f * adapt_updates / 1e12:.2f} | {w:.0f} | "
              f"{step2['full'] / f:.2f}x | {wf / w:.2f}x |")
    mp = runs / "pretrain" / "minipost"
    if (mp / "checkpoint_last.pt").exists():
        (model,), cfg, _ = checkpoint_utils.load_model_ensemble_and_task([str(mp / "checkpoint_last.pt")])
        k, layers = cfg.model.mini_layers, cfg.model.encoder_layers
        set_trainable(model, trainable=minipost_trainable(k, layers))
        pbsz = int(os.environ.get("PRETRAIN_BSZ", 16))
        f = roberta_update_flops(model, UpdateShape(pbsz, tokens, round(0.15 * pbsz * tokens)))["total"]
        secs = float((mp / "train_seconds").read_text()) if (mp / "train_seconds").exists() else float("nan")
        saved = (step2["full"] - step2.get("minipost", step2["full"])) * adapt_updates
        print(f"\nMiniPost build (one-off): {minipost_updates} updates, {f * minipost_updates / 1e12:.2f} TFLOPs, "
              f"{secs:.0f} s; step-2 saving per language and seed vs full: {saved / 1e12:.2f} TFLOPs "
              f"-> the build pays for itself after {f * minipost_updates / saved:.2f} language-runs")


if __name__ == "__main__":
    main(*sys.argv[1:])
