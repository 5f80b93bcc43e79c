"""Model architectures registered with fairseq (one module each)."""

from . import minijoint_roberta, minipost_roberta  # noqa: F401
