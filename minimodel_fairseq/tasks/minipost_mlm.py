"""Step 1b (MiniPost): align a truncated mini-model by masked LM on source-language text.

fairseq's ``masked_lm`` data pipeline and criterion; the model is
``minipost_roberta``. Only the M new layers and the LM head (plus, for
pre-norm, the final LayerNorm) train; the embeddings and the K copied layers
stay exactly the source model's, so the mini-model's bottom is the big model's
bottom and embeddings learned on it in step 2 fit the big model.
"""
from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

from ..flops import LogsTrainingFlops
from ..freezing import set_trainable
from .data_checks import CheckedDataDir


def minipost_trainable(mini_layers: int, total_layers: int):
    """Name patterns of what MiniPost trains: layers K+1..K+M, the LM head, the final LayerNorm."""
    new = [f"encoder.sentence_encoder.layers.{i}.*" for i in range(mini_layers, total_layers)]
    return new + ["encoder.lm_head.*", "encoder.sentence_encoder.layer_norm.*"]


@register_task("minipost_mlm", dataclass=MaskedLMConfig)
class MiniPostMLMTask(CheckedDataDir, LogsTrainingFlops, MaskedLMTask):
    """Masked LM that trains only the new top of a ``minipost_roberta`` model."""

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        k = getattr(cfg, "mini_layers", None)
        if k is None:
            raise ValueError(
                f"--task minipost_mlm needs --arch minipost_roberta (a truncated model with "
                f"--source-checkpoint and --mini-layers), got --arch {getattr(cfg, 'arch', '?')}"
            )
        patterns = minipost_trainable(k, cfg.encoder_layers)
        if not cfg.encoder_normalize_before:  # post-norm encoders have no final LayerNorm
            patterns.remove("encoder.sentence_encoder.layer_norm.*")
        set_trainable(model, trainable=patterns, what=f"MiniPost (K={k} frozen layers)")
        return model
