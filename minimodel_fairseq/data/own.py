"""Your own files -> fairseq data: a labelled source-language task and a target-language test set.

Formats (docs/hf.md, "Your own files"): a task split is a TSV file (``.tsv``: a header row, then
one row per line, tab-separated, no quoting) or a JSONL file (``.jsonl``: one JSON object per
line) with the fields ``text`` and ``label`` (single texts) or ``text_a``, ``text_b`` and
``label`` (sentence pairs); other fields are ignored. Text is cleaned as the Bible text is
(:func:`bible.clean_text`); a label is one word (fairseq's label dictionary is whitespace-split).

``task`` writes the source side, ``OUT/`` (e.g. ``DATA/en``), with the big model's tokenizer::

    raw/cls.{split}.input0 / .input1 / .label   the cleaned rows (input1: pairs only)
    raw/{split}.txt                             every text of the split, one per line (MLM text)
    tok/                                        the same, as dictionary symbols
    mlm/                                        masked-LM data of that text (MiniPost's step 1b)
    cls/input0/, cls/input1/, cls/label/        fairseq's sentence_prediction layout
    DONE                                        JSON: rows, labels, the inputs' sha256, written last

``target-test`` writes a target-language test set into ``LANG_DIR/`` (the ``--raw-text``
preparation of :mod:`bible`): ``raw/cls.test.*`` and ``cls/`` (split ``test`` only) with the
target's sentencepiece model and dict.txt and the SOURCE task's label dictionary, and
``cls/DONE``. ``check-pairs`` compares an exported tokenizer with fairseq's hub encoding.

CLI::

    python -m minimodel_fairseq.data.own task --train T.tsv --valid V.jsonl [--test X] --out DATA/en \\
        (--hf-tokenizer IMPORT_DIR | --spm SPM.model --dict dict.txt)
    python -m minimodel_fairseq.data.own target-test --test de.tsv --out DATA/de --source DATA/en
    python -m minimodel_fairseq.data.own check-pairs --tokenizer EXPORT --classifier CKPT --data DATA/de/cls
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import bible
from .bible import DataPrepError
from .binarize import fairseq_preprocess

logger = logging.getLogger("minimodel_fairseq.data.own")  # (not __name__: "__main__" under python -m)

SINGLE, PAIR = ("text",), ("text_a", "text_b")
FORMATS = {".tsv": "tsv", ".jsonl": "jsonl"}


@dataclass
class TaskFile:
    """The rows of one split file: texts (one tuple per row: 1 text or a pair), labels, their line numbers."""
    path: Path
    columns: tuple = SINGLE
    texts: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    lines: list = field(default_factory=list)

    @property
    def pairs(self) -> bool:
        return self.columns == PAIR


def _columns(keys, where) -> tuple:
    """SINGLE or PAIR for a header (or a JSON object's keys); a refusal naming `where` otherwise."""
    keys = set(keys)
    if "label" not in keys:
        raise DataPrepError(f"{where}: no 'label' field (fields: {', '.join(sorted(keys)) or 'none'}): give "
                            f"text and label, or text_a, text_b and label")
    if keys & set(PAIR):
        if "text" in keys:
            raise DataPrepError(f"{where}: both 'text' and 'text_a'/'text_b': give text (single texts) or "
                                f"text_a and text_b (pairs), not both")
        missing = [c for c in PAIR if c not in keys]
        if missing:
            raise DataPrepError(f"{where}: no '{missing[0]}' field: a sentence pair needs text_a and text_b")
        return PAIR
    if "text" not in keys:
        raise DataPrepError(f"{where}: no 'text' field (fields: {', '.join(sorted(keys))}): give text and label, "
                            f"or text_a, text_b and label")
    return SINGLE


def _add(rows: TaskFile, values: dict, where: str, lineno: int) -> None:
    texts = []
    for c in rows.columns:
        v = values.get(c)
        if not isinstance(v, str):
            raise DataPrepError(f"{where}: '{c}' is {type(v).__name__ if v is not None else 'missing'}, not text")
        text = bible.clean_text(v)
        if not text:
            raise DataPrepError(f"{where}: '{c}' is empty" + (": a pair file needs both texts in every row (a "
                                "file holds either single texts or pairs)" if rows.pairs else ""))
        texts.append(text)
    label = values.get("label")
    if isinstance(label, bool) or not isinstance(label, (str, int)):
        raise DataPrepError(f"{where}: 'label' is {type(label).__name__ if label is not None else 'missing'}: give "
                            f"a word or a whole number")
    label = bible.clean_text(str(label))
    if not label:
        raise DataPrepError(f"{where}: 'label' is empty")
    if " " in label:
        raise DataPrepError(f"{where}: label {label!r} has a space: a label is one word in fairseq's label "
                            f"dictionary; write it as {label.replace(' ', '_')!r}")
    rows.texts.append(tuple(texts))
    rows.labels.append(label)
    rows.lines.append(lineno)


def _lines(path: Path):
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                yield lineno, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise DataPrepError(f"{path} line {lineno}: not UTF-8: save the file as UTF-8") from None


def read_task_file(path) -> TaskFile:
    """The rows of a TSV or JSONL split file (format by its suffix); one DataPrepError naming file and line."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataPrepError(f"{path}: unknown format {path.suffix or '(no suffix)'}: name a task file .tsv "
                            f"(header row, tab-separated) or .jsonl (one JSON object per line)")
    if not path.is_file():
        raise DataPrepError(f"task file not found: {path}")
    rows = TaskFile(path)
    lines = _lines(path)
    if fmt == "tsv":
        header = next(((n, line) for n, line in lines if line.strip()), None)
        if header is None:
            raise DataPrepError(f"{path}: empty file: a TSV split needs a header row and at least one row")
        names = [c.strip().lstrip("\ufeff") for c in header[1].split("\t")]
        rows.columns = _columns(names, f"{path} line {header[0]} (the header)")
        for lineno, line in lines:
            if not line.strip():
                continue
            values = line.split("\t")
            if len(values) != len(names):
                raise DataPrepError(f"{path} line {lineno}: {len(values)} fields, the header has {len(names)}: "
                                    f"a field cannot hold a tab (TSV has no quoting here)")
            _add(rows, dict(zip(names, values)), f"{path} line {lineno}", lineno)
    else:
        first = None
        for lineno, line in lines:
            if not line.strip():
                continue
            where = f"{path} line {lineno}"
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise DataPrepError(f"{where}: not a JSON object ({e})") from None
            if not isinstance(obj, dict):
                raise DataPrepError(f"{where}: a JSON {type(obj).__name__}, not an object with text and label")
            columns = _columns(obj, where)
            if first is None:
                first, rows.columns = lineno, columns
            elif columns != rows.columns:
                kind = lambda c: "a pair (text_a, text_b)" if c == PAIR else "a single text (text)"  # noqa: E731
                raise DataPrepError(f"{where}: {kind(columns)} after {kind(rows.columns)[2:]} rows from line {first}: "
                                    f"a file holds either single texts or pairs, not both")
            _add(rows, obj, where, lineno)
    if not rows.labels:
        raise DataPrepError(f"{path}: no rows (an empty split): give at least one labelled row")
    return rows


def check_labels(rows: TaskFile, known, whose: str) -> None:
    """Refuse the first row whose label is not in `known` (the labels the classifier can predict)."""
    known = list(known)
    for label, lineno in zip(rows.labels, rows.lines):
        if label not in known:
            raise DataPrepError(f"{rows.path} line {lineno}: label {label!r} is not among {whose} "
                                f"({', '.join(known)}): the classifier cannot predict it")


def read_task(splits: dict) -> dict:
    """{split: TaskFile} for {split: path}, checked together: one kind (single or pair), labels seen in train."""
    files = {s: read_task_file(p) for s, p in splits.items() if p is not None}
    train = files["train"]
    for s, rows in files.items():
        if rows.columns != train.columns:
            raise DataPrepError(f"{rows.path} holds {'pairs' if rows.pairs else 'single texts'} but {train.path} "
                                f"(train) holds {'pairs' if train.pairs else 'single texts'}: every split is one kind")
        if s != "train":
            check_labels(rows, dict.fromkeys(train.labels), f"the training labels of {train.path}")
    return files


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- writing

def _log(msg: str) -> None:
    logger.info(msg)


def _write_raw(raw: Path, split: str, rows: TaskFile) -> list:
    """raw/cls.SPLIT.input0 (.input1) and .label; returns the input file names."""
    names = [f"cls.{split}.input{i}" for i in range(len(rows.columns))]
    for i, name in enumerate(names):
        (raw / name).write_text("".join(t[i] + "\n" for t in rows.texts), encoding="utf-8")
    (raw / f"cls.{split}.label").write_text("".join(x + "\n" for x in rows.labels), encoding="utf-8")
    return names


def _inputs_record(paths: dict) -> dict:
    return {s: {"path": str(Path(p).resolve()), "sha256": sha256(p)} for s, p in paths.items() if p is not None}


def _done_or_refuse(done: Path, inputs: dict, what: str) -> bool:
    """True when `done` exists and records the same inputs; a refusal when it records others."""
    if not done.is_file():
        return False
    try:
        recorded = json.loads(done.read_text(encoding="utf-8")).get("inputs")
    except ValueError:
        recorded = None
    if recorded is None:
        raise DataPrepError(f"{done.parent} was not prepared from task files (its DONE records none): choose "
                            f"another directory for {what}, or move {done.parent} away")
    now = {s: v["sha256"] for s, v in inputs.items()}
    if {s: v.get("sha256") for s, v in recorded.items()} != now:
        changed = ", ".join(s for s in sorted(set(now) | set(recorded))
                            if now.get(s) != (recorded.get(s) or {}).get("sha256"))
        raise DataPrepError(f"{done.parent} was prepared from other files ({changed} differ): delete "
                            f"{done.parent} to prepare {what} again")
    _log(f"{what}: skipped, {done} exists (same files; delete {done.parent} to rebuild)")
    return True


def _fresh_tmp(final: Path) -> Path:
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def prepare_task(out, train, valid, test=None, hf_tokenizer=None, spm=None, dict_path=None, workers=1) -> Path:
    """Build the source side ``out/`` (layout in the module docstring) from the task's split files."""
    out = Path(out)
    if (hf_tokenizer is None) == (spm is None):
        raise DataPrepError("give the big model's tokenizer: --hf-tokenizer IMPORT_DIR (minimodel import-hf's "
                            "output) or --spm MODEL with --dict DICT (a fairseq-native model)")
    if spm is not None and (dict_path is None or not Path(dict_path).is_file() or not Path(spm).is_file()):
        raise DataPrepError(f"--spm needs an existing sentencepiece model and --dict (the model's dict.txt); got "
                            f"--spm {spm} --dict {dict_path}")
    splits = {"train": train, "valid": valid, "test": test}
    files = read_task(splits)  # every refusal before anything is written
    inputs = _inputs_record(splits)
    if _done_or_refuse(out / "DONE", inputs, "the task"):
        return out
    if out.exists() or out.is_symlink():
        raise DataPrepError(f"{out} exists and is not a finished task preparation (no DONE): move it away or "
                            f"choose another --out")
    symbols = bible.check_hf_dir(hf_tokenizer) if hf_tokenizer is not None else None
    start = time.time()
    tmp = _fresh_tmp(out)
    try:
        raw, tok = tmp / "raw", tmp / "tok"
        raw.mkdir()
        tok.mkdir()
        names = []
        for split, rows in files.items():
            names += _write_raw(raw, split, rows)
            (raw / f"{split}.txt").write_text("".join(t + "\n" for row in rows.texts for t in row), encoding="utf-8")
            names.append(f"{split}.txt")
        pairs = [(raw / n, tok / n) for n in names]
        if symbols is not None:
            _log(f"encoding with the Hugging Face tokenizer of {hf_tokenizer}")
            bible._encode_hf(hf_tokenizer, pairs)
            srcdict = bible._counted_dict(symbols, tok / "train.txt", tok / "dict.txt")
            tokenizer = {"hf_tokenizer": str(Path(hf_tokenizer).resolve())}
        else:
            _log(f"encoding with the sentencepiece model {spm}")
            bible._encode(Path(spm), pairs)
            srcdict = Path(dict_path)
            tokenizer = {"spm": str(Path(spm).resolve()), "dict": str(Path(dict_path).resolve())}
        _log("fairseq-preprocess")
        fairseq_preprocess(tmp / "mlm", {s: tok / f"{s}.txt" for s in files}, workers, srcdict)
        for i in range(len(files["train"].columns)):
            fairseq_preprocess(tmp / "cls" / f"input{i}", {s: tok / f"cls.{s}.input{i}" for s in files}, workers,
                               tmp / "mlm" / "dict.txt")
        fairseq_preprocess(tmp / "cls" / "label", {s: raw / f"cls.{s}.label" for s in files}, workers)
        labels = list(dict.fromkeys(files["train"].labels))
        done = {"made_by": "minimodel_fairseq.data.own task", "inputs": inputs, **tokenizer,
                "pairs": files["train"].pairs, "rows": {s: len(r.labels) for s, r in files.items()},
                "labels": sorted(labels), "dict_size": bible._dict_size(tmp / "mlm" / "dict.txt"),
                "seconds": round(time.time() - start, 1)}
        (tmp / "DONE").write_text(json.dumps(done, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _log(f"task done in {done['seconds']} s: {out} ({'pairs' if done['pairs'] else 'single texts'}, rows "
         f"{done['rows']}, labels {', '.join(done['labels'])})")
    return out


def label_names(label_dict) -> list:
    """The labels of a fairseq label dict.txt, without fairseq-preprocess's madeupwordNNNN padding."""
    from ..hf import PLACEHOLDER

    names = [line.split(" ")[0] for line in Path(label_dict).read_text(encoding="utf-8").splitlines() if line]
    return [n for n in names if not PLACEHOLDER.match(n)]


def prepare_target_test(out, test, source, spm=None, dict_path=None, workers=1) -> Path:
    """A target-language test set into ``out/`` (``--raw-text`` data): raw/cls.test.*, cls/ with the source's labels."""
    out, source = Path(out), Path(source)
    spm = Path(spm) if spm else out / "spm.model"
    dict_path = Path(dict_path) if dict_path else out / "mlm" / "dict.txt"
    label_dict = source / "cls" / "label" / "dict.txt"
    for path, what in ((spm, "the target's sentencepiece model"), (dict_path, "the target's dict.txt"),
                       (label_dict, "the source task's label dictionary")):
        if not path.is_file():
            raise DataPrepError(f"no {path} ({what}): prepare the target text (python -m minimodel_fairseq.data.bible "
                                f"--raw-text FILE --langs LANG --out DATA) and the source task (task --out "
                                f"{source}) first")
    rows = read_task_file(test)
    source_pairs = (source / "cls" / "input1" / "dict.txt").is_file()
    if rows.pairs != source_pairs:
        raise DataPrepError(f"{test} holds {'pairs' if rows.pairs else 'single texts'} but the source task "
                            f"{source} holds {'pairs' if source_pairs else 'single texts'}: give the same kind")
    check_labels(rows, label_names(label_dict), f"the source task's labels ({label_dict})")
    inputs = _inputs_record({"test": test, "source_labels": label_dict})
    cls = out / "cls"
    if _done_or_refuse(cls / "DONE", inputs, "the target test set"):
        return cls
    if cls.exists() or cls.is_symlink():
        raise DataPrepError(f"{cls} exists and was not made by target-test (no {cls / 'DONE'}): the language "
                            f"has a classification set already; prepare the target text in another directory")
    tmp = _fresh_tmp(cls)
    try:
        names = _write_raw(tmp, "test", rows)
        bible._encode(spm, [(tmp / n, tmp / f"{n}.spm") for n in names])
        for i, n in enumerate(names):
            fairseq_preprocess(tmp / "cls" / f"input{i}", {"test": tmp / f"{n}.spm"}, workers, dict_path)
        fairseq_preprocess(tmp / "cls" / "label", {"test": tmp / "cls.test.label"}, workers, label_dict)
        done = {"made_by": "minimodel_fairseq.data.own target-test", "inputs": inputs, "spm": str(spm.resolve()),
                "dict": str(dict_path.resolve()), "pairs": rows.pairs, "rows": {"test": len(rows.labels)}}
        (tmp / "cls" / "DONE").write_text(json.dumps(done, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        (out / "raw").mkdir(exist_ok=True)
        for n in [*names, "cls.test.label"]:  # the raw copies first: cls/ (with DONE) last marks it finished
            os.replace(tmp / n, out / "raw" / n)
        os.replace(tmp / "cls", cls)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _log(f"target test set: {cls} ({len(rows.labels)} {'pairs' if rows.pairs else 'texts'})")
    return cls


# --------------------------------------------------------------------------- the pair check

def raw_rows(data, split):
    """The texts of DATA (a cls dir)'s split from its raw copies (``../raw/cls.SPLIT.input0`` [, ``.input1``])."""
    raw = Path(data).parent / "raw"
    columns = [(raw / f"cls.{split}.input{i}") for i in (0, 1) if (raw / f"cls.{split}.input{i}").is_file()]
    if not columns:
        raise DataPrepError(f"no {raw / f'cls.{split}.input0'}: give the cls dir of a prepared task or test set")
    return list(zip(*(p.read_text(encoding="utf-8").splitlines() for p in columns)))


def check_pairs(tokenizer, classifier, data, split="test", limit=None) -> int:
    """How many rows of DATA's split the Hugging Face ``tokenizer`` encodes with fairseq's hub's ids.

    fairseq's hub ``encode(a, b)`` is ``<s> a </s> </s> b </s>``, what sentence_prediction trains on
    with ``--init-token 0 --separator-token 2``; ``tok(a, b)`` must give the same ids. A mismatch
    is a DataPrepError naming the row and both id lists.
    """
    import minimodel_fairseq  # noqa: F401  (the plugin: --bpe hf_tokenizer, checkpoint loading)
    from fairseq.models.roberta import RobertaModel
    from transformers import AutoTokenizer

    classifier, data = Path(classifier).resolve(), Path(data).resolve()
    hub = RobertaModel.from_pretrained(str(classifier.parent), classifier.name, str(data)).eval()
    tok = AutoTokenizer.from_pretrained(str(tokenizer))
    rows = raw_rows(data, split)[:limit]
    for n, row in enumerate(rows, start=1):
        ours, theirs = hub.encode(*row).tolist(), tok(*row)["input_ids"]
        if ours != theirs:
            raise DataPrepError(f"{tokenizer}: row {n} of {data.parent / 'raw'}/cls.{split}.*: the tokenizer gives "
                                f"{theirs[:40]}, fairseq's hub {ours[:40]}")
    return len(rows)


# --------------------------------------------------------------------------- CLI

def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m minimodel_fairseq.data.own",
                                description="Your own task files (TSV or JSONL) as fairseq sentence_prediction data.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    t = sub.add_parser("task", help="the source-language task, with the big model's tokenizer")
    t.add_argument("--train", required=True, type=Path, help="training split (.tsv or .jsonl)")
    t.add_argument("--valid", required=True, type=Path, help="validation split (.tsv or .jsonl)")
    t.add_argument("--test", type=Path, help="test split (optional)")
    t.add_argument("--out", required=True, type=Path, help="output directory, e.g. DATA/en")
    t.add_argument("--hf-tokenizer", type=Path, metavar="DIR",
                   help="minimodel import-hf's output (tokenizer/, dict.txt)")
    t.add_argument("--spm", type=Path, help="a fairseq-native model's sentencepiece model (with --dict)")
    t.add_argument("--dict", type=Path, help="a fairseq-native model's dict.txt (with --spm)")
    t.add_argument("--workers", type=int, default=1, help="fairseq-preprocess workers")
    g = sub.add_parser("target-test", help="a target-language test set, with the target's tokenizer and the "
                       "source task's labels")
    g.add_argument("--test", required=True, type=Path, help="the test set (.tsv or .jsonl)")
    g.add_argument("--out", required=True, type=Path, help="the target language's directory (--raw-text output)")
    g.add_argument("--source", required=True, type=Path, help="the source task's directory (task --out)")
    g.add_argument("--spm", type=Path, help="target sentencepiece model (default OUT/spm.model)")
    g.add_argument("--dict", type=Path, help="target dict.txt (default OUT/mlm/dict.txt)")
    g.add_argument("--workers", type=int, default=1, help="fairseq-preprocess workers")
    c = sub.add_parser("check-pairs", help="an exported tokenizer's ids against fairseq's hub encode on a split")
    c.add_argument("--tokenizer", required=True, type=Path, help="Hugging Face tokenizer dir (an export-hf output)")
    c.add_argument("--classifier", required=True, type=Path, help="the fairseq classifier it was exported from")
    c.add_argument("--data", required=True, type=Path, help="its cls dir (input0/, label/, ../raw/cls.SPLIT.*)")
    c.add_argument("--split", default="test", help="split to check (default test)")
    c.add_argument("--limit", type=int, help="check at most N rows")
    args = p.parse_args(argv)
    try:
        if args.command == "task":
            prepare_task(args.out, args.train, args.valid, args.test, args.hf_tokenizer, args.spm, args.dict,
                         args.workers)
        elif args.command == "target-test":
            prepare_target_test(args.out, args.test, args.source, args.spm, args.dict, args.workers)
        else:
            import logging

            for name in ("fairseq", "minimodel_fairseq"):  # the hub logs the whole config when it loads
                logging.getLogger(name).setLevel(logging.WARNING)
            n = check_pairs(args.tokenizer, args.classifier, args.data, args.split, args.limit)
            print(f"check-pairs: {args.tokenizer}: token ids equal fairseq's hub encode on {n} rows of "
                  f"{args.data} ({args.split})")
    except DataPrepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
