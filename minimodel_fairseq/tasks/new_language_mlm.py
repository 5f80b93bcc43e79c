"""Step 2: learn a new language's token embeddings by masked LM over a frozen body.

The body is any RoBERTa-family checkpoint (``--body-checkpoint``): the full
model for the standard recipe (the baseline), a mini-model for MiniJoint or
MiniPost. The model is built from the body's own architecture, every body
weight is loaded, and a new token-embedding matrix for the target dictionary
(tied to the LM head's output projection) plus a fresh LM-head bias are the
only trainable tensors.
"""

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from fairseq.data import BaseWrapperDataset, Dictionary
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

from .. import params, surgery
from ..flops import LogsTrainingFlops
from ..freezing import set_trainable
from ..params import NEW_LANGUAGE_TRAINABLE
from .data_checks import CheckedDataDir
from .default_arch import DefaultArch
from .heartbeat import LogsProgress
from .provenance import RecordsBigModel

logger = logging.getLogger(__name__)


@dataclass
class NewLanguageMLMConfig(MaskedLMConfig):
    body_checkpoint: Optional[str] = field(
        default=None,
        metadata={"help": "the frozen body: a full model or a mini-model (gives the architecture)"},
    )
    embedding_init: ChoiceEnum(list(surgery.INITS)) = field(
        default="random",
        metadata={
            "help": "rows copied from the body: none (random), same spelling (shared), or uroman too"
        },
    )
    target_lang: Optional[str] = field(
        default=None,
        metadata={
            "help": "target language code for shared_translit (default: DATA/<lang>/mlm's <lang>)"
        },
    )
    body_dict: Optional[str] = field(
        default=None,
        metadata={
            "help": "the body's dict.txt for shared inits (default: the body's data directory's)"
        },
    )
    train_fraction: float = field(
        default=1.0,
        metadata={"help": "train on this leading share of the train split's text (0 < F <= 1)"},
    )


class LeadingSamples(BaseWrapperDataset):
    """The first ``n`` samples of a dataset, in its order: with TokenBlockDataset's blocks, the leading
    share of a split's text."""

    def __init__(self, dataset, n):
        super().__init__(dataset)
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if not 0 <= index < self.n:
            raise IndexError(f"sample {index} of {self.n}")
        return self.dataset[index]

    @property
    def sizes(self):
        return self.dataset.sizes[: self.n]

    def ordered_indices(self):
        return np.arange(self.n, dtype=np.int64)


@register_task("new_language_mlm", dataclass=NewLanguageMLMConfig)
class NewLanguageMLMTask(
    CheckedDataDir, DefaultArch, RecordsBigModel, LogsProgress, LogsTrainingFlops, MaskedLMTask
):
    """Masked LM on target-language text; trains only the new embeddings and LM-head bias."""

    def __init__(self, cfg, dictionary=None):
        if not 0 < cfg.train_fraction <= 1:
            raise ValueError(
                f"--train-fraction must be above 0 and at most 1, got {cfg.train_fraction}"
            )
        super().__init__(cfg, dictionary)

    def _load_dataset_split(self, split, epoch, combine):
        """The split's blocks; of a train split (train, train1, ...) only the leading --train-fraction."""
        dataset = super()._load_dataset_split(split, epoch, combine)
        if self.cfg.train_fraction < 1 and split.startswith("train"):
            total = len(dataset)
            n = math.floor(self.cfg.train_fraction * total)
            if n < 1:
                raise ValueError(
                    f"--train-fraction {self.cfg.train_fraction} of {split}'s {total} blocks is none: "
                    "raise it"
                )
            dataset = LeadingSamples(dataset, n)
            logger.info(
                "--train-fraction %g: %s is its first %d of %d blocks (%d of %d tokens)",
                self.cfg.train_fraction,
                split,
                n,
                total,
                int(dataset.sizes.sum()),
                int(dataset.dataset.sizes.sum()),
            )
        return dataset

    @classmethod
    def takes_arch_from_checkpoint(cls, cfg):
        return True  # always: --body-checkpoint is required

    def build_model(self, cfg, from_checkpoint=False):
        body = None
        if not from_checkpoint:  # a step-2 checkpoint already holds the body's architecture
            if not self.cfg.body_checkpoint:
                raise ValueError(
                    "--task new_language_mlm needs --body-checkpoint PATH (the frozen body)"
                )
            body = surgery.Body(self.cfg.body_checkpoint)
            body.configure(cfg)
            if self.cfg.tokens_per_sample > cfg.max_positions:
                raise ValueError(
                    f"--tokens-per-sample {self.cfg.tokens_per_sample} exceeds the body's "
                    f"max_positions {cfg.max_positions}: lower it"
                )
        model = super().build_model(cfg, from_checkpoint)
        if body is not None:
            body.load_into(model, skip_names=params.NEW_LANGUAGE)
            self._init_embeddings(model, body.state)
            self.big_model, self.hf_origin = body.big_model, body.hf_origin
        set_trainable(
            model, trainable=NEW_LANGUAGE_TRAINABLE, what="step 2 (new-language embeddings)"
        )
        return model

    def _init_embeddings(self, model, body):
        source_dict = None
        if self.cfg.embedding_init != "random":
            source_dict = self._body_dictionary(body)
        lang = self._target_lang()
        weight, copied = surgery.new_language_embeddings(
            self.source_dictionary,
            body["model"][params.TOKENS],
            self.cfg.embedding_init,
            source_dict,
            seed=self.cfg.seed,
            lang=lang,
        )
        with torch.no_grad():
            model.encoder.sentence_encoder.embed_tokens.weight.copy_(weight)
            model.encoder.lm_head.bias.zero_()
        logger.info(
            "new-language embeddings: %d x %d, init %s (%d rows copied from the body; target language %s)",
            *weight.shape,
            self.cfg.embedding_init,
            copied,
            lang,
        )

    def _target_lang(self):
        """--target-lang, else the data directory's name (DATA/<lang>/mlm -> <lang>)."""
        if self.cfg.target_lang or self.cfg.embedding_init != "shared_translit":
            return self.cfg.target_lang
        from ..anchors import iso639_3

        data = Path(self.cfg.data.split(os.pathsep)[0]).resolve()
        lang = data.parent.name if data.name == "mlm" else data.name
        if iso639_3(lang) is None:
            logger.info(
                "--embedding-init shared_translit: %r (from the data directory) is no language code "
                "uroman knows; romanising language-independently (pass --target-lang)",
                lang,
            )
        return lang

    def _body_dictionary(self, body):
        path = self.cfg.body_dict or str(surgery.training_dictionary_path(body))
        if not os.path.isfile(path):
            raise ValueError(
                f"--embedding-init {self.cfg.embedding_init}: body dictionary {path} not found; pass --body-dict"
            )
        d = Dictionary.load(path)
        body_dict = surgery.recorded_dictionary(body)
        if body_dict is None and (trained := surgery.training_dictionary(body)) is not None:
            body_dict = surgery.dictionary_digest(trained)
        if self.cfg.body_dict and body_dict and surgery.dictionary_digest(d) != body_dict:
            raise ValueError(
                f"--body-dict {path} is not the dictionary the body {self.cfg.body_checkpoint} was trained with "
                f"(digest {surgery.short(surgery.dictionary_digest(d))}, the body's {surgery.short(body_dict)}; "
                f"same size or not): give the body's own dict.txt, {surgery.training_dictionary_path(body)}"
            )
        d.add_symbol("<mask>")  # as the masked-LM task that trained the body did
        return d
