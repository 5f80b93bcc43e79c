"""benchmarks/transfer.py's statistics and report: from the measured points to transfer.{json,md,png}.

``points``: {(lang, method, seed): curve}, a curve being the step-2 run's checkpoints in update order, each
``{"updates", "flops", "seconds", "accuracy"}`` and, where measured, the label-free measures (LABEL_FREE)
and ``"correct"`` (one 0/1 per test verse). :func:`summarise` averages the seeds and measures each method
against its baseline (the standard recipe on the same big model), :func:`paired_comparisons` pairs them
verse by verse, :func:`markdown` writes transfer.md and :func:`plot` transfer.png; :func:`from_json`
rewrites the Markdown from a transfer.json (``transfer.py --report-from``).

Standard library and numpy at import (label_free's checkpoint choice and matplotlib load when used).
"""

import json
import statistics

import numpy as np

# paired: per-verse paired differences and their bootstrap interval; table: mean and half range
from minimodel_recipes import bench, paired, table
from minimodel_recipes import settings as recipe_settings  # the method table

METHODS = recipe_settings.METHODS
CONTROLS = recipe_settings.CONTROLS  # untrained embeddings: one point, no curve
# the standard recipe (step 2 over the whole big model) of each big model: the baseline of its methods
STANDARD = {m.big_model: name for name, m in METHODS.items() if m.kind == "standard"}
# per checkpoint, beside the accuracy: retrieval target -> source at the middle and the top layer, MLM loss (bits)
LABEL_FREE = ("retrieval", "retrieval_top", "mlm_loss", "step2_mlm_loss")
# the label-free measures a step-2 checkpoint can be chosen by (lowest valid loss), the first one preferred:
# the step-2 model's own, as fairseq's best checkpoint would pick it with validation on, and the big model's
CHOICE = {
    "step2_mlm_loss": "the step-2 model's own MLM loss",
    "mlm_loss": "the big model's MLM loss",
}


# ---------------------------------------------------------------- checkpoints and their choice


def with_label_free(curve, measured):
    """The curve's points with the label-free measures of the checkpoint of the same updates (when measured)."""
    layer, top = measured["layer"], measured["top_layer"]
    by_updates = {
        p["updates"]: {
            "retrieval": p["target_to_source"][layer],
            "retrieval_top": p["target_to_source"][top],
            "mlm_loss": p["mlm_loss"],
            "step2_mlm_loss": p.get("step2_mlm_loss"),
        }
        for p in measured["points"]
    }
    return [{**p, **by_updates.get(p["updates"], {})} for p in curve]


def choose(curve, key):
    """Index of the checkpoint a valid loss picks (label_free.best_index: the lowest, a tie to the later one,
    as fairseq's best checkpoint), or None when a point lacks it."""
    if len(curve) == 0 or any(p.get(key) is None for p in curve):
        return None
    from minimodel_fairseq import label_free

    return label_free.best_index([p[key] for p in curve], "mlm")


def checkpoint_choice(runs, key):
    """Accuracy of each seed's run at its last checkpoint, at the one the valid loss `key` (CHOICE) picks,
    and at its best (an oracle: it looks at the test labels), over the seeds' runs."""
    picked = [choose(r, key) for r in runs]
    if not runs or None in picked:
        return None
    last = [r[-1]["accuracy"] for r in runs]
    chosen = [r[i]["accuracy"] for r, i in zip(runs, picked)]
    return {
        "last": statistics.mean(last),
        "chosen": statistics.mean(chosen),
        "peak": statistics.mean(max(p["accuracy"] for p in r) for r in runs),
        "differences": [c - a for c, a in zip(chosen, last)],
        "chosen_updates": [r[i]["updates"] for r, i in zip(runs, picked)],
        "chosen_last": sum(i == len(r) - 1 for r, i in zip(runs, picked)),
    }


# ---------------------------------------------------------------- compute to a target


def reach(curve, target):
    """The first point of a curve at or above the target accuracy, or None."""
    return next((p for p in curve if target is not None and p["accuracy"] >= target), None)


def to_target(base, curve, target):
    """Compute (FLOPs, seconds) each of two seed-averaged curves needs to reach target, and their ratios."""
    points = [reach(c, target) for c in (base, curve)]
    out = {
        "target": target,
        "flops": [p and p["flops"] for p in points],
        "seconds": [p and p["seconds"] for p in points],
    }
    for unit in ("flops", "seconds"):
        out[f"{unit}_ratio"] = bench.ratio(*out[unit])
    return out


def baseline(method, curves):
    """The standard recipe a method is measured against: full step 2 on the same big model
    (full_roberta for MiniPost when it was run, else full on the MiniJoint model)."""
    own = STANDARD[METHODS[method].big_model]
    if own in curves:
        return own
    return "full" if "full" in curves else None


# ---------------------------------------------------------------- the summary


def seed_average(runs):
    """The seeds' runs of one method averaged checkpoint by checkpoint (as many as the shortest has): updates,
    mean FLOPs and seconds, accuracy with its half range, and each label-free measure every seed has."""
    curve = []
    for i in range(min(len(r) for r in runs)):
        accuracy, spread = table.spread([r[i]["accuracy"] for r in runs])
        curve.append(
            {
                "updates": runs[0][i]["updates"],
                "flops": statistics.mean(r[i]["flops"] for r in runs),
                "seconds": statistics.mean(r[i]["seconds"] for r in runs),
                "accuracy": accuracy,
                "spread": spread,
                "seeds": len(runs),
            }
        )
        for key in LABEL_FREE:
            if all(r[i].get(key) is not None for r in runs):
                curve[-1][key], curve[-1][f"{key}_spread"] = table.spread([r[i][key] for r in runs])
    return curve


def method_summary(m, curves, runs):
    """One method's entry of a language: its final point, its baseline and the compute to the baseline's
    final accuracy - 1 point, the label-free measures there, the checkpoint choice, the cost per update."""
    curve, base = curves[m], baseline(m, curves)
    target = curves[base][-1]["accuracy"] - 0.01 if base else None
    final, reached = curve[-1], reach(curve, target)
    out = {
        "final_accuracy": final["accuracy"],
        "spread": final["spread"],
        "seeds": final["seeds"],
        "final_flops": final["flops"],
        "final_seconds": final["seconds"],
        "baseline": base,
        "flops_to_target": reached and reached["flops"],
        "seconds_to_target": reached and reached["seconds"],
        "curve": curve,
    }
    for key in LABEL_FREE:
        if key in final:
            out.update({f"final_{key}": final[key], f"{key}_spread": final[f"{key}_spread"]})
    choice = {key: checkpoint_choice(runs, key) for key in CHOICE}
    if m not in CONTROLS and any(choice.values()):
        out["choice"] = {k: v for k, v in choice.items() if v}
    if len(curve) > 1:  # cost per update from the first to the last checkpoint: start-up excluded
        steps = curve[-1]["updates"] - curve[0]["updates"]
        out["flops_per_update"] = (curve[-1]["flops"] - curve[0]["flops"]) / steps
        out["seconds_per_update"] = (curve[-1]["seconds"] - curve[0]["seconds"]) / steps
    return out


def against_baseline(m, r, full, curves):
    """Add to method m's entry r its verdict against its baseline's entry (tie/win/loss), the compute ratios
    to the target, per update, and to the target of the baseline's chosen checkpoints."""
    if m not in CONTROLS and min(r["seeds"], full["seeds"]) > 1:
        # one seed gives no spread to tell a difference from noise: no verdict then
        diff = r["final_accuracy"] - full["final_accuracy"]
        r["vs_baseline"] = (
            "tie"
            if abs(diff) <= max(r["spread"], full["spread"])
            else ("win" if diff > 0 else "loss")
        )
    for unit in ("flops", "seconds"):
        r[f"{unit}_ratio"] = bench.ratio(full[f"{unit}_to_target"], r[f"{unit}_to_target"])
    if "flops_per_update" in r and "flops_per_update" in full:
        # how much of the per-update FLOP saving shows up as wall time (the goal: 90 % or more)
        f = full["flops_per_update"] / r["flops_per_update"]
        w = full["seconds_per_update"] / r["seconds_per_update"]
        r["per_update"] = {"flops_ratio": f, "seconds_ratio": w, "realised": w / f}
    key = next((k for k in CHOICE if k in full.get("choice", {})), None)
    if m not in CONTROLS and key:
        r["chosen_target"] = {
            "by": key,
            **to_target(curves[r["baseline"]], curves[m], full["choice"][key]["chosen"] - 0.01),
        }


def summarise(points, langs, methods, seeds, majority, chance=None):
    """Per language: final accuracy per method, compute to its baseline's final accuracy - 1 point.

    The label-free measures (LABEL_FREE) are averaged where every seed's point has them;
    ``chance``: retrieval's chance level per language (1 / verses).
    """
    summary = {}
    for lang in langs:
        seed_runs = {}
        for m in methods:
            runs = [points[lang, m, s] for s in seeds if points.get((lang, m, s))]
            if runs:
                seed_runs[m] = runs
        curves = {m: seed_average(runs) for m, runs in seed_runs.items()}
        row = {"majority": majority[lang], "methods": {}}
        if chance and chance.get(lang):
            row["retrieval_chance"] = chance[lang]
        for m in curves:
            row["methods"][m] = method_summary(m, curves, seed_runs[m])
        for m, r in row["methods"].items():
            if r["baseline"] and r["baseline"] != m:
                against_baseline(m, r, row["methods"][r["baseline"]], curves)
        summary[lang] = row
    return summary


# ---------------------------------------------------------------- verse by verse


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
                if by and not (
                    by in r.get("choice", {}) and by in row["methods"][base].get("choice", {})
                ):
                    continue
                runs = [[points.get((lang, x, s)) for x in (base, m)] for s in seeds]
                picked = [
                    [c and (c[-1] if by is None else c[choose(c, by)]) for c in pair]
                    for pair in runs
                ]
                if not all(p and "correct" in p for pair in picked for p in pair):
                    continue
                verses = [
                    [np.fromiter(map(int, p["correct"]), np.float64) for p in pair]
                    for pair in picked
                ]
                diffs[lang] = np.stack([a - b for a, b in verses])
            if diffs:
                out.setdefault(m, {})[at] = {
                    "baseline": base,
                    "by": by,
                    "languages": list(diffs),
                    "result": paired.summarise(diffs, reps),
                }
    return out


def paired_markdown(comparisons, seeds):
    """One paired table per method and checkpoint (last, chosen by each valid loss); no lines if unmeasured."""
    lines = []
    for m, ats in comparisons.items():
        for at, c in ats.items():
            where = (
                "the last checkpoints" if at == "last" else f"the checkpoints chosen by {c['by']}"
            )
            lines += [
                "",
                f"Paired: {c['baseline']} - {m} at {where}:",
                "",
                paired.markdown(c["result"], c["baseline"], m, [str(s) for s in seeds]),
            ]
    return lines


# ---------------------------------------------------------------- transfer.md


def accuracy_markdown(summary, methods, meta):
    """The final accuracy per language and method (its verdict, its seeds if fewer), the compute ratios to
    the target, and their average over the languages."""
    mini = [m for m in methods if m in ("minijoint", "minipost")]
    # not bench.row: without a mini method, the header and the rows end in an empty cell (as they always have)
    lines = [
        "| language | majority | "
        + " | ".join(f"{m} final acc" for m in methods)
        + " | "
        + " | ".join(f"{m}: FLOPs ratio / wall ratio to target" for m in mini)
        + " |",
        bench.rule(2 + len(methods) + len(mini)),
    ]
    ratios = {m: {"flops": [], "seconds": []} for m in mini}
    for lang, row in summary.items():
        cells, rcells = [], []
        for m in methods:
            r = row["methods"].get(m)
            cells.append(
                ""
                if r is None
                else f"{100 * r['final_accuracy']:.1f} ± {100 * r['spread']:.1f}"
                + (
                    f" ({r['vs_baseline']}"
                    + (f" vs {r['baseline']})" if r["baseline"] != "full" else ")")
                    if "vs_baseline" in r
                    else ""
                )
                + (
                    f" [{r['seeds']} seed{'s' * (r['seeds'] > 1)}]"
                    if r["seeds"] < len(meta["seeds"])
                    else ""
                )
            )
        for m in mini:
            r = row["methods"].get(m, {})
            f, s = r.get("flops_ratio"), r.get("seconds_ratio")
            if f:
                ratios[m]["flops"].append(f)
                ratios[m]["seconds"].append(s)
            rcells.append(f"{f:.2f}x / {s:.2f}x" if f else "not reached")
        lines.append(
            f"| {lang} | {100 * row['majority']:.1f} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(rcells)
            + " |"
        )
    avg = [
        f"{statistics.mean(ratios[m]['flops']):.2f}x / {statistics.mean(ratios[m]['seconds']):.2f}x"
        + (
            f" (the {len(ratios[m]['flops'])} of {len(summary)} that reach it)"
            if len(ratios[m]["flops"]) < len(summary)
            else ""
        )
        if ratios[m]["flops"]
        else "not reached"
        for m in mini
    ]
    finals = []
    for m in methods:
        vals = [
            row["methods"][m]["final_accuracy"] for row in summary.values() if m in row["methods"]
        ]
        finals.append(f"{100 * statistics.mean(vals):.1f}" if vals else "")
    return lines + [
        "| average | "
        + f"{100 * statistics.mean(r['majority'] for r in summary.values()):.1f} | "
        + " | ".join(finals)
        + " | "
        + " | ".join(avg)
        + " |"
    ]


def per_update_markdown(summary, methods):
    """Step 2's FLOPs and seconds per update per trained method, and the ratios of the mini methods."""
    mini = [m for m in methods if m in ("minijoint", "minipost")]
    trained = [m for m in methods if m not in CONTROLS]
    lines = [
        "",
        "Step 2 per update (from the first to the last checkpoint, start-up excluded): "
        "FLOPs ratio / wall ratio to the baseline, and the share of the FLOP saving realised in wall time",
        "",
        "| language | "
        + " | ".join(f"{m}: GFLOPs, s per update" for m in trained)  # as above: not bench.row
        + " | "
        + " | ".join(f"{m}: FLOPs / wall ratio (realised)" for m in mini)
        + " |",
        bench.rule(1 + len(trained) + len(mini)),
    ]
    for lang, row in summary.items():
        cells = []
        for m in trained:
            r = row["methods"].get(m, {})
            cells.append(
                f"{r['flops_per_update'] / 1e9:.1f}, {r['seconds_per_update']:.3f}"
                if "flops_per_update" in r
                else ""
            )
        for m in mini:
            u = row["methods"].get(m, {}).get("per_update")
            cells.append(
                f"{u['flops_ratio']:.2f}x / {u['seconds_ratio']:.2f}x ({100 * u['realised']:.0f} %)"
                if u
                else ""
            )
        lines.append(f"| {lang} | " + " | ".join(cells) + " |")  # "| de |  |" with no cells
    return lines


def notes_markdown(summary, methods, english, minipost_cost, meta):
    """What the tables mean, the English accuracy, MiniPost's one-off cost and the settings."""
    lines = []
    if not meta["complete"]:
        lines += [
            "",
            "**Partial**: not every language, method and seed has been measured yet; a cell "
            "with fewer seeds says how many (rerun benchmarks/transfer.py to resume).",
        ]
    lines += [
        "",
        "Zero-shot accuracy (%) on the test chapters: mean ± half the range over seeds "
        f"{meta['seeds']}; (tie/win/loss) against the standard recipe (full step 2) on the same big model, "
        "a tie when the difference is within the spread. "
        f"The full method runs {meta['settings'].get('ADAPT_UPDATES')} step-2 updates, the mini methods "
        f"{meta['settings'].get('MINI_ADAPT_UPDATES')} (cheaper ones; final = at the end of each run). "
        "Ratio = compute the full method needs to reach its own final accuracy - 1 point, divided by "
        "the compute the mini method needs to reach the same target (FLOPs from the tasks' counts; "
        "wall = fairseq's training time).",
    ]
    if "minipost" in methods:
        lines[-1] += (
            " MiniPost is measured against full_roberta, the standard recipe on its own big model (the "
            "plain RoBERTa)."
            if "full_roberta" in methods
            else " MiniPost is measured against full on "
            "the MiniJoint model (add full_roberta to --methods to measure it against the standard "
            "recipe on its own big model, the plain RoBERTa)."
        )
    if english:
        lines += [
            "",
            "English in-language accuracy (step-3 classifier, unswapped): "
            + ", ".join(
                f"{k} {100 * v[0]:.1f} ± {100 * v[1]:.1f} ({v[2]} seed{'s' * (v[2] > 1)})"
                for k, v in english.items()
            ),
        ]
    if minipost_cost:
        lines += [
            "",
            f"MiniPost's one-off cost (build its mini-model): {minipost_cost['flops'] / 1e12:.1f} TFLOPs, "
            f"{minipost_cost['seconds']:.0f} s; amortised over {len(summary)} languages: "
            f"{minipost_cost['flops'] / 1e12 / len(summary):.1f} TFLOPs, "
            f"{minipost_cost['seconds'] / len(summary):.0f} s each (not in the ratios above).",
        ]
    lines += [
        "",
        f"Settings: {json.dumps(meta['settings'])}. Steps 2-4 and step 3 took "
        f"{meta['seconds'] / 60:.0f} minutes of measuring, pretraining {meta['pretrain_seconds'] / 60:.0f} "
        "minutes of training.",
    ]
    return lines


def markdown(summary, methods, english, minipost_cost, meta, comparisons=None):
    """transfer.md: accuracy and compute ratios, per update, label-free, checkpoint choice, paired, notes."""
    lines = accuracy_markdown(summary, methods, meta) + per_update_markdown(summary, methods)
    lines += label_free_markdown(summary, methods, meta)
    lines += choice_markdown(summary, methods)
    lines += paired_markdown(comparisons or {}, meta["seeds"])
    lines += notes_markdown(summary, methods, english, minipost_cost, meta)
    return "\n".join(lines) + "\n"


def label_free_markdown(summary, methods, meta):
    """The label-free measures at each method's final checkpoint beside its final accuracy (no lines if unmeasured)."""
    info = meta.get("label_free")
    if not info or not any(
        "final_retrieval" in r for row in summary.values() for r in row["methods"].values()
    ):
        return []

    def cell(r, key, scale, digits):
        if f"final_{key}" not in r:
            return ""
        return f"{scale * r[f'final_{key}']:.{digits}f} ± {scale * r[f'{key}_spread']:.{digits}f}"

    src = info["src"]
    layers = " or ".join(
        f"L{a} / L{b}" for a, b in sorted({tuple(v) for v in info["layers"].values()})
    )
    lines = [
        "",
        f"Label-free measures at the final checkpoint (the big model with the step-2 embeddings swapped in): "
        f"verse retrieval top-1 target -> {src} on the test verses at the middle / top layer ({layers}), and the "
        "masked-LM loss on the target's valid split (bits per masked token, the same masked tokens for every "
        "method; lower is better); mean ± half the range over seeds; chance = 1 / verses.",
        "",
        bench.row(
            [
                "language",
                "method",
                "zero-shot acc",
                f"retrieval ->{src} middle",
                f"retrieval ->{src} top",
                "MLM loss (bits)",
                "retrieval chance",
            ]
        ),
        bench.rule(7),
    ]
    for lang, row in summary.items():
        chance = f"{100 * row['retrieval_chance']:.1f}" if row.get("retrieval_chance") else ""
        for m in methods:
            r = row["methods"].get(m)
            if r is None:
                continue
            lines.append(
                bench.row(
                    [
                        lang,
                        m,
                        f"{100 * r['final_accuracy']:.1f} ± {100 * r['spread']:.1f}",
                        cell(r, "retrieval", 100, 1),
                        cell(r, "retrieval_top", 100, 1),
                        cell(r, "mlm_loss", 1, 3),
                        chance,
                    ]
                )
            )
    return lines


def choice_markdown(summary, methods):
    """Step-2 checkpoint chosen without labels against the last one and the best (no lines if unmeasured)."""
    rows = [
        (lang, m, key, c)
        for lang, row in summary.items()
        for m in methods
        for key, c in row["methods"].get(m, {}).get("choice", {}).items()
    ]
    if not rows:
        return []
    lines = [
        "",
        "Step-2 checkpoint chosen without labels: the one with the lowest masked-LM loss on the target's "
        "valid split ("
        + "; ".join(f"{k}: {v}" for k, v in CHOICE.items())
        + "; a tie to the later one, as "
        "fairseq's best checkpoint), against the last checkpoint and the best one (an oracle: it reads the "
        "test labels); zero-shot accuracy (%), mean over seeds; chosen - last per seed.",
        "",
        bench.row(
            [
                "language",
                "method",
                "chosen by",
                "last",
                "chosen",
                "best (oracle)",
                "chosen - last, per seed",
                "chosen at updates",
            ]
        ),
        bench.rule(8),
    ]
    for lang, m, key, c in rows:
        lines.append(
            bench.row(
                [
                    lang,
                    m,
                    key,
                    f"{100 * c['last']:.1f}",
                    f"{100 * c['chosen']:.1f}",
                    f"{100 * c['peak']:.1f}",
                    ", ".join(f"{100 * d:+.1f}" for d in c["differences"]),
                    ", ".join(map(str, c["chosen_updates"])),
                ]
            )
        )
    for m, key in dict.fromkeys((m, key) for _, m, key, _ in rows):
        cs = [c for _, mm, k, c in rows if (mm, k) == (m, key)]
        diffs = [d for c in cs for d in c["differences"]]
        lines.append(
            bench.row(
                [
                    "all",
                    m,
                    key,
                    f"{100 * statistics.mean(c['last'] for c in cs):.1f}",
                    f"{100 * statistics.mean(c['chosen'] for c in cs):.1f}",
                    f"{100 * statistics.mean(c['peak'] for c in cs):.1f}",
                    f"mean {100 * statistics.mean(diffs):+.1f} (from {100 * min(diffs):+.1f} to {100 * max(diffs):+.1f})",
                    f"the last in {sum(c['chosen_last'] for c in cs)} of {len(diffs)}",
                ]
            )
        )
    return lines + chosen_target_markdown(summary, methods)


def chosen_target_markdown(summary, methods):
    """The compute ratios to the target of the baseline's chosen checkpoints (no lines if none)."""
    ratios = [
        (lang, m, row["methods"][m]["baseline"], row["methods"][m]["chosen_target"])
        for lang, row in summary.items()
        for m in methods
        if "chosen_target" in row["methods"].get(m, {})
    ]
    if not ratios:
        return []
    lines = [
        "",
        "Compute to the target of the chosen checkpoints: the baseline's accuracy at its chosen "
        "checkpoints (mean over seeds) - 1 point, reached on the seed-averaged curves. A run whose chosen "
        "checkpoint is not its last has stopped improving by this measure (converged); the count above "
        "says how many were still improving at the end.",
        "",
        bench.row(
            ["language", "method", "baseline", "chosen by", "target", "FLOPs ratio / wall ratio"]
        ),
        bench.rule(6),
    ]
    for lang, m, base, t in ratios:
        cell = (
            f"{t['flops_ratio']:.2f}x / {t['seconds_ratio']:.2f}x"
            if t["flops_ratio"]
            else "not reached"
            if t["flops"][0]
            else "the baseline's curve does not reach it"
        )
        lines.append(bench.row([lang, m, base, t["by"], f"{100 * t['target']:.1f}", cell]))
    return lines


def methods_of(result):
    """The methods of a transfer.json in --methods order, as far as its summary shows them (a method measured
    in no language has no column then)."""
    return list(dict.fromkeys(m for row in result["summary"].values() for m in row["methods"]))


def from_json(result, methods=None):
    """transfer.md rewritten from a transfer.json (what main wrote beside it), for --methods ``methods``
    (default: :func:`methods_of`)."""
    return markdown(
        result["summary"],
        methods or methods_of(result),
        result["english"],
        result["minipost_cost"],
        result["meta"],
        result.get("paired"),
    )


# ---------------------------------------------------------------- transfer.png


def plot(summary, methods, path):
    """One column per language; rows: zero-shot accuracy, then (where measured) retrieval and MLM loss, per FLOPs."""
    plt = bench.pyplot()
    import matplotlib.ticker

    langs = list(summary)
    panels = [("accuracy", 100, "zero-shot accuracy (%)")]
    if any(
        "retrieval" in p
        for row in summary.values()
        for r in row["methods"].values()
        for p in r["curve"]
    ):
        panels += [
            ("retrieval", 100, "retrieval target->source, middle layer (%)"),
            ("mlm_loss", 1, "big-model MLM loss (bits)"),
        ]
    colours = {
        m: f"C{i}" for i, m in enumerate(m for m in methods if m not in CONTROLS)
    }  # the same in every row
    fig, axes = plt.subplots(
        len(panels), len(langs), figsize=(4 * len(langs), 3.4 * len(panels)), squeeze=False
    )
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
                    ax.axhline(
                        ys[-1],
                        ls=":",
                        color="grey" if m.startswith("random") else "tab:olive",
                        label=m,
                    )
                else:
                    ax.errorbar(
                        xs,
                        ys,
                        yerr=[scale * p[spread] for p in r["curve"]],
                        marker="o",
                        ms=3,
                        capsize=2,
                        color=colours[m],
                        label=m,
                    )
            if key == "accuracy":
                ax.axhline(100 * row["majority"], ls="--", color="black", lw=0.8, label="majority")
            elif key == "retrieval" and row.get("retrieval_chance"):
                ax.axhline(
                    100 * row["retrieval_chance"], ls="--", color="black", lw=0.8, label="chance"
                )
            ax.set_title(lang)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}"))
            ax.set_xticks(
                [
                    t
                    for t in (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)
                    if t
                    <= 2
                    * max(p["flops"] / 1e12 for r in row["methods"].values() for p in r["curve"])
                ]
            )
            ax.set_xlabel("step-2 TFLOPs")
    for (_, _, label), ax in zip(panels, axes[:, 0]):
        ax.set_ylabel(label)
    for ax in axes[:, -1]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")  # path may be a temporary name
