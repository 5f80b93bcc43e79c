"""Step 4's measurement: accuracy of a sentence classifier on a fairseq classification data dir."""

from collections import Counter
from pathlib import Path

import torch


def evaluate_classifier(
    checkpoint, data, subset="test", batch_size=64, allow_other_model=False, by_length=True
):
    """Accuracy of ``checkpoint`` on ``data/{input0,label}/{subset}``.

    Returns a dict with ``accuracy``, ``n``, ``majority`` (the share of the
    subset that the train split's most frequent label covers: the score of a
    classifier that always predicts it) and ``predictions``: (gold, predicted)
    label names per example in the subset's order, so that two classifiers scored
    on the same data can be compared example by example (paired statistics). A swapped classifier whose embeddings
    were learned over another big model than its body's (written with
    ``swap-embeddings --allow-other-model``) is refused unless ``allow_other_model``.
    ``by_length``: batch the sentences in order of length (little padding: at base size a pass
    takes a fraction of the file-order one); the predictions come back in the subset's order.
    """
    from fairseq import checkpoint_utils
    from fairseq.dataclass.utils import overwrite_args_by_name

    from .compat import patch_checkpoint_loading
    from .files import CheckpointError
    from .surgery import (
        BIG_MODEL_KEY,
        EMBEDDINGS_BIG_MODEL_KEY,
        EMBEDDINGS_DICTIONARY_KEY,
        check_same_big_model,
        dict_file_digest,
        load_roberta_checkpoint,
        recorded_dictionary,
        short,
    )

    patch_checkpoint_loading()
    data = Path(data)
    for sub in ("input0/dict.txt", "label/dict.txt"):
        if not (data / sub).is_file():
            raise CheckpointError(
                f"{data} is not a classification data dir: {data / sub} is missing"
            )
    splits = sorted(f.name[:-4] for f in (data / "input0").glob("*.idx"))
    if subset not in splits:
        raise CheckpointError(
            f"{data} has no split {subset!r} (it has: {', '.join(splits) or 'none'}): "
            f"give --subset one of those"
        )
    state = load_roberta_checkpoint(checkpoint)  # one clear error for a bad file
    note = state.get("minimodel") or {}
    if (
        note.get("made_by") == "swap-embeddings"
    ):  # its body and its embeddings must share a big model
        check_same_big_model(
            note.get(BIG_MODEL_KEY),
            note.get(EMBEDDINGS_BIG_MODEL_KEY),
            f"the body of {checkpoint}",
            f"the embeddings of {checkpoint}",
            allow=allow_other_model,
            action="score",
        )
    swapped = note.get("made_by") == "swap-embeddings"
    learned = note.get(EMBEDDINGS_DICTIONARY_KEY) if swapped else recorded_dictionary(state)
    if (
        learned and dict_file_digest(data / "input0" / "dict.txt") != learned
    ):  # same size is the usual case
        language = (
            f" (the embeddings' language data: {note['language_data']})"
            if note.get("language_data")
            else ""
        )
        raise CheckpointError(
            f"{data} is binarized with another dictionary (digest {short(dict_file_digest(data / 'input0' / 'dict.txt'))}) "
            f"than the one the embeddings of {checkpoint} index ({short(learned)}){language}: score it on data of "
            f"the embeddings' language, binarized with their dict.txt"
        )
    overwrite_args_by_name(state["cfg"], {"data": str(data)})  # as fairseq's arg_overrides do
    try:
        models, _, task = checkpoint_utils.load_model_ensemble_and_task(
            [str(checkpoint)], state=state
        )
    except RuntimeError as e:
        raise CheckpointError(
            f"{checkpoint} does not fit {data}: {str(e).splitlines()[0][:200]} ... the data must be "
            f"binarized with the dictionary of the classifier's embeddings (swap-embeddings' language)"
        ) from None
    model = models[0].eval()
    task.load_dataset(subset)
    dataset = task.dataset(subset)
    head = task.cfg.classification_head_name

    order = list(range(len(dataset)))
    if by_length:  # stable: equal lengths keep the file's order
        order.sort(key=dataset.num_tokens)
    gold, predicted = [None] * len(order), [None] * len(order)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            ids = order[start : start + batch_size]
            batch = dataset.collater([dataset[i] for i in ids])
            logits, _ = model(
                **batch["net_input"], features_only=True, classification_head_name=head
            )
            for i, g, p in zip(ids, batch["target"].view(-1).tolist(), logits.argmax(-1).tolist()):
                gold[i], predicted[i] = g, p

    labels = task.label_dictionary
    # a test set of one's own (data/own.py target-test) has no train split: its label dict.txt is the
    # source task's, whose counts are the training labels'
    majority_label = (
        _train_majority(task)
        if (data / "label" / "train.idx").is_file()
        else _dict_majority(labels)
    )
    majority = Counter(gold).get(majority_label, 0) / max(len(gold), 1)
    name = lambda k: labels[k + labels.nspecial]  # noqa: E731  (targets index the labels after the specials)
    correct = sum(g == p for g, p in zip(gold, predicted))
    return {
        "accuracy": correct / max(len(gold), 1),
        "n": len(gold),
        "majority": majority,
        "predictions": [(name(g), name(p)) for g, p in zip(gold, predicted)],
    }


def _train_majority(task):
    """Index (in the model's label space) of the most frequent train label."""
    task.load_dataset("train")
    ds = task.dataset("train")
    return Counter(int(ds[i]["target"]) for i in range(len(ds))).most_common(1)[0][0]


def _dict_majority(labels):
    """Index (in the model's label space) of the label dictionary's most frequent label (the first of equals)."""
    return (
        max(range(labels.nspecial, len(labels)), key=lambda i: (labels.count[i], -i))
        - labels.nspecial
    )
