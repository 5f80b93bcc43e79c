"""The plugin's tokenizers for fairseq's ``--bpe`` (registered on import, like fairseq's own encoders)."""

from . import hf_tokenizer  # noqa: F401
