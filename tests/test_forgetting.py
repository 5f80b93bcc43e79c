"""Active forgetting (minimodel_fairseq/forgetting.py): ``--forget-embeddings-every K``.

In-process fairseq Trainers on tiny models: the reset happens after updates K, 2K, ... only, and
a run with it equals, tensor for tensor and optimizer state for optimizer state, a run without it
that is reset by hand (an independent re-draw in this file) at those updates; the reset touches
the token embeddings (tied heads) and their optimizer state only; K=0 is fairseq's own training.
Through the CLI (slow): stop and resume across a reset ends bitwise where one run ends.
"""

import copy
import itertools
import logging
import re

import pytest
import torch
from conftest import ROOT, TINY_MODEL, TINY_TRAIN, run_cli

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import forgetting, params
from minimodel_fairseq.compat import load_checkpoint

USER_DIR = str(ROOT / "minimodel_fairseq")
MODELS = {  # task -> (criterion, arch) flags
    "minijoint_mlm": [
        "--criterion",
        "minijoint_mlm",
        "--arch",
        "minijoint_roberta_small",
        "--mini-layer",
        "2",
    ],
    "forgetting_mlm": ["--criterion", "masked_lm", "--arch", "roberta_small"],
}
SEED = 1  # TINY_TRAIN's --seed
RESET = re.compile(r"forgetting: token embeddings re-drawn at update (\d+)")


def _trainer(data, task, *extra, model_task=None):
    """(task, Trainer) as fairseq_cli.train builds them; ``model_task``: MODELS' flags for another --task."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    argv = [
        str(data),
        "--user-dir",
        USER_DIR,
        "--task",
        task,
        *MODELS[model_task or task],
        *TINY_MODEL,
        *TINY_TRAIN,
        "--dropout",
        "0.1",
        *extra,
    ]
    cfg = convert_namespace_to_omegaconf(
        options.parse_args_and_arch(options.get_training_parser(), argv)
    )
    t = tasks.setup_task(cfg.task)
    t.load_dataset("train")
    torch.manual_seed(SEED)  # the same initial model in every trainer
    model = t.build_model(cfg.model)
    return t, Trainer(cfg, t, model, t.build_criterion(cfg.criterion))


def _batches(task, n):
    itr = task.get_batch_iterator(task.dataset("train"), max_sentences=8, seed=SEED)
    return list(itertools.islice(itr.next_epoch_itr(shuffle=False), n))


def _embed(trainer):
    return trainer.model.encoder.sentence_encoder.embed_tokens


def _tensors(trainer):
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters()}


def _states(trainer):
    """{parameter name: its optimizer state, copied}; a name is missing where the state is empty."""
    state = trainer.optimizer.optimizer.state
    return {
        n: copy.deepcopy(dict(state[p]))
        for n, p in trainer.model.named_parameters()
        if state.get(p)
    }


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        if isinstance(a[name], dict):
            _assert_same(a[name], b[name])
        elif torch.is_tensor(a[name]):
            assert torch.equal(a[name], b[name]), name
        else:
            assert a[name] == b[name], name


def _draw(shape, pad, update):
    """What the reset must write, computed here: RoBERTa's init from (seed, update)'s generator."""
    fresh = torch.empty(shape).normal_(0.0, 0.02, generator=forgetting.generator(SEED, update))
    fresh[pad] = 0
    return fresh


def _manual_reset(trainer, update):
    w = _embed(trainer).weight
    with torch.no_grad():
        w.copy_(_draw(w.shape, _embed(trainer).padding_idx, update))
    del trainer.optimizer.optimizer.state[w]


@pytest.mark.parametrize(
    "task, precision",
    [("minijoint_mlm", "fp32"), ("minijoint_mlm", "bf16"), ("forgetting_mlm", "fp32")],
)
def test_reset_exactly_every_k_updates_equals_a_manual_reset(en_bin, task, precision, caplog):
    k, updates = 3, 7
    bf16 = ["--bf16"] if precision == "bf16" else []
    t, forget = _trainer(en_bin, task, "--forget-embeddings-every", str(k), *bf16)
    _, manual = _trainer(en_bin, task, *bf16)
    w = _embed(forget).weight
    with caplog.at_level(logging.INFO, logger=forgetting.__name__):
        for update, batch in enumerate(_batches(t, updates), start=1):
            forget.train_step([copy.deepcopy(batch)])
            manual.train_step([copy.deepcopy(batch)])
            assert forget.get_num_updates() == update
            if update % k == 0:
                _manual_reset(manual, update)
                assert torch.equal(w, _draw(w.shape, _embed(forget).padding_idx, update))
                assert (
                    w not in forget.optimizer.optimizer.state
                )  # fresh: Adam starts it again at step 1
            else:
                assert (
                    forget.optimizer.optimizer.state[w]["step"] == update % k
                )  # counted since the reset
            _assert_same(
                _tensors(forget), _tensors(manual)
            )  # the body: what an unreset run computes
            _assert_same(_states(forget), _states(manual))
    assert [int(u) for r in caplog.records for u in RESET.findall(r.getMessage())] == [3, 6]
    assert all(
        p.dtype == torch.float32 for p in forget.model.parameters()
    )  # bf16: fp32 weights still
    if task == "minijoint_mlm":  # the tied heads are the same tensor: reset with it
        assert (
            forget.model.encoder.mini_lm_head.weight is w
            and forget.model.encoder.lm_head.weight is w
        )
        assert "encoder.mini_lm_head.weight" in caplog.text


def test_reset_touches_only_the_embeddings_and_their_state(en_bin):
    t, trainer = _trainer(en_bin, "minijoint_mlm")
    for batch in _batches(t, 2):
        trainer.train_step([batch])
    before, states, rng = _tensors(trainer), _states(trainer), torch.get_rng_state()
    forgetting.forget_embeddings(trainer.model, trainer.optimizer, SEED, 2)
    after = _tensors(trainer)
    assert [n for n in before if not torch.equal(before[n], after[n])] == [params.TOKENS]
    assert torch.equal(
        after[params.TOKENS], _draw(before[params.TOKENS].shape, t.source_dictionary.pad(), 2)
    )
    assert after[params.TOKENS][t.source_dictionary.pad()].abs().sum() == 0
    assert 0.019 < after[params.TOKENS].std().item() < 0.021  # RoBERTa's N(0, 0.02)
    assert torch.equal(
        after[params.LM_HEAD_BIAS], before[params.LM_HEAD_BIAS]
    )  # kept, as the reference does
    rest = _states(trainer)
    assert set(states) - set(rest) == {params.TOKENS}
    _assert_same(rest, {n: s for n, s in states.items() if n != params.TOKENS})
    assert torch.equal(
        torch.get_rng_state(), rng
    )  # the global RNG (dropout, masking) is not consumed
    # deterministic in (seed, update), and another update draws other values
    assert torch.equal(_draw((5, 4), 1, 2), _draw((5, 4), 1, 2))
    assert not torch.equal(_draw((5, 4), 1, 2), _draw((5, 4), 1, 3))


@pytest.mark.parametrize("task", sorted(MODELS))
def test_k_zero_is_fairseqs_own_training(en_bin, task, monkeypatch, caplog):
    def never(*args, **kwargs):
        raise AssertionError("K=0 must not reach the forgetting code")

    monkeypatch.setattr(forgetting, "forget_embeddings", never)
    monkeypatch.setattr(forgetting, "exact_optimizer", never)
    t, ours = _trainer(en_bin, task)  # the default: 0
    assert ours.task.forget_every == 0
    _, stock = _trainer(
        en_bin, "masked_lm", model_task=task
    )  # fairseq's task, same model and criterion
    with caplog.at_level(logging.INFO, logger=forgetting.__name__):
        for batch in _batches(t, 4):
            ours.train_step([copy.deepcopy(batch)])
            stock.train_step([copy.deepcopy(batch)])
    _assert_same(_tensors(ours), _tensors(stock))
    _assert_same(_states(ours), _states(stock))
    assert not caplog.records


@pytest.mark.parametrize("task", sorted(MODELS))
def test_negative_k_is_one_clear_error(en_bin, task):
    with pytest.raises(
        ValueError,
        match=r"--forget-embeddings-every must be 0 \(off\) or a positive number "
        r"of updates, got -1",
    ):
        _trainer(en_bin, task, "--forget-embeddings-every", "-1")


def test_optimizer_with_a_master_copy_is_refused_before_any_step(en_bin):
    from fairseq.optim.fp16_optimizer import FP16Optimizer

    t, trainer = _trainer(en_bin, "minijoint_mlm", "--forget-embeddings-every", "2")
    trainer.cfg.common.fp16_no_flatten_grads = True  # per-tensor fp32 masters (flat ones need CUDA)
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    master = FP16Optimizer.build_optimizer(trainer.cfg, trainable)
    before = _tensors(trainer)
    with pytest.raises(
        ValueError,
        match="--forget-embeddings-every needs an optimizer that updates the fp32 "
        "token embeddings directly.*got FP16Optimizer",
    ):
        t.optimizer_step(master, trainer.model, 0)
    _assert_same(_tensors(trainer), before)  # refused before stepping
    plain = trainer.optimizer  # FairseqAdam on the fp32 weights: accepted
    assert forgetting.exact_optimizer(plain, _embed(trainer).weight) is plain.optimizer


def _polynomial_lr(n, lr=1e-3, warmup=2, total=8):
    """fairseq's polynomial_decay LR after n updates (power 1, to 0), written out as it computes it."""
    if n == 0:
        return (1.0 / warmup) * lr  # the initial LR, set when the scheduler is built
    if n <= warmup:
        return (n / float(warmup)) * lr
    if n >= total:
        return 0.0
    return (lr - 0.0) * (1 - (n - warmup) / (total - warmup)) ** 1.0 + 0.0


SCHEDULE = [
    "--lr-scheduler",
    "polynomial_decay",
    "--warmup-updates",
    "2",
    "--total-num-update",
    "8",
]


def test_phase_schedule_scales_the_embeddings_step_to_the_compressed_lr(en_bin):
    """--forget-lr-schedule phase equals the run schedule with the embeddings' step scaled by hand by
    L((u mod K) * T // K) / L(u), the body and every optimizer state included."""
    k, total = 3, 8
    flags = ["--forget-embeddings-every", str(k), *SCHEDULE, "--max-update", str(total)]
    t, phase = _trainer(en_bin, "minijoint_mlm", *flags, "--forget-lr-schedule", "phase")
    _, run = _trainer(en_bin, "minijoint_mlm", *flags)
    w, scaled = _embed(run).weight, []
    for u, batch in enumerate(_batches(t, 7)):  # u: the updates before this one
        before = w.detach().clone()
        phase.train_step([copy.deepcopy(batch)])
        run.train_step([copy.deepcopy(batch)])
        scale = _polynomial_lr((u % k) * total // k) / _polynomial_lr(u)
        if (u + 1) % k:  # at a reset the draw replaces the step
            forgetting.scale_step(w, before, scale)
            scaled.append(scale)
        _assert_same(_tensors(phase), _tensors(run))
        _assert_same(_states(phase), _states(run))
    assert any(
        abs(s - 1) > 0.1 for s in scaled
    )  # the schedules differ: the test compares something
    assert (
        forgetting.phase_position(4, k, total) == 2 and forgetting.phase_position(6, k, total) == 0
    )


def test_phase_schedule_needs_max_update(en_bin):
    with pytest.raises(
        ValueError, match="--forget-lr-schedule phase compresses .* give --max-update"
    ):
        _trainer(
            en_bin,
            "forgetting_mlm",
            "--forget-embeddings-every",
            "3",
            "--forget-lr-schedule",
            "phase",
        )


def _train_cli(en_bin, task, save, updates, extra=()):
    proc = run_cli(
        [
            "fairseq-train",
            str(en_bin),
            "--user-dir",
            USER_DIR,
            "--task",
            task,
            *MODELS[task],
            *TINY_MODEL,
            *TINY_TRAIN,
            "--dropout",
            "0.1",
            "--forget-embeddings-every",
            "3",
            "--max-update",
            str(updates),
            "--disable-validation",
            "--save-dir",
            str(save),
            *extra,
        ],
        env={"OMP_NUM_THREADS": "1"},
    )  # one thread: bitwise-reproducible runs
    log = proc.stdout + proc.stderr
    return (
        load_checkpoint(str(save / "checkpoint_last.pt")),
        [int(u) for u in RESET.findall(log)],
        log,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "task, extra",
    [
        ("forgetting_mlm", ()),
        ("minijoint_mlm", ()),
        ("minijoint_mlm", (*SCHEDULE, "--forget-lr-schedule", "phase")),  # T: --total-num-update
    ],
)
def test_stop_and_resume_across_a_reset_equals_one_run(en_bin, task, extra, tmp_path):
    whole, resets, _ = _train_cli(en_bin, task, tmp_path / "whole", 8, extra)
    assert resets == [3, 6]
    _, first, _ = _train_cli(en_bin, task, tmp_path / "split", 4, extra)  # stops between resets
    resumed, second, log = _train_cli(
        en_bin, task, tmp_path / "split", 8, extra
    )  # same dir: checkpoint_last.pt
    assert "@ 4 updates" in log and (first, second) == (
        [3],
        [6],
    )  # it resumed, it did not start again
    assert resumed["optimizer_history"][-1]["num_updates"] == 8
    _assert_same(resumed["model"], whole["model"])
    _assert_same(resumed["last_optimizer_state"]["state"], whole["last_optimizer_state"]["state"])
    assert resumed["cfg"]["task"]["forget_embeddings_every"] == 3
