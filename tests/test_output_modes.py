"""Outputs like any other tool's: what the plugin writes atomically gets the umask's mode (0644 files and
0755 folders under umask 022), not mkstemp's 0600 / mkdtemp's 0700."""

import os
import stat

import pytest

from minimodel_fairseq import hf
from minimodel_fairseq.files import atomic_write, save_checkpoint


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_atomic_files_and_folders_get_the_umask_mode(umask, tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what an ordinary write gives, the reference
    assert mode(plain) == 0o666 & ~umask

    atomic = atomic_write(tmp_path / "a.txt", lambda tmp: open(tmp, "w").write("y"))
    assert atomic.read_text() == "y" and mode(atomic) == 0o666 & ~umask
    ckpt = save_checkpoint({"model": {}}, tmp_path / "mini.pt")
    assert mode(ckpt) == 0o666 & ~umask

    def write(tmp):
        (tmp / "config.json").write_text("{}")
        return "done"

    assert hf._write_dir(tmp_path / "export", False, write) == "done"
    assert mode(tmp_path / "export") == 0o777 & ~umask
    assert mode(tmp_path / "export" / "config.json") == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.txt",
        "export",
        "mini.pt",
        "plain.txt",
    ]  # no temporaries
