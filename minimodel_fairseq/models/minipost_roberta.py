"""MiniPost: a mini-model cut from an ordinary pretrained RoBERTa by layer truncation.

``--arch minipost_roberta --source-checkpoint PATH --mini-layers K --mini-new-layers M``
builds a RoBERTa of K+M layers with the source's sizes (never the command
line's): the source's token and position embeddings, embedding LayerNorm and
bottom K layers, then M new layers (``--new-layer-init copy``: the source's
layers K+1..K+M; ``random``: RoBERTa's init) and the source's LM head (and, for
pre-norm, its final LayerNorm); ``--mini-head-init random`` gives it a new LM head
instead (RoBERTa's init; the output projection stays tied to the embeddings), the
"newly trained head" that docs/method.md compares against. Task ``minipost_mlm`` then trains only the new
layers and the head, so the bottom K layers stay exactly the big model's.

The model config is rewritten to plain ``roberta`` with K+M layers once the
weights are in, so checkpoints are ordinary RoBERTa checkpoints (step 2 takes
them as ``--body-checkpoint`` like any other) and reload without the source.
"""

import contextlib
import logging
import os

import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta.model import RobertaModel, base_architecture
from fairseq.modules.transformer_sentence_encoder import init_bert_params
from fairseq.utils import safe_getattr

from .. import params, surgery

logger = logging.getLogger(__name__)


@register_model("minipost_roberta")
class MiniPostRobertaModel(RobertaModel):
    @classmethod
    def hub_models(cls):
        return {}

    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        MiniPostRobertaModel.add_own_args(parser)

    @staticmethod
    def add_own_args(parser):
        """MiniPost's options on top of RoBERTa's."""
        parser.add_argument(
            "--source-checkpoint",
            metavar="PATH",
            help="pretrained RoBERTa-family checkpoint to truncate (its sizes are used)",
        )
        parser.add_argument(
            "--mini-layers",
            type=int,
            metavar="K",
            help="bottom layers copied from the source and kept frozen (K >= 1)",
        )
        parser.add_argument(
            "--mini-new-layers",
            type=int,
            metavar="M",
            help="trainable transformer layers added on top of the K copied ones",
        )
        parser.add_argument(
            "--new-layer-init",
            choices=["copy", "random"],
            help="copy: the source's layers K+1..K+M; random: RoBERTa's init",
        )
        parser.add_argument(
            "--mini-head-init",
            choices=["copy", "random"],
            help="copy: the source's LM head; random: RoBERTa's init (projection tied)",
        )

    @classmethod
    def build_model(cls, args, task):
        from omegaconf import OmegaConf, open_dict

        minipost_roberta_architecture(args)
        if not args.source_checkpoint:
            raise ValueError(
                "--arch minipost_roberta needs --source-checkpoint PATH (a pretrained RoBERTa)"
            )
        source = surgery.Body(args.source_checkpoint)
        k, m, init = args.mini_layers, args.mini_new_layers, args.new_layer_init
        if k < 1 or m < 0:
            raise ValueError(
                f"--mini-layers must be >= 1 and --mini-new-layers >= 0, got K={k}, M={m}"
            )
        limit = k + m if init == "copy" else k
        if limit > source.depth:
            raise ValueError(
                f"{args.source_checkpoint} has {source.depth} layers: --mini-layers {k}"
                + (f" + --mini-new-layers {m} (copied)" if init == "copy" else "")
                + f" exceeds it; choose K{' + M' if init == 'copy' else ''} <= {source.depth}"
            )
        with open_dict(args) if OmegaConf.is_config(args) else contextlib.nullcontext():
            source.configure(args, layers=limit)
            args.encoder_layers = k + m
            args.source_checkpoint = None  # initialised: later builds (reloads) need no source
            args.minipost_source = os.path.abspath(source.path)
        model = super().build_model(args, task)
        source.load_into(
            model, allow_missing_prefixes=[params.layer(i) for i in range(limit, k + m)]
        )
        # provenance: the task saves it in every checkpoint (tasks/provenance.py)
        task.big_model, task.hf_origin = source.big_model, source.hf_origin
        if args.mini_head_init == "random":
            head = (
                model.encoder.lm_head
            )  # RoBERTa's init; its output projection stays the tied embeddings
            init_bert_params(head.dense)
            head.layer_norm.reset_parameters()
            with torch.no_grad():
                head.bias.zero_()
        logger.info(
            "MiniPost: %d layers from the source (%d copied and frozen, %d new, init %s), LM head %s",
            k + m,
            k,
            m,
            init,
            "new" if args.mini_head_init == "random" else "the source's",
        )
        return model


@register_model_architecture("minipost_roberta", "minipost_roberta")
def minipost_roberta_architecture(args):
    args.source_checkpoint = safe_getattr(args, "source_checkpoint", None)
    args.mini_layers = safe_getattr(args, "mini_layers", 2)
    args.mini_new_layers = safe_getattr(args, "mini_new_layers", 1)
    args.new_layer_init = safe_getattr(args, "new_layer_init", "copy")
    args.mini_head_init = safe_getattr(args, "mini_head_init", "copy")
    base_architecture(args)
