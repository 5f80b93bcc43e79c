"""Step 2 on a leading share of the target's text (--train-fraction): which blocks, and the refusals."""

import pytest
import torch
from conftest import step2_cmd

from minimodel_recipes import bench


def train_split(bible_data, tmp_path, *extra):
    """The step-2 task's train split, loaded as fairseq-train loads it (no model is built)."""
    from fairseq import tasks

    cfg = bench.training_config(step2_cmd(bible_data, "unused.pt", tmp_path, extra=extra)[1:])
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    return task.dataset("train")


def test_a_fraction_keeps_the_leading_blocks_masked_alike(bible_data, tmp_path):
    whole = train_split(bible_data, tmp_path)
    tenth = train_split(bible_data, tmp_path, "--train-fraction", "0.1")
    assert len(tenth) == int(0.1 * len(whole)) > 0
    assert [tenth.num_tokens(i) for i in range(len(tenth))] == [
        whole.num_tokens(i) for i in range(len(tenth))
    ]
    for i in (0, len(tenth) - 1):  # the same text, and the same masks (keyed by seed and index)
        a, b = whole[i], tenth[i]
        assert torch.equal(a["net_input.src_tokens"], b["net_input.src_tokens"])
        assert torch.equal(a["target"], b["target"])
    assert set(tenth.ordered_indices()) == set(range(len(tenth)))
    # the valid split is whole: only training text is cut
    from fairseq import tasks

    cfg = bench.training_config(
        step2_cmd(bible_data, "unused.pt", tmp_path, extra=("--train-fraction", "0.1"))[1:]
    )
    task = tasks.setup_task(cfg.task)
    task.load_dataset("valid")
    other = tasks.setup_task(
        bench.training_config(step2_cmd(bible_data, "unused.pt", tmp_path)[1:]).task
    )
    other.load_dataset("valid")
    assert len(task.dataset("valid")) == len(other.dataset("valid"))


@pytest.mark.parametrize(
    "fraction, message",
    [
        ("0", "--train-fraction must be above 0 and at most 1, got 0.0"),
        ("1.5", "--train-fraction must be above 0 and at most 1, got 1.5"),
        ("1e-9", r"--train-fraction 1e-09 of train's \d+ blocks is none: raise it"),
    ],
)
def test_a_fraction_outside_the_text_is_refused(bible_data, tmp_path, fraction, message):
    with pytest.raises(ValueError, match=message):
        train_split(bible_data, tmp_path, "--train-fraction", fraction)
