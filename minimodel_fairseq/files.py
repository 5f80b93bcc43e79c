"""THE way this project writes files that must never be seen half-written.

Checkpoints (``minimodel`` commands), fairseq's checkpoint copies (``compat.py``)
and benchmark results all go through :func:`atomic_write`: a temporary file
beside the target, renamed onto it. Its own module so that ``compat.py`` (imported
before fairseq loads anything) and ``surgery.py`` both use it without importing
each other.
"""

import contextlib
import errno
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

# what torch's zip writer and safetensors say when the disk fills (neither raises an OSError)
_DISK_FULL_TEXTS = ("unexpected pos", "file write failed", "No space left on device")


def _umask() -> int:
    mask = os.umask(0)  # reading it means setting it: put it straight back
    os.umask(mask)
    return mask


def give_usual_mode(path) -> None:
    """Give a file from mkstemp (0600) or a folder from mkdtemp (0700) the mode an ordinary write
    would have (0666 / 0777 less the umask: 0644 / 0755 under umask 022), so others can read it."""
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~_umask())


def temporary_prefix(beside: Path) -> str:
    # the writer's pid in the name: a later run can tell a killed writer's leftover from a live one's
    return f".{beside.name}.{os.getpid()}."


def temporary_dir(beside, suffix) -> Path:
    """A fresh hidden folder next to ``beside`` (the same filesystem, so it renames onto it), of the usual mode."""
    beside = Path(beside)
    remove_leftovers(beside)
    tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(beside), suffix=suffix, dir=beside.parent))
    give_usual_mode(tmp)
    return tmp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_leftovers(beside) -> list[Path]:
    """Remove the temporary files and folders a killed writer of ``beside`` left next to it (a SIGKILL
    runs no cleanup); a leftover of an older version, whose name holds no pid, is named in a warning and
    kept (its writer may be alive). Returns what was removed."""
    beside = Path(beside)
    return _remove_leftovers(beside.parent, re.escape(beside.name))


def remove_leftovers_in(folder) -> list[Path]:
    """Every temporary file and folder in ``folder`` that is not this process's: for a folder this
    process holds the lock of (fairseq-train's --save-dir at start), so no other writer is alive."""
    return _remove_leftovers(Path(folder), r".+?", locked=True)


def _remove_leftovers(folder: Path, name: str, locked: bool = False) -> list[Path]:
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"^\.({name})\.(?:(\d+)\.)?[a-z0-9_]{{8}}\.(?:tmp|old)$")
    removed = []
    for leftover in sorted(folder.iterdir()):
        m = pattern.match(leftover.name)
        if not m:
            continue
        target, pid = m.group(1), m.group(2)
        if pid is None and not locked:
            logger.warning(
                "%s: a temporary file of an interrupted write of %s (older version): delete it "
                "if nothing is writing %s now",
                leftover,
                target,
                target,
            )
            continue
        if pid is not None and (int(pid) == os.getpid() or (not locked and _alive(int(pid)))):
            continue
        size = leftover.stat().st_size if leftover.is_file() else 0
        (shutil.rmtree if leftover.is_dir() else os.unlink)(leftover)
        logger.warning(
            "removed %s (%d MB): left by a writer of %s that was killed (pid %s)",
            leftover,
            size // 10**6,
            target,
            pid or "unknown",
        )
        removed.append(leftover)
    return removed


class _Terminated(BaseException):
    """SIGTERM arrived during a write (see :func:`terminate_cleanly`)."""


@contextlib.contextmanager
def terminate_cleanly():
    """During the block, SIGTERM raises an exception (so the block's cleanup runs: a temporary file is
    removed), then is delivered again with the default action (the process ends as SIGTERM ends it).
    Only where SIGTERM has its default action and in the main thread: a program's own handler is kept."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    got = []

    def handler(signum, frame):
        got.append(signum)
        raise _Terminated()

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if got:
            signal.raise_signal(signal.SIGTERM)


class CheckpointError(ValueError):
    """A checkpoint (or dictionary, or output path) that cannot be used as asked; the message says what to do."""


def atomic_write(path, write) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it onto ``path``.

    The temporary file is removed if ``write`` fails or SIGTERM arrives, so a kill or an error
    leaves either the old file or the new one, never a mix; what a SIGKILLed writer left is
    removed by the next write of ``path`` (:func:`remove_leftovers`). The file gets the mode a plain
    ``open(path, "w")`` would give it (0644 under umask 022), not mkstemp's 0600.
    """
    path = Path(path)
    if path.is_dir():  # os.replace would fail after the whole write
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file name", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    with terminate_cleanly():
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            write(tmp)
            give_usual_mode(tmp)
            os.replace(tmp, path)
        except BaseException as e:
            written = os.path.getsize(tmp) if os.path.exists(tmp) else 0
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise_disk_full(e, path, written)
            raise
    return path


def raise_disk_full(e: BaseException, path, written: int) -> None:
    """Raise ``e`` as OSError(ENOSPC) when it is a writer's disk-full failure in another guise
    (torch's zip writer, safetensors); return otherwise."""
    if not isinstance(e, OSError) and any(text in str(e) for text in _DISK_FULL_TEXTS):
        raise OSError(
            errno.ENOSPC,
            f"disk full ({written / 1e6:.0f} MB written before the write failed)",
            str(path),
        ) from e


def os_error_message(e: OSError) -> str:
    """One line for an OSError of the user's making (permission, read-only, disk full, a directory
    where a file goes): what failed, where, and what to do."""
    where = e.filename or "?"
    if e.errno == errno.ENOSPC:
        folder = Path(where).parent if where != "?" else Path(".")
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        free = shutil.disk_usage(folder).free / 1e6
        detail = e.strerror if e.strerror and "disk full" in e.strerror else "disk full"
        return (
            f"cannot write {where}: no space left on the device ({detail}; {free:.0f} MB free there): "
            f"free some space or choose another --out"
        )
    if e.errno == errno.EISDIR:
        return f"{where} is a directory: give --out a file name (a directory is never replaced)"
    if e.errno in (errno.EACCES, errno.EPERM):
        return (
            f"permission denied: {where}: choose another --out or change the folder's permissions"
        )
    if e.errno == errno.EROFS:
        return f"read-only file system: {where}: choose another --out on a writable disk"
    return f"{e.strerror or e}: {where}"


def refuse_existing_output(path, force: bool = False, option: str = "--out") -> Path:
    """THE refusal of an output that exists (unless ``force``): a CheckpointError naming the option
    (``--out``, ``--json``) to change. Returns ``path`` as a Path. Every ``minimodel`` command that
    writes calls it before its work."""
    path = Path(path)
    if path.exists() and not force:
        raise CheckpointError(
            f"{path} exists: choose another {option} or pass --force to overwrite it"
        )
    return path


def save_checkpoint(state: dict, path, force: bool = False) -> Path:
    """Write ``state`` to ``path`` atomically; an existing ``path`` is refused unless ``force``."""
    import torch

    path = refuse_existing_output(path, force)
    return atomic_write(path, lambda tmp: torch.save(state, tmp))
