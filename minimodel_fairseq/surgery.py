"""THE checkpoint surgery: every edit of a fairseq checkpoint the method needs.

- :func:`load_roberta_checkpoint`: read a checkpoint, refuse anything that is not
  a RoBERTa-family encoder, with one clear message.
- :func:`big_model_of`: the fingerprint of the big model a checkpoint belongs to
  (provenance: step-2 embeddings fit only the big model their body came from).
- :func:`hf_origin`: the Hugging Face class a checkpoint's big model was imported from
  (export-hf writes every descendant as that class).
- :class:`Body`: THE way a task or model reads a body checkpoint and builds on it
  (steps 2 and 3, MiniPost).
- :func:`to_roberta`: a plain ``roberta`` checkpoint from any RoBERTa-family one;
  with ``head="mini"`` and K layers it is MiniJoint's mini-model (extract-mini).
- :func:`apply_body_architecture`: make a command-line model config describe the
  body checkpoint's architecture, so users never repeat layer sizes.
- :func:`new_language_embeddings`: the target-language embedding matrix
  (``random`` as in the paper, or ``shared`` surface forms copied, optionally
  through transliteration).
- :func:`swap_embeddings`: put step 2's embeddings into step 3's classifier.

Writing a checkpoint (``save_checkpoint``, ``atomic_write``) and the error every refusal
raises (``CheckpointError``) are :mod:`minimodel_fairseq.files`'s; the tensor names
(``TOKENS``, ``LM_HEAD`` ...) are :mod:`minimodel_fairseq.params`'s: import them from there.

Checkpoints are pickles: load only files you trust (see docs/usage.md).
"""

import argparse
import contextlib
import copy
import hashlib
import logging
import os
from pathlib import Path

import torch

from minimodel_fairseq import anchors

from .files import CheckpointError
from .integrity import check_finite
from .params import (
    ENCODER,
    FINAL_LN,
    LAYER_RE,
    LM_HEAD,
    LM_HEAD_BIAS,
    LM_HEAD_WEIGHT,
    MINI_HEAD,
    MINI_LN,
    TOKENS,
)

logger = logging.getLogger(__name__)

# Once re-exported here, now only files.py's. Callers outside the package (tests, benchmarks, scripts)
# still name them as surgery.X: they get them with a DeprecationWarning until they import from files.
INITS = ("random", "shared", "shared_translit")  # --embedding-init


def load_roberta_checkpoint(path) -> dict:
    """Load a fairseq checkpoint and check it holds a RoBERTa-family encoder."""
    from fairseq.models import ARCH_MODEL_REGISTRY
    from fairseq.models.roberta import RobertaModel

    from .compat import load_checkpoint

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist (or is not a file): check the path"
        )
    try:
        state = load_checkpoint(str(path))
    except CheckpointError:  # a corrupt file (integrity.verify_checkpoint) already says what to do
        raise
    except Exception as e:  # truncated, corrupt, not a pickle, unreadable
        raise CheckpointError(
            f"cannot read checkpoint {path} ({type(e).__name__}: {str(e)[:200]}): the file is "
            f"truncated, corrupt or not a fairseq checkpoint; re-create or re-download it"
        ) from None
    arch = _arch_of(state)
    cls = (
        ARCH_MODEL_REGISTRY.get(arch) if arch else None
    )  # (None is the plugin's "no --arch" entry)
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


# --- provenance: which big model a checkpoint belongs to -------------------------------------
#
# Step-2 embeddings fit only the big model whose body (full model, mini-model or
# MiniPost model) they were learned over. No tensor is shared by every descendant
# (step 2 replaces the token embeddings, step 3 fine-tunes everything else), so the
# big model's fingerprint is computed once, when the big model is read, and carried
# as metadata: tasks save it in their checkpoint state (tasks/provenance.py), and the
# checkpoints surgery writes hold it in their ``minimodel`` note.

BIG_MODEL_KEY = "minimodel_big_model"  # the fingerprint of the big model a checkpoint belongs to
EMBEDDINGS_BIG_MODEL_KEY = (
    "minimodel_embeddings_big_model"  # a swapped classifier's embeddings' one
)

# Checkpoints that are not big models themselves: without a recorded fingerprint
# (written before provenance was recorded) their big model is unknown.
DERIVED_TASKS = {
    "new_language_mlm",
    "sentence_prediction_frozen_embeddings",
    "minipost_mlm",
    "sentence_prediction",
}
DERIVED_BY = {"extract-mini", "swap-embeddings"}  # ``minimodel`` notes of older surgery outputs


def fingerprint(state) -> str:
    """sha256 over a checkpoint's encoder tensors (name, dtype, shape, bytes; names sorted).

    The identity of a big model. About a second for a 125M-parameter model.
    """
    h = hashlib.sha256()
    model = state["model"]
    for name in sorted(k for k in model if k.startswith(ENCODER)):
        t = model[name].detach().cpu().contiguous()
        h.update(f"{name} {t.dtype} {tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())  # raw bytes, any dtype (bf16 too)
    return h.hexdigest()


DICTIONARY_KEY = "minimodel_dictionary"  # digest of the dictionary a checkpoint's embeddings index
EMBEDDINGS_DICTIONARY_KEY = (
    "minimodel_embeddings_dictionary"  # a swapped classifier's embeddings' one
)


def dictionary_digest(d) -> str:
    """sha256 of a fairseq Dictionary's symbols in order (a trailing ``<mask>``, which the masked-LM
    task appends to dict.txt, left out): the identity of a vocabulary, which its size is not."""
    symbols = list(d.symbols)
    if symbols and symbols[-1] == "<mask>":
        symbols = symbols[:-1]
    return hashlib.sha256("\n".join(symbols).encode("utf-8")).hexdigest()


def dict_file_digest(path) -> str:
    from fairseq.data import Dictionary

    return dictionary_digest(Dictionary.load(str(path)))


def recorded_dictionary(state):
    """The digest of the dictionary a checkpoint's token embeddings index, as recorded; or None."""
    return _recorded(state, DICTIONARY_KEY)


def _recorded(state, key):
    """What a checkpoint records under ``key``: surgery's ``minimodel`` note, then a task's state; or None."""
    note = state.get("minimodel") or {}
    if note.get(key):
        return note[key]
    for task_state in (state.get("extra_state") or {}).values():
        if isinstance(task_state, dict) and task_state.get(key):
            return task_state[key]
    return None


def recorded_big_model(state):
    """The big-model fingerprint a checkpoint records (surgery's note, then a task's state), or None."""
    return _recorded(state, BIG_MODEL_KEY)


# The Hugging Face class a big model was imported from (import-hf) travels the same way, so
# that export-hf writes every descendant as that class (an XLM-R stays XLM-R): hf_class,
# hf_model_type, hf_type_vocab_size and hf_unfolded (the unfolded token-type rows).
HF_ORIGIN_KEY = "minimodel_hf_origin"


def hf_origin(state):
    """The Hugging Face origin a checkpoint records (a dict of ``hf_*`` entries), or None."""
    note = state.get("minimodel") or {}
    if note.get("hf_class") and not note.get(
        HF_ORIGIN_KEY
    ):  # import-hf's note before it had the key
        return {k: v for k, v in note.items() if k.startswith("hf_")}
    return _recorded(state, HF_ORIGIN_KEY)


def is_derived(state) -> bool:
    """Whether a checkpoint was made from a big model (a mini-model, a step-2 or step-3 checkpoint ...)."""
    task = (state.get("cfg") or {}).get("task") or {}
    name = task.get("_name") if hasattr(task, "get") else getattr(task, "_name", None)
    return name in DERIVED_TASKS or (state.get("minimodel") or {}).get("made_by") in DERIVED_BY


def big_model_of(state):
    """The fingerprint of the big model ``state`` belongs to, or None where that is unknown.

    Recorded in the checkpoint (mini-models, MiniPost, step 2, step 3, swapped
    classifiers); computed for a checkpoint that is itself a big model (step-1
    pretraining, a plain masked_lm RoBERTa, an imported model); None for a
    derived checkpoint written before provenance was recorded.
    """
    recorded = recorded_big_model(state)
    if recorded or is_derived(state):
        return recorded
    return fingerprint(state)


def short(fp) -> str:
    """A fingerprint as messages show it (12 hex digits), or 'unknown'."""
    return fp[:12] if fp else "unknown"


def check_same_big_model(
    classifier_fp, embeddings_fp, classifier_name, embeddings_name, allow=False, action="swap"
):
    """Refuse embeddings learned over another big model than the classifier's (unless ``allow``).

    Unknown provenance (files written before it was recorded) gives a warning only.
    """
    if classifier_fp is None or embeddings_fp is None:
        unknown = " and ".join(
            n
            for n, fp in ((classifier_name, classifier_fp), (embeddings_name, embeddings_fp))
            if fp is None
        )
        logger.warning(
            "%s: no big-model fingerprint recorded (written before minimodel recorded provenance), "
            "so it cannot be checked that the embeddings were learned over the classifier's big model",
            unknown,
        )
        return
    if classifier_fp == embeddings_fp:
        return
    mismatch = (
        f"embeddings learned over another model: {embeddings_name} (big model {short(embeddings_fp)}) "
        f"and {classifier_name} (big model {short(classifier_fp)}) belong to different big models"
    )
    if not allow:
        raise CheckpointError(
            f"{mismatch}, so the result would be meaningless. Use step-2 embeddings learned over the "
            f"classifier's own big model (its full model, mini-model or MiniPost model), or pass "
            f"--allow-other-model to {action} it anyway"
        )
    logger.warning("%s; going on as --allow-other-model asks", mismatch)


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
        raise CheckpointError(
            f"--layers must be between 1 and the checkpoint's depth {depth}, got {layers}"
        )

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
        "minimodel": {
            "layers": layers,
            "head": head,
            BIG_MODEL_KEY: big_model_of(state),
            **({HF_ORIGIN_KEY: origin} if (origin := hf_origin(state)) else {}),
            **(note or {}),
        },
    }


def _architecture_keys():
    """Names of the model-config fields that define a RoBERTa architecture."""
    from fairseq.models.roberta.model import RobertaModel, base_architecture

    parser = argparse.ArgumentParser()
    RobertaModel.add_args(parser)
    defaults = argparse.Namespace()
    base_architecture(defaults)
    return (
        ({a.dest for a in parser._actions} | set(vars(defaults)) | {"max_positions"})
        - {"help"}
        - _REGULARIZATION
    )


# training choices, not shape: a new run takes them from its own command line
_REGULARIZATION = {
    "dropout",
    "attention_dropout",
    "activation_dropout",
    "pooler_dropout",
    "encoder_layerdrop",
}


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


class Body:
    """A body checkpoint on its way into a model: THE one place that reads one and builds on it.

    Used by step 2 (``new_language_mlm``), step 3 (``sentence_prediction_frozen_embeddings``)
    and MiniPost (``minipost_roberta``)::

        body = Body(path)                      # read and check it
        body.configure(model_cfg, layers=K)    # cut it; the model config takes its architecture
        model = <build the model from model_cfg>
        body.load_into(model, skip_names=..., allow_missing_prefixes=...)
                                               # its weights; anything else missing is an error

    ``body.big_model`` is the fingerprint of the big model it belongs to (provenance) and
    ``body.hf_origin`` its Hugging Face origin (or None), which the task records in its checkpoints.
    """

    def __init__(self, path):
        self.path = str(path)
        self.checkpoint = load_roberta_checkpoint(path)
        check_finite(self.checkpoint["model"], f"body checkpoint {path}")
        self.depth = num_layers(self.checkpoint)
        self.state = None  # the plain-roberta body, once configure() has cut it
        self.big_model = self.hf_origin = None

    def configure(self, model_cfg, layers=None):
        """Cut the body to its bottom ``layers`` (all by default) and give ``model_cfg`` its architecture."""
        self.state = to_roberta(
            self.checkpoint, layers=layers, note={"source": os.path.abspath(self.path)}
        )
        self.big_model = self.state["minimodel"][BIG_MODEL_KEY]
        self.hf_origin = self.state["minimodel"].get(HF_ORIGIN_KEY)
        apply_body_architecture(model_cfg, self.state, logger)
        return model_cfg

    def load_into(self, model, skip_names=(), allow_missing_prefixes=()):
        """Load the body's weights into ``model`` (built from the configured config).

        ``skip_names``: exact tensor names the body has but that are not loaded: the model
        keeps its own (step 2's embeddings and LM-head bias, which it makes anew).
        ``allow_missing_prefixes``: name prefixes of model tensors the body does not have,
        which keep the model's init without an error (step 3's classification head,
        MiniPost's new layers). Any other model tensor missing from the body, or any body
        tensor the model lacks, is a CheckpointError.
        """
        weights = {k: v for k, v in self.state["model"].items() if k not in skip_names}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        wrong = [
            k
            for k in missing
            if k not in skip_names and not k.startswith(tuple(allow_missing_prefixes))
        ]
        if wrong or unexpected:
            raise CheckpointError(
                f"{self.path} does not fit the {type(model).__name__} built from it: missing {wrong[:5]}, "
                f"unexpected {unexpected[:5]}: give an ordinary RoBERTa-family checkpoint"
            )
        return model


def new_language_embeddings(
    target_dict, body_weight, init="random", source_dict=None, seed=1, lang=None
):
    """The target-language token-embedding matrix, shape (len(target_dict), dim).

    ``init`` picks the anchored rows (:mod:`minimodel_fairseq.anchors`): ``random``
    none (the paper's setting); ``shared`` rows of symbols spelled as in
    ``source_dict`` are copied from ``body_weight``; ``shared_translit`` also
    symbols of any script matched through their romanisation (uroman; ``lang`` is
    the target language's code, e.g. ``ru``, None for language-independent).
    The other rows are N(0, 0.02), RoBERTa's own init (drawing them from the body's embedding
    distribution instead, Downey et al. 2023, lowered transfer: docs/results.md). The padding
    row is zero. Returns (weight, number of rows copied).
    """
    if init not in INITS:
        raise ValueError(f"--embedding-init must be one of {', '.join(INITS)}, got {init!r}")
    g = torch.Generator().manual_seed(seed)
    dim = body_weight.size(1)
    weight = torch.randn(len(target_dict), dim, generator=g).mul_(0.02)
    copied = 0
    if init != "random":
        if source_dict is None:
            raise CheckpointError(
                f"--embedding-init {init} needs the body's dictionary (--body-dict)"
            )
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


def _task_name(state):
    return ((state.get("cfg") or {}).get("task") or {}).get("_name")


def check_roles(
    classifier: dict, step2: dict, classifier_name="the classifier", step2_name="the embeddings"
):
    """Refuse checkpoints given in each other's place: a classifier has a classification head, step-2
    embeddings come from --task new_language_mlm (or carry no head, for older or other trainers)."""

    def heads(state):
        return any(
            k.startswith("encoder.classification_heads.") or k.startswith("classification_heads.")
            for k in state["model"]
        )

    exchanged = (
        "; were --classifier and --embeddings exchanged?"
        if heads(step2) and not heads(classifier)
        else ""
    )
    if not heads(classifier):
        raise CheckpointError(
            f"{classifier_name} has no classification head (task {_task_name(classifier)!r}): --classifier takes "
            f"the step-3 checkpoint (--task sentence_prediction_frozen_embeddings){exchanged}"
        )
    if heads(step2) or _task_name(step2) not in (None, "new_language_mlm"):
        raise CheckpointError(
            f"{step2_name} is not a step-2 checkpoint (task {_task_name(step2)!r}"
            f"{', it has a classification head' if heads(step2) else ''}): --embeddings takes the "
            f"checkpoint of --task new_language_mlm"
        )


def swap_embeddings(
    classifier: dict,
    step2: dict,
    target_dict=None,
    allow_other_model=False,
    names=("the classifier", "the embeddings"),
) -> dict:
    """The classifier checkpoint with step 2's token embeddings (and LM-head bias).

    Refuses embeddings of another width, a target dictionary (given, or found in
    step 2's data directory) that does not match the embedding rows or whose
    special symbols differ from the classifier's, and (unless ``allow_other_model``)
    embeddings learned over another big model than the classifier's (``names``:
    how messages call the two checkpoints). The result records both big models and
    takes step 2's bpe settings (the target language's sentencepiece model), so
    fairseq's hub interface encodes raw target-language text.
    """
    from fairseq.data import Dictionary
    from omegaconf import OmegaConf, open_dict

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
        learned = recorded_dictionary(step2)
        if target_dict and learned and dictionary_digest(tgt) != learned:
            raise CheckpointError(
                f"dictionary mismatch: {target_dict} is not the dictionary the embeddings of {names[1]} were "
                f"learned with (digest {short(dictionary_digest(tgt))}, recorded {short(learned)}; same size "
                f"or not): give the dict.txt of its step-2 data directory, {training_dictionary_path(step2)}"
            )
        if src is not None and src.symbols[: src.nspecial] != tgt.symbols[: tgt.nspecial]:
            raise CheckpointError(
                f"special symbols differ: classifier {src.symbols[: src.nspecial]}, "
                f"target {tgt.symbols[: tgt.nspecial]}"
            )
    classifier_fp, embeddings_fp = big_model_of(classifier), big_model_of(step2)
    check_same_big_model(
        classifier_fp, embeddings_fp, *names, allow=allow_other_model, action="swap"
    )

    out = dict(classifier)
    out["model"] = dict(cls_model)
    out["model"][TOKENS] = new_w.clone()
    out["model"][LM_HEAD_WEIGHT] = out["model"][TOKENS]
    out["model"][LM_HEAD_BIAS] = new[LM_HEAD_BIAS].clone()
    out["last_optimizer_state"] = None
    out["cfg"] = cfg = copy.deepcopy(classifier["cfg"])
    with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.nullcontext():
        cfg["bpe"] = copy.deepcopy((step2.get("cfg") or {}).get("bpe"))  # the target language's
    learned = recorded_dictionary(step2) or (dictionary_digest(tgt) if tgt is not None else None)
    out["minimodel"] = {
        "made_by": "swap-embeddings",
        BIG_MODEL_KEY: classifier_fp,
        EMBEDDINGS_BIG_MODEL_KEY: embeddings_fp,
        **({EMBEDDINGS_DICTIONARY_KEY: learned} if learned else {}),
        **({HF_ORIGIN_KEY: origin} if (origin := hf_origin(classifier)) else {}),
    }
    return out
