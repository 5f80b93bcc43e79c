"""minimodel export-mlm: the big model with step 2's target embeddings, as fairseq and Hugging Face masked LMs.

For the standard recipe (step 2 over the full model) and for MiniJoint (over its mini-model), on the
tiny MiniJoint model: the exported fairseq checkpoint is the big model's body with step 2's rows, it
loads through fairseq's hub with the target tokenizer it records, and transformers'
``pipeline("fill-mask")`` on the Hugging Face directory gives the hub's ``fill_mask`` top-5 on 20
German sentences.
"""

import pytest
import torch
from conftest import ROOT, TINY_TRAIN, run_cli

import minimodel_fairseq  # noqa: F401  (registers the plugin; fairseq loads checkpoints under torch 2.13)
from minimodel_fairseq import surgery

pytestmark = pytest.mark.slow
USER_DIR = str(ROOT / "minimodel_fairseq")


@pytest.fixture(scope="module")
def runs(tiny_minijoint, bible_data, tmp_path_factory):
    """Step 2 on German over the full MiniJoint model and over its mini-model, then export-mlm of each."""
    d = tmp_path_factory.mktemp("export_mlm")
    run_cli(["minimodel", "extract-mini", str(tiny_minijoint), "--out", str(d / "mini.pt")])
    out = {"mini_body": d / "mini.pt"}
    for method, body in (("full", tiny_minijoint), ("minijoint", d / "mini.pt")):
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
                "--body-checkpoint",
                str(body),
                "--embedding-init",
                "shared",
                "--tokens-per-sample",
                "64",
                *TINY_TRAIN,
                "--max-update",
                "12",
                "--disable-validation",
                "--save-dir",
                str(d / method),
                "--bpe",
                "sentencepiece",
                "--sentencepiece-model",
                str(bible_data / "de" / "spm.model"),
            ]
        )
        proc = run_cli(
            [
                "minimodel",
                "export-mlm",
                "--big",
                str(tiny_minijoint),
                "--embeddings",
                str(d / method / "checkpoint_last.pt"),
                "--out",
                str(d / f"{method}_mlm"),
            ]
        )
        assert "wrote" in proc.stdout and "XLMRobertaXLForMaskedLM" in proc.stdout, proc.stdout
        out[method] = d / method / "checkpoint_last.pt"
        out[f"{method}_mlm"] = d / f"{method}_mlm"
    return out


@pytest.mark.parametrize("method", ["full", "minijoint"])
def test_exported_model_is_the_big_body_with_the_step2_rows(runs, tiny_minijoint, method):
    big = surgery.to_roberta(surgery.load_roberta_checkpoint(tiny_minijoint))["model"]
    step2 = surgery.load_roberta_checkpoint(runs[method])["model"]
    exported = surgery.load_roberta_checkpoint(runs[f"{method}_mlm"] / "model.pt")["model"]
    assert sorted(exported) == sorted(big)  # every layer of the big model, its primary head
    for k in big:
        if k in (surgery.TOKENS, surgery.LM_HEAD_WEIGHT, surgery.LM_HEAD_BIAS):
            assert torch.equal(exported[k], step2[k]), k
        else:
            assert torch.equal(exported[k], big[k]), k
    assert not torch.equal(
        exported[surgery.TOKENS], big[surgery.TOKENS]
    )  # German rows (same count), not English


def _masked_sentences(bible_data, hub, n=20):
    """n German test verses (their first 10 words, within the tiny model's 64 positions), the middle word masked."""
    verses = (
        (bible_data / "de" / "raw" / "cls.test.input0").read_text(encoding="utf-8").splitlines()
    )
    out = []
    for v in verses:
        words = v.split()[:10]
        if len(words) >= 6 and len(hub.encode(" ".join(words))) <= 60:
            k = len(words) // 2
            out.append(" ".join(words[:k] + ["<mask>"] + words[k + 1 :]))
        if len(out) == n:
            return out
    raise AssertionError(f"fewer than {n} usable verses")


@pytest.mark.parametrize("method", ["full", "minijoint"])
def test_fill_mask_pipeline_gives_the_hub_top5(runs, bible_data, method):
    from fairseq.models.roberta import RobertaModel
    from transformers import pipeline

    d = runs[f"{method}_mlm"]
    hub = RobertaModel.from_pretrained(
        str(d), "model.pt"
    ).eval()  # dict.txt and the tokenizer from d
    fill = pipeline("fill-mask", model=str(d / "hf"), top_k=5, device="cpu")
    for sentence in _masked_sentences(bible_data, hub):
        with torch.no_grad():
            ours = hub.fill_mask(sentence, topk=5)
        # the hub's fill_mask leaves </s> out of its top-k (Dictionary.string drops eos): so do we
        theirs = [t for t in fill(sentence) if t["token"] != hub.task.source_dictionary.eos()]
        assert len(ours) >= 4
        assert [t["token_str"].strip() for t in theirs] == [o[2].strip() for o in ours], sentence
        for t, o in zip(theirs, ours):
            assert abs(t["score"] - o[1]) < 1e-4, (sentence, t, o)


def test_export_mlm_refuses_a_mini_model_as_big_and_a_non_step2_as_embeddings(
    runs, tiny_minijoint, tmp_path
):
    out = tmp_path / "out"
    proc = run_cli(
        [
            "minimodel",
            "export-mlm",
            "--big",
            str(runs["mini_body"]),
            "--embeddings",
            str(runs["full"]),
            "--out",
            str(out),
        ],
        check=False,
    )
    assert proc.returncode == 2 and "is not a big model" in proc.stderr, proc.stderr
    proc = run_cli(
        [
            "minimodel",
            "export-mlm",
            "--big",
            str(tiny_minijoint),
            "--embeddings",
            str(tiny_minijoint),
            "--out",
            str(out),
        ],
        check=False,
    )
    assert (
        proc.returncode == 2 and "is not a step-2 checkpoint (task 'minijoint_mlm'" in proc.stderr
    ), proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []
