"""MiniJoint loss: primary MLM loss + W * mini MLM loss over the same masked tokens."""

import math
from dataclasses import dataclass, field

import torch
from fairseq import modules, utils
from fairseq.criterions import register_criterion
from fairseq.criterions.masked_lm import MaskedLmConfig, MaskedLmLoss
from fairseq.logging import metrics


@dataclass
class MiniJointMlmConfig(MaskedLmConfig):
    mini_loss_weight: float = field(
        default=1.0,
        metadata={
            "help": "weight W of the layer-K head's loss: primary + W * mini (0: primary only)"
        },
    )


@register_criterion("minijoint_mlm", dataclass=MiniJointMlmConfig)
class MiniJointMlmLoss(MaskedLmLoss):
    """Dual-head masked-LM loss for ``minijoint_roberta`` models.

    Logs ``loss`` (the weighted sum), ``primary_loss`` and ``mini_loss``, all in
    base 2 per masked token like fairseq's ``masked_lm`` criterion, with the
    perplexities ``primary_ppl`` and ``mini_ppl`` (the sum has none).
    """

    def __init__(self, cfg: MiniJointMlmConfig, task):
        super().__init__(cfg, task)
        self.mini_loss_weight = cfg.mini_loss_weight

    def _nll(self, logits, targets):
        return modules.cross_entropy(
            logits.view(-1, logits.size(-1)),
            targets.view(-1),
            reduction="sum",
            ignore_index=self.padding_idx,
        )

    def forward(self, model, sample, reduce=True):
        masked_tokens = sample["target"].ne(self.padding_idx)
        sample_size = masked_tokens.int().sum()
        # As fairseq's masked_lm: when no token is masked, project every position. On an
        # accelerator torch.where decides on the device (no device-to-host sync per step);
        # on CPU torch.where is not well supported (pytorch/pytorch#26247) and .any() is free.
        if self.tpu:
            masked_tokens = None
        elif masked_tokens.device == torch.device("cpu"):
            if not masked_tokens.any():
                masked_tokens = None
        else:
            masked_tokens = torch.where(
                masked_tokens.any(), masked_tokens, masked_tokens.new([True])
            )

        logits, extra = model(**sample["net_input"], masked_tokens=masked_tokens)
        if "mini_logits" not in extra:
            raise TypeError(
                f"criterion minijoint_mlm needs a model with a secondary MLM head "
                f"(--arch minijoint_roberta_*), got {type(model).__name__}"
            )
        targets = model.get_targets(sample, [logits])
        if masked_tokens is not None:
            targets = targets[masked_tokens]

        primary = self._nll(logits, targets)
        mini = self._nll(extra["mini_logits"], targets)
        loss = primary + self.mini_loss_weight * mini

        logging_output = {
            "loss": loss.data,
            "primary_loss": primary.data,
            "mini_loss": mini.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        # No "ppl" for the weighted sum: 2**(primary + W*mini) is not a perplexity.
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        total = sum(log.get("loss", 0) for log in logging_outputs)
        metrics.log_scalar("loss", total / sample_size / math.log(2), sample_size, round=3)
        for part in ("primary", "mini"):
            total = sum(log.get(f"{part}_loss", 0) for log in logging_outputs)
            metrics.log_scalar(
                f"{part}_loss", total / sample_size / math.log(2), sample_size, round=3
            )
            metrics.log_derived(
                f"{part}_ppl",
                lambda meters, key=f"{part}_loss": utils.get_perplexity(meters[key].avg),
            )
