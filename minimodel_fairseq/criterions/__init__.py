"""Criterions registered with fairseq (one module each)."""

from . import minijoint_mlm  # noqa: F401
