"""Step 2: learn a new language's token embeddings by masked LM over a frozen body.

The body is any RoBERTa-family checkpoint (``--body-checkpoint``): the full
model for the standard recipe (the baseline), a mini-model for MiniJoint or
MiniPost. The model is built from the body's own architecture, every body
weight is loaded, and a new token-embedding matrix for the target dictionary
(tied to the LM head's output projection) plus a fresh LM-head bias are the
only trainable tensors.
"""
import logging
import os
from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.data import Dictionary
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

from .. import surgery
from ..flops import LogsTrainingFlops
from ..freezing import LM_HEAD_BIAS, TOKEN_EMBEDDINGS, set_trainable
from .data_checks import CheckedDataDir

logger = logging.getLogger(__name__)

NEW_LANGUAGE_TRAINABLE = [TOKEN_EMBEDDINGS, LM_HEAD_BIAS]


@dataclass
class NewLanguageMLMConfig(MaskedLMConfig):
    body_checkpoint: Optional[str] = field(
        default=None,
        metadata={
            "help": "RoBERTa-family checkpoint whose body stays frozen: the full model "
            "(standard recipe) or a mini-model (MiniJoint extract-mini, MiniPost). Its "
            "architecture is used; layer sizes on the command line are ignored"
        },
    )
    embedding_init: ChoiceEnum(list(surgery.INITS)) = field(
        default="random",
        metadata={
            "help": "random: N(0, 0.02), padding row zero (the paper's setting); shared: "
            "tokens whose surface form is in the body's dictionary start from its embedding; "
            "shared_translit: shared, and Cyrillic tokens also match through their "
            "romanisation (names: David, Jacob, Babylon)"
        },
    )
    body_dict: Optional[str] = field(
        default=None,
        metadata={"help": "the body's dict.txt, for --embedding-init shared (default: dict.txt "
                  "in the body checkpoint's training data directory)"},
    )


@register_task("new_language_mlm", dataclass=NewLanguageMLMConfig)
class NewLanguageMLMTask(CheckedDataDir, LogsTrainingFlops, MaskedLMTask):
    """Masked LM on target-language text; trains only the new embeddings and LM-head bias."""

    def build_model(self, cfg, from_checkpoint=False):
        body = None
        if not from_checkpoint:  # a step-2 checkpoint already holds the body's architecture
            if not self.cfg.body_checkpoint:
                raise ValueError("--task new_language_mlm needs --body-checkpoint PATH (the frozen body)")
            body = surgery.to_roberta(surgery.load_roberta_checkpoint(self.cfg.body_checkpoint))
            surgery.apply_body_architecture(cfg, body, logger)
            if self.cfg.tokens_per_sample > cfg.max_positions:
                raise ValueError(
                    f"--tokens-per-sample {self.cfg.tokens_per_sample} exceeds the body's "
                    f"max_positions {cfg.max_positions}: lower it"
                )
        model = super().build_model(cfg, from_checkpoint)
        if body is not None:
            self._load_body(model, body)
        set_trainable(model, trainable=NEW_LANGUAGE_TRAINABLE, what="step 2 (new-language embeddings)")
        return model

    def _load_body(self, model, body):
        new = {surgery.TOKENS, surgery.LM_HEAD + "weight", surgery.LM_HEAD + "bias"}
        weights = {k: v for k, v in body["model"].items() if k not in new}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        assert set(missing) == new and not unexpected, (missing, unexpected)
        source_dict = None
        if self.cfg.embedding_init != "random":
            source_dict = self._body_dictionary(body)
        weight, copied = surgery.new_language_embeddings(
            self.source_dictionary, body["model"][surgery.TOKENS], self.cfg.embedding_init,
            source_dict, seed=self.cfg.seed,
        )
        with torch.no_grad():
            model.encoder.sentence_encoder.embed_tokens.weight.copy_(weight)
            model.encoder.lm_head.bias.zero_()
        logger.info(
            "new-language embeddings: %d x %d, init %s (%d rows copied from the body)",
            *weight.shape, self.cfg.embedding_init, copied,
        )

    def _body_dictionary(self, body):
        path = self.cfg.body_dict or str(surgery.training_dictionary_path(body))
        if not os.path.isfile(path):
            raise ValueError(f"--embedding-init {self.cfg.embedding_init}: body dictionary {path} not found; pass --body-dict")
        d = Dictionary.load(path)
        d.add_symbol("<mask>")  # as the masked-LM task that trained the body did
        return d
