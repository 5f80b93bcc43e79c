"""Accuracy versus compute: the paper's headline, measured on the Bible genre task.

    .venv/bin/python benchmarks/transfer.py [--langs de fr ru es] [--seeds 1 2 3]
        [--methods full minijoint minipost random copy_only [full_roberta]] [--points 5] [--out docs/results]
        [--report-only | --report-from transfer.json]

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
--report-from JSON prints the report rewritten from a transfer.json, measuring and writing nothing.
The statistics and the report are minimodel_recipes/transfer_report.py's; the shared benchmark layer
(printing, the settings-keyed cache, writing) is minimodel_recipes/bench.py's.
"""

import argparse
import functools
import os
import subprocess
import tempfile
import time
from pathlib import Path

import minimodel_fairseq  # noqa: F401  (the plugin: its tasks, and the torch compatibility fixes)
from minimodel_fairseq import files, label_free, surgery
from minimodel_fairseq import flops as flop_count
from minimodel_fairseq.compat import load_checkpoint
from minimodel_fairseq.evaluate import evaluate_classifier
from minimodel_recipes import bench, table  # table.spread: the mean and half range of every table
from minimodel_recipes import settings as recipe_settings  # the recipes' settings and method table
from minimodel_recipes import transfer_report as report  # the statistics and the report

ROOT = Path(__file__).resolve().parents[1]
METHODS, CONTROLS = report.METHODS, report.CONTROLS
DEFAULT_METHODS = ["full", "minijoint", "minipost", "random", "copy_only"]
STEP2_TASK = "NewLanguageMLMTask"
log = bench.logger("transfer")


def recipe(script, *args, env):
    """Run one examples/bible recipe; its own output goes to the recipe's log files."""
    proc = subprocess.run(
        ["bash", f"examples/bible/{script}", *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{script} {' '.join(map(str, args))} failed:\n{proc.stdout[-3000:]}")
    return proc.stdout


def checkpoint_compute(state):
    """(updates, FLOPs, training seconds) recorded in a step-2 checkpoint."""
    return (
        state["optimizer_history"][-1]["num_updates"],
        *flop_count.checkpoint_cost(state, STEP2_TASK),
    )


def score(classifier_state, step2, cls_data):
    """Zero-shot accuracy of the classifier with the step-2 checkpoint's embeddings swapped in."""
    swapped = surgery.swap_embeddings(classifier_state, step2)
    with tempfile.TemporaryDirectory() as tmp:
        path = files.save_checkpoint(swapped, Path(tmp) / "swapped.pt")
        result = evaluate_classifier(path, cls_data)
    return result


def correct_string(predictions):
    """1 per test verse the swapped classifier gets right, else 0: what paired differences are made of."""
    return "".join("1" if gold == guess else "0" for gold, guess in predictions)


def step2_points(run_dir):
    """The run's interval checkpoints and its last one, in update order (the last may repeat one)."""
    paths = sorted(run_dir.glob("checkpoint_*_*.pt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    last = run_dir / "checkpoint_last.pt"
    return paths + [last] if last.exists() else paths


class Measure:
    """Every measurement of one RUNS, each made once: the step-3 classifiers (the recipe runs once per
    classifier), a step-2 run's accuracy curve, its label-free measures, a classifier's English accuracy."""

    def __init__(self, env, runs, data, src, every):
        self.env, self.runs, self.data, self.src, self.every = env, runs, data, src, every

    @functools.cache  # the step-3 recipe runs once per classifier
    def classifier(self, model, seed):
        recipe("3_finetune.sh", seed, model, env=self.env)
        return self.runs / "finetune" / model / f"seed{seed}" / "checkpoint_best.pt"

    @functools.cache  # loaded once, scored against every language and method
    def classifier_state(self, model, seed):
        return load_checkpoint(str(self.classifier(model, seed)))

    def english(self, model, seed):
        return {
            "accuracy": evaluate_classifier(
                self.classifier(model, seed), self.data / self.src / "cls"
            )["accuracy"]
        }

    def step2_curve(self, lang, method, seed):
        """Run step 2 (checkpoints every `every` updates) and score each checkpoint zero-shot."""
        run_dir = self.runs / "adapt" / lang / method / f"seed{seed}"
        flags = (
            []
            if method in CONTROLS
            else ["--save-interval-updates", self.every, "--keep-interval-updates", -1]
        )
        recipe("2_adapt_language.sh", lang, method, seed, *flags, env=self.env)
        curve, result = [], None
        for path in step2_points(run_dir):
            state = load_checkpoint(str(path))
            updates, flops, seconds = checkpoint_compute(state)
            if (
                curve and curve[-1]["updates"] == updates
            ):  # checkpoint_last repeats the last interval save
                continue
            result = score(
                self.classifier_state(METHODS[method].big_model, seed),
                state,
                self.data / lang / "cls",
            )
            curve.append(
                {
                    "updates": updates,
                    "flops": flops,
                    "seconds": seconds,
                    "accuracy": result["accuracy"],
                    "correct": correct_string(result["predictions"]),
                }
            )
            log(
                f"{lang} {method} seed {seed}: {updates} updates, {flops / 1e12:.2f} TFLOPs, "
                f"{seconds:.0f} s -> accuracy {result['accuracy']:.4f}"
            )
        return {"majority": result["majority"], "curve": curve}

    @functools.cache  # loaded once per big model
    def big_state(self, model):
        path = self.runs / recipe_settings.CHECKPOINTS[recipe_settings.BIG_MODELS[model]]
        return surgery.to_roberta(surgery.load_roberta_checkpoint(path))

    @functools.cache  # the English side is encoded once per language and big model
    def retrieval(self, lang, model):
        return label_free.Retrieval(
            self.big_state(model), self.data / lang, self.data / self.src, subset="test"
        )

    def label_free_curve(self, lang, method, seed):
        """Retrieval (every layer, both directions), the big model's MLM loss and the step-2 model's own of
        each checkpoint of a finished step-2 run (step2_curve has run it, now or before these measures existed)."""
        model = METHODS[method].big_model
        r, mlm_data = self.retrieval(lang, model), self.data / lang / "mlm"
        layer, measured = label_free.default_layer(r.depth), []
        for path in step2_points(self.runs / "adapt" / lang / method / f"seed{seed}"):
            state = surgery.load_roberta_checkpoint(path)
            updates = state["optimizer_history"][-1]["num_updates"]
            if (
                measured and measured[-1]["updates"] == updates
            ):  # checkpoint_last repeats the last interval save
                continue
            res = r.score(state)
            swapped = label_free.big_with_embeddings(
                self.big_state(model), state, mlm_data / "dict.txt"
            )
            loss = label_free.mlm_loss(swapped, mlm_data, "valid")["loss"]
            # the step-2 model's own (a mini-model for the mini methods): what fairseq would validate
            own = (
                None
                if method in CONTROLS
                else label_free.mlm_loss(state, mlm_data, "valid")["loss"]
            )
            measured.append(
                {
                    "updates": updates,
                    "target_to_source": res["target_to_source"],
                    "source_to_target": res["source_to_target"],
                    "mlm_loss": loss,
                    "step2_mlm_loss": own,
                }
            )
            log(
                f"{lang} {method} seed {seed}: {updates} updates -> retrieval {res['target_to_source'][layer]:.3f} "
                f"(L{layer}), {res['target_to_source'][r.depth]:.3f} (L{r.depth}), MLM loss {loss:.3f} bits"
            )
        return {
            "layer": layer,
            "top_layer": r.depth,
            "n": r.n,
            "chance": 1 / r.n,
            "subset": "test",
            "mlm_subset": "valid",
            "points": measured,
        }


def pretrain(args, env, src, models):
    """Data preparation and step 1 (the recipes skip what is finished)."""
    log(f"data: {src} + {args.langs}")
    subprocess.run(
        ["bash", "examples/bible/prepare.sh"],
        cwd=ROOT,
        check=True,
        env={**env, "LANGS": ",".join([src, *args.langs])},
        stdout=subprocess.DEVNULL,
    )
    log("step 1: MiniJoint pretraining")
    recipe("1_pretrain_minijoint.sh", env=env)
    if "roberta" in models:
        log("step 1: plain RoBERTa pretraining, then MiniPost")
        recipe("1_pretrain_roberta.sh", env=env)
        recipe("1b_minipost.sh", env=env)


def minipost_cost(runs, models):
    """MiniPost's one-off cost (FLOPs, seconds), from its checkpoint, or None when it was not built."""
    minipost = runs / "pretrain" / "minipost" / "checkpoint_last.pt"
    if "roberta" not in models or not minipost.exists():
        return None
    return dict(
        zip(
            ("flops", "seconds"),
            flop_count.checkpoint_cost(load_checkpoint(str(minipost)), "MiniPostMLMTask"),
        )
    )


def measure_all(args, measure, cache, stamp, models):
    """Every measurement, seed by seed (so a partial report has whole seeds), cached in RUNS/points."""
    got = {
        "english": {},
        "points": {},
        "majority": {},
        "chance": {},
        "layers": {},
        "seconds": 0.0,
        "label_free_runs": 0,
    }

    def kept(name, fn):
        result = bench.cached(cache / f"{name}.json", fn, args.report_only, stamp)
        got["seconds"] += result.get("measured_in_s", 0.0) if result else 0.0
        return result

    for seed in args.seeds:
        for model in models:
            acc = kept(f"english_{model}_seed{seed}", lambda: measure.english(model, seed))
            if acc:
                got["english"].setdefault(model, []).append(acc["accuracy"])
                log(f"step 3: {model} seed {seed}: English accuracy {acc['accuracy']:.4f}")
        for lang in args.langs:
            for method in args.methods:
                run = kept(
                    f"{lang}_{method}_seed{seed}", lambda: measure.step2_curve(lang, method, seed)
                )
                if not run:
                    continue
                got["points"][lang, method, seed] = run["curve"]
                got["majority"][lang] = run["majority"]
                # its own cache: a curve cached before these measures existed gets them alone
                lf = kept(
                    f"{lang}_{method}_seed{seed}_label_free",
                    lambda: measure.label_free_curve(lang, method, seed),
                )
                if lf:
                    got["points"][lang, method, seed] = report.with_label_free(run["curve"], lf)
                    got["chance"][lang], got["label_free_runs"] = (
                        lf["chance"],
                        got["label_free_runs"] + 1,
                    )
                    got["layers"][METHODS[method].big_model] = (lf["layer"], lf["top_layer"])
    return got


def write(args, got, settings, runs, minipost):
    """transfer.json, transfer.md and transfer.png in --out (atomically); returns the Markdown."""
    langs = [lang for lang in args.langs if lang in got["majority"]]
    points, english = got["points"], got["english"]
    summary = report.summarise(
        points, langs, args.methods, args.seeds, got["majority"], got["chance"]
    )
    comparisons = report.paired_comparisons(points, summary, args.methods, args.seeds)
    pretrain_s = sum(
        float((runs / "pretrain" / m / "train_seconds").read_text() or 0)
        for m in ("minijoint", "roberta")
        if (runs / "pretrain" / m / "train_seconds").exists()
    )
    meta = {
        "seeds": args.seeds,
        "seconds": got["seconds"],
        "pretrain_seconds": pretrain_s,
        "complete": len(points)
        == len(args.langs) * len(args.methods) * len(args.seeds)
        == got["label_free_runs"]
        and all(len(v) == len(args.seeds) for v in english.values()),
        "settings": settings,
        "label_free": {
            "src": settings["SRC"],
            "subset": "test",
            "mlm_subset": "valid",
            "layers": got["layers"],
            "chance": got["chance"],
        },
    }
    english = {m: (*table.spread(v), len(v)) for m, v in english.items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the per-verse results stay in RUNS/points: in the report they would be most of its size
    result = {
        "meta": meta,
        "english": english,
        "minipost_cost": minipost,
        "summary": summary,
        "paired": comparisons,
        "points": [
            {
                "lang": k[0],
                "method": k[1],
                "seed": k[2],
                "curve": [{k2: v2 for k2, v2 in p.items() if k2 != "correct"} for p in v],
            }
            for k, v in points.items()
        ],
    }
    text = report.markdown(summary, args.methods, english, minipost, meta, comparisons)
    bench.write_json(out / "transfer.json", result)
    bench.write_text(out / "transfer.md", text)
    bench.write_plot(out / "transfer.png", lambda p: report.plot(summary, args.methods, p))
    return out


def parse(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--langs", nargs="+", default=["de", "fr", "ru", "es"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        choices=list(METHODS),
        help="step-2 methods and controls (full_roberta: the standard "
        "recipe on MiniPost's big model, then MiniPost's baseline)",
    )
    parser.add_argument(
        "--points", type=int, default=5, help="step-2 checkpoints per run (evenly spaced)"
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "results"))
    parser.add_argument(
        "--mini-budget",
        type=float,
        default=2.0,
        help="step-2 updates of the mini methods, as a multiple of ADAPT_UPDATES (the full "
        "method's): a mini update is cheaper, and a curve that stops where full's does "
        "cannot show where it reaches full's accuracy",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: write the report from the measurements finished so far "
        "(RUNS/points; a rerun without this flag resumes the rest)",
    )
    parser.add_argument(
        "--report-from",
        metavar="JSON",
        help="print the report rewritten from this transfer.json (its methods, or --methods), "
        "measuring and writing nothing",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    if args.report_from:
        print(report.from_json(bench.read_json(args.report_from), args.methods), end="")
        return
    args.methods = args.methods or DEFAULT_METHODS
    start = time.time()
    env = {**os.environ, "RUNS": os.environ.get("RUNS", "runs/transfer")}
    runs, data = ROOT / env["RUNS"], ROOT / env.get("DATA", "data/bible")
    try:
        adapt_updates = int(recipe_settings.resolve(env)["ADAPT_UPDATES"])
        env["MINI_ADAPT_UPDATES"] = str(round(args.mini_budget * adapt_updates))
        settings = recipe_settings.affecting_results(
            recipe_settings.resolve(env)
        )  # what the recipes will run
    except recipe_settings.SettingError as e:
        raise SystemExit(f"transfer.py: error: {e}") from None
    src, models = settings["SRC"], sorted({METHODS[m].big_model for m in args.methods})
    cache = runs / "points"  # one JSON per finished measurement: a rerun resumes where it stopped
    stamp = {**settings, "points": args.points}
    bench.check_points(cache, stamp, log)
    if not args.report_only:
        pretrain(args, env, src, models)
    minipost = minipost_cost(runs, models)
    measure = Measure(env, runs, data, src, max(1, adapt_updates // args.points))
    got = measure_all(args, measure, cache, stamp, models)
    out = write(args, got, settings, runs, minipost)
    print((out / "transfer.md").read_text())
    log(
        f"wrote {out / 'transfer.json'}, transfer.md, transfer.png in {(time.time() - start) / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
