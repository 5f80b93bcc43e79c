"""THE freezing hook: the one place that decides which parameters train.

Every task of the plugin calls :func:`set_trainable` from its ``build_model``,
which fairseq runs before the trainer builds the optimizer; fairseq's trainer
only hands ``requires_grad`` parameters to the optimizer, so a frozen tensor is
never updated (not even by weight decay) and stays bitwise equal to what was
loaded.

Patterns are shell-style globs on ``model.named_parameters()`` names, e.g.
``encoder.sentence_encoder.embed_tokens.weight`` or
``encoder.sentence_encoder.layers.[23].*``. Tied tensors appear once, under
their first name: RoBERTa's ``encoder.lm_head.weight`` is listed as
``encoder.sentence_encoder.embed_tokens.weight``. The names and the sets each
step trains are defined in :mod:`minimodel_fairseq.params`.
"""

import fnmatch
import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)


def set_trainable(
    model,
    trainable: Iterable[str] | None = None,
    frozen: Iterable[str] | None = None,
    what: str = "model",
):
    """Set ``requires_grad`` from name patterns; log and return (trainable, total) counts.

    Give exactly one of ``trainable`` (those train, everything else is frozen)
    or ``frozen`` (those are frozen, everything else trains). A pattern that
    matches no parameter is an error: it is almost always a typo or a model of
    another shape, and training on silently would waste the run.
    """
    if (trainable is None) == (frozen is None):
        raise ValueError("set_trainable: give exactly one of trainable= or frozen=")
    patterns = list(trainable if trainable is not None else frozen)
    named = list(model.named_parameters())
    names = [n for n, _ in named]
    unmatched = [p for p in patterns if not fnmatch.filter(names, p)]
    if unmatched:
        raise ValueError(
            f"freezing {what}: pattern(s) {unmatched} match no parameter. "
            f"Parameter names look like: {names[:3]} ... {names[-2:]}"
        )
    n_train = n_total = 0
    for name, p in named:
        hit = any(fnmatch.fnmatchcase(name, pat) for pat in patterns)
        p.requires_grad_(hit if trainable is not None else not hit)
        n_total += p.numel()
        n_train += p.numel() if p.requires_grad else 0
    train_names = [n for n, p in named if p.requires_grad]
    frozen_names = [n for n, p in named if not p.requires_grad]
    shown = (
        ("trainable", train_names)
        if len(train_names) <= len(frozen_names)
        else ("frozen", frozen_names)
    )
    logger.info(
        "freezing %s: %d of %d parameters trainable (%.2f%%); %s: %s",
        what,
        n_train,
        n_total,
        100.0 * n_train / max(n_total, 1),
        shown[0],
        ", ".join(shown[1]) or "none",
    )
    return n_train, n_total
