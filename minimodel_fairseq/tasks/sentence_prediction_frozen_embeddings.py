"""Step 3: fine-tune the source-language model on a classification task, token embeddings frozen.

Frozen embeddings keep the fine-tuned body compatible with any embedding
matrix learned for it in step 2, which step 4 swaps in. Data is fairseq's
``sentence_prediction`` layout (``input0/``, optional ``input1/`` for
sentence pairs such as XNLI, ``label/``).
"""

from dataclasses import dataclass, field
from typing import Optional

from fairseq.tasks import register_task
from fairseq.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask
from omegaconf import open_dict

from .. import params, surgery
from ..flops import LogsTrainingFlops
from ..freezing import set_trainable
from .data_checks import CheckedDataDir
from .default_arch import DefaultArch
from .heartbeat import LogsProgress
from .provenance import RecordsBigModel


@dataclass
class SentencePredictionFrozenEmbeddingsConfig(SentencePredictionConfig):
    body_checkpoint: Optional[str] = field(
        default=None,
        metadata={"help": "the pretrained model to fine-tune (gives the architecture)"},
    )


@register_task(
    "sentence_prediction_frozen_embeddings", dataclass=SentencePredictionFrozenEmbeddingsConfig
)
class SentencePredictionFrozenEmbeddingsTask(
    CheckedDataDir,
    DefaultArch,
    RecordsBigModel,
    LogsProgress,
    LogsTrainingFlops,
    SentencePredictionTask,
):
    """fairseq's sentence_prediction with the token embeddings (and tied LM head) frozen."""

    arch_hint = (
        "--body-checkpoint PATH (its architecture is used), or --arch and --restore-file as with "
        "--task sentence_prediction"
    )

    @classmethod
    def takes_arch_from_checkpoint(cls, cfg):
        return bool(getattr(cfg, "body_checkpoint", None))

    @classmethod
    def required_data_files(cls, cfg):
        return (
            ("input0/dict.txt",) if cfg.regression_target else ("input0/dict.txt", "label/dict.txt")
        )

    def build_model(self, cfg, from_checkpoint=False):
        body = None
        if self.cfg.body_checkpoint and not from_checkpoint:
            body = surgery.Body(self.cfg.body_checkpoint)
            body.configure(cfg)
            self._check_dictionary(body.state)
            with open_dict(self.cfg):  # the samples' length limit, never the model's position table
                self.cfg.max_positions = min(self.cfg.max_positions, cfg.max_positions)
        if body is None and not from_checkpoint:
            model = super().build_model(cfg, from_checkpoint)
        else:
            # fairseq's sentence_prediction copies the task's --max-positions into the model config,
            # which would give a 514-position body (xlm-roberta-base) a 130-row table at TOKENS=128.
            # The model keeps the body's (or the checkpoint's) shape; the task still truncates.
            from fairseq import models

            model = models.build_model(cfg, self, from_checkpoint)
            model.register_classification_head(
                self.cfg.classification_head_name, num_classes=self.cfg.num_classes
            )
        if body is not None:
            body.load_into(model, allow_missing_prefixes=[params.CLASSIFICATION_HEADS])
            self.big_model, self.hf_origin = body.big_model, body.hf_origin
        set_trainable(
            model, frozen=params.FINETUNE_FROZEN, what="step 3 (fine-tuning, embeddings frozen)"
        )
        return model

    def load_dataset(self, split, combine=False, **kwargs):
        super().load_dataset(split, combine=combine, **kwargs)
        if not split.startswith("train"):
            # validation batches of similar lengths: fairseq's sentence_prediction orders every split at
            # random, and the padding that leaves costs a base-size model about half its validation time;
            # loss and accuracy are sums over the split, so the order does not change them
            from fairseq.data import SortDataset

            dataset = self.datasets[split]
            sizes = [dataset.num_tokens(i) for i in range(len(dataset))]
            self.datasets[split] = SortDataset(dataset, sort_order=[sizes])
        return self.datasets[split]

    def _check_dictionary(self, body):
        rows = body["model"][params.TOKENS].size(0)
        trained_with = surgery.training_dictionary(body)
        if (
            trained_with is not None
            and trained_with.symbols != self.source_dictionary.symbols[: rows - 1]
        ):
            raise ValueError(
                f"dictionary mismatch: the data's input0/dict.txt is not the dictionary "
                f"{self.cfg.body_checkpoint} was trained with ({surgery.training_dictionary_path(body)}): binarize the "
                f"classification data with that dict.txt (--srcdict)"
            )
        if rows != len(self.source_dictionary):
            raise ValueError(
                f"dictionary mismatch: the data's input0/dict.txt gives {len(self.source_dictionary)} "
                f"symbols (with <mask>) but {self.cfg.body_checkpoint} has {rows} embedding rows: "
                f"binarize the classification data with the body's dict.txt (--srcdict)"
            )
