"""The ``minimodel`` command: the checkpoint tools around the fairseq steps of the method.

    minimodel user-dir                                   path for fairseq's --user-dir
    minimodel extract-mini MINIJOINT.pt --out MINI.pt    MiniJoint -> standalone mini-model
    minimodel swap-embeddings --classifier FT.pt --embeddings STEP2.pt --out TARGET.pt
    minimodel evaluate --classifier TARGET.pt --data DATA/de/cls [--lang de] ...
    minimodel import-hf HF_DIR --out OUTDIR              Hugging Face masked LM -> fairseq checkpoint + dict
    minimodel export-hf CHECKPOINT --out OUTDIR [--spm M] [--dict D] [--label-dict L]   -> Hugging Face
    minimodel export-mlm --big BIG.pt --embeddings STEP2.pt --out OUTDIR   adapted masked LM (fairseq + HF)
    minimodel retrieve --big BIG.pt --data DATA/de --embeddings STEP2.pt [--controls]   verse retrieval
    minimodel mlm-loss --data DATA/de/mlm --embeddings STEP2.pt [--big BIG.pt]          masked-LM loss
    minimodel best-checkpoint STEP2_RUN_DIR --data DATA/de [--measure mlm|retrieval]    step-2 choice

Every command that writes refuses an existing output unless ``--force`` and
writes to a temporary name first. Bad input: one line on stderr, exit code 2.
"""

import argparse
import contextlib
import os
import sys
from pathlib import Path


def _user_dir(args):
    print(os.path.dirname(os.path.abspath(__file__)))


def _extract_mini(args):
    from . import surgery
    from .files import CheckpointError, save_checkpoint

    state = surgery.load_roberta_checkpoint(args.checkpoint)
    # A MiniPost model is a mini-model already (its top head is the aligned one);
    # a MiniJoint model's mini-model is its bottom K layers + the secondary head.
    head = "primary" if getattr(state["cfg"]["model"], "mini_layers", None) else "mini"
    try:
        mini = surgery.to_roberta(
            state,
            layers=args.layers,
            head=head,
            note={"made_by": "extract-mini", "source": os.path.abspath(args.checkpoint)},
        )
    except CheckpointError as e:
        raise CheckpointError(f"{args.checkpoint}: {e}") from None
    save_checkpoint(mini, args.out, force=args.force)
    print(
        f"wrote {args.out}: roberta, {mini['minimodel']['layers']} layers, "
        f"LM head = {'MiniJoint secondary head' if head == 'mini' else 'MiniPost head'}"
    )


def _swap_embeddings(args):
    from . import params, surgery
    from .files import refuse_existing_output, save_checkpoint

    refuse_existing_output(args.out, args.force)  # before the work (and any provenance warning)
    classifier = surgery.load_roberta_checkpoint(args.classifier)
    step2 = surgery.load_roberta_checkpoint(args.embeddings)
    surgery.check_roles(classifier, step2, args.classifier, args.embeddings)
    out = surgery.swap_embeddings(
        classifier,
        step2,
        target_dict=args.dict,
        allow_other_model=args.allow_other_model,
        names=(args.classifier, args.embeddings),
    )
    out["minimodel"].update(
        {
            "classifier": os.path.abspath(args.classifier),
            "embeddings": os.path.abspath(args.embeddings),
            "language_data": (step2["cfg"].get("task") or {}).get("data"),
        }
    )
    save_checkpoint(out, args.out, force=args.force)
    rows = out["model"][params.TOKENS].shape[0]
    print(f"wrote {args.out}: classifier with {rows} target-language embedding rows")


def _import_hf(args):
    from . import hf

    r = hf.import_hf(args.dir, args.out, force=args.force, check=not args.no_check)
    f = r["fairseq"]
    print(
        f"wrote {args.out}: model.pt (roberta, {r['layout']}, {f['encoder_layers']} layers x "
        f"{f['encoder_embed_dim']}), dict.txt ({r['dict_symbols']} symbols, {r['placeholder_symbols']} "
        f"placeholders; {r['embedding_rows']} rows with <mask>), tokenizer/, import.json; from a {r['class']}"
    )
    _print_self_check(r["self_check"])
    if r.get("note"):
        print(f"note: {r['note']}")


def _export_hf(args):
    from . import hf

    r = hf.export_hf(
        args.checkpoint,
        args.out,
        spm=args.spm,
        dict_path=args.dict,
        label_dict=args.label_dict,
        tokenizer=args.tokenizer,
        force=args.force,
        check=not args.no_check,
    )
    labels = f", labels {', '.join(r['labels'])}" if r["labels"] else ""
    print(
        f"wrote {args.out}: {r['class']} ({r['rows']} token rows{labels}), model.safetensors, tokenizer "
        f"({r['tokenizer']['construction']}; dictionary {r['dict']})"
    )
    _print_self_check(r["self_check"])
    for note in r["notes"]:
        print(f"note: {note}")
    missing = r["tokenizer"].get("sentencepiece_pieces_not_in_dict") or []
    if missing:
        print(
            f"note: {len(missing)} sentencepiece pieces are not in the dictionary ({' '.join(missing[:10])}"
            f"{' ...' if len(missing) > 10 else ''}): fairseq reads them as <unk>; the tokenizer gives them ids "
            f"{r['rows']}.. whose embedding is <unk>'s (docs/usage.md, Hugging Face import and export)"
        )


def _print_self_check(c):
    if c.get("skipped"):
        print(f"self-check: skipped ({c['skipped']})")
    else:
        print(
            f"self-check: {c['logits']} logits of the two models differ by at most {c['max_abs_diff']:.1e} on "
            f"{c['inputs']} inputs (tolerance {c['tolerance']:g})"
        )


def _export_mlm(args):
    from .adapted import export_mlm

    r = export_mlm(
        args.big, args.embeddings, args.out, dict_path=args.dict, spm=args.spm, force=args.force
    )
    print(
        f"wrote {args.out}: model.pt (the big model, {r['layers']} layers, big model {r['big_model']}, with "
        f"{r['rows']} target-language embedding rows), dict.txt, {os.path.basename(args.out)}/hf ({r['class']})"
    )


def _evaluate(args):
    import logging

    from .evaluate import evaluate_classifier

    for name in ("fairseq", "minimodel_fairseq"):
        logging.getLogger(name).setLevel(logging.WARNING)

    if len(args.classifier) != len(args.data):
        raise ValueError("give one --data per --classifier")
    if args.predictions and len(args.predictions) != len(args.classifier):
        raise ValueError("give one --predictions per --classifier")
    langs = args.lang or [os.path.basename(os.path.dirname(os.path.abspath(d))) for d in args.data]
    print(f"{'language':<10} {'accuracy':>8} {'n':>6} {'majority':>8}  classifier")
    for k, (lang, ckpt, data) in enumerate(zip(langs, args.classifier, args.data)):
        r = evaluate_classifier(
            ckpt, data, subset=args.subset, allow_other_model=args.allow_other_model
        )
        if args.predictions:
            _write_predictions(args.predictions[k], r["predictions"])
        print(
            f"{lang:<10} {r['accuracy']:>8.4f} {r['n']:>6d} {r['majority']:>8.4f}  {ckpt}",
            flush=True,
        )


def _write_predictions(path, predictions):
    """One line per example of the subset, in its order: index, gold label, predicted label, correct (0/1)."""
    from .files import atomic_write

    lines = ["index\tgold\tpredicted\tcorrect"] + [
        f"{i}\t{g}\t{p}\t{int(g == p)}" for i, (g, p) in enumerate(predictions)
    ]
    atomic_write(path, lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8"))


def _label_free(args, measure, table):
    """The shape of the label-free commands: check --json first, measure, print the table, write JSON."""
    from . import label_free as lf

    _quiet()
    lf.check_output(args.json, args.force)
    result = measure(lf)
    print(table(lf)(result))
    if args.json:
        lf.write_json(args.json, result, args.force)
    return result


def _retrieve(args):
    _label_free(
        args,
        lambda lf: lf.retrieve(
            args.big,
            args.data,
            args.embeddings or (),
            args.controls,
            args.source_data,
            args.subset,
            args.layer,
            args.copy_init,
            args.seed,
        ),
        lambda lf: lf.format_retrieval,
    )


def _mlm_loss(args):
    _label_free(
        args,
        lambda lf: lf.mlm_losses(
            args.data,
            args.embeddings or (),
            args.big,
            args.controls,
            args.source_data,
            args.subset,
            args.seed,
            args.copy_init,
        ),
        lambda lf: lf.format_mlm_losses,
    )


def _best_checkpoint(args):
    result = _label_free(
        args,
        lambda lf: lf.choose_checkpoint(
            args.run_dir, args.data, args.measure, args.big, args.source_data, args.layer, args.seed
        ),
        lambda lf: lf.format_choice,
    )
    print(result["best"])


def _quiet():
    import logging

    for name in ("fairseq", "minimodel_fairseq"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _label_free_options(p, what):
    p.add_argument("--seed", type=int, default=1, help=f"{what} (default 1)")
    p.add_argument("--json", help="also write the result as JSON to this file")
    p.add_argument("--force", action="store_true", help="overwrite --json if it exists")


# Not --force: that only allows overwriting --out (the recipes pass it on every rerun),
# and must not also switch the provenance check off.
ALLOW_OTHER_MODEL_HELP = "accept embeddings learned over another big model (with a warning)"


NO_CHECK_HELP = "skip the logit comparison (very large models)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minimodel", description="Mini-model adaptation tools for fairseq (minimodel_fairseq)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "user-dir", help="print the plugin's path: fairseq-train --user-dir $(minimodel user-dir)"
    )
    p.set_defaults(func=_user_dir)

    p = sub.add_parser(
        "extract-mini",
        help="write a mini-model (MiniJoint or MiniPost) as a plain roberta checkpoint",
    )
    p.add_argument(
        "checkpoint",
        help="MiniJoint checkpoint (--arch minijoint_roberta_*) or MiniPost checkpoint",
    )
    p.add_argument("--out", required=True, help="output checkpoint (arch roberta, K layers)")
    p.add_argument(
        "--layers",
        type=int,
        default=None,
        help="layers to keep (default: the model's --mini-layer K)",
    )
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=_extract_mini)

    p = sub.add_parser(
        "swap-embeddings", help="put step-2 target embeddings into a step-3 classifier"
    )
    p.add_argument("--classifier", required=True, help="fine-tuned classifier (step 3)")
    p.add_argument(
        "--embeddings", required=True, help="checkpoint of a new_language_mlm run (step 2)"
    )
    p.add_argument("--out", required=True, help="output: the target-language classifier")
    p.add_argument(
        "--dict", help="the target language's dict.txt (default: the step-2 data directory's)"
    )
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--allow-other-model", action="store_true", help=ALLOW_OTHER_MODEL_HELP)
    p.set_defaults(func=_swap_embeddings)

    p = sub.add_parser(
        "export-mlm",
        help="the big model with step-2 embeddings: fairseq checkpoint + Hugging Face masked LM",
    )
    p.add_argument(
        "--big",
        required=True,
        help="the big model the embeddings were learned for (step 1, import-hf)",
    )
    p.add_argument(
        "--embeddings",
        required=True,
        help="step-2 checkpoint (over the full model or a mini-model)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="output directory: model.pt, dict.txt, sentencepiece.bpe.model, hf/",
    )
    p.add_argument("--dict", help="the target dict.txt (default: the step-2 data's)")
    p.add_argument(
        "--spm", help="the target sentencepiece model (default: the one step 2 recorded)"
    )
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=_export_mlm)

    p = sub.add_parser("evaluate", help="accuracy of classifiers, one row per language")
    p.add_argument(
        "--classifier", required=True, action="append", help="classifier checkpoint (repeatable)"
    )
    p.add_argument(
        "--data",
        required=True,
        action="append",
        help="classification data dir (input0/, label/) binarized with that classifier's dictionary",
    )
    p.add_argument("--lang", action="append", help="row name (default: the data dir's parent name)")
    p.add_argument("--subset", default="test", help="split to score (default test)")
    p.add_argument(
        "--predictions",
        action="append",
        help="write gold and predicted labels to this .tsv (one per --classifier)",
    )
    p.add_argument("--allow-other-model", action="store_true", help=ALLOW_OTHER_MODEL_HELP)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "retrieve",
        help="cross-lingual verse retrieval: step-2 embeddings in the big model, no fine-tuning",
        description="For each target verse of the split, find its English verse among all the split's verses by "
        "cosine similarity of mean-pooled hidden states of the big model (target side: the step-2 embeddings "
        "swapped in); top-1 accuracy in both directions at every layer, chance = 1/n.",
    )
    p.add_argument(
        "--big",
        required=True,
        help="the big model (step 1's checkpoint) whose body reads the embeddings",
    )
    p.add_argument(
        "--data",
        required=True,
        help="the target language's directory from data preparation (DATA/<lang>)",
    )
    p.add_argument("--embeddings", action="append", help="step-2 checkpoint (repeatable)")
    p.add_argument(
        "--controls",
        action="store_true",
        help="also score the untrained controls random and copy_only",
    )
    p.add_argument(
        "--source-data", help="the big model's language directory (default: en beside --data)"
    )
    p.add_argument("--subset", default="test", help="split of verses (default test)")
    p.add_argument(
        "--layer",
        type=int,
        help="layer of the headline number, 0 = embedding layer "
        "(default: the middle one); every layer is reported",
    )
    p.add_argument(
        "--copy-init",
        default="shared_translit",
        choices=["shared", "shared_translit"],
        help="the copy_only control's matching (default shared_translit, the recipes' EMBED_INIT)",
    )
    _label_free_options(p, "seed of the controls' random rows")
    p.set_defaults(func=_retrieve)

    p = sub.add_parser(
        "mlm-loss",
        help="target masked-LM valid loss of step-2 models, and of the big model with their embeddings",
        description="fairseq's masked_lm loss (bits per masked token) with deterministic masking: of each step-2 "
        "model itself and, with --big, of the big model with its embeddings swapped in.",
    )
    p.add_argument(
        "--data",
        required=True,
        help="the target language's masked-LM data (DATA/<lang>/mlm or DATA/<lang>)",
    )
    p.add_argument("--embeddings", action="append", help="step-2 checkpoint (repeatable)")
    p.add_argument(
        "--big", help="the big model: also score it with each checkpoint's embeddings swapped in"
    )
    p.add_argument(
        "--controls",
        action="store_true",
        help="also score the big model with untrained random and "
        "copy_only embeddings (needs --big)",
    )
    p.add_argument(
        "--source-data",
        help="the big model's masked-LM data, for copy_only (default: the big "
        "model's training data)",
    )
    p.add_argument("--subset", default="valid", help="split (default valid)")
    p.add_argument(
        "--copy-init",
        default="shared_translit",
        choices=["shared", "shared_translit"],
        help="the copy_only control's matching (default shared_translit)",
    )
    _label_free_options(p, "masking seed")
    p.set_defaults(func=_mlm_loss)

    p = sub.add_parser(
        "best-checkpoint",
        help="choose a step-2 run's checkpoint by a label-free valid measure",
        description="Score every checkpoint_*_*.pt and checkpoint_last.pt of a step-2 run on the target VALID "
        "split and print the best one's path last (the earliest of equal values).",
    )
    p.add_argument(
        "run_dir", help="a step-2 run's --save-dir (with --save-interval-updates checkpoints)"
    )
    p.add_argument("--data", required=True, help="the target language's directory (DATA/<lang>)")
    p.add_argument(
        "--measure",
        default="mlm",
        choices=["mlm", "retrieval"],
        help="mlm: the step-2 model's own MLM loss; retrieval: in the big model (needs --big)",
    )
    p.add_argument("--big", help="the big model, for --measure retrieval")
    p.add_argument(
        "--source-data", help="the big model's language directory (default: en beside --data)"
    )
    p.add_argument("--layer", type=int, help="retrieval layer (default: the middle one)")
    _label_free_options(p, "masking seed")
    p.set_defaults(func=_best_checkpoint)

    p = sub.add_parser(
        "import-hf",
        help="Hugging Face RoBERTa-family masked LM -> fairseq checkpoint, dict.txt, tokenizer",
        description="Read a local Hugging Face directory (config.json, model.safetensors or "
        "pytorch_model.bin, tokenizer files) of a RobertaForMaskedLM, XLMRobertaForMaskedLM, "
        "RobertaPreLayerNormForMaskedLM or XLMRobertaXLForMaskedLM and write OUTDIR/model.pt (a "
        "fairseq roberta checkpoint for --body-checkpoint and --source-checkpoint), OUTDIR/dict.txt "
        "(its vocabulary in Hugging Face id order), OUTDIR/tokenizer/ and OUTDIR/import.json.",
    )
    p.add_argument("dir", help="the Hugging Face model directory")
    p.add_argument("--out", required=True, help="output directory (must not exist)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-check", action="store_true", help=NO_CHECK_HELP)
    p.set_defaults(func=_import_hf)

    p = sub.add_parser(
        "export-hf",
        help="fairseq RoBERTa checkpoint (MLM, MiniJoint, classifier) -> Hugging Face directory",
        description="Write OUTDIR/config.json, model.safetensors and a tokenizer whose ids are the "
        "fairseq dictionary's, loadable with AutoTokenizer and AutoModelForMaskedLM or (for a "
        "classifier with sentence_classification_head) AutoModelForSequenceClassification.",
    )
    p.add_argument(
        "checkpoint",
        help="fairseq RoBERTa-family checkpoint (a MiniJoint one exports its primary model)",
    )
    p.add_argument("--out", required=True, help="output directory (must not exist)")
    p.add_argument(
        "--spm",
        "--sentencepiece-model",
        dest="spm",
        help="the embeddings' sentencepiece model (default: the one the checkpoint records)",
    )
    p.add_argument(
        "--dict", help="the embeddings' dict.txt (default: from the checkpoint's data directory)"
    )
    p.add_argument(
        "--label-dict",
        help="classifiers: label/dict.txt (default: the checkpoint's data directory's)",
    )
    p.add_argument(
        "--tokenizer",
        help="a Hugging Face tokenizer directory to copy (default: DATA/tokenizer, else built)",
    )
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-check", action="store_true", help=NO_CHECK_HELP)
    p.set_defaults(func=_export_hf)
    return parser


@contextlib.contextmanager
def _print_warnings(command):
    """The plugin's warnings (e.g. unknown provenance) as one line each: ``minimodel CMD: warning: ...``.

    Only while the command runs: a caller of main() in the same process (the tests) keeps its logging.
    """
    import logging

    log = logging.getLogger("minimodel_fairseq")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(f"minimodel {command}: warning: %(message)s"))
    propagate = log.propagate
    log.addHandler(handler)
    log.propagate = (
        False  # once, not again through a handler fairseq may have given the root logger
    )
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.propagate = propagate


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "user-dir":
        args.func(args)
        return 0
    import minimodel_fairseq  # noqa: F401  (registers the plugin, fixes checkpoint loading)

    from .files import CheckpointError, os_error_message

    with _print_warnings(args.command):
        try:
            args.func(args)
        except (CheckpointError, ValueError, FileNotFoundError) as e:
            if os.environ.get("MINIMODEL_DEBUG") == "1" and not isinstance(e, CheckpointError):
                raise  # a ValueError may be a bug: MINIMODEL_DEBUG=1 shows where it came from
            parser.exit(2, f"minimodel {args.command}: error: {e}\n")
        except OSError as e:  # permission, read-only, disk full: the user's to fix, not a bug
            if os.environ.get("MINIMODEL_DEBUG") == "1":
                raise
            parser.exit(2, f"minimodel {args.command}: error: {os_error_message(e)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
