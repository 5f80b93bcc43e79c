"""examples/hf/run.sh on models of the real shapes, with a tiny hidden size.

xlm-roberta-base's shape (514 positions, 250,002 rows, a 250,000-piece sentencepiece tokenizer) and
roberta-base's (514 positions, 50,265 rows, a byte-level BPE tokenizer), 3 layers x 16 wide, random
weights: the recipe runs end to end (import, step 3, step 1b, step 2 by both methods, swap, score,
export of the classifiers and of the adapted masked LMs); every model keeps its 514 positions
whatever TOKENS is; every checkpoint the recipe writes loads through fairseq's hub with the
tokenizer it records and encodes text to the ids the data holds; the exports are of the imported
family.
"""

import json
import os
import shutil
import subprocess

import pytest
from conftest import ROOT, random_hf_masked_lm

pytestmark = [pytest.mark.slow, pytest.mark.recipe]
POSITIONS = 514
TINY = {
    "TOKENS": "128",
    "MINIPOST_K": "1",
    "MINIPOST_M": "1",
    "MINIPOST_UPDATES": "2",
    "ADAPT_UPDATES": "3",
    "FT_UPDATES": "3",
    "PRETRAIN_BSZ": "4",
    "ADAPT_BSZ": "4",
    "FT_BSZ": "4",
    "THREADS": "1",
    "VOCAB": "500",
}
SIZES = dict(
    hidden_size=16,
    num_hidden_layers=3,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=POSITIONS,
    type_vocab_size=1,
    layer_norm_eps=1e-5,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)


def _spm_tokenizer(bible_data, out):
    """An XLM-R tokenizer of 250,000 pieces: the English fixture's 500, then pieces no text contains."""
    from sentencepiece import sentencepiece_model_pb2
    from transformers import XLMRobertaTokenizer

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString((bible_data / "en" / "spm.model").read_bytes())
    floor = min(p.score for p in proto.pieces if p.type == 1)
    for i in range(250_000 - len(proto.pieces)):  # private-use characters: never in the text
        piece = proto.pieces.add()
        piece.piece = "\u2581" + "".join(chr(0xE000 + ((i >> (8 * k)) & 0xFF)) for k in range(3))
        piece.score, piece.type = floor - 1 - i * 1e-6, 1
    src = out.parent / "spm_src"
    src.mkdir()
    (src / "sentencepiece.bpe.model").write_bytes(proto.SerializeToString())
    return XLMRobertaTokenizer.from_pretrained(str(src))


def _bpe_tokenizer(bible_data, out):
    """A roberta-base-like byte-level BPE of 50,265 ids: trained on the English fixture, padded with tokens
    no merge reaches."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train(
        [str(bible_data / "en" / "raw" / "train.txt")],
        vocab_size=600,
        min_frequency=2,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        show_progress=False,
    )
    src = out.parent / "bpe_src"
    src.mkdir()
    bpe.save_model(str(src))
    vocab = json.loads((src / "vocab.json").read_text(encoding="utf-8"))
    for i in range(len(vocab), 50_264):  # <mask> comes last: RobertaTokenizer adds it
        vocab["\u0120" + "".join(chr(0xE000 + ((i >> (8 * k)) & 0xFF)) for k in range(3))] = i
    (src / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return RobertaTokenizer.from_pretrained(str(src))


MODELS = {
    "xlmr": ("XLMRobertaForMaskedLM", _spm_tokenizer, 250_002),
    "roberta": ("RobertaForMaskedLM", _bpe_tokenizer, 50_265),
}


def _hf_dir(kind, bible_data, root):
    cls_name, make_tokenizer, rows = MODELS[kind]
    out = root / kind
    tok = make_tokenizer(bible_data, out)
    assert len(tok) == rows and tok.mask_token_id == rows - 1
    model = random_hf_masked_lm(cls_name, dict(vocab_size=rows, **SIZES))
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


def _ids(data_dir, split="test"):
    from fairseq.data import data_utils

    ds = data_utils.load_indexed_dataset(str(data_dir / split), None)
    return [ds[i].tolist() for i in range(len(ds))]


@pytest.mark.parametrize("kind", list(MODELS))
def test_hf_recipe_at_real_shapes(kind, bible_data, tmp_path):
    from fairseq.models.roberta import RobertaModel
    from transformers import AutoConfig

    import minimodel_fairseq  # noqa: F401  (registers --bpe hf_tokenizer; fairseq loads under torch 2.13)
    from minimodel_fairseq import surgery

    hf_dir = _hf_dir(kind, bible_data, tmp_path)
    runs, data = tmp_path / "runs", tmp_path / "data"
    env = {
        **os.environ,
        **TINY,
        "HF_RUNS": str(runs),
        "HF_DATA": str(data),
        "TARGET_DATA": str(bible_data),
        "PYTHONWARNINGS": "ignore",
        "PREPARE_FLAGS": f"--db {bible_data.parent / 'fixture.db'} --translations en=4",
    }
    proc = subprocess.run(
        ["bash", "examples/hf/run.sh", str(hf_dir), "de", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "de zero-shot, MiniPost" in proc.stdout

    run, d = runs / kind, data / kind
    en_ids = _ids(d / "en" / "cls" / "input0")
    en_text = (d / "en" / "raw" / "cls.test.input0").read_text(encoding="utf-8").splitlines()
    de_ids = _ids(bible_data / "de" / "cls" / "input0")
    de_text = (
        (bible_data / "de" / "raw" / "cls.test.input0").read_text(encoding="utf-8").splitlines()
    )
    checkpoints = {  # every checkpoint the recipe writes: (file, data dir, text, ids)
        "step 3": (
            run / "finetune" / "roberta" / "seed1" / "checkpoint_best.pt",
            d / "en" / "cls",
            en_text,
            en_ids,
        ),
        "step 1b": (
            run / "pretrain" / "minipost" / "checkpoint_last.pt",
            d / "en" / "mlm",
            en_text,
            en_ids,
        ),
        **{
            f"step 2 {m}": (
                run / "adapt" / "de" / m / "seed1" / "checkpoint_last.pt",
                bible_data / "de" / "mlm",
                de_text,
                de_ids,
            )
            for m in ("full_roberta", "minipost")
        },
        **{
            f"step 4 {m}": (
                run / "transfer" / "de" / m / "seed1.pt",
                bible_data / "de" / "cls",
                de_text,
                de_ids,
            )
            for m in ("full_roberta", "minipost")
        },
    }
    for what, (ckpt, data_dir, text, ids) in checkpoints.items():
        state = surgery.load_roberta_checkpoint(ckpt)
        assert (
            state["model"]["encoder.sentence_encoder.embed_positions.weight"].shape[0] == POSITIONS
        ), what
        hub = RobertaModel.from_pretrained(str(ckpt.parent), ckpt.name, str(data_dir)).eval()
        assert hub.model.max_positions() == POSITIONS - 2, what
        for line, want in list(zip(text, ids))[:20]:
            assert hub.encode(line)[1:].tolist() == want, (
                what,
                line,
            )  # <s> first; the data has the rest
    assert not (
        run / "finetune" / "roberta" / "seed1" / "checkpoint_last.pt"
    ).exists()  # kept once, not twice

    family = "XLMRoberta" if kind == "xlmr" else "Roberta"
    for m in ("full_roberta", "minipost"):
        for sub, cls_name in (
            ("seed1", f"{family}ForSequenceClassification"),
            ("seed1_mlm/hf", f"{family}ForMaskedLM"),
        ):
            config = AutoConfig.from_pretrained(str(run / "export" / "de" / m / sub))
            assert (
                config.architectures == [cls_name] and config.max_position_embeddings == POSITIONS
            ), (m, sub)
    shutil.rmtree(tmp_path / kind)  # the source model, not needed any more (the suite's disk)
