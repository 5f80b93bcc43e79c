"""Active forgetting against its reference body: two budget.json reports of one budget, side by side.

    .venv/bin/python -m minimodel_recipes.forgetting_report --without docs/results/budget.json \
        --with runs/forget2250/report/budget.json --budget 8000 [--runs runs/forget2250/8000] \
        [--out docs/results/forgetting]

Both reports are benchmarks/budget.py's; the two bodies must differ in the forgetting settings alone
(FORGET_EVERY, and FORGET_LR with it; every
other setting that affects results equal, a record written before a setting existed read at what
the recipes did then), so that what differs is the pretraining. Per language and series
(full and MiniJoint step 2 from the anchored and the random init, the controls) the accuracy of
each body, the difference of the means (with - without forgetting) and langs_table.py's verdict;
the bodies' English valid losses and step-3 accuracy; the label-free measures. With --runs (the
forgetting run's RUNS_ROOT/BUDGET) the step-2 FLOPs and seconds of each trained series come from
its checkpoints (the same shape and updates without forgetting: step 2 does not see how the body
was pretrained) and the plot puts accuracy against step-2 compute, one point per series and body.
The two bodies' classifiers differ, so the difference is not paired verse by verse: its only
interval is the seeds' range shown beside each mean. Writes OUT.md, OUT.json and OUT.png.
"""

import argparse
import statistics
import sys
from pathlib import Path

from minimodel_recipes import bench, langs_table, table
from minimodel_recipes import settings as recipe_settings
from minimodel_recipes.budget_series import CONTROLS, INITS, TRAINED, label, series

BODIES = ("without", "with")
FORGETTING = ("FORGET_EVERY", "FORGET_LR")  # the settings of the pretraining compared
SERIES = [label(i, m) for i, m in series() if m in TRAINED]
CONTROL_SERIES = [label(i, m) for i, m in series() if m in CONTROLS]


class InputError(ValueError):
    """The two reports cannot be compared; the message says why and what to give instead."""


def entry(report, budget, path):
    for e in report["summary"]:
        if e["budget"] == budget:
            return e
    raise InputError(
        f"{path} has no budget {budget} (it has {', '.join(str(e['budget']) for e in report['summary'])})"
    )


def check_settings(without, with_, budget):
    """The two bodies' settings differ in FORGET_EVERY (FORGET_LR may differ too), and in nothing else
    that affects results."""
    now = with_["settings"][str(budget)]
    then = recipe_settings.with_defaults(without["settings"][str(budget)], now)
    if then.get("FORGET_EVERY", "0") == now.get("FORGET_EVERY", "0"):
        raise InputError(
            f"both reports were pretrained with FORGET_EVERY={now.get('FORGET_EVERY', '0')}: "
            "give --with the report of a forgetting run (FORGET_EVERY=K)"
        )
    other = {k for k in set(then) | set(now) if k not in FORGETTING and then.get(k) != now.get(k)}
    if other:
        diff = recipe_settings.differences(
            {k: then.get(k) for k in other}, {k: now.get(k) for k in other}
        )
        raise InputError(
            f"the two bodies differ in more than FORGET_EVERY ({diff}): rerun one of them with the "
            "other's settings"
        )
    return int(now["FORGET_EVERY"])


def step2_compute(runs, langs, seeds):
    """{series: (mean FLOPs, mean seconds)} of the trained series' step-2 checkpoints under RUNS_ROOT/BUDGET."""
    out = {}
    for init in INITS:
        for method in TRAINED:
            costs = [
                langs_table.step2_cost(Path(runs, init), lang, method, seed)
                for lang in langs
                for seed in seeds
            ]
            costs = [c for c in costs if c]
            if costs:
                out[label(init, method)] = [
                    statistics.fmean(c[0] for c in costs),
                    statistics.fmean(c[1] for c in costs),
                ]
    return out


def compare(without, with_, budget, paths=("--without", "--with"), compute=None):
    """The comparison's record: settings, K, bodies, per language every series of both bodies."""
    e = {b: entry(r, budget, p) for b, r, p in zip(BODIES, (without, with_), paths)}
    k = check_settings(without, with_, budget)
    langs = [r["lang"] for r in e["with"]["langs"]]
    rows = []
    for lang in langs:
        found = {b: next((r for r in e[b]["langs"] if r["lang"] == lang), None) for b in BODIES}
        if found["without"] is None:
            raise InputError(
                f"{paths[0]} has no {lang} at budget {budget}: compare the languages both ran"
            )
        rows.append(
            {
                "lang": lang,
                "majority": found["with"]["majority"],
                **{
                    key: {b: found[b][key] for b in BODIES}
                    for key in ("accuracy", "transfers", "retrieval", "mlm_loss")
                },
            }
        )
    return {
        "budget": budget,
        "forget_every": k,
        "settings": with_["settings"][str(budget)],
        "seeds": with_["seeds"],
        "complete": bool(without["complete"] and with_["complete"]),
        "bodies": {b: {"body": e[b]["body"], "english": e[b]["english"]} for b in BODIES},
        "langs": rows,
        "step2_compute": compute or {},
    }


def forgetting_label(result):
    lr = result["settings"].get("FORGET_LR", "run")
    return f"forgetting every {result['forget_every']}" + (f" ({lr} LR)" if lr != "run" else "")


def difference(a, b):
    return f"{100 * (statistics.fmean(b) - statistics.fmean(a)):+.1f}" if a and b else ""


def answer(result):
    """One sentence per trained series of the random init: where it transfers on each body."""
    out = []
    for name in (s for s in SERIES if "random init" in s):
        parts = []
        for b in BODIES:
            yes = [r["lang"] for r in result["langs"] if r["transfers"][b].get(name) == "yes"]
            parts.append(f"{b} forgetting {', '.join(yes) if yes else 'nowhere'}")
        out.append(f"{name} transfers: {'; '.join(parts)}")
    return out


def markdown(result):
    src = result["settings"]["SRC"]
    bodies = result["bodies"]
    lines = [
        "" if result["complete"] else "**Partial**: not every language and seed has finished yet.",
        "",
        *bench.table(
            [
                "body",
                "pretraining s",
                f"{src} valid loss, full / mini (bits)",
                f"{src} accuracy (step 3)",
            ],
            [
                [
                    "no forgetting" if b == "without" else forgetting_label(result),
                    ""
                    if bodies[b]["body"].get("seconds") is None
                    else f"{bodies[b]['body']['seconds']:.0f}",
                    ""
                    if bodies[b]["body"].get("primary_loss") is None
                    else f"{bodies[b]['body']['primary_loss']:.3f} / {bodies[b]['body']['mini_loss']:.3f}",
                    table.cell(bodies[b]["english"]),
                ]
                for b in BODIES
            ],
        ),
        "",
    ]
    names = SERIES + CONTROL_SERIES
    header = [
        "language",
        "majority",
        "series",
        "no forgetting",
        forgetting_label(result),
        "difference",
        "transfers",
    ]
    rows = []
    for r in result["langs"]:
        for n in names:
            acc = r["accuracy"]
            verdict = (
                " / ".join(r["transfers"][b].get(n) or "-" for b in BODIES) if n in SERIES else ""
            )
            rows.append(
                [
                    r["lang"],
                    f"{100 * r['majority']:.1f}",
                    n,
                    table.cell(acc["without"].get(n, [])),
                    table.cell(acc["with"].get(n, [])),
                    difference(acc["without"].get(n), acc["with"].get(n)),
                    verdict,
                ]
            )
    lines += bench.table(header, rows)
    lines += [
        "",
        f"Zero-shot accuracy (%) at budget {result['budget']}, mean ± half the range over seeds "
        f"{' '.join(map(str, result['seeds']))}; difference: of the means, forgetting - no forgetting (the "
        "classifiers differ, so it is not paired); transfers: no forgetting / forgetting (langs_table.py's rule).",
        "",
    ]
    rows = []
    for r in result["langs"]:
        for n in names:
            rows.append(
                [
                    r["lang"],
                    n,
                    *(table.cell(r["retrieval"][b].get(n, [])) for b in BODIES),
                    *(table.cell(r["mlm_loss"][b].get(n, []), scale=1, digits=2) for b in BODIES),
                ]
            )
    lines += bench.table(
        [
            "language",
            "series",
            "retrieval, no forgetting",
            "retrieval, forgetting",
            "MLM loss, no forgetting",
            "MLM loss, forgetting",
        ],
        rows,
    )
    compute = result["step2_compute"]
    if compute:
        full = compute.get(label("anchored", "full"))
        lines += [
            "",
            *bench.table(
                [
                    "series",
                    "step-2 TFLOPs per run",
                    "step-2 s per run",
                    "FLOPs ratio full / series",
                ],
                [
                    [
                        n,
                        f"{c[0] / 1e12:.3g}",
                        f"{c[1]:.0f}",
                        f"{full[0] / c[0]:.2f}x" if full and c[0] else "",
                    ]
                    for n, c in compute.items()
                ],
            ),
            "",
            "Step-2 compute from the forgetting run's checkpoints, mean over languages and seeds (the same "
            "updates and shape as without forgetting).",
        ]
    lines += ["", *(f"- {s}." for s in answer(result))]
    return "\n".join(lines).lstrip("\n") + "\n"


def plot(result, path):
    """Accuracy against step-2 compute (FLOPs when known), one panel per init; mean over languages and seeds,
    whiskers the range; the majority class dotted."""
    plt = bench.pyplot()
    fig, axes = plt.subplots(1, len(INITS), figsize=(10, 4), sharey=True)
    compute = result["step2_compute"]
    for ax, init in zip(axes, INITS):
        for b, color in zip(BODIES, ("tab:blue", "tab:orange")):
            for method, marker in zip(TRAINED, ("o", "s")):
                n = label(init, method)
                values = [v for r in result["langs"] for v in r["accuracy"][b].get(n, [])]
                if not values:
                    continue
                x = compute[n][0] / 1e12 if n in compute else TRAINED.index(method) + 1
                y = 100 * statistics.fmean(values)
                ax.errorbar(
                    [x],
                    [y],
                    yerr=[[y - 100 * min(values)], [100 * max(values) - y]],
                    marker=marker,
                    color=color,
                    capsize=3,
                    linestyle="none",
                    label=f"{method}, {'no forgetting' if b == 'without' else 'forgetting'}",
                )
        majority = 100 * statistics.fmean(r["majority"] for r in result["langs"])
        ax.axhline(majority, linestyle=":", color="gray", label="majority class")
        ax.set_title(f"{init} init")
        ax.set_xlabel("step-2 TFLOPs per run" if compute else "method")
        if compute:
            ax.set_xscale("log")
    axes[0].set_ylabel("zero-shot accuracy (%)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--without", required=True, help="budget.json of the body pretrained without forgetting"
    )
    p.add_argument(
        "--with", dest="with_", required=True, help="budget.json of the body pretrained with it"
    )
    p.add_argument(
        "--budget", type=int, default=8000, help="the budget (pretraining updates) to compare"
    )
    p.add_argument(
        "--runs", help="the forgetting run's RUNS_ROOT/BUDGET: step-2 compute from its checkpoints"
    )
    p.add_argument(
        "--out", default="docs/results/forgetting", help="writes OUT.md, OUT.json, OUT.png"
    )
    args = p.parse_args(argv)
    try:
        without, with_ = bench.read_json(args.without), bench.read_json(args.with_)
        compute = step2_compute(args.runs, with_["langs"], with_["seeds"]) if args.runs else None
        result = compare(without, with_, args.budget, (args.without, args.with_), compute)
    except KeyError as e:
        sys.exit(
            f"forgetting_report: error: a report lacks {e}: give budget.json files benchmarks/budget.py wrote"
        )
    except (InputError, OSError, ValueError) as e:
        sys.exit(f"forgetting_report: error: {e}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = markdown(result)
    bench.write_text(out.with_suffix(".md"), text)
    bench.write_json(out.with_suffix(".json"), result, end="\n")
    bench.write_plot(out.with_suffix(".png"), lambda tmp: plot(result, tmp))
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
