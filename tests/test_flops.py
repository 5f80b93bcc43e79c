"""The FLOP count against torch's own FlopCounterMode on a real forward/backward."""

import argparse

import pytest
import torch
from conftest import fixture_verses
from fairseq.data import Dictionary
from fairseq.models.roberta.model import RobertaModel, roberta_prenorm_architecture
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask
from torch.utils.flop_counter import FlopCounterMode

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq.flops import UpdateShape, roberta_update_flops
from minimodel_fairseq.freezing import set_trainable
from minimodel_fairseq.tasks.new_language_mlm import NEW_LANGUAGE_TRAINABLE


def build(layers, dict_words, dim=64):
    d = Dictionary()
    for w in dict_words:
        d.add_symbol(w)
    task = MaskedLMTask(MaskedLMConfig(data="unused"), d)
    args = argparse.Namespace(
        encoder_layers=layers,
        encoder_embed_dim=dim,
        encoder_ffn_embed_dim=4 * dim,
        encoder_attention_heads=4,
        max_positions=64,
    )
    roberta_prenorm_architecture(args)
    return RobertaModel.build_model(args, task), d


@pytest.mark.parametrize(
    "layers, setting", [(4, "full"), (4, "frozen_body"), (2, "frozen_body"), (4, "top_only")]
)
def test_count_matches_flop_counter(layers, setting):
    words = " ".join(fixture_verses("4")).split()
    model, d = build(layers, words[:3000])
    if setting == "frozen_body":  # step 2 (full body for 4 layers, a mini-model for 2)
        set_trainable(model, trainable=NEW_LANGUAGE_TRAINABLE)
    elif setting == "top_only":  # MiniPost-like: bottom layers and embeddings frozen
        set_trainable(model, trainable=["encoder.sentence_encoder.layers.3.*", "encoder.lm_head.*"])
    lines = [d.encode_line(v, add_if_not_exist=False)[:48] for v in fixture_verses("4")[:8]]
    src = torch.nn.utils.rnn.pad_sequence(lines, batch_first=True, padding_value=d.pad())
    src = (
        torch.nn.functional.pad(src, (0, 48 - src.size(1)), value=d.pad())
        if src.size(1) < 48
        else src
    )
    masked = torch.rand(src.shape, generator=torch.Generator().manual_seed(0)) < 0.15
    model.train()
    with FlopCounterMode(display=False) as counter:
        logits, _ = model(src, masked_tokens=masked)
        logits.float().logsumexp(-1).sum().backward()
    measured = counter.get_total_flops()
    ours = roberta_update_flops(model, UpdateShape(src.size(0), src.size(1), int(masked.sum())))[
        "total"
    ]
    assert ours == pytest.approx(measured, rel=0.05), (setting, ours, measured)


def test_mini_model_and_frozen_body_cost_less():
    words = " ".join(fixture_verses("4")).split()
    shape = UpdateShape(16, 128, 300)
    full, _ = build(8, words[:3000], dim=256)
    train_all = roberta_update_flops(full, shape)["total"]
    set_trainable(full, trainable=NEW_LANGUAGE_TRAINABLE)
    frozen = roberta_update_flops(full, shape)["total"]
    mini, _ = build(2, words[:3000], dim=256)
    set_trainable(mini, trainable=NEW_LANGUAGE_TRAINABLE)
    small = roberta_update_flops(mini, shape)["total"]
    assert 0.6 < frozen / train_all < 0.75  # no weight gradients in the body: about 2/3
    assert 2.5 < frozen / small < 4.0  # 8 layers vs 2 (+ the same LM head)


def test_minijoint_count_matches_flop_counter():
    """Both heads of a MiniJoint model (the secondary one on layer K with its LayerNorm)."""
    from minimodel_fairseq.models.minijoint_roberta import (
        MiniJointRobertaModel,
        minijoint_roberta_small_architecture,
    )

    words = " ".join(fixture_verses("4")).split()
    d = Dictionary()
    for w in words[:3000]:
        d.add_symbol(w)
    task = MaskedLMTask(MaskedLMConfig(data="unused"), d)
    args = argparse.Namespace(
        encoder_layers=4,
        encoder_embed_dim=64,
        encoder_ffn_embed_dim=256,
        encoder_attention_heads=4,
        max_positions=64,
        mini_layer=2,
    )
    minijoint_roberta_small_architecture(args)
    model = MiniJointRobertaModel.build_model(args, task)
    lines = [d.encode_line(v, add_if_not_exist=False)[:48] for v in fixture_verses("4")[8:16]]
    src = torch.nn.utils.rnn.pad_sequence(lines, batch_first=True, padding_value=d.pad())
    masked = torch.rand(src.shape, generator=torch.Generator().manual_seed(1)) < 0.15
    model.train()
    with FlopCounterMode(display=False) as counter:
        logits, extra = model(src, masked_tokens=masked)
        (logits.logsumexp(-1).sum() + extra["mini_logits"].logsumexp(-1).sum()).backward()
    ours = roberta_update_flops(model, UpdateShape(src.size(0), src.size(1), int(masked.sum())))[
        "total"
    ]
    assert ours == pytest.approx(counter.get_total_flops(), rel=0.05)


@pytest.mark.slow
def test_training_log_shows_cumulative_flops(bible_data, tiny_minijoint, tmp_path):
    """fairseq-train prints `tflops` (cumulative) beside `wall`; a full body costs more per update
    than its mini-model, by the ratio the counter gives; a resumed run keeps counting."""
    import json

    from conftest import run_cli, step2_cmd

    mini = tmp_path / "mini.pt"
    run_cli(["minimodel", "extract-mini", str(tiny_minijoint), "--out", str(mini)])

    def train(body, save, updates):
        proc = run_cli(
            step2_cmd(
                bible_data,
                body,
                save,
                updates=updates,
                extra=["--log-format", "json", "--log-interval", 1],
            )
        )
        return [
            json.loads(line[line.index("{") :])
            for line in (proc.stdout + proc.stderr).splitlines()
            if '"train_tflops"' in line or ('"tflops"' in line and "train_inner" in line)
        ]

    full = train(tiny_minijoint, tmp_path / "full", 4)
    small = train(mini, tmp_path / "mini", 4)
    steps = [float(r["tflops"]) for r in full if "tflops" in r]
    assert (
        len(steps) == 4 and all(b > a > 0 for a, b in zip(steps, steps[1:])) and "wall" in full[0]
    )
    ratio = steps[-1] / [float(r["tflops"]) for r in small if "tflops" in r][-1]
    assert 1.3 < ratio < 3.0, ratio  # 4 frozen layers vs 2, plus the same embeddings and LM head
    resumed = train(
        tiny_minijoint, tmp_path / "full", 6
    )  # continues from checkpoint_last (4 updates)
    more = [float(r["tflops"]) for r in resumed if "tflops" in r]
    assert more[0] > steps[-1] and len(more) == 2


@pytest.mark.parametrize("labels_shape", [(3,), (3, 1)])
def test_update_shape_counts_masked_positions_only_for_masked_lm(labels_shape):
    """Masked-LM targets (one per token, pad where unmasked) count their masked positions; sentence
    labels, whether (B,) or (B, 1), are no LM-head positions at all."""
    from minimodel_fairseq.flops import update_shape

    tokens = torch.full((3, 7), 5)
    mlm_target = torch.full((3, 7), 1)
    mlm_target[0, 2] = mlm_target[2, 4] = 9
    assert update_shape(
        {"net_input": {"src_tokens": tokens}, "target": mlm_target}, pad=1
    ) == UpdateShape(3, 7, 2)
    labels = torch.tensor([0, 2, 3]).view(labels_shape)
    assert update_shape(
        {"net_input": {"src_tokens": tokens}, "target": labels}, pad=1
    ) == UpdateShape(3, 7, 0)
