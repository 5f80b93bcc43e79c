"""The pretraining-budget curve: how much pretraining the body needs before step 2 transfers.

    PRECISION=bf16 .venv/bin/python benchmarks/budget.py [--budgets 2000 4000 8000] [--langs de fr]
        [--seeds 1 2] [--runs runs/budget] [--out docs/results] [--report-only | --report-from budget.json]

For each budget B, the recipes run with PRETRAIN_UPDATES=B (every other setting comes from
the environment, as in the recipes: settings.py) in two RUNS that share one pretrained
MiniJoint model and its step-3 classifiers:

- RUNS_ROOT/B/anchored: examples/bible/run_langs.sh with the anchored init (EMBED_INIT,
  shared_translit by default): full and MiniJoint, and the controls random and copy_only;
- RUNS_ROOT/B/random: the paper's setting, EMBED_INIT=random (N(0, 0.02)): full and MiniJoint
  (its pretrain/ and finetune/ are links to the anchored run's).

Then minimodel_recipes/label_free_langs.py measures every step-2 run without labels (verse
retrieval, the big model's masked-LM loss). The report, OUT/budget.{md,json,png}, gives per
budget the body (the device it was pretrained on, pretraining seconds and FLOPs, English valid
loss, English accuracy of the step-3 classifiers), per budget and language the zero-shot
accuracy of each method and init with the controls and whether it transfers
(minimodel_recipes/langs_table.py's rule: its lowest seed bound above the majority class and every
control's highest bound), the label-free measures, and the first budget at which the random
init transfers, if any.

Everything resumes: the recipes skip finished work (a killed pretraining continues from its
checkpoint_last.pt; it saves every B/4 updates), and the label-free measures are cached.
Each budget's settings are recorded in RUNS_ROOT/B/settings.json; a rerun with other settings
is refused before anything runs, because the recipes would skip the old settings' training.
A budget already run elsewhere with the same settings can be linked in before the first run
(e.g. `mkdir -p runs/budget/2000/anchored && ln -s ../../../bf16/pretrain ../../../bf16/finetune
../../../bf16/adapt runs/budget/2000/anchored/`): its finished steps are then skipped.
--report-only writes the report from what is finished, without training or measuring anything;
--report-from budget.json prints the report rewritten from a budget.json, measuring and writing nothing.
The shared benchmark layer (printing, the settings stamp, writing) is minimodel_recipes/bench.py's.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from minimodel_recipes import bench, label_free_langs, langs_table, table
from minimodel_recipes import settings as recipe_settings
from minimodel_recipes.budget_series import CONTROLS, INITS, TRAINED, label, series

ROOT = Path(__file__).resolve().parents[1]

SHARED = ("pretrain", "finetune")  # what the random-init RUNS takes from the anchored one
PRETRAIN_TASK = "MiniJointMLMTask"
ENGLISH = recipe_settings.in_language(
    "minijoint"
)  # the step-3 classifiers scored in the source language
# fairseq's validation line of MiniJoint pretraining (losses in bits, minijoint_mlm criterion)
VALID = re.compile(r"valid on 'valid' subset \|.*?\| primary_loss ([0-9.]+) \| mini_loss ([0-9.]+)")
# fairseq lists each CUDA worker's GPU; a CPU run lists none (seconds are only comparable on one device)
GPU = re.compile(r"rank +0: capabilities = .*? name = (.+?) *$", re.M)
log = bench.logger("budget")


def env_for(base_env, root, budget, init):
    """The recipes' environment of one budget and init."""
    env = {**base_env, "PRETRAIN_UPDATES": str(budget), "RUNS": str(root / str(budget) / init)}
    if INITS[init]:
        env["EMBED_INIT"] = INITS[init]
    env["METHODS"] = " ".join(TRAINED + (CONTROLS if init == "anchored" else ()))
    return env


def stamp(env):
    """The settings that decide what a budget's runs train (the anchored run's; the other differs in EMBED_INIT)."""
    s = recipe_settings.affecting_results(recipe_settings.resolve(env))
    if s["EMBED_INIT"] == "random":
        raise recipe_settings.SettingError(
            "EMBED_INIT=random: the anchored runs need an anchored init (shared or "
            "shared_translit); the random-init runs are made anyway"
        )
    return s


def check_stamp(path, now, write):
    """Refuse a budget measured with other settings; record the settings of a new one (when write)."""
    bench.check_stamp(
        path,
        now,
        write,
        lambda diff: (
            f"budget.py: error: {path.parent} was run with other settings ({diff}). Nothing was run, because the "
            "recipes would skip the finished training of the old settings: give another --runs, or the old settings"
        ),
    )


def link_shared(root, budget):
    """The random-init RUNS takes the anchored run's pretrained model and classifiers (relative links)."""
    anchored, random = root / str(budget) / "anchored", root / str(budget) / "random"
    random.mkdir(parents=True, exist_ok=True)
    for name in SHARED:
        link, target = random / name, Path("..") / "anchored" / name
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.exists() or link.is_symlink():
            raise SystemExit(
                f"budget.py: error: {link} exists and is not a link to {target}: the random-init "
                f"runs must share the anchored run's {name}; move it away"
            )
        (anchored / name).mkdir(parents=True, exist_ok=True)
        link.symlink_to(target, target_is_directory=True)


def run_recipe(env, logfile):
    """run_langs.sh with env; its output (progress and time left) is printed and appended to logfile."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "a") as f:
        proc = subprocess.Popen(
            ["bash", "examples/bible/run_langs.sh"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in proc.stdout:
            f.write(line)
            print(line, end="", flush=True)
        proc.wait()
    if proc.returncode != 0:
        tail = logfile.read_text(errors="replace")[-3000:]
        raise SystemExit(
            f"budget.py: run_langs.sh failed for RUNS={env['RUNS']} (rc {proc.returncode}; "
            f"log {logfile}):\n{tail}"
        )


def read_rows(runs):
    """Every finished row of a run_langs.sh run (RUNS/langs/rows/*.tsv): results.tsv's dicts."""
    rows = []
    for path in sorted(Path(runs, "langs", "rows").glob("*.tsv")):
        rows += recipe_settings.read_results(path)
    return rows


def body(runs):
    """The pretrained model of one budget: device, seconds, FLOPs, and its last English validation losses."""
    pre = Path(runs) / "pretrain" / "minijoint"
    out = {
        "seconds": None,
        "flops": None,
        "primary_loss": None,
        "mini_loss": None,
        "device": None,
        "done": (pre / "DONE").exists(),
    }
    if (pre / "train.log").is_file():
        text = (pre / "train.log").read_text(errors="replace")
        found = VALID.findall(text)
        if found:
            out["primary_loss"], out["mini_loss"] = map(float, found[-1])
        gpu = GPU.search(text)
        out["device"] = gpu.group(1) if gpu else "CPU"
    if out["done"]:
        from minimodel_fairseq import flops
        from minimodel_fairseq.compat import load_checkpoint

        out["flops"], out["seconds"] = flops.checkpoint_cost(
            load_checkpoint(str(pre / "checkpoint_last.pt")), PRETRAIN_TASK
        )
    return out


def summarise(budgets, langs, src, accuracy, label_free, bodies):
    """Per budget: the body, per language every series' values, verdicts and label-free values."""
    out = []
    for b in budgets:
        acc, majority = {}, {}
        for (init, method, lang), rows in accuracy.get(b, {}).items():
            acc[lang, (init, method)] = [float(r["accuracy"]) for r in rows]
            majority[lang] = float(rows[0]["majority"])
        english = [
            float(r["accuracy"]) for r in accuracy.get(b, {}).get(("anchored", ENGLISH, src), [])
        ]
        per_lang = []
        for lang in langs:
            if lang not in majority:
                continue
            controls = [("anchored", c) for c in CONTROLS]
            row = {
                "lang": lang,
                "majority": majority[lang],
                "accuracy": {},
                "transfers": {},
                "retrieval": {},
                "mlm_loss": {},
            }
            for init, method in series():
                key, name = (init, method), label(init, method)
                if acc.get((lang, key)):
                    row["accuracy"][name] = acc[lang, key]
                if method in TRAINED:
                    row["transfers"][name] = langs_table.transfers(
                        acc, majority, lang, key, controls
                    )
                measured = label_free.get(b, {}).get((init, method, lang), [])
                if measured:
                    row["retrieval"][name] = [v["target_to_source"][v["layer"]] for v in measured]
                    row["mlm_loss"][name] = [v["mlm_loss"] for v in measured]
            per_lang.append(row)
        out.append({"budget": b, "body": bodies.get(b, {}), "english": english, "langs": per_lang})
    return out


def first_transfer(summary, name):
    """The smallest budget at which series `name` transfers in at least one language, and those languages."""
    for entry in summary:
        yes = [r["lang"] for r in entry["langs"] if r["transfers"].get(name) == "yes"]
        if yes:
            return entry["budget"], yes
    return None, []


def markdown(summary, seeds, src, complete):
    """budget.md: per budget the body, per budget and language the accuracies and verdicts, the label-free
    measures, and where each trained series first transfers."""
    names = [label(i, m) for i, m in series()]
    trained = [label(i, m) for i, m in series() if m in TRAINED]
    lines = [
        "" if complete else "**Partial**: not every budget, language and seed has finished yet.",
        "",
        f"| budget (updates) | pretrained on | pretraining s | pretraining TFLOPs "
        f"| {src} valid loss, full / mini (bits) | {src} accuracy (step 3) |",
        bench.rule(6),
    ]
    for e in summary:
        b = e["body"]
        seconds = "" if b.get("seconds") is None else f"{b['seconds']:.0f}"
        tflops = "" if b.get("flops") is None else f"{b['flops'] / 1e12:.3g}"
        loss = (
            ""
            if b.get("primary_loss") is None
            else f"{b['primary_loss']:.3f} / {b['mini_loss']:.3f}"
        )
        lines.append(
            bench.row(
                [
                    e["budget"],
                    b.get("device") or "",
                    seconds,
                    tflops,
                    loss,
                    table.cell(e["english"]),
                ]
            )
        )
    lines += [
        "",
        bench.row(["budget", "language", "majority", *names, "transfers: " + " / ".join(trained)]),
        bench.rule(len(names) + 4),
    ]
    for e in summary:
        for r in e["langs"]:
            lines.append(
                bench.row(
                    [
                        e["budget"],
                        r["lang"],
                        f"{100 * r['majority']:.1f}",
                        *(table.cell(r["accuracy"].get(n, [])) for n in names),
                        " / ".join(r["transfers"].get(n) or "-" for n in trained),
                    ]
                )
            )
    lines += [
        "",
        f"Zero-shot accuracy (%) on the test chapters, mean ± half the range over seeds "
        f"{' '.join(map(str, seeds))}. Anchored init: EMBED_INIT's (shared_translit by default); random init: "
        "the paper's N(0, 0.02) for every new row. Controls: untrained embeddings (random init; the anchored "
        "init's copied rows only). Transfers: the mean minus half the range above the majority class and above "
        "each control's mean plus half its range (langs_table.py).",
    ]
    lines += [
        "",
        bench.row(
            [
                "budget",
                "language",
                *(f"retrieval {n}" for n in names),
                *(f"MLM loss {n}" for n in names),
            ]
        ),
        bench.rule(2 * len(names) + 2),
    ]
    for e in summary:
        for r in e["langs"]:
            lines.append(
                bench.row(
                    [
                        e["budget"],
                        r["lang"],
                        *(table.cell(r["retrieval"].get(n, [])) for n in names),
                        *(table.cell(r["mlm_loss"].get(n, []), scale=1, digits=2) for n in names),
                    ]
                )
            )
    lines += [
        "",
        f"Label-free (minimodel_recipes/label_free_langs.py): verse retrieval top-1 (%) target -> {src} on the "
        "test verses at the big model's middle layer, and the big model's masked-LM loss on the target's "
        "valid split (bits), with each run's step-2 embeddings swapped in.",
    ]
    verdicts = []
    for name in trained:
        budget, where = first_transfer(summary, name)
        verdicts.append(
            f"{name}: first at {budget} updates ({', '.join(where)})"
            if budget
            else f"{name}: at none of the budgets measured"
        )
    lines += ["", "Where each trained series first transfers: " + "; ".join(verdicts) + "."]
    return "\n".join(lines).lstrip("\n") + "\n"


def plot(summary, path):
    """Against the budget (log scale): accuracy, retrieval, MLM loss; mean over languages and seeds, whiskers
    the range."""
    plt = bench.pyplot()
    panels = (
        ("accuracy", "zero-shot accuracy (%)", 100),
        ("retrieval", "retrieval top-1 (%)", 100),
        ("mlm_loss", "big-model MLM loss (bits)", 1),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    for ax, (key, ylabel, scale) in zip(axes, panels):
        for init, method in series():
            name, xs, ys, lo, hi = label(init, method), [], [], [], []
            for e in summary:
                values = [v for r in e["langs"] for v in r[key].get(name, [])]
                if values:
                    xs.append(e["budget"])
                    ys.append(scale * statistics.mean(values))
                    lo.append(ys[-1] - scale * min(values))
                    hi.append(scale * max(values) - ys[-1])
            if xs:
                ax.errorbar(
                    xs,
                    ys,
                    yerr=[lo, hi],
                    marker="o",
                    capsize=3,
                    label=name,
                    linestyle="--" if init == "random" or method in CONTROLS else "-",
                )
        if key == "accuracy":
            majority = [
                (e["budget"], 100 * statistics.mean(r["majority"] for r in e["langs"]))
                for e in summary
                if e["langs"]
            ]
            if majority:
                ax.plot(*zip(*majority), ":", color="gray", label="majority class")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("pretraining updates")
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")  # path may be a temporary name
    plt.close(fig)


def parse(argv):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--budgets",
        nargs="+",
        type=int,
        default=[2000, 4000, 8000],
        help="pretraining updates (PRETRAIN_UPDATES) of each point of the curve",
    )
    p.add_argument(
        "--langs",
        nargs="+",
        default=["de", "fr"],
        help="target languages (prepared by the recipes)",
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2], help="seeds of steps 2-3")
    p.add_argument(
        "--runs",
        default="runs/budget",
        help="the budgets' runs go to RUNS/<budget>/{anchored,random}",
    )
    p.add_argument(
        "--out", default=str(ROOT / "docs" / "results"), help="budget.md, .json and .png go here"
    )
    p.add_argument(
        "--report-only", action="store_true", help="run nothing: report what has finished"
    )
    p.add_argument(
        "--report-from",
        metavar="JSON",
        help="print the report rewritten from this budget.json, running and writing nothing",
    )
    args = p.parse_args(argv)
    if any(b < 4 for b in args.budgets):
        p.error(
            "--budgets: each must be at least 4 updates (the recipe validates and saves every budget / 4)"
        )
    return args


def from_json(result):
    """budget.md rewritten from a budget.json (what main wrote beside it)."""
    src = result["settings"][str(result["budgets"][0])]["SRC"]
    return markdown(result["summary"], result["seeds"], src, result["complete"])


def collect(args, root, base, stamps, src, data):
    """Run (unless --report-only) and read every budget: accuracies, label-free measures, bodies, complete."""
    accuracy, label_free, bodies, complete = {}, {}, {}, True
    for b in args.budgets:
        if not args.report_only:
            check_stamp(root / str(b) / "settings.json", stamps[b], write=True)
            link_shared(root, b)
            for init in INITS:
                log(
                    f"budget {b}: {init} init, run_langs.sh (log {root / str(b) / init / 'run_langs.log'})"
                )
                run_recipe(env_for(base, root, b, init), root / str(b) / init / "run_langs.log")
        bodies[b] = body(root / str(b) / "anchored")
        for init in INITS:
            runs = root / str(b) / init
            methods = TRAINED + (CONTROLS if init == "anchored" else ())
            for r in read_rows(runs):
                if r["lang"] in args.langs or (init, r["method"], r["lang"]) == (
                    "anchored",
                    ENGLISH,
                    src,
                ):
                    accuracy.setdefault(b, {}).setdefault(
                        (init, r["method"], r["lang"]), []
                    ).append(r)
            if not (runs / recipe_settings.CHECKPOINTS["PRIMARY"]).is_file():
                complete = False
                continue
            if not args.report_only:
                log(f"budget {b}: {init} init, label-free measures")
            try:
                label_free_langs.check_inputs(runs, data, args.langs, methods, src)
                found, missing = label_free_langs.collect(
                    runs,
                    data,
                    args.langs,
                    methods,
                    args.seeds,
                    src,
                    log=log,
                    measure_new=not args.report_only,
                )
            except label_free_langs.InputError as e:
                raise SystemExit(f"budget.py: error: {e}") from None
            complete = complete and not missing
            for (lang, m, _), v in sorted(found.items()):  # by seed
                label_free.setdefault(b, {}).setdefault((init, m, lang), []).append(v)
        rows = sum(len(v) for k, v in accuracy.get(b, {}).items() if k[1] in TRAINED + CONTROLS)
        complete = complete and rows == len(args.langs) * len(args.seeds) * (
            len(INITS) * len(TRAINED) + len(CONTROLS)
        )
    return accuracy, label_free, bodies, complete


def main(argv=None):
    args = parse(argv)
    if args.report_from:
        print(from_json(bench.read_json(args.report_from)), end="")
        return 0
    start, root = (
        time.time(),
        (ROOT / args.runs) if not Path(args.runs).is_absolute() else Path(args.runs),
    )
    base = {k: v for k, v in os.environ.items() if k not in ("RUNS", "PRETRAIN_UPDATES", "METHODS")}
    base.update(LANGS=" ".join(args.langs), SEEDS=" ".join(map(str, args.seeds)))
    try:
        stamps = {b: stamp(env_for(base, root, b, "anchored")) for b in args.budgets}
    except recipe_settings.SettingError as e:
        raise SystemExit(f"budget.py: error: {e}") from None
    for b in args.budgets:  # every refusal before any training
        check_stamp(root / str(b) / "settings.json", stamps[b], write=False)
    src, data = stamps[args.budgets[0]]["SRC"], recipe_settings.resolve(base)["DATA"]
    accuracy, label_free, bodies, complete = collect(args, root, base, stamps, src, data)
    summary = summarise(args.budgets, args.langs, src, accuracy, label_free, bodies)
    text = markdown(summary, args.seeds, src, complete)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "budgets": args.budgets,
        "langs": args.langs,
        "seeds": args.seeds,
        "complete": complete,
        "settings": {str(b): s for b, s in stamps.items()},
        "summary": summary,
    }
    bench.write_text(out / "budget.md", text)
    bench.write_json(out / "budget.json", result, end="\n")
    bench.write_plot(out / "budget.png", lambda p: plot(summary, p))
    print(text, end="")
    log(
        f"wrote {out / 'budget.md'}, budget.json, budget.png in {(time.time() - start) / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
