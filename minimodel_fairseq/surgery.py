"""THE checkpoint surgery: every edit of a fairseq checkpoint the method needs.

- :func:`load_roberta_checkpoint`: read a checkpoint, refuse anything that is not
  a RoBERTa-family encoder, with one clear message.
- :func:`to_roberta`: a plain ``roberta`` checkpoint from any RoBERTa-family one;
  with ``head="mini"`` and K layers it is MiniJoint's mini-model (extract-mini).
- :func:`apply_body_architecture`: make a command-line model config describe the
  body checkpoint's architecture, so users never repeat layer sizes.
- :func:`new_language_embeddings`: the target-language embedding matrix
  (``random`` as in the paper, or ``shared`` surface forms copied, optionally
  through transliteration).
- :func:`swap_embeddings`: put step 2's embeddings into step 3's classifier.
- :func:`save_checkpoint`: atomic writes that refuse to overwrite unless forced.

Checkpoints are pickles: load only files you trust (see docs/usage.md).
"""
import argparse
import contextlib
import copy
import os
import re
import tempfile
from pathlib import Path

import torch

from minimodel_fairseq import anchors

INITS = ("random", "shared", "shared_translit")  # --embedding-init
UNANCHORED = ("random", "body_stats")  # --unanchored-init
TOKENS = "encoder.sentence_encoder.embed_tokens.weight"
LM_HEAD = "encoder.lm_head."
MINI_HEAD = "encoder.mini_lm_head."
MINI_LN = "encoder.mini_layer_norm."
FINAL_LN = "encoder.sentence_encoder.layer_norm."
LAYER_RE = re.compile(r"^encoder\.sentence_encoder\.layers\.(\d+)\.")


class CheckpointError(ValueError):
    """A checkpoint (or dictionary) that cannot be used as asked; the message says what to do."""


def load_roberta_checkpoint(path) -> dict:
    """Load a fairseq checkpoint and check it holds a RoBERTa-family encoder."""
    from fairseq.models import ARCH_MODEL_REGISTRY
    from fairseq.models.roberta import RobertaModel

    from .compat import load_checkpoint

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (or is not a file): check the path")
    try:
        state = load_checkpoint(str(path))
    except Exception as e:  # truncated, corrupt, not a pickle, unreadable
        raise CheckpointError(
            f"cannot read checkpoint {path} ({type(e).__name__}: {str(e)[:200]}): the file is "
            f"truncated, corrupt or not a fairseq checkpoint; re-create or re-download it"
        ) from None
    arch = _arch_of(state)
    cls = ARCH_MODEL_REGISTRY.get(arch)
    if cls is None or not issubclass(cls, RobertaModel) or TOKENS not in state.get("model", {}):
        found = f"arch {arch!r} ({cls.__name__})" if cls else f"arch {arch!r}"
        raise CheckpointError(
            f"{path} is not a RoBERTa-family encoder checkpoint: found {found}. Give a checkpoint "
            f"trained with --arch roberta*/minijoint_roberta* (or a mini-model made by minimodel)"
        )
    return state


def _arch_of(state):
    model_cfg = (state.get("cfg") or {}).get("model") if isinstance(state, dict) else None
    if model_cfg is None:
        return None
    if isinstance(model_cfg, argparse.Namespace):
        return getattr(model_cfg, "arch", None)
    return model_cfg.get("arch") or model_cfg.get("_name")  # dataclass-configured models


def num_layers(state) -> int:
    return 1 + max(int(m.group(1)) for k in state["model"] if (m := LAYER_RE.match(k)))


def to_roberta(state: dict, layers: int = None, head: str = "primary", note: dict = None) -> dict:
    """A plain ``roberta`` checkpoint keeping the bottom ``layers`` layers and one LM head.

    ``head="primary"`` keeps the top head (use with all layers: MiniJoint's full
    model as an ordinary RoBERTa). ``head="mini"`` takes a MiniJoint model's
    secondary head (and its pre-norm LayerNorm as the encoder's final
    LayerNorm) with ``layers`` defaulting to K: the mini-model, whose output
    equals the secondary head's.
    """
    src = state["model"]
    depth = num_layers(state)
    model_args = copy.deepcopy(state["cfg"]["model"])
    if head == "mini":
        if MINI_HEAD + "dense.weight" not in src:
            raise CheckpointError(
                f"checkpoint of arch {model_args.arch!r} has no secondary (mini) MLM head: "
                f"extract-mini needs a MiniJoint checkpoint (--arch minijoint_roberta_*); "
                f"build a mini-model from a plain RoBERTa with MiniPost instead"
            )
        layers = model_args.mini_layer if layers is None else layers
    elif head != "primary":
        raise ValueError(f"head must be 'primary' or 'mini', got {head!r}")
    layers = depth if layers is None else layers
    if not 1 <= layers <= depth:
        raise CheckpointError(f"--layers must be between 1 and the checkpoint's depth {depth}, got {layers}")

    out = {}
    for k, v in src.items():
        m = LAYER_RE.match(k)
        if m and int(m.group(1)) >= layers:
            continue
        if head == "mini":
            if k.startswith(LM_HEAD) or k.startswith(FINAL_LN):
                continue
            k = k.replace(MINI_HEAD, LM_HEAD).replace(MINI_LN, FINAL_LN)
        elif k.startswith(MINI_HEAD) or k.startswith(MINI_LN):
            continue
        out[k] = v

    model_args.arch = model_args._name = "roberta"
    model_args.encoder_layers = layers
    model_args.task = model_args.criterion = "masked_lm"
    if hasattr(model_args, "mini_layer"):
        del model_args.mini_layer
    cfg = copy.deepcopy({k: v for k, v in state["cfg"].items() if k != "model"})
    cfg["model"] = model_args
    cfg["task"] = {**cfg["task"], "_name": "masked_lm"} if cfg.get("task") else cfg.get("task")
    cfg["criterion"] = {"_name": "masked_lm", "tpu": False}
    return {
        "cfg": cfg,
        "model": out,
        "optimizer_history": state.get("optimizer_history", []),
        "extra_state": state.get("extra_state"),
        "last_optimizer_state": None,
        "minimodel": {"layers": layers, "head": head, **(note or {})},
    }


def _architecture_keys():
    """Names of the model-config fields that define a RoBERTa architecture."""
    from fairseq.models.roberta.model import RobertaModel, base_architecture

    parser = argparse.ArgumentParser()
    RobertaModel.add_args(parser)
    defaults = argparse.Namespace()
    base_architecture(defaults)
    return ({a.dest for a in parser._actions} | set(vars(defaults)) | {"max_positions"}) - {"help"} - _REGULARIZATION


# training choices, not shape: a new run takes them from its own command line
_REGULARIZATION = {"dropout", "attention_dropout", "activation_dropout", "pooler_dropout", "encoder_layerdrop"}


def apply_body_architecture(model_cfg, body_state, logger=None):
    """Overwrite ``model_cfg``'s architecture fields (in place) with the body's.

    ``model_cfg`` is the config fairseq built from the command line and later
    saves in every checkpoint, so checkpoints of the new run reload with the
    body's shape. The arch becomes plain ``roberta`` (a MiniJoint model's
    secondary head plays no part after step 1).
    """
    from omegaconf import OmegaConf, open_dict

    body = body_state["cfg"]["model"]
    changed = []
    with open_dict(model_cfg) if OmegaConf.is_config(model_cfg) else contextlib.nullcontext():
        for key in sorted(_architecture_keys()):
            if not hasattr(body, key):
                continue
            new = getattr(body, key)
            old = getattr(model_cfg, key, None)
            if old is not None and old != new:
                changed.append(f"{key}: {old} -> {new}")
            setattr(model_cfg, key, new)
        model_cfg.arch = "roberta"
        if OmegaConf.is_config(model_cfg) or hasattr(model_cfg, "_name"):
            model_cfg._name = "roberta"
    if changed and logger is not None:
        logger.info("architecture taken from the body checkpoint: %s", "; ".join(changed))
    return model_cfg


def new_language_embeddings(target_dict, body_weight, init="random", source_dict=None, seed=1, lang=None,
                            unanchored="random"):
    """The target-language token-embedding matrix, shape (len(target_dict), dim).

    ``init`` picks the anchored rows (:mod:`minimodel_fairseq.anchors`): ``random``
    none (the paper's setting); ``shared`` rows of symbols spelled as in
    ``source_dict`` are copied from ``body_weight``; ``shared_translit`` also
    symbols of any script matched through their romanisation (uroman; ``lang`` is
    the target language's code, e.g. ``ru``, None for language-independent).
    ``unanchored`` fills the other rows: ``random`` N(0, 0.02) (RoBERTa's own init);
    ``body_stats`` drawn from a normal with the mean and covariance of the body's
    embedding rows (Downey et al., 2023), so they start in the body's embedding
    distribution. The padding row is zero. Returns (weight, number of rows copied).
    """
    if init not in INITS:
        raise ValueError(f"--embedding-init must be one of {', '.join(INITS)}, got {init!r}")
    if unanchored not in UNANCHORED:
        raise ValueError(f"--unanchored-init must be one of {', '.join(UNANCHORED)}, got {unanchored!r}")
    g = torch.Generator().manual_seed(seed)
    dim = body_weight.size(1)
    weight = torch.randn(len(target_dict), dim, generator=g)
    if unanchored == "body_stats":
        rows = body_weight[source_dict.nspecial if source_dict is not None else 4:].double()
        mean, cov = rows.mean(0), torch.cov(rows.T)
        jitter = 1e-6 * cov.diagonal().mean() * torch.eye(dim, dtype=cov.dtype)  # a few rows: cov is singular
        weight = (mean + weight.double() @ torch.linalg.cholesky(cov + jitter).T).to(body_weight.dtype)
    else:
        weight.mul_(0.02)
    copied = 0
    if init != "random":
        if source_dict is None:
            raise CheckpointError(f"--embedding-init {init} needs the body's dictionary (--body-dict)")
        if len(source_dict) != body_weight.size(0):
            raise CheckpointError(
                f"body dictionary has {len(source_dict)} symbols but the body's embeddings have "
                f"{body_weight.size(0)} rows: give the dict.txt the body was trained with"
            )
        found = anchors.match(target_dict, source_dict, lang, romanised=init == "shared_translit")
        for i, j in found.items():
            weight[i] = body_weight[j]
        copied = len(found)
    weight[target_dict.pad()] = 0
    return weight, copied


def training_dictionary_path(state, sub="") -> Path:
    """Where the dictionary a checkpoint was trained with lies: its data dir's ``sub/dict.txt``."""
    return Path((state["cfg"].get("task") or {}).get("data") or "") / sub / "dict.txt"


def training_dictionary(state, sub=""):
    """The dictionary a checkpoint was trained with, or None if that file is gone."""
    from fairseq.data import Dictionary

    path = training_dictionary_path(state, sub)
    return Dictionary.load(str(path)) if path.is_file() else None


def swap_embeddings(classifier: dict, step2: dict, target_dict=None) -> dict:
    """The classifier checkpoint with step 2's token embeddings (and LM-head bias).

    Refuses embeddings of another width, and a target dictionary (given, or
    found in step 2's data directory) that does not match the embedding rows or
    whose special symbols differ from the classifier's.
    """
    from fairseq.data import Dictionary

    cls_model, new = classifier["model"], step2["model"]
    old_w, new_w = cls_model[TOKENS], new[TOKENS]
    if old_w.size(1) != new_w.size(1):
        raise CheckpointError(
            f"embedding dimension differs: classifier {old_w.size(1)}, embeddings {new_w.size(1)}: "
            f"the embeddings must come from step 2 over the same body as the classifier"
        )
    if target_dict is not None and not Path(target_dict).is_file():
        raise CheckpointError(f"dictionary {target_dict} does not exist: check the path")
    tgt = Dictionary.load(str(target_dict)) if target_dict else training_dictionary(step2)
    src = training_dictionary(classifier, "input0")
    if tgt is not None:
        if len(tgt) + 1 != new_w.size(0):  # + <mask>, added by the masked-LM task
            raise CheckpointError(
                f"dictionary mismatch: {target_dict or 'the step-2 data dict.txt'} has {len(tgt)} symbols "
                f"(+1 <mask>) but the embeddings have {new_w.size(0)} rows: give the dict.txt of the "
                f"language the embeddings were trained on"
            )
        if src is not None and src.symbols[: src.nspecial] != tgt.symbols[: tgt.nspecial]:
            raise CheckpointError(
                f"special symbols differ: classifier {src.symbols[:src.nspecial]}, "
                f"target {tgt.symbols[:tgt.nspecial]}"
            )
    out = dict(classifier)
    out["model"] = dict(cls_model)
    out["model"][TOKENS] = new_w.clone()
    out["model"][LM_HEAD + "weight"] = out["model"][TOKENS]
    out["model"][LM_HEAD + "bias"] = new[LM_HEAD + "bias"].clone()
    out["last_optimizer_state"] = None
    return out


def atomic_write(path, write) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it onto ``path``.

    The one way this project writes files that must never be seen half-written
    (checkpoints, fairseq's checkpoint copies, benchmark results); the temporary
    file is removed if ``write`` fails.
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
    path = Path(path)
    if path.exists() and not force:
        raise CheckpointError(f"{path} exists: choose another --out or pass --force to overwrite it")
    return atomic_write(path, lambda tmp: torch.save(state, tmp))
