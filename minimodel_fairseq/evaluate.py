"""Step 4's measurement: accuracy of a sentence classifier on a fairseq classification data dir."""
from collections import Counter
from pathlib import Path

import torch


def evaluate_classifier(checkpoint, data, subset="test", batch_size=64, allow_other_model=False):
    """Accuracy of ``checkpoint`` on ``data/{input0,label}/{subset}``.

    Returns a dict with ``accuracy``, ``n``, ``majority`` (the share of the
    subset that the train split's most frequent label covers: the score of a
    classifier that always predicts it) and ``predictions``: (gold, predicted)
    label names per example in the subset's order, so that two classifiers scored
    on the same data can be compared example by example (paired statistics). A swapped classifier whose embeddings
    were learned over another big model than its body's (written with
    ``swap-embeddings --allow-other-model``) is refused unless ``allow_other_model``.
    """
    from fairseq import checkpoint_utils
    from fairseq.dataclass.utils import overwrite_args_by_name

    from .compat import patch_checkpoint_loading
    from .surgery import (
        BIG_MODEL_KEY,
        EMBEDDINGS_BIG_MODEL_KEY,
        CheckpointError,
        check_same_big_model,
        load_roberta_checkpoint,
    )

    patch_checkpoint_loading()
    data = Path(data)
    for sub in ("input0/dict.txt", "label/dict.txt"):
        if not (data / sub).is_file():
            raise CheckpointError(f"{data} is not a classification data dir: {data / sub} is missing")
    state = load_roberta_checkpoint(checkpoint)  # one clear error for a bad file
    note = state.get("minimodel") or {}
    if note.get("made_by") == "swap-embeddings":  # its body and its embeddings must share a big model
        check_same_big_model(note.get(BIG_MODEL_KEY), note.get(EMBEDDINGS_BIG_MODEL_KEY),
                             f"the body of {checkpoint}", f"the embeddings of {checkpoint}",
                             allow=allow_other_model, action="score")
    overwrite_args_by_name(state["cfg"], {"data": str(data)})  # as fairseq's arg_overrides do
    try:
        models, _, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)], state=state)
    except RuntimeError as e:
        raise CheckpointError(
            f"{checkpoint} does not fit {data}: {str(e).splitlines()[0][:200]} ... the data must be "
            f"binarized with the dictionary of the classifier's embeddings (swap-embeddings' language)"
        ) from None
    model = models[0].eval()
    task.load_dataset(subset)
    dataset = task.dataset(subset)
    head = task.cfg.classification_head_name

    gold, predicted = [], []
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = dataset.collater([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
            logits, _ = model(**batch["net_input"], features_only=True, classification_head_name=head)
            gold += batch["target"].view(-1).tolist()
            predicted += logits.argmax(-1).tolist()

    majority_label = _train_majority(task)
    majority = Counter(gold).get(majority_label, 0) / max(len(gold), 1)
    labels = task.label_dictionary
    name = lambda k: labels[k + labels.nspecial]  # noqa: E731  (targets index the labels after the specials)
    correct = sum(g == p for g, p in zip(gold, predicted))
    return {"accuracy": correct / max(len(gold), 1), "n": len(gold), "majority": majority,
            "predictions": [(name(g), name(p)) for g, p in zip(gold, predicted)]}


def _train_majority(task):
    """Index (in the model's label space) of the most frequent train label."""
    task.load_dataset("train")
    ds = task.dataset("train")
    return Counter(int(ds[i]["target"]) for i in range(len(ds))).most_common(1)[0][0]
