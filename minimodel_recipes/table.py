"""Summarise results.tsv (columns: settings.RESULTS_COLUMNS, read by name) as Markdown.

.venv/bin/python -m minimodel_recipes.table RUNS/results.tsv [--plot RUNS/results.png]
"""

import argparse
import os
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from minimodel_recipes import settings

# rows in the table's order: the in-language scores of each big model, then the method table's order
ORDER = [settings.in_language(b) for b in settings.BIG_MODELS] + list(settings.METHODS)
TRAINED = [m for m, spec in settings.METHODS.items() if not spec.control]
MINI = [m for m, spec in settings.METHODS.items() if spec.kind == "mini"]


def spread(values):
    """(mean, half the range) of seeds' values: how every table here reports a spread."""
    return statistics.mean(values), (max(values) - min(values)) / 2


def cell(values, scale=100.0, digits=1):
    if not values:
        return ""
    mean, half = spread(values)
    if len(values) == 1:
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * half:.{digits}f}"


def _ratio(mean, a, b):
    return (
        f"{mean[a] / mean[b]:.2f}x" if mean.get(a) and mean.get(b) else ""
    )  # 0 s: too short to time


def collect(rows):
    """Accuracies and step-2 seconds per (lang, method); majority and test size per language."""
    acc, secs = defaultdict(list), defaultdict(list)
    majority, n = {}, {}
    for r in rows:
        key = r["lang"], r["method"]
        acc[key].append(float(r["accuracy"]))
        if r["step2_seconds"] != "NA":
            secs[key].append(float(r["step2_seconds"]))
        majority[r["lang"]], n[r["lang"]] = float(r["majority"]), int(r["n"])
    return acc, secs, majority, n


def markdown(rows):
    acc, secs, majority, n = collect(rows)
    methods = [m for m in ORDER if any(k[1] == m for k in acc)]
    langs = list(dict.fromkeys(k[0] for k in acc))
    lines = [
        "| language | n | majority | " + " | ".join(methods) + " |",
        "|---" * (len(methods) + 3) + "|",
    ]
    for lang in langs:
        lines.append(
            f"| {lang} | {n[lang]} | {100 * majority[lang]:.1f} | "
            + " | ".join(cell(acc.get((lang, m), [])) for m in methods)
            + " |"
        )
    lines += [
        "",
        "Zero-shot accuracy (%) on the test chapters, mean ± half the range over seeds; "
        "majority = always the most frequent training genre; random* = untrained target embeddings "
        "(random init); copy_only = untrained, only the rows copied by the shared init.",
    ]
    timed = [m for m in TRAINED if any(k[1] == m for k in secs)]
    if timed:
        mini = [m for m in MINI if m in timed]
        lines += [
            "",
            "| language | "
            + " | ".join(f"step-2 s {m}" for m in timed)
            + "".join(f" | full / {m}" for m in mini)
            + " |",
            "|---" * (len(timed) + len(mini) + 1) + "|",
        ]
        for lang in langs:
            mean = {m: statistics.mean(secs[lang, m]) for m in timed if secs.get((lang, m))}
            if mean:
                lines.append(
                    f"| {lang} | "
                    + " | ".join(f"{mean[m]:.0f}" if m in mean else "" for m in timed)
                    + "".join(f" | {_ratio(mean, 'full', m)}" for m in mini)
                    + " |"
                )
        lines += [
            "",
            "Step-2 training wall time (seconds, fairseq's own 'done training in'), mean over seeds.",
        ]
    return "\n".join(lines)


def plot(rows, path):
    """Zero-shot accuracy per language and method (bars: mean, whiskers: the seeds' range), majority dashed."""
    from minimodel_recipes.bench import pyplot

    plt = pyplot()
    acc, _, majority, _ = collect(rows)
    methods = [m for m in ORDER if any(k[1] == m for k in acc)]
    langs = list(dict.fromkeys(k[0] for k in acc))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(1.2 + 0.5 * len(methods) * len(langs), 3.4))
    for i, m in enumerate(methods):
        xs = [
            j + (i - (len(methods) - 1) / 2) * width
            for j, lang in enumerate(langs)
            if acc.get((lang, m))
        ]
        vals = [acc[lang, m] for lang in langs if acc.get((lang, m))]
        means = [100 * statistics.mean(v) for v in vals]
        err = [
            [100 * (statistics.mean(v) - min(v)) for v in vals],
            [100 * (max(v) - statistics.mean(v)) for v in vals],
        ]
        ax.bar(xs, means, width, yerr=err, capsize=2, label=m)
    for j, lang in enumerate(langs):
        ax.hlines(
            100 * majority[lang],
            j - 0.45,
            j + 0.45,
            colors="black",
            linestyles="--",
            lw=0.8,
            label="majority" if j == 0 else None,
        )
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("genre accuracy: the source in-language, the targets zero-shot", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    tmp = Path(path).with_name(
        f".{Path(path).name}.tmp"
    )  # never a half-written plot under the real name
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("results", help="results.tsv of examples/bible/run_all.sh (or 4_transfer.sh)")
    p.add_argument("--plot", metavar="PNG", help="also draw the accuracies to this PNG file")
    args = p.parse_args(argv)
    try:
        rows = settings.read_results(args.results)
    except (settings.SettingError, OSError) as e:
        print(f"table.py: error: {e}", file=sys.stderr)
        return 2
    if not rows:
        print(f"table.py: error: {args.results} has no results yet", file=sys.stderr)
        return 2
    print(markdown(rows))
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
