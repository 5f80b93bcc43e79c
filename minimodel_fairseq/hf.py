"""THE conversion between fairseq RoBERTa checkpoints and Hugging Face directories, both ways.

- :func:`import_hf`: a Hugging Face ``*ForMaskedLM`` directory of the RoBERTa family
  -> ``OUTDIR/model.pt`` (a fairseq ``roberta`` checkpoint), ``OUTDIR/dict.txt`` (its
  vocabulary in Hugging Face id order), ``OUTDIR/tokenizer/`` (the model's own tokenizer
  files) and ``OUTDIR/import.json``.
- :func:`export_hf`: a fairseq RoBERTa checkpoint (masked LM, MiniJoint, MiniPost, step 2,
  step-3/4 classifier) -> a Hugging Face directory: ``config.json``, ``model.safetensors``
  and a tokenizer whose ids are the fairseq dictionary's (:func:`build_tokenizer`).
- :func:`encode_as_symbols`: text -> ``dict.txt`` symbols with an imported model's own
  tokenizer, for ``fairseq-preprocess --srcdict OUTDIR/dict.txt``.

Which fairseq model is which Hugging Face class (docs/usage.md, "Hugging Face import and
export"): the layout is set by fairseq's ``encoder_normalize_before`` and
``layernorm_embedding``.

=========================  ======================  ========================================
fairseq                    layernorm_embedding     Hugging Face
=========================  ======================  ========================================
post-norm (``roberta``)    True                    RobertaForMaskedLM, XLMRobertaForMaskedLM
pre-norm                   True                    RobertaPreLayerNormForMaskedLM
pre-norm (``roberta_prenorm``, this project's     XLMRobertaXLForMaskedLM
``roberta_small``, MiniJoint)  False
=========================  ======================  ========================================

transformers, tokenizers, safetensors and sentencepiece are imported inside the
functions only, so ``import minimodel_fairseq`` (``--user-dir``) does not load them.
"""

import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from .files import (
    CheckpointError,
    raise_disk_full,
    refuse_existing_output,
    temporary_dir,
    temporary_prefix,
    terminate_cleanly,
)
from .params import MINI_HEAD, TOKENS

SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")  # fairseq's Dictionary: ids 0..3
MASK = "<mask>"  # appended after dict.txt by fairseq's masked_lm / sentence_prediction tasks
HEAD = (
    "sentence_classification_head"  # the classification head fairseq's sentence_prediction trains
)
LN_EPS = 1e-5  # fairseq's LayerNorm eps (fixed)
UNK_ALIASES = "unk_aliases"  # config.json's minimodel_fairseq entry: ids that are <unk> to fairseq
ALIAS_BIAS = (
    -1e4
)  # LM-head bias of those ids: never predicted (exp underflows to 0), finite in fp16

# model_type -> (masked-LM class, classification class, base-model attribute, layout)
FAMILIES = {
    "roberta": ("RobertaForMaskedLM", "RobertaForSequenceClassification", "roberta", "post"),
    "xlm-roberta": (
        "XLMRobertaForMaskedLM",
        "XLMRobertaForSequenceClassification",
        "roberta",
        "post",
    ),
    "roberta-prelayernorm": (
        "RobertaPreLayerNormForMaskedLM",
        "RobertaPreLayerNormForSequenceClassification",
        "roberta_prelayernorm",
        "pre_embedding_ln",
    ),
    "xlm-roberta-xl": (
        "XLMRobertaXLForMaskedLM",
        "XLMRobertaXLForSequenceClassification",
        "roberta",
        "pre",
    ),
}
# layout -> (fairseq encoder_normalize_before, layernorm_embedding)
LAYOUTS = {"post": (False, True), "pre_embedding_ln": (True, True), "pre": (True, False)}
ACCEPTED = ", ".join(f[0] for f in FAMILIES.values())

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
)
# Hugging Face tensors that have no fairseq counterpart and carry nothing the model computes with
# (the pooler is not used by *ForMaskedLM; position_ids are buffers; the decoder is tied).
IGNORED = re.compile(
    r"(^|\.)(pooler\.|embeddings\.position_ids$|embeddings\.token_type_ids$|"
    r"lm_head\.decoder\.(weight|bias)$)"
)
PLACEHOLDER = re.compile(r"^madeupword\d{4}$")  # fairseq-preprocess pads dict.txt with these

ENC = "encoder.sentence_encoder."
POSITIONS = ENC + "embed_positions.weight"


# --------------------------------------------------------------------------- key mapping


def _key_map(layout, base, layers, lm_head=True, classifier=False):
    """[(fairseq name, Hugging Face name)] for every tensor the two models share."""
    pairs = [
        (TOKENS, f"{base}.embeddings.word_embeddings.weight"),
        (POSITIONS, f"{base}.embeddings.position_embeddings.weight"),
    ]
    wb = ("weight", "bias")
    if LAYOUTS[layout][1]:
        pairs += [(f"{ENC}layernorm_embedding.{x}", f"{base}.embeddings.LayerNorm.{x}") for x in wb]
    attn_ln, ffn_ln = {
        "post": ("attention.output.LayerNorm", "output.LayerNorm"),
        "pre_embedding_ln": ("attention.LayerNorm", "intermediate.LayerNorm"),
        "pre": ("attention.self_attn_layer_norm", "LayerNorm"),
    }[layout]
    for i in range(layers):
        fs, hf = f"{ENC}layers.{i}.", f"{base}.encoder.layer.{i}."
        for a, b in (
            ("self_attn.q_proj", "attention.self.query"),
            ("self_attn.k_proj", "attention.self.key"),
            ("self_attn.v_proj", "attention.self.value"),
            ("self_attn.out_proj", "attention.output.dense"),
            ("self_attn_layer_norm", attn_ln),
            ("fc1", "intermediate.dense"),
            ("fc2", "output.dense"),
            ("final_layer_norm", ffn_ln),
        ):
            pairs += [(f"{fs}{a}.{x}", f"{hf}{b}.{x}") for x in wb]
    final_ln = {"pre_embedding_ln": f"{base}.LayerNorm", "pre": f"{base}.encoder.LayerNorm"}.get(
        layout
    )
    if final_ln:
        pairs += [(f"{ENC}layer_norm.{x}", f"{final_ln}.{x}") for x in wb]
    if lm_head:
        pairs += [
            (f"encoder.lm_head.{m}.{x}", f"lm_head.{m}.{x}")
            for m in ("dense", "layer_norm")
            for x in wb
        ]
        pairs += [("encoder.lm_head.bias", "lm_head.bias")]
    if classifier:
        pairs += [
            (f"classification_heads.{HEAD}.{m}.{x}", f"classifier.{m}.{x}")
            for m in ("dense", "out_proj")
            for x in wb
        ]
    return pairs


def _folded_rows(positions, pad=1):
    """Position rows that Hugging Face adds the token-type row to: all but the padding row."""
    import torch

    rows = torch.ones(positions.size(0), dtype=torch.bool)
    rows[pad] = False
    return rows


# --------------------------------------------------------------------------- self-check

CHECK_TOL = 1e-4  # largest accepted |logit difference| between the two models of a conversion
CHECK_LENGTHS = (16, 11, 6, 3)  # one short padded batch, <s> and </s> included: cheap at 250k rows


def _check_inputs(rows, max_positions):
    """The self-check's batch: random ids of the ``rows`` (no specials) between <s> and </s>, right-padded."""
    import torch

    g = torch.Generator().manual_seed(0)
    lengths = [min(n, max_positions) for n in CHECK_LENGTHS]
    ids = torch.full((len(lengths), max(lengths)), SPECIALS.index("<pad>"))
    for i, n in enumerate(lengths):
        ids[i, 0], ids[i, n - 1] = SPECIALS.index("<s>"), SPECIALS.index("</s>")
        ids[i, 1 : n - 1] = torch.randint(len(SPECIALS), rows - 1, (n - 2,), generator=g)
    return ids


def _self_check(fairseq_model, hf_model, rows, max_positions, classifier=False):
    """Compare the two models' logits on :func:`_check_inputs`; refuse above :data:`CHECK_TOL`.

    Masked LM: the logits over the fairseq dictionary's ``rows`` at non-padding positions
    (export's alias rows after them are not fairseq's); classifier: the class logits.
    """
    import torch

    ids = _check_inputs(rows, max_positions)
    real = ids.ne(SPECIALS.index("<pad>"))
    fairseq_model.eval(), hf_model.eval()
    with torch.no_grad():
        theirs = hf_model(input_ids=ids, attention_mask=real.long()).logits
        if classifier:
            ours = fairseq_model(ids, features_only=True, classification_head_name=HEAD)[0]
        else:
            ours, theirs = fairseq_model(ids)[0][real], theirs[..., :rows][real]
    diff = (ours.float() - theirs.float()).abs().max().item()
    what = "classification" if classifier else "masked-LM"
    if not diff <= CHECK_TOL:  # NaN too
        raise CheckpointError(
            f"self-check failed: the Hugging Face and fairseq models' {what} logits differ by up "
            f"to {diff:.2e} on {len(ids)} inputs (tolerance {CHECK_TOL:g}): a conversion bug, "
            f"please report it (--no-check skips the check)"
        )
    return {"max_abs_diff": diff, "inputs": len(ids), "logits": what, "tolerance": CHECK_TOL}


SKIPPED = {"skipped": "--no-check"}  # the self-check entry of a conversion written without it


# --------------------------------------------------------------------------- output directories


def _write_dir(out, force, write):
    """``write(tmp)`` into a fresh directory beside ``out``, then rename it onto ``out``.

    On any error the temporary directory is removed and ``out`` is as it was; an existing
    ``out`` is replaced (only with ``force``) by renaming, not by writing into it.
    """
    out = refuse_existing_output(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    with terminate_cleanly():
        tmp = temporary_dir(out, ".tmp")  # 0755 under umask 022, as a plain mkdir
        try:
            result = write(tmp)
            old = None
            if out.exists():
                old = (
                    Path(
                        tempfile.mkdtemp(
                            prefix=temporary_prefix(out), suffix=".old", dir=out.parent
                        )
                    )
                    / "old"
                )
                os.replace(out, old)
            os.replace(tmp, out)
            if old is not None:
                shutil.rmtree(old.parent, ignore_errors=True)
            return result
        except BaseException as e:
            written = (
                sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) if tmp.exists() else 0
            )
            shutil.rmtree(tmp, ignore_errors=True)
            raise_disk_full(e, out, written)
            raise


def _quiet_transformers():
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


# --------------------------------------------------------------------------- import


def _read_config(src):
    if not src.is_dir():
        raise CheckpointError(
            f"{src} is not a directory: give a Hugging Face model directory (config.json, "
            f"weights, tokenizer files)"
        )
    path = src / "config.json"
    if not path.is_file():
        raise CheckpointError(
            f"{src} has no config.json: not a Hugging Face model directory (found: "
            f"{_listing(src)}); import-hf reads {ACCEPTED}"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"cannot read {path}: {e}") from None
    model_type = config.get("model_type")
    archs = config.get("architectures") or []
    found = f"model_type {model_type!r}" + (f", {'/'.join(archs)}" if archs else "")
    if model_type not in FAMILIES:
        raise CheckpointError(
            f"{src} holds a model of another family ({found}): import-hf reads {ACCEPTED} "
            f"(RoBERTa-family masked LMs)"
        )
    mlm = FAMILIES[model_type][0]
    if archs and mlm not in archs:
        raise CheckpointError(
            f"{src} holds a {'/'.join(archs)}, not a masked LM: import-hf needs the {mlm} "
            f"(with its LM head, which MiniPost and step 2 use); import the pretrained model"
        )
    problems = []
    if config.get("is_decoder") or config.get("add_cross_attention"):
        problems.append("is_decoder/add_cross_attention is set (fairseq's RoBERTa is an encoder)")
    if config.get("hidden_act", "gelu") != "gelu":
        problems.append(
            f"hidden_act is {config['hidden_act']!r} (the LM head uses gelu in both libraries; "
            f"only gelu layers map exactly)"
        )
    if config.get("position_embedding_type", "absolute") != "absolute":
        problems.append(
            f"position_embedding_type is {config['position_embedding_type']!r} (fairseq: absolute)"
        )
    if config.get("pad_token_id", 1) != 1:
        problems.append(
            f"pad_token_id is {config['pad_token_id']} (fairseq's padding index, and the position "
            f"offset, is 1)"
        )
    if config.get("tie_word_embeddings", True) is False:
        problems.append(
            "tie_word_embeddings is false (the method ties the LM head to the token embeddings)"
        )
    if problems:
        raise CheckpointError(
            f"{src} ({found}) cannot be a fairseq RoBERTa: " + "; ".join(problems)
        )
    return config


def _listing(d, limit=8):
    names = sorted(p.name for p in Path(d).iterdir()) if Path(d).is_dir() else []
    return (
        ", ".join(names[:limit]) + (f" ... ({len(names)} files)" if len(names) > limit else "")
        or "nothing"
    )


def _load_weights(src):
    """The state dict of a Hugging Face directory (safetensors, or a PyTorch bin read with weights_only)."""
    import torch

    for name in WEIGHT_FILES:
        if (src / name).is_file():
            break
    else:
        raise CheckpointError(
            f"{src} has no weights: expected {' or '.join(WEIGHT_FILES[::2])} (found: "
            f"{_listing(src)})"
        )
    files = [src / name]
    if name.endswith(".index.json"):
        try:
            index = json.loads(files[0].read_text(encoding="utf-8"))
            files = [src / f for f in sorted(set(index["weight_map"].values()))]
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"cannot read {files[0]}: {e}") from None
    state = {}
    for f in files:
        try:
            if f.name.endswith(".safetensors"):
                from safetensors.torch import load_file

                state.update(load_file(str(f)))
            else:
                state.update(torch.load(str(f), map_location="cpu", weights_only=True))
        except Exception as e:  # truncated, corrupt, missing shard, pickled code (weights_only)
            raise CheckpointError(
                f"cannot read weights {f} ({type(e).__name__}: {str(e)[:200]}): the file is "
                f"truncated, corrupt or not a weights file; re-download it"
            ) from None
    return state, name


def _tokenizer_vocab(src, rows, aliases=0):
    """The directory's tokenizer (checked: fairseq's special ids) and its id -> token list (``rows`` long).

    ``aliases``: ids after the ``rows`` that export-hf gave to pieces fairseq reads as <unk>.
    """
    files = [n for n in TOKENIZER_FILES if (src / n).is_file()]
    if not any(
        n in files
        for n in (
            "tokenizer.json",
            "sentencepiece.bpe.model",
            "spiece.model",
            "tokenizer.model",
            "vocab.json",
        )
    ):
        raise CheckpointError(
            f"{src} has no tokenizer (tokenizer.json, sentencepiece.bpe.model or vocab.json + "
            f"merges.txt): step 3 and MiniPost need the model's own tokenizer; copy its "
            f"tokenizer files into {src}"
        )
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(src))
    except Exception as e:
        raise CheckpointError(
            f"cannot load the tokenizer of {src} ({type(e).__name__}: {str(e)[:200]})"
        ) from None
    vocab = tok.get_vocab()
    ids = {
        name: tok.convert_tokens_to_ids(getattr(tok, name)) if getattr(tok, name, None) else None
        for name in ("bos_token", "pad_token", "eos_token", "unk_token", "mask_token")
    }
    want = {"bos_token": 0, "pad_token": 1, "eos_token": 2, "unk_token": 3, "mask_token": rows - 1}
    if ids != want or max(vocab.values()) >= rows + aliases:
        found = ", ".join(f"{getattr(tok, k, None)}={v}" for k, v in ids.items())
        raise CheckpointError(
            f"the tokenizer of {src} does not have fairseq's special ids (<s>=0, <pad>=1, </s>=2, <unk>=3, <mask> "
            f"last = {rows - 1}, no id beyond the {rows} embedding rows): found {found}, largest id "
            f"{max(vocab.values())}; import-hf does not reorder a vocabulary"
        )
    tokens = [None] * rows
    for t, i in vocab.items():
        if i < rows:
            tokens[i] = t
    return tok, tokens, files


def _dictionary_symbols(tokens):
    """dict.txt symbols for ids 4 .. rows-2: the token strings where fairseq can read them back.

    A symbol must be unique and contain no whitespace (fairseq splits lines on it); other
    ids (and ids the tokenizer does not use) get fairseq's placeholder ``madeupwordNNNN``.
    """
    used = set(SPECIALS) | {MASK}
    ok = [t if t and not re.search(r"\s", t) and t not in used else None for t in tokens[4:-1]]
    counts = {}
    for t in ok:
        if t is not None:
            counts[t] = counts.get(t, 0) + 1
    ok = [t if t is not None and counts[t] == 1 else None for t in ok]
    taken = set(t for t in ok if t)
    symbols, k = [], 0
    for t in ok:
        if t is None:
            while f"madeupword{k:04d}" in taken:
                k += 1
            t = f"madeupword{k:04d}"
            k += 1
        symbols.append(t)
    return symbols, k


def _fairseq_args(data_dir, sizes, layout, dropout):
    """The model config of a fairseq checkpoint, as ``fairseq-train --task masked_lm --arch roberta`` makes it."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from omegaconf import OmegaConf

    normalize_before, layernorm_embedding = LAYOUTS[layout]
    argv = [
        str(data_dir),
        "--task",
        "masked_lm",
        "--criterion",
        "masked_lm",
        "--arch",
        "roberta",
        "--encoder-layers",
        str(sizes["layers"]),
        "--encoder-embed-dim",
        str(sizes["dim"]),
        "--encoder-ffn-embed-dim",
        str(sizes["ffn"]),
        "--encoder-attention-heads",
        str(sizes["heads"]),
        "--max-positions",
        str(sizes["max_positions"]),
        "--tokens-per-sample",
        str(sizes["max_positions"]),
        "--activation-fn",
        "gelu",
        "--dropout",
        str(dropout[0]),
        "--attention-dropout",
        str(dropout[1]),
        "--pooler-dropout",
        str(dropout[2]),
    ]
    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    args.encoder_normalize_before, args.layernorm_embedding = normalize_before, layernorm_embedding
    hydra_log = logging.getLogger("hydra")
    level = hydra_log.level
    try:
        hydra_log.setLevel(logging.WARNING)
        with (
            warnings.catch_warnings()
        ):  # hydra's deprecation notices, inside fairseq's own conversion
            warnings.simplefilter("ignore")
            cfg = OmegaConf.to_container(
                convert_namespace_to_omegaconf(args), resolve=True, enum_to_str=True
            )
    finally:
        hydra_log.setLevel(level)
    cfg["model"].encoder_normalize_before = normalize_before
    cfg["model"].layernorm_embedding = layernorm_embedding
    return cfg


def _build_fairseq(cfg, dictionary, weights):
    """A fairseq RoBERTa from ``cfg`` (and the classification heads ``weights`` hold) with ``weights`` loaded strictly."""
    import copy
    from types import SimpleNamespace

    from fairseq.models.roberta import RobertaModel

    model = RobertaModel.build_model(
        copy.deepcopy(cfg["model"]), SimpleNamespace(source_dictionary=dictionary)
    )
    for k in weights:
        if k.startswith("classification_heads.") and k.endswith(".out_proj.weight"):
            name = k.split(".")[1]
            model.register_classification_head(
                name,
                num_classes=weights[k].shape[0],
                inner_dim=weights[f"classification_heads.{name}.dense.weight"].shape[0],
            )
    missing, unexpected = model.load_state_dict(
        dict(weights), strict=False
    )  # (fairseq's upgrade edits the dict)
    state = model.state_dict()
    if missing or unexpected or set(state) != set(weights):  # a mapping bug, not a user error
        raise AssertionError(
            f"fairseq model does not match the mapped weights: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, differ {sorted(set(state) ^ set(weights))[:5]}"
        )
    return model


def import_hf(src, out, force=False, check=True) -> dict:
    """Hugging Face masked LM directory ``src`` -> fairseq checkpoint directory ``out``; returns import.json.

    ``check``: compare the fairseq model's logits with transformers' own load of ``src`` first.
    """
    import torch
    from fairseq.data import Dictionary

    src = Path(src)
    out = refuse_existing_output(out, force)
    config = _read_config(src)
    model_type = config["model_type"]
    mlm_class, _, base, layout = FAMILIES[model_type]
    hf, weights_file = _load_weights(src)
    _quiet_transformers()

    def get(name):
        if name in hf:
            return hf[name]
        raise CheckpointError(
            f"{src}/{weights_file} lacks {name}: not a complete {mlm_class} (found "
            f"{len(hf)} tensors, e.g. {', '.join(sorted(hf)[:3])})"
        )

    layers = 1 + max(
        (int(m.group(1)) for k in hf if (m := re.match(rf"{base}\.encoder\.layer\.(\d+)\.", k))),
        default=-1,
    )
    words = get(f"{base}.embeddings.word_embeddings.weight")
    if layers < 1:
        raise CheckpointError(
            f"{src}/{weights_file} has no transformer layers under {base}.encoder.layer.N: "
            f"not a {mlm_class}"
        )
    decoder = hf.get("lm_head.decoder.weight")
    if decoder is not None and not torch.equal(decoder, words):
        raise CheckpointError(
            f"{src}: the LM head's decoder is not tied to the token embeddings; the method "
            f"needs a tied LM head (fairseq's RoBERTa ties them)"
        )
    pairs = _key_map(layout, base, layers)
    mapped = {hf_name for _, hf_name in pairs}
    type_name = f"{base}.embeddings.token_type_embeddings.weight"
    unexpected = [k for k in hf if k not in mapped and k != type_name and not IGNORED.search(k)]
    if unexpected:
        raise CheckpointError(
            f"{src}/{weights_file} has tensors a {mlm_class} does not have ({len(unexpected)}, "
            f"e.g. {', '.join(unexpected[:3])}): another architecture; import-hf reads {ACCEPTED}"
        )
    if "lm_head.bias" not in hf and "lm_head.decoder.bias" in hf:
        hf["lm_head.bias"] = hf["lm_head.decoder.bias"]
    weights = {fs: get(hf_name).float() for fs, hf_name in pairs}
    aliases = (config.get("minimodel_fairseq") or {}).get(UNK_ALIASES)
    if aliases:  # written by export-hf: rows that repeat <unk> for pieces outside the dictionary
        first = aliases["first_id"]
        unk = weights[TOKENS][SPECIALS.index("<unk>")]
        if (
            weights[TOKENS].shape[0] != first + aliases["count"]
            or not (weights[TOKENS][first:] == unk).all()
        ):
            raise CheckpointError(
                f"{src}/config.json says ids from {first} repeat <unk> ({UNK_ALIASES}), but the "
                f"embedding rows do not: the directory was changed after export-hf"
            )
        weights[TOKENS] = weights[TOKENS][:first]
        weights["encoder.lm_head.bias"] = weights["encoder.lm_head.bias"][:first]
    weights["encoder.lm_head.weight"] = weights[TOKENS]
    # without it, fairseq takes the weights for a version-1 encoder and drops the final LayerNorm
    weights[ENC + "version"] = torch.Tensor([3])

    rows, dim = weights[TOKENS].shape
    heads = config.get("num_attention_heads")
    sizes = {
        "layers": layers,
        "dim": dim,
        "ffn": weights[f"{ENC}layers.0.fc1.weight"].shape[0],
        "heads": heads,
        "max_positions": weights[POSITIONS].shape[0] - 2,
    }
    if not heads or dim % heads:
        raise CheckpointError(
            f"{src}/config.json: num_attention_heads {heads!r} does not divide hidden size {dim}"
        )

    # fairseq has no token types: fold row 0 (the type every token gets) into the position rows.
    token_types = hf.get(type_name)
    unfolded = None
    if token_types is not None and token_types.abs().sum() > 0:
        token_types = token_types.float()
        unfolded = {
            "position_embeddings": weights[POSITIONS].clone(),
            "token_type_embeddings": token_types.clone(),
        }
        rows_ = _folded_rows(weights[POSITIONS])
        weights[POSITIONS] = weights[POSITIONS].clone()
        weights[POSITIONS][rows_] += token_types[0]

    tok, tokens, tok_files = _tokenizer_vocab(src, rows, aliases["count"] if aliases else 0)
    symbols, placeholders = _dictionary_symbols(tokens)
    dropout = (
        config.get("hidden_dropout_prob", 0.1),
        config.get("attention_probs_dropout_prob", 0.1),
        config.get("classifier_dropout") or config.get("hidden_dropout_prob", 0.1),
    )
    cfg = _fairseq_args(out.resolve(), sizes, layout, dropout)
    eps = config.get("layer_norm_eps", LN_EPS)
    summary = {
        "source": str(src.resolve()),
        "class": mlm_class,
        "model_type": model_type,
        "layout": {
            "post": "post-norm",
            "pre_embedding_ln": "pre-norm, embedding LayerNorm",
            "pre": "pre-norm, no embedding LayerNorm",
        }[layout],
        "fairseq": {
            "arch": "roberta",
            "encoder_layers": layers,
            "encoder_embed_dim": dim,
            "encoder_ffn_embed_dim": sizes["ffn"],
            "encoder_attention_heads": heads,
            "max_positions": sizes["max_positions"],
            "encoder_normalize_before": LAYOUTS[layout][0],
            "layernorm_embedding": LAYOUTS[layout][1],
        },
        "embedding_rows": rows,
        "dict_symbols": len(symbols),
        "placeholder_symbols": placeholders,
        "unk_alias_ids": aliases["count"] if aliases else 0,
        "weights": weights_file,
        "dtype": str(words.dtype).replace("torch.", ""),
        "token_types_folded_into_positions": unfolded is not None,
        "layer_norm_eps": eps,
        "tokenizer": type(tok).__name__,
        "tokenizer_files": tok_files,
    }
    from . import surgery

    origin = {
        "hf_class": mlm_class,
        "hf_model_type": model_type,
        "hf_type_vocab_size": config.get("type_vocab_size", 1),
    }
    if unfolded is not None:
        origin["hf_unfolded"] = (
            unfolded  # the original tensors, so that export gives them back exactly
        )
    note = {"made_by": "import-hf", "source": summary["source"], surgery.HF_ORIGIN_KEY: origin}
    if eps != LN_EPS:
        summary["note"] = (
            f"layer_norm_eps {eps} in config.json; fairseq's LayerNorm uses {LN_EPS}: outputs "
            f"differ slightly (the self-check compares at {LN_EPS})"
        )

    dictionary = Dictionary()
    for s in symbols:
        dictionary.add_symbol(s)
    dictionary.add_symbol(MASK)
    fairseq_model = _build_fairseq(cfg, dictionary, weights)
    summary["self_check"] = SKIPPED
    if check:
        import transformers

        try:  # the reference: the source as transformers itself loads it
            reference = getattr(transformers, mlm_class).from_pretrained(
                str(src), dtype=torch.float32, layer_norm_eps=LN_EPS
            )
        except Exception as e:
            raise CheckpointError(
                f"transformers cannot load {src} for the self-check ({type(e).__name__}: "
                f"{str(e)[:200]}); --no-check skips it"
            ) from None
        summary["self_check"] = _self_check(fairseq_model, reference, rows, sizes["max_positions"])
        del reference

    def write(tmp):
        lines = [f"{s} {0 if PLACEHOLDER.match(s) else 1}\n" for s in symbols]
        (tmp / "dict.txt").write_text("".join(lines), encoding="utf-8")
        loaded = Dictionary.load(str(tmp / "dict.txt"))
        loaded.add_symbol(MASK)
        assert loaded.symbols == dictionary.symbols, (len(loaded), rows)
        state = {
            "args": None,
            "cfg": cfg,
            "model": fairseq_model.state_dict(),
            "optimizer_history": [
                {
                    "criterion_name": "MaskedLmLoss",
                    "optimizer_name": None,
                    "lr_scheduler_state": {"best": None},
                    "num_updates": 0,
                }
            ],
            "extra_state": {},
            "last_optimizer_state": None,
            "minimodel": note,
        }
        summary["big_model"] = surgery.big_model_of(state)  # provenance: a big model of its own
        torch.save(state, tmp / "model.pt")
        (tmp / "tokenizer").mkdir()
        for name in tok_files:
            shutil.copy2(src / name, tmp / "tokenizer" / name)
        if "tokenizer_config.json" not in tok_files or "tokenizer_class" not in json.loads(
            (src / "tokenizer_config.json").read_text(encoding="utf-8")
        ):
            shutil.copy2(
                src / "config.json", tmp / "tokenizer" / "config.json"
            )  # AutoTokenizer's class
        from transformers import AutoTokenizer

        if AutoTokenizer.from_pretrained(str(tmp / "tokenizer")).get_vocab() != tok.get_vocab():
            raise CheckpointError(
                f"the tokenizer copied from {src} loads with another vocabulary than in place"
            )
        (tmp / "import.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        return summary

    return _write_dir(out, force, write)


class ImportedTokenizer:
    """An imported model's own tokenizer speaking fairseq's ``dict.txt`` symbols (fairseq id == HF id).

    ``import_dir`` is the ``--out`` of :func:`import_hf` (``tokenizer/`` and ``dict.txt``). Data
    preparation encodes with it (:func:`encode_as_symbols`), and so does fairseq's hub through
    the plugin's ``--bpe hf_tokenizer`` (``encoders/hf_tokenizer.py``).
    """

    def __init__(self, import_dir):
        from fairseq.data import Dictionary
        from transformers import AutoTokenizer

        _quiet_transformers()
        import_dir = Path(import_dir)
        for need in (import_dir / "dict.txt", import_dir / "tokenizer"):
            if not need.exists():
                raise CheckpointError(
                    f"{import_dir} lacks {need.name}: give the output directory of "
                    f"'minimodel import-hf' (dict.txt and tokenizer/)"
                )
        self.tok = AutoTokenizer.from_pretrained(str(import_dir / "tokenizer"))
        self.dictionary = Dictionary.load(str(import_dir / "dict.txt"))
        self.dictionary.add_symbol(MASK)

    def encode(self, lines):
        """Lines of text -> lines of dict symbols (no ``<s>``/``</s>``: fairseq adds them)."""
        symbols = self.dictionary.symbols
        return [
            " ".join(
                symbols[i] if i < len(symbols) else "<unk>" for i in ids
            )  # past it: export's <unk> aliases
            for ids in self.tok(list(lines), add_special_tokens=False)["input_ids"]
        ]

    def decode(self, line):
        """A line of dict symbols -> text, as the Hugging Face tokenizer decodes their ids."""
        return self.tok.decode([self.dictionary.index(s) for s in line.split()])

    def is_beginning_of_word(self, symbol):
        token = self.tok.convert_ids_to_tokens(self.dictionary.index(symbol))
        return isinstance(token, str) and token[:1] in ("▁", "Ġ")  # sentencepiece's ▁, byte BPE's Ġ


def encode_as_symbols(import_dir, lines):
    """Lines of text -> lines of ``dict.txt`` symbols, split by an imported model's own tokenizer.

    ``import_dir`` is the ``--out`` of :func:`import_hf`. The symbols are those of its
    dict.txt, id for id, so ``fairseq-preprocess --srcdict import_dir/dict.txt`` gives the
    Hugging Face tokenizer's ids (without ``<s>``/``</s>``: fairseq adds them).
    """
    return ImportedTokenizer(import_dir).encode(lines)


# --------------------------------------------------------------------------- export: tokenizer


def _read_spm(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(Path(path).read_bytes())
    except Exception as e:
        raise CheckpointError(
            f"cannot read sentencepiece model {path} ({type(e).__name__}: {e})"
        ) from None
    t, n = proto.trainer_spec, proto.normalizer_spec
    unsupported = []
    if t.model_type != 1:
        unsupported.append("it is not a unigram model")
    if t.byte_fallback:
        unsupported.append("byte_fallback is on")
    if not (n.add_dummy_prefix and n.remove_extra_whitespaces and n.escape_whitespaces):
        unsupported.append(
            "add_dummy_prefix/remove_extra_whitespaces/escape_whitespaces are not all on"
        )
    if not t.split_by_whitespace or t.treat_whitespace_as_suffix:
        unsupported.append("split_by_whitespace is off or treat_whitespace_as_suffix is on")
    if not proto.pieces or unsupported:
        raise CheckpointError(
            f"sentencepiece model {path}: {'; '.join(unsupported) or 'no pieces'}: export-hf "
            f"builds tokenizers for unigram models trained with sentencepiece's defaults "
            f"(as data preparation trains them)"
        )
    return proto


def build_tokenizer(spm_model, dictionary, max_positions):
    """A fast tokenizer for a fairseq ``dictionary`` (with ``<mask>`` last) and its sentencepiece model.

    The model is sentencepiece's own unigram lattice: every piece with its sentencepiece
    score, so that Viterbi finds sentencepiece's segmentation. A piece that is in the
    dictionary has the dictionary's id. A piece that is not (fairseq reads it as ``<unk>``)
    gets an *alias* id after the dictionary's rows (``len(dictionary)`` ...); export gives
    those rows copies of the ``<unk>`` embedding, so the model computes exactly what fairseq
    computes. Leaving such pieces out of the lattice instead would make Viterbi segment
    around them differently. Normalization is sentencepiece's (its precompiled charsmap),
    then whitespace split and the ``▁`` prefix (add_dummy_prefix). Rows that are not pieces
    (fairseq's madeupword padding) get names no text can match. Returns (tokenizer, facts).
    """
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    proto = _read_spm(spm_model)
    pieces = {p.piece: p.score for p in proto.pieces if p.type in (1, 4)}  # normal, user-defined
    # The lowest normal piece's score sets the unknown-character penalty (min - 10) in both
    # libraries (tokenizers takes the minimum over its whole vocabulary): no entry goes below it.
    floor = min(p.score for p in proto.pieces if p.type == 1)
    vocab, unreachable, not_pieces = [], 0, []
    for i, s in enumerate(dictionary.symbols):
        if i < len(SPECIALS) or s == MASK:
            vocab.append((s, 0.0))
        elif s in pieces:
            vocab.append((s, pieces[s]))
        elif PLACEHOLDER.match(s):
            vocab.append(
                (f"<{s} unused>", floor)
            )  # contains a space: no pre-tokenized word ever does
            unreachable += 1
        else:  # e.g. the surface of a character sentencepiece left out (character_coverage < 1)
            vocab.append((s, floor))
            not_pieces.append(s)
    aliases = [p for p in pieces if p not in dictionary.indices]
    vocab += [(p, pieces[p]) for p in aliases]
    tok = Tokenizer(Unigram(vocab, unk_id=SPECIALS.index("<unk>"), byte_fallback=False))
    charsmap = proto.normalizer_spec.precompiled_charsmap
    if charsmap:
        tok.normalizer = normalizers.Precompiled(charsmap)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    # as fairseq's hub.encode: "<s> " + pieces + " </s>" (pairs: "</s> </s>" between)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    user = [p.piece for p in proto.pieces if p.type == 4]
    if user:  # sentencepiece never splits user-defined symbols
        tok.add_tokens([AddedToken(p, normalized=False, special=False) for p in user])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        mask_token=MASK,
        model_max_length=max_positions,
    )
    facts = {
        "construction": "sentencepiece's unigram lattice, ids = dict.txt's",
        "sentencepiece_pieces_not_in_dict": aliases,
        "dict_symbols_not_pieces": not_pieces,
        "unreachable_placeholder_rows": unreachable,
    }
    return fast, facts


# --------------------------------------------------------------------------- export


def _get(cfg, key, default=None):
    if cfg is None:
        return default
    if hasattr(cfg, "get"):
        return cfg.get(key, default)
    return getattr(cfg, key, default)


def _sources(state, is_classifier, spm, dict_path, tokenizer):
    """Where the dictionary and the tokenizer of ``state`` come from: (dict path, spm path, tokenizer dir, tried)."""
    data = _get(state["cfg"].get("task"), "data")
    note = state.get("minimodel") or {}
    swapped = note.get("language_data")  # swap-embeddings: the embeddings' language, not the body's
    sub = "input0" if is_classifier else ""
    tried = []
    if dict_path is None:
        candidates = (
            [Path(swapped) / "dict.txt"] if swapped else [Path(data or "") / sub / "dict.txt"]
        )
        if data and not swapped and not candidates[0].is_file():
            candidates.append(Path(data) / "dict.txt")
        tried += [str(c) for c in candidates]
        dict_path = next((c for c in candidates if c.is_file()), None)
    if tokenizer is None and spm is None:
        here = Path(swapped or data or "")
        for d in (here / "tokenizer", here.parent / "tokenizer"):
            if (swapped or data) and any((d / n).is_file() for n in TOKENIZER_FILES):
                return dict_path, None, d, tried
        candidates = []
        if swapped:
            candidates.append(Path(swapped).parent / "spm.model")
        else:
            bpe = state["cfg"].get("bpe")
            model_args = state["cfg"].get("model")
            recorded = _get(bpe, "sentencepiece_model") or _get(model_args, "sentencepiece_model")
            if recorded:
                candidates.append(Path(recorded))
            if data:
                candidates.append(Path(data).parent / "spm.model")
        tried += [str(c) for c in candidates]
        spm = next((c for c in candidates if c.is_file()), None)
    return dict_path, spm, tokenizer, tried


def _hf_config(cls_name, args, model, layers, rows, note, labels):
    """The Hugging Face config; sizes from the tensors themselves, the head count and dropout from ``args``."""
    import transformers

    config_cls = getattr(transformers, cls_name).config_class
    kw = dict(
        vocab_size=rows,
        hidden_size=model[TOKENS].shape[1],
        num_hidden_layers=layers,
        num_attention_heads=_get(args, "encoder_attention_heads"),
        intermediate_size=model[f"{ENC}layers.0.fc1.weight"].shape[0],
        hidden_act="gelu",
        hidden_dropout_prob=_get(args, "dropout", 0.1),
        attention_probs_dropout_prob=_get(args, "attention_dropout", 0.1),
        max_position_embeddings=model[POSITIONS].shape[0],
        type_vocab_size=note.get("hf_type_vocab_size", 1),
        layer_norm_eps=LN_EPS,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        classifier_dropout=_get(args, "pooler_dropout"),
        architectures=[cls_name],
        tie_word_embeddings=True,
    )
    if labels is not None:
        kw.update(
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={lab: i for i, lab in enumerate(labels)},
        )
    return config_cls(**kw)


def _labels(state, label_dict, num_classes):
    from fairseq.data import Dictionary

    data = _get(state["cfg"].get("task"), "data")
    path = Path(label_dict) if label_dict else Path(data or "") / "label" / "dict.txt"
    if not path.is_file():
        raise CheckpointError(
            f"label dictionary {path} not found: pass --label-dict (the label/dict.txt of the "
            f"classification data the classifier was trained on)"
        )
    d = Dictionary.load(str(path))
    if len(d) - d.nspecial < num_classes:
        raise CheckpointError(
            f"label dictionary {path} has {len(d) - d.nspecial} labels but the classifier has "
            f"{num_classes} outputs: give the label/dict.txt it was trained with"
        )
    return [d[i + d.nspecial] for i in range(num_classes)]


def export_hf(
    checkpoint,
    out,
    spm=None,
    dict_path=None,
    label_dict=None,
    tokenizer=None,
    force=False,
    check=True,
) -> dict:
    """fairseq RoBERTa checkpoint -> Hugging Face directory ``out``; returns what was written.

    ``check``: compare the Hugging Face model's logits with the checkpoint's fairseq model first.
    """
    import torch
    from fairseq.data import Dictionary

    from . import surgery

    out = refuse_existing_output(out, force)
    state = surgery.load_roberta_checkpoint(checkpoint)
    big = surgery.big_model_of(state)  # provenance: None where the checkpoint does not record it
    origin = (
        surgery.hf_origin(state) or {}
    )  # the class it was imported as, for every derived checkpoint
    notes = []
    if any(k.startswith(MINI_HEAD) for k in state["model"]):
        note, k = state.get("minimodel"), _get(state["cfg"]["model"], "mini_layer", "K")
        state = surgery.to_roberta(state)  # drops the secondary head and its LayerNorm
        state["minimodel"] = note
        notes.append(
            f"MiniJoint checkpoint: its primary model is exported; the secondary (mini) head at "
            f"layer {k} is not"
        )
    model, args = state["model"], state["cfg"]["model"]
    layers = surgery.num_layers(state)
    key = (
        bool(_get(args, "encoder_normalize_before", False)),
        bool(_get(args, "layernorm_embedding", True)),
    )
    layout = {v: k for k, v in LAYOUTS.items()}.get(key)
    problems = []
    if layout is None:
        problems.append("post-norm without embedding LayerNorm has no Hugging Face class")
    for name, want in (
        ("activation_fn", "gelu"),
        ("pooler_activation_fn", "tanh"),
        ("no_scale_embedding", True),
        ("untie_weights_roberta", False),
        ("encoder_learned_pos", True),
    ):
        if _get(args, name, want) != want:
            problems.append(f"{name} is {_get(args, name)!r} (Hugging Face's RoBERTa: {want!r})")
    if problems:
        raise CheckpointError(f"{checkpoint}: {'; '.join(problems)}")
    heads = sorted({k.split(".")[1] for k in model if k.startswith("classification_heads.")})
    is_classifier = HEAD in heads
    if set(heads) - {HEAD}:
        notes.append(f"classification heads not exported: {', '.join(sorted(set(heads) - {HEAD}))}")
    family = next(
        (f for f in FAMILIES.values() if f[0] == origin.get("hf_class") and f[3] == layout), None
    )
    family = family or next(f for f in FAMILIES.values() if f[3] == layout)
    cls_name, base = family[1] if is_classifier else family[0], family[2]

    rows = model[TOKENS].shape[0]
    dict_path, spm_path, tok_dir, tried = _sources(state, is_classifier, spm, dict_path, tokenizer)
    if dict_path is None:
        raise CheckpointError(
            f"no dictionary found for {checkpoint} (looked for {', '.join(tried) or 'none'}): "
            f"pass --dict (the dict.txt its embeddings were trained with)"
        )
    if not Path(dict_path).is_file():
        raise CheckpointError(f"dictionary {dict_path} does not exist: check the path")
    dictionary = Dictionary.load(str(dict_path))
    dictionary.add_symbol(MASK)
    if len(dictionary) != rows or tuple(dictionary.symbols[:4]) != SPECIALS:
        raise CheckpointError(
            f"dictionary mismatch: {dict_path} has {len(dictionary) - 1} symbols (+1 <mask>) but "
            f"the embeddings of {checkpoint} have {rows} rows: give the dict.txt of the language "
            f"the embeddings were trained on (--dict)"
        )
    if tok_dir is None and spm_path is None:
        raise CheckpointError(
            f"no sentencepiece model found for {checkpoint} (looked for "
            f"{', '.join(t for t in tried if t.endswith('.model')) or 'none'}): pass --spm MODEL "
            f"(the model data preparation encoded that language with) or --tokenizer DIR"
        )
    labels = None
    if is_classifier:
        labels = _labels(
            state, label_dict, model[f"classification_heads.{HEAD}.out_proj.weight"].shape[0]
        )
    _quiet_transformers()
    import transformers

    max_positions = (
        model[POSITIONS].shape[0] - 2
    )  # fairseq's offset: padding index 1, positions from 2
    if tok_dir is not None:
        tok_dir = Path(tok_dir)
        if not tok_dir.is_dir():
            raise CheckpointError(f"tokenizer directory {tok_dir} does not exist: check the path")
        tok = transformers.AutoTokenizer.from_pretrained(str(tok_dir))
        differ = [
            i
            for t, i in tok.get_vocab().items()
            if 4 <= i < rows - 1 and not PLACEHOLDER.match(dictionary[i]) and t != dictionary[i]
        ]
        if differ or tok.convert_tokens_to_ids(MASK) != rows - 1:
            raise CheckpointError(
                f"tokenizer {tok_dir} does not match {dict_path}: its ids are not the "
                f"dictionary's ({len(differ)} differ); give the tokenizer of that dictionary"
            )
        tok_facts = {"construction": f"copied from {tok_dir.resolve()}"}
    else:
        spm_path = Path(spm_path)
        if not spm_path.is_file():
            raise CheckpointError(f"sentencepiece model {spm_path} does not exist: check the path")
        tok, tok_facts = build_tokenizer(spm_path, dictionary, max_positions)
        tok_facts["sentencepiece_model"] = str(spm_path.resolve())

    # the tensors; ids past the dictionary (pieces fairseq reads as <unk>) get the <unk> row
    aliases = max(tok.get_vocab().values()) + 1 - rows
    hf_state = {
        hf_name: model[fs]
        for fs, hf_name in _key_map(
            layout, base, layers, lm_head=not is_classifier, classifier=is_classifier
        )
    }
    if aliases > 0:
        words = f"{base}.embeddings.word_embeddings.weight"
        unk = SPECIALS.index("<unk>")
        hf_state[words] = torch.cat(
            [hf_state[words], hf_state[words][unk : unk + 1].expand(aliases, -1)]
        )
        if (
            not is_classifier
        ):  # never predicted: the distribution over the dictionary stays fairseq's
            bias = hf_state["lm_head.bias"]
            hf_state["lm_head.bias"] = torch.cat(
                [bias, torch.full((aliases,), ALIAS_BIAS, dtype=bias.dtype)]
            )
    pos_name = f"{base}.embeddings.position_embeddings.weight"
    unfolded = origin.get("hf_unfolded")
    dim = model[TOKENS].shape[1]
    type_rows = origin.get("hf_type_vocab_size", 1)
    token_types = torch.zeros(type_rows, dim)
    if unfolded is not None:
        token_types = unfolded["token_type_embeddings"]
        folded = hf_state[pos_name].clone()
        mask = _folded_rows(folded)
        refolded = unfolded["position_embeddings"].clone()
        refolded[mask] += token_types[0]
        if torch.equal(
            refolded, folded
        ):  # positions unchanged since import: the original, bit for bit
            hf_state[pos_name] = unfolded["position_embeddings"]
        else:
            folded[mask] -= token_types[0]
            hf_state[pos_name] = folded
    hf_state[f"{base}.embeddings.token_type_embeddings.weight"] = token_types
    config = _hf_config(cls_name, args, model, layers, rows + max(aliases, 0), origin, labels)
    config.minimodel_fairseq = {
        "exported_from": str(Path(checkpoint).resolve()),
        "dict": str(Path(dict_path).resolve()),
        "tokenizer": tok_facts.get("construction"),
        **({"big_model": big} if big else {}),
        **({UNK_ALIASES: {"first_id": rows, "count": aliases}} if aliases > 0 else {}),
        **({"notes": notes} if notes else {}),
    }
    hf_model = getattr(transformers, cls_name)(config)
    missing, unexpected = hf_model.load_state_dict(hf_state, strict=False)
    missing = [k for k in missing if not k.startswith("lm_head.decoder.")]
    assert not missing and not unexpected, (missing, unexpected)  # a mapping bug, not a user error
    if not is_classifier:
        assert (
            hf_model.lm_head.decoder.weight.data_ptr()
            == hf_model.get_input_embeddings().weight.data_ptr()
        )
    self_check = SKIPPED
    if check:
        self_check = _self_check(
            _build_fairseq(state["cfg"], dictionary, model),
            hf_model,
            rows,
            max_positions,
            classifier=is_classifier,
        )
    hf_model.config.minimodel_fairseq["self_check"] = self_check

    def write(tmp):
        hf_model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        path = tmp / "tokenizer_config.json"
        tc = json.loads(path.read_text(encoding="utf-8"))
        if tc.get("tokenizer_class") == "TokenizersBackend":  # transformers 4 knows it by this name
            tc["tokenizer_class"] = "PreTrainedTokenizerFast"
            path.write_text(json.dumps(tc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    _write_dir(out, force, write)
    return {
        "out": str(out),
        "class": cls_name,
        "rows": rows,
        "aliases": max(aliases, 0),
        "labels": labels,
        "notes": notes,
        "self_check": self_check,
        "tokenizer": tok_facts,
        "dict": str(dict_path),
    }
