"""The label-free table of a many-languages run: verse retrieval and masked-LM loss per language and method.

    .venv/bin/python -m minimodel_recipes.label_free_langs RUNS --langs de fr ru [--seeds 1 2]
        [--methods full minijoint random copy_only] [--data data/bible] [--out RUNS/langs/label_free.md]

Genre accuracy (run_langs.sh's table) moves with the step-3 fine-tuning seed; these
measures do not (minimodel_fairseq/label_free.py). For every finished step-2 run
RUNS/adapt/<lang>/<method>/seed<S> (checkpoint_last.pt and train_seconds; the controls
are step-2 runs of one update at lr 0) the step-2 embeddings go into the run's big model
(settings.py's method table: RUNS/pretrain/minijoint/checkpoint_last.pt for MiniJoint's
methods) and are measured there:

- verse retrieval top-1 on the TEST verses, target -> English and English -> target, at
  the middle layer and the top layer; chance = 1 / number of verses;
- the masked-LM loss on the target's VALID split (DATA/<lang>/mlm), bits per masked token,
  masking seed 1 (the same masked tokens for every method and seed).

Each measurement is kept in RUNS/label_free/<lang>/<method>/seed<S>.json, and an existing
file is not measured again: the script resumes after a kill and can be rerun as more
languages finish (delete a file to measure it again). A run whose checkpoint is missing
or unfinished is listed in one line. Prints the Markdown table; --out writes it, with a
JSON of every value beside it (same name, .json).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from minimodel_recipes import settings, table

SUBSET, MLM_SUBSET, MASK_SEED = "test", "valid", 1
# the table's columns: (JSON key, cache key, layer key)
RETRIEVAL = (
    ("to_en_middle", "target_to_source", "layer"),
    ("from_en_middle", "source_to_target", "layer"),
    ("to_en_top", "target_to_source", "top_layer"),
    ("from_en_top", "source_to_target", "top_layer"),
)


class InputError(ValueError):
    """RUNS or DATA cannot be used as asked; the message says what to give."""


def big_model_path(runs, method):
    """The checkpoint of the big model a method's embeddings are measured in (settings.py's table)."""
    return (
        Path(runs) / settings.CHECKPOINTS[settings.BIG_MODELS[settings.METHODS[method].big_model]]
    )


def run_dir(runs, lang, method, seed):
    return Path(runs) / "adapt" / lang / method / f"seed{seed}"


def cache_path(runs, lang, method, seed):
    return Path(runs) / "label_free" / lang / method / f"seed{seed}.json"


def check_inputs(runs, data, langs, methods, src):
    """Refuse a RUNS without the big models or a DATA without a language, before any work."""
    from minimodel_fairseq import label_free as lf

    for big in sorted({big_model_path(runs, m) for m in methods}):
        if not big.is_file():
            raise InputError(
                f"{big} does not exist: give the RUNS of a run whose step 1 has finished "
                f"(examples/bible/run_langs.sh)"
            )
    for lang in [src, *langs]:
        try:
            lf.check_language_dir(Path(data) / lang, SUBSET)
            if lang != src:
                lf.mlm_data_dir(Path(data) / lang / "mlm")
        except FileNotFoundError as e:
            raise InputError(f"{e} (--data {data}, language {lang})") from None


def measure(retrieval, big_state, lang_dir, checkpoint):
    """Retrieval in both directions at every layer, and the big model's masked-LM loss, of one step-2 run."""
    from minimodel_fairseq import label_free as lf
    from minimodel_fairseq import surgery

    step2 = surgery.load_roberta_checkpoint(checkpoint)
    result = retrieval.score(step2)
    mlm = lf.mlm_loss(
        lf.big_with_embeddings(big_state, step2, lang_dir / "mlm" / "dict.txt"),
        lang_dir / "mlm",
        MLM_SUBSET,
        seed=MASK_SEED,
    )
    return {
        **result,
        "subset": SUBSET,
        "layer": lf.default_layer(retrieval.depth),
        "top_layer": retrieval.depth,
        "updates": step2["optimizer_history"][-1]["num_updates"],
        "mlm_loss": mlm["loss"],
        "mlm": {k: mlm[k] for k in ("masked_tokens", "subset", "seed", "settings")},
    }


def collect(runs, data, langs, methods, seeds, src, log=print, measure_new=True):
    """Every cached or newly measured (lang, method, seed) as {key: measurement}, and the runs not measured
    (with measure_new False, the cached ones only: the others are listed as not measured)."""
    from minimodel_fairseq import label_free as lf
    from minimodel_fairseq import surgery
    from minimodel_fairseq.files import atomic_write

    bigs, retrievals, found, missing = {}, {}, {}, []
    for lang in langs:
        for method in methods:
            for seed in seeds:
                cache, run = cache_path(runs, lang, method, seed), run_dir(runs, lang, method, seed)
                if cache.is_file():
                    found[lang, method, seed] = json.loads(cache.read_text())
                    continue
                finished = (run / "checkpoint_last.pt").is_file() and (
                    run / "train_seconds"
                ).is_file()
                if not (measure_new and finished):
                    # a checkpoint without train_seconds is a run still training (or killed): not final yet
                    started = (run / "checkpoint_last.pt").is_file()
                    why = " (not measured yet)" if finished else " (unfinished)" if started else ""
                    missing.append(f"{lang}/{method}/seed{seed}{why}")
                    continue
                big = big_model_path(runs, method)
                if big not in bigs:
                    bigs[big] = surgery.to_roberta(surgery.load_roberta_checkpoint(big))
                if (
                    lang,
                    big,
                ) not in retrievals:  # the English side is encoded once per language and big model
                    retrievals[lang, big] = lf.Retrieval(
                        bigs[big], Path(data) / lang, Path(data) / src, SUBSET
                    )
                start = time.time()
                result = {
                    "lang": lang,
                    "method": method,
                    "seed": seed,
                    "checkpoint": str(run / "checkpoint_last.pt"),
                    "big": str(big),
                    **measure(
                        retrievals[lang, big],
                        bigs[big],
                        Path(data) / lang,
                        run / "checkpoint_last.pt",
                    ),
                }
                result["measured_in_s"] = time.time() - start
                atomic_write(
                    cache, lambda p: Path(p).write_text(json.dumps(result, indent=1) + "\n")
                )
                found[lang, method, seed] = result
                log(
                    f"[label_free] {lang} {method} seed {seed}: measured in {result['measured_in_s']:.0f} s"
                )
    return found, missing


def summarise(found, langs, methods):
    """Per (language, method): each retrieval column and the MLM loss as values over seeds, mean and half range."""
    rows = []
    for lang in langs:
        for method in methods:
            ms = [v for (la, me, _), v in sorted(found.items()) if (la, me) == (lang, method)]
            if not ms:
                continue
            row = {
                "lang": lang,
                "method": method,
                "seeds": [m["seed"] for m in ms],
                "n": ms[0]["n"],
                "chance": ms[0]["chance"],
                "layer": ms[0]["layer"],
                "top_layer": ms[0]["top_layer"],
            }
            columns = {name: [m[key][m[at]] for m in ms] for name, key, at in RETRIEVAL}
            columns["mlm_loss"] = [m["mlm_loss"] for m in ms]
            for name, values in columns.items():
                mean, half = table.spread(values)
                row[name] = {"values": values, "mean": mean, "half_range": half}
            rows.append(row)
    return rows


def markdown(rows, missing, methods, seeds, src):
    lines = [
        f"| language | method | seeds | ->{src} middle | {src}-> middle | ->{src} top | {src}-> top "
        "| MLM loss (bits) | chance | verses |",
        "|---" * 10 + "|",
    ]
    for r in rows:
        cells = [table.cell(r[name]["values"]) for name, _, _ in RETRIEVAL]
        lines.append(
            f"| {r['lang']} | {r['method']} | {len(r['seeds'])} | "
            + " | ".join(cells)
            + f" | {table.cell(r['mlm_loss']['values'], scale=1, digits=3)} | {100 * r['chance']:.1f} "
            f"| {r['n']} |"
        )
    layers = sorted({(r["layer"], r["top_layer"]) for r in rows})
    lines += [
        "",
        f"Verse retrieval top-1 (%) on the {SUBSET} verses, target -> {src} and {src} -> target, at the "
        f"middle layer and the top layer ({', '.join(f'L{a} and L{b}' for a, b in layers) or 'none yet'}), "
        f"of the big model with each step-2 run's embeddings swapped in; chance (%) = 1 / verses. MLM loss: "
        f"the big model's masked-LM loss on the target's {MLM_SUBSET} split with those embeddings, bits per "
        f"masked token (masking seed {MASK_SEED}, the same masked tokens for every run of a language; lower "
        f"is better). Mean ± half the range over seeds {' '.join(map(str, seeds))}; seeds = how many have "
        "been measured. Controls (settings.py --methods): "
        + (", ".join(m for m in methods if settings.METHODS[m].control) or "none asked")
        + ".",
    ]
    if missing:
        lines += [
            "",
            f"Not measured ({len(missing)}: no finished step-2 run yet): {', '.join(missing)}.",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "runs",
        help="the recipes' RUNS directory of the run (pretrain/, adapt/; results go to "
        "RUNS/label_free/)",
    )
    p.add_argument(
        "--langs",
        nargs="+",
        required=True,
        help="target languages (DATA/<lang> of data preparation)",
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[1], help="step-2 seeds")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["full", "minijoint", "random", "copy_only"],
        choices=list(settings.METHODS),
        help="step-2 methods and controls (settings.py --methods)",
    )
    p.add_argument(
        "--data",
        default=os.environ.get("DATA") or "data/bible",
        help="prepared data, DATA/<lang>/{raw,cls,mlm} (default: $DATA or data/bible)",
    )
    p.add_argument(
        "--src",
        default=os.environ.get("SRC") or "en",
        help="the big model's language, the other side of retrieval (default: $SRC or en)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="write the Markdown table here and its JSON beside it (.json), "
        "e.g. RUNS/langs/label_free.md",
    )
    args = p.parse_args(argv)
    from minimodel_fairseq.files import CheckpointError, atomic_write

    try:
        check_inputs(args.runs, args.data, args.langs, args.methods, args.src)
        found, missing = collect(
            args.runs, args.data, args.langs, args.methods, args.seeds, args.src
        )
    except (InputError, CheckpointError) as e:  # e.g. embeddings of another big model than RUNS's
        print(f"label_free_langs.py: error: {e}", file=sys.stderr)
        return 2
    rows = summarise(found, args.langs, args.methods)
    text = markdown(rows, missing, args.methods, args.seeds, args.src)
    print(text, end="")
    if args.out:
        out = Path(args.out)
        result = {
            "runs": str(args.runs),
            "data": str(args.data),
            "src": args.src,
            "langs": args.langs,
            "methods": args.methods,
            "seeds": args.seeds,
            "subset": SUBSET,
            "mlm_subset": MLM_SUBSET,
            "mask_seed": MASK_SEED,
            "rows": rows,
            "missing": missing,
            "measurements": [found[k] for k in sorted(found)],
        }
        atomic_write(out, lambda p: Path(p).write_text(text))
        atomic_write(
            out.with_suffix(".json"),
            lambda p: Path(p).write_text(json.dumps(result, indent=1) + "\n"),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
