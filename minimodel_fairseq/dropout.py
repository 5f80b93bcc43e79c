"""Fast dropout masks on CPU: the one place that decides how training draws them.

On CPU, torch's dropout (``F.dropout``, and the attention dropout inside
``scaled_dot_product_attention``'s math path) draws its mask with ``Tensor.bernoulli_(1 - p)``,
whose CPU kernel draws one double per element on one thread: about 4.7-7 ns per element
whatever the thread count, a fifth to a third of an update of the recipes' model
(docs/benchmarks.md, "Where an update's time goes"). With ``MINIMODEL_DROPOUT_MASKS=fast``
the trainer's ``train_step`` runs with :func:`fast_masks`: ``aten::bernoulli_.float`` on CPU
is served by :func:`bernoulli_from_bits`, which draws 64 random bits per four elements from the
same generator (``random_``, torch's Mersenne Twister) and keeps an element where its 16 bits
clear the threshold: about 1.2 ns per element.

What changes: the random stream (the masks differ from torch's, so runs differ from
``torch`` runs as different seeds do), and the keep probability is rounded to a multiple of
1/65536 (for dropout 0.1: 0.1000061 dropped; torch's dropout still scales by 1 / (1 - 0.1), an
expectation off by 7e-6). What does not: masks are 0/1 of the tensor's dtype, drawn from
torch's default generator (or the one passed), so fairseq's per-update seeding makes them the
same in a resumed run as in one run, and on every rank alike, as before. Only CPU tensors,
only inside ``train_step``: anything else in the process keeps torch's kernel. CUDA keeps its
fused dropout.

``MINIMODEL_DROPOUT_MASKS``: ``torch`` (the default: torch's own kernel) or ``fast``; read when
a trainer is built. The recipes set it from their ``DROPOUT_MASKS`` setting (``fast`` there).
"""

import contextlib
import functools
import logging
import os
import warnings

import torch

logger = logging.getLogger(__name__)

ENV = "MINIMODEL_DROPOUT_MASKS"
CHOICES = ("torch", "fast")
LEVELS = 1 << 16  # the keep probability's resolution: 16 bits per element


def bernoulli_from_bits(self, p=0.5, generator=None):
    """``self.bernoulli_(p)`` for a float ``p``: 0 with probability ``round((1 - p) * 2^16) / 2^16``,
    else 1, in ``self``'s dtype."""
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    n = self.numel()
    bits = torch.empty((n + 3) // 4, dtype=torch.int64)
    bits.random_(-(1 << 63), (1 << 63) - 1, generator=generator)
    dropped = round((1.0 - p) * LEVELS)  # of the 2^16 values of an int16, these many give 0
    if dropped == LEVELS:  # the threshold 2^15 is no int16; the bits are drawn all the same
        return self.zero_()
    keep = torch.ge(bits.view(torch.int16)[:n], dropped - (1 << 15))
    return self.copy_(keep.view(torch.uint8).view(self.shape))  # from uint8: 8x a bool's speed


@contextlib.contextmanager
def fast_masks():
    """Within: ``aten::bernoulli_.float`` on CPU tensors is :func:`bernoulli_from_bits`."""
    lib = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():  # torch warns that a kernel is overridden: that is the point
        warnings.simplefilter("ignore", UserWarning)
        lib.impl("bernoulli_.float", bernoulli_from_bits, "CPU")
    try:
        yield
    finally:
        lib._destroy()  # torch's own kernel again


def choice(environ=os.environ):
    """``MINIMODEL_DROPOUT_MASKS``'s value; a ValueError that says what to give where it is neither."""
    value = environ.get(ENV, "torch")
    if value not in CHOICES:
        raise ValueError(f"{ENV}={value!r}: give {' or '.join(CHOICES)}")
    return value


def patch_trainer() -> None:
    """fairseq's ``Trainer.train_step`` under :func:`fast_masks` where the trainer was built with
    ``MINIMODEL_DROPOUT_MASKS=fast`` (idempotent)."""
    from fairseq.trainer import Trainer

    if getattr(Trainer, "_minimodel_dropout_patched", False):
        return
    trainer_init, train_step = Trainer.__init__, Trainer.train_step

    @functools.wraps(trainer_init)
    def __init__(self, *args, **kwargs):
        fast = choice() == "fast"  # before fairseq's init: a bad value costs no model build
        trainer_init(self, *args, **kwargs)
        self.minimodel_fast_masks = fast
        if fast:
            logger.info(
                "%s=fast: dropout masks on CPU from 16 random bits per element "
                "(minimodel_fairseq/dropout.py)",
                ENV,
            )

    @functools.wraps(train_step)
    def train_step_masks(self, *args, **kwargs):
        if not getattr(self, "minimodel_fast_masks", False):
            return train_step(self, *args, **kwargs)
        with fast_masks():
            return train_step(self, *args, **kwargs)

    Trainer.__init__, Trainer.train_step = __init__, train_step_masks
    Trainer._minimodel_dropout_patched = True
    from .compat import log_patch

    log_patch(
        "fairseq.trainer.Trainer.train_step's dropout masks (and __init__, which reads the choice)",
        f"{ENV}=fast: CPU dropout masks from random bits, 4x faster than bernoulli_",
    )
