"""Fast dropout masks (minimodel_fairseq/dropout.py, MINIMODEL_DROPOUT_MASKS=fast).

The kernel: 0/1 masks of the tensor's dtype at the asked keep probability, the same for the same
seed, from the generator given. The scope: only inside ``fast_masks`` (then torch's kernel again),
reaching F.dropout and the attention dropout of scaled_dot_product_attention. The trainer: fast
only where the variable says so, and then only its ``train_step``; the same seed gives the same
update, a wrong value one refusal before anything is built.
"""

import pytest
import torch
import torch.nn.functional as F
from conftest import minijoint_trainer

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import dropout


def _draw(shape, p, dtype=torch.float32, seed=0):
    x = torch.empty(shape, dtype=dtype)
    return dropout.bernoulli_from_bits(x, p, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_masks_are_zeros_and_ones_of_the_dtype_at_the_keep_probability(dtype):
    mask = _draw((1000, 1001), 0.9, dtype)  # not a multiple of 4 elements
    assert mask.dtype == dtype and mask.shape == (1000, 1001)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    dropped = 1 - mask.double().mean().item()
    assert abs(dropped - 6554 / 65536) < 5 * (0.1 * 0.9 / mask.numel()) ** 0.5  # 5 sigma
    assert torch.equal(_draw((7,), 1.0), torch.ones(7)) and torch.equal(
        _draw((7,), 0.0), torch.zeros(7)
    )
    for p in (-0.1, 1.5):
        with pytest.raises(RuntimeError, match="bernoulli_ expects p to be in"):
            _draw((4,), p)


def test_the_same_generator_state_gives_the_same_mask_another_seed_another():
    assert torch.equal(_draw((513,), 0.9, seed=3), _draw((513,), 0.9, seed=3))
    assert not torch.equal(_draw((513,), 0.9, seed=3), _draw((513,), 0.9, seed=4))
    view = torch.empty(64, 32).t()  # a non-contiguous tensor is filled in place
    dropout.bernoulli_from_bits(view, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(view, _draw((32, 64), 0.5, seed=3))  # element by element in index order


def test_fast_masks_reach_dropout_and_attention_and_end_with_the_scope():
    x = torch.randn(64, 64)
    q = torch.randn(2, 4, 16, 8)

    def both(seed=0):
        torch.manual_seed(seed)
        return F.dropout(x, 0.1, True), F.scaled_dot_product_attention(q, q, q, dropout_p=0.1)

    torch_masks = both()
    with dropout.fast_masks():
        fast = both()
        torch.manual_seed(0)
        bits = torch.empty(64 * 64 // 4, dtype=torch.int64).random_(-(1 << 63), (1 << 63) - 1)
    expected = torch.ge(bits.view(torch.int16), round(0.1 * 65536) - (1 << 15)).view(64, 64)
    assert torch.equal(fast[0], x * expected.float().div_(1 - 0.1))  # as at::dropout scales
    for ours, theirs in zip(fast, torch_masks):
        assert not torch.equal(ours, theirs)
    assert all(torch.equal(a, b) for a, b in zip(both(), torch_masks))  # torch's kernel again


def test_choice_reads_the_variable_and_refuses_anything_else():
    assert dropout.choice({}) == "torch"
    assert dropout.choice({dropout.ENV: "fast"}) == "fast"
    with pytest.raises(ValueError, match=r"^MINIMODEL_DROPOUT_MASKS='Fast': give torch or fast$"):
        dropout.choice({dropout.ENV: "Fast"})


def _trainer(bible_data):
    return minijoint_trainer(bible_data, "--dropout", "0.1", "--attention-dropout", "0.1")


def test_the_trainer_draws_fast_masks_only_where_asked(bible_data, monkeypatch, caplog):
    torch.manual_seed(0)
    torchs = torch.empty(99).bernoulli_(0.5)
    runs = {}
    for masks in ("torch", "fast", "fast"):
        monkeypatch.setenv(dropout.ENV, masks)
        with caplog.at_level("INFO", logger="minimodel_fairseq.dropout"):
            _, task, trainer = _trainer(bible_data)
        assert trainer.minimodel_fast_masks == (masks == "fast")
        said = [r.getMessage() for r in caplog.records if r.name == "minimodel_fairseq.dropout"]
        assert len(said) == (masks == "fast"), said
        caplog.clear()
        batch = next(
            task.get_batch_iterator(task.dataset("train"), max_sentences=16).next_epoch_itr()
        )
        log = trainer.train_step([batch])
        runs.setdefault(masks, []).append(
            (
                float(log["loss"]),
                {n: p.detach().clone() for n, p in trainer.model.named_parameters()},
            )
        )
        torch.manual_seed(0)  # outside train_step: torch's kernel
        assert torch.equal(torch.empty(99).bernoulli_(0.5), torchs)
    (torch_loss, _), (a_loss, a), (b_loss, b) = *runs["torch"], *runs["fast"]
    assert a_loss == b_loss and all(torch.equal(a[n], b[n]) for n in a)  # same seed, same update
    assert a_loss != torch_loss  # other masks
    monkeypatch.setenv(dropout.ENV, "yes")
    with pytest.raises(ValueError, match="MINIMODEL_DROPOUT_MASKS='yes': give torch or fast"):
        _trainer(bible_data)
