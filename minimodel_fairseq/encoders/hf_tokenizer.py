"""``--bpe hf_tokenizer --hf-tokenizer DIR``: an imported model's own Hugging Face tokenizer in fairseq.

Checkpoints trained on text encoded by ``--hf-tokenizer`` data preparation record this bpe,
so ``RobertaModel.from_pretrained(...).encode(text)`` gives the ids the data has: the same
symbols, from the same tokenizer (``hf.ImportedTokenizer``), whatever its kind (sentencepiece,
byte-level BPE).
"""

from dataclasses import dataclass, field

from fairseq.data.encoders import register_bpe
from fairseq.dataclass import FairseqDataclass


@dataclass
class HfTokenizerConfig(FairseqDataclass):
    hf_tokenizer: str = field(
        default="???",
        metadata={"help": "minimodel import-hf's output directory (tokenizer/ and dict.txt)"},
    )


@register_bpe("hf_tokenizer", dataclass=HfTokenizerConfig)
class HfTokenizerBPE:
    def __init__(self, cfg):
        from ..hf import ImportedTokenizer

        self.tokenizer = ImportedTokenizer(cfg.hf_tokenizer)

    def encode(self, x: str) -> str:
        return self.tokenizer.encode([x])[0]

    def decode(self, x: str) -> str:
        return self.tokenizer.decode(x)

    def is_beginning_of_word(self, x: str) -> bool:
        return self.tokenizer.is_beginning_of_word(x)
