"""Same results in bf16? The default recipe run twice, in fp32 and with --bf16, compared.

    PRECISION=bf16 RUNS=runs/bf16 LANGS="de fr" SEEDS="1 2" examples/bible/run_langs.sh
    LANGS="de fr" SEEDS="1 2" examples/bible/run_langs.sh            # fp32, RUNS=runs/bible
    .venv/bin/python benchmarks/precision.py --fp32 runs/bible --bf16 runs/bf16 --langs de fr \\
        --seeds 1 2 [--out docs/results/bf16.md]   # also writes bf16.json and bf16.png beside it
    .venv/bin/python benchmarks/precision.py --report-from docs/results/bf16.json   # its table again

Both runs are whole recipes (step 1 pretraining, step 3 per seed, step 2 per language, method
and seed, step 4), read from each RUNS directory: the zero-shot accuracies from
``RUNS/langs/results.tsv``, the training losses from every ``train.log`` and the training time
from fairseq's "done training in" line. Per language and method it reports both precisions'
accuracies per seed, their means and the difference of the means, and whether that difference
lies within the seeds' spread (at most the larger of the two half ranges). The plot overlays
the loss curves of each step, fp32 solid and bf16 dashed.

The two runs' wall times come from separate runs and depend on what else the machine did
meanwhile; the bf16 speed-up measured side by side is benchmarks/peak.py's.
"""

import argparse
import re
import sys
from pathlib import Path

from minimodel_recipes import bench, progress, settings, table

ROOT = Path(__file__).resolve().parents[1]

PRECISIONS = ("fp32", "bf16")
DONE_LINE = re.compile(progress.DONE + r" ([\d.]+) seconds")


def _text(log):
    return Path(log).read_text(encoding="utf-8", errors="replace") if Path(log).is_file() else ""


def curve(log):
    """[(update, training loss)] of a fairseq train.log (its train_inner lines, read as progress.py reads them)."""
    points = []
    for line in _text(log).splitlines():
        u, loss = progress.UPDATE.search(line), progress.LOSS.search(line)
        if "train_inner" in line and u and loss:
            points.append((int(u.group(1)), float(loss.group(1))))
    return points


def seconds(log):
    """fairseq's training time of a finished train.log, or None."""
    found = DONE_LINE.findall(_text(log))
    return float(found[-1]) if found else None


def steps(runs, langs, methods, seeds, model="minijoint"):
    """{step name: train.log path} of one run: pretraining, step 3 per seed, step 2 per lang/method/seed."""
    out = {"step 1 pretraining": Path(runs, "pretrain", model, "train.log")}
    out.update(
        {f"step 3 seed {s}": Path(runs, "finetune", model, f"seed{s}", "train.log") for s in seeds}
    )
    out.update(
        {
            f"step 2 {lang} {m} seed {s}": Path(runs, "adapt", lang, m, f"seed{s}", "train.log")
            for lang in langs
            for m in methods
            for s in seeds
        }
    )
    return out


def accuracies(runs, langs, methods, seeds):
    """{(lang, method): {seed: accuracy}} from RUNS/langs/results.tsv, the in-language rows under lang 'en'."""
    path = Path(runs, "langs", "results.tsv")
    out = {}
    for r in settings.read_results(path):
        if r["seed"] in seeds and (
            r["lang"] in langs and r["method"] in methods or r["method"].startswith("in-language")
        ):
            out.setdefault((r["lang"], r["method"]), {})[r["seed"]] = float(r["accuracy"])
    return out


def compare(acc):
    """Per (lang, method) present in both precisions: the seeds, means, half ranges, difference, verdict."""
    rows = []
    for key in acc["fp32"]:
        if key not in acc["bf16"]:
            continue
        row = {"lang": key[0], "method": key[1]}
        for p in PRECISIONS:
            values = [acc[p][key][s] for s in sorted(acc[p][key])]
            mean, half = table.spread(values)
            row[p] = {"seeds": acc[p][key], "mean": mean, "half_range": half}
        row["difference"] = row["bf16"]["mean"] - row["fp32"]["mean"]
        row["spread"] = max(row["fp32"]["half_range"], row["bf16"]["half_range"])
        row["within_spread"] = abs(row["difference"]) <= row["spread"]
        rows.append(row)
    return rows


def markdown(rows, times, meta):
    """The accuracy table with its verdicts, then the steps' seconds and final losses (no final newline)."""
    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    lines = [
        "| language | method | fp32 per seed | bf16 per seed | fp32 mean ± half range | bf16 mean ± half range "
        "| bf16 - fp32 | within the seeds' spread |",
        bench.rule(8),
    ]
    for r in rows:
        per = {
            p: " / ".join(pct(r[p]["seeds"][s]) for s in sorted(r[p]["seeds"])) for p in PRECISIONS
        }
        lines.append(
            f"| {r['lang']} | {r['method']} | {per['fp32']} | {per['bf16']} | "
            f"{pct(r['fp32']['mean'])} ± {pct(r['fp32']['half_range'])} | "
            f"{pct(r['bf16']['mean'])} ± {pct(r['bf16']['half_range'])} | "
            f"{100 * r['difference']:+.1f} | {'yes' if r['within_spread'] else 'no'} |"
        )
    within = sum(r["within_spread"] for r in rows)
    lines += [
        "",
        f"Accuracy (%) of the default recipe run twice, seeds {' '.join(meta['seeds'])}: "
        f"{within} of {len(rows)} differences of the means lie within the seeds' spread (the larger "
        "half range of the two).",
    ]
    lines += [
        "",
        "| step | fp32 s | bf16 s | fp32 / bf16 | fp32 final loss | bf16 final loss |",
        bench.rule(6),
    ]
    for name, t in times.items():
        ratio = (
            f"{t['fp32']['seconds'] / t['bf16']['seconds']:.2f}x"
            if t["fp32"]["seconds"] and t["bf16"]["seconds"]
            else ""
        )
        fmt = lambda v, d: "" if v is None else f"{v:.{d}f}"  # noqa: E731
        lines.append(
            f"| {name} | {fmt(t['fp32']['seconds'], 0)} | {fmt(t['bf16']['seconds'], 0)} | {ratio} | "
            f"{fmt(t['fp32']['final_loss'], 3)} | {fmt(t['bf16']['final_loss'], 3)} |"
        )
    lines += [
        "",
        "Training seconds (fairseq's 'done training in') and the last logged training loss of each step; "
        "the two runs ran at different times, so their wall-time ratios carry the machine's load of each "
        "(benchmarks/peak.py measures the speed-up side by side).",
    ]
    return "\n".join(lines)


def from_json(result):
    """bf16.md rewritten from a bf16.json (what main wrote beside it)."""
    return markdown(result["accuracy"], result["steps"], result["meta"]) + "\n"


def plot(curves, path):
    """One panel per step (step 2: per language and method), the seeds' loss curves in both precisions."""
    plt = bench.pyplot()
    groups = {}  # one panel per step kind (and language/method for step 2); the seeds share it
    for name in curves["fp32"]:
        groups.setdefault(re.sub(r" seed \d+$", "", name), []).append(name)
    cols = 3
    rows = (len(groups) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, (group, names) in zip(axes.flat, groups.items()):
        for k, name in enumerate(names):
            for p, style in zip(PRECISIONS, ("-", "--")):
                pts = curves[p].get(name) or []
                if pts:
                    ax.plot(
                        [u for u, _ in pts],
                        [v for _, v in pts],
                        style,
                        color=f"C{k}",
                        linewidth=1.2,
                        label=f"{p} seed {name.rsplit(' ', 1)[-1]}" if " seed " in name else p,
                    )
        ax.set_title(group, fontsize=10)
        ax.set_xlabel("update")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(groups) :]:
        ax.axis("off")
    fig.suptitle("Training loss, fp32 (solid) and --bf16 (dashed)")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")  # path may be a temporary name


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # both runs are required, unless the report is rewritten from a JSON
    runs_required = not any(
        a.split("=")[0] == "--report-from" for a in (sys.argv[1:] if argv is None else argv)
    )
    p.add_argument(
        "--fp32", required=runs_required, help="RUNS directory of the fp32 run (run_langs.sh)"
    )
    p.add_argument(
        "--bf16", required=runs_required, help="RUNS directory of the PRECISION=bf16 run"
    )
    p.add_argument("--langs", nargs="+", default=["de", "fr"], help="target languages to compare")
    p.add_argument(
        "--methods", nargs="+", default=["full", "minijoint"], help="step-2 methods to compare"
    )
    p.add_argument("--seeds", nargs="+", default=["1", "2"], help="seeds to compare")
    p.add_argument("--out", help="write the table here (.md), with .json and .png beside it")
    p.add_argument(
        "--report-from",
        metavar="JSON",
        help="print the table rewritten from this .json (what --out "
        "wrote beside the .md), reading no run and writing nothing",
    )
    args = p.parse_args(argv)
    if args.report_from:
        print(from_json(bench.read_json(args.report_from)), end="")
        return 0
    runs = {"fp32": args.fp32, "bf16": args.bf16}
    try:
        acc = {pr: accuracies(runs[pr], args.langs, args.methods, args.seeds) for pr in PRECISIONS}
    except (settings.SettingError, OSError) as e:
        print(
            f"precision.py: error: {e}; run run_langs.sh for both precisions first (see --help)",
            file=sys.stderr,
        )
        return 2
    rows = compare(acc)
    if not rows:
        print(
            "precision.py: error: no (language, method) has results in both runs yet",
            file=sys.stderr,
        )
        return 2
    logs = {pr: steps(runs[pr], args.langs, args.methods, args.seeds) for pr in PRECISIONS}
    curves = {pr: {name: curve(log) for name, log in logs[pr].items()} for pr in PRECISIONS}
    times = {
        name: {
            pr: {
                "seconds": seconds(logs[pr][name]),
                "final_loss": curves[pr][name][-1][1] if curves[pr][name] else None,
            }
            for pr in PRECISIONS
        }
        for name in logs["fp32"]
    }
    meta = {
        "fp32": args.fp32,
        "bf16": args.bf16,
        "langs": args.langs,
        "methods": args.methods,
        "seeds": args.seeds,
    }
    text = markdown(rows, times, meta)
    print(text)
    if args.out:
        out = Path(args.out)
        bench.write_text(out, text + "\n", encoding="utf-8")
        bench.write_json(
            out.with_suffix(".json"),
            {"meta": meta, "accuracy": rows, "steps": times, "curves": curves},
            end="\n",
            encoding="utf-8",
        )
        bench.write_plot(out.with_suffix(".png"), lambda tmp: plot(curves, tmp))
        print(f"wrote {out}, {out.with_suffix('.json')}, {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
