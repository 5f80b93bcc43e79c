"""examples/hf in miniature: the whole recipe from a Hugging Face directory, checked against the native run.

examples/hf/demo.sh with tiny sizes on the fixture verses: MiniJoint pretraining, the fairseq-native
standard recipe en -> de, export-hf of the pretrained model, then examples/hf/run.sh on that
directory (import-hf, English tokenized with the imported tokenizer, step 3, step 2 by the standard
recipe and by MiniPost, swap, evaluate, export-hf of the German classifiers). The conversion is
exact, so the run from the export must reproduce the native one: the same English token ids, the
same German accuracy; the exported classifier must load with AutoTokenizer +
AutoModelForSequenceClassification and predict as the fairseq classifier.
"""

import os
import re
import subprocess

import pytest
from conftest import FIXTURE_TSV, ROOT

TINY = {
    "MODEL_FLAGS": "--encoder-layers 3 --encoder-embed-dim 32 --encoder-ffn-embed-dim 64 "
    "--encoder-attention-heads 2 --mini-layer 1",
    "TOKENS": "128",
    "PRETRAIN_UPDATES": "12",
    "MINIPOST_K": "1",
    "MINIPOST_M": "1",
    "MINIPOST_UPDATES": "4",
    "ADAPT_UPDATES": "6",
    "FT_UPDATES": "6",
    "THREADS": "1",
    "VOCAB": "500",  # bible_data's vocabulary
}


def _accuracy(label, text):
    m = re.search(rf"^\s*{re.escape(label)}.*\s([0-9.]+)$", text, re.M)
    assert m, f"no line {label!r} in:\n{text[-3000:]}"
    return float(m.group(1))


@pytest.mark.recipe
@pytest.mark.slow
def test_hf_recipe_from_an_export_matches_the_native_run(bible_data, tmp_path):
    import torch
    from fairseq.data import data_utils
    from fairseq.models.roberta import RobertaModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import minimodel_fairseq  # noqa: F401  (lets fairseq load checkpoints under torch 2.13)
    from minimodel_fairseq.compat import load_checkpoint

    runs = tmp_path / "runs"
    env = {
        **os.environ,
        **TINY,
        "DATA": str(bible_data),
        "RUNS": str(runs),
        "PYTHONWARNINGS": "ignore",
        # the fixture database holds one English translation (WEB), as bible_data was built from
        "PREPARE_FLAGS": f"--db {bible_data.parent / 'fixture.db'} --translations en=4",
    }
    proc = subprocess.run(
        ["bash", "examples/hf/demo.sh", "de", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]

    native, from_hf = (
        _accuracy("fairseq-native", out),
        _accuracy("from its Hugging Face export", out),
    )
    assert abs(from_hf - native) <= 0.001, (
        native,
        from_hf,
    )  # within 0.1 points (here: the same verses)
    assert "within 0.1" in out
    assert 0 <= _accuracy("de zero-shot, MiniPost", out) <= 1  # the MiniPost run went through too
    assert 0 <= _accuracy("en, in-language", out) <= 1

    # the German classifier from the export is the native one, tensor for tensor
    hf_run, hf_data = runs / "hf" / "minijoint", runs / "hf_data" / "minijoint"
    native_ckpt = load_checkpoint(str(runs / "transfer" / "de" / "full" / "seed1.pt"))["model"]
    hf_ckpt = load_checkpoint(str(hf_run / "transfer" / "de" / "full_roberta" / "seed1.pt"))[
        "model"
    ]
    assert sorted(native_ckpt) == sorted(hf_ckpt)
    assert all(torch.equal(native_ckpt[k], hf_ckpt[k]) for k in native_ckpt)

    # the English task tokenized with the imported tokenizer is id for id the native data
    for split in ("train", "valid", "test"):
        ours = data_utils.load_indexed_dataset(str(hf_data / "en" / "cls" / "input0" / split), None)
        native_ds = data_utils.load_indexed_dataset(
            str(bible_data / "en" / "cls" / "input0" / split), None
        )
        assert len(ours) == len(native_ds) > 0
        assert all(torch.equal(ours[i], native_ds[i]) for i in range(len(ours))), split
    # and its dict.txt (import-hf's symbols, counted in the English text) is the native one, counts too:
    # the shared embedding init of step 2 compares source and target frequencies
    assert (hf_data / "en" / "mlm" / "dict.txt").read_text() == (
        bible_data / "en" / "mlm" / "dict.txt"
    ).read_text()

    # the exported German classifier: the Hugging Face pipeline predicts as the fairseq classifier
    export = hf_run / "export" / "de" / "full_roberta" / "seed1"
    tok = AutoTokenizer.from_pretrained(str(export))
    model = AutoModelForSequenceClassification.from_pretrained(str(export)).eval()
    hub = RobertaModel.from_pretrained(
        str(hf_run / "transfer" / "de" / "full_roberta"),
        "seed1.pt",
        str(bible_data / "de" / "cls"),
        bpe="sentencepiece",
        sentencepiece_model=str(bible_data / "de" / "spm.model"),
    ).eval()
    labels = hub.task.label_dictionary
    verses = (
        (bible_data / "de" / "raw" / "cls.test.input0").read_text(encoding="utf-8").splitlines()
    )
    worst, compared = 0.0, 0
    with torch.no_grad():
        for verse in verses:
            ids = hub.encode(verse)
            enc = tok(verse, return_tensors="pt")
            assert enc["input_ids"][0].tolist() == ids.tolist(), verse
            if (
                len(ids) > hub.model.max_positions()
            ):  # longer than the tiny model's positions (step 4 truncates)
                continue
            compared += 1
            theirs = model(**enc).logits[0]
            ours = hub.predict("sentence_classification_head", ids, return_logits=True)[0]
            worst = max(worst, float((theirs - ours).abs().max()))
            assert int(theirs.argmax()) == int(ours.argmax()), verse
            name = labels[int(ours.argmax()) + labels.nspecial]
            assert model.config.id2label[int(theirs.argmax())] == name
    assert worst < 1e-4, worst
    assert compared > 0.8 * len(verses), (compared, len(verses))


# ---------------------------------------------------------------- --hf-tokenizer: bad input


def _word_tokenizer(out, words, specials=("<s>", "<pad>", "</s>", "<unk>")):
    """An import-hf-like directory: dict.txt and tokenizer/ (a word-level tokenizer over `words`)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    out.mkdir(parents=True)
    vocab = {s: i for i, s in enumerate([*specials, *words, "<mask>"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
    ).save_pretrained(out / "tokenizer")
    return out


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    from minimodel_fairseq.data import bible

    return bible.build_fixture_db(FIXTURE_TSV, tmp_path_factory.mktemp("db") / "bible.db")


@pytest.mark.parametrize(
    "case, message",
    [
        (
            "no tokenizer",
            "needs {d}/dict.txt and {d}/tokenizer/, the output of 'minimodel import-hf",
        ),
        ("special ids differ", "the tokenizer's bos id is 1, fairseq's is 0"),
    ],
)
def test_hf_tokenizer_refuses_a_directory_that_does_not_fit(case, message, fixture_db, tmp_path):
    """One clear DataPrepError, and no output directory for the language is left behind."""
    from minimodel_fairseq.data import bible

    d = tmp_path / "import"
    if case == "no tokenizer":
        d.mkdir()
        (d / "dict.txt").write_text("the 1\n")
    else:
        _word_tokenizer(d, ["the"], specials=("<pad>", "<s>", "</s>", "<unk>"))
        (d / "dict.txt").write_text("the 1\n")
    out = tmp_path / "data"
    with pytest.raises(bible.DataPrepError, match=re.escape(message.format(d=d))):
        bible.prepare_language("en", out, translations=["4"], db=fixture_db, hf_tokenizer=d)
    assert not out.exists() or list(out.iterdir()) == []
