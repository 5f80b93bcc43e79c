"""Two CPU processes under torchrun (gloo, fairseq's default DDP backend) train like one.

Each task of the plugin that trains under a frozen set runs twice over the same
updates: one process with batches of 16, and two processes with batches of 8
each. fairseq sums the per-rank losses and divides by the all-reduced sample
size, so both runs take the same gradient of the same 16 sequences per update:
the logged losses must agree up to float summation order (the logs round to
3 decimals; tolerance 2e-3). On every rank, each frozen tensor must stay bitwise
equal to its starting value, and the trainable tensors must be identical
across ranks (DDP replicas take identical steps).

Skipped where processes or local sockets are not available (``-m "not distributed"``).
"""

import json
import os
import socket
import subprocess
import sys
from fnmatch import fnmatch

import pytest
import torch
from conftest import ROOT, TINY_TRAIN

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import surgery
from minimodel_fairseq.tasks.minipost_mlm import minipost_trainable

pytestmark = [pytest.mark.slow, pytest.mark.distributed]
USER_DIR = str(ROOT / "minimodel_fairseq")
HELPER = str(ROOT / "tests" / "helpers" / "train_and_dump.py")
UPDATES = 4


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _can_spawn():
    try:
        _free_port()
    except OSError:
        return False
    return True


def _train(args, dump, procs, batch):
    """fairseq-train ARGS in `procs` processes; returns (per-update losses, rank dumps)."""
    dump.mkdir(parents=True)
    flags = [
        *args,
        *TINY_TRAIN,
        "--batch-size",
        str(batch),
        "--dropout",
        "0",
        "--attention-dropout",
        "0",
        "--curriculum",
        "1000",  # batches in a fixed order, so 2 x 8 covers the same 16 sequences
        "--max-update",
        str(UPDATES),
        "--disable-validation",
        "--log-format",
        "json",
        "--log-interval",
        "1",
        "--save-dir",
        str(dump / "ckpt"),
    ]
    if procs == 1:
        cmd = [sys.executable, HELPER, *flags]
    else:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(procs),
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            HELPER,
            *flags,
        ]
    env = {**os.environ, "DUMP_DIR": str(dump), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    losses = [
        float(json.loads(line[line.index("{") :])["loss"])
        for line in out.splitlines()
        if '"num_updates"' in line and "train_inner" in line
    ]
    dumps = [torch.load(dump / f"rank{r}.pt") for r in range(procs)]
    return losses, dumps, out


CASES = {
    "minijoint_mlm": lambda ckpt, data: (
        [
            str(data / "en" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "minijoint_mlm",
            "--criterion",
            "minijoint_mlm",
            "--arch",
            "minijoint_roberta_small",
            "--encoder-layers",
            "4",
            "--encoder-embed-dim",
            "64",
            "--encoder-ffn-embed-dim",
            "128",
            "--encoder-attention-heads",
            "2",
            "--tokens-per-sample",
            "64",
            "--mini-layer",
            "2",
        ],
        None,
    ),
    "new_language_mlm": lambda ckpt, data: (
        [
            str(data / "de" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "new_language_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "roberta",
            "--body-checkpoint",
            str(ckpt),
            "--tokens-per-sample",
            "64",
        ],
        lambda name: name not in {surgery.TOKENS, "encoder.lm_head.weight", "encoder.lm_head.bias"},
    ),
    "minipost_mlm": lambda ckpt, data: (
        [
            str(data / "en" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "minipost_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "minipost_roberta",
            "--source-checkpoint",
            str(ckpt),
            "--mini-layers",
            "2",
            "--mini-new-layers",
            "1",
            "--tokens-per-sample",
            "64",
        ],
        lambda name: name == "encoder.lm_head.weight"  # tied to the frozen token embeddings
        or not any(fnmatch(name, p) for p in minipost_trainable(2, 3)),
    ),
}


@pytest.mark.skipif(not _can_spawn(), reason="cannot open local sockets for a process group")
@pytest.mark.parametrize("task", list(CASES))
def test_two_cpu_processes_match_one(task, tiny_minijoint, bible_data, tmp_path):
    args, is_frozen = CASES[task](tiny_minijoint, bible_data)
    one, (alone,), _ = _train(args, tmp_path / "one", procs=1, batch=16)
    two, ranks, log = _train(args, tmp_path / "two", procs=2, batch=8)
    assert "training on 2 devices" in log, log[-3000:]  # not two processes each training alone
    assert len(one) == len(two) == UPDATES, (one, two)
    assert max(abs(a - b) for a, b in zip(one, two)) <= 2e-3, (one, two)
    assert all(d["num_updates"] == UPDATES for d in (alone, *ranks))
    # the replicas hold the same weights, equal to the one-process run's up to summation order
    for name, tensor in ranks[0]["model"].items():
        assert torch.equal(tensor, ranks[1]["model"][name]), name
        assert torch.allclose(tensor, alone["model"][name], atol=1e-4), name
    if is_frozen is not None:
        start = surgery.to_roberta(surgery.load_roberta_checkpoint(tiny_minijoint))["model"]
        frozen = [n for n in ranks[0]["model"] if is_frozen(n)]
        assert frozen
        for rank in ranks:
            for name in frozen:
                assert torch.equal(rank["model"][name], start[name]), name
