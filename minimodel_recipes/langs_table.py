"""The table of run_langs.sh: one row per language, and the step-2 compute of each method over all.

    .venv/bin/python -m minimodel_recipes.langs_table RUNS/langs/results.tsv [--runs RUNS]

Per language: the majority class, the rows the step-2 init anchored (from the step-2
train.log), zero-shot accuracy of every method (mean ± half the range over seeds), and
whether each trained method transfers: its lowest seed-spread bound (mean - half range)
above the majority class and above both controls' highest bound (mean + half range).
Then, per method, the step-2 compute summed over every language and seed, read from the
step-2 checkpoints (the FLOPs and seconds the plugin's task records, flops.checkpoint_cost).
"""

import argparse
import re
import sys
from pathlib import Path

from minimodel_recipes import paired, settings, table

STEP2_TASK = "NewLanguageMLMTask"
COPIED = re.compile(r"init (\S+) \((\d+) rows copied")


def bounds(values):
    """(mean - half range, mean + half range) of a list of accuracies."""
    mean, half = table.spread(values)
    return mean - half, mean + half


def transfers(acc, majority, lang, method, controls):
    """'yes' when METHOD's lowest bound in LANG is above the majority class and every control's highest
    bound, 'no' when it is not, '' when METHOD has no result there."""
    if not acc.get((lang, method)):
        return ""
    ceiling = max(
        [majority[lang]] + [bounds(acc[lang, c])[1] for c in controls if acc.get((lang, c))]
    )
    return "yes" if bounds(acc[lang, method])[0] > ceiling else "no"


def anchored_rows(runs, lang):
    """Rows the step-2 init copied for LANG (its first step-2 log with an anchored init), or None."""
    for log in sorted(Path(runs, "adapt", lang).glob("*/seed*/train.log")):
        for init, rows in COPIED.findall(log.read_text(encoding="utf-8", errors="replace")):
            if init != "random":
                return int(rows)
    return None


def step2_cost(runs, lang, method, seed):
    """(FLOPs, seconds) recorded in a step-2 checkpoint, or None when it is missing."""
    from minimodel_fairseq import flops
    from minimodel_fairseq.compat import load_checkpoint

    path = Path(runs, "adapt", lang, method, f"seed{seed}", "checkpoint_last.pt")
    return flops.checkpoint_cost(load_checkpoint(str(path)), STEP2_TASK) if path.is_file() else None


def markdown(rows, runs):
    acc, _, majority, n = table.collect(rows)
    langs = list(
        dict.fromkeys(r["lang"] for r in rows if r["method"] in settings.METHODS)
    )  # the targets
    methods = [m for m in table.ORDER if m in settings.METHODS and any(k[1] == m for k in acc)]
    trained = [m for m in methods if not settings.METHODS[m].control]
    controls = [m for m in methods if settings.METHODS[m].control]
    lines = [
        "| language | n | majority | anchored rows | "
        + " | ".join(methods)
        + " | transfers: "
        + " / ".join(trained)
        + " |",
        "|---" * (len(methods) + 5) + "|",
    ]
    for lang in langs:
        verdict = [transfers(acc, majority, lang, m, controls) for m in trained]
        rows_copied = anchored_rows(runs, lang)
        lines.append(
            f"| {lang} | {n[lang]} | {100 * majority[lang]:.1f} | "
            f"{'' if rows_copied is None else rows_copied} | "
            + " | ".join(table.cell(acc.get((lang, m), [])) for m in methods)
            + " | "
            + " / ".join(verdict)
            + " |"
        )
    seeds = sorted({r["seed"] for r in rows if r["lang"] in langs}, key=str)
    lines += [
        "",
        f"Zero-shot accuracy (%) on the test chapters, mean ± half the range over seeds "
        f"{' '.join(seeds)}; majority = always the most frequent training genre; anchored rows = rows the "
        "step-2 init copied from the body (the special symbols included); controls (untrained embeddings, "
        f"settings.py --methods): {', '.join(controls)}. Transfers: the method's mean minus half its range "
        "is above the majority class and above each control's mean plus half its range.",
    ]
    lines += [""] + [
        f"In-language ({m.removeprefix('in-language (').rstrip(')')}): {lang} {table.cell(values)} % "
        f"(n = {n[lang]}, majority {100 * majority[lang]:.1f})."
        for (lang, m), values in acc.items()
        if m not in settings.METHODS
    ]
    lines += [
        "",
        "| method | step-2 runs | step-2 TFLOPs, all languages | step-2 s, all languages | FLOPs vs full |",
        "|---|---|---|---|---|",
    ]
    total = {}
    for m in methods:
        costs = [
            step2_cost(runs, r["lang"], m, r["seed"])
            for r in rows
            if r["method"] == m and r["lang"] in langs
        ]
        costs = [c for c in costs if c is not None]
        if costs:
            total[m] = (sum(c[0] for c in costs), sum(c[1] for c in costs), len(costs))
    for m, (f, s, k) in total.items():
        ratio = (
            f"{total['full'][0] / f:.2f}x fewer"
            if settings.METHODS[m].kind == "mini" and "full" in total
            else ""
        )
        lines.append(f"| {m} | {k} | {f / 1e12:.4g} | {s:.0f} | {ratio} |")
    lines += [
        "",
        "Step-2 compute summed over every language and seed, as the step-2 checkpoints record it "
        "(the plugin's FLOP count; training seconds). Controls run one update at lr 0.",
    ]
    # the languages where both methods have every seed (a run still under way reports the finished ones)
    both = [
        lang
        for lang in langs
        if len(acc.get((lang, "full"), [])) == len(acc.get((lang, "minijoint"), [])) == len(seeds)
    ]
    if both:
        try:
            lines += [
                "",
                paired.markdown(paired.compare(runs, both, seeds), "full", "minijoint", seeds),
            ]
        except ValueError as e:  # runs scored before 4_transfer.sh wrote predictions
            lines += ["", f"No paired comparison: {e}."]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("results", help="results.tsv of run_langs.sh (RUNS/langs/results.tsv)")
    p.add_argument(
        "--runs", default=None, help="the recipes' RUNS directory (default: settings' RUNS)"
    )
    args = p.parse_args(argv)
    runs = args.runs or settings.resolve()["RUNS"]
    try:
        rows = settings.read_results(args.results)
    except (settings.SettingError, OSError) as e:
        print(f"langs_table.py: error: {e}", file=sys.stderr)
        return 2
    if not rows:
        print(f"langs_table.py: error: {args.results} has no results yet", file=sys.stderr)
        return 2
    print(markdown(rows, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
