"""Step 1 (MiniJoint): masked-LM pretraining of a model with a secondary head at layer K.

The data pipeline is fairseq's ``masked_lm`` task, unchanged; this task only
refuses models that have no secondary head, so that a mistyped ``--arch`` fails
at build time instead of after hours of single-head training. Its checkpoints are
big models: their provenance fingerprint is computed when they are read.
``--forget-embeddings-every K``: active forgetting (``minimodel_fairseq/forgetting.py``).
"""

from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMTask

from .. import forgetting
from ..flops import LogsTrainingFlops
from .data_checks import CheckedDataDir
from .default_arch import DefaultArch
from .forgetting_mlm import ForgettingMLMConfig
from .heartbeat import LogsProgress

ARCHS = (
    "--arch minijoint_roberta_small (or _base/_large, or your own minijoint_roberta architecture)"
)


@register_task(
    "minijoint_mlm", dataclass=ForgettingMLMConfig
)  # masked_lm's options + --forget-embeddings-every
class MiniJointMLMTask(
    CheckedDataDir,
    DefaultArch,
    LogsProgress,
    LogsTrainingFlops,
    forgetting.ForgetsEmbeddings,
    MaskedLMTask,
):
    """Masked LM for ``minijoint_roberta`` models (use with ``--criterion minijoint_mlm``)."""

    arch_hint = ARCHS + " with --criterion minijoint_mlm"

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        if not hasattr(getattr(model, "encoder", None), "mini_lm_head"):
            arch = getattr(cfg, "arch", None) or getattr(cfg, "_name", "?")
            raise ValueError(
                f"--task minijoint_mlm needs a model with a secondary MLM head, but --arch "
                f"{arch} ({type(model).__name__}) has none. Use {ARCHS}, or train a "
                f"plain RoBERTa with --task masked_lm --criterion masked_lm"
            )
        return model
