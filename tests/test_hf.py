"""Hugging Face import and export (minimodel_fairseq/hf.py): exact logits, exact token ids, round trips, refusals.

Hugging Face models are built from a config with random weights (every tensor perturbed, so
LayerNorms, biases and token types are not at their init values); nothing is downloaded.
The measured figures are printed (run with -s to see them).
"""

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY_TRAIN, random_hf_masked_lm, run_cli

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import cli, files, hf, surgery

pytestmark = pytest.mark.slow
USER_DIR = str(ROOT / "minimodel_fairseq")
MAX_POS = 64
TOL = 1e-4
HF_SIZES = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=MAX_POS + 2,
    layer_norm_eps=1e-5,
    hidden_act="gelu",
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)
# each class with a tokenizer of its kind: byte-level BPE (RoBERTa) or sentencepiece (XLM-R)
CLASSES = {
    "RobertaForMaskedLM": "bpe",
    "XLMRobertaForMaskedLM": "spm",
    "RobertaPreLayerNormForMaskedLM": "bpe",
    "XLMRobertaXLForMaskedLM": "spm",
}


def _lines(bible_data, lang, n=None):
    lines = (bible_data / lang / "raw" / "cls.test.input0").read_text(encoding="utf-8").splitlines()
    return lines[:n] if n else lines


def _snapshot(root):
    return {p: (p.read_bytes() if p.is_file() else None) for p in sorted(Path(root).rglob("*"))}


@pytest.fixture(scope="module")
def hf_tokenizers(bible_data, tmp_path_factory):
    """Tokenizer directories as the Hub has them: roberta-base style (vocab.json + merges.txt, no
    tokenizer_config.json) trained on the English fixture, xlm-roberta style from its sentencepiece model."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import XLMRobertaTokenizer

    root = tmp_path_factory.mktemp("hf_tokenizers")
    bpe = ByteLevelBPETokenizer()
    bpe.train(
        [str(bible_data / "en" / "raw" / "train.txt")],
        vocab_size=400,
        min_frequency=2,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        show_progress=False,
    )
    (root / "bpe").mkdir()
    bpe.save_model(
        str(root / "bpe")
    )  # vocab.json, merges.txt; <mask> comes last (RobertaTokenizer adds it)
    (root / "spm_src").mkdir()
    shutil.copy(bible_data / "en" / "spm.model", root / "spm_src" / "sentencepiece.bpe.model")
    XLMRobertaTokenizer.from_pretrained(str(root / "spm_src")).save_pretrained(str(root / "spm"))
    return root


def make_hf_dir(cls_name, kind, tokenizers, path, seed=0, bin_weights=False):
    """A Hugging Face directory of ``cls_name`` with random weights and a ``kind`` tokenizer."""
    import transformers

    path.mkdir(parents=True)
    for f in (tokenizers / kind).iterdir():
        shutil.copy(f, path / f.name)
    tok_cls = (
        transformers.RobertaTokenizer
        if kind.startswith("bpe")
        else transformers.XLMRobertaTokenizer
    )
    tok = tok_cls.from_pretrained(str(path))
    model = random_hf_masked_lm(cls_name, dict(vocab_size=len(tok), **HF_SIZES), seed)
    model.save_pretrained(str(path))
    if bin_weights:  # the older format: a PyTorch pickle, read with weights_only=True
        torch.save(model.state_dict(), path / "pytorch_model.bin")
        (path / "model.safetensors").unlink()
    return model, tok


def fairseq_model(checkpoint, **overrides):
    from fairseq import checkpoint_utils

    (model,), _, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(checkpoint)], arg_overrides=overrides
    )
    return model.eval(), task


# --------------------------------------------------------------------------- import


@pytest.fixture(scope="module")
def imported(hf_tokenizers, tmp_path_factory):
    """Each accepted class: its Hugging Face directory and the import-hf output."""
    root = tmp_path_factory.mktemp("imported")
    out = {}
    for i, (cls_name, kind) in enumerate(CLASSES.items()):
        src = root / cls_name
        model, tok = make_hf_dir(
            cls_name, kind, hf_tokenizers, src, seed=i, bin_weights=cls_name == "RobertaForMaskedLM"
        )
        proc = run_cli(
            ["minimodel", "import-hf", str(src), "--out", str(root / f"{cls_name}.fairseq")]
        )
        out[cls_name] = {
            "src": src,
            "model": model,
            "tok": tok,
            "out": root / f"{cls_name}.fairseq",
            "stdout": proc.stdout,
        }
    return out


@pytest.mark.parametrize("cls_name", list(CLASSES))
def test_import_gives_the_same_masked_lm_logits(imported, bible_data, cls_name):
    r = imported[cls_name]
    info = json.loads((r["out"] / "import.json").read_text())
    assert info["class"] == cls_name and info["embedding_rows"] == len(r["tok"])
    state = surgery.load_roberta_checkpoint(r["out"] / "model.pt")
    assert torch.equal(
        state["model"]["encoder.lm_head.weight"], state["model"][surgery.TOKENS]
    )  # tied
    fs, task = fairseq_model(r["out"] / "model.pt")
    assert len(task.source_dictionary) == len(r["tok"])
    lines = _lines(bible_data, "en", 16)
    batch = r["tok"](lines, padding=True, truncation=True, max_length=MAX_POS, return_tensors="pt")
    assert not batch["attention_mask"].all()  # padding in the batch
    with torch.no_grad():
        ours = fs(batch["input_ids"])[0]
        theirs = r["model"](**batch).logits
    real = batch[
        "attention_mask"
    ].bool()  # (fairseq zeroes padded positions, Hugging Face does not)
    diff = (ours - theirs)[real].abs().max().item()
    print(
        f"\nimport {cls_name}: max abs MLM logit difference {diff:.2e} over {int(real.sum())} positions"
    )
    assert diff < TOL
    check = info["self_check"]  # import-hf's own comparison, printed and recorded
    assert check["inputs"] == 4 and check["max_abs_diff"] < TOL
    assert (
        f"self-check: masked-LM logits of the two models differ by at most {check['max_abs_diff']:.1e} on 4 "
        f"inputs (tolerance 0.0001)"
    ) in r["stdout"].splitlines()
    assert torch.equal(ours[real].argmax(-1), theirs[real].argmax(-1))
    # the tokenizer's text, written as dict.txt symbols, binarizes to the tokenizer's own ids
    symbols = hf.encode_as_symbols(r["out"], lines)
    for line, sym in zip(lines, symbols):
        ids = task.source_dictionary.encode_line(
            sym, append_eos=True, add_if_not_exist=False
        ).tolist()
        assert ids == r["tok"](line, add_special_tokens=False)["input_ids"] + [2]
    # ... and the copied tokenizer is the original
    from transformers import AutoTokenizer

    assert (
        AutoTokenizer.from_pretrained(str(r["out"] / "tokenizer")).get_vocab()
        == r["tok"].get_vocab()
    )


@pytest.mark.parametrize("cls_name", list(CLASSES))
def test_round_trip_hf_fairseq_hf_gives_the_same_tensors(imported, tmp_path, cls_name):
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoTokenizer

    r = imported[cls_name]
    written = hf.export_hf(r["out"] / "model.pt", tmp_path / "back")
    config = json.loads((tmp_path / "back" / "config.json").read_text())
    assert config["minimodel_fairseq"]["self_check"] == written["self_check"]
    assert (
        written["self_check"]["max_abs_diff"] < TOL
        and written["self_check"]["logits"] == "masked-LM"
    )
    original = {
        k: v for k, v in r["model"].state_dict().items() if not k.startswith("lm_head.decoder.")
    }
    back = load_file(str(tmp_path / "back" / "model.safetensors"))
    assert set(back) == set(original)
    assert all(torch.equal(back[k], original[k]) for k in original), [
        k for k in original if not torch.equal(back[k], original[k])
    ]
    assert AutoConfig.from_pretrained(str(tmp_path / "back")).architectures == [cls_name]
    assert AutoTokenizer.from_pretrained(str(tmp_path / "back")).get_vocab() == r["tok"].get_vocab()


def test_imported_model_is_a_body_for_step_2_and_a_source_for_minipost(
    imported, bible_data, tmp_path
):
    """Step 2 (German embeddings over the imported body) and MiniPost (its bottom layer + a new one,
    trained on English tokenized with the imported tokenizer and binarized with its dict.txt)."""
    r = imported["XLMRobertaForMaskedLM"]
    body = surgery.load_roberta_checkpoint(r["out"] / "model.pt")["model"]
    run_cli(
        [
            "fairseq-train",
            str(bible_data / "de" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "new_language_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "roberta",
            "--body-checkpoint",
            str(r["out"] / "model.pt"),
            "--tokens-per-sample",
            str(MAX_POS),
            *TINY_TRAIN,
            "--max-update",
            "3",
            "--save-dir",
            str(tmp_path / "s2"),
        ]
    )
    step2 = surgery.load_roberta_checkpoint(tmp_path / "s2" / "checkpoint_last.pt")["model"]
    new = {surgery.TOKENS, "encoder.lm_head.weight", "encoder.lm_head.bias"}
    assert set(step2) == set(body) and all(
        torch.equal(step2[k], body[k]) for k in body if k not in new
    )
    assert (
        step2[surgery.TOKENS].shape[0]
        == len((bible_data / "de" / "mlm" / "dict.txt").read_text().splitlines()) + 5
    )

    raw = tmp_path / "raw"
    raw.mkdir()
    text = (bible_data / "en" / "raw" / "train.txt").read_text(encoding="utf-8").splitlines()
    for split, lines in (("train", text[:150]), ("valid", text[150:200])):
        (raw / f"{split}.txt").write_text(
            "\n".join(hf.encode_as_symbols(r["out"], lines)) + "\n", encoding="utf-8"
        )
    run_cli(
        [
            "fairseq-preprocess",
            "--only-source",
            "--srcdict",
            str(r["out"] / "dict.txt"),
            "--trainpref",
            str(raw / "train.txt"),
            "--validpref",
            str(raw / "valid.txt"),
            "--destdir",
            str(tmp_path / "en"),
            "--workers",
            "1",
        ]
    )
    run_cli(
        [
            "fairseq-train",
            str(tmp_path / "en"),
            "--user-dir",
            USER_DIR,
            "--task",
            "minipost_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "minipost_roberta",
            "--source-checkpoint",
            str(r["out"] / "model.pt"),
            "--mini-layers",
            "1",
            "--mini-new-layers",
            "1",
            "--tokens-per-sample",
            str(MAX_POS),
            *TINY_TRAIN,
            "--max-update",
            "3",
            "--save-dir",
            str(tmp_path / "minipost"),
        ]
    )
    mini = surgery.load_roberta_checkpoint(tmp_path / "minipost" / "checkpoint_last.pt")["model"]
    assert surgery.num_layers({"model": mini}) == 2
    frozen = [
        k for k in mini if k.startswith("encoder.sentence_encoder.layers.0.") or k == surgery.TOKENS
    ]
    assert frozen and all(torch.equal(mini[k], body[k]) for k in frozen)
    assert not torch.equal(
        mini["encoder.sentence_encoder.layers.1.fc1.weight"],
        body["encoder.sentence_encoder.layers.1.fc1.weight"],
    )

    # both checkpoints fairseq wrote export as the imported class (the task state records it)
    for ckpt, kw in (
        (tmp_path / "s2" / "checkpoint_last.pt", {}),
        (tmp_path / "minipost" / "checkpoint_last.pt", {"tokenizer": r["out"] / "tokenizer"}),
    ):
        written = hf.export_hf(ckpt, tmp_path / f"hf_{ckpt.parent.name}", **kw)
        assert_exported_as(tmp_path / f"hf_{ckpt.parent.name}", "XLMRobertaForMaskedLM")
        assert written["self_check"]["max_abs_diff"] < TOL


def assert_exported_as(out, cls_name):
    config = json.loads((Path(out) / "config.json").read_text())
    assert config["architectures"] == [cls_name] and config["model_type"] == "xlm-roberta", config[
        "architectures"
    ]


def test_models_derived_from_an_import_export_as_its_class(imported, tmp_path):
    """An XLM-R's mini-model (extract-mini's surgery) and a classifier over it with embeddings swapped in
    come back as XLM-R classes (the origin travels in their notes), token-type rows included."""
    r = imported["XLMRobertaForMaskedLM"]
    big = surgery.load_roberta_checkpoint(r["out"] / "model.pt")
    mini = surgery.to_roberta(big, layers=1, note={"made_by": "extract-mini"})
    files.save_checkpoint(mini, tmp_path / "mini.pt")
    hf.export_hf(tmp_path / "mini.pt", tmp_path / "hf_mini")
    assert_exported_as(tmp_path / "hf_mini", "XLMRobertaForMaskedLM")

    classifier = surgery.to_roberta(big)
    g = torch.Generator().manual_seed(0)
    for name, shape in (
        ("dense.weight", (32, 32)),
        ("dense.bias", (32,)),
        ("out_proj.weight", (3, 32)),
        ("out_proj.bias", (3,)),
    ):
        classifier["model"][f"classification_heads.{hf.HEAD}.{name}"] = (
            torch.randn(*shape, generator=g) * 0.1
        )
    embeddings = copy.deepcopy(big)
    embeddings["model"][surgery.TOKENS] = big["model"][surgery.TOKENS].flip(0).clone()
    embeddings["minimodel"] = {
        surgery.BIG_MODEL_KEY: surgery.big_model_of(big)
    }  # as step 2 records it
    files.save_checkpoint(surgery.swap_embeddings(classifier, embeddings), tmp_path / "swapped.pt")
    labels = tmp_path / "labels.txt"
    labels.write_text("a 1\nb 1\nc 1\n")
    written = hf.export_hf(tmp_path / "swapped.pt", tmp_path / "hf_swapped", label_dict=labels)
    assert_exported_as(tmp_path / "hf_swapped", "XLMRobertaForSequenceClassification")
    assert (
        written["self_check"]["logits"] == "classification"
        and written["self_check"]["max_abs_diff"] < TOL
    )
    from safetensors.torch import load_file

    types = load_file(str(tmp_path / "hf_swapped" / "model.safetensors"))[
        "roberta.embeddings.token_type_embeddings.weight"
    ]
    assert torch.equal(types, r["model"].roberta.embeddings.token_type_embeddings.weight.detach())


def test_task_state_keeps_the_hf_origin_on_resume():
    from fairseq.data import Dictionary

    from minimodel_fairseq.tasks.provenance import RecordsBigModel

    class Task(RecordsBigModel):
        source_dictionary = Dictionary()

    task = Task()
    task.big_model, task.hf_origin = (
        "f" * 64,
        {"hf_class": "XLMRobertaForMaskedLM", "hf_model_type": "xlm-roberta"},
    )
    saved = task.get_checkpoint_dict()
    assert surgery.hf_origin({"extra_state": saved}) == task.hf_origin
    resumed = Task()
    resumed.set_checkpoint_dict(saved["Task"])
    assert (resumed.big_model, resumed.hf_origin) == (task.big_model, task.hf_origin)


# --------------------------------------------------------------------------- export


def _fairseq_ids(hub_or_dict, spm, line):
    """fairseq's ids for a raw line, as data preparation and hub.encode make them."""
    pieces = " ".join(spm.encode(line, out_type=str))
    return hub_or_dict.encode_line(
        "<s> " + pieces + " </s>", append_eos=False, add_if_not_exist=False
    ).tolist()


def test_export_minijoint_masked_lm(tiny_minijoint, bible_data, tmp_path):
    import sentencepiece
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    out = tmp_path / "hf"
    proc = run_cli(["minimodel", "export-hf", str(tiny_minijoint), "--out", str(out)])
    assert "the secondary (mini) head at layer 2 is not" in proc.stdout
    tok = AutoTokenizer.from_pretrained(str(out))
    model = AutoModelForMaskedLM.from_pretrained(str(out)).eval()
    assert type(model).__name__ == "XLMRobertaXLForMaskedLM" and tok.is_fast
    fs, task = fairseq_model(tiny_minijoint)
    sp = sentencepiece.SentencePieceProcessor(model_file=str(bible_data / "en" / "spm.model"))
    lines = _lines(bible_data, "en")
    same = sum(
        tok(line)["input_ids"] == _fairseq_ids(task.source_dictionary, sp, line) for line in lines
    )
    print(f"\nexport MiniJoint (en): token ids equal on {same} of {len(lines)} test verses")
    assert same == len(lines)
    batch = tok(lines[:16], padding=True, truncation=True, max_length=MAX_POS, return_tensors="pt")
    with torch.no_grad():
        ours = fs(batch["input_ids"])[0]  # the primary head
        theirs = model(**batch).logits
    real = batch["attention_mask"].bool()
    diff = (ours - theirs)[real].abs().max().item()
    print(f"export MiniJoint (en): max abs MLM logit difference {diff:.2e}")
    assert diff < TOL and torch.equal(ours[real].argmax(-1), theirs[real].argmax(-1))


@pytest.fixture(scope="module")
def classifiers(bible_data, tiny_minijoint, tmp_path_factory):
    """A tiny step-3 classifier (English) and step 4's German one (step-2 embeddings swapped in)."""
    d = tmp_path_factory.mktemp("classifiers")
    run_cli(
        [
            "fairseq-train",
            str(bible_data / "de" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "new_language_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "roberta",
            "--body-checkpoint",
            str(tiny_minijoint),
            "--tokens-per-sample",
            str(MAX_POS),
            *TINY_TRAIN,
            "--max-update",
            "10",
            "--save-dir",
            str(d / "s2"),
        ]
    )
    run_cli(
        [
            "fairseq-train",
            str(bible_data / "en" / "cls"),
            "--user-dir",
            USER_DIR,
            "--task",
            "sentence_prediction_frozen_embeddings",
            "--criterion",
            "sentence_prediction",
            "--arch",
            "roberta",
            "--body-checkpoint",
            str(tiny_minijoint),
            "--num-classes",
            "6",
            "--init-token",
            "0",
            "--max-positions",
            str(MAX_POS),
            "--shorten-method",
            "truncate",
            *TINY_TRAIN,
            "--max-update",
            "10",
            "--save-dir",
            str(d / "s3"),
        ]
    )
    run_cli(
        [
            "minimodel",
            "swap-embeddings",
            "--classifier",
            str(d / "s3" / "checkpoint_last.pt"),
            "--embeddings",
            str(d / "s2" / "checkpoint_last.pt"),
            "--out",
            str(d / "de.pt"),
        ]
    )
    return {"en": d / "s3" / "checkpoint_last.pt", "de": d / "de.pt"}


@pytest.mark.parametrize("lang", ["en", "de"])
def test_export_classifier_same_ids_logits_predictions(classifiers, bible_data, tmp_path, lang):
    """Every test verse: the exported tokenizer's ids are fairseq hub.encode's, and the Hugging Face
    classifier's logits equal fairseq's (en: the step-3 classifier, de: step 4's swapped one)."""
    from fairseq.models.roberta import RobertaModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    ckpt = classifiers[lang]
    out = tmp_path / "hf"
    proc = run_cli(
        ["minimodel", "export-hf", str(ckpt), "--out", str(out)]
    )  # spm, dict, labels from the checkpoint
    check = json.loads((out / "config.json").read_text())["minimodel_fairseq"]["self_check"]
    assert check["logits"] == "classification" and check["max_abs_diff"] < TOL
    assert (
        f"self-check: classification logits of the two models differ by at most {check['max_abs_diff']:.1e}"
        in proc.stdout
    )
    tok = AutoTokenizer.from_pretrained(str(out))
    model = AutoModelForSequenceClassification.from_pretrained(str(out)).eval()
    data = bible_data / lang
    hub = RobertaModel.from_pretrained(
        str(ckpt.parent),
        ckpt.name,
        str(data / "cls"),
        bpe="sentencepiece",
        sentencepiece_model=str(data / "spm.model"),
    ).eval()
    labels = hub.task.label_dictionary
    assert model.config.id2label == {i: labels[i + labels.nspecial] for i in range(6)}
    lines = _lines(bible_data, lang)
    ids = tok(lines)["input_ids"]
    same = sum(a == hub.encode(line).tolist() for a, line in zip(ids, lines))
    print(
        f"\nexport classifier ({lang}): token ids equal hub.encode on {same} of {len(lines)} test verses"
    )
    assert same == len(lines)
    batch = tok(lines, padding=True, truncation=True, max_length=MAX_POS, return_tensors="pt")
    with torch.no_grad():
        ours = hub.model(batch["input_ids"], features_only=True, classification_head_name=hf.HEAD)[
            0
        ]
        theirs = model(**batch).logits
    diff = (ours - theirs).abs().max().item()
    print(
        f"export classifier ({lang}): max abs logit difference {diff:.2e}, predictions equal on "
        f"{int((ours.argmax(-1) == theirs.argmax(-1)).sum())} of {len(lines)}"
    )
    assert diff < TOL and torch.equal(ours.argmax(-1), theirs.argmax(-1))


def test_pieces_outside_the_dictionary_are_unk_to_the_model(tiny_minijoint, bible_data, tmp_path):
    """A dictionary built from a few verses lacks most sentencepiece pieces: fairseq reads them as <unk>.
    The exported tokenizer keeps sentencepiece's segmentation and gives them alias ids whose embedding
    is <unk>'s: ids (aliases read as <unk>) and logits equal fairseq's; import-hf drops the aliases."""
    import sentencepiece
    from fairseq.data import Dictionary
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    lang = tmp_path / "de_small"
    (lang / "mlm").mkdir(parents=True)
    shutil.copy(bible_data / "de" / "spm.model", lang / "spm.model")
    sp = sentencepiece.SentencePieceProcessor(model_file=str(lang / "spm.model"))
    small = Dictionary()
    for line in (
        (bible_data / "de" / "raw" / "train.txt").read_text(encoding="utf-8").splitlines()[:20]
    ):
        for piece in sp.encode(line, out_type=str):
            small.add_symbol(piece)
    small.save(str(lang / "mlm" / "dict.txt"))
    small.add_symbol(hf.MASK)
    state = surgery.to_roberta(surgery.load_roberta_checkpoint(tiny_minijoint))
    g = torch.Generator().manual_seed(0)
    state["model"][surgery.TOKENS] = torch.randn(len(small), 64, generator=g) * 0.1
    state["model"]["encoder.lm_head.weight"] = state["model"][surgery.TOKENS]
    state["model"]["encoder.lm_head.bias"] = torch.randn(len(small), generator=g) * 0.1
    state["cfg"]["task"]["data"] = str(lang / "mlm")
    files.save_checkpoint(state, tmp_path / "small.pt")
    run_cli(["minimodel", "export-hf", str(tmp_path / "small.pt"), "--out", str(tmp_path / "hf")])
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    model = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "hf")).eval()
    aliases = model.config.minimodel_fairseq["unk_aliases"]
    assert aliases["first_id"] == len(small) and len(tok) == len(small) + aliases["count"] > len(
        small
    )

    lines = _lines(bible_data, "de")
    fs, task = fairseq_model(tmp_path / "small.pt")
    theirs_ids = [tok(line)["input_ids"] for line in lines]
    ours_ids = [_fairseq_ids(task.source_dictionary, sp, line) for line in lines]
    as_unk = [[i if i < len(small) else 3 for i in ids] for ids in theirs_ids]
    with_alias = sum(max(ids) >= len(small) for ids in theirs_ids)
    same = sum(a == b for a, b in zip(as_unk, ours_ids))
    print(
        f"\ndictionary of 20 verses ({len(small)} rows, {aliases['count']} pieces outside): {with_alias} of "
        f"{len(lines)} verses hold such a piece; ids equal (aliases read as <unk>) on {same}"
    )
    assert with_alias > len(lines) // 2 and same == len(lines)
    batch = tok(lines[:16], padding=True, truncation=True, max_length=MAX_POS, return_tensors="pt")
    fs_batch = batch["input_ids"].masked_fill(batch["input_ids"] >= len(small), 3)
    with torch.no_grad():
        ours = fs(fs_batch)[0]
        theirs = model(**batch).logits
    real = batch["attention_mask"].bool()
    diff = (ours - theirs[..., : len(small)])[real].abs().max().item()
    assert (
        diff < TOL and (theirs[..., len(small) :][real] < -1e3).all()
    )  # aliases are never predicted
    assert torch.equal(ours[real].argmax(-1), theirs[real].argmax(-1))

    run_cli(["minimodel", "import-hf", str(tmp_path / "hf"), "--out", str(tmp_path / "back")])
    back = surgery.load_roberta_checkpoint(tmp_path / "back" / "model.pt")["model"]
    assert set(back) == set(state["model"]) and all(
        torch.equal(back[k], v) for k, v in state["model"].items()
    )
    assert Dictionary.load(str(tmp_path / "back" / "dict.txt")).symbols == small.symbols[:-1]
    assert hf.encode_as_symbols(tmp_path / "back", lines[:5]) == [
        " ".join(p if p in small.indices else "<unk>" for p in sp.encode(line, out_type=str))
        for line in lines[:5]
    ]


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def bad_dirs(hf_tokenizers, bible_data, tmp_path_factory):
    import transformers
    from tokenizers import ByteLevelBPETokenizer

    root = tmp_path_factory.mktemp("bad_hf")
    # a tokenizer with <mask> among the first ids (fairseq appends it after the dictionary)
    bpe = ByteLevelBPETokenizer()
    bpe.train(
        [str(bible_data / "en" / "raw" / "train.txt")],
        vocab_size=300,
        min_frequency=2,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    (hf_tokenizers / "bpe_mask4").mkdir(exist_ok=True)
    bpe.save_model(str(hf_tokenizers / "bpe_mask4"))
    make_hf_dir("RobertaForMaskedLM", "bpe_mask4", hf_tokenizers, root / "mask_not_last")
    small = dict(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
    )
    transformers.BertForMaskedLM(transformers.BertConfig(**small)).save_pretrained(
        str(root / "bert")
    )
    transformers.GPT2LMHeadModel(
        transformers.GPT2Config(vocab_size=100, n_embd=16, n_layer=1, n_head=2)
    ).save_pretrained(str(root / "gpt2"))
    transformers.RobertaForSequenceClassification(
        transformers.RobertaConfig(**small)
    ).save_pretrained(str(root / "roberta_cls"))
    make_hf_dir("XLMRobertaForMaskedLM", "spm", hf_tokenizers, root / "no_weights")
    (root / "no_weights" / "model.safetensors").unlink()
    (root / "no_config").mkdir()
    shutil.copy(hf_tokenizers / "spm" / "tokenizer.json", root / "no_config")
    return root


def test_bad_inputs_fail_clearly_and_write_nothing(
    bad_dirs, tiny_minijoint, bible_data, tmp_path, capsys
):
    work = tmp_path / "work"
    work.mkdir()
    (work / "exists").mkdir()
    (work / "exists" / "keep.txt").write_text("precious")
    short = work / "short_dict.txt"
    short.write_text(
        "".join((bible_data / "en" / "mlm" / "dict.txt").read_text().splitlines(True)[:100])
    )
    new = work / "new"
    cases = {
        "BERT": (
            ["import-hf", str(bad_dirs / "bert"), "--out", str(new)],
            f"{bad_dirs / 'bert'} holds a model of another family (model_type 'bert', BertForMaskedLM): "
            f"import-hf reads {hf.ACCEPTED} (RoBERTa-family masked LMs)",
        ),
        "GPT-2": (
            ["import-hf", str(bad_dirs / "gpt2"), "--out", str(new)],
            f"{bad_dirs / 'gpt2'} holds a model of another family (model_type 'gpt2', GPT2LMHeadModel)",
        ),
        "not a masked LM": (
            ["import-hf", str(bad_dirs / "roberta_cls"), "--out", str(new)],
            "holds a RobertaForSequenceClassification, not a masked LM: import-hf needs the "
            "RobertaForMaskedLM",
        ),
        "no weights": (
            ["import-hf", str(bad_dirs / "no_weights"), "--out", str(new)],
            f"{bad_dirs / 'no_weights'} has no weights: expected model.safetensors or pytorch_model.bin",
        ),
        "no config.json": (
            ["import-hf", str(bad_dirs / "no_config"), "--out", str(new)],
            f"{bad_dirs / 'no_config'} has no config.json: not a Hugging Face model directory",
        ),
        "special ids": (
            ["import-hf", str(bad_dirs / "mask_not_last"), "--out", str(new)],
            f"the tokenizer of {bad_dirs / 'mask_not_last'} does not have fairseq's special ids (<s>=0, "
            f"<pad>=1, </s>=2, <unk>=3, <mask> last",
        ),
        "not a directory": (
            ["import-hf", str(work / "missing"), "--out", str(new)],
            f"{work / 'missing'} is not a directory",
        ),
        "import output exists": (
            ["import-hf", str(bad_dirs / "bert"), "--out", str(work / "exists")],
            f"{work / 'exists'} exists: choose another --out or pass --force to overwrite it",
        ),
        "dictionary does not match the embeddings": (
            ["export-hf", str(tiny_minijoint), "--out", str(new), "--dict", str(short)],
            f"dictionary mismatch: {short} has 104 symbols (+1 <mask>) but the embeddings of {tiny_minijoint} "
            f"have 505 rows",
        ),
        "export output exists": (
            ["export-hf", str(tiny_minijoint), "--out", str(work / "exists")],
            f"{work / 'exists'} exists: choose another --out or pass --force to overwrite it",
        ),
        "export of another family": (
            ["export-hf", str(bad_dirs / "bert" / "model.safetensors"), "--out", str(new)],
            "cannot read checkpoint",
        ),
    }
    before = _snapshot(work), _snapshot(bad_dirs)
    for name, (args, message) in cases.items():  # the command's entry point, in this process (fast)
        with pytest.raises(SystemExit) as exit_:
            cli.main(args)
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert exit_.value.code == 2 and len(lines) == 1, (name, err[-2000:])
        assert lines[0].startswith(f"minimodel {args[0]}: error: ") and message in lines[0], (
            name,
            lines[0],
        )
        assert (_snapshot(work), _snapshot(bad_dirs)) == before, (
            name
        )  # nothing written, nothing changed
    proc = run_cli(["minimodel", *cases["BERT"][0]], check=False)  # and once as the console command
    assert (
        proc.returncode == 2
        and proc.stderr.strip() == f"minimodel import-hf: error: {cases['BERT'][1]}"
    )


def _query_as_value(key_map):
    """``hf._key_map`` with a mapping bug: layer 0's query and value weights exchanged (same shapes)."""

    def wrong(*args, **kwargs):
        swap = {
            "attention.self.query.weight": "attention.self.value.weight",
            "attention.self.value.weight": "attention.self.query.weight",
        }
        pairs = key_map(*args, **kwargs)
        return [
            (
                fs,
                re.sub(
                    r"(\.layer\.0\.)(attention\.self\.\w+\.weight)$",
                    lambda m: m.group(1) + swap.get(m.group(2), m.group(2)),
                    name,
                ),
            )
            for fs, name in pairs
        ]

    return wrong


def test_a_wrong_conversion_is_refused_before_writing(imported, tmp_path, monkeypatch, capsys):
    """The self-check catches a conversion bug (import and export each compare their two models):
    one line, exit 2, nothing written; --no-check writes it anyway, without comparing."""
    r = imported["XLMRobertaForMaskedLM"]
    monkeypatch.setattr(hf, "_key_map", _query_as_value(hf._key_map))
    cases = {
        "import-hf": ["import-hf", str(r["src"])],
        "export-hf": ["export-hf", str(r["out"] / "model.pt")],
    }
    for command, args in cases.items():
        out = tmp_path / command
        with pytest.raises(SystemExit) as exit_:
            cli.main([*args, "--out", str(out)])
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert exit_.value.code == 2 and len(lines) == 1, lines
        assert re.fullmatch(
            rf"minimodel {command}: error: self-check failed: the Hugging Face and fairseq models' masked-LM logits "
            r"differ by up to \d\.\d\de[-+]\d\d on 4 inputs \(tolerance 0\.0001\): a conversion bug, please report "
            r"it \(--no-check skips the check\)",
            lines[0],
        ), lines[0]
        assert not out.exists() and not [
            p for p in tmp_path.iterdir() if p.name.startswith(".")
        ]  # nor a temporary

        assert cli.main([*args, "--out", str(out), "--no-check"]) == 0
        assert "self-check: skipped (--no-check)" in capsys.readouterr().out.splitlines()
        if command == "import-hf":
            assert json.loads((out / "import.json").read_text())["self_check"] == hf.SKIPPED
        else:
            assert (
                json.loads((out / "config.json").read_text())["minimodel_fairseq"]["self_check"]
                == hf.SKIPPED
            )


def test_force_replaces_an_existing_output(bad_dirs, hf_tokenizers, tmp_path):
    src = tmp_path / "src"
    make_hf_dir("XLMRobertaXLForMaskedLM", "spm", hf_tokenizers, src)
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    run_cli(["minimodel", "import-hf", str(src), "--out", str(out), "--force"])
    assert sorted(p.name for p in out.iterdir()) == [
        "dict.txt",
        "import.json",
        "model.pt",
        "tokenizer",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out",
        "src",
    ]  # no temporary directory left


def test_plugin_import_does_not_load_hugging_face_libraries():
    code = (
        "import sys, minimodel_fairseq; print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'transformers', 'tokenizers', 'safetensors', 'sentencepiece'}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr[-1000:]
