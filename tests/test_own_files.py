"""Your own files (minimodel_fairseq/data/own.py, examples/own/run.sh): formats, refusals, a pair task end to end.

The task is made from the fixture verses: a pair of two verses is labelled ``same`` when both come
from books of the same genre, else ``different`` (English for the source task, German for the
target test set, TSV for some splits and JSONL for others). The end-to-end test runs the recipe on a
tiny Hugging Face RobertaForMaskedLM (random weights, a byte-level BPE tokenizer trained on the
English fixture) and loads each exported German pair classifier with transformers in a process that
never imports the plugin: the same token ids as fairseq's hub (``<s> a </s></s> b </s>``) and the
same predictions as the recipe's own scoring, on every test pair.
"""

import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURE_TSV, ROOT, random_hf_masked_lm, run_python

from minimodel_fairseq.data import own
from minimodel_fairseq.data.bible import DataPrepError, genre_of

OWN = [sys.executable, "-m", "minimodel_fairseq.data.own"]


# --------------------------------------------------------------------------- the task files


def _verses(code):
    with open(FIXTURE_TSV, encoding="utf-8", newline="") as f:
        return [
            (int(r["bNumber"]), r["vText"])
            for r in csv.DictReader(f, delimiter="\t")
            if r["bbName"] == code
        ]


def genre_pairs(n, seed, code="4", max_chars=110):
    """n balanced (text_a, text_b, label) rows: label 'same' when both verses' books share a genre."""
    en, de = _verses("4"), _verses("e")
    short = [i for i in range(len(en)) if len(en[i][1]) < max_chars and len(de[i][1]) < max_chars]
    verses = dict(en=en, de=de)["de" if code == "e" else "en"]
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        i = rng.choice(short)
        same = k % 2 == 0
        partners = [
            j
            for j in short
            if j != i and (genre_of(verses[j][0]) == genre_of(verses[i][0])) == same
        ]
        j = rng.choice(partners)
        rows.append((verses[i][1], verses[j][1], "same" if same else "different"))
    return rows


def write_tsv(path, rows, header=("text_a", "text_b", "label")):
    path.write_text(
        "\t".join(header) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def write_jsonl(path, rows, keys=("text_a", "text_b", "label")):
    path.write_text(
        "".join(json.dumps(dict(zip(keys, r)), ensure_ascii=False) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def pair_task(d):
    """The documented files: English train (TSV), valid (JSONL), test (TSV); German text and test set (JSONL)."""
    d.mkdir(parents=True, exist_ok=True)
    files = {
        "train": write_tsv(d / "en.train.tsv", genre_pairs(160, 1)),
        "valid": write_jsonl(d / "en.valid.jsonl", genre_pairs(24, 2)),
        "test": write_tsv(d / "en.test.tsv", genre_pairs(24, 3)),
        "target_test": write_jsonl(d / "de.test.jsonl", genre_pairs(40, 4, code="e")),
    }
    files["target_text"] = d / "de.txt"
    files["target_text"].write_text("".join(t + "\n" for _, t in _verses("e")), encoding="utf-8")
    return files


# --------------------------------------------------------------------------- parsing


def test_tsv_and_jsonl_give_the_same_rows(tmp_path):
    rows = genre_pairs(6, 1)
    tsv = own.read_task_file(write_tsv(tmp_path / "a.tsv", rows))
    jsonl = own.read_task_file(write_jsonl(tmp_path / "a.jsonl", rows))
    assert tsv.pairs and jsonl.pairs
    assert tsv.texts == jsonl.texts == [(a, b) for a, b, _ in rows]
    assert tsv.labels == jsonl.labels == [r[2] for r in rows]
    assert tsv.lines == [2, 3, 4, 5, 6, 7] and jsonl.lines == [1, 2, 3, 4, 5, 6]


def test_single_texts_extra_fields_numbers_and_blank_lines(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(
        '{"id": 7, "text": "  In the  beginning ", "label": 1}\n\n{"text": "God", "label": "x", "n": 0}\n'
    )
    rows = own.read_task_file(p)
    assert (
        not rows.pairs
        and rows.texts == [("In the beginning",), ("God",)]
        and rows.labels == ["1", "x"]
    )
    t = tmp_path / "s.tsv"
    t.write_text(
        '\ufefflabel\ttext\tid\nlaw\tIn the beginning\t1\n\nwisdom\t"Quoted" text\t2\n',
        encoding="utf-8",
    )
    rows = own.read_task_file(t)
    assert rows.texts == [("In the beginning",), ('"Quoted" text',)] and rows.labels == [
        "law",
        "wisdom",
    ]
    assert rows.lines == [2, 4]


REFUSALS = [  # (file name, content, message with {p} for the path)
    (
        "a.tsv",
        "text_a\tlabel\nx\ty\n",
        "{p} line 1 (the header): no 'text_b' field: a sentence pair needs text_a and text_b",
    ),
    (
        "a.tsv",
        "text\tgenre\nx\ty\n",
        "{p} line 1 (the header): no 'label' field (fields: genre, text): give text and "
        "label, or text_a, text_b and label",
    ),
    (
        "a.tsv",
        "text\ttext_a\ttext_b\tlabel\n",
        "{p} line 1 (the header): both 'text' and 'text_a'/'text_b'",
    ),
    (
        "a.tsv",
        "text_a\ttext_b\tlabel\nx\t\ty\n",
        "{p} line 2: 'text_b' is empty: a pair file needs both texts in "
        "every row (a file holds either single texts or pairs)",
    ),
    (
        "a.tsv",
        "text\tlabel\nx\ty\tz\n",
        "{p} line 2: 3 fields, the header has 2: a field cannot hold a tab",
    ),
    ("a.tsv", "text\tlabel\n", "{p}: no rows (an empty split): give at least one labelled row"),
    ("a.tsv", "", "{p}: empty file: a TSV split needs a header row and at least one row"),
    (
        "a.tsv",
        "text\tlabel\nx\tnot entailment\n",
        "{p} line 2: label 'not entailment' has a space: a label is one word "
        "in fairseq's label dictionary; write it as 'not_entailment'",
    ),
    ("a.tsv", "text\tlabel\nx\t \n", "{p} line 2: 'label' is empty"),
    (
        "a.jsonl",
        '{"text_a": "x", "text_b": "y", "label": "a"}\n{"text": "z", "label": "a"}\n',
        "{p} line 2: a single text (text) after pair (text_a, text_b) rows from line 1: a file holds either single "
        "texts or pairs, not both",
    ),
    ("a.jsonl", '{"text": "x", "label": "a"}\n{"text": "y"\n', "{p} line 2: not a JSON object"),
    ("a.jsonl", '["x", "a"]\n', "{p} line 1: a JSON list, not an object with text and label"),
    (
        "a.jsonl",
        '{"text": "x", "label": null}\n',
        "{p} line 1: 'label' is missing: give a word or a whole number",
    ),
    ("a.jsonl", '{"text": 3, "label": "a"}\n', "{p} line 1: 'text' is int, not text"),
    ("a.jsonl", "\n\n", "{p}: no rows (an empty split)"),
    (
        "a.csv",
        "text,label\nx,y\n",
        "{p}: unknown format .csv: name a task file .tsv (header row, tab-separated) or "
        ".jsonl (one JSON object per line)",
    ),
]


@pytest.mark.parametrize("name, content, message", REFUSALS)
def test_a_bad_file_is_refused_naming_file_and_line(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    with pytest.raises(DataPrepError, match="^" + re.escape(message.format(p=p))):
        own.read_task_file(p)


def test_not_utf8_is_refused(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_bytes(b"text\tlabel\n\xff\tx\n")
    with pytest.raises(
        DataPrepError, match=re.escape(f"{p} line 2: not UTF-8: save the file as UTF-8")
    ):
        own.read_task_file(p)


def test_splits_must_agree_in_kind_and_labels(tmp_path):
    train = write_tsv(tmp_path / "train.tsv", [("a", "b", "same"), ("c", "d", "different")])
    single = write_jsonl(tmp_path / "valid.jsonl", [("a", "same")], keys=("text", "label"))
    with pytest.raises(
        DataPrepError,
        match=re.escape(
            f"{single} holds single texts but {train} (train) holds pairs: every split is one kind"
        ),
    ):
        own.read_task({"train": train, "valid": single})
    other = write_jsonl(tmp_path / "valid2.jsonl", [("a", "b", "same"), ("a", "b", "neutral")])
    with pytest.raises(
        DataPrepError,
        match=re.escape(
            f"{other} line 2: label 'neutral' is not among the training "
            f"labels of {train} (same, different): the classifier cannot "
            f"predict it"
        ),
    ):
        own.read_task({"train": train, "valid": other})


# --------------------------------------------------------------------------- preparation (sentencepiece side)


@pytest.fixture(scope="module")
def spm_side(tmp_path_factory):
    """A fairseq-native-like tokenizer: a sentencepiece model of the English fixture and its dict.txt."""
    from minimodel_fairseq.data import bible

    d = tmp_path_factory.mktemp("spm_side")
    (d / "train.txt").write_text("".join(t + "\n" for _, t in _verses("4")), encoding="utf-8")
    bible._train_spm(d / "train.txt", d / "spm", 300, 1.0, 1, 100000)
    bible._encode(d / "spm.model", [(d / "train.txt", d / "train.spm")])
    from collections import Counter

    counts = Counter(
        t
        for line in (d / "train.spm").read_text(encoding="utf-8").splitlines()
        for t in line.split()
    )
    (d / "dict.txt").write_text(
        "".join(f"{s} {c}\n" for s, c in counts.most_common()), encoding="utf-8"
    )
    return d


@pytest.fixture(scope="module")
def prepared(spm_side, tmp_path_factory):
    """The pair task prepared with --spm/--dict, and a 'target' directory (the same tokenizer) with its test set."""
    d = tmp_path_factory.mktemp("prepared")
    files = pair_task(d / "files")
    rc = run_python(
        [
            *OWN,
            "task",
            "--train",
            str(files["train"]),
            "--valid",
            str(files["valid"]),
            "--out",
            str(d / "en"),
            "--spm",
            str(spm_side / "spm.model"),
            "--dict",
            str(spm_side / "dict.txt"),
        ],
    )
    assert rc.returncode == 0, rc.stderr
    target = d / "xx"
    (target / "mlm").mkdir(parents=True)
    shutil.copy(spm_side / "spm.model", target / "spm.model")
    shutil.copy(spm_side / "dict.txt", target / "mlm" / "dict.txt")
    return {"root": d, "files": files, "src": d / "en", "target": target}


def test_task_layout_ids_and_labels(prepared, spm_side):
    import sentencepiece as spm
    from fairseq.data import Dictionary, data_utils

    src = prepared["src"]
    done = json.loads((src / "DONE").read_text())
    assert (
        done["pairs"]
        and done["rows"] == {"train": 160, "valid": 24}
        and done["labels"] == ["different", "same"]
    )
    assert set(done["inputs"]) == {"train", "valid"}
    assert own.label_names(src / "cls" / "label" / "dict.txt") == [
        "different",
        "same",
    ]  # 80 each: alphabetical
    sp = spm.SentencePieceProcessor(model_file=str(spm_side / "spm.model"))
    d = Dictionary.load(str(src / "cls" / "input0" / "dict.txt"))
    assert (src / "cls" / "input1" / "dict.txt").read_text() == (
        src / "mlm" / "dict.txt"
    ).read_text()
    rows = own.read_task_file(prepared["files"]["valid"])
    assert own.raw_rows(src / "cls", "valid") == rows.texts
    for k in (0, 1):
        ds = data_utils.load_indexed_dataset(str(src / "cls" / f"input{k}" / "valid"), d)
        for i, row in enumerate(rows.texts):
            assert ds[i].tolist() == [d.index(p) for p in sp.encode(row[k], out_type=str)] + [
                d.eos()
            ]
    assert (src / "raw" / "cls.valid.label").read_text().split() == rows.labels
    assert (src / "raw" / "train.txt").read_text().count(
        "\n"
    ) == 2 * 160  # both texts of every row: MLM text


def test_target_test_uses_the_source_labels_and_refuses_others(prepared, tmp_path):
    from fairseq.data import Dictionary, data_utils

    target, src = prepared["target"], prepared["src"]
    bad = write_tsv(tmp_path / "bad.tsv", [("a", "b", "same"), ("c", "d", "entailment")])
    with pytest.raises(
        DataPrepError,
        match=re.escape(
            f"{bad} line 3: label 'entailment' is not among the source "
            f"task's labels ({src / 'cls' / 'label' / 'dict.txt'}) "
            f"(different, same)"
        ),
    ):
        own.prepare_target_test(target, bad, src)
    single = write_tsv(tmp_path / "single.tsv", [("a", "same")], header=("text", "label"))
    with pytest.raises(
        DataPrepError,
        match=re.escape(
            f"{single} holds single texts but the source task {src} holds pairs: give the same kind"
        ),
    ):
        own.prepare_target_test(target, single, src)
    assert not (target / "cls").exists() and not (target / "raw").exists()  # refusals write nothing

    cls = own.prepare_target_test(target, prepared["files"]["target_test"], src)
    assert (cls / "label" / "dict.txt").read_text() == (
        src / "cls" / "label" / "dict.txt"
    ).read_text()
    assert sorted(p.name for p in (cls / "label").glob("*.idx")) == ["test.idx"]
    labels = Dictionary.load(str(cls / "label" / "dict.txt"))
    ds = data_utils.load_indexed_dataset(str(cls / "label" / "test"), labels)
    gold = [labels[int(x[0])] for x in ds]
    assert gold == own.read_task_file(prepared["files"]["target_test"]).labels
    assert (
        own.prepare_target_test(target, prepared["files"]["target_test"], src) == cls
    )  # done: skipped
    other = write_jsonl(tmp_path / "other.jsonl", [("a", "b", "same")])
    with pytest.raises(
        DataPrepError,
        match=re.escape(f"{cls} was prepared from other files (test differ): delete {cls}"),
    ):
        own.prepare_target_test(target, other, src)


def test_task_refuses_other_files_and_foreign_directories_and_keeps_them(
    prepared, spm_side, tmp_path
):
    files, src = prepared["files"], prepared["src"]
    kw = dict(spm=spm_side / "spm.model", dict_path=spm_side / "dict.txt")
    before = {p: p.stat().st_mtime_ns for p in src.rglob("*")}
    assert (
        own.prepare_task(src, files["train"], files["valid"], **kw) == src
    )  # the same files: skipped
    with pytest.raises(
        DataPrepError,
        match=re.escape(
            f"{src} was prepared from other files (test, train differ): "
            f"delete {src} to prepare the task again"
        ),
    ):
        own.prepare_task(src, files["valid"], files["valid"], files["test"], **kw)
    assert {p: p.stat().st_mtime_ns for p in src.rglob("*")} == before
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(
        DataPrepError,
        match=re.escape(
            f"{mine} exists and is not a finished task preparation (no "
            f"DONE): move it away or choose another --out"
        ),
    ):
        own.prepare_task(mine, files["train"], files["valid"], **kw)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    with pytest.raises(
        DataPrepError, match="^give the big model's tokenizer: --hf-tokenizer IMPORT_DIR"
    ):
        own.prepare_task(tmp_path / "x", files["train"], files["valid"])


def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, spm_side):
    bad = write_tsv(tmp_path / "train.tsv", [("a", "", "same")])
    proc = run_python(
        [
            *OWN,
            "task",
            "--train",
            str(bad),
            "--valid",
            str(bad),
            "--out",
            str(tmp_path / "out"),
            "--spm",
            str(spm_side / "spm.model"),
            "--dict",
            str(spm_side / "dict.txt"),
        ],
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {bad} line 2: 'text_b' is empty: a pair file needs both texts in "
        f"every row (a file holds either single texts or pairs)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.tsv"]


def test_step3_reads_the_number_of_classes_from_the_label_dictionary(prepared, tmp_path):
    """examples/bible/3_finetune.sh: --num-classes from DATA/SRC/cls/label/dict.txt, an empty one refused."""
    env = {k: v for k, v in os.environ.items() if k not in ("RUNS", "SRC", "PROGRESS_PREFIX")}
    env.update(
        DRY_RUN="1", PRECISION="fp32", DATA=str(prepared["root"]), RUNS=str(tmp_path / "runs")
    )
    proc = subprocess.run(
        ["bash", "examples/bible/3_finetune.sh", "1", "roberta"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert " --num-classes 2 " in proc.stdout
    empty = tmp_path / "data" / "en" / "cls" / "label"
    empty.mkdir(parents=True)
    (empty / "dict.txt").write_text("madeupword0000 0\n")
    (tmp_path / "data" / "en" / "DONE").write_text("{}")
    proc = subprocess.run(
        ["bash", "examples/bible/3_finetune.sh", "1", "roberta"],
        cwd=ROOT,
        env={**env, "DATA": str(tmp_path / "data")},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"{empty / 'dict.txt'} lists no labels: prepare the task's data "
        f"again (docs/data.md, docs/hf.md)"
    )


# --------------------------------------------------------------------------- end to end

TINY = {
    "TOKENS": "128",
    "MINIPOST_K": "1",
    "MINIPOST_M": "1",
    "MINIPOST_UPDATES": "4",
    "ADAPT_UPDATES": "6",
    "FT_UPDATES": "6",
    "THREADS": "1",
    "VOCAB": "500",
    "PRECISION": "fp32",
}
HF_SIZES = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=130,
    layer_norm_eps=1e-5,
    hidden_act="gelu",
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)

# transformers only: the exported directory as a user loads it, in a process without fairseq or the plugin
HF_SCRIPT = r"""
import json, sys
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
export, pairs = sys.argv[1], json.load(open(sys.argv[2], encoding="utf-8"))
tok = AutoTokenizer.from_pretrained(export)
model = AutoModelForSequenceClassification.from_pretrained(export).eval()
out = {"ids": [], "labels": [], "logits": []}
with torch.no_grad():
    for a, b in pairs:
        enc = tok(a, b, return_tensors="pt")
        logits = model(**enc).logits[0]
        out["ids"].append(enc["input_ids"][0].tolist())
        out["logits"].append(logits.tolist())
        out["labels"].append(model.config.id2label[int(logits.argmax())])
out["loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in ("fairseq", "fairseq_cli", "minimodel_fairseq"))
print(json.dumps(out))
"""


def tiny_hf_model(path, text):
    """A RobertaForMaskedLM directory with random weights and a byte-level BPE tokenizer (roberta-base's kind)."""
    import transformers
    from tokenizers import ByteLevelBPETokenizer

    path.mkdir(parents=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train(
        [str(text)],
        vocab_size=400,
        min_frequency=2,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        show_progress=False,
    )
    bpe.save_model(str(path))
    tok = transformers.RobertaTokenizer.from_pretrained(str(path))
    model = random_hf_masked_lm("RobertaForMaskedLM", dict(vocab_size=len(tok), **HF_SIZES))
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


@pytest.mark.recipe
@pytest.mark.slow
def test_a_pair_task_from_own_files_end_to_end(tmp_path):
    import torch
    from fairseq.models.roberta import RobertaModel
    from transformers import AutoTokenizer

    import minimodel_fairseq  # noqa: F401  (the plugin: checkpoint loading, --bpe hf_tokenizer)

    files = pair_task(tmp_path / "files")
    (tmp_path / "en.txt").write_text("".join(t + "\n" for _, t in _verses("4")), encoding="utf-8")
    hf_dir = tiny_hf_model(tmp_path / "models" / "tiny-roberta", tmp_path / "en.txt")
    runs, data = tmp_path / "runs", tmp_path / "data"
    env = {
        **os.environ,
        **TINY,
        "OWN_RUNS": str(runs),
        "OWN_DATA": str(data),
        "PYTHONWARNINGS": "ignore",
    }
    for k in (
        "RUNS",
        "DATA",
        "SRC",
        "HF_RUNS",
        "HF_DATA",
        "OWN_NAME",
        "PROGRESS_PREFIX",
        "DRY_RUN",
    ):
        env.pop(k, None)
    args = [
        "bash",
        "examples/own/run.sh",
        str(hf_dir),
        "--lang",
        "de",
        "--target-text",
        str(files["target_text"]),
        "--train",
        str(files["train"]),
        "--valid",
        str(files["valid"]),
        "--test",
        str(files["test"]),
        "--target-test",
        str(files["target_test"]),
    ]
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]
    assert out.count("check-pairs: ") == 3, out  # the imported tokenizer and both exported ones
    assert re.search(r"de zero-shot, standard recipe \(full_roberta\)\s+[0-9.]+$", out, re.M), out
    assert re.search(r"de zero-shot, MiniPost \(K=1, M=1\)\s+[0-9.]+$", out, re.M), out

    run, d = runs / "tiny-roberta", data / "tiny-roberta"
    pairs = own.raw_rows(d / "de" / "cls", "test")
    assert pairs == own.read_task_file(files["target_test"]).texts and len(pairs) == 40
    (tmp_path / "pairs.json").write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
    for method in ("full_roberta", "minipost"):
        hub = RobertaModel.from_pretrained(
            str(run / "transfer" / "de" / method), "seed1.pt", str(d / "de" / "cls")
        ).eval()
        labels = hub.task.label_dictionary
        scored = (
            (run / "transfer" / "de" / method / "seed1.predictions.tsv")
            .read_text()
            .splitlines()[1:]
        )
        recipe = [
            line.split("\t")[2] for line in scored
        ]  # what step 4's evaluate predicted, pair by pair
        assert len(recipe) == len(pairs)
        fairseq_ids, fairseq_logits = [], []
        with torch.no_grad():
            for a, b in pairs:
                ids = hub.encode(a, b)
                assert len(ids) <= hub.model.max_positions()  # nothing truncated in step 4
                assert ids.tolist() == [
                    0,
                    *hub.encode(a).tolist()[1:-1],
                    2,
                    2,
                    *hub.encode(b).tolist()[1:-1],
                    2,
                ]
                fairseq_ids.append(ids.tolist())
                fairseq_logits.append(
                    hub.predict("sentence_classification_head", ids, return_logits=True)[0]
                )
        assert [labels[int(x.argmax()) + labels.nspecial] for x in fairseq_logits] == recipe
        # the majority baseline of a test set without a train split: the source task's most frequent label
        row = next(
            r
            for r in csv.DictReader((run / "results.tsv").read_text().splitlines(), delimiter="\t")
            if r["method"] == method
        )
        gold = own.read_task_file(files["target_test"]).labels
        majority = own.label_names(d / "en" / "cls" / "label" / "dict.txt")[0]
        assert (
            float(row["majority"]) == pytest.approx(gold.count(majority) / len(gold))
            and int(row["n"]) == 40
        )
        hf = subprocess.run(
            [
                sys.executable,
                "-c",
                HF_SCRIPT,
                str(run / "export" / "de" / method / "seed1"),
                str(tmp_path / "pairs.json"),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        assert hf.returncode == 0, hf.stderr[-3000:]
        theirs = json.loads(hf.stdout.splitlines()[-1])
        assert theirs["loaded"] == []  # neither fairseq nor the plugin in that process
        assert theirs["ids"] == fairseq_ids
        assert theirs["labels"] == recipe, method
        worst = max(
            float((torch.tensor(t) - f).abs().max())
            for t, f in zip(theirs["logits"], fairseq_logits)
        )
        assert worst < 1e-4, (method, worst)
        assert (
            run / "export" / "de" / method / "seed1_mlm" / "hf" / "config.json"
        ).is_file()  # export-mlm

    # the imported tokenizer (byte-level BPE) encodes the English pairs as the step-3 classifier's hub does
    hub = RobertaModel.from_pretrained(
        str(run / "finetune" / "roberta" / "seed1"), "checkpoint_best.pt", str(d / "en" / "cls")
    ).eval()
    tok = AutoTokenizer.from_pretrained(str(run / "import" / "tokenizer"))
    for a, b in own.raw_rows(d / "en" / "cls", "test"):
        assert tok(a, b)["input_ids"] == hub.encode(a, b).tolist()
