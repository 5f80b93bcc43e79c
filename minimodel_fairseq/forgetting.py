"""THE active-forgetting hook: re-draw the token embeddings every K updates of pretraining.

Active forgetting (Chen et al., "Improving Language Plasticity via Pretraining with Active
Forgetting", NeurIPS 2023; reference code facebookresearch/language-model-plasticity, flag
``--clear_embed_every_K_updates``) pretrains a body that does not lean on any one embedding
matrix, so that new-language embeddings (step 2) are learned faster. ``--forget-embeddings-every K``
(0: off) does, after updates K, 2K, ...:

- ``encoder.sentence_encoder.embed_tokens.weight`` is re-drawn with RoBERTa's own init
  (``init_bert_params``: normal(0, 0.02), the padding row zero). That Parameter *is* RoBERTa's
  LM-head projection and MiniJoint's mini-head projection (tied); with ``--untie-weights-roberta``
  the heads' own projections are not reset (the reference resets only ``embed_tokens``).
- the LM heads' biases are kept, as the reference keeps them (its ``reset_embeddings`` touches
  ``embed_tokens`` only; ``fb_sweep/manual_reset_emb.py`` likewise).
- exactly that Parameter's optimizer state is dropped (its entry of the torch optimizer's ``state``),
  so Adam starts it again from zero moments and step 1, which is what the reference's AdamEF does
  (moments of the embedding slice zeroed, its own bias-correction counter ``step_emb`` restarted).
- the embeddings' learning rate: ``--forget-lr-schedule run`` (default) keeps the run's one
  schedule, so that late phases relearn at the decayed LR; ``phase`` is the reference's ``lr_emb``:
  the run's schedule compressed into each phase of K updates, the update ``u`` of the embeddings
  taking the LR the run gives update ``(u mod K) * T // K`` (T: the schedule's
  ``--total-num-update`` where it has one, else ``--max-update``; the reference's
  ``(u * (max_update // K)) % max_update`` is the same where K divides T, and this stays aligned
  with the resets where it does not). Adam's step is proportional to its LR (the decoupled weight decay
  too), so the embeddings' step of the update is scaled by that LR over the run's, after the
  optimizer steps (:func:`scale_step`): one optimizer, one parameter group, as fairseq builds them.

When: the reference resets in fairseq_cli/train.py after the update that makes ``num_updates``
a multiple of K. Here the task's ``optimizer_step`` (called once per update, also with
``--update-freq``, with ``update_num`` = updates done *before* this one) resets after stepping when
``update_num + 1`` is a multiple of K, before fairseq counts the update, validates or saves: the
checkpoint of update K already holds the new draw and the fresh state. A run whose last update is a
multiple of K ends with untrained embeddings: leave updates after the last reset.

The draw comes from a CPU ``torch.Generator`` seeded from (``--seed``, update), never the global
RNG: every data-parallel rank draws the same values (the reference broadcasts rank 0's instead) and a
run resumed from ``checkpoint_last.pt`` is bitwise the run that was not stopped. Optimizers whose
state cannot be reset exactly for that one tensor are refused (:func:`exact_optimizer`).
"""

import hashlib
import logging
from dataclasses import field

import torch
from fairseq.dataclass import ChoiceEnum
from fairseq.optim.fairseq_optimizer import FairseqOptimizer

from . import params

logger = logging.getLogger(__name__)
INIT_STD = 0.02  # fairseq's init_bert_params


def every_field():
    """The task dataclass field ``forget_embeddings_every`` (one per dataclass: a Field is not shared)."""
    return field(
        default=0,
        metadata={
            "help": "re-draw the token embeddings and their optimizer state every N "
            "updates (0: never)"
        },
    )


SCHEDULES = ChoiceEnum(["run", "phase"])  # the type of the field schedule_field() makes


def schedule_field():
    """The task dataclass field ``forget_lr_schedule`` (its type: SCHEDULES)."""
    return field(
        default="run",
        metadata={
            "help": "the embeddings' LR: run (the run's schedule) or phase (it, compressed into "
            "each K updates)"
        },
    )


def check_every(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(
            f"--forget-embeddings-every must be 0 (off) or a positive number of updates, got {k!r}"
        )
    return k


def generator(seed: int, update: int) -> torch.Generator:
    """A CPU generator that depends only on (seed, update): the same on every rank, run and device."""
    digest = hashlib.sha256(
        f"minimodel_fairseq forgetting {int(seed)} {int(update)}".encode()
    ).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def _unwrapped(model):
    while hasattr(model, "module"):  # fairseq's DDP wrappers
        model = model.module
    return model


def exact_optimizer(optimizer, weight):
    """The torch optimizer under fairseq's wrapper if ``weight``'s state is its own entry; else ValueError.

    Refused: fp16 wrappers (FP16Optimizer's fp32 master copy, flat or not, would keep the old
    values and state; the memory-efficient one trains fp16 weights), AMP (a skipped step would
    be retried after the reset), BMUF (its global copy of the model), ``--zero-sharding os``
    (fairscale's OSS keeps the state in per-rank shards), and any optimizer that does not hold the
    fp32 Parameter itself. The plugin's ``--bf16`` keeps fp32 weights and plain Adam: accepted.
    """
    from fairseq.optim.amp_optimizer import AMPOptimizer
    from fairseq.optim.bmuf import FairseqBMUF
    from fairseq.optim.fp16_optimizer import _FP16OptimizerMixin, _MemoryEfficientFP16OptimizerMixin

    wrappers = (_FP16OptimizerMixin, _MemoryEfficientFP16OptimizerMixin, AMPOptimizer, FairseqBMUF)
    inner = None if isinstance(optimizer, wrappers) else getattr(optimizer, "optimizer", None)
    if (
        not isinstance(inner, torch.optim.Optimizer)
        or type(inner).__module__.startswith("fairscale")
        or weight.dtype != torch.float32
        or not any(p is weight for group in inner.param_groups for p in group["params"])
    ):
        raise ValueError(
            f"--forget-embeddings-every needs an optimizer that updates the fp32 token embeddings "
            f"directly, to reset their state exactly; got {type(optimizer).__name__} over "
            f"{weight.dtype} embeddings. Train in fp32 or with the plugin's --bf16 (fp32 weights), without "
            f"--fp16/--memory-efficient-fp16/--amp/--use-bmuf/--zero-sharding, with the embeddings trainable"
        )
    return inner


def forget_embeddings(model, optimizer, seed: int, update: int):
    """Re-draw the token embeddings (tied heads too) for (seed, update); drop just their optimizer state."""
    model = _unwrapped(model)
    embed = model.encoder.sentence_encoder.embed_tokens
    weight = embed.weight
    inner = exact_optimizer(optimizer, weight)
    fresh = torch.empty(weight.shape, dtype=torch.float32)
    fresh.normal_(
        0.0, INIT_STD, generator=generator(seed, update)
    )  # on CPU: the same values on any device
    if embed.padding_idx is not None:
        fresh[embed.padding_idx] = 0
    with torch.no_grad():
        weight.copy_(fresh)
    inner.state.pop(weight, None)
    names = [n for n, p in model.named_parameters(remove_duplicate=False) if p is weight]
    logger.info(
        "forgetting: token embeddings re-drawn at update %d (%s); their optimizer state reset",
        update,
        ", ".join(names) or params.TOKENS,
    )


def phase_position(update_num: int, k: int, total: int) -> int:
    """The update of the run's schedule whose LR the embeddings take at ``update_num`` (``phase``)."""
    return (update_num % k) * total // k


class _Probe(FairseqOptimizer):
    """An optimizer of one scalar for a private copy of the run's LR scheduler to set."""

    def __init__(self):
        super().__init__(None)
        self._optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)


class ScheduleLR:
    """The LR the run's scheduler gives the update that follows ``n`` updates (0: its initial LR), from a
    private copy of it: a function of ``n`` for the schedules that depend on the update count alone."""

    def __init__(self, lr_scheduler_cfg):
        from fairseq.optim.lr_scheduler import build_lr_scheduler

        self.probe = _Probe()
        self.scheduler = build_lr_scheduler(lr_scheduler_cfg, self.probe)
        self.initial = self.probe.get_lr()

    def __call__(self, n: int) -> float:
        return self.initial if n == 0 else self.scheduler.step_update(n)


def scale_step(weight, before, scale: float):
    """``weight`` moved from ``before`` by ``scale`` times the step it just took (no-op at 1)."""
    if scale != 1.0:
        with torch.no_grad():
            weight.sub_(before).mul_(scale).add_(before)


class ForgetsEmbeddings:
    """Task mixin: ``--forget-embeddings-every K``, ``--forget-lr-schedule`` (the task's dataclass has
    the fields; see the module)."""

    _forget_checked = False
    _phase_lr = None

    def __init__(self, cfg, *args, **kwargs):
        super().__init__(cfg, *args, **kwargs)
        self.forget_every = check_every(getattr(cfg, "forget_embeddings_every", 0) or 0)
        if self.forget_every and getattr(cfg, "forget_lr_schedule", "run") == "phase":
            self._phase_lr, self._total = self._run_schedule(cfg)

    @staticmethod
    def _run_schedule(cfg):
        """(ScheduleLR, max_update) of the run whose task config is ``cfg`` (fairseq keeps the run's
        config as its parent)."""
        from omegaconf import OmegaConf

        root = cfg._get_parent() if OmegaConf.is_config(cfg) else None
        total = 0
        if root is not None:  # the schedule's own length where it has one (polynomial_decay's)
            total = root.lr_scheduler.get("total_num_update") or root.optimization.max_update
        if not total:
            raise ValueError(
                "--forget-lr-schedule phase compresses the run's LR schedule into each phase of "
                "--forget-embeddings-every updates: give --max-update"
            )
        return ScheduleLR(root.lr_scheduler), int(total)

    def optimizer_step(self, optimizer, model, update_num):
        k = self.forget_every
        if not k:
            return super().optimizer_step(optimizer, model, update_num)
        weight = _unwrapped(model).encoder.sentence_encoder.embed_tokens.weight
        if not self._forget_checked:  # refuse at update 1, not after K updates of training
            exact_optimizer(optimizer, weight)
            self._forget_checked = True
        if self._phase_lr is not None:
            before, run_lr = weight.detach().clone(), optimizer.get_lr()
        super().optimizer_step(optimizer, model, update_num)
        if self._phase_lr is not None and run_lr > 0:  # at LR 0 there is no step to scale
            lr = self._phase_lr(phase_position(update_num, k, self._total))
            scale_step(weight, before, lr / run_lr)
        if (update_num + 1) % k == 0:  # update_num counts the updates before this one
            forget_embeddings(model, optimizer, self.cfg.seed, update_num + 1)
