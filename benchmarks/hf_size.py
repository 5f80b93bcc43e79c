"""What real size costs on this machine: the Hugging Face recipe at xlm-roberta-base's shape, random weights.

    .venv/bin/python benchmarks/hf_size.py --json hf_size.json     # 12 x 768, vocab 250,002 (long: docs/hf.md)
    .venv/bin/python benchmarks/hf_size.py --quick --json out.json # 6 x 32, vocab 2000 / 500 (under a minute idle)
    .venv/bin/python benchmarks/hf_size.py --report-from hf_size.json # the report of a --json, measuring nothing

The big model is a fairseq ``roberta_base`` (12 layers x 768, FFN 3072, 12 heads, 514 positions)
over a synthetic source dictionary of 250,002 rows, saved untrained by a Trainer (no Hugging Face
needed); the target language has 4001 rows (VOCAB=4000 + <mask>). Lines are random tokens as long
as the fixture's English verses, as in benchmarks/peak.py. Every step is a real fairseq Trainer
built from the recipes' command line (examples/bible/*.sh, sizes from minimodel_recipes/settings.py):

1. Per update, fp32 and ``--bf16`` trainers of each step fed the same batches, alternating fp32,
   bf16, bf16, fp32, ... (--precisions): step 3 (fine-tuning the big model, embeddings frozen,
   FT_BSZ verses truncated to TOKENS), MiniPost's step 1b (K = 4, M = 1, PRETRAIN_BSZ x TOKENS),
   step 2 over the whole model and over MiniPost's mini-models K = 3 and K = 4 (ADAPT_BSZ x
   TOKENS; the bodies are step-1b checkpoints). s/update, GFLOPs/update
   (``flops.roberta_update_flops``), bf16 speed-up. Where the CPU has no native bf16 products
   (AVX-512 BF16, AMX) torch emulates them: bf16 then runs several times slower than fp32.
2. The phases of those same updates, timed inside fairseq's ``train_step`` by wrappers and hooks:
   the forward until the first layer (embedding lookups), the layers, the rest of the forward
   (LM head over the masked positions and its softmax, or the classification head; the loss);
   the backward split the same way by gradient hooks on the layers' output and input; gradient
   scaling + norm, Adam's step, zero_grad; the rest of train_step (fairseq's bookkeeping); and,
   outside train_step, the batch iterator (collation, masking). Step 2's full/mini FLOP ratio
   beside its wall-time ratio, and how much of the gap the costs that both pay alike explain.
3. Peak RSS per step and precision, each in a child process: a server forked at the start (it has
   imported torch and fairseq and run nothing) forks one child per measurement, which builds that
   step's trainer, runs MEMORY_UPDATES updates and reports its VmHWM (/proc/self/status): each
   number is one step's, with the imports, not the maximum of the whole run.
4. Scoring throughput of ``evaluate.evaluate_classifier`` on the step-3 classifier, batches by
   length and in file order (where the keyword ``by_length`` exists).
5. Disk: the checkpoints as fairseq writes them, and what one run of examples/hf/run.sh keeps.
6. Estimates, marked as such, from the measured s/update: --paper-updates updates here, and on one
   GPU assumed to sustain --gpu-tflops in bf16 (compute-bound: FLOPs / that rate).
"""

import argparse
import gc
import inspect
import logging
import os
import pickle
import random
import statistics
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

logging.disable(logging.INFO)  # fairseq logs INFO on every build
warnings.filterwarnings("ignore")

import torch  # noqa: E402
from fairseq import utils  # noqa: E402

import minimodel_fairseq  # noqa: E402,F401  (the plugin, and --bf16 without a TPU)
from minimodel_fairseq import files, surgery  # noqa: E402
from minimodel_fairseq.flops import roberta_update_flops, update_shape  # noqa: E402
from minimodel_recipes import bench  # noqa: E402  (trainers, synthetic data, tables, printing)
from minimodel_recipes import settings as recipe_settings  # noqa: E402  (the recipes' batch sizes)

PRECISIONS = ("fp32", "bf16")
M = 1  # MiniPost's new layers (the recipes' MINIPOST_M)
BUILD_K = 4  # step 1b measured at K = 4
MINI_KS = (3, 4)  # step 2 over MiniPost's mini-models
CLASSES = 6
MEMORY_UPDATES = 2  # updates per peak-RSS child: the second holds Adam's state, activations and gradients at once
# name -> (kind, K)
STEPS = {
    "step 3": ("finetune", None),
    f"step 1b K={BUILD_K}": ("minipost", BUILD_K),
    "step 2 full": ("adapt", None),
    **{f"step 2 mini K={k}": ("adapt", k) for k in MINI_KS},
}
PHASES = (
    "embeddings fwd",
    "layers fwd",
    "head + loss fwd",
    "head + loss bwd",
    "layers bwd",
    "embeddings bwd",
    "grad scale + norm",
    "Adam step",
    "zero_grad",
    "other (fairseq bookkeeping)",
)
EQUAL = tuple(
    p for p in PHASES if not p.startswith("layers")
)  # what step 2 pays alike over any body

say, progress = bench.say, bench.stopwatch()  # progress: "[  12.3 s] what", seconds since the start


def sizes(quick):
    """The shape: xlm-roberta-base and the recipes' batches (settings.py, environment included), or a toy."""
    if quick:
        return argparse.Namespace(
            layers=6,
            dim=32,
            ffn=64,
            heads=2,
            positions=64,
            src_rows=2000,
            tgt_rows=500,
            batch=4,
            build_batch=4,
            tokens=32,
            ft_batch=8,
            pairs=2,
            warmup=1,
            eval_verses=40,
        )
    r = recipe_settings.resolve(
        {**os.environ, "PRECISION": "fp32"}
    )  # PRECISION is not read (both are timed)
    r = {k: int(r[k]) for k in ("VOCAB", "ADAPT_BSZ", "PRETRAIN_BSZ", "TOKENS", "FT_BSZ")}
    return argparse.Namespace(
        layers=12,
        dim=768,
        ffn=3072,
        heads=12,
        positions=512,
        src_rows=250_002,
        tgt_rows=r["VOCAB"] + 1,
        batch=r["ADAPT_BSZ"],
        build_batch=r["PRETRAIN_BSZ"],
        tokens=r["TOKENS"],
        ft_batch=r["FT_BSZ"],
        pairs=3,
        warmup=1,
        eval_verses=200,
    )


# ---------------------------------------------------------------- data, trainers, checkpoints


def build_data(tmp: Path, s, seed=1):
    """Masked-LM dirs in the source (s.src_rows) and target (s.tgt_rows) dictionaries, and a 6-class task
    (train, a 4-verse valid, an s.eval_verses test) in the source one."""
    lengths = bench.verse_lengths()
    rng = random.Random(seed)
    n = {"train": 4 * len(lengths), "valid": 4, "test": s.eval_verses}
    for lang, rows in (("src", s.src_rows), ("tgt", s.tgt_rows)):
        symbols = bench.synthetic_dictionary(tmp / f"{lang}.dict.txt", lang, rows)
        for split, k in n.items():
            bench.write_lines(tmp / f"{lang}.{split}", bench.random_lines(rng, symbols, lengths, k))
    for split, k in n.items():
        bench.write_lines(tmp / f"label.{split}", bench.random_labels(rng, k, CLASSES))

    def splits(pref, *names):
        return {s: f"{pref}.{s}" for s in ("train", *names)}

    bench.binarize(tmp / "src_mlm", splits(tmp / "src"), srcdict=tmp / "src.dict.txt")
    bench.binarize(tmp / "tgt_mlm", splits(tmp / "tgt"), srcdict=tmp / "tgt.dict.txt")
    bench.binarize(
        tmp / "cls" / "input0", splits(tmp / "src", "valid", "test"), srcdict=tmp / "src.dict.txt"
    )
    bench.binarize(tmp / "cls" / "label", splits(tmp / "label", "valid", "test"))


def step_args(step, s, tmp: Path):
    """(data dir, fairseq-train arguments, batch size) of one step, as the recipes run it."""
    kind, k = STEPS[step]
    if kind == "finetune":  # examples/bible/3_finetune.sh
        return (
            tmp / "cls",
            [
                "--task",
                "sentence_prediction_frozen_embeddings",
                "--criterion",
                "sentence_prediction",
                "--arch",
                "roberta",
                "--body-checkpoint",
                tmp / "big.pt",
                "--num-classes",
                CLASSES,
                "--init-token",
                0,
                "--separator-token",
                2,
                "--max-positions",
                s.tokens,
                "--shorten-method",
                "truncate",
                "--weight-decay",
                0.1,
            ],
            s.ft_batch,
        )
    if kind == "minipost":  # examples/bible/1b_minipost.sh
        return (
            tmp / "src_mlm",
            [
                "--task",
                "minipost_mlm",
                "--criterion",
                "masked_lm",
                "--arch",
                "minipost_roberta",
                "--source-checkpoint",
                tmp / "big.pt",
                "--mini-layers",
                k,
                "--mini-new-layers",
                M,
                "--new-layer-init",
                "copy",
                "--mini-head-init",
                "copy",
                "--tokens-per-sample",
                s.tokens,
            ],
            s.build_batch,
        )
    body = tmp / ("big.pt" if k is None else f"mini{k}.pt")  # examples/bible/2_adapt_language.sh
    return (
        tmp / "tgt_mlm",
        [
            "--task",
            "new_language_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "roberta",
            "--body-checkpoint",
            body,
            "--tokens-per-sample",
            s.tokens,
        ],
        s.batch,
    )


def config(data, args, batch, precision):
    """The fairseq config of one fairseq-train command line (--bf16 for bf16)."""
    return bench.training_config(
        bench.train_argv(data, args, batch, precision=precision, adam_betas="(0.9,0.98)")
    )


build = (
    bench.build_trainer
)  # (task, Trainer) of a config (the Trainer may edit cfg: pass a copy to keep it)
batches = (
    bench.full_batches
)  # n full batches of the train set, and the iterator's seconds per batch


def save(trainer, path, optimizer_state=True):
    """The trainer's checkpoint as fairseq's checkpoint_utils.save_checkpoint writes checkpoint_last.pt (model,
    Adam's state, cfg, the task's records such as the big model's fingerprint); without Adam's state if asked."""
    trainer.consolidate_optimizer()  # what checkpoint_utils.save_checkpoint does first
    extra = {"val_loss": None, **getattr(trainer.task, "get_checkpoint_dict", dict)()}
    if optimizer_state:
        trainer.save_checkpoint(str(path), extra)
        return path
    state = utils.move_to_cpu(trainer.state_dict())
    state["extra_state"].update(extra)
    state["last_optimizer_state"] = None
    return files.save_checkpoint(state, path, force=True)


def megabytes(path):
    return os.path.getsize(path) / 1e6


# ---------------------------------------------------------------- phases of one update


class PhaseClock:
    """Times the phases of a trainer's train_step from inside it: wrappers on the criterion and the
    optimizer, forward hooks on the first and last layer, gradient hooks on their input and output."""

    def __init__(self, trainer):
        self.at, self.spent = {}, defaultdict(float)
        crit, opt = trainer.criterion, trainer.optimizer
        crit.forward = self._wrap(crit.forward, "fwd")
        opt.backward = self._wrap(opt.backward, "bwd")
        for name, phase in (
            ("multiply_grads", "grad scale + norm"),
            ("clip_grad_norm", "grad scale + norm"),
            ("step", "Adam step"),
            ("zero_grad", "zero_grad"),
        ):
            setattr(opt, name, self._wrap(getattr(opt, name), phase))
        layers = trainer.model.encoder.sentence_encoder.layers
        layers[0].register_forward_pre_hook(
            lambda module, args: self._enter(args[0], "layers in", "grad in")
        )
        layers[-1].register_forward_hook(
            lambda module, args, out: self._enter(
                out[0] if isinstance(out, tuple) else out, "layers out", "grad out"
            )
        )

    def _wrap(self, fn, phase):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            self.at.setdefault(f"{phase} start", t)
            try:
                return fn(*args, **kwargs)
            finally:
                self.at[f"{phase} end"] = now = time.perf_counter()
                self.spent[phase] += now - t

        return timed

    def _enter(self, x, mark, grad_mark):
        self.at[mark] = time.perf_counter()
        if torch.is_tensor(x) and x.requires_grad:  # fires when the gradient of x is computed
            x.register_hook(lambda grad: self.at.__setitem__(grad_mark, time.perf_counter()))

    def reset(self):
        self.at.clear(), self.spent.clear()

    def phases(self, total):
        a = self.at
        grad_out = a.get("grad out", a["bwd start"])
        grad_in = a.get(
            "grad in", a["bwd end"]
        )  # no gradient below the layers (step 1b): none spent there
        out = {
            "embeddings fwd": a["layers in"] - a["fwd start"],
            "layers fwd": a["layers out"] - a["layers in"],
            "head + loss fwd": a["fwd end"] - a["layers out"],
            "head + loss bwd": grad_out - a["bwd start"],
            "layers bwd": grad_in - grad_out,
            "embeddings bwd": a["bwd end"] - grad_in,
            **{p: self.spent[p] for p in ("grad scale + norm", "Adam step", "zero_grad")},
        }
        out["other (fairseq bookkeeping)"] = total - sum(out.values())
        return out


# ---------------------------------------------------------------- steps


def time_step(step, s, tmp, precisions):
    """Alternating updates of each precision on the same batches; returns the results and the first trainer."""
    data, args, batch = step_args(step, s, tmp)
    built = {}
    for p in (
        precisions
    ):  # the configs also go to the peak-RSS children (bench.MemoryServer), as they are now
        cfg = config(data, args, batch, p)
        (tmp / f"{slug(step)}-{p}.cfg").write_bytes(pickle.dumps(cfg))
        built[p] = build(cfg)
    task, trainers = built[precisions[0]][0], {p: built[p][1] for p in precisions}
    clocks = {p: PhaseClock(trainers[p]) for p in precisions}
    model = trainers[precisions[0]].model
    todo, data_s = batches(task, batch, s.warmup + s.pairs, s.tokens)
    times, phases, flops, shapes = defaultdict(list), defaultdict(list), [], []
    for i, b in enumerate(todo):
        shape = update_shape(b, task.source_dictionary.pad())
        for p in precisions[:: 1 if i % 2 == 0 else -1]:
            clocks[p].reset()
            t = time.perf_counter()
            trainers[p].train_step([b])
            dt = time.perf_counter() - t
            if i >= s.warmup:
                times[p].append(dt), phases[p].append(clocks[p].phases(dt))
        if i >= s.warmup:
            flops.append(roberta_update_flops(model, shape)["total"])
            shapes.append([shape.sequences, shape.seq_len, shape.masked])
    out = {
        "layers": len(model.encoder.sentence_encoder.layers),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "batch": batch,
        "shapes": shapes,
        "flops": flops,
        "gflops_per_update": statistics.median(flops) / 1e9,
        **{f"{p}_s_per_update": statistics.median(times[p]) for p in precisions},
        **{
            f"{p}_gflops_per_s": statistics.median(f / t / 1e9 for f, t in zip(flops, times[p]))
            for p in precisions
        },
        "phases": {
            p: {ph: statistics.median(d[ph] for d in phases[p]) for ph in PHASES}
            for p in precisions
        },
        "data_s_per_batch": data_s,
        "updates_per_precision": s.pairs,
    }
    if len(precisions) == 2:
        out["bf16_speedup"] = bench.paired_ratio(times["fp32"], times["bf16"])
    del built, clocks
    return out, trainers[precisions[0]]


def slug(step):
    return step.replace(" ", "_").replace("=", "")


def step2_ratios(steps, precisions):
    """Step 2 over the whole model against each mini-model: FLOPs, wall time, and where the rest goes."""
    full, out = steps["step 2 full"], {}
    for k in MINI_KS:
        mini = steps[f"step 2 mini K={k}"]
        r = {"flops": bench.paired_ratio(full["flops"], mini["flops"])}
        for p in precisions:
            f, m = full["phases"][p], mini["phases"][p]
            fixed = {
                name: sum(x[ph] for ph in EQUAL) + d["data_s_per_batch"]
                for name, x, d in (("full", f, full), ("mini", m, mini))
            }
            layers = {
                "full": f["layers fwd"] + f["layers bwd"],
                "mini": m["layers fwd"] + m["layers bwd"],
            }
            r[p] = {
                "wall": full[f"{p}_s_per_update"] / mini[f"{p}_s_per_update"],
                "layers": layers["full"] / layers["mini"],
                "layers_s": layers,
                "equal_costs_s": fixed,
                "equal_share_of_mini": fixed["mini"]
                / (mini[f"{p}_s_per_update"] + mini["data_s_per_batch"]),
            }
        out[f"K={k}"] = r
    return out


# ---------------------------------------------------------------- scoring, disk, estimates


def scoring(classifier, cls, n):
    """evaluate_classifier's throughput on the n test verses, batches by length and in file order; its fixed
    cost (loading the checkpoint, building the model and task) from a 4-verse call, the faster of two."""
    from minimodel_fairseq.evaluate import evaluate_classifier

    def timed(subset, **kw):
        t = time.perf_counter()
        r = evaluate_classifier(classifier, cls, subset=subset, **kw)
        return time.perf_counter() - t, r

    first = timed("valid")[0]
    has = "by_length" in inspect.signature(evaluate_classifier).parameters
    modes = (
        {"by length": {"by_length": True}, "file order": {"by_length": False}}
        if has
        else {"default": {}}
    )
    runs = {name: timed("test", **kw) for name, kw in modes.items()}
    fixed = min(first, timed("valid")[0])
    out = {"verses": n, "fixed_s": fixed, "by_length_keyword": has}
    for name, (dt, r) in runs.items():
        out[name] = {
            "seconds": dt,
            "sentences_per_s": n / dt,
            "accuracy": r["accuracy"],
            "scoring_sentences_per_s": n / (dt - fixed) if dt > fixed else None,
        }
    return out


def kept_per_run(disk, k):
    """What one run of examples/hf/run.sh (one language, one seed, both methods) keeps, MB."""
    return {
        "import/model.pt (the big model)": disk["big_model"],
        "finetune/roberta/seedS/checkpoint_best.pt (checkpoint_last.pt deleted)": disk[
            "step3_with_optimizer"
        ],
        "pretrain/minipost/checkpoint_last.pt (checkpoint_best.pt deleted)": disk[
            f"step1b_K{BUILD_K}"
        ],
        "adapt/LANG/full_roberta/seedS/checkpoint_last.pt": disk["step2_full"],
        f"adapt/LANG/minipost/seedS/checkpoint_last.pt (K={k})": disk[f"step2_mini_K{k}"],
        "transfer/LANG/{full_roberta,minipost}/seedS.pt (2 swapped classifiers)": 2
        * disk["swapped_classifier"],
    }


def estimates(steps, precisions, paper_updates, gpu_tflops):
    """ESTIMATES: paper_updates updates of each step at the measured s/update; on one GPU, the measured time
    scaled by (the CPU's achieved rate / the GPU's assumed one), bf16's where it was measured: compute-bound."""
    ref = "bf16" if "bf16" in precisions else precisions[0]
    out = {}
    for step, r in steps.items():
        cpu_rate = r["gflops_per_update"] / r[f"{ref}_s_per_update"]  # GFLOP/s
        gpu_s = (
            r[f"{ref}_s_per_update"] * cpu_rate / (1000 * gpu_tflops)
        )  # = FLOPs / the GPU's rate
        out[step] = {
            **{f"{p}_hours": paper_updates * r[f"{p}_s_per_update"] / 3600 for p in precisions},
            "gpu_s_per_update": gpu_s,
            "gpu_hours": paper_updates * gpu_s / 3600,
        }
    return out


# ---------------------------------------------------------------- the report


def table(header, rows):
    """A Markdown table, numbers right-aligned, and a blank line: the report's lines."""
    return [*bench.table(header, rows, left=1), ""]


def steps_report(res, pairs, warmup):
    """Per step: its shape, GFLOPs, s/update and GFLOP/s per precision, peak RSS; then its phases."""
    steps, precs = res["steps"], res["precisions"]
    lines = table(
        [
            "step",
            "layers",
            "trainable params",
            "GFLOPs/update",
            *[f"{p} {c}" for p in precs for c in ("s/update", "GFLOP/s")],
            *(["bf16 speed-up"] if len(precs) == 2 else []),
            f"peak RSS {' / '.join(precs)}, MB",
        ],
        [
            [
                step,
                str(r["layers"]),
                f"{r['trainable_params'] / 1e6:.2f} M",
                f"{r['gflops_per_update']:.4g}",
                *[
                    f"{r[f'{p}_{c}']:{f}}"
                    for p in precs
                    for c, f in (("s_per_update", ".3f"), ("gflops_per_s", ".1f"))
                ],
                *([f"{r['bf16_speedup']:.2f}x"] if len(precs) == 2 else []),
                " / ".join(f"{r['peak_rss_mb'][p]:.0f}" for p in precs),
            ]
            for step, r in steps.items()
        ],
    )
    lines.append(
        f"(medians of {pairs} updates per precision after {warmup} warm-up, {' and '.join(precs)} "
        f"alternating on the same batches; GFLOPs: minimodel_fairseq.flops, matrix products only; peak RSS: "
        f"VmHWM of one child per cell after {MEMORY_UPDATES} updates, forked from a server that had imported "
        f"torch and fairseq and run nothing (its own RSS: {res['memory_baseline_rss_mb']:.0f} MB))\n"
    )
    for p in precs:
        lines.append(
            f"Phases of one update, {p}, ms (medians; inside train_step, except the batch iterator):\n"
        )
        lines += table(
            ["phase", *steps],
            [[ph, *[f"{1000 * r['phases'][p][ph]:.1f}" for r in steps.values()]] for ph in PHASES]
            + [
                [
                    "**train_step**",
                    *[f"**{1000 * r[f'{p}_s_per_update']:.1f}**" for r in steps.values()],
                ],
                [
                    "batch iterator (collation, masking)",
                    *[f"{1000 * r['data_s_per_batch']:.1f}" for r in steps.values()],
                ],
            ],
        )
    return lines


def ratios_report(res):
    """Step 2 over the whole model against each mini-model: FLOP, wall and layers-only ratios, the costs
    both pay alike."""
    steps, precs = res["steps"], res["precisions"]
    lines = [
        "Step 2 over the whole model against the mini-model: the FLOP ratio, the wall-time ratio, and the costs "
        "both pay alike (every phase but the layers', and the batch iterator):\n"
    ]
    rows, notes = [], []
    for k, r in res["step2_ratios"].items():
        for p in precs:
            q, mini = r[p], steps[f"step 2 mini {k}"]["phases"][p]
            rows.append(
                [
                    f"{k}, M={M}",
                    p,
                    f"{r['flops']:.2f}x",
                    f"{q['wall']:.2f}x",
                    f"{q['layers']:.2f}x",
                    f"{q['layers_s']['full']:.3f} / {q['layers_s']['mini']:.3f}",
                    f"{q['equal_costs_s']['full']:.3f} / {q['equal_costs_s']['mini']:.3f}",
                    f"{100 * q['equal_share_of_mini']:.0f}%",
                ]
            )
            top = sorted(EQUAL, key=lambda ph: -mini[ph])[:4]
            notes.append(
                f"- {k} {p}: counted {r['flops']:.2f}x, wall {q['wall']:.2f}x, the layers alone "
                f"{q['layers']:.2f}x; the mini-model's update spends {q['equal_costs_s']['mini']:.3f} s "
                f"({100 * q['equal_share_of_mini']:.0f}%) on what the whole model pays alike ("
                + ", ".join(f"{ph} {1000 * mini[ph]:.1f} ms" for ph in top)
                + ", the batch iterator "
                f"{1000 * steps[f'step 2 mini {k}']['data_s_per_batch']:.1f} ms)"
            )
    lines += table(
        [
            "mini-model",
            "precision",
            "FLOP ratio full/mini",
            "wall ratio full/mini",
            "layers-only ratio",
            "layers s full / mini",
            "alike s full / mini",
            "alike share of mini's update",
        ],
        rows,
    )
    return lines + ["\n".join(notes) + "\n"]


def costs_report(res):
    """Scoring throughput, disk, and the ESTIMATES of a run of the paper's length."""
    sc, precs = res["scoring"], res["precisions"]
    lines = [
        f"Scoring (evaluate_classifier, the step-3 classifier, {sc['verses']} test verses; the fixed cost of a "
        f"call, loading and building, from a 4-verse call: {sc['fixed_s']:.2f} s):\n"
    ]
    lines += table(
        ["batches", "s", "sentences/s", "sentences/s without the fixed cost"],
        [
            [
                name,
                f"{r['seconds']:.2f}",
                f"{r['sentences_per_s']:.1f}",
                "n/a"
                if r["scoring_sentences_per_s"] is None
                else f"{r['scoring_sentences_per_s']:.1f}",
            ]
            for name, r in sc.items()
            if isinstance(r, dict)
        ],
    )
    lines.append(
        "Disk (checkpoints as fairseq writes them), and what one examples/hf/run.sh keeps (one language, one "
        f"seed, both methods, MiniPost K={BUILD_K}; the exports not counted):\n"
    )
    lines += table(["file", "MB"], [[name, f"{mb:.1f}"] for name, mb in res["disk_mb"].items()])
    lines += table(
        ["kept per run", "MB"], [[name, f"{mb:.1f}"] for name, mb in res["kept_per_run_mb"].items()]
    )
    ref, assumed = "bf16" if "bf16" in precs else precs[0], res["estimate_assumptions"]
    lines.append(
        f"ESTIMATES, not measurements: {assumed['paper_updates']} updates of each step at the batches above "
        f"(--paper-updates; the docs give no schedule of the paper's: an assumption), here at the measured "
        f"s/update, and on one GPU assumed to sustain {assumed['gpu_bf16_tflops']:g} TFLOP/s in bf16 "
        f"(--gpu-tflops; an A100's dense bf16 peak is 312): the measured {ref} time x (the measured {ref} "
        f"GFLOP/s / the GPU's), i.e. compute-bound, a lower bound: at batches this small a GPU's per-update "
        f"overheads (kernel launches, Adam, fairseq's bookkeeping) may dominate.\n"
    )
    return lines + table(
        ["step", *[f"here {p}, h" for p in precs], "GPU ms/update", "GPU, h"],
        [
            [
                step,
                *[f"{e[f'{p}_hours']:.1f}" for p in precs],
                f"{1000 * e['gpu_s_per_update']:.3f}",
                f"{e['gpu_hours']:.2f}",
            ]
            for step, e in res["estimates"].items()
        ],
    )


def report(res):
    """The report of a result (main's, or a --json file's): what docs/results/hf_size.md holds below its
    introduction."""
    lines = [f"\n{res['description']}\n"]
    lines += steps_report(res, res["shape"]["pairs"], res["shape"]["warmup"])
    lines += ratios_report(res) + costs_report(res)
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------- main


def native_bf16():
    """Whether /proc/cpuinfo lists native bf16 products (the recipes' PRECISION=auto test)."""
    try:
        return bool(
            set(Path("/proc/cpuinfo").read_text().split()) & set(recipe_settings.BF16_CPU_FLAGS)
        )
    except OSError:
        return False


def measure(s, opt, res, server):
    """Everything that runs: data, the big model, the steps and their checkpoints, scoring, peak RSS."""
    disk = res["disk_mb"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        progress("data and the big model ...")
        build_data(tmp, s)
        arch = [
            "--arch",
            "roberta_base",
            "--encoder-layers",
            s.layers,
            "--encoder-embed-dim",
            s.dim,
            "--encoder-ffn-embed-dim",
            s.ffn,
            "--encoder-attention-heads",
            s.heads,
            "--max-positions",
            s.positions,
        ]
        _, big = build(
            config(
                tmp / "src_mlm",
                [
                    "--task",
                    "masked_lm",
                    "--criterion",
                    "masked_lm",
                    *arch,
                    "--tokens-per-sample",
                    s.tokens,
                ],
                s.batch,
                "fp32",
            )
        )
        disk["big_model"] = megabytes(save(big, tmp / "big.pt"))
        del big
        for step, (kind, k) in STEPS.items():
            progress(
                f"timing {step}: {s.warmup} warm-up + {s.pairs} updates of {' and '.join(opt.precisions)} ..."
            )
            res["steps"][step], trainer = time_step(step, s, tmp, opt.precisions)
            if kind == "finetune":  # checkpoint_last.pt as fairseq writes it, and the model alone
                disk["step3_with_optimizer"] = megabytes(save(trainer, tmp / "step3_last.pt"))
                disk["step3_model_only"] = megabytes(
                    save(trainer, tmp / "step3.pt", optimizer_state=False)
                )
            elif (
                kind == "minipost"
            ):  # the K=4 body as 1b leaves it; the others from a trainer of 0 updates
                disk[f"step1b_K{k}"] = megabytes(save(trainer, tmp / f"mini{k}.pt"))
                for other in sorted(set(MINI_KS) - {k}):
                    data, args, batch = step_args(step, s, tmp)
                    args[args.index("--mini-layers") + 1] = other
                    disk[f"step1b_K{other}"] = megabytes(
                        save(build(config(data, args, batch, "fp32"))[1], tmp / f"mini{other}.pt")
                    )
            else:
                name = "full" if k is None else f"mini_K{k}"
                disk[f"step2_{name}"] = megabytes(save(trainer, tmp / f"step2_{name}.pt"))
            del trainer
            gc.collect()
        swapped = surgery.swap_embeddings(
            surgery.load_roberta_checkpoint(tmp / "step3.pt"),
            surgery.load_roberta_checkpoint(tmp / "step2_full.pt"),
        )
        disk["swapped_classifier"] = megabytes(files.save_checkpoint(swapped, tmp / "swapped.pt"))
        del swapped
        res["step2_ratios"] = step2_ratios(res["steps"], opt.precisions)
        progress(f"scoring {s.eval_verses} verses ...")
        res["scoring"] = scoring(tmp / "step3.pt", tmp / "cls", s.eval_verses)
        progress("peak RSS, one child per step and precision ...")
        res["memory_baseline_rss_mb"] = server.ask()["baseline_rss_mb"]
        for step in STEPS:
            res["steps"][step]["peak_rss_mb"] = {
                q: server.ask({"cfg": str(tmp / f"{slug(step)}-{q}.cfg")})["peak_rss_mb"]
                for q in opt.precisions
            }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="toy shape: 6 x 32, vocab 2000 / 500, 2 pairs (the test)",
    )
    p.add_argument(
        "--pairs", type=int, help="timed updates per precision and step (default 3; --quick 2)"
    )
    p.add_argument(
        "--precisions",
        nargs="+",
        choices=PRECISIONS,
        default=list(PRECISIONS),
        help="what to time side by side (default fp32 bf16; without native bf16 products, bf16 is "
        "emulated and slow at full size: give fp32 alone there)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch.set_num_threads (default: torch's, i.e. OMP_NUM_THREADS or the cores)",
    )
    p.add_argument(
        "--paper-updates",
        type=int,
        default=100_000,
        help="ESTIMATE: updates of a run of the paper's length, per step (default 100000; an assumption)",
    )
    p.add_argument(
        "--gpu-tflops",
        type=float,
        default=100.0,
        help="ESTIMATE: bf16 TFLOP/s one GPU sustains (default 100: a conservative A100 figure)",
    )
    p.add_argument("--json", type=Path, help="also write the results here (atomically)")
    p.add_argument(
        "--report-from",
        type=Path,
        metavar="JSON",
        help="print the report of the results in this --json file, measuring nothing",
    )
    opt = p.parse_args()
    if opt.report_from:
        print(report(bench.read_json(opt.report_from)), end="", flush=True)
        return
    opt.precisions = [q for q in PRECISIONS if q in opt.precisions]
    s = sizes(opt.quick)
    s.pairs = opt.pairs or s.pairs
    server = bench.MemoryServer(
        s.tokens, opt.threads, MEMORY_UPDATES, "hf_size"
    )  # before anything runs here
    torch.set_num_threads(opt.threads)
    desc = (
        f"{'quick' if opt.quick else 'xlm-roberta-base shape'}: {s.layers} x {s.dim} (FFN {s.ffn}, {s.heads} "
        f"heads, {s.positions + 2} positions), source vocabulary {s.src_rows}, target {s.tgt_rows}; batches "
        f"{s.batch} x {s.tokens} (step 2), {s.build_batch} x {s.tokens} (step 1b), {s.ft_batch} verses "
        f"<= {s.tokens} tokens (step 3); MiniPost M={M}; torch {torch.__version__}, threads "
        f"{torch.get_num_threads()}, CPU capability {torch.backends.cpu.get_cpu_capability()}, native bf16 "
        f"products {'yes' if native_bf16() else 'no (bf16 is emulated)'}"
    )
    say(desc)
    res = {
        "size": "quick" if opt.quick else "full",
        "description": desc,
        "shape": vars(s),
        "precisions": opt.precisions,
        "steps": {},
        "disk_mb": {},
    }
    try:
        measure(s, opt, res, server)
    finally:
        server.close()
    res["kept_per_run_mb"] = kept = kept_per_run(res["disk_mb"], BUILD_K)
    kept["total"] = sum(kept.values())
    res["estimates"] = estimates(res["steps"], opt.precisions, opt.paper_updates, opt.gpu_tflops)
    res["estimate_assumptions"] = {
        "paper_updates": opt.paper_updates,
        "gpu_bf16_tflops": opt.gpu_tflops,
    }
    print(report(res), end="", flush=True)
    progress("done")
    if opt.json:
        bench.write_json(opt.json, res)


if __name__ == "__main__":
    main()
