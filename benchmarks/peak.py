"""The machine's peak matrix-product rate, fp32 and bf16, and how close each step of the method runs to it.

    .venv/bin/python benchmarks/peak.py            # roberta_small 8x256, batch 16x128, vocab 4000 (a few minutes)
    .venv/bin/python benchmarks/peak.py --quick    # 4x128, batch 8x64, vocab 1000 (well under a minute idle)
    .venv/bin/python benchmarks/peak.py --json results.json
    .venv/bin/python benchmarks/peak.py --profile  # where each step's update spends its time
    .venv/bin/python benchmarks/peak.py --options  # before/after the plugin's GELU and masks; torch's Adams, compile
    .venv/bin/python benchmarks/peak.py --report-from results.json   # its tables again, measuring nothing

1. Peak: ``torch.mm``/``torch.bmm`` at the model's own shapes (the linear layers,
   tokens x d x d and tokens x d x ffn, the attention products, the LM head's
   masked x d x vocab), fp32 and bf16 inputs interleaved; the best of several
   repetitions per shape, and the machine's peak at these shapes is the best shape.
2. Steps: pretraining MiniJoint, step 2 over the full model, step 2 over the
   mini-model, step 3 (fine-tuning, embeddings frozen), each as a real fairseq
   trainer built from an ordinary command line, once without and once with
   ``--bf16`` (compat.patch_bf16_without_tpu), fed the same batches, updates
   alternating fp32, bf16, bf16, fp32, ... so outside load hits both alike.
   Achieved GFLOP/s per update = ``flops.roberta_update_flops`` of its batch /
   its wall time (forward, backward, Adam step, fairseq's bookkeeping); the
   table gives the median, its share of the same precision's peak, and the
   bf16 speed-up as the median of per-pair time ratios.

3. --profile (in place of 2): torch.profiler over a few updates of each step, in --precision
   (auto: bf16 where the CPU has it natively): shares of the update by phase (fairseq's forward,
   backward and optimizer labels, and the rest: bookkeeping) and by kind of op; dropout masks as
   MINIMODEL_DROPOUT_MASKS says (torch's by default).
4. --options (in place of 2): the path before the plugin's bf16 GELU (compat patch 8) and fast
   dropout masks (minimodel_fairseq/dropout.py), then each of them added, then torch's foreach and
   fused AdamW in place of fairseq's Adam and each encoder layer under torch.compile (inductor) on
   top, fed the same batches, the order rotating update by update: speed-up over the first,
   share of the peak, mean loss.

Data is synthetic (random tokens of a dictionary of --vocab symbols, lines as long
as the fixture's English verses) because only shapes matter here; the body of
steps 2 and 3 is the untrained pretraining model, saved as a checkpoint.
docs/benchmarks.md has results.
"""

import argparse
import contextlib
import logging
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path

logging.disable(logging.INFO)  # fairseq logs INFO on every build
warnings.filterwarnings("ignore")

import torch  # noqa: E402

import minimodel_fairseq  # noqa: E402,F401  (the plugin, and --bf16 without a TPU)
from minimodel_fairseq import dropout, files, surgery  # noqa: E402
from minimodel_fairseq.flops import roberta_update_flops, update_shape  # noqa: E402
from minimodel_recipes import bench  # noqa: E402  (trainers, synthetic data, tables, printing)
from minimodel_recipes.settings import auto_precision  # noqa: E402

# (layers, dim, ffn, heads, K, batch, tokens, step-3 batch, vocab, timed pairs, warm-up)
SIZES = {
    "full": (8, 256, 1024, 4, 2, 16, 128, 32, 4000, 8, 2),  # the recipes' roberta_small defaults
    "quick": (4, 128, 512, 2, 2, 8, 64, 16, 1000, 3, 1),
}
STEPS = ("pretraining MiniJoint", "step 2 full", "step 2 mini", "step 3")
FIELDS = (
    "layers",
    "dim",
    "ffn",
    "heads",
    "k",
    "batch",
    "tokens",
    "ft_batch",
    "vocab",
    "pairs",
    "warmup",
)
say = bench.say


# ---------------------------------------------------------------- peak matrix products


def product_shapes(s):
    """{name: (batch, M, K, N)} of the products one update of the model computes (batch 0: a 2-D mm)."""
    tokens, masked = s.batch * s.tokens, round(0.15 * s.batch * s.tokens)
    return {
        "q/k/v/out: tokens x d x d": (0, tokens, s.dim, s.dim),
        "fc1: tokens x d x ffn": (0, tokens, s.dim, s.ffn),
        "fc2: tokens x ffn x d": (0, tokens, s.ffn, s.dim),
        "attention QK^T: (b*h) x T x dh x T": (
            s.batch * s.heads,
            s.tokens,
            s.dim // s.heads,
            s.tokens,
        ),
        "LM head: masked x d x vocab": (0, masked, s.dim, s.vocab),
    }


def product_rate(b, m, k, n, dtype, seconds):
    """GFLOP/s of one product shape: best of 5 timings of enough repeats to fill `seconds`."""
    g = torch.Generator().manual_seed(0)
    lead = (b,) if b else ()
    x = torch.randn(*lead, m, k, generator=g).to(dtype)
    y = torch.randn(*lead, k, n, generator=g).to(dtype)
    op = torch.bmm if b else torch.mm
    flops = 2 * max(b, 1) * m * k * n
    op(x, y)
    t = time.perf_counter()
    op(x, y)
    reps = max(1, int(seconds / max(time.perf_counter() - t, 1e-6)))
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            op(x, y)
        best = min(best, (time.perf_counter() - t) / reps)
    return flops / best / 1e9


def measure_peak(s, seconds):
    rows = {}
    for name, shape in product_shapes(s).items():
        rates = {"fp32": [], "bf16": []}
        for _ in range(2):  # interleaved: fp32, bf16, fp32, bf16
            rates["fp32"].append(product_rate(*shape, torch.float32, seconds))
            rates["bf16"].append(product_rate(*shape, torch.bfloat16, seconds))
        rows[name] = {"shape": shape, "fp32": max(rates["fp32"]), "bf16": max(rates["bf16"])}
        say(f"  {name:38} fp32 {rows[name]['fp32']:7.1f}  bf16 {rows[name]['bf16']:7.1f} GFLOP/s")
    peak = {p: max(r[p] for r in rows.values()) for p in ("fp32", "bf16")}
    return rows, peak


# ---------------------------------------------------------------- data and bodies


def build_data(tmp: Path, s, seed=1):
    """A masked-LM dir and a 6-class classification dir over one synthetic dictionary of s.vocab symbols."""
    lengths = bench.verse_lengths()
    rng = random.Random(seed)
    symbols = bench.synthetic_dictionary(tmp / "dict.txt", "w", s.vocab)
    lines = bench.random_lines(rng, symbols, lengths, 8 * len(lengths))
    bench.write_lines(tmp / "text.txt", lines)
    bench.write_lines(tmp / "label.txt", bench.random_labels(rng, len(lines), 6))

    bench.binarize(tmp / "mlm", {"train": tmp / "text.txt"}, srcdict=tmp / "dict.txt")
    bench.binarize(tmp / "cls" / "input0", {"train": tmp / "text.txt"}, srcdict=tmp / "dict.txt")
    bench.binarize(tmp / "cls" / "label", {"train": tmp / "label.txt"})
    return tmp / "mlm", tmp / "cls"


def model_flags(s):
    return [
        "--encoder-layers",
        s.layers,
        "--encoder-embed-dim",
        s.dim,
        "--encoder-ffn-embed-dim",
        s.ffn,
        "--encoder-attention-heads",
        s.heads,
    ]


def step_args(step, s, mlm, cls, full, mini):
    """(data dir, fairseq-train arguments, batch size) of one step, as the recipes run it."""
    if step == "pretraining MiniJoint":
        return (
            mlm,
            [
                "--task",
                "minijoint_mlm",
                "--criterion",
                "minijoint_mlm",
                "--arch",
                "minijoint_roberta_small",
                *model_flags(s),
                "--mini-layer",
                s.k,
                "--tokens-per-sample",
                s.tokens,
            ],
            s.batch,
        )
    if step.startswith("step 2"):
        body = full if step == "step 2 full" else mini
        return (
            mlm,
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
    return (
        cls,
        [
            "--task",
            "sentence_prediction_frozen_embeddings",
            "--criterion",
            "sentence_prediction",
            "--arch",
            "roberta",
            "--body-checkpoint",
            full,
            "--num-classes",
            6,
            "--init-token",
            0,
            "--separator-token",
            2,
            "--max-positions",
            s.tokens,
            "--shorten-method",
            "truncate",
        ],
        s.ft_batch,
    )


def build(data, args, batch, precision, seed=1):
    """(task, Trainer) of one step's command line in one precision."""
    return bench.trainer_from_argv(
        bench.train_argv(data, args, batch, seed=seed, precision=precision)
    )[1:]


def batches(task, batch, n, max_positions, seed=1):
    """n batches of the task's train set (masked LM: full batch x tokens ones), epoch after epoch."""
    return bench.full_batches(task, batch, n, max_positions, seed)[0]


def make_bodies(tmp, s, mlm):
    """The (untrained) MiniJoint model as a checkpoint, and its mini-model (extract-mini)."""
    data, args, batch = step_args("pretraining MiniJoint", s, mlm, None, None, None)
    _, trainer = build(data, args, batch, "fp32")
    full = tmp / "minijoint.pt"
    trainer.consolidate_optimizer()  # what checkpoint_utils.save_checkpoint does first
    trainer.save_checkpoint(str(full), {})
    mini = surgery.to_roberta(surgery.load_roberta_checkpoint(full), head="mini")
    files.save_checkpoint(mini, tmp / "mini.pt", force=True)
    return full, tmp / "mini.pt"


# ---------------------------------------------------------------- steps


def interleaved(trainers, todo, warmup, pad):
    """Every trainer's update on each batch of `todo`, the order rotating batch by batch (two
    trainers: a, b; b, a; ...) so that outside load falls on all alike. Per trainer: the timed
    updates' seconds and losses and the warm-up's seconds; and each timed batch's FLOPs."""
    names = list(trainers)
    times, losses = {n: [] for n in names}, {n: [] for n in names}
    first, flops = dict.fromkeys(names, 0.0), []
    model = next(iter(trainers.values())).model
    for i, b in enumerate(todo):
        if i >= warmup:
            flops.append(roberta_update_flops(model, update_shape(b, pad))["total"])
        k = i % len(names)
        for name in names[k:] + names[:k]:
            t = time.perf_counter()
            log = trainers[name].train_step([b])
            dt = time.perf_counter() - t
            if i < warmup:
                first[name] += dt
            else:
                times[name].append(dt)
                losses[name].append(float(log["loss"]))
    return times, losses, first, flops


def time_step(step, s, mlm, cls, full, mini):
    data, args, batch = step_args(step, s, mlm, cls, full, mini)
    built = {p: build(data, args, batch, p) for p in ("fp32", "bf16")}
    task = built["fp32"][0]
    todo = batches(task, batch, s.warmup + s.pairs, s.tokens)
    times, losses, _, flops = interleaved(
        {p: t for p, (_, t) in built.items()}, todo, s.warmup, task.source_dictionary.pad()
    )
    return {
        "gflops_per_update": statistics.median(flops) / 1e9,
        **{f"{p}_s_per_update": statistics.median(times[p]) for p in times},
        **{
            f"{p}_gflops_per_s": statistics.median(f / dt / 1e9 for f, dt in zip(flops, times[p]))
            for p in times
        },
        **{f"{p}_mean_loss": statistics.fmean(losses[p]) for p in losses},
        "bf16_speedup": bench.paired_ratio(times["fp32"], times["bf16"]),
        "pairs": len(times["fp32"]),
    }


# the same update in other ways, each set up in a trainer built as the recipes build it. before:
# fairseq's GELU (its fp32 round trip) and torch's dropout masks, the path before compat patch 8
# and dropout.py; bf16 GELU: patch 8 (the plugin's default); fast dropout masks: and dropout.py's
# masks (the recipes' default, DROPOUT_MASKS=fast); the last three: torch's Adam variants and
# torch.compile, each on top of the recipes' default
OPTIONS = (
    "before",
    "bf16 GELU",
    "fast dropout masks",
    "+ foreach Adam",
    "+ fused Adam",
    "+ compiled layers",
)


def apply_option(trainer, option):
    """Set up `option` in a freshly built trainer (whatever MINIMODEL_DROPOUT_MASKS says)."""
    trainer.minimodel_fast_masks = option not in OPTIONS[:2]  # minimodel_fairseq/dropout.py
    if option == "before":  # compat patch 8 undone in this model: fairseq's own gelu
        for module in trainer.model.modules():
            fn = getattr(module, "activation_fn", None)
            if getattr(fn, "_minimodel", False):
                module.activation_fn = fn.__wrapped__
    if option.endswith("Adam"):  # torch's AdamW at fairseq Adam's settings (decoupled decay too)
        wrapper, old = trainer.optimizer, trainer.optimizer.optimizer
        group = old.param_groups[0]
        wrapper._optimizer = torch.optim.AdamW(
            [p for g in old.param_groups for p in g["params"]],
            lr=group["lr"],
            betas=group["betas"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            **({"foreach": True} if option == "+ foreach Adam" else {"fused": True}),
        )
    elif option == "+ compiled layers":  # in place: the state dict keeps its names
        for layer in trainer.model.encoder.sentence_encoder.layers:
            layer.compile()


def time_options(step, s, mlm, cls, full, mini, precision, options=OPTIONS):
    """Each option's update time against the first (before) on the same batches, order rotating."""
    data, args, batch = step_args(step, s, mlm, cls, full, mini)
    trainers = {}
    for option in options:
        task, trainers[option] = build(data, args, batch, precision)
        apply_option(trainers[option], option)
    todo = batches(task, batch, s.warmup + s.pairs, s.tokens)
    times, losses, first, flops = interleaved(
        trainers, todo, s.warmup, task.source_dictionary.pad()
    )
    return {
        o: {
            "s_per_update": statistics.median(times[o]),
            "gflops_per_update": statistics.median(flops) / 1e9,
            "speedup": bench.paired_ratio(times[options[0]], times[o]),
            "mean_loss": statistics.fmean(losses[o]),
            "warmup_s": first[o],
            "updates": len(times[o]),
        }
        for o in options
    }


# op name -> what it is; every other op's self time is "other ops" (copies, masking, views, adds)
CATEGORIES = {
    "matrix products": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"),
    "dropout masks": ("aten::bernoulli_", "aten::random_"),  # random_: dropout.py's bits
    "softmax": ("aten::_softmax", "aten::_softmax_backward_data"),
    "layer norm": ("aten::native_layer_norm", "aten::native_layer_norm_backward"),
    "GELU": ("aten::gelu", "aten::gelu_backward"),
    "loss": (
        "aten::_log_softmax",
        "aten::_log_softmax_backward_data",
        "aten::nll_loss_forward",
        "aten::nll_loss_backward",
    ),
}
PHASES = ("forward", "backward", "optimizer")  # fairseq's own record_function labels
PROFILED = 3  # updates under the profiler per step


def profile_step(step, s, mlm, cls, full, mini, precision, updates=PROFILED):
    """Where one update's time goes: torch.profiler over `updates` updates after the warm-up, in
    seconds per update by phase (fairseq's forward/backward/optimizer labels; the rest of train_step
    is fairseq's bookkeeping) and by kind of op (self time on the calling thread)."""
    from torch.profiler import ProfilerActivity, profile

    data, args, batch = step_args(step, s, mlm, cls, full, mini)
    task, trainer = build(data, args, batch, precision)
    todo = batches(task, batch, s.warmup + updates, s.tokens)
    for b in todo[: s.warmup]:
        trainer.train_step([b])
    pad = task.source_dictionary.pad()
    timed = todo[s.warmup :]
    flops = [roberta_update_flops(trainer.model, update_shape(b, pad))["total"] for b in timed]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for b in timed:
            trainer.train_step([b])
        wall = (time.perf_counter() - t) / updates
    events = prof.key_averages()
    by_name = {e.key: e for e in events}
    phases = {ph: by_name[ph].cpu_time_total / 1e6 / updates for ph in PHASES if ph in by_name}
    phases["bookkeeping"] = wall - sum(phases.values())
    where = {name: kind for kind, names in CATEGORIES.items() for name in names}
    ops = dict.fromkeys([*CATEGORIES, "other ops"], 0.0)
    for e in events:
        if e.key.startswith("aten::"):
            ops[where.get(e.key, "other ops")] += e.self_cpu_time_total / 1e6 / updates
    gflops = statistics.fmean(flops) / 1e9
    return {"s_per_update": wall, "gflops_per_update": gflops, "phases": phases, "ops": ops}


def percent(part, whole):
    return f"{100 * part / whole:.0f}%"


def mask_rate(threads, masks="torch", elements=1 << 20, reps=20):
    """ns per element of a dropout mask (``bernoulli_``, what F.dropout draws) at `threads` threads,
    with torch's kernel or dropout.py's (masks="fast")."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    x = torch.empty(elements)
    with dropout.fast_masks() if masks == "fast" else contextlib.nullcontext():
        x.bernoulli_(0.9)
        t = time.perf_counter()
        for _ in range(reps):
            x.bernoulli_(0.9)
        dt = time.perf_counter() - t
    torch.set_num_threads(before)
    return dt / reps / elements * 1e9


def profile_table(result):
    """--profile: each step's update split by phase and by kind of op, as shares of its time."""
    precision, prof = result["precision"], result["profile"]
    peak = result["peak"][precision]
    first = next(iter(prof.values()))
    phases, ops = list(first["phases"]), list(first["ops"])
    out = bench.table(
        ["step", f"{precision} s/update", "% of peak", *phases, *ops],
        [
            [
                step,
                f"{r['s_per_update']:.3f}",
                percent(r["gflops_per_update"] / r["s_per_update"], peak),
                *(percent(r["phases"][ph], r["s_per_update"]) for ph in phases),
                *(percent(r["ops"][op], r["s_per_update"]) for op in ops),
            ]
            for step, r in prof.items()
        ],
        left=1,
    )
    masks = result.get("mask_ns_per_element", {})
    if masks and not isinstance(next(iter(masks.values())), dict):  # written before dropout.py
        masks = {"torch": masks}
    return [
        *out,
        *(
            f"\ndropout masks ({kernel}, 2^20 elements): "
            + ", ".join(f"{v:.2f} ns per element at {t} thread(s)" for t, v in rates.items())
            for kernel, rates in masks.items()
        ),
        *(
            [f"\n(dropout masks in the steps: {result['dropout_masks']}, MINIMODEL_DROPOUT_MASKS)"]
            if "dropout_masks" in result
            else []
        ),
        f"\n(torch.profiler over {result['updates']} updates per step after the warm-up; phases are "
        "fairseq's record_function labels, bookkeeping the rest of train_step; ops are self times on "
        "the calling thread, so they add up to less than the update; % of peak: matrix-product "
        "GFLOP/s of the whole update)",
    ]


def options_table(result):
    """--options: torch's options against the default path, per step, side by side."""
    precision, opts = result["precision"], result["options"]
    peak = result["peak"][precision]
    out = bench.table(
        [
            "step",
            "option",
            f"{precision} s/update",
            "% of peak",
            "speed-up",
            "mean loss",
            "warm-up s",
        ],
        [
            [
                step,
                option,
                f"{r['s_per_update']:.3f}",
                percent(r["gflops_per_update"] / r["s_per_update"], peak),
                f"{r['speedup']:.2f}x",
                f"{r['mean_loss']:.4f}",
                f"{r['warmup_s']:.1f}",
            ]
            for step, per_option in opts.items()
            for option, r in per_option.items()
        ],
        left=2,
    )
    updates = next(iter(next(iter(opts.values())).values()))["updates"]
    first = next(iter(next(iter(opts.values()))))
    return [
        *out,
        f"\n(medians over {updates} updates per option after the warm-up, the options' order rotating "
        f"update by update; speed-up = median of per-update {first}/option time ratios)",
    ]


def report(result):
    """The tables of a result (main's, or a --json file's): the products and the peak, then each step
    (fp32 against bf16), or where each step's time goes (--profile), or torch's options (--options)."""
    peak, rows = result["peak"], result["products"]
    lines = [
        f"\n{result['description']}\n",
        "| product | shape | fp32 GFLOP/s | bf16 GFLOP/s | bf16/fp32 |",
        bench.rule(5, left=2),
    ]
    for name, r in rows.items():
        b, m, k, n = r["shape"]
        lines.append(
            bench.row(
                [
                    name.split(":")[0],
                    f"{f'{b} x ' if b else ''}{m} x {k} x {n}",
                    f"{r['fp32']:.1f}",
                    f"{r['bf16']:.1f}",
                    f"{r['bf16'] / r['fp32']:.2f}x",
                ]
            )
        )
    lines.append(
        f"| **peak** (best shape) | | **{peak['fp32']:.1f}** | **{peak['bf16']:.1f}** | "
        f"{peak['bf16'] / peak['fp32']:.2f}x |\n"
    )
    if "profile" in result:
        return "".join(line + "\n" for line in lines + profile_table(result))
    if "options" in result:
        return "".join(line + "\n" for line in lines + options_table(result))
    steps = result["steps"]
    pairs = next(iter(steps.values()))["pairs"]
    warmup = dict(zip(FIELDS, SIZES[result["size"]]))["warmup"]
    lines += bench.table(
        [
            "step",
            "GFLOPs/update",
            "fp32 s/update",
            "fp32 GFLOP/s",
            "% of fp32 peak",
            "bf16 s/update",
            "bf16 GFLOP/s",
            "% of bf16 peak",
            "bf16 speed-up",
            "mean loss fp32 / bf16",
        ],
        [
            [
                step,
                f"{r['gflops_per_update']:.2f}",
                f"{r['fp32_s_per_update']:.3f}",
                f"{r['fp32_gflops_per_s']:.1f}",
                f"{100 * r['fp32_gflops_per_s'] / peak['fp32']:.0f}%",
                f"{r['bf16_s_per_update']:.3f}",
                f"{r['bf16_gflops_per_s']:.1f}",
                f"{100 * r['bf16_gflops_per_s'] / peak['bf16']:.0f}%",
                f"{r['bf16_speedup']:.2f}x",
                f"{r['fp32_mean_loss']:.3f} / {r['bf16_mean_loss']:.3f}",
            ]
            for step, r in steps.items()
        ],
        left=1,
    )
    lines.append(
        f"\n(medians over {pairs} pairs after {warmup} warm-up; speed-up = median of per-pair "
        "fp32/bf16 time ratios; GFLOPs from minimodel_fairseq.flops, matrix products only)"
    )
    return "".join(line + "\n" for line in lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--quick", action="store_true", help="reduced size (4x128, batch 8x64, vocab 1000, 3 pairs)"
    )
    p.add_argument(
        "--pairs", type=int, help="timed fp32/bf16 update pairs per step (default 8; --quick 3)"
    )
    p.add_argument(
        "--steps",
        nargs="+",
        choices=STEPS,
        default=list(STEPS),
        metavar="STEP",
        help=f"which steps to time (default all: {', '.join(map(repr, STEPS))})",
    )
    p.add_argument(
        "--peak-seconds",
        type=float,
        default=0.05,
        help="seconds per timing of one product shape (5 timings x 2 rounds per precision)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch.set_num_threads (default: torch's, i.e. OMP_NUM_THREADS or the cores)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--profile", action="store_true", help="where each step's time goes, in place of fp32/bf16"
    )
    mode.add_argument(
        "--options", action="store_true", help="torch's options against the default, side by side"
    )
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16", "auto"),
        default="auto",
        help="precision of --profile and --options (auto: bf16 where the CPU has it natively)",
    )
    p.add_argument("--json", type=Path, help="also write the results here (atomically)")
    p.add_argument(
        "--report-from",
        type=Path,
        metavar="JSON",
        help="print the tables of the results in this --json file, measuring nothing",
    )
    opt = p.parse_args()
    if opt.report_from:
        print(report(bench.read_json(opt.report_from)), end="", flush=True)
        return
    torch.set_num_threads(opt.threads)
    size = "quick" if opt.quick else "full"
    s = argparse.Namespace(**dict(zip(FIELDS, SIZES[size])))
    s.pairs = opt.pairs or s.pairs
    desc = (
        f"{size}: {s.layers}x{s.dim} (ffn {s.ffn}, {s.heads} heads, K={s.k}), batch {s.batch}x{s.tokens} "
        f"(step 3: {s.ft_batch} verses), vocab {s.vocab}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )
    say(desc)
    say("peak matrix-product rate at the model's shapes (best of 10 timings per precision):")
    rows, peak = measure_peak(s, opt.peak_seconds)
    say(
        f"peak: fp32 {peak['fp32']:.1f} GFLOP/s, bf16 {peak['bf16']:.1f} GFLOP/s "
        f"(bf16/fp32 {peak['bf16'] / peak['fp32']:.2f}x)"
    )

    key = "profile" if opt.profile else "options" if opt.options else "steps"
    precision = opt.precision  # of --profile and --options; the default mode times both
    if key != "steps" and precision == "auto":
        precision = auto_precision()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mlm, cls = build_data(tmp, s)
        full, mini = make_bodies(tmp, s, mlm)
        for step in opt.steps:
            if opt.profile:
                say(f"profiling {step} ({precision}): {s.warmup} warm-up + {PROFILED} updates ...")
                results[step] = profile_step(step, s, mlm, cls, full, mini, precision, PROFILED)
            elif opt.options:
                say(
                    f"timing {step} ({precision}): {', '.join(OPTIONS)}, {s.pairs} updates each ..."
                )
                results[step] = time_options(step, s, mlm, cls, full, mini, precision)
            else:
                say(f"timing {step}: {s.warmup} warm-up + {s.pairs} fp32/bf16 pairs ...")
                results[step] = time_step(step, s, mlm, cls, full, mini)

    out = {"size": size, "description": desc, "products": rows, "peak": peak, key: results}
    if opt.profile:
        out["mask_ns_per_element"] = {
            kernel: {t: mask_rate(t, kernel) for t in sorted({1, opt.threads})}
            for kernel in dropout.CHOICES
        }
        out["dropout_masks"] = dropout.choice()
    if key != "steps":
        out.update(precision=precision, updates=PROFILED if opt.profile else s.pairs)
    print(report(out), end="", flush=True)
    if opt.json:
        bench.write_json(opt.json, out)


if __name__ == "__main__":
    main()
