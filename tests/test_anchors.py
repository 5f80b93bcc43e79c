"""Anchors of the shared / shared_translit init across scripts, their guards, the fallback init.

The symbol lists are real words of public-domain Bibles (Russian RST 1876, Arabic Van Dyck,
Hindi and Japanese names as the Bible databases spell them), with counts in the ratio of their
real frequencies, so the frequency guard sees what it sees on the real vocabularies.
"""

import sys

import pytest
import torch
from conftest import ROOT, TINY_TRAIN, run_cli
from fairseq.data import Dictionary

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import anchors, surgery


def dictionary(counts, total=None):
    """A fairseq dictionary with these counts; ``total``: a filler word brings the text to that size."""
    d = Dictionary()
    for sym, n in counts.items():
        d.add_symbol(sym, n)
    if total:
        d.add_symbol("▁filler", total - sum(counts.values()))
    return d


ENGLISH = dictionary(
    {
        ",": 4000,
        "▁the": 5000,
        "▁and": 3000,
        "▁was": 600,
        "▁any": 60,
        "▁year": 30,
        "▁god": 5,
        "▁God": 400,
        "▁more": 50,
        "li": 100,
        "▁David": 100,
        "▁Jacob": 40,
        "▁Abraham": 30,
        "▁Israel": 200,
        "▁Jerusalem": 80,
        "▁Asa": 20,
        "▁Babylon": 30,
        "▁Jonathan": 40,
    }
)
TOTAL = sum(ENGLISH.count)  # the target texts below are as long: relative frequencies = counts


def text(counts):
    return dictionary(counts, TOTAL)


def pairs(target, lang):
    """{target symbol: (source symbol, tier)} for the anchored non-special symbols."""
    found = anchors.match_tiers(target, ENGLISH, lang)
    return {
        target.symbols[i]: (ENGLISH.symbols[j], tier)
        for i, (j, tier) in found.items()
        if i >= target.nspecial and target.symbols[i] != "▁filler"
    }


def test_names_of_every_script_match_their_english_spelling():
    ru = pairs(text({"▁Давид": 100, "▁Израиль": 200, "▁Вавилон": 30, ",": 4000, "▁и": 3000}), "ru")
    assert ru == {
        "▁Давид": ("▁David", "romanised"),
        "▁Израиль": ("▁Israel", "name"),
        "▁Вавилон": ("▁Babylon", "name"),
        ",": (",", "exact"),
    }
    ar = pairs(text({"▁داود": 100, "▁ابراهيم": 30, "▁اسرائيل": 200, "▁آسا": 20, "▁و": 3000}), "ar")
    assert ar == {
        "▁داود": ("▁David", "name"),
        "▁ابراهيم": ("▁Abraham", "name"),
        "▁اسرائيل": ("▁Israel", "name"),
        "▁آسا": ("▁Asa", "romanised"),
    }  # caseless: asa -> Asa
    hi = pairs(text({"▁दाऊद": 100, "▁अब्राहम": 30, "▁इस्राएल": 200, "▁यरूशलेम": 80, "▁और": 3000}), "hi")
    assert hi == {
        "▁दाऊद": ("▁David", "name"),
        "▁अब्राहम": ("▁Abraham", "name"),
        "▁इस्राएल": ("▁Israel", "name"),
        "▁यरूशलेम": ("▁Jerusalem", "name"),
    }
    # Japanese is written without spaces: a mid-text katakana piece anchors to the English word
    ja = pairs(text({"ダビデ": 100, "アブラハム": 30, "ヨナタン": 40, "神": 400, "は": 3000}), "ja")
    assert ja == {
        "ダビデ": ("▁David", "name"),
        "アブラハム": ("▁Abraham", "name"),
        "ヨナタン": ("▁Jonathan", "name"),
    }


def test_exact_matches_come_first_and_shared_is_exact_only():
    target = text({"▁David": 100, "▁Давид": 100, ",": 4000})
    assert pairs(target, "ru")["▁David"] == ("▁David", "exact")
    shared = anchors.match(target, ENGLISH, "ru", romanised=False)
    assert {target.symbols[i] for i in shared if i >= target.nspecial} == {"▁David", ","}


def test_short_romanised_pieces_are_anchored_and_short_names_are_not():
    # the romanised tier has no length or frequency guard: the text short pieces cover decides transfer
    # (docs/results.md), so 'ли' -> 'li' and the false friend 'год' (year) -> 'god' are both anchored
    ru = text({"▁год": 30, "ли": 100, "▁море": 50})
    assert anchors.romanise(["▁год", "ли", "▁море"], "ru") == ["▁god", "li", "▁more"]
    assert anchors.romanise(["▁اني"], "ar") == ["▁any"]
    assert pairs(ru, "ru") == {
        "▁год": ("▁god", "romanised"),
        "ли": ("li", "romanised"),
        "▁море": ("▁more", "romanised"),
    }
    assert pairs(text({"▁اني": 600}), "ar") == {
        "▁اني": ("▁any", "romanised")
    }  # caseless, 10x 'any''s frequency
    # a name needs 3 consonants in its skeleton: Иаков, ヤコブ (Iakov, yakobu -> a-k-b) stay unanchored
    assert (
        anchors.skeleton("Iakov")
        == anchors.skeleton("yakobu")
        == anchors.skeleton("Jacob")
        == "akb"
    )
    assert pairs(text({"▁Иаков": 40}), "ru") == {} and pairs(text({"ヤコブ": 40}), "ja") == {}


def test_chinese_characters_are_not_matched_through_their_reading():
    assert anchors.romanise(["大卫"], "zh") == ["dawei"]
    assert pairs(text({"大卫": 100, "亚伯拉罕": 30}), "zh") == {}


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    """Romanisations are cached on disk: here in a directory of the test session, not in ~/.cache."""
    monkeypatch.setenv("MINIMODEL_CACHE", str(tmp_path_factory.getbasetemp() / "minimodel_cache"))


def test_language_codes_and_the_romanisation_cache(monkeypatch):
    assert [anchors.iso639_3(c) for c in ("ru", "ar", "hi", "zh", "ja", "deu", "xx", None)] == [
        "rus",
        "ara",
        "hin",
        "zho",
        "jpn",
        "deu",
        None,
        None,
    ]
    symbols = ["▁Давид", "▁море", "ли"]
    first = anchors.romanise(symbols, "ru")
    assert first == ["▁David", "▁more", "li"] and anchors.cache_file("rus").is_file()
    monkeypatch.setattr(
        anchors, "_uroman", lambda: pytest.fail("romanised again instead of cached")
    )
    assert anchors.romanise(symbols, "ru") == first  # from memory
    monkeypatch.setattr(anchors, "_ROMAN", {})
    assert anchors.romanise(symbols, "ru") == first  # from the disk, as a new process would
    assert anchors.romanise(["▁David", ","], "xx") == ["▁David", ","]  # ASCII never goes to uroman


def test_missing_romaniser_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "uroman", None)  # import uroman -> ImportError
    monkeypatch.setattr(anchors, "_ROMAN", {})
    monkeypatch.setenv("MINIMODEL_CACHE", str(tmp_path))  # nothing cached: uroman is needed
    anchors._uroman.cache_clear()
    try:
        with pytest.raises(
            anchors.AnchorError,
            match=r"needs the uroman romaniser: install it with "
            r"'.venv/bin/pip install uroman==1.3.1.1' \(scripts/setup.sh does\), or use "
            r"--embedding-init shared",
        ):
            anchors.match(text({"▁Давид": 100}), ENGLISH, "ru")
        assert anchors.match(
            text({"▁David": 100}), ENGLISH, "ru", romanised=False
        )  # shared needs no uroman
    finally:
        anchors._uroman.cache_clear()


def test_shared_translit_init_copies_the_anchored_rows():
    target = text({"▁Давид": 100, "▁Израиль": 200, "▁море": 50, "▁вас": 200, ",": 4000})
    body = torch.randn(len(ENGLISH), 8)
    shared, n_shared = surgery.new_language_embeddings(
        target, body, "shared", ENGLISH, seed=3, lang="ru"
    )
    translit, n = surgery.new_language_embeddings(
        target, body, "shared_translit", ENGLISH, seed=3, lang="ru"
    )
    expected = {"▁Давид": "▁David", "▁Израиль": "▁Israel", "▁море": "▁more", ",": ","}
    assert n_shared == 1 + 4 and n == len(expected) + 4  # + the 4 special symbols
    for i, s in enumerate(target.symbols[target.nspecial :], target.nspecial):
        if s in expected:
            assert torch.equal(translit[i], body[ENGLISH.index(expected[s])]), s
        else:  # unmatched rows are the same random rows as under shared
            assert torch.equal(translit[i], shared[i]), s
    big = text(
        {f"▁w{i}": 10 for i in range(2000)}
    )  # the rows without an anchor: RoBERTa's N(0, 0.02)
    plain, _ = surgery.new_language_embeddings(big, body, "shared", ENGLISH, seed=3)
    assert (
        plain[big.nspecial :].std().item() == pytest.approx(0.02, rel=0.1)
        and plain[big.pad()].abs().sum() == 0
    )


@pytest.mark.slow
def test_step2_task_romanises_with_the_data_directorys_language(
    bible_data, tiny_minijoint, tmp_path
):
    """The task takes the language from DATA/<lang>/mlm and copies the romanised matches."""
    from minimodel_fairseq.compat import load_checkpoint
    from minimodel_fairseq.data import bible

    db = bible.build_fixture_db(
        ROOT / "tests" / "fixtures" / "bible" / "verses.tsv", tmp_path / "f.db"
    )
    bible.prepare_language("ru", tmp_path / "data", translations=["r"], vocab_size=500, db=db)
    proc = run_cli(
        [
            "fairseq-train",
            str(tmp_path / "data" / "ru" / "mlm"),
            "--user-dir",
            str(ROOT / "minimodel_fairseq"),
            "--task",
            "new_language_mlm",
            "--criterion",
            "masked_lm",
            "--body-checkpoint",
            str(tiny_minijoint),
            "--body-dict",
            str(bible_data / "en" / "mlm" / "dict.txt"),
            "--embedding-init",
            "shared_translit",
            "--tokens-per-sample",
            "64",
            *TINY_TRAIN,
            "--lr",
            "0",
            "--max-update",
            "1",
            "--save-dir",
            str(tmp_path / "s2"),
        ]
    )
    assert "target language ru" in proc.stdout + proc.stderr
    en = Dictionary.load(str(bible_data / "en" / "mlm" / "dict.txt"))
    en.add_symbol("<mask>")
    ru = Dictionary.load(str(tmp_path / "data" / "ru" / "mlm" / "dict.txt"))
    ru.add_symbol("<mask>")
    found = anchors.match(ru, en, "ru")
    romanised = {i: j for i, j in found.items() if ru.symbols[i] not in en.indices}
    assert romanised, "the fixture's Russian verses have romanised matches (names)"
    emb = load_checkpoint(str(tmp_path / "s2" / "checkpoint_last.pt"))["model"][surgery.TOKENS]
    body = surgery.load_roberta_checkpoint(tiny_minijoint)["model"][surgery.TOKENS]
    for i, j in romanised.items():  # lr 0: the copied rows are the body's rows
        assert torch.equal(emb[i], body[j]), ru.symbols[i]


@pytest.mark.slow
def test_anchor_quality_scores_pairs_by_verse_alignment(bible_data):
    """benchmarks/anchor_quality.py on the fixture: names shared by both Bibles are supported by the
    alignment, a pair of two different names is not, and the report counts what it scored."""
    from benchmarks import anchor_quality

    align = anchor_quality.Alignment(bible_data / "de", bible_data / "en")
    assert align.verses == 83 + 106 + 205  # every fixture verse of ELB has its WEB verse
    assert align.supported("▁David", "▁David") and align.supported("▁Haman", "▁Haman")
    assert align.supported("▁David", "▁Haman") is False
    assert align.dice("▁Israel", "▁Israel") > 0.8 > align.dice("▁Israel", "▁Haman")
    assert align.supported("▁David", "no such symbol") is None
    row = anchor_quality.measure(bible_data, "de")
    assert row["exact"]["rows"] == row["shared"]["rows"] > 0
    assert 0 < row["shared"]["supported"] <= row["shared"]["scored"] <= row["shared"]["rows"]
    assert row["new"]["rows"] == sum(row[t]["rows"] for t in anchors.TIERS)
    assert "| de | " in anchor_quality.report([row])
