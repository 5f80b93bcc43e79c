"""THE compute accounting: training FLOPs of one update of a RoBERTa-family model.

Counts the matrix multiplications (2 FLOPs per multiply-add), which are all but
a few percent of a transformer's work, and honours what is frozen:

- forward: every layer the model has (a mini-model simply has fewer layers;
  the big model's layers above it cost nothing);
- backward, input gradients: a component needs them only if some trainable
  parameter sits below it (closer to the input), so gradient must flow through
  (inside a trainable layer, down to its first projections); attention's two
  activation-activation products need both input gradients;
- backward, weight gradients: only for trainable weights.

So a fully trainable model costs about 3x its forward pass, a frozen body under
trainable embeddings (step 2) about 2x, and the LM head projects only masked
positions. ``tests/test_flops.py`` checks this against
``torch.utils.flop_counter.FlopCounterMode``.
"""
from dataclasses import dataclass


@dataclass
class UpdateShape:
    sequences: int  # sequences per update
    seq_len: int  # tokens per sequence (padded length)
    masked: int  # masked positions per update (what the LM head projects)


def _trainable(module) -> bool:
    return any(p.requires_grad for p in module.parameters())


def roberta_update_flops(model, shape: UpdateShape) -> dict:
    """FLOPs of one training update (forward + backward) of a fairseq RoBERTa LM.

    Returns ``{"forward", "backward", "total"}``. ``model`` may be any
    RobertaModel (full, frozen-body, mini-model); its parameters'
    ``requires_grad`` flags say what trains.
    """
    enc = model.encoder
    se = enc.sentence_encoder
    d = se.embed_tokens.embedding_dim
    vocab = se.embed_tokens.num_embeddings
    tokens = shape.sequences * shape.seq_len
    fwd = bwd = 0

    grad_below = se.embed_tokens.weight.requires_grad or (
        se.embed_positions is not None and _trainable(se.embed_positions)
    )
    for layer in se.layers:
        f = layer.fc1.out_features
        linear = 2 * tokens * (4 * d * d + 2 * d * f)  # q, k, v, out; fc1, fc2
        attention = 2 * 2 * shape.sequences * shape.seq_len * shape.seq_len * d  # QK^T and AV
        fwd += linear + attention
        weights_train = _trainable(layer)
        if grad_below:
            bwd += linear + 2 * attention  # input gradients
        elif weights_train:  # gradient flows inside the layer, down to q, k, v; not below
            bwd += linear - 2 * tokens * 3 * d * d + 2 * attention
        if weights_train:
            bwd += linear  # weight gradients
        grad_below = grad_below or weights_train

    if se.layer_norm is not None:
        grad_below = grad_below or _trainable(se.layer_norm)
    head = enc.lm_head
    dense = 2 * shape.masked * d * d
    proj = 2 * shape.masked * d * vocab
    fwd += dense + proj
    if grad_below:
        bwd += dense
    if head.dense.weight.requires_grad:
        bwd += dense
    if grad_below or _trainable(head.dense) or _trainable(head.layer_norm):
        bwd += proj
    if head.weight.requires_grad:
        bwd += proj
    return {"forward": fwd, "backward": bwd, "total": fwd + bwd}
