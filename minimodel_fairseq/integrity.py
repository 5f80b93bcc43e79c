"""THE checkpoint integrity checks: a changed byte, or a non-finite body value, is refused before use.

``torch.save`` writes a zip archive in which every record (each tensor storage, the pickle) carries
a CRC-32 of its bytes, but ``torch.load`` never checks it: a checkpoint with bytes flipped inside a
tensor loads, and the wrong values travel on (issue 25: 1.9e37 copied by extract-mini, exit 0).
:func:`verify_checkpoint` recomputes every record's CRC-32 from the file before it is loaded (every
fairseq and plugin load goes through it: ``compat`` wraps the ``torch.load`` of fairseq's
checkpoint_utils). It reads the file once more, at about 1.2 GB/s on this machine, some 70 % of a
load's own time: ``MINIMODEL_VERIFY_CHECKPOINTS=0`` skips it for very large files.

:func:`check_finite` refuses a body whose float tensors hold NaN or infinity (a diverged run's
checkpoint, or a corrupted file read unchecked): training on it cannot give a usable model.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import zipfile
import zlib
from pathlib import Path

from .files import CheckpointError

logger = logging.getLogger(__name__)

VERIFY_ENV = "MINIMODEL_VERIFY_CHECKPOINTS"
_LOCAL_HEADER = struct.Struct(
    "<4sHHHHHIIIHH"
)  # a zip local file header: name and extra lengths last
_LOCAL_MAGIC = b"PK\x03\x04"


class CorruptCheckpointError(CheckpointError):
    """A checkpoint whose bytes are not those torch.save wrote."""


def verification_on() -> bool:
    return os.environ.get(VERIFY_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _path_of(f) -> Path | None:
    if isinstance(f, (str, os.PathLike)):
        return Path(f)
    name = getattr(f, "name", None)  # an open file (fairseq's load_checkpoint_to_cpu passes one)
    return Path(name) if isinstance(name, str) and os.path.isfile(name) else None


def bad_records(path) -> list[str]:
    """The records of the zip archive at ``path`` whose bytes do not give their recorded CRC-32 (a
    record whose header or extent is damaged counts as bad); [] for a sound file. Not a zip archive
    (torch's legacy format, a truncated file): [] too, and torch.load says what is wrong."""
    path = Path(path)
    with open(path, "rb") as f:
        if not zipfile.is_zipfile(f):
            return []
        try:
            archive = zipfile.ZipFile(f)
            infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return []
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return []
        bad = []
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            view = memoryview(m)
            try:
                for info in infos:
                    if (
                        info.compress_type != zipfile.ZIP_STORED
                    ):  # torch stores, never compresses: zipfile checks
                        try:
                            with archive.open(info) as r:
                                while r.read(1 << 24):
                                    pass
                        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
                            bad.append(info.filename)
                        continue
                    o = info.header_offset
                    if o + _LOCAL_HEADER.size > size:
                        bad.append(info.filename)
                        continue
                    header = _LOCAL_HEADER.unpack_from(m, o)
                    start = o + _LOCAL_HEADER.size + header[9] + header[10]
                    if (
                        header[0] != _LOCAL_MAGIC
                        or start + info.compress_size > size
                        or zlib.crc32(view[start : start + info.compress_size]) != info.CRC
                    ):
                        bad.append(info.filename)
            finally:
                view.release()
        return bad


def verify_checkpoint(f) -> None:
    """Refuse (CorruptCheckpointError) a checkpoint file whose bytes changed since torch.save wrote them;
    a no-op for what is not a local file, and with MINIMODEL_VERIFY_CHECKPOINTS=0."""
    path = _path_of(f)
    if path is None or not verification_on():
        return
    bad = bad_records(path)
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise CorruptCheckpointError(
            f"{path} is corrupt: the bytes of {shown} are not those torch.save wrote (their CRC-32 differs; "
            f"a disk or copy error changed the file): restore it from a copy or write it again "
            f"({VERIFY_ENV}=0 loads it unchecked)"
        )


def check_finite(state_dict, what) -> None:
    """Refuse (CheckpointError) a state dict with NaN or infinite values in a floating-point tensor."""
    import torch

    bad = [
        k
        for k, v in state_dict.items()
        if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise CheckpointError(
            f"{what} holds NaN or infinite values in {shown}: a diverged or damaged model cannot be trained "
            f"on; give the checkpoint of a run that did not diverge (an earlier checkpoint_*.pt)"
        )
