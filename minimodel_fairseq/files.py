"""THE way this project writes files that must never be seen half-written.

Checkpoints (``minimodel`` commands), fairseq's checkpoint copies (``compat.py``)
and benchmark results all go through :func:`atomic_write`: a temporary file
beside the target, renamed onto it. Its own module so that ``compat.py`` (imported
before fairseq loads anything) and ``surgery.py`` both use it without importing
each other.
"""
import errno
import os
import shutil
import tempfile
from pathlib import Path

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


def temporary_dir(beside, suffix) -> Path:
    """A fresh hidden folder next to ``beside`` (the same filesystem, so it renames onto it), of the usual mode."""
    beside = Path(beside)
    tmp = Path(tempfile.mkdtemp(prefix=f".{beside.name}.", suffix=suffix, dir=beside.parent))
    give_usual_mode(tmp)
    return tmp


class CheckpointError(ValueError):
    """A checkpoint (or dictionary, or output path) that cannot be used as asked; the message says what to do."""


def atomic_write(path, write) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it onto ``path``.

    The temporary file is removed if ``write`` fails, so a kill or an error leaves
    either the old file or the new one, never a mix. The file gets the mode a plain
    ``open(path, "w")`` would give it (0644 under umask 022), not mkstemp's 0600.
    """
    path = Path(path)
    if path.is_dir():  # os.replace would fail after the whole write
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file name", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
        raise OSError(errno.ENOSPC, f"disk full ({written / 1e6:.0f} MB written before the write failed)",
                      str(path)) from e


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
        return f"cannot write {where}: no space left on the device ({detail}; {free:.0f} MB free there): " \
               f"free some space or choose another --out"
    if e.errno == errno.EISDIR:
        return f"{where} is a directory: give --out a file name (a directory is never replaced)"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: {where}: choose another --out or change the folder's permissions"
    if e.errno == errno.EROFS:
        return f"read-only file system: {where}: choose another --out on a writable disk"
    return f"{e.strerror or e}: {where}"


def refuse_existing_output(path, force: bool = False, option: str = "--out") -> Path:
    """THE refusal of an output that exists (unless ``force``): a CheckpointError naming the option
    (``--out``, ``--json``) to change. Returns ``path`` as a Path. Every ``minimodel`` command that
    writes calls it before its work."""
    path = Path(path)
    if path.exists() and not force:
        raise CheckpointError(f"{path} exists: choose another {option} or pass --force to overwrite it")
    return path


def save_checkpoint(state: dict, path, force: bool = False) -> Path:
    """Write ``state`` to ``path`` atomically; an existing ``path`` is refused unless ``force``."""
    import torch

    path = refuse_existing_output(path, force)
    return atomic_write(path, lambda tmp: torch.save(state, tmp))
