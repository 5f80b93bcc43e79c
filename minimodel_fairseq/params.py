"""THE parameter names: fairseq RoBERTa's state-dict keys and the sets each step trains.

Checkpoint surgery (``surgery.py``), the freezing patterns of the tasks
(``freezing.set_trainable``) and MiniPost's layer copying all name tensors
through this module, so a renamed tensor is fixed in one place. Freezing
patterns are shell-style globs on ``model.named_parameters()`` names; tied
tensors appear there once, under their first name (RoBERTa's
``encoder.lm_head.weight`` is ``encoder.sentence_encoder.embed_tokens.weight``).
"""

import re

ENCODER = "encoder."
TOKENS = "encoder.sentence_encoder.embed_tokens.weight"  # tied to LM_HEAD_WEIGHT
LM_HEAD = "encoder.lm_head."
LM_HEAD_WEIGHT = LM_HEAD + "weight"  # the output projection: the token embeddings, tied
LM_HEAD_BIAS = LM_HEAD + "bias"
FINAL_LN = "encoder.sentence_encoder.layer_norm."  # pre-norm encoders only
MINI_HEAD = "encoder.mini_lm_head."  # MiniJoint's secondary head (layer K)
MINI_LN = "encoder.mini_layer_norm."  # its LayerNorm (pre-norm encoders only)
CLASSIFICATION_HEADS = "classification_heads."
LAYER_RE = re.compile(r"^encoder\.sentence_encoder\.layers\.(\d+)\.")


def layer(i: int) -> str:
    """The name prefix of transformer layer ``i`` (0-based)."""
    return f"encoder.sentence_encoder.layers.{i}."


# Step 2: a new token-embedding matrix (with the LM head's tied projection) and a
# fresh LM-head bias; they are not loaded from the body, and they are all that trains.
NEW_LANGUAGE = (TOKENS, LM_HEAD_WEIGHT, LM_HEAD_BIAS)
NEW_LANGUAGE_TRAINABLE = [TOKENS, LM_HEAD_BIAS]  # LM_HEAD_WEIGHT is TOKENS (tied)

# Step 3: the token embeddings (and the tied projection) stay frozen.
FINETUNE_FROZEN = [TOKENS]


def minipost_trainable(mini_layers: int, total_layers: int, final_layer_norm: bool = True):
    """What MiniPost trains: layers K+1..K+M, the LM head and (pre-norm) the final LayerNorm."""
    new = [layer(i) + "*" for i in range(mini_layers, total_layers)]
    return new + [LM_HEAD + "*"] + ([FINAL_LN + "*"] if final_layer_norm else [])
