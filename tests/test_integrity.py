"""Integrity (minimodel_fairseq/integrity.py): a checkpoint with bytes flipped inside a tensor, and a body
with non-finite values, are refused with one message before anything is written.

Fault injection: the checkpoint is a real one (the tiny MiniJoint fixture); 8 bytes in the middle of its
largest tensor record become 0xff (torch reads such a file without complaint: it never checks the zip
archive's CRC-32, so before this check extract-mini copied the damaged values, exit 0).
"""

import os
import shutil
import struct
import zipfile

import pytest
import torch
from conftest import run_cli, step2_cmd

pytestmark = pytest.mark.slow


def flip_bytes_in_largest_tensor(src, dst):
    """Copy src to dst with 8 bytes inside its largest stored record set to 0xff; the record's name."""
    shutil.copyfile(src, dst)
    with zipfile.ZipFile(dst) as z:
        info = max(
            (i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.compress_size
        )
    with open(dst, "r+b") as f:
        f.seek(info.header_offset)
        header = f.read(30)
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len + info.compress_size // 2)
        f.write(b"\xff" * 8)
    return info.filename


def _snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def corrupt(tiny_minijoint, tmp_path):
    record = flip_bytes_in_largest_tensor(tiny_minijoint, tmp_path / "corrupt.pt")
    return tmp_path / "corrupt.pt", record


def test_torch_itself_loads_the_flipped_file(corrupt, tiny_minijoint):
    """The fault is one torch does not see: the same keys, different values."""
    path, _ = corrupt
    good = torch.load(tiny_minijoint, weights_only=False)["model"]
    bad = torch.load(path, weights_only=False)["model"]
    assert good.keys() == bad.keys()
    assert any(not torch.equal(good[k], bad[k]) for k in good)


def test_extract_mini_refuses_a_flipped_checkpoint_and_writes_nothing(corrupt, tmp_path):
    path, record = corrupt
    before = _snapshot(tmp_path)
    proc = run_cli(
        ["minimodel", "extract-mini", str(path), "--out", str(tmp_path / "mini.pt")], check=False
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"minimodel extract-mini: error: {path} is corrupt: the bytes of {record} are not those torch.save wrote "
        "(their CRC-32 differs; a disk or copy error changed the file): restore it from a copy or "
        "write it again (MINIMODEL_VERIFY_CHECKPOINTS=0 loads it unchecked)"
    ], proc.stderr
    assert _snapshot(tmp_path) == before


def test_the_check_can_be_skipped(corrupt, tmp_path):
    """MINIMODEL_VERIFY_CHECKPOINTS=0: the file loads unchecked (what it did before the check)."""
    path, _ = corrupt
    env = {**os.environ, "MINIMODEL_VERIFY_CHECKPOINTS": "0"}
    run_cli(["minimodel", "extract-mini", str(path), "--out", str(tmp_path / "mini.pt")], env=env)
    assert (tmp_path / "mini.pt").is_file()


def test_step2_refuses_a_flipped_body(corrupt, bible_data, tmp_path):
    path, record = corrupt
    save = tmp_path / "save"
    proc = run_cli(step2_cmd(bible_data, path, save), check=False)
    assert proc.returncode != 0
    assert (
        f"{path} is corrupt: the bytes of {record} are not those torch.save wrote" in proc.stderr
    ), proc.stderr[-2000:]
    assert not list(save.glob("*.pt"))


def test_a_body_with_non_finite_values_is_refused(tiny_minijoint, bible_data, tmp_path):
    """A diverged body (a NaN in one layer, an inf in another) is refused before step 2 trains on it."""
    from minimodel_fairseq import files

    state = torch.load(tiny_minijoint, weights_only=False)
    names = [k for k, v in state["model"].items() if v.is_floating_point() and ".layers.0." in k]
    state["model"][names[0]].view(-1)[0] = float("nan")
    state["model"][names[1]].view(-1)[-1] = float("inf")
    diverged = files.save_checkpoint(state, tmp_path / "diverged.pt")
    save = tmp_path / "save"
    proc = run_cli(step2_cmd(bible_data, diverged, save), check=False)
    assert proc.returncode != 0
    assert (
        f"body checkpoint {diverged} holds NaN or infinite values in {names[0]}, {names[1]}: a diverged or "
        "damaged model cannot be trained on"
    ) in proc.stderr, proc.stderr[-2000:]
    assert not list(save.glob("*.pt"))
