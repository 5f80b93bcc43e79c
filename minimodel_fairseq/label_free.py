"""Label-free measures of step-2 embeddings in the big model, and step-2 checkpoint choice.

The genre accuracy of step 4 depends on a step-3 fine-tuning seed; these do not:

- :class:`Retrieval`: cross-lingual verse retrieval (as Tatoeba/BUCC in XTREME).
  Each target-language verse of a split looks for its English verse among all
  the split's verses by cosine similarity of mean-pooled hidden states (padding
  excluded) of the big model, the target side with the step-2 embeddings
  swapped in, the English side with the big model's own. Top-1 accuracy in
  both directions, at every layer (one forward gives them all).
- :func:`mlm_loss`: masked-LM validation loss (bits per masked token, as
  fairseq logs it) with deterministic masking (fixed seed): of a step-2 model,
  or of the big model with its embeddings swapped in (:func:`big_with_embeddings`).
- :func:`choose_checkpoint`: the step-2 checkpoint of a run directory with the
  best of either measure on the target VALID split, as fairseq's
  best-checkpoint logic does (the first of equal values wins).

The controls (untrained random init; the shared init's copied rows alone) come
from :func:`control_embeddings`, made by ``surgery.new_language_embeddings`` as
step 2 makes its start. Checkpoint edits are ``surgery``'s.
"""

import copy
import math
import warnings
from pathlib import Path
from types import SimpleNamespace

import torch

from . import params, surgery
from .files import CheckpointError, atomic_write, refuse_existing_output

CONTROLS = ("random", "copy_only")
MEASURES = {
    "mlm": "min",
    "retrieval": "max",
}  # choose_checkpoint: lower loss / higher accuracy is better
# what decides the masked tokens of a split (fairseq's MaskedLMConfig fields); data and seed are given
MASKING = (
    "sample_break_mode",
    "tokens_per_sample",
    "mask_prob",
    "leave_unmasked_prob",
    "random_token_prob",
    "freq_weighted_replacement",
    "mask_multiple_length",
    "mask_stdev",
    "shorten_method",
    "shorten_data_split_list",
)


def _state(checkpoint):
    """A checkpoint state: given as one, or loaded (with surgery's checks) from a path."""
    return (
        checkpoint if isinstance(checkpoint, dict) else surgery.load_roberta_checkpoint(checkpoint)
    )


def masked_lm_dictionary(path):
    """A data dir's dict.txt as the masked-LM task that trained on it saw it (+ <mask>)."""
    from fairseq.data import Dictionary

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: give the data directory of the language (dict.txt)"
        )
    d = Dictionary.load(str(path))
    d.add_symbol("<mask>")
    return d


def _check_rows(dict_path, dictionary, weight, what):
    if len(dictionary) != weight.size(0):
        raise CheckpointError(
            f"dictionary mismatch: {dict_path} has {len(dictionary) - 1} symbols (+1 <mask>) but {what} "
            f"has {weight.size(0)} embedding rows: give the data of the language the embeddings belong to"
        )


def big_with_embeddings(big, step2, target_dict=None) -> dict:
    """The big model (a plain ``roberta`` checkpoint) with step 2's token embeddings and LM-head bias.

    ``step2`` may come from a step-2 run over any body of the big model (the full
    model or a mini-model): only its embeddings are used. The result's task
    settings are step 2's (it is a target-language masked LM now).
    """
    big, step2 = _state(big), _state(step2)
    out = surgery.swap_embeddings(
        surgery.to_roberta(big),
        step2,
        target_dict=target_dict,
        names=("the big model", "the step-2 checkpoint"),
    )
    if (step2.get("cfg") or {}).get("task"):
        out["cfg"] = {**out["cfg"], "task": copy.deepcopy(step2["cfg"]["task"])}
    return out


def control_embeddings(
    big, target_dict, kind, source_dict=None, init="shared_translit", seed=1, lang=None
) -> dict:
    """Untrained target embeddings made as step 2 starts, as a step-2-like state for :func:`big_with_embeddings`.

    ``kind`` ``random``: N(0, 0.02) (the paper's init); ``copy_only``: ``init``
    (``shared`` or ``shared_translit``), i.e. only the rows copied from the big
    model's embeddings carry anything. ``target_dict``/``source_dict`` are
    dict.txt paths (``source_dict``: the big model's language, for copy_only);
    ``lang``: the target's language code, for shared_translit's romanisation
    (step 2 takes it from its data directory's name, as the callers here do).
    """
    if kind not in CONTROLS:
        raise ValueError(f"control must be one of {', '.join(CONTROLS)}, got {kind!r}")
    big = _state(big)
    body_weight = big["model"][params.TOKENS]
    tgt = masked_lm_dictionary(target_dict)
    src = None
    if kind == "copy_only":
        src = masked_lm_dictionary(source_dict)
        _check_rows(source_dict, src, body_weight, "the big model")
    weight, copied = surgery.new_language_embeddings(
        tgt, body_weight, "random" if kind == "random" else init, src, seed=seed, lang=lang
    )
    return {
        "model": {params.TOKENS: weight, params.LM_HEAD_BIAS: torch.zeros(len(tgt))},
        "cfg": {},
        "minimodel": {
            "control": kind,
            "copied_rows": copied,
            surgery.BIG_MODEL_KEY: surgery.big_model_of(big),
        },
    }


def build_model(state, dictionary):
    """The RoBERTa model of a plain ``roberta`` checkpoint state, for ``dictionary``'s rows, in eval mode."""
    from fairseq.models.roberta import RobertaModel

    args = copy.deepcopy(state["cfg"]["model"])
    model = RobertaModel.build_model(args, SimpleNamespace(source_dictionary=dictionary))
    model.load_state_dict(state["model"], strict=True)
    return model.eval()


# --------------------------------------------------------------------------- retrieval


def default_layer(depth: int) -> int:
    """The middle layer (layer 0 is the embedding layer's output, ``depth`` the top)."""
    return depth // 2


def check_layer(layer, depth) -> int:
    """``layer``, or the middle one when None; refused outside 0..depth."""
    layer = default_layer(depth) if layer is None else layer
    if not 0 <= layer <= depth:
        raise ValueError(
            f"--layer must be between 0 and the big model's depth {depth}, got {layer}"
        )
    return layer


def read_refs(path):
    """(book, chapter, verse) per line of a ``cls.{split}.ref`` file ("code book chapter verse")."""
    refs = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if len(parts) != 4:
            raise ValueError(f"{path}:{n}: expected 'code book chapter verse', got {line!r}")
        refs.append(tuple(int(p) for p in parts[1:]))
    return refs


def align(source_refs, target_refs):
    """Index pairs (source, target) of the verses both splits hold, in the target's order."""
    where = {ref: i for i, ref in enumerate(source_refs)}
    pairs = [(where[ref], j) for j, ref in enumerate(target_refs) if ref in where]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def check_language_dir(lang_dir, subset) -> Path:
    """``lang_dir`` if it holds what retrieval reads of a split, else one error naming what is missing."""
    lang_dir = Path(lang_dir)
    needed = [f"raw/cls.{subset}.ref", "cls/input0/dict.txt", f"cls/input0/{subset}.idx"]
    missing = [n for n in needed if not (lang_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{lang_dir} lacks {', '.join(missing)}: give a language directory written by "
            f"data preparation (DATA/<lang>, with raw/ and cls/)"
        )
    return lang_dir


def read_verses(lang_dir, subset, dictionary):
    """refs and token tensors (``<s>`` ... ``</s>``, as sentence_prediction reads them) of a split.

    ``lang_dir`` is one language's output of data preparation (``raw/cls.SUBSET.ref``,
    ``cls/input0/SUBSET``).
    """
    from fairseq.data import data_utils

    lang_dir = check_language_dir(lang_dir, subset)
    ref_path, prefix = lang_dir / "raw" / f"cls.{subset}.ref", lang_dir / "cls" / "input0" / subset
    refs = read_refs(ref_path)
    dataset = data_utils.load_indexed_dataset(str(prefix), dictionary)
    if len(dataset) != len(refs):
        raise ValueError(
            f"{prefix} holds {len(dataset)} verses but {ref_path} {len(refs)}: "
            f"prepare the language again"
        )
    bos = torch.tensor([dictionary.bos()])
    return refs, [torch.cat([bos, dataset[i].long()]) for i in range(len(dataset))]


@torch.no_grad()
def pooled_states(model, verses, pad, batch_size=32):
    """Mean-pooled hidden states, padding excluded: (layers + 1, n, dim).

    Row 0 is the embedding layer's output, row i layer i's; the top row is the
    encoder's output (after a pre-norm model's final LayerNorm). Verses longer
    than the model's positions are cut, as sentence_prediction does.
    """
    from fairseq.data import data_utils

    limit = model.max_positions()
    verses = [v[:limit] for v in verses]
    order = sorted(range(len(verses)), key=lambda i: len(verses[i]))  # less padding
    out = None
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        tokens = data_utils.collate_tokens([verses[i] for i in idx], pad)
        top, extra = model.encoder.extract_features(tokens, return_all_hiddens=True)
        states = [s.transpose(0, 1) for s in extra["inner_states"][:-1]] + [top]  # B x T x C each
        keep = tokens.ne(pad).unsqueeze(-1).to(top.dtype)
        pooled = torch.stack([(s * keep).sum(1) / keep.sum(1) for s in states])
        if out is None:
            out = pooled.new_zeros(pooled.size(0), len(verses), pooled.size(2))
        out[:, idx] = pooled
    return out


def top1(target, source):
    """Top-1 retrieval accuracy (target -> source, source -> target) of aligned rows, by cosine."""
    t = torch.nn.functional.normalize(target.double(), dim=-1)
    s = torch.nn.functional.normalize(source.double(), dim=-1)
    sim = t @ s.T
    gold = torch.arange(sim.size(0))
    return (sim.argmax(1) == gold).double().mean().item(), (
        sim.argmax(0) == gold
    ).double().mean().item()


def _check_source_dictionary(path, dictionary, big):
    """The source side must be read with the dictionary the big model was trained with."""
    trained = surgery.training_dictionary(big)
    if trained is not None and trained.symbols != dictionary.symbols[:-1]:  # [:-1]: <mask>
        raise CheckpointError(
            f"{path} is not the dictionary the big model was trained with ({surgery.training_dictionary_path(big)}): "
            f"--source-data must be the directory of the language the big model was pretrained on"
        )
    _check_rows(
        path,
        dictionary,
        big["model"][params.TOKENS],
        "the big model (--source-data must be the language it was pretrained on)",
    )


class Retrieval:
    """Verse retrieval between a target language and the big model's language, for one big model.

    The big model and the source (English) side are loaded and encoded once;
    :meth:`score` then costs one pass over the target verses per step-2 checkpoint.

    ``lang_dir``/``source_dir``: data preparation's DATA/<lang> and DATA/en.
    """

    def __init__(self, big, lang_dir, source_dir, subset="test", batch_size=32):
        self.big = surgery.to_roberta(_state(big))
        self.lang_dir, self.source_dir, self.subset, self.batch_size = (
            Path(lang_dir),
            Path(source_dir),
            subset,
            batch_size,
        )
        self.source_dict_path = self.source_dir / "cls" / "input0" / "dict.txt"
        self.target_dict_path = self.lang_dir / "cls" / "input0" / "dict.txt"
        check_language_dir(self.lang_dir, subset), check_language_dir(self.source_dir, subset)
        self.target_dict = masked_lm_dictionary(self.target_dict_path)
        tgt_refs, tgt_verses = read_verses(self.lang_dir, subset, self.target_dict)
        src_dict = masked_lm_dictionary(self.source_dict_path)
        _check_source_dictionary(self.source_dict_path, src_dict, self.big)
        src_refs, src_verses = read_verses(self.source_dir, subset, src_dict)
        src_idx, tgt_idx = align(src_refs, tgt_refs)
        if len(src_idx) < 2:
            raise ValueError(
                f"only {len(src_idx)} verses of {self.lang_dir} and {self.source_dir} ({subset}) share "
                f"a book/chapter/verse reference: both must come from the same data preparation"
            )
        self.target_verses = [tgt_verses[j] for j in tgt_idx]
        self.n = len(tgt_idx)
        self.depth = surgery.num_layers(self.big)
        self.source_states = pooled_states(
            build_model(self.big, src_dict),
            [src_verses[i] for i in src_idx],
            src_dict.pad(),
            batch_size,
        )

    def score(self, step2) -> dict:
        """Top-1 accuracy per layer in both directions for a step-2 checkpoint (path or state)."""
        state = big_with_embeddings(self.big, step2, target_dict=self.target_dict_path)
        model = build_model(state, self.target_dict)
        target = pooled_states(model, self.target_verses, self.target_dict.pad(), self.batch_size)
        per_layer = [top1(target[i], self.source_states[i]) for i in range(target.size(0))]
        return {
            "target_to_source": [a for a, _ in per_layer],
            "source_to_target": [b for _, b in per_layer],
            "n": self.n,
            "chance": 1 / self.n,
        }

    def score_control(self, kind, init="shared_translit", seed=1) -> dict:
        """:meth:`score` of untrained embeddings (``random`` or ``copy_only``, see :func:`control_embeddings`)."""
        return self.score(
            control_embeddings(
                self.big,
                self.target_dict_path,
                kind,
                self.source_dict_path,
                init,
                seed,
                lang=self.lang_dir.resolve().name,
            )
        )


def retrieval_score(result, layer) -> float:
    """One number per checkpoint: the mean of both directions' top-1 accuracy at ``layer``."""
    return (result["target_to_source"][layer] + result["source_to_target"][layer]) / 2


# --------------------------------------------------------------------------- masked-LM loss


def mlm_data_dir(data) -> Path:
    """A masked-LM data dir: ``data`` itself (with dict.txt) or a language directory's ``mlm/``."""
    data = Path(data)
    for d in (data, data / "mlm"):
        if (d / "dict.txt").is_file():
            return d
    raise FileNotFoundError(
        f"{data} is not a masked-LM data directory (no dict.txt, no mlm/dict.txt): give "
        f"DATA/<lang>/mlm (or DATA/<lang>) as written by data preparation"
    )


def masking_settings(state) -> dict:
    """The masked-LM settings a checkpoint was trained with (those that decide which tokens are masked)."""
    task = (state.get("cfg") or {}).get("task") or {}
    return {k: task[k] for k in MASKING if k in task and task[k] is not None}


@torch.no_grad()
def mlm_loss(state, data, subset="valid", seed=1, batch_size=16, settings=None) -> dict:
    """Masked-LM loss of a plain ``roberta`` checkpoint state on ``data``'s split, in bits per masked token.

    fairseq's ``masked_lm`` task and criterion, as fairseq's validation computes
    them: the masking is seeded by (``seed``, epoch 1, verse), so every model
    scored with the same settings and seed sees the same masked tokens. The
    settings (tokens per sample, masking probabilities) are the checkpoint's own
    task's unless ``settings`` is given.
    """
    from fairseq.criterions.masked_lm import MaskedLmConfig, MaskedLmLoss
    from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

    data = mlm_data_dir(data)
    settings = masking_settings(state) if settings is None else settings
    task = MaskedLMTask.setup_task(MaskedLMConfig(data=str(data), seed=seed, **settings))
    _check_rows(
        data / "dict.txt", task.source_dictionary, state["model"][params.TOKENS], "the model"
    )
    model = build_model(state, task.source_dictionary)
    task.load_dataset(subset, epoch=1)
    dataset = task.dataset(subset)
    criterion = MaskedLmLoss(MaskedLmConfig(tpu=False), task)
    total, masked = 0.0, 0
    for start in range(0, len(dataset), batch_size):
        with (
            warnings.catch_warnings()
        ):  # fairseq's masking calls np.copy on tensors: numpy 2 warns each time
            warnings.filterwarnings(
                "ignore", "__array__ implementation doesn't accept a copy", DeprecationWarning
            )
            sample = dataset.collater(
                [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            )
        if not sample or not sample["target"].ne(task.source_dictionary.pad()).any():
            continue  # nothing masked in this batch (fairseq would project every token)
        loss, sample_size, _ = criterion(model, sample)
        total += float(loss)
        masked += int(sample_size)
    if masked == 0:
        raise ValueError(f"{data}: the {subset} split has no masked tokens to score (is it empty?)")
    return {
        "loss": total / masked / math.log(2),
        "masked_tokens": masked,
        "subset": subset,
        "seed": seed,
        "settings": settings,
    }


# --------------------------------------------------------------------------- checkpoint choice


def step2_checkpoints(run_dir):
    """(updates, path) of a run's interval checkpoints and checkpoint_last.pt, in update order.

    checkpoint_last.pt is left out when it repeats an interval checkpoint's update.
    """
    from .compat import load_checkpoint

    run_dir = Path(run_dir)
    paths = sorted(run_dir.glob("checkpoint_*_*.pt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    points = [(int(p.stem.rsplit("_", 1)[1]), p) for p in paths]
    last = run_dir / "checkpoint_last.pt"
    if last.is_file():
        updates = load_checkpoint(str(last))["optimizer_history"][-1]["num_updates"]
        if updates not in {u for u, _ in points}:
            points.append((updates, last))
    if not points:
        raise FileNotFoundError(
            f"{run_dir} holds no step-2 checkpoints (checkpoint_*_*.pt, checkpoint_last.pt): "
            f"give a step-2 run's --save-dir"
        )
    return points


def best_index(values, measure="mlm"):
    """Index of the best of a run's checkpoint values by MEASURES[measure], as fairseq's best checkpoint
    picks it: of equal values the later one (fairseq's is_better is <=, or >= when maximising)."""
    sign = 1 if MEASURES[measure] == "min" else -1
    return min(range(len(values)), key=lambda i: (sign * values[i], -i))


def choose_checkpoint(
    run_dir,
    lang_dir,
    measure="mlm",
    big=None,
    source_dir=None,
    layer=None,
    seed=1,
    init="shared_translit",
    log=None,
) -> dict:
    """The step-2 checkpoint with the best label-free measure on the target VALID split.

    ``measure="mlm"``: the step-2 model's own masked-LM loss (lower is better;
    ``lang_dir`` may be DATA/<lang> or its mlm/). ``"retrieval"``: verse
    retrieval of the big model (``big``, required) with the checkpoint's
    embeddings, the mean of both directions at ``layer`` (default the middle;
    higher is better; ``source_dir`` default: ``en`` beside ``lang_dir``).
    Returns ``{"best": path, "updates", "value", "measure", "points": [...]}``;
    of equal values the later checkpoint wins, as in fairseq (best_index).
    """
    if measure not in MEASURES:
        raise ValueError(f"--measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    points = step2_checkpoints(run_dir)
    if measure == "retrieval":
        if big is None:
            raise ValueError(
                "--measure retrieval needs --big BIG.pt: retrieval is measured in the big model"
            )
        big = surgery.to_roberta(_state(big))
        layer = check_layer(layer, surgery.num_layers(big))
        retriever = Retrieval(
            big, lang_dir, source_dir or Path(lang_dir).parent / "en", subset="valid"
        )
    results = []
    for updates, path in points:
        state = surgery.load_roberta_checkpoint(path)
        if measure == "mlm":
            value = mlm_loss(state, lang_dir, seed=seed)["loss"]
        else:
            value = retrieval_score(retriever.score(state), layer)
        results.append({"path": str(path), "updates": updates, "value": value})
        if log:
            log(f"{path}: {updates} updates, {measure} {value:.4f}")
    best = results[best_index([r["value"] for r in results], measure)]
    return {
        "best": best["path"],
        "updates": best["updates"],
        "value": best["value"],
        "measure": measure,
        "layer": layer if measure == "retrieval" else None,
        "points": results,
    }


# --------------------------------------------------------------------------- reports (the minimodel commands)


def check_output(path, force=False):
    """Refuse an existing output before any work is done (--force overwrites)."""
    if path is not None:
        refuse_existing_output(path, force, option="--json")


def write_json(path, result, force=False):
    import json

    check_output(path, force)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=1) + "\n"))


def retrieve(
    big,
    lang_dir,
    embeddings=(),
    controls=False,
    source_dir=None,
    subset="test",
    layer=None,
    init="shared_translit",
    seed=1,
    batch_size=32,
) -> dict:
    """Verse retrieval of every step-2 checkpoint in ``embeddings`` (and the controls) in the big model."""
    if not embeddings and not controls:
        raise ValueError(
            "nothing to score: give --embeddings STEP2.pt (repeatable) and/or --controls"
        )
    lang_dir = Path(lang_dir)
    source_dir = Path(source_dir) if source_dir else lang_dir.parent / "en"
    big_state = surgery.to_roberta(_state(big))
    layer = check_layer(layer, surgery.num_layers(big_state))
    retriever = Retrieval(big_state, lang_dir, source_dir, subset=subset, batch_size=batch_size)
    rows = [{"name": str(p), "kind": "step2", **retriever.score(p)} for p in embeddings]
    if controls:
        rows += [
            {"name": kind, "kind": "control", **retriever.score_control(kind, init, seed)}
            for kind in CONTROLS
        ]
    return {
        "target": str(lang_dir),
        "source": str(source_dir),
        "subset": subset,
        "n": retriever.n,
        "chance": 1 / retriever.n,
        "layer": layer,
        "top_layer": retriever.depth,
        "big": str(big) if not isinstance(big, dict) else None,
        "copy_only_init": init,
        "seed": seed,
        "results": [
            {
                **r,
                "at_layer": retrieval_score(r, layer),
                "at_top": retrieval_score(r, retriever.depth),
            }
            for r in rows
        ],
    }


def format_retrieval(result) -> str:
    tgt, src = Path(result["target"]).name, Path(result["source"]).name
    layers = range(result["top_layer"] + 1)
    head = f"{'embeddings':<40} {'direction':<10}" + "".join(
        f"{'L' + str(i) + ('*' if i == result['layer'] else ''):>7}" for i in layers
    )
    lines = [
        f"verse retrieval {tgt} <-> {src}, {result['subset']} split: {result['n']} aligned verses, "
        f"top-1 accuracy, chance {result['chance']:.4f}",
        f"(L0 = embedding layer, L{result['top_layer']} = top; * = --layer {result['layer']})",
        head,
    ]
    for r in result["results"]:
        name = r["name"] if r["kind"] == "step2" else f"{r['name']} (control)"
        name = name if len(name) <= 40 else "..." + name[-37:]
        for direction, key in (
            (f"{tgt}->{src}", "target_to_source"),
            (f"{src}->{tgt}", "source_to_target"),
        ):
            lines.append(f"{name:<40} {direction:<10}" + "".join(f"{a:>7.3f}" for a in r[key]))
    return "\n".join(lines)


def mlm_losses(
    data,
    embeddings=(),
    big=None,
    controls=False,
    source_data=None,
    subset="valid",
    seed=1,
    init="shared_translit",
) -> dict:
    """Masked-LM loss of each step-2 model itself and, with ``big``, of the big model with its embeddings."""
    if not embeddings and not controls:
        raise ValueError(
            "nothing to score: give --embeddings STEP2.pt (repeatable) and/or --controls (with --big)"
        )
    if controls and big is None:
        raise ValueError(
            "--controls needs --big BIG.pt: the controls are untrained embeddings in the big model"
        )
    data = mlm_data_dir(data)
    big_state = (
        surgery.to_roberta(_state(big)) if big is not None else None
    )  # once, not per checkpoint
    rows = []
    for path in embeddings:
        step2 = surgery.load_roberta_checkpoint(path)
        row = {
            "name": str(path),
            "kind": "step2",
            "own": mlm_loss(step2, data, subset, seed)["loss"],
        }
        if big_state is not None:
            row["big"] = mlm_loss(
                big_with_embeddings(big_state, step2, data / "dict.txt"), data, subset, seed
            )["loss"]
        rows.append(row)
    if controls:
        # the dictionary the big model was trained with, as step 2's shared init reads it
        source = (
            mlm_data_dir(source_data) / "dict.txt"
            if source_data
            else surgery.training_dictionary_path(big_state)
        )
        for kind in CONTROLS:
            lang = (
                data.resolve().parent.name if data.name == "mlm" else data.resolve().name
            )  # as step 2 names it
            emb = control_embeddings(
                big_state, data / "dict.txt", kind, source, init, seed, lang=lang
            )
            state = big_with_embeddings(big_state, emb, data / "dict.txt")
            rows.append(
                {
                    "name": kind,
                    "kind": "control",
                    "own": None,
                    "big": mlm_loss(state, data, subset, seed)["loss"],
                }
            )
    return {
        "data": str(data),
        "subset": subset,
        "seed": seed,
        "unit": "bits per masked token",
        "big": str(big) if big is not None and not isinstance(big, dict) else None,
        "results": rows,
    }


def format_mlm_losses(result) -> str:
    lines = [
        f"masked-LM loss on {result['data']} ({result['subset']}, masking seed {result['seed']}), "
        f"bits per masked token",
        f"{'embeddings':<50} {'step-2 model':>12} {'big model':>10}",
    ]
    for r in result["results"]:
        name = r["name"] if r["kind"] == "step2" else f"{r['name']} (control)"
        name = name if len(name) <= 50 else "..." + name[-47:]
        own = "-" if r["own"] is None else f"{r['own']:.4f}"
        big = "-" if r.get("big") is None else f"{r['big']:.4f}"
        lines.append(f"{name:<50} {own:>12} {big:>10}")
    return "\n".join(lines)


def format_choice(result) -> str:
    what = (
        "step-2 model's masked-LM loss (bits, lower is better)"
        if result["measure"] == "mlm"
        else f"retrieval top-1 at layer {result['layer']}, mean of both directions (higher is better)"
    )
    lines = [f"valid {what}", f"{'updates':>8} {'value':>8}  checkpoint"]
    for p in result["points"]:
        lines.append(
            f"{p['updates']:>8} {p['value']:>8.4f}  {p['path']}"
            + ("  <- best" if p["path"] == result["best"] else "")
        )
    return "\n".join(lines)
