"""The adapted language model home: the big model with step 2's target-language embeddings.

Step 2 over a mini-model (MiniJoint, MiniPost) leaves a checkpoint of the *mini-model*;
what a user takes home is the big model reading the target language: the big model's
body, its LM head (dense and LayerNorm) tied to the new embeddings, and step 2's LM-head
bias (the same swap the label-free measures score, ``label_free.big_with_embeddings``).
:func:`export_mlm` writes it as a directory that both libraries load::

    OUT/model.pt                  fairseq checkpoint: RobertaModel.from_pretrained(OUT, "model.pt")
    OUT/dict.txt                  the target dictionary (without <mask>, as fairseq-preprocess wrote it)
    OUT/sentencepiece.bpe.model   the target tokenizer, found there by fairseq's hub
    OUT/hf/                       AutoModelForMaskedLM + AutoTokenizer (``hf.export_hf``)
"""

import contextlib
import json
import os
import shutil
from pathlib import Path

from . import hf, label_free, params, surgery
from .files import CheckpointError, refuse_existing_output

BPE_FILE = "sentencepiece.bpe.model"  # the name fairseq's hub_utils.from_pretrained looks for


def _role(state) -> str:
    task = (state.get("cfg") or {}).get("task") or {}
    return (task.get("_name") if hasattr(task, "get") else getattr(task, "_name", None)) or "?"


def export_mlm(big, embeddings, out, dict_path=None, spm=None, force=False, check=True) -> dict:
    """Write the big model ``big`` with the step-2 ``embeddings`` to the directory ``out``; returns facts."""
    from omegaconf import OmegaConf, open_dict

    out = refuse_existing_output(out, force)
    big_state = surgery.load_roberta_checkpoint(big)
    step2 = surgery.load_roberta_checkpoint(embeddings)
    if surgery.is_derived(big_state):
        raise CheckpointError(
            f"--big {big} is not a big model (a checkpoint of task {_role(big_state)!r}, made from one): give the "
            f"model the embeddings were learned for (step 1's checkpoint, or import-hf's model.pt)"
        )
    if _role(step2) != "new_language_mlm":
        raise CheckpointError(
            f"--embeddings {embeddings} is not a step-2 checkpoint (task {_role(step2)!r}, not new_language_mlm): "
            f"give checkpoint_last.pt (or _best) of the step-2 run"
        )
    dict_path = Path(dict_path) if dict_path else surgery.training_dictionary_path(step2)
    if not dict_path.is_file():
        raise CheckpointError(
            f"target dictionary {dict_path} not found: pass --dict (the dict.txt step 2 "
            f"was trained with)"
        )
    recorded = hf._get((step2.get("cfg") or {}).get("bpe"), "sentencepiece_model")
    spm = Path(spm or recorded or "")
    if not spm.is_file():
        raise CheckpointError(
            f"target sentencepiece model {spm or '(none recorded)'} not found: pass --spm "
            f"(the model the target text was encoded with)"
        )
    state = label_free.big_with_embeddings(big_state, step2, target_dict=dict_path)
    final = Path(os.path.abspath(out))
    cfg = state["cfg"]
    with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.nullcontext():
        cfg["task"] = {
            **cfg["task"],
            "data": str(final),
        }  # self-contained: dict.txt beside model.pt
        cfg["bpe"] = {"_name": "sentencepiece", "sentencepiece_model": str(final / BPE_FILE)}
    state["minimodel"].update(
        made_by="export-mlm", big=os.path.abspath(big), embeddings=os.path.abspath(embeddings)
    )

    def write(tmp):
        import torch

        shutil.copy2(dict_path, tmp / "dict.txt")
        shutil.copy2(spm, tmp / BPE_FILE)
        torch.save(state, tmp / "model.pt")
        r = hf.export_hf(
            tmp / "model.pt",
            tmp / "hf",
            spm=tmp / BPE_FILE,
            dict_path=tmp / "dict.txt",
            **({} if check else {"check": False}),
        )
        config = tmp / "hf" / "config.json"  # name the file where it will be, not the temporary one
        text = config.read_text(encoding="utf-8").replace(
            json.dumps(str(tmp))[1:-1], json.dumps(str(final))[1:-1]
        )
        config.write_text(text, encoding="utf-8")
        return r

    r = hf._write_dir(out, force, write)
    rows = state["model"][params.TOKENS].shape[0]
    return {
        "out": str(out),
        "class": r["class"],
        "rows": rows,
        "layers": surgery.num_layers(state),
        "big_model": surgery.short(surgery.big_model_of(big_state)),
        "hf": r,
    }
