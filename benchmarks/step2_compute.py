"""Compute (FLOPs, from minimodel_fairseq.flops) and wall time of step 2 per method, and MiniPost's one-off cost.

    .venv/bin/python benchmarks/step2_compute.py [RUNS]   (default runs/bible, after examples/bible/run_all.sh)

Reads the checkpoints and logs that the recipes wrote; FLOPs are per training update of
the recipes' shape (ADAPT_BSZ x TOKENS, 15 % masked), times the updates each method runs.
The settings (ADAPT_UPDATES, ...) are the recipes' own: minimodel_recipes/settings.py, from the
environment or its defaults; results.tsv is read by column name.
"""

import statistics
import sys
from collections import defaultdict
from pathlib import Path

from fairseq import checkpoint_utils

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq.flops import UpdateShape, roberta_update_flops
from minimodel_fairseq.freezing import set_trainable
from minimodel_fairseq.tasks.minipost_mlm import minipost_trainable
from minimodel_fairseq.tasks.new_language_mlm import NEW_LANGUAGE_TRAINABLE
from minimodel_recipes import bench
from minimodel_recipes import settings as recipe_settings  # the recipes' settings and method table


def per_update(checkpoint, trainable, shape):
    (model,), _, _ = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)])
    set_trainable(model, trainable=trainable)
    return roberta_update_flops(model, shape)["total"]


def main(runs="runs/bible"):
    runs = Path(runs)
    try:
        s = recipe_settings.resolve()
        rows = recipe_settings.read_results(runs / "results.tsv")
    except (recipe_settings.SettingError, OSError) as e:
        raise SystemExit(f"step2_compute.py: error: {e}") from None
    bsz, tokens = int(s["ADAPT_BSZ"]), int(s["TOKENS"])
    shape = UpdateShape(bsz, tokens, round(0.15 * bsz * tokens))
    minipost_updates = int(s["MINIPOST_UPDATES"])

    wall = defaultdict(list)
    for row in rows:
        if row["step2_seconds"] != "NA":
            wall[row["method"]].append(float(row["step2_seconds"]))
    step2, updates = {}, {}
    for method, spec in recipe_settings.METHODS.items():
        ckpt = next((runs / "adapt").glob(f"*/{method}/seed*/checkpoint_last.pt"), None)
        if ckpt is not None and not spec.control:
            step2[method] = per_update(ckpt, NEW_LANGUAGE_TRAINABLE, shape)
            updates[method] = recipe_settings.step2(method, s)["updates"]
    print(
        f"step 2 per language and seed: updates of {bsz} x {tokens} tokens, "
        + ", ".join(f"{m} {u}" for m, u in updates.items())
    )
    print(
        "| method | GFLOPs/update | TFLOPs/run | wall s/run (mean) | FLOP ratio vs full per update | wall ratio vs full per run |"
    )
    print(bench.rule(6))
    for method, f in step2.items():
        w = statistics.mean(wall[method]) if wall[method] else float("nan")
        wf = statistics.mean(wall["full"]) if wall["full"] else float("nan")
        print(
            f"| {method} | {f / 1e9:.2f} | {f * updates[method] / 1e12:.2f} | {w:.0f} | "
            f"{step2['full'] / f:.2f}x | {wf / w:.2f}x |"
        )
    mp = runs / "pretrain" / "minipost"
    if (mp / "checkpoint_last.pt").exists() and "minipost" in step2 and "full" in step2:
        (model,), cfg, _ = checkpoint_utils.load_model_ensemble_and_task(
            [str(mp / "checkpoint_last.pt")]
        )
        k, layers = cfg.model.mini_layers, cfg.model.encoder_layers
        set_trainable(model, trainable=minipost_trainable(k, layers))
        pbsz = int(s["PRETRAIN_BSZ"])
        f = roberta_update_flops(model, UpdateShape(pbsz, tokens, round(0.15 * pbsz * tokens)))[
            "total"
        ]
        secs = (
            float((mp / "train_seconds").read_text())
            if (mp / "train_seconds").exists()
            else float("nan")
        )
        saved = step2["full"] * updates["full"] - step2.get("minipost", 0) * updates.get(
            "minipost", 0
        )
        print(
            f"\nMiniPost build (one-off): {minipost_updates} updates, {f * minipost_updates / 1e12:.2f} TFLOPs, "
            f"{secs:.0f} s; step-2 saving per language and seed vs full: {saved / 1e12:.2f} TFLOPs "
            f"-> the build pays for itself after {f * minipost_updates / saved:.2f} language-runs"
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
