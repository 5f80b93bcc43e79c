"""The few fixes fairseq 0.12.x needs on torch >= 2.6, each with its reason.

Imported first by ``minimodel_fairseq/__init__.py``, hence by ``--user-dir
minimodel_fairseq`` before fairseq loads any checkpoint, and by
``import minimodel_fairseq`` in Python before ``checkpoint_utils`` /
``RobertaModel.from_pretrained`` are used.

1. ``weights_only``. torch 2.6 changed ``torch.load``'s default to
   ``weights_only=True``. fairseq checkpoints are pickles that hold an
   ``argparse.Namespace``/omegaconf config and optimizer state, so every
   ``checkpoint_utils.load_checkpoint_to_cpu`` fails with an UnpicklingError.
   We give fairseq's ``checkpoint_utils`` module (and only it) a ``torch``
   whose ``load`` defaults to ``weights_only=False``. Everything else in the
   process keeps torch's safe default. Consequence: a fairseq checkpoint is
   trusted code, like any pickle; load only checkpoints you trust
   (docs/usage.md says so too).
"""
import functools
import types

import torch


class _TorchForFairseqCheckpoints(types.ModuleType):
    """``torch`` as seen from fairseq.checkpoint_utils: same module, trusted ``load``."""

    def __init__(self):
        super().__init__("torch")
        self.load = functools.partial(torch.load, weights_only=False)

    def __getattr__(self, name):
        return getattr(torch, name)


def patch_checkpoint_loading() -> None:
    """Make fairseq's checkpoint loading work under torch >= 2.6 (idempotent)."""
    from fairseq import checkpoint_utils

    if not isinstance(checkpoint_utils.torch, _TorchForFairseqCheckpoints):
        checkpoint_utils.torch = _TorchForFairseqCheckpoints()


def load_checkpoint(path):
    """Load a fairseq checkpoint file as fairseq does (trusted pickle, on CPU)."""
    from fairseq import checkpoint_utils

    patch_checkpoint_loading()
    return checkpoint_utils.load_checkpoint_to_cpu(path)


patch_checkpoint_loading()
