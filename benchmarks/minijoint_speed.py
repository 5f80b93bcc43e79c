"""Per-update training time of MiniJoint vs stock fairseq RoBERTa, interleaved.

    .venv/bin/python benchmarks/minijoint_speed.py                 # base: 12x768, K=4
    .venv/bin/python benchmarks/minijoint_speed.py --size small    # 8x256, K=2
    .venv/bin/python benchmarks/minijoint_speed.py --sizes-sweep   # candidate small shapes

Both sides are built from fairseq configs (``--task minijoint_mlm --criterion
minijoint_mlm --arch minijoint_roberta_<size>`` vs ``--task masked_lm
--criterion masked_lm`` with the stock ``roberta`` architecture of the same
sizes) and timed through ``fairseq.trainer.Trainer.train_step`` (forward,
backward, Adam step) on the same batches, same seed. Updates alternate A, B,
B, A, A, B, ... so that other load on the machine hits both sides alike.
Without ``--data`` a masked-LM data dir is built in a temp dir from the
committed fixture, as tests/conftest.py does. docs/benchmarks.md has results.
"""

import argparse
import csv
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

logging.disable(logging.INFO)  # fairseq/hydra log INFO and DEBUG on import and per build

import torch  # noqa: E402

from minimodel_recipes import bench  # noqa: E402  (trainers, statistics, tables, printing)

# size -> (MiniJoint arch, stock arch with the same layer shapes, default batch, default pairs)
SIZES = {
    "small": ("minijoint_roberta_small", "roberta_prenorm", 16, 20),
    "base": ("minijoint_roberta_base", "roberta_base", 8, 10),
    "large": ("minijoint_roberta_large", "roberta_large", 4, 5),
}
SHAPE_KEYS = (
    "encoder_layers",
    "encoder_embed_dim",
    "encoder_ffn_embed_dim",
    "encoder_attention_heads",
    "encoder_normalize_before",
)
say, robust = bench.say, bench.robust  # robust: (median, fastest-half mean)


def build_fixture_data(tmp: Path) -> Path:
    """fairseq-preprocess the fixture's English (WEB, bbName 4) verses into tmp/bin."""
    with open(bench.FIXTURE_TSV, encoding="utf-8", newline="") as f:
        verses = [r["vText"] for r in csv.DictReader(f, delimiter="\t") if r["bbName"] == "4"]
    (tmp / "train.txt").write_text("\n".join(verses) + "\n", encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fairseq_cli.preprocess",
            "--only-source",
            "--trainpref",
            str(tmp / "train.txt"),
            "--destdir",
            str(tmp / "bin"),
            "--workers",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    return tmp / "bin"


def build(data, task, criterion, arch, extra, opt):
    """(task, trainer) from a fairseq command line; the dictionary is padded to --vocab."""

    def pad(t):  # like an 8k sentencepiece vocab: the LM heads scale with it
        d = t.source_dictionary
        while len(d) < opt.vocab:
            d.add_symbol(f"<dummy{len(d)}>")

    args = [
        "--task",
        task,
        "--criterion",
        criterion,
        "--arch",
        arch,
        *extra,
        "--tokens-per-sample",
        opt.tokens_per_sample,
    ]
    return bench.trainer_from_argv(
        bench.train_argv(data, args, opt.batch_size, seed=opt.seed), prepare=pad
    )[1:]


def shape(trainer):
    a = trainer.model.args
    return {k: getattr(a, k) for k in SHAPE_KEYS}


def n_params(trainer):
    return sum(p.numel() for p in trainer.model.parameters())


def full_batches(task, opt, n):
    """n full batches (batch_size x tokens_per_sample) from the task's epoch iterators."""
    return bench.full_batches(task, opt.batch_size, n, opt.tokens_per_sample, opt.seed)[0]


def timed_step(trainer, batch):
    """(wall seconds, process CPU seconds) of one fairseq update."""
    w0, c0 = time.perf_counter(), time.process_time()
    trainer.train_step([batch])
    return time.perf_counter() - w0, time.process_time() - c0


def compare(data, opt):
    mj_arch, stock_arch, _, _ = SIZES[opt.size]
    mj_task, mj = build(data, "minijoint_mlm", "minijoint_mlm", mj_arch, [], opt)
    s = shape(mj)
    # the stock side gets the MiniJoint arch's sizes explicitly, so the encoders match
    sizes = [
        "--encoder-layers",
        s["encoder_layers"],
        "--encoder-embed-dim",
        s["encoder_embed_dim"],
        "--encoder-ffn-embed-dim",
        s["encoder_ffn_embed_dim"],
        "--encoder-attention-heads",
        s["encoder_attention_heads"],
    ]
    stock_task, stock = build(data, "masked_lm", "masked_lm", stock_arch, map(str, sizes), opt)
    assert shape(stock) == s, (shape(stock), s)
    assert len(stock_task.source_dictionary) == len(mj_task.source_dictionary)
    vocab, k = len(stock_task.source_dictionary), mj.model.mini_layer
    desc = f"{s['encoder_layers']}x{s['encoder_embed_dim']}, K={k}"
    say(
        f"{opt.size}: {desc}, pre-norm={s['encoder_normalize_before']}, vocab {vocab}, "
        f"batch {opt.batch_size}x{opt.tokens_per_sample}, torch threads {torch.get_num_threads()}"
    )
    say(f"params: stock ({stock_arch}) {n_params(stock):,}, minijoint ({mj_arch}) {n_params(mj):,}")
    batches = full_batches(stock_task, opt, opt.warmup + opt.updates)
    masked = [int(b["target"].ne(stock_task.source_dictionary.pad()).sum()) for b in batches]
    say(f"{len(batches)} batches, masked tokens per batch {min(masked)}-{max(masked)}")

    t_stock, t_mj, cpu_stock, cpu_mj = [], [], [], []
    for i, batch in enumerate(batches):
        # alternate which side goes first, so neither always runs on a "fresh" machine
        order = [("stock", stock), ("minijoint", mj)][:: 1 if i % 2 == 0 else -1]
        dt = {name: timed_step(tr, batch) for name, tr in order}
        warm = i < opt.warmup
        (ws, cs), (wm, cm) = dt["stock"], dt["minijoint"]
        if not warm:
            t_stock.append(ws), cpu_stock.append(cs)
            t_mj.append(wm), cpu_mj.append(cm)
        tag = "warm-up" if warm else f"pair {i - opt.warmup + 1}/{opt.updates}"
        say(
            f"  {tag:>12}: stock {ws:7.3f}s  minijoint {wm:7.3f}s  ratio {wm / ws:.3f}  "
            f"(cpu {cs:.2f}s / {cm:.2f}s, {order[0][0]} first)"
        )

    (ms, fs), (mm, fm) = robust(t_stock), robust(t_mj)
    paired = bench.paired_ratio(t_mj, t_stock)
    say(f"stock     s/update: median {ms:.3f}, fastest-half mean {fs:.3f}")
    say(f"minijoint s/update: median {mm:.3f}, fastest-half mean {fm:.3f}")
    say(
        f"ratio: of medians {mm / ms:.3f}, of fastest-half means {fm / fs:.3f}, "
        f"median of per-pair ratios {paired:.3f}, "
        f"of median process CPU time {statistics.median(cpu_mj) / statistics.median(cpu_stock):.3f}"
    )
    # Headline: the two updates of a pair run back to back, under the same outside load, so
    # the median of per-pair ratios cancels load that changes between pairs (bursty here).
    ratio = paired
    say(
        f"minijoint/stock per-update time ratio: {ratio:.3f} (median of per-pair ratios; "
        f"{opt.size}, {desc}, batch {opt.batch_size}x{opt.tokens_per_sample}, vocab {vocab}, "
        f"{len(t_stock)} pairs) "
        f"-- goal <= 1.10: {'met' if ratio <= 1.10 else 'NOT met'}"
    )


def sweep(data, opt):
    say(
        f"sizes sweep: minijoint_roberta_small (pre-norm) shapes, FFN 4 x dim, 64-dim heads, K=2, "
        f"batch {opt.batch_size}x{opt.tokens_per_sample}, vocab >= {opt.vocab}, "
        f"torch threads {torch.get_num_threads()}, {opt.warmup} warm-up + {opt.updates} timed "
        f"updates per shape, round-robin over the shapes"
    )
    shapes = []
    for spec in opt.shapes.split(","):
        layers, dim = map(int, spec.lower().split("x"))
        extra = [
            "--encoder-layers",
            layers,
            "--encoder-embed-dim",
            dim,
            "--encoder-ffn-embed-dim",
            4 * dim,
            "--encoder-attention-heads",
            dim // 64,
            "--mini-layer",
            2,
        ]
        task, tr = build(
            data, "minijoint_mlm", "minijoint_mlm", "minijoint_roberta_small", map(str, extra), opt
        )
        shapes.append((layers, dim, tr, []))
    vocab = len(task.source_dictionary)
    batches = full_batches(task, opt, opt.warmup + opt.updates)
    for i, batch in enumerate(batches):  # one update of every shape per round: same load for all
        for layers, dim, tr, times in shapes:
            dt = timed_step(tr, batch)[0]
            if i >= opt.warmup:
                times.append(dt)
        tag = "warm-up" if i < opt.warmup else f"round {i - opt.warmup + 1}/{opt.updates}"
        say(
            f"  {tag:>9}: "
            + "  ".join(f"{n}x{d} {t[-1]:.2f}s" if t else f"{n}x{d} -" for n, d, _, t in shapes)
        )
    say(
        f"\nvocab {vocab}, batch {opt.batch_size}x{opt.tokens_per_sample}, "
        f"{torch.get_num_threads()} torch threads; updates in 10 min from the median"
    )
    rows = []
    for layers, dim, tr, times in shapes:
        med, fast = robust(times)
        rows.append(
            [
                f"{layers} x {dim}",
                f"{n_params(tr) / 1e6:.2f}M",
                f"{med:.2f}",
                f"{fast:.2f}",
                f"{600 / med:.0f}",
            ]
        )
    say(
        "\n".join(
            bench.table(
                [
                    "layers x dim",
                    "params",
                    "s/update (median)",
                    "s/update (fastest half)",
                    "updates in 10 min",
                ],
                rows,
                left=1,
            )
        )
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--data", type=Path, help="fairseq masked-LM data dir (default: built from the fixture)"
    )
    p.add_argument("--size", choices=SIZES, default="base")
    p.add_argument("--updates", type=int, help="timed pairs (sweep: timed updates per shape)")
    p.add_argument("--warmup", type=int, default=2, help="untimed updates first (default 2)")
    p.add_argument("--batch-size", type=int, help="sentences per batch (default by size; sweep 16)")
    p.add_argument("--tokens-per-sample", type=int, default=128)
    p.add_argument(
        "--vocab",
        type=int,
        default=8000,
        help="pad the dictionary with dummy symbols to this size (0: as is; default 8000)",
    )
    p.add_argument("--sizes-sweep", action="store_true", help="time candidate small shapes instead")
    p.add_argument("--shapes", default="6x256,8x256,8x384,12x256,4x512", help="sweep shapes LxD")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--seed", type=int, default=1)
    opt = p.parse_args()
    if opt.sizes_sweep:
        opt.batch_size = opt.batch_size or 16
        opt.updates = opt.updates or 6
    else:
        opt.batch_size = opt.batch_size or SIZES[opt.size][2]
        opt.updates = opt.updates or SIZES[opt.size][3]
    torch.set_num_threads(opt.threads)
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory(prefix="minijoint_bench_") as tmp:
        data = opt.data or build_fixture_data(Path(tmp))
        (sweep if opt.sizes_sweep else compare)(data, opt)


if __name__ == "__main__":
    main()
