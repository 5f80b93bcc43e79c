"""Step 1b (MiniPost): align a truncated mini-model by masked LM on source-language text.

fairseq's ``masked_lm`` data pipeline and criterion; the model is
``minipost_roberta``. Only the M new layers and the LM head (plus, for
pre-norm, the final LayerNorm) train; the embeddings and the K copied layers
stay exactly the source model's, so the mini-model's bottom is the big model's
bottom and embeddings learned on it in step 2 fit the big model. Its checkpoints
record the source (big) model's fingerprint.
"""

from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

from ..flops import LogsTrainingFlops
from ..freezing import set_trainable
from ..params import minipost_trainable
from .data_checks import CheckedDataDir
from .default_arch import DefaultArch
from .heartbeat import LogsProgress
from .provenance import RecordsBigModel

ARCH = "--arch minipost_roberta --source-checkpoint BIG.pt --mini-layers K --mini-new-layers M"


@register_task("minipost_mlm", dataclass=MaskedLMConfig)
class MiniPostMLMTask(
    CheckedDataDir, DefaultArch, RecordsBigModel, LogsProgress, LogsTrainingFlops, MaskedLMTask
):
    """Masked LM that trains only the new top of a ``minipost_roberta`` model."""

    arch_hint = ARCH

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)  # minipost_roberta sets self.big_model
        k = getattr(cfg, "mini_layers", None)
        if k is None:
            raise ValueError(
                f"--task minipost_mlm needs {ARCH} (a truncated model), got --arch {getattr(cfg, 'arch', '?')}"
            )
        patterns = minipost_trainable(
            k, cfg.encoder_layers, final_layer_norm=cfg.encoder_normalize_before
        )
        set_trainable(model, trainable=patterns, what=f"MiniPost (K={k} frozen layers)")
        return model
