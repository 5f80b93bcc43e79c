"""MiniJoint model and criterion: the loss, the gradients, the heads (no CLI)."""

import argparse

import pytest
import torch
import torch.nn.functional as F
from conftest import fixture_verses
from fairseq.criterions.masked_lm import MaskedLmConfig, MaskedLmLoss
from fairseq.data import Dictionary
from fairseq.models.roberta.model import RobertaLMHead
from fairseq.tasks.masked_lm import MaskedLMConfig

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq.criterions.minijoint_mlm import MiniJointMlmConfig, MiniJointMlmLoss
from minimodel_fairseq.models.minijoint_roberta import (
    MiniJointRobertaModel,
    minijoint_roberta_base_architecture,
    minijoint_roberta_small_architecture,
)
from minimodel_fairseq.tasks.minijoint_mlm import MiniJointMLMTask


def make_task(en_bin):
    return MiniJointMLMTask(
        MaskedLMConfig(data=str(en_bin)), Dictionary.load(str(en_bin / "dict.txt"))
    )


def make_model(task, arch=minijoint_roberta_small_architecture, **over):
    args = argparse.Namespace(
        encoder_layers=4,
        encoder_embed_dim=64,
        encoder_ffn_embed_dim=128,
        encoder_attention_heads=2,
        mini_layer=2,
        max_positions=64,
        dropout=0.0,
        attention_dropout=0.0,
    )
    for k, v in over.items():
        setattr(args, k, v)
    arch(args)
    torch.manual_seed(0)
    return MiniJointRobertaModel.build_model(args, task)


def make_sample(task, n=8, seed=0):
    """A masked batch of real WEB verses: 15% of tokens masked, targets elsewhere pad."""
    d = task.source_dictionary
    lines = [
        d.encode_line(v, add_if_not_exist=False, append_eos=True)[:63]
        for v in fixture_verses("4")[:n]
    ]
    width = max(len(t) for t in lines) + 1
    src = torch.full((n, width), d.pad(), dtype=torch.long)
    for i, t in enumerate(lines):
        src[i, 0] = d.bos()
        src[i, 1 : len(t) + 1] = t
    g = torch.Generator().manual_seed(seed)
    maskable = src.ne(d.pad()) & src.ne(d.bos()) & src.ne(d.eos())
    mask = maskable & (torch.rand(src.shape, generator=g) < 0.15)
    target = torch.where(mask, src, torch.full_like(src, d.pad()))
    src = src.masked_fill(mask, task.mask_idx)
    return {
        "net_input": {"src_tokens": src, "src_lengths": src.ne(d.pad()).sum(1)},
        "target": target,
        "ntokens": int(src.ne(d.pad()).sum()),
        "nsentences": n,
    }


def minijoint_criterion(task, w):
    return MiniJointMlmLoss(MiniJointMlmConfig(tpu=False, mini_loss_weight=w), task)


@pytest.mark.parametrize("w", [1.0, 0.3])
def test_loss_is_primary_plus_w_mini_against_stock_fairseq(en_bin, w):
    task = make_task(en_bin)
    model = make_model(task).eval()
    sample = make_sample(task)
    loss, sample_size, log = minijoint_criterion(task, w)(model, sample)

    # Independent primary loss: fairseq's own masked_lm criterion on the same model and batch.
    primary, primary_size, _ = MaskedLmLoss(MaskedLmConfig(tpu=False), task)(model, sample)
    assert int(sample_size) == int(primary_size) > 0

    # Independent mini loss: layer-K states through a fresh fairseq RobertaLMHead.
    enc = model.encoder
    _, extra = enc.extract_features(sample["net_input"]["src_tokens"], return_all_hiddens=True)
    feats = extra["inner_states"][2].transpose(0, 1)
    feats = enc.mini_layer_norm(feats)  # pre-norm: layer K's output gets its own LayerNorm
    head = RobertaLMHead(
        64, len(task.source_dictionary), "gelu", weight=enc.sentence_encoder.embed_tokens.weight
    )
    head.load_state_dict(enc.mini_lm_head.state_dict())
    masked = sample["target"].ne(task.source_dictionary.pad())
    mini = F.cross_entropy(head(feats, masked), sample["target"][masked], reduction="sum")

    torch.testing.assert_close(log["primary_loss"], primary.detach(), rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(log["mini_loss"], mini.detach(), rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(
        loss.detach(), primary.detach() + w * mini.detach(), rtol=1e-6, atol=1e-5
    )
    assert mini.item() != pytest.approx(primary.item(), rel=1e-3)  # two different heads


def _grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {
        n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
        for n, p in model.named_parameters()
    }


def test_gradient_routing(en_bin):
    task = make_task(en_bin)
    model = make_model(task).eval()
    sample = make_sample(task)
    K, w = 2, 0.7

    g_total = _grads(model, minijoint_criterion(task, w)(model, sample)[0])
    g_primary = _grads(model, minijoint_criterion(task, 0.0)(model, sample)[0])
    _, _, log = minijoint_criterion(task, 1.0)(model, sample)
    logits_extra = model(**sample["net_input"], masked_tokens=sample["target"].ne(1))[1]
    mini_only = F.cross_entropy(
        logits_extra["mini_logits"], sample["target"][sample["target"].ne(1)], reduction="sum"
    )
    g_mini = _grads(model, mini_only)

    def layer_params(i):
        return [n for n in g_total if n.startswith(f"encoder.sentence_encoder.layers.{i}.")]

    for i in range(4):
        for n in layer_params(i):
            if i < K:  # layers 1..K: both heads contribute, linearly
                assert g_mini[n].abs().sum() > 0, n
                torch.testing.assert_close(
                    g_total[n], g_primary[n] + w * g_mini[n], rtol=1e-4, atol=1e-6
                )
            else:  # layers above K: primary head only
                assert g_mini[n].abs().sum() == 0, n
                torch.testing.assert_close(g_total[n], g_primary[n], rtol=1e-5, atol=1e-7)
    # W = 0: the mini head and its LayerNorm get no gradient at all.
    for n in g_primary:
        if ".mini_" in n:
            assert g_primary[n].abs().sum() == 0, n
            assert g_total[n].abs().sum() > 0, n


def test_heads_tied_and_prenorm_layer_norm(en_bin):
    task = make_task(en_bin)
    pre = make_model(task)
    emb = pre.encoder.sentence_encoder.embed_tokens.weight
    assert pre.encoder.mini_lm_head.weight is emb and pre.encoder.lm_head.weight is emb
    assert pre.encoder.mini_layer_norm is not None  # small arch is pre-norm
    post = make_model(task, arch=minijoint_roberta_base_architecture)
    assert post.encoder.mini_layer_norm is None and not post.args.encoder_normalize_before
    # one forward pass: both heads project only masked positions
    sample = make_sample(task)
    masked = sample["target"].ne(1)
    logits, extra = pre(**sample["net_input"], masked_tokens=masked)
    assert (
        logits.shape
        == extra["mini_logits"].shape
        == (int(masked.sum()), len(task.source_dictionary))
    )


@pytest.mark.parametrize("k", [0, 4, 7, -1])
def test_mini_layer_out_of_range_is_a_clear_error(en_bin, k):
    with pytest.raises(
        ValueError, match=r"--mini-layer must satisfy 1 <= K < --encoder-layers \(4\)"
    ):
        make_model(make_task(en_bin), mini_layer=k)


def test_architectures_defaults():
    from fairseq.models import ARCH_CONFIG_REGISTRY, ARCH_MODEL_REGISTRY

    for name, (layers, dim, k) in {
        "minijoint_roberta_base": (12, 768, 4),
        "minijoint_roberta_large": (24, 1024, 4),
        "minijoint_roberta_small": (8, 256, 2),
    }.items():
        assert ARCH_MODEL_REGISTRY[name] is MiniJointRobertaModel
        args = argparse.Namespace()
        ARCH_CONFIG_REGISTRY[name](args)
        assert (args.encoder_layers, args.encoder_embed_dim, args.mini_layer) == (layers, dim, k)
