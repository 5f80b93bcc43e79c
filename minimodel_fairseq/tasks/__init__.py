"""Tasks registered with fairseq, one per step of the method (one module each).

- ``minijoint_mlm``: step 1, MiniJoint pretraining (dual-head masked LM).
- ``forgetting_mlm``: step 1 for a plain RoBERTa with active forgetting (``masked_lm`` plus
  ``--forget-embeddings-every``, as ``minijoint_mlm`` has it: ``minimodel_fairseq/forgetting.py``).
- ``minipost_mlm``: step 1b, MiniPost aligned training of a truncated model.
- ``new_language_mlm``: step 2, new-language embeddings over a frozen body.
- ``sentence_prediction_frozen_embeddings``: step 3, fine-tuning with frozen embeddings.
(Step 4, the swap, is checkpoint surgery: ``minimodel swap-embeddings``.)

Shared by them: ``data_checks`` (a clear error for a bad data directory),
``default_arch`` (``--arch`` optional where a checkpoint gives it, a message where it
is missing) and ``provenance`` (checkpoints record the big model they belong to).
"""

from . import (  # noqa: F401
    forgetting_mlm,
    minijoint_mlm,
    minipost_mlm,
    new_language_mlm,
    sentence_prediction_frozen_embeddings,
)
