"""Accuracy versus compute: the paper's headline, measured on the Bible genre task.

    .venv/bin/python benchmarks/transfer.py [--langs de fr ru es] [--seeds 1 2 3]
        [--methods full minijoint minipost random copy_only [full_roberta]] [--points 5] [--out docs/results]
        [--report-only]

Drives the recipes in examples/bible (their sizes come from the same environment
variables: PRETRAIN_UPDATES, ADAPT_UPDATES, ... see common.sh; RUNS defaults to
runs/transfer): step 1 (MiniJoint; the plain RoBERTa and its MiniPost mini-model
when minipost is asked for), step 3 per seed, and step 2 per language, seed and
method with a checkpoint every ADAPT_UPDATES / points updates (the mini methods
run --mini-budget times as many updates, which still costs them less compute). Every checkpoint
is swapped into its step-3 classifier and scored zero-shot on the language's test
chapters; its FLOPs (the running count the plugin's tasks keep) and its training
seconds come from the checkpoint itself. Beside the accuracy, each checkpoint gets the
label-free measures (minimodel_fairseq/label_free.py), which do not depend on a step-3
seed: verse retrieval top-1 target -> English on the test verses at the big model's
middle and top layer, and the big model's masked-LM loss on the target's valid split,
both with the checkpoint's embeddings swapped into the big model. Each method is
measured against the standard recipe (full step 2) on the same big model: full on the MiniJoint model,
or, for MiniPost when full_roberta is among the methods, full on the plain RoBERTa
it was cut from. Controls: majority class, random
(untrained) target embeddings, and copy_only (untrained, only the rows the shared
init copies).

Writes OUT/transfer.json (every point, and the summary), OUT/transfer.md (per
language and on average: final accuracy per method, compute to reach the full
method's final accuracy minus 1 point, and the ratios in FLOPs and in wall time;
per update: FLOPs and seconds, and how much of the FLOP ratio the wall time realises;
the label-free measures at the final checkpoint beside the final accuracy; the step-2
checkpoint chosen without labels, by the lowest valid MLM loss of the step-2 model itself (as
fairseq's best checkpoint would) and of the big model, against the last and the best one; each
method against its baseline verse by verse, at the last checkpoints and at those each loss chooses: the
paired difference per seed and its bootstrap interval, minimodel_recipes/paired.py's) and
OUT/transfer.png (one column per language; against FLOPs, one line per method:
accuracy, then retrieval and masked-LM loss). A difference smaller than the seeds'
spread is reported as a tie.

Each finished measurement (a step-2 run's curve, its label-free measures, a
classifier's English accuracy) is kept in RUNS/points/*.json (a curve measured before
the label-free measures existed gets them alone, from the run's checkpoints), and the
recipes skip finished training, so an interrupted run resumes where it stopped;
--report-only writes the report from what is finished, marked partial, without
training anything. The loop runs seed
by seed, so a partial report has whole seeds of every language and method. Each
point records the settings it was measured with (minimodel_recipes/settings.py, and
--points); a rerun with other settings is refused before anything runs, because
the recipes would skip the finished training of the old settings: use another RUNS.
"""
import argparse
import functools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from minimodel_recipes import settings as recipe_settings  # noqa: E402  (the recipes' settings and method table)
from minimodel_recipes import paired  # noqa: E402  (per-verse paired differences and their bootstrap interval)
from minimodel_recipes import table  # noqa: E402  (mean and half range: how every table reports a spread)
import minimodel_fairseq  # noqa: E402,F401
from minimodel_fairseq import flops as flop_count, label_free, surgery  # noqa: E402
from minimodel_fairseq.compat import load_checkpoint  # noqa: E402
from minimodel_fairseq.evaluate import evaluate_classifier  # noqa: E402

METHODS = recipe_settings.METHODS
CONTROLS = recipe_settings.CONTROLS  # untrained embeddings: one point, no curve
# the standard recipe (step 2 over the whole big model) of each big model: the baseline of its methods
STANDARD = {m.big_model: name for name, m in METHODS.items() if m.kind == "standard"}
STEP2_TASK = "NewLanguageMLMTask"
# per checkpoint, beside the accuracy: retrieval target -> source at the middle and the top layer, MLM loss (bits)
LABEL_FREE = ("retrieval", "retrieval_top", "mlm_loss", "step2_mlm_loss")
# the label-free measures a step-2 checkpoint can be chosen by (lowest valid loss), the first one preferred:
# the step-2 model's own, as fairseq's best checkpoint would pick it with validation on, and the big model's
CHOICE = {"step2_mlm_loss": "the step-2 model's own MLM loss", "mlm_loss": "the big model's MLM loss"}


def log(msg):
    print(f"[transfer {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def recipe(script, *args, env):
    """Run one examples/bible recipe; its own output goes to the recipe's log files."""
    proc = subprocess.run(["bash", f"examples/bible/{script}", *map(str, args)], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{script} {' '.join(map(str, args))} failed:\n{proc.stdout[-3000:]}")
    return proc.stdout


def checkpoint_compute(state):
    """(updates, FLOPs, training seconds) recorded in a step-2 checkpoint."""
    return (state["optimizer_history"][-1]["num_updates"], *flop_count.checkpoint_cost(state, STEP2_TASK))


def score(classifier_state, step2, cls_data):
    """Zero-shot accuracy of the classifier with the step-2 checkpoint's embeddings swapped in."""
    swapped = surgery.swap_embeddings(classifier_state, step2)
    with tempfile.TemporaryDirectory() as tmp:
        path = surgery.save_checkpoint(swapped, Path(tmp) / "swapped.pt")
        result = evaluate_classifier(path, cls_data)
    return result


def check_cache(cache, stamp):
    """Refuse a cache of points measured with other settings than stamp; warn about points that
    predate recorded settings (they are assumed to match)."""
    unstamped = []
    for path in sorted(cache.glob("*.json")):
        stored = json.loads(path.read_text()).get("settings")
        if stored is None:
            unstamped.append(path.name)
        elif stored != stamp:
            diff = recipe_settings.differences(stored, stamp)
            raise SystemExit(
                f"refusing to reuse {path}: it was measured with other settings ({diff}). Nothing is "
                "recomputed, because the recipes would skip the finished training of the old settings: "
                f"run these settings in another RUNS (now {cache.parent}), or delete that folder to measure again")
    if unstamped:
        log(f"warning: {len(unstamped)} points in {cache} record no settings (measured before they were "
            f"recorded, e.g. {unstamped[0]}): assumed to be these settings")


def cached(path, measure, report_only, stamp):
    """measure()'s result, kept in path (JSON, with the settings stamp it was measured with) so that
    a rerun does not measure it again (check_cache has refused other settings).

    With report_only, never measures: the cached result or None.
    """
    if path.exists():
        return json.loads(path.read_text())
    if report_only:
        return None
    start = time.time()
    result = {**measure(), "measured_in_s": time.time() - start, "settings": stamp}
    path.parent.mkdir(parents=True, exist_ok=True)
    surgery.atomic_write(path, lambda p: Path(p).write_text(json.dumps(result)))
    return result


def step2_points(run_dir):
    """The run's interval checkpoints and its last one, in update order (the last may repeat one)."""
    paths = sorted(run_dir.glob("checkpoint_*_*.pt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    last = run_dir / "checkpoint_last.pt"
    return paths + [last] if last.exists() else paths


def with_label_free(curve, measured):
    """The curve's points with the label-free measures of the checkpoint of the same updates (when measured)."""
    layer, top = measured["layer"], measured["top_layer"]
    by_updates = {p["updates"]: {"retrieval": p["target_to_source"][layer], "retrieval_top": p["target_to_source"][top],
                                 "mlm_loss": p["mlm_loss"], "step2_mlm_loss": p.get("step2_mlm_loss")}
                  for p in measured["points"]}
    return [{**p, **by_updates.get(p["updates"], {})} for p in curve]


def choose(curve, key):
    """Index of the checkpoint a valid loss picks (label_free.best_index: the lowest, a tie to the later one,
    as fairseq's best checkpoint), or None when a point lacks it."""
    if len(curve) == 0 or any(p.get(key) is None for p in curve):
        return None
    return label_free.best_index([p[key] for p in curve], "mlm")


def checkpoint_choice(runs, key):
    """Accuracy of each seed's run at its last checkpoint, at the one the valid loss `key` (CHOICE) picks,
    and at its best (an oracle: it looks at the test labels), over the seeds' runs."""
    picked = [choose(r, key) for r in runs]
    if not runs or None in picked:
        return None
    last = [r[-1]["accuracy"] for r in runs]
    chosen = [r[i]["accuracy"] for r, i in zip(runs, picked)]
    return {"last": statistics.mean(last), "chosen": statistics.mean(chosen),
            "peak": statistics.mean(max(p["accuracy"] for p in r) for r in runs),
            "differences": [c - a for c, a in zip(chosen, last)],
            "chosen_updates": [r[i]["updates"] for r, i in zip(runs, picked)],
            "chosen_last": sum(i == len(r) - 1 for r, i in zip(runs, picked))}


def correct_string(predictions):
    """1 per test verse the swapped classifier gets right, else 0: what paired differences are made of."""
    return "".join("1" if gold == guess else "0" for gold, guess in predictions)


def paired_comparisons(points, summary, methods, seeds, reps=paired.REPS):
    """Each trained method against its baseline, verse by verse and seed by seed (they share the step-3
    classifier): baseline - method at the last checkpoints and at the ones each valid loss of CHOICE picks
    (keyed "last" and by the loss), per language and over the languages (minimodel_recipes/paired.py's
    bootstrap). Languages where a seed's points lack per-verse results (measured before they were kept)
    are left out."""
    out = {}
    for m in (m for m in methods if m not in CONTROLS):
        for at in ("last", *CHOICE):
            diffs, base = {}, None
            by = None if at == "last" else at
            for lang, row in summary.items():
                r = row["methods"].get(m)
                if r is None or r["baseline"] in (None, m):
                    continue
                base = r["baseline"]
                if by and not (by in r.get("choice", {}) and by in row["methods"][base].get("choice", {})):
                    continue
                runs = [[points.get((lang, x, s)) for x in (base, m)] for s in seeds]
                picked = [[c and (c[-1] if by is None else c[choose(c, by)]) for c in pair] for pair in runs]
                if not all(p and "correct" in p for pair in picked for p in pair):
                    continue
                verses = [[np.fromiter(map(int, p["correct"]), np.float64) for p in pair] for pair in picked]
                diffs[lang] = np.stack([a - b for a, b in verses])
            if diffs:
                out.setdefault(m, {})[at] = {"baseline": base, "by": by, "languages": list(diffs),
                                             "result": paired.summarise(diffs, reps)}
    return out


def paired_markdown(comparisons, seeds):
    """One paired table per method and checkpoint (last, chosen by each valid loss); no lines if unmeasured."""
    lines = []
    for m, ats in comparisons.items():
        for at, c in ats.items():
            where = "the last checkpoints" if at == "last" else f"the checkpoints chosen by {c['by']}"
            lines += ["", f"Paired: {c['baseline']} - {m} at {where}:", "",
                      paired.markdown(c["result"], c["baseline"], m, [str(s) for s in seeds])]
    return lines


def reach(curve, target):
    """The first point of a curve at or above the target accuracy, or None."""
    return next((p for p in curve if target is not None and p["accuracy"] >= target), None)


def ratio(a, b):
    """a / b, or None where either is missing (a target not reached)."""
    return a / b if a and b else None


def to_target(base, curve, target):
    """Compute (FLOPs, seconds) each of two seed-averaged curves needs to reach target, and their ratios."""
    points = [reach(c, target) for c in (base, curve)]
    out = {"target": target, "flops": [p and p["flops"] for p in points],
           "seconds": [p and p["seconds"] for p in points]}
    for unit in ("flops", "seconds"):
        out[f"{unit}_ratio"] = ratio(*out[unit])
    return out


def baseline(method, curves):
    """The standard recipe a method is measured against: full step 2 on the same big model
    (full_roberta for MiniPost when it was run, else full on the MiniJoint model)."""
    own = STANDARD[METHODS[method].big_model]
    if own in curves:
        return own
    return "full" if "full" in curves else None


def summarise(points, langs, methods, seeds, majority, chance=None):
    """Per language: final accuracy per method, compute to its baseline's final accuracy - 1 point.

    The label-free measures (LABEL_FREE) are averaged where every seed's point has them;
    ``chance``: retrieval's chance level per language (1 / verses).
    """
    summary = {}
    for lang in langs:
        curves, seed_runs = {}, {}
        for m in methods:
            runs = [points[lang, m, s] for s in seeds if points.get((lang, m, s))]
            if not runs:
                continue
            seed_runs[m] = runs
            n = min(len(r) for r in runs)
            curves[m] = []
            for i in range(n):
                accuracy, spread = table.spread([r[i]["accuracy"] for r in runs])
                curves[m].append({"updates": runs[0][i]["updates"],
                                  "flops": statistics.mean(r[i]["flops"] for r in runs),
                                  "seconds": statistics.mean(r[i]["seconds"] for r in runs),
                                  "accuracy": accuracy, "spread": spread, "seeds": len(runs)})
                for key in LABEL_FREE:
                    if all(r[i].get(key) is not None for r in runs):
                        curves[m][-1][key], curves[m][-1][f"{key}_spread"] = table.spread([r[i][key] for r in runs])
        row = {"majority": majority[lang], "methods": {}}
        if chance and chance.get(lang):
            row["retrieval_chance"] = chance[lang]
        for m, curve in curves.items():
            base = baseline(m, curves)
            target = curves[base][-1]["accuracy"] - 0.01 if base else None
            final = curve[-1]
            reached = reach(curve, target)
            row["methods"][m] = {"final_accuracy": final["accuracy"], "spread": final["spread"],
                                 "seeds": final["seeds"],
                                 "final_flops": final["flops"], "final_seconds": final["seconds"],
                                 "baseline": base, "flops_to_target": reached and reached["flops"],
                                 "seconds_to_target": reached and reached["seconds"], "curve": curve}
            for key in LABEL_FREE:
                if key in final:
                    row["methods"][m].update({f"final_{key}": final[key], f"{key}_spread": final[f"{key}_spread"]})
            choice = {key: checkpoint_choice(seed_runs[m], key) for key in CHOICE}
            if m not in CONTROLS and any(choice.values()):
                row["methods"][m]["choice"] = {k: v for k, v in choice.items() if v}
            if len(curve) > 1:  # cost per update from the first to the last checkpoint: start-up excluded
                steps = curve[-1]["updates"] - curve[0]["updates"]
                row["methods"][m]["flops_per_update"] = (curve[-1]["flops"] - curve[0]["flops"]) / steps
                row["methods"][m]["seconds_per_update"] = (curve[-1]["seconds"] - curve[0]["seconds"]) / steps
        for m, r in row["methods"].items():
            if r["baseline"] and r["baseline"] != m:
                full = row["methods"][r["baseline"]]
                if m not in CONTROLS and min(r["seeds"], full["seeds"]) > 1:
                    # one seed gives no spread to tell a difference from noise: no verdict then
                    diff = r["final_accuracy"] - full["final_accuracy"]
                    r["vs_baseline"] = "tie" if abs(diff) <= max(r["spread"], full["spread"]) else (
                        "win" if diff > 0 else "loss")
                for unit in ("flops", "seconds"):
                    r[f"{unit}_ratio"] = ratio(full[f"{unit}_to_target"], r[f"{unit}_to_target"])
                if "flops_per_update" in r and "flops_per_update" in full:
                    # how much of the per-update FLOP saving shows up as wall time (the goal: 90 % or more)
                    f = full["flops_per_update"] / r["flops_per_update"]
                    w = full["seconds_per_update"] / r["seconds_per_update"]
                    r["per_update"] = {"flops_ratio": f, "seconds_ratio": w, "realised": w / f}
                key = next((k for k in CHOICE if k in full.get("choice", {})), None)
                if m not in CONTROLS and key:
                    r["chosen_target"] = {"by": key, **to_target(curves[r["baseline"]], curves[m],
                                                                 full["choice"][key]["chosen"] - 0.01)}
        summary[lang] = row
    return summary


def markdown(summary, methods, english, minipost_cost, meta, comparisons=None):
    mini = [m for m in methods if m in ("minijoint", "minipost")]
    lines = ["| language | majority | " + " | ".join(f"{m} final acc" for m in methods)
             + " | " + " | ".join(f"{m}: FLOPs ratio / wall ratio to target" for m in mini) + " |",
             "|---" * (2 + len(methods) + len(mini)) + "|"]
    ratios = {m: {"flops": [], "seconds": []} for m in mini}
    for lang, row in summary.items():
        cells = []
        for m in methods:
            r = row["methods"].get(m)
            cells.append("" if r is None else f"{100 * r['final_accuracy']:.1f} ± {100 * r['spread']:.1f}"
                         + (f" ({r['vs_baseline']}" + (f" vs {r['baseline']})" if r["baseline"] != "full" else ")")
                            if "vs_baseline" in r else "")
                         + (f" [{r['seeds']} seed{'s' * (r['seeds'] > 1)}]" if r["seeds"] < len(meta["seeds"]) else ""))
        rcells = []
        for m in mini:
            r = row["methods"].get(m, {})
            f, s = r.get("flops_ratio"), r.get("seconds_ratio")
            if f:
                ratios[m]["flops"].append(f)
                ratios[m]["seconds"].append(s)
            rcells.append(f"{f:.2f}x / {s:.2f}x" if f else "not reached")
        lines.append(f"| {lang} | {100 * row['majority']:.1f} | " + " | ".join(cells) + " | "
                     + " | ".join(rcells) + " |")
    avg = [f"{statistics.mean(ratios[m]['flops']):.2f}x / {statistics.mean(ratios[m]['seconds']):.2f}x"
           + (f" (the {len(ratios[m]['flops'])} of {len(summary)} that reach it)"
              if len(ratios[m]["flops"]) < len(summary) else "")
           if ratios[m]["flops"] else "not reached" for m in mini]
    finals = []
    for m in methods:
        vals = [row["methods"][m]["final_accuracy"] for row in summary.values() if m in row["methods"]]
        finals.append(f"{100 * statistics.mean(vals):.1f}" if vals else "")
    lines.append("| average | " + f"{100 * statistics.mean(r['majority'] for r in summary.values()):.1f} | "
                 + " | ".join(finals) + " | " + " | ".join(avg) + " |")
    trained = [m for m in methods if m not in CONTROLS]
    lines += ["", "Step 2 per update (from the first to the last checkpoint, start-up excluded): "
              "FLOPs ratio / wall ratio to the baseline, and the share of the FLOP saving realised in wall time", "",
              "| language | " + " | ".join(f"{m}: GFLOPs, s per update" for m in trained)
              + " | " + " | ".join(f"{m}: FLOPs / wall ratio (realised)" for m in mini) + " |",
              "|---" * (1 + len(trained) + len(mini)) + "|"]
    for lang, row in summary.items():
        cells = []
        for m in trained:
            r = row["methods"].get(m, {})
            cells.append(f"{r['flops_per_update'] / 1e9:.1f}, {r['seconds_per_update']:.3f}"
                         if "flops_per_update" in r else "")
        for m in mini:
            u = row["methods"].get(m, {}).get("per_update")
            cells.append(f"{u['flops_ratio']:.2f}x / {u['seconds_ratio']:.2f}x ({100 * u['realised']:.0f} %)"
                         if u else "")
        lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    lines += label_free_markdown(summary, methods, meta)
    lines += choice_markdown(summary, methods)
    lines += paired_markdown(comparisons or {}, meta["seeds"])
    if not meta["complete"]:
        lines += ["", "**Partial**: not every language, method and seed has been measured yet; a cell "
                  "with fewer seeds says how many (rerun benchmarks/transfer.py to resume)."]
    lines += ["", "Zero-shot accuracy (%) on the test chapters: mean ± half the range over seeds "
              f"{meta['seeds']}; (tie/win/loss) against the standard recipe (full step 2) on the same big model, "
              "a tie when the difference is within the spread. "
              f"The full method runs {meta['settings'].get('ADAPT_UPDATES')} step-2 updates, the mini methods "
              f"{meta['settings'].get('MINI_ADAPT_UPDATES')} (cheaper ones; final = at the end of each run). "
              "Ratio = compute the full method needs to reach its own final accuracy - 1 point, divided by "
              "the compute the mini method needs to reach the same target (FLOPs from the tasks' counts; "
              "wall = fairseq's training time)."]
    if "minipost" in methods:
        lines[-1] += (" MiniPost is measured against full_roberta, the standard recipe on its own big model (the "
                      "plain RoBERTa)." if "full_roberta" in methods else " MiniPost is measured against full on "
                      "the MiniJoint model (add full_roberta to --methods to measure it against the standard "
                      "recipe on its own big model, the plain RoBERTa).")
    if english:
        lines += ["", "English in-language accuracy (step-3 classifier, unswapped): "
                  + ", ".join(f"{k} {100 * v[0]:.1f} ± {100 * v[1]:.1f} ({v[2]} seed{'s' * (v[2] > 1)})"
                              for k, v in english.items())]
    if minipost_cost:
        lines += ["", f"MiniPost's one-off cost (build its mini-model): {minipost_cost['flops'] / 1e12:.1f} TFLOPs, "
                  f"{minipost_cost['seconds']:.0f} s; amortised over {len(summary)} languages: "
                  f"{minipost_cost['flops'] / 1e12 / len(summary):.1f} TFLOPs, "
                  f"{minipost_cost['seconds'] / len(summary):.0f} s each (not in the ratios above)."]
    lines += ["", f"Settings: {json.dumps(meta['settings'])}. Steps 2-4 and step 3 took "
              f"{meta['seconds'] / 60:.0f} minutes of measuring, pretraining {meta['pretrain_seconds'] / 60:.0f} "
              "minutes of training."]
    return "\n".join(lines) + "\n"


def label_free_markdown(summary, methods, meta):
    """The label-free measures at each method's final checkpoint beside its final accuracy (no lines if unmeasured)."""
    info = meta.get("label_free")
    if not info or not any("final_retrieval" in r for row in summary.values() for r in row["methods"].values()):
        return []

    def cell(r, key, scale, digits):
        if f"final_{key}" not in r:
            return ""
        return f"{scale * r[f'final_{key}']:.{digits}f} ± {scale * r[f'{key}_spread']:.{digits}f}"

    src = info["src"]
    layers = " or ".join(f"L{a} / L{b}" for a, b in sorted({tuple(v) for v in info["layers"].values()}))
    lines = ["", f"Label-free measures at the final checkpoint (the big model with the step-2 embeddings swapped in): "
             f"verse retrieval top-1 target -> {src} on the test verses at the middle / top layer ({layers}), and the "
             "masked-LM loss on the target's valid split (bits per masked token, the same masked tokens for every "
             "method; lower is better); mean ± half the range over seeds; chance = 1 / verses.", "",
             f"| language | method | zero-shot acc | retrieval ->{src} middle | retrieval ->{src} top "
             "| MLM loss (bits) | retrieval chance |", "|---" * 7 + "|"]
    for lang, row in summary.items():
        chance = f"{100 * row['retrieval_chance']:.1f}" if row.get("retrieval_chance") else ""
        for m in methods:
            r = row["methods"].get(m)
            if r is None:
                continue
            lines.append(f"| {lang} | {m} | {100 * r['final_accuracy']:.1f} ± {100 * r['spread']:.1f} | "
                         f"{cell(r, 'retrieval', 100, 1)} | {cell(r, 'retrieval_top', 100, 1)} | "
                         f"{cell(r, 'mlm_loss', 1, 3)} | {chance} |")
    return lines


def choice_markdown(summary, methods):
    """Step-2 checkpoint chosen without labels against the last one and the best (no lines if unmeasured)."""
    rows = [(lang, m, key, c) for lang, row in summary.items() for m in methods
            for key, c in row["methods"].get(m, {}).get("choice", {}).items()]
    if not rows:
        return []
    lines = ["", "Step-2 checkpoint chosen without labels: the one with the lowest masked-LM loss on the target's "
             "valid split (" + "; ".join(f"{k}: {v}" for k, v in CHOICE.items()) + "; a tie to the later one, as "
             "fairseq's best checkpoint), against the last checkpoint and the best one (an oracle: it reads the "
             "test labels); zero-shot accuracy (%), mean over seeds; chosen - last per seed.", "",
             "| language | method | chosen by | last | chosen | best (oracle) | chosen - last, per seed "
             "| chosen at updates |", "|---" * 8 + "|"]
    for lang, m, key, c in rows:
        lines.append(f"| {lang} | {m} | {key} | {100 * c['last']:.1f} | {100 * c['chosen']:.1f} | "
                     f"{100 * c['peak']:.1f} | " + ", ".join(f"{100 * d:+.1f}" for d in c["differences"]) + " | "
                     + ", ".join(map(str, c["chosen_updates"])) + " |")
    for m, key in dict.fromkeys((m, key) for _, m, key, _ in rows):
        cs = [c for _, mm, k, c in rows if (mm, k) == (m, key)]
        diffs = [d for c in cs for d in c["differences"]]
        lines.append(f"| all | {m} | {key} | {100 * statistics.mean(c['last'] for c in cs):.1f} | "
                     f"{100 * statistics.mean(c['chosen'] for c in cs):.1f} | "
                     f"{100 * statistics.mean(c['peak'] for c in cs):.1f} | mean {100 * statistics.mean(diffs):+.1f} "
                     f"(from {100 * min(diffs):+.1f} to {100 * max(diffs):+.1f}) "
                     f"| the last in {sum(c['chosen_last'] for c in cs)} of {len(diffs)} |")
    ratios = [(lang, m, row["methods"][m]["baseline"], row["methods"][m]["chosen_target"])
              for lang, row in summary.items() for m in methods if "chosen_target" in row["methods"].get(m, {})]
    if ratios:
        lines += ["", "Compute to the target of the chosen checkpoints: the baseline's accuracy at its chosen "
                  "checkpoints (mean over seeds) - 1 point, reached on the seed-averaged curves. A run whose chosen "
                  "checkpoint is not its last has stopped improving by this measure (converged); the count above "
                  "says how many were still improving at the end.", "",
                  "| language | method | baseline | chosen by | target | FLOPs ratio / wall ratio |", "|---" * 6 + "|"]
        for lang, m, base, t in ratios:
            cell = (f"{t['flops_ratio']:.2f}x / {t['seconds_ratio']:.2f}x" if t["flops_ratio"] else
                    "not reached" if t["flops"][0] else "the baseline's curve does not reach it")
            lines.append(f"| {lang} | {m} | {base} | {t['by']} | {100 * t['target']:.1f} | {cell} |")
    return lines


def plot(summary, methods, path):
    """One column per language; rows: zero-shot accuracy, then (where measured) retrieval and MLM loss, per FLOPs."""
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # fairseq's logging config lets its DEBUG through
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = list(summary)
    panels = [("accuracy", 100, "zero-shot accuracy (%)")]
    if any("retrieval" in p for row in summary.values() for r in row["methods"].values() for p in r["curve"]):
        panels += [("retrieval", 100, "retrieval target->source, middle layer (%)"),
                   ("mlm_loss", 1, "big-model MLM loss (bits)")]
    colours = {m: f"C{i}" for i, m in enumerate(m for m in methods if m not in CONTROLS)}  # the same in every row
    fig, axes = plt.subplots(len(panels), len(langs), figsize=(4 * len(langs), 3.4 * len(panels)), squeeze=False)
    for col, lang in enumerate(langs):
        row = summary[lang]
        for (key, scale, label), ax in zip(panels, axes[:, col]):
            spread = "spread" if key == "accuracy" else f"{key}_spread"
            for m in methods:
                r = row["methods"].get(m)
                if r is None or any(p.get(key) is None for p in r["curve"]):
                    continue
                xs = [p["flops"] / 1e12 for p in r["curve"]]
                ys = [scale * p[key] for p in r["curve"]]
                if m in CONTROLS:
                    ax.axhline(ys[-1], ls=":", color="grey" if m.startswith("random") else "tab:olive", label=m)
                else:
                    ax.errorbar(xs, ys, yerr=[scale * p[spread] for p in r["curve"]], marker="o", ms=3, capsize=2,
                                color=colours[m], label=m)
            if key == "accuracy":
                ax.axhline(100 * row["majority"], ls="--", color="black", lw=0.8, label="majority")
            elif key == "retrieval" and row.get("retrieval_chance"):
                ax.axhline(100 * row["retrieval_chance"], ls="--", color="black", lw=0.8, label="chance")
            ax.set_title(lang)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}"))
            ax.set_xticks([t for t in (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if t <= 2 * max(
                p["flops"] / 1e12 for r in row["methods"].values() for p in r["curve"])])
            ax.set_xlabel("step-2 TFLOPs")
    for (_, _, label), ax in zip(panels, axes[:, 0]):
        ax.set_ylabel(label)
    for ax in axes[:, -1]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")  # path may be a temporary name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langs", nargs="+", default=["de", "fr", "ru", "es"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--methods", nargs="+", default=["full", "minijoint", "minipost", "random", "copy_only"],
                        choices=list(METHODS), help="step-2 methods and controls (full_roberta: the standard "
                        "recipe on MiniPost's big model, then MiniPost's baseline)")
    parser.add_argument("--points", type=int, default=5, help="step-2 checkpoints per run (evenly spaced)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "results"))
    parser.add_argument("--mini-budget", type=float, default=2.0,
                        help="step-2 updates of the mini methods, as a multiple of ADAPT_UPDATES (the full "
                        "method's): a mini update is cheaper, and a curve that stops where full's does "
                        "cannot show where it reaches full's accuracy")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: write the report from the measurements finished so far "
                        "(RUNS/points; a rerun without this flag resumes the rest)")
    args = parser.parse_args(argv)

    start = time.time()
    env = {**os.environ, "RUNS": os.environ.get("RUNS", "runs/transfer")}
    runs, data = ROOT / env["RUNS"], ROOT / env.get("DATA", "data/bible")
    try:
        adapt_updates = int(recipe_settings.resolve(env)["ADAPT_UPDATES"])
        env["MINI_ADAPT_UPDATES"] = str(round(args.mini_budget * adapt_updates))
        settings = recipe_settings.affecting_results(recipe_settings.resolve(env))  # what the recipes will run
    except recipe_settings.SettingError as e:
        raise SystemExit(f"transfer.py: error: {e}") from None
    every = max(1, adapt_updates // args.points)
    src = settings["SRC"]
    models = sorted({METHODS[m].big_model for m in args.methods})
    cache = runs / "points"  # one JSON per finished measurement: a rerun resumes where it stopped
    stamp = {**settings, "points": args.points}
    check_cache(cache, stamp)

    if not args.report_only:
        log(f"data: {src} + {args.langs}")
        subprocess.run(["bash", "examples/bible/prepare.sh"], cwd=ROOT, check=True,
                       env={**env, "LANGS": ",".join([src, *args.langs])}, stdout=subprocess.DEVNULL)
        log("step 1: MiniJoint pretraining")
        recipe("1_pretrain_minijoint.sh", env=env)
        if "roberta" in models:
            log("step 1: plain RoBERTa pretraining, then MiniPost")
            recipe("1_pretrain_roberta.sh", env=env)
            recipe("1b_minipost.sh", env=env)
    minipost_cost = None
    minipost = runs / "pretrain" / "minipost" / "checkpoint_last.pt"
    if "roberta" in models and minipost.exists():
        cost = flop_count.checkpoint_cost(load_checkpoint(str(minipost)), "MiniPostMLMTask")
        minipost_cost = dict(zip(("flops", "seconds"), cost))

    @functools.cache  # the step-3 recipe runs once per classifier
    def classifier(model, seed):
        recipe("3_finetune.sh", seed, model, env=env)
        return runs / "finetune" / model / f"seed{seed}" / "checkpoint_best.pt"

    @functools.cache  # loaded once, scored against every language and method
    def classifier_state(model, seed):
        return load_checkpoint(str(classifier(model, seed)))

    def step2_curve(lang, method, seed):
        run_dir = runs / "adapt" / lang / method / f"seed{seed}"
        flags = [] if method in CONTROLS else [
            "--save-interval-updates", every, "--keep-interval-updates", -1]
        recipe("2_adapt_language.sh", lang, method, seed, *flags, env=env)
        curve, result = [], None
        for path in step2_points(run_dir):
            state = load_checkpoint(str(path))
            updates, flops, seconds = checkpoint_compute(state)
            if curve and curve[-1]["updates"] == updates:  # checkpoint_last repeats the last interval save
                continue
            result = score(classifier_state(METHODS[method].big_model, seed), state, data / lang / "cls")
            curve.append({"updates": updates, "flops": flops, "seconds": seconds,
                          "accuracy": result["accuracy"], "correct": correct_string(result["predictions"])})
            log(f"{lang} {method} seed {seed}: {updates} updates, {flops / 1e12:.2f} TFLOPs, "
                f"{seconds:.0f} s -> accuracy {result['accuracy']:.4f}")
        return {"majority": result["majority"], "curve": curve}

    @functools.cache  # loaded once per big model
    def big_state(model):
        path = runs / recipe_settings.CHECKPOINTS[recipe_settings.BIG_MODELS[model]]
        return surgery.to_roberta(surgery.load_roberta_checkpoint(path))

    @functools.cache  # the English side is encoded once per language and big model
    def retrieval(lang, model):
        return label_free.Retrieval(big_state(model), data / lang, data / src, subset="test")

    def label_free_curve(lang, method, seed):
        """Retrieval (every layer, both directions), the big model's MLM loss and the step-2 model's own of
        each checkpoint of a finished step-2 run (step2_curve has run it, now or before these measures existed)."""
        model = METHODS[method].big_model
        r, mlm_data = retrieval(lang, model), data / lang / "mlm"
        layer, measured = label_free.default_layer(r.depth), []
        for path in step2_points(runs / "adapt" / lang / method / f"seed{seed}"):
            state = surgery.load_roberta_checkpoint(path)
            updates = state["optimizer_history"][-1]["num_updates"]
            if measured and measured[-1]["updates"] == updates:  # checkpoint_last repeats the last interval save
                continue
            res = r.score(state)
            swapped = label_free.big_with_embeddings(big_state(model), state, mlm_data / "dict.txt")
            loss = label_free.mlm_loss(swapped, mlm_data, "valid")["loss"]
            # the step-2 model's own (a mini-model for the mini methods): what fairseq would validate
            own = None if method in CONTROLS else label_free.mlm_loss(state, mlm_data, "valid")["loss"]
            measured.append({"updates": updates, "target_to_source": res["target_to_source"],
                             "source_to_target": res["source_to_target"], "mlm_loss": loss, "step2_mlm_loss": own})
            log(f"{lang} {method} seed {seed}: {updates} updates -> retrieval {res['target_to_source'][layer]:.3f} "
                f"(L{layer}), {res['target_to_source'][r.depth]:.3f} (L{r.depth}), MLM loss {loss:.3f} bits")
        return {"layer": layer, "top_layer": r.depth, "n": r.n, "chance": 1 / r.n, "subset": "test",
                "mlm_subset": "valid", "points": measured}

    english, points, majority, chance, layers = {}, {}, {}, {}, {}
    measured_s, label_free_runs = 0.0, 0
    for seed in args.seeds:
        for model in models:
            acc = cached(cache / f"english_{model}_seed{seed}.json", lambda: {"accuracy": evaluate_classifier(
                classifier(model, seed), data / src / "cls")["accuracy"]}, args.report_only, stamp)
            if acc:
                measured_s += acc.get("measured_in_s", 0.0)
                english.setdefault(model, []).append(acc["accuracy"])
                log(f"step 3: {model} seed {seed}: English accuracy {acc['accuracy']:.4f}")
        for lang in args.langs:
            for method in args.methods:
                run = cached(cache / f"{lang}_{method}_seed{seed}.json",
                             lambda: step2_curve(lang, method, seed), args.report_only, stamp)
                if run:
                    measured_s += run.get("measured_in_s", 0.0)
                    points[lang, method, seed] = run["curve"]
                    majority[lang] = run["majority"]
                    # its own cache: a curve cached before these measures existed gets them alone
                    measured = cached(cache / f"{lang}_{method}_seed{seed}_label_free.json",
                                      lambda: label_free_curve(lang, method, seed), args.report_only, stamp)
                    if measured:
                        measured_s += measured.get("measured_in_s", 0.0)
                        points[lang, method, seed] = with_label_free(run["curve"], measured)
                        chance[lang], label_free_runs = measured["chance"], label_free_runs + 1
                        layers[METHODS[method].big_model] = (measured["layer"], measured["top_layer"])

    langs = [lang for lang in args.langs if lang in majority]
    summary = summarise(points, langs, args.methods, args.seeds, majority, chance)
    comparisons = paired_comparisons(points, summary, args.methods, args.seeds)
    pretrain_s = sum(float((runs / "pretrain" / m / "train_seconds").read_text() or 0)
                     for m in ("minijoint", "roberta") if (runs / "pretrain" / m / "train_seconds").exists())
    meta = {"seeds": args.seeds, "seconds": measured_s, "pretrain_seconds": pretrain_s,
            "complete": len(points) == len(args.langs) * len(args.methods) * len(args.seeds) == label_free_runs
            and all(len(v) == len(args.seeds) for v in english.values()),
            "settings": settings, "label_free": {"src": src, "subset": "test", "mlm_subset": "valid",
                                                 "layers": layers, "chance": chance}}
    english = {m: (*table.spread(v), len(v)) for m, v in english.items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the per-verse results stay in RUNS/points: in the report they would be most of its size
    result = {"meta": meta, "english": english, "minipost_cost": minipost_cost, "summary": summary,
              "paired": comparisons,
              "points": [{"lang": k[0], "method": k[1], "seed": k[2],
                          "curve": [{k2: v2 for k2, v2 in p.items() if k2 != "correct"} for p in v]}
                         for k, v in points.items()]}
    text = markdown(summary, args.methods, english, minipost_cost, meta, comparisons)
    surgery.atomic_write(out / "transfer.json", lambda p: Path(p).write_text(json.dumps(result, indent=1)))
    surgery.atomic_write(out / "transfer.md", lambda p: Path(p).write_text(text))
    surgery.atomic_write(out / "transfer.png", lambda p: plot(summary, args.methods, p))
    print((out / "transfer.md").read_text())
    log(f"wrote {out / 'transfer.json'}, transfer.md, transfer.png in {(time.time() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
