"""MiniPost: exact layer truncation, aligned training that touches only the new top, bad sources."""

import argparse
import json

import pytest
import torch
from conftest import ROOT, TINY_TRAIN, run_cli
from fairseq import checkpoint_utils
from fairseq.data import Dictionary
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import surgery
from minimodel_fairseq.compat import load_checkpoint
from minimodel_fairseq.models.minipost_roberta import MiniPostRobertaModel

pytestmark = pytest.mark.slow
USER_DIR = str(ROOT / "minimodel_fairseq")


def build(source, data, k, m, init, head_init="copy"):
    task = MaskedLMTask(MaskedLMConfig(data=str(data)), Dictionary.load(str(data / "dict.txt")))
    args = argparse.Namespace(
        source_checkpoint=str(source),
        mini_layers=k,
        mini_new_layers=m,
        new_layer_init=init,
        mini_head_init=head_init,
        tokens_per_sample=64,
    )
    return MiniPostRobertaModel.build_model(args, task), task, args


def hidden_states(model, tokens):
    model.eval()
    with torch.no_grad():
        return model.encoder.extract_features(tokens, return_all_hiddens=True)[1]["inner_states"]


@pytest.fixture(scope="module")
def en_tokens(bible_data):
    d = Dictionary.load(str(bible_data / "en" / "mlm" / "dict.txt"))
    lines = (
        (bible_data / "en" / "spm" / "test.txt.spm").read_text(encoding="utf-8").splitlines()[:8]
    )
    toks = [d.encode_line(line, add_if_not_exist=False)[:60] for line in lines]
    return torch.nn.utils.rnn.pad_sequence(toks, batch_first=True, padding_value=d.pad())


@pytest.mark.parametrize("k, m, init", [(2, 1, "copy"), (1, 3, "copy"), (2, 2, "random")])
def test_truncation_is_exact(tiny_minijoint, bible_data, en_tokens, k, m, init):
    (source,), _, _ = checkpoint_utils.load_model_ensemble_and_task([str(tiny_minijoint)])
    mini, _, args = build(tiny_minijoint, bible_data / "en" / "mlm", k, m, init)
    assert len(mini.encoder.sentence_encoder.layers) == k + m
    assert args.arch == "roberta" and args.encoder_layers == k + m and args.encoder_embed_dim == 64
    ours, theirs = hidden_states(mini, en_tokens), hidden_states(source, en_tokens)
    torch.testing.assert_close(ours[k], theirs[k], rtol=0, atol=1e-6)
    if init == "copy":
        torch.testing.assert_close(ours[k + m], theirs[k + m], rtol=0, atol=1e-6)
    else:
        assert not torch.allclose(ours[k + 1], theirs[k + 1], atol=1e-3)
    # the LM head is the source's top head
    src_state = surgery.load_roberta_checkpoint(tiny_minijoint)["model"]
    for name, p in mini.encoder.lm_head.named_parameters():
        assert torch.equal(p, src_state[f"encoder.lm_head.{name}"]), name


def test_new_head_replaces_only_the_head(tiny_minijoint, bible_data, en_tokens):
    mini, _, _ = build(tiny_minijoint, bible_data / "en" / "mlm", 2, 0, "copy", head_init="random")
    copied, _, _ = build(tiny_minijoint, bible_data / "en" / "mlm", 2, 0, "copy")
    head, src_head = mini.encoder.lm_head, copied.encoder.lm_head
    assert not torch.allclose(head.dense.weight, src_head.dense.weight)
    assert head.dense.weight.std().item() == pytest.approx(0.02, rel=0.2)
    assert head.dense.bias.abs().sum() == 0 and head.bias.abs().sum() == 0
    assert torch.equal(head.layer_norm.weight, torch.ones_like(head.layer_norm.weight))
    assert head.weight is mini.encoder.sentence_encoder.embed_tokens.weight  # still tied
    others = {
        k: v
        for k, v in copied.state_dict().items()
        if not k.startswith("encoder.lm_head.") or k == "encoder.lm_head.weight"
    }
    for k, v in mini.state_dict().items():
        if k in others:
            assert torch.equal(v, others[k]), k
    ours, theirs = hidden_states(mini, en_tokens), hidden_states(copied, en_tokens)
    torch.testing.assert_close(ours[2], theirs[2], rtol=0, atol=0)


def test_aligned_training_touches_only_the_new_top(tiny_minijoint, bible_data, tmp_path):
    save = tmp_path / "minipost"
    proc = run_cli(
        [
            "fairseq-train",
            str(bible_data / "en" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "minipost_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "minipost_roberta",
            "--source-checkpoint",
            str(tiny_minijoint),
            "--mini-layers",
            "2",
            "--mini-new-layers",
            "1",
            "--new-layer-init",
            "random",
            "--tokens-per-sample",
            "64",
            *TINY_TRAIN,
            "--log-format",
            "json",
            "--max-update",
            "40",
            "--save-dir",
            str(save),
        ]
    )
    valid = [
        json.loads(line[line.index("{") :])
        for line in (proc.stdout + proc.stderr).splitlines()
        if '"valid_loss"' in line
    ]
    losses = [float(v["valid_loss"]) for v in valid]
    assert losses[-1] < losses[0] - 0.02 and losses == sorted(losses, reverse=True), losses
    source = surgery.load_roberta_checkpoint(tiny_minijoint)["model"]
    state = load_checkpoint(str(save / "checkpoint_last.pt"))
    got = state["model"]
    assert state["cfg"]["model"].arch == "roberta" and state["cfg"]["model"].encoder_layers == 3
    frozen = [
        k
        for k in got
        if k.startswith(
            (
                "encoder.sentence_encoder.embed_",
                "encoder.sentence_encoder.layers.0.",
                "encoder.sentence_encoder.layers.1.",
            )
        )
    ]
    assert len(frozen) > 10
    for k in frozen:
        assert torch.equal(got[k], source[k]), f"{k} changed"
    for k in (
        "encoder.sentence_encoder.layers.2.fc1.weight",
        "encoder.lm_head.dense.weight",
        "encoder.lm_head.bias",
    ):
        assert not torch.equal(got[k], source[k]), f"{k} did not train"

    # its checkpoint is a body for step 2 like any other (and extract-mini turns it into plain roberta)
    mini = tmp_path / "mini.pt"
    run_cli(["minimodel", "extract-mini", str(save / "checkpoint_last.pt"), "--out", str(mini)])
    plain = torch.load(mini, weights_only=False)
    assert plain["cfg"]["model"].arch == "roberta" and surgery.num_layers(plain) == 3
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
            str(save / "checkpoint_last.pt"),
            "--tokens-per-sample",
            "64",
            *TINY_TRAIN,
            "--max-update",
            "2",
            "--save-dir",
            str(tmp_path / "s2"),
        ]
    )
    assert (tmp_path / "s2" / "checkpoint_last.pt").exists()


@pytest.mark.parametrize(
    "case", ["other_family", "k_beyond", "k_plus_m_beyond", "k_zero", "missing"]
)
def test_bad_sources_fail_clearly_and_write_nothing(
    case, tiny_minijoint, transformer_lm, bible_data, tmp_path
):
    source, k, m, message = {
        "other_family": (
            transformer_lm,
            2,
            1,
            "is not a RoBERTa-family encoder checkpoint: found arch 'transformer_lm'",
        ),
        "k_beyond": (
            tiny_minijoint,
            5,
            0,
            "has 4 layers: --mini-layers 5 + --mini-new-layers 0 (copied) exceeds it",
        ),
        "k_plus_m_beyond": (
            tiny_minijoint,
            3,
            2,
            "has 4 layers: --mini-layers 3 + --mini-new-layers 2 (copied) exceeds it",
        ),
        "k_zero": (tiny_minijoint, 0, 1, "--mini-layers must be >= 1"),
        "missing": (tmp_path / "nope.pt", 2, 1, "does not exist"),
    }[case]
    save = tmp_path / "save"
    proc = run_cli(
        [
            "fairseq-train",
            str(bible_data / "en" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "minipost_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "minipost_roberta",
            "--source-checkpoint",
            str(source),
            "--mini-layers",
            str(k),
            "--mini-new-layers",
            str(m),
            "--tokens-per-sample",
            "64",
            *TINY_TRAIN,
            "--max-update",
            "1",
            "--save-dir",
            str(save),
        ],
        check=False,
    )
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-1500:]
    assert not save.exists() or not any(save.iterdir())
