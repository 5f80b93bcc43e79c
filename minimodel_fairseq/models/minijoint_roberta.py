"""MiniJoint RoBERTa: one encoder, two masked-LM heads (Marchisio et al., 2023, section 3).

The top head is RoBERTa's usual LM head on the last layer. The secondary
("mini") head is a second RoBERTa LM head on the output of layer K
(``--mini-layer K``). Both output projections are tied to the token
embeddings. The bottom K layers plus the mini head form the mini-model that
step 2 of the method trains new-language embeddings on.

One forward pass serves both heads: the encoder runs once, layer K's output is
picked from the states the transformer keeps anyway, and both heads project
only the masked positions.

Adding an architecture from your own ``--user-dir``::

    from fairseq.models import register_model_architecture
    from minimodel_fairseq.models.minijoint_roberta import minijoint_roberta_base_architecture

    @register_model_architecture("minijoint_roberta", "minijoint_roberta_6l")
    def minijoint_roberta_6l(args):
        args.encoder_layers = getattr(args, "encoder_layers", 6)
        args.mini_layer = getattr(args, "mini_layer", 2)
        minijoint_roberta_base_architecture(args)
"""

import logging

from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta.model import (
    RobertaEncoder,
    RobertaModel,
    base_architecture,
    roberta_base_architecture,
    roberta_large_architecture,
    roberta_prenorm_architecture,
)
from fairseq.modules import LayerNorm
from fairseq.utils import safe_getattr, safe_hasattr

logger = logging.getLogger(__name__)

DEFAULT_MINI_LAYER = 4


def check_mini_layer(args) -> int:
    """Validate ``--mini-layer`` against the encoder depth; return K."""
    k, depth = args.mini_layer, args.encoder_layers
    if not isinstance(k, int) or not 1 <= k < depth:
        raise ValueError(
            f"--mini-layer must satisfy 1 <= K < --encoder-layers ({depth}), got {k!r}: "
            f"choose a layer below the top, e.g. --mini-layer {max(1, depth // 3)}"
        )
    if safe_getattr(args, "encoder_layerdrop", 0.0) > 0:
        raise ValueError(
            "minijoint_roberta does not support --encoder-layerdrop > 0: "
            "a dropped layer would move the mini head to another depth"
        )
    return k


class MiniJointRobertaEncoder(RobertaEncoder):
    """RoBERTa encoder with a second LM head on the output of layer K."""

    def __init__(self, args, dictionary):
        super().__init__(args, dictionary)
        self.mini_layer = check_mini_layer(args)
        # Pre-norm layers leave their output un-normalised (the encoder's final
        # LayerNorm only sees the top layer), so layer K gets its own.
        self.mini_layer_norm = (
            LayerNorm(args.encoder_embed_dim) if args.encoder_normalize_before else None
        )
        self.mini_lm_head = self.build_lm_head(
            embed_dim=args.encoder_embed_dim,
            output_dim=len(dictionary),
            activation_fn=args.activation_fn,
            weight=self.lm_head.weight if not args.untie_weights_roberta else None,
        )

    def forward(
        self,
        src_tokens,
        features_only=False,
        return_all_hiddens=False,
        masked_tokens=None,
        **unused,
    ):
        """As RobertaEncoder.forward; ``extra`` also holds ``mini_features``
        (B x T x C, layer K after its LayerNorm) and, unless ``features_only``,
        ``mini_logits`` (the secondary head's output on the same positions as
        the primary logits)."""
        x, extra = self.extract_features(src_tokens, return_all_hiddens=True)
        # inner_states[0] is the embedding output, inner_states[k] layer k's output.
        mini = extra["inner_states"][self.mini_layer].transpose(0, 1)
        if self.mini_layer_norm is not None:
            mini = self.mini_layer_norm(mini)
        if not return_all_hiddens:
            extra["inner_states"] = None
        extra["mini_features"] = mini
        if not features_only:
            x = self.output_layer(x, masked_tokens=masked_tokens)
            extra["mini_logits"] = self.mini_lm_head(mini, masked_tokens)
        return x, extra


@register_model("minijoint_roberta")
class MiniJointRobertaModel(RobertaModel):
    """RoBERTa with a secondary MLM head at layer ``--mini-layer``."""

    @classmethod
    def hub_models(cls):
        return {}

    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        MiniJointRobertaModel.add_own_args(parser)

    @staticmethod
    def add_own_args(parser):
        """MiniJoint's option on top of RoBERTa's."""
        parser.add_argument(
            "--mini-layer",
            type=int,
            metavar="K",
            help="layer whose output feeds the secondary MLM head (1 <= K < --encoder-layers)",
        )

    @classmethod
    def build_model(cls, args, task):
        """As RobertaModel.build_model, with the two-head encoder."""
        from omegaconf import OmegaConf

        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, False)
        minijoint_roberta_architecture(args)
        if not safe_hasattr(args, "max_positions"):
            if not safe_hasattr(args, "tokens_per_sample"):
                args.tokens_per_sample = task.max_positions()
            args.max_positions = args.tokens_per_sample
        encoder = MiniJointRobertaEncoder(args, task.source_dictionary)
        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, True)
        return cls(args, encoder)

    @property
    def mini_layer(self) -> int:
        return self.encoder.mini_layer


def _default_mini_layer(args, k=DEFAULT_MINI_LAYER):
    args.mini_layer = safe_getattr(args, "mini_layer", k)


@register_model_architecture("minijoint_roberta", "minijoint_roberta")
def minijoint_roberta_architecture(args):
    _default_mini_layer(args)
    base_architecture(args)


@register_model_architecture("minijoint_roberta", "minijoint_roberta_base")
def minijoint_roberta_base_architecture(args):
    """12 layers x 768, mini head at layer 4 (the paper's base setting)."""
    _default_mini_layer(args)
    roberta_base_architecture(args)


@register_model_architecture("minijoint_roberta", "minijoint_roberta_large")
def minijoint_roberta_large_architecture(args):
    """24 layers x 1024, mini head at layer 4."""
    _default_mini_layer(args)
    roberta_large_architecture(args)


@register_model_architecture("roberta", "roberta_small")
def roberta_small_architecture(args):
    """8 layers x 256 (FFN 1024, 4 heads), pre-norm: a plain RoBERTa sized for 2-core CPUs.

    The reference (and MiniPost's source) for ``minijoint_roberta_small``;
    docs/architectures.md gives the measurements behind these numbers.
    """
    args.encoder_layers = safe_getattr(args, "encoder_layers", 8)
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", 256)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", 1024)
    args.encoder_attention_heads = safe_getattr(args, "encoder_attention_heads", 4)
    roberta_prenorm_architecture(args)


@register_model_architecture("minijoint_roberta", "minijoint_roberta_small")
def minijoint_roberta_small_architecture(args):
    """``roberta_small`` (8 x 256, pre-norm) with the mini head at layer 2."""
    _default_mini_layer(args, 2)
    roberta_small_architecture(args)
