"""A step-2 run killed with SIGKILL and restarted with the same command ends where an
uninterrupted run ends.

fairseq restores the model, Adam's state, the LR schedule and the position in the
epoch from checkpoint_last.pt; masking is seeded by (seed, epoch, index) and
dropout by (seed, update), so on one CPU thread the resumed run redoes exactly
the updates it lost: the trainable tensors must be bitwise equal (atol 0). Every
checkpoint file on disk must load at every moment (fairseq writes the first
file of a save atomically, and the plugin's compat layer makes its copies to
checkpoint_last.pt atomic too).
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import run_cli, step2_cmd

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import surgery
from minimodel_fairseq.compat import load_checkpoint

pytestmark = pytest.mark.slow
UPDATES = 24


def _cmd(bible_data, body, save):
    """The run stopped and resumed here: a real fairseq-train process (the subject is the process)."""
    _, *args = step2_cmd(
        bible_data,
        body,
        save,
        updates=UPDATES,
        extra=[
            "--dropout",
            0.1,
            "--save-interval-updates",
            4,
            "--keep-interval-updates",
            1,
            "--disable-validation",
        ],
    )
    return [os.path.join(os.path.dirname(sys.executable), "fairseq-train"), *args]


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


@pytest.mark.parametrize("masks", ["torch", "fast"])  # MINIMODEL_DROPOUT_MASKS (dropout.py)
def test_sigkill_then_restart_equals_uninterrupted(bible_data, tiny_minijoint, tmp_path, masks):
    env = {**ENV, "MINIMODEL_DROPOUT_MASKS": masks}
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run_cli(
        ["fairseq-train", *_cmd(bible_data, tiny_minijoint, whole)[1:]], env=env
    )  # forked: not the subject

    proc = subprocess.Popen(
        _cmd(bible_data, tiny_minijoint, cut),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    last = cut / "checkpoint_last.pt"
    deadline = time.time() + 300
    while (
        time.time() < deadline and proc.poll() is None and not list(cut.glob("checkpoint_*_8.pt"))
    ):
        time.sleep(0.01)
    proc.send_signal(
        signal.SIGKILL
    )  # mid-run: just after the save at update 8, long before the end
    proc.wait()
    killed_at = load_checkpoint(str(last))["optimizer_history"][-1]["num_updates"]
    assert 4 <= killed_at < UPDATES, killed_at
    for path in cut.glob("*.pt"):  # nothing half-written under a checkpoint name
        load_checkpoint(str(path))

    rerun = run_cli(["fairseq-train", *_cmd(bible_data, tiny_minijoint, cut)[1:]], env=env)
    assert f"@ {killed_at} updates" in rerun.stdout + rerun.stderr  # it resumed, it did not restart
    assert ("MINIMODEL_DROPOUT_MASKS=fast: dropout masks" in rerun.stderr) == (masks == "fast")

    a, b = (load_checkpoint(str(d / "checkpoint_last.pt")) for d in (whole, cut))
    assert (
        a["optimizer_history"][-1]["num_updates"]
        == b["optimizer_history"][-1]["num_updates"]
        == UPDATES
    )
    body = surgery.to_roberta(surgery.load_roberta_checkpoint(tiny_minijoint))["model"]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
        if name not in {surgery.TOKENS, "encoder.lm_head.weight", "encoder.lm_head.bias"}:
            assert torch.equal(tensor, body[name]), name


def test_a_second_run_in_the_same_save_dir_is_refused_and_a_killed_ones_lock_is_gone(
    bible_data, tiny_minijoint, tmp_path
):
    """Two fairseq-train runs in one --save-dir: the second is refused while the first trains (before it
    writes anything); after the first is SIGKILLed the same command resumes (the kernel dropped the lock)."""
    save = tmp_path / "save"
    cmd = _cmd(bible_data, tiny_minijoint, save)
    cmd[cmd.index("--max-update") + 1] = "100000"
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        deadline = time.time() + 300
        while (
            time.time() < deadline
            and first.poll() is None
            and not list(save.glob("checkpoint_*_4.pt"))
        ):
            time.sleep(0.01)
        assert (save / ".minimodel.lock").read_text().strip() == str(first.pid)
        second = run_cli(
            ["fairseq-train", *_cmd(bible_data, tiny_minijoint, save)[1:]], env=ENV, check=False
        )
        assert second.returncode != 0
        assert (
            f"ValueError: --save-dir {save} is in use by another training run (pid {first.pid}): wait for it "
            "to end, or give this run another --save-dir"
        ) in second.stderr, second.stderr[-2000:]
        assert (
            "Loaded checkpoint" not in second.stdout + second.stderr
        )  # refused before reading anything
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    rerun = run_cli(["fairseq-train", *_cmd(bible_data, tiny_minijoint, save)[1:]], env=ENV)
    assert "Loaded checkpoint" in rerun.stdout + rerun.stderr
