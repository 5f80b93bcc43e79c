"""Step 1 (MiniJoint): masked-LM pretraining of a model with a secondary head at layer K.

The data pipeline is fairseq's ``masked_lm`` task, unchanged; this task only
refuses models that have no secondary head, so that a mistyped ``--arch`` fails
at build time instead of after hours of single-head training.
"""
from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

from ..flops import LogsTrainingFlops
from .data_checks import CheckedDataDir


@register_task("minijoint_mlm", dataclass=MaskedLMConfig)
class MiniJointMLMTask(CheckedDataDir, LogsTrainingFlops, MaskedLMTask):
    """Masked LM for ``minijoint_roberta`` models (use with ``--criterion minijoint_mlm``)."""

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        if not hasattr(getattr(model, "encoder", None), "mini_lm_head"):
            arch = getattr(cfg, "arch", None) or getattr(cfg, "_name", "?")
            raise ValueError(
                f"--task minijoint_mlm needs a model with a secondary MLM head, but --arch "
                f"{arch} ({type(model).__name__}) has none. Use --arch minijoint_roberta_small "
                f"(or _base/_large, or your own minijoint_roberta architecture), or train a "
                f"plain RoBERTa with --task masked_lm --criterion masked_lm"
            )
        return model
