"""THE way this project writes files that must never be seen half-written.

Checkpoints (``minimodel`` commands), fairseq's checkpoint copies (``compat.py``)
and benchmark results all go through :func:`atomic_write`: a temporary file
beside the target, renamed onto it. Its own module so that ``compat.py`` (imported
before fairseq loads anything) and ``surgery.py`` both use it without importing
each other.
"""
import os
import tempfile
from pathlib import Path


class CheckpointError(ValueError):
    """A checkpoint (or dictionary, or output path) that cannot be used as asked; the message says what to do."""


def atomic_write(path, write) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it onto ``path``.

    The temporary file is removed if ``write`` fails, so a kill or an error leaves
    either the old file or the new one, never a mix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_checkpoint(state: dict, path, force: bool = False) -> Path:
    """Write ``state`` to ``path`` atomically; an existing ``path`` is refused unless ``force``."""
    import torch

    path = Path(path)
    if path.exists() and not force:
        raise CheckpointError(f"{path} exists: choose another --out or pass --force to overwrite it")
    return atomic_write(path, lambda tmp: torch.save(state, tmp))
