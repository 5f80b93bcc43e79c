"""Paired comparison of two step-2 methods: per-seed differences and a bootstrap 95 % interval.

    .venv/bin/python -m minimodel_recipes.paired RUNS --langs de fr --seeds 1 2 [--a full --b minijoint]

Two methods scored with the same seed share the step-3 classifier and the test verses, so their
difference is measured verse by verse (the predictions 4_transfer.sh writes to
``RUNS/transfer/LANG/METHOD/seedSEED.predictions.tsv``). The interval resamples both sources
of noise: the seeds (with replacement) and the test verses (with replacement, the same verses
for every seed, since the seeds share them); ``--reps`` resamples, percentile interval. All
languages together: the mean of the per-language differences, each language resampled on its
own. Seeds needed: how many seeds would bring the interval to ``--width`` points, assuming it
narrows as 1 / sqrt(seeds) (an estimate: the verses' share of the width does not narrow).
"""

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np

REPS = 2000


def correct(runs, lang, method, seed):
    """0/1 per test verse of one swapped classifier, in the test set's order."""
    path = Path(runs, "transfer", lang, method, f"seed{seed}.predictions.tsv")
    if not path.is_file():
        raise ValueError(
            f"{path} is missing: examples/bible/4_transfer.sh {lang} {method} {seed} writes it"
        )
    with open(path, encoding="utf-8") as f:
        return np.array(
            [int(r["correct"]) for r in csv.DictReader(f, delimiter="\t")], dtype=np.float64
        )


def differences(runs, lang, a, b, seeds):
    """[seeds x verses] of correct(a) - correct(b); refuses predictions of different test sets."""
    rows = []
    for s in seeds:
        x, y = correct(runs, lang, a, s), correct(runs, lang, b, s)
        if len(x) != len(y) or rows and len(x) != rows[0].shape[0]:
            raise ValueError(
                f"{lang}: the predictions of {a} and {b} (seeds {' '.join(seeds)}) cover different "
                f"numbers of test verses: rerun 4_transfer.sh for both"
            )
        rows.append(x - y)
    return np.stack(rows)


def bootstrap_means(diff, reps=REPS, rng=None):
    """``reps`` resampled mean differences of one language's [seeds x verses] matrix."""
    rng = rng or np.random.default_rng(0)
    s, v = diff.shape
    per_seed = np.empty(reps)
    for k in range(reps):
        seeds = rng.integers(0, s, s)
        verses = rng.integers(0, v, v)
        per_seed[k] = diff[np.ix_(seeds, verses)].mean()
    return per_seed


def interval(samples):
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return float(lo), float(hi)


def seeds_needed(n_seeds, width, target):
    """Seeds for the interval to reach ``target`` if it narrows as 1 / sqrt(seeds)."""
    return n_seeds if width <= target else math.ceil(n_seeds * (width / target) ** 2)


def compare(runs, langs, seeds, a="full", b="minijoint", reps=REPS, width=0.03):
    """Per language and all together: mean difference a - b, per-seed differences, 95 % interval."""
    return summarise({lang: differences(runs, lang, a, b, seeds) for lang in langs}, reps, width)


def summarise(diffs, reps=REPS, width=0.03):
    """compare()'s result from {language: [seeds x verses] differences} (every language the same seeds)."""
    rng = np.random.default_rng(0)
    out, boots = {}, []
    for lang, diff in diffs.items():
        boot = bootstrap_means(diff, reps, rng)
        boots.append(boot)
        lo, hi = interval(boot)
        out[lang] = {
            "difference": float(diff.mean()),
            "per_seed": [float(d) for d in diff.mean(axis=1)],
            "interval": [lo, hi],
            "verses": int(diff.shape[1]),
        }
    pooled = np.mean(boots, axis=0)
    lo, hi = interval(pooled)
    out["all"] = {
        "difference": float(np.mean([out[lang]["difference"] for lang in diffs])),
        "interval": [lo, hi],
        "languages": len(diffs),
    }
    n_seeds = next(iter(diffs.values())).shape[0]
    for key in out:
        w = out[key]["interval"][1] - out[key]["interval"][0]
        out[key]["seeds_needed"] = seeds_needed(n_seeds, w, width)
    return out


def markdown(result, a, b, seeds, width=0.03, reps=REPS):
    pts = lambda x: f"{100 * x:+.1f}"  # noqa: E731
    lines = [
        f"| language | {a} - {b} | per seed ({', '.join(seeds)}) | 95 % interval | width | seeds for "
        f"{100 * width:.0f} points |",
        "|---|---|---|---|---|---|",
    ]
    for key, r in result.items():
        lo, hi = r["interval"]
        lines.append(
            f"| {key} | {pts(r['difference'])} | {' / '.join(pts(d) for d in r.get('per_seed', []))} | "
            f"[{pts(lo)}, {pts(hi)}] | {100 * (hi - lo):.1f} | {r['seeds_needed']} |"
        )
    lines += [
        "",
        f"Accuracy points; paired by seed (the same step-3 classifier) and by test verse; the interval "
        f"resamples seeds and verses ({reps} resamples); 'all' is the mean over languages. Seeds for "
        f"{100 * width:.0f} points: estimated from 1 / sqrt(seeds).",
    ]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", help="the recipes' RUNS directory")
    p.add_argument("--langs", nargs="+", required=True, help="target languages")
    p.add_argument(
        "--seeds", nargs="+", default=["1", "2"], help="seeds (each a step-3 classifier)"
    )
    p.add_argument("--a", default="full", help="first method (default full)")
    p.add_argument("--b", default="minijoint", help="second method (default minijoint)")
    p.add_argument("--reps", type=int, default=REPS, help="bootstrap resamples")
    args = p.parse_args(argv)
    try:
        result = compare(args.runs, args.langs, args.seeds, args.a, args.b, args.reps)
    except (OSError, ValueError, KeyError) as e:
        print(f"paired.py: error: {e}", file=sys.stderr)
        return 2
    print(markdown(result, args.a, args.b, args.seeds, reps=args.reps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
