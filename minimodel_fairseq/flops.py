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

FLOPS_KEY = "minimodel_flops_total"  # the running count in a task's checkpoint state


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
    grad_below_layer = [grad_below]  # [k]: does gradient flow out of layer k's output downwards?
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
        grad_below_layer.append(grad_below)

    mini_grad_below = (
        grad_below_layer[getattr(enc, "mini_layer", 0)] if hasattr(enc, "mini_lm_head") else None
    )
    if se.layer_norm is not None:
        grad_below = grad_below or _trainable(se.layer_norm)
    heads = [(enc.lm_head, grad_below)]
    if mini_grad_below is not None:  # MiniJoint: the secondary head on layer K's output
        norm = enc.mini_layer_norm
        heads.append((enc.mini_lm_head, mini_grad_below or (norm is not None and _trainable(norm))))
    for head, below in heads:
        dense = 2 * shape.masked * d * d
        proj = 2 * shape.masked * d * vocab
        fwd += dense + proj
        if below:
            bwd += dense
        if head.dense.weight.requires_grad:
            bwd += dense
        if below or _trainable(head.dense) or _trainable(head.layer_norm):
            bwd += proj
        if head.weight.requires_grad:
            bwd += proj
    return {"forward": fwd, "backward": bwd, "total": fwd + bwd}


def update_shape(sample, pad) -> UpdateShape:
    """The shape of one fairseq batch: sequences, padded length, masked positions.

    Masked-LM targets are pad except at masked positions; a sentence-prediction
    batch (labels, one per sequence) projects nothing through an LM head.
    """
    src = sample["net_input"]["src_tokens"]
    target = sample.get("target")
    # masked LM: targets as long as the tokens; sentence prediction: labels of shape (B,) or (B, 1)
    masked = int(target.ne(pad).sum()) if target is not None and target.shape == src.shape else 0
    return UpdateShape(src.size(0), src.size(1), masked)


class LogsTrainingFlops:
    """Task mixin: the training log shows each run's cumulative FLOPs next to its wall time.

    Every training batch is counted from its real shape with ``roberta_update_flops``
    (what is frozen costs less); across data-parallel workers the counts add up.
    fairseq prints ``tflops`` (cumulative, 10^12) in every train line, beside ``wall``;
    the total is saved in checkpoints, so a resumed run keeps counting from there.
    """

    _flops_total = 0

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        loss, sample_size, logging_output = super().train_step(
            sample, model, criterion, optimizer, update_num, ignore_grad
        )
        if not ignore_grad:  # fairseq's dummy batches (ignore_grad) are not real work
            shape = update_shape(sample, self.source_dictionary.pad())
            logging_output["flops"] = roberta_update_flops(model, shape)["total"]
        return loss, sample_size, logging_output

    def reduce_metrics(self, logging_outputs, criterion):
        from fairseq.logging import metrics

        super().reduce_metrics(logging_outputs, criterion)
        flops = sum(log.get("flops", 0) for log in logging_outputs)
        if flops:
            self._flops_total += flops
            # weight 0: the meter shows the latest value (the running total), not an average
            metrics.log_scalar("tflops", self._flops_total / 1e12, weight=0, priority=900)

    # fairseq saves get_checkpoint_dict() into the checkpoint's extra state and hands
    # extra_state[<task class name>] back to set_checkpoint_dict() on resume
    # (cooperative: other task mixins, e.g. tasks.provenance, add their entries beside ours)
    def get_checkpoint_dict(self):
        parent = getattr(super(), "get_checkpoint_dict", None)
        state = parent() if parent else {}
        state.setdefault(type(self).__name__, {})[FLOPS_KEY] = self._flops_total
        return state

    def set_checkpoint_dict(self, state):
        parent = getattr(super(), "set_checkpoint_dict", None)
        if parent:
            parent(state)
        self._flops_total = state.get(FLOPS_KEY, 0)


def checkpoint_cost(state, task: str):
    """(FLOPs, training seconds) a checkpoint of ``task`` (its class name) records so far."""
    extra = state.get("extra_state") or {}
    return (extra.get(task) or {}).get(FLOPS_KEY, 0), extra.get("previous_training_time", 0.0)
