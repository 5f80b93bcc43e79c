"""Plain RoBERTa pretraining with active forgetting: ``masked_lm`` plus ``--forget-embeddings-every``.

The standard recipe's body (examples/bible/1_pretrain_roberta.sh: stock ``--task masked_lm``) pretrained
as Chen et al. (2023) pretrain theirs, so that it can be compared with, or adapted like, a forgetting
MiniJoint model. Named for what it adds to ``masked_lm``; data, masking and criterion (``masked_lm``)
are fairseq's, the mechanism is ``minimodel_fairseq/forgetting.py``. Its checkpoints are big models.
"""

from dataclasses import dataclass

from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

from .. import forgetting
from ..flops import LogsTrainingFlops
from .data_checks import CheckedDataDir
from .default_arch import DefaultArch
from .heartbeat import LogsProgress


@dataclass
class ForgettingMLMConfig(MaskedLMConfig):
    forget_embeddings_every: int = forgetting.every_field()
    forget_lr_schedule: forgetting.SCHEDULES = forgetting.schedule_field()


@register_task("forgetting_mlm", dataclass=ForgettingMLMConfig)
class ForgettingMLMTask(
    CheckedDataDir,
    DefaultArch,
    LogsProgress,
    LogsTrainingFlops,
    forgetting.ForgetsEmbeddings,
    MaskedLMTask,
):
    """fairseq's ``masked_lm`` with active forgetting (use with ``--criterion masked_lm``)."""

    arch_hint = "--arch roberta_small (or roberta_base/roberta_large: any RoBERTa architecture)"
