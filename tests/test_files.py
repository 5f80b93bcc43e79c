"""files.py's writes under kills: SIGTERM mid-write leaves no temporary file; what a SIGKILLed writer left
is removed by the next write of the same file (or, in a --save-dir, when the next run takes its lock)."""

import logging
import signal
import subprocess
import sys
import textwrap
import time

from minimodel_fairseq import compat, files

# a child that writes OUT through atomic_write: half of it, then waits to be killed
WRITER = textwrap.dedent("""
    import sys, time
    from minimodel_fairseq import files

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(b"x" * 100_000)
            f.flush()
            print("writing", flush=True)
            time.sleep(60)

    files.atomic_write(sys.argv[1], write)
""")


def _kill_mid_write(out, sig):
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == "writing\n"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    return proc


def _temporaries(out):
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def test_sigterm_mid_write_removes_the_temporary_file_and_ends_as_sigterm_does(tmp_path):
    out = tmp_path / "model.pt"
    out.write_bytes(b"precious")
    proc = _kill_mid_write(out, signal.SIGTERM)
    assert (
        proc.returncode == -signal.SIGTERM
    )  # the default action, delivered again after the cleanup
    assert _temporaries(out) == []
    assert out.read_bytes() == b"precious"


def test_a_sigkilled_writers_leftover_is_removed_by_the_next_write(tmp_path, caplog):
    out = tmp_path / "model.pt"
    out.write_bytes(b"precious")
    proc = _kill_mid_write(out, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    [leftover] = _temporaries(out)
    assert leftover.startswith(f".model.pt.{proc.pid}.") and leftover.endswith(".tmp")
    assert out.read_bytes() == b"precious"

    with caplog.at_level(logging.WARNING, logger="minimodel_fairseq.files"):
        files.atomic_write(out, lambda tmp: open(tmp, "wb").write(b"new"))
    assert _temporaries(out) == [] and out.read_bytes() == b"new"
    assert (
        f"removed {tmp_path / leftover} (0 MB): left by a writer of model.pt that was killed (pid {proc.pid})"
        in caplog.text
    )


def test_a_live_writers_temporary_file_is_kept_and_an_old_style_one_is_named(tmp_path, caplog):
    out = tmp_path / "model.pt"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / f".model.pt.{live.pid}.abcd_123.tmp").write_bytes(b"being written")
        (tmp_path / ".model.pt.k2j4h5g6.tmp").write_bytes(
            b"an older version's"
        )  # no pid in the name
        with caplog.at_level(logging.WARNING, logger="minimodel_fairseq.files"):
            assert files.remove_leftovers(out) == []
        assert _temporaries(out) == sorted(
            [".model.pt.k2j4h5g6.tmp", f".model.pt.{live.pid}.abcd_123.tmp"]
        )
        assert (
            f"{tmp_path / '.model.pt.k2j4h5g6.tmp'}: a temporary file of an interrupted write of model.pt "
            "(older version): delete it if nothing is writing model.pt now"
        ) in caplog.text
    finally:
        live.kill()
        live.wait()


def test_a_save_dir_loses_a_killed_runs_leftovers_when_the_next_run_locks_it(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    save = tmp_path / "save"
    save.mkdir()
    (save / "checkpoint_last.pt").write_bytes(b"kept")
    for name in (
        f".checkpoint_last.pt.{dead.pid}.q1w2e3r4.tmp",
        ".checkpoint_best.pt.z9x8c7v6.tmp",
    ):
        (save / name).write_bytes(b"half a copy")
    before = time.time()
    compat.lock_save_dir(str(save))
    assert sorted(p.name for p in save.iterdir()) == [".minimodel.lock", "checkpoint_last.pt"]
    assert (save / "checkpoint_last.pt").read_bytes() == b"kept"
    assert (save / ".minimodel.lock").stat().st_mtime >= before - 1
