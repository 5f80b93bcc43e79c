"""The benchmarks' shared layer: what every script in benchmarks/ would otherwise carry its own copy of.

- printing: :func:`say`, :func:`logger` (``[name HH:MM:SS] msg``), :func:`stopwatch` (``[  12.3 s] msg``);
- statistics: :func:`ratio`, :func:`paired_ratio`, :func:`robust` (and ``table.spread``/``table.cell``,
  ``paired.summarise`` for the mean and half range and the paired bootstrap);
- results keyed by the settings they were measured with: :func:`refuse_other_settings`,
  :func:`check_points` and :func:`cached` (a folder of JSON points), :func:`check_stamp` (one settings file);
- a fairseq Trainer from a training command line: :func:`train_argv`, :func:`training_config`,
  :func:`build_trainer`, :func:`trainer_from_argv`, its batches, :func:`full_batches`, and the peak RSS
  of trainers, each in a forked child: :class:`MemoryServer`;
- synthetic data of the fixture's verse lengths: :func:`verse_lengths`, :func:`synthetic_dictionary`,
  :func:`random_lines`, :func:`random_labels`, :func:`write_lines`, :func:`binarize`;
- reports: Markdown tables (:func:`row`, :func:`rule`, :func:`table`), atomic writes of text, JSON and
  plots (:func:`write_text`, :func:`write_json`, :func:`write_plot`), matplotlib set up headless
  (:func:`pyplot`), and :func:`read_json` for a script's ``--report-from``.

Standard library at import, like the rest of minimodel_recipes: torch, fairseq and matplotlib are
imported inside the functions that need them.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from minimodel_recipes import settings as recipe_settings

ROOT = Path(__file__).resolve().parents[1]
USER_DIR = ROOT / "minimodel_fairseq"  # --user-dir of every trainer built here
FIXTURE_TSV = ROOT / "tests" / "fixtures" / "bible" / "verses.tsv"


# ---------------------------------------------------------------- printing


def say(*parts: object) -> None:
    """print, flushed at once (a benchmark's output is followed live, often through a pipe)."""
    print(*parts, flush=True)


def logger(name: str) -> Callable[[str], None]:
    """A printer of ``[name HH:MM:SS] msg`` lines, flushed."""

    def log(msg: str) -> None:
        print(f"[{name} {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    return log


def stopwatch(start: float | None = None) -> Callable[[str], None]:
    """A printer of ``[  12.3 s] msg`` lines: seconds since ``start`` (time.perf_counter(); default now)."""
    start = time.perf_counter() if start is None else start

    def progress(what: str) -> None:
        say(f"[{time.perf_counter() - start:6.1f} s] {what}")

    return progress


# ---------------------------------------------------------------- statistics


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None where either is missing or zero (a target not reached)."""
    return a / b if a and b else None


def paired_ratio(a: Iterable[float], b: Iterable[float]) -> float:
    """The median of the per-pair ratios a_i / b_i: the two of a pair ran back to back, under the same load,
    so load that changes between pairs cancels."""
    return statistics.median(x / y for x, y in zip(a, b))


def robust(times: Sequence[float]) -> tuple[float, float]:
    """(median, mean of the fastest half) of timings."""
    fast = sorted(times)[: max(1, math.ceil(len(times) / 2))]
    return statistics.median(times), statistics.fmean(fast)


# ---------------------------------------------------------------- results keyed by their settings


def refuse_other_settings(stored: dict | None, now: dict, refusal: Callable[[str], str]) -> bool:
    """Whether settings were stored; stops (SystemExit) with ``refusal(differences)`` when they are not ``now``.

    ``differences`` is minimodel_recipes.settings.differences's one line ("ADAPT_UPDATES '6' there, '8' now").
    """
    if stored is None:
        return False
    stored = recipe_settings.with_defaults(stored, now)
    if stored != now:
        raise SystemExit(refusal(recipe_settings.differences(stored, now)))
    return True


def check_points(cache: Path, stamp: dict, log: Callable[[str], None]) -> None:
    """Refuse a folder of cached points (``cache/*.json``, written by :func:`cached`) measured with other
    settings than ``stamp``; warn about points that predate recorded settings (they are assumed to match)."""
    unstamped = []
    for path in sorted(Path(cache).glob("*.json")):
        stored = json.loads(path.read_text()).get("settings")
        if not refuse_other_settings(
            stored,
            stamp,
            lambda diff, path=path: (
                f"refusing to reuse {path}: it was measured with other settings ({diff}). Nothing is "
                "recomputed, because the recipes would skip the finished training of the old settings: "
                f"run these settings in another RUNS (now {Path(cache).parent}), or delete that folder to "
                "measure again"
            ),
        ):
            unstamped.append(path.name)
    if unstamped:
        log(
            f"warning: {len(unstamped)} points in {cache} record no settings (measured before they were "
            f"recorded, e.g. {unstamped[0]}): assumed to be these settings"
        )


def cached(path: Path, measure: Callable[[], dict], report_only: bool, stamp: dict) -> dict | None:
    """measure()'s result, kept in ``path`` (JSON, with the seconds it took and the settings ``stamp`` it was
    measured with) so that a rerun does not measure it again (:func:`check_points` has refused other settings).

    With report_only, never measures: the cached result or None.
    """
    path = Path(path)
    if path.exists():
        return json.loads(path.read_text())
    if report_only:
        return None
    start = time.time()
    result = {**measure(), "measured_in_s": time.time() - start, "settings": stamp}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(result))
    return result


def check_stamp(path: Path, now: dict, write: bool, refusal: Callable[[str], str]) -> None:
    """One settings file for a folder of runs: refuse (``refusal(differences)``) when it records other settings
    than ``now``; record ``now`` when there is none yet and ``write``."""
    path = Path(path)
    if refuse_other_settings(
        json.loads(path.read_text()) if path.is_file() else None, now, refusal
    ):
        return
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(now, indent=1) + "\n")


# ---------------------------------------------------------------- trainers


def train_argv(
    data: str | Path,
    args: Iterable[object],
    batch: int,
    *,
    seed: int = 1,
    precision: str = "fp32",
    adam_betas: str | None = None,
) -> list[str]:
    """A fairseq-train command line (without the program) of the benchmarks: ``data``, the plugin's --user-dir,
    ``args`` (task, criterion, arch, ...), then batch, Adam at lr 1e-4 without clipping, on the CPU in this
    process, the seed, and --bf16 for precision bf16."""
    return [
        str(data),
        "--user-dir",
        str(USER_DIR),
        *map(str, args),
        "--batch-size",
        str(batch),
        "--optimizer",
        "adam",
        *(["--adam-betas", adam_betas] if adam_betas else []),
        "--lr",
        "1e-4",
        "--clip-norm",
        "0",
        "--cpu",
        "--num-workers",
        "0",
        "--data-buffer-size",
        "0",
        "--seed",
        str(seed),
        *(["--bf16"] if precision == "bf16" else []),
    ]


def training_config(argv: Sequence[object]):
    """The omegaconf config fairseq-train makes of a command line (``argv`` without the program)."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    import minimodel_fairseq  # noqa: F401  (the plugin, and --bf16 without a TPU)

    parsed = options.parse_args_and_arch(
        options.get_training_parser(), input_args=[str(a) for a in argv]
    )
    return convert_namespace_to_omegaconf(parsed)


def build_trainer(cfg, prepare: Callable[[Any], None] | None = None) -> tuple[Any, Any]:
    """(task, Trainer) as fairseq-train builds them from ``cfg``: the torch seed set, the task set up, its
    train split loaded, then the model and the criterion. ``prepare(task)`` runs before the split loads
    (e.g. to pad the dictionary). The Trainer may edit cfg: pass a copy to keep it."""
    from fairseq import tasks, utils
    from fairseq.trainer import Trainer

    utils.set_torch_seed(cfg.common.seed)
    task = tasks.setup_task(cfg.task)
    if prepare is not None:
        prepare(task)
    task.load_dataset("train")
    model = task.build_model(cfg.model)
    return task, Trainer(cfg, task, model, task.build_criterion(cfg.criterion))


def trainer_from_argv(
    argv: Sequence[object], prepare: Callable[[Any], None] | None = None
) -> tuple[Any, Any, Any]:
    """(cfg, task, Trainer) of a fairseq-train command line: :func:`training_config`, then :func:`build_trainer`."""
    cfg = training_config(argv)
    return (cfg, *build_trainer(cfg, prepare))


def full_batches(task, batch: int, n: int, max_positions: int, seed: int = 1) -> tuple[list, float]:
    """The first n full batches (``batch`` sentences) of the task's train split, epoch after epoch (shuffled
    by ``seed``), and the batch iterator's seconds per batch (collation and masking happen in it).
    Stops with a message when 50 epochs give no full batch."""
    out, epoch, made, seconds = [], 1, 0, 0.0
    while len(out) < n:
        itr = task.get_batch_iterator(
            task.dataset("train"),
            max_sentences=batch,
            seed=seed,
            epoch=epoch,
            max_positions=max_positions,
            disable_iterator_cache=True,
        )
        itr = itr.next_epoch_itr(shuffle=True)
        t = time.perf_counter()
        for b in itr:
            made += 1
            out += [b] if b["nsentences"] == batch else []
            if len(out) == n:
                break
        seconds += time.perf_counter() - t
        epoch += 1
        if epoch > 50 and not out:
            raise SystemExit(f"no full batch of {batch} x {max_positions} in the data")
    return out, seconds / made


def vm(field: str) -> float | None:
    """VmHWM (peak RSS) or VmRSS of this process, MB (Linux: /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 1e6
    return None


class MemoryServer:
    """Peak RSS of trainers, each in a child process of its own. The server is forked from this process
    before any work (it holds the imports and nothing else); per job (``ask({"cfg": path})``: a pickled
    training config) it forks a child that builds that config's trainer (:func:`build_trainer`), runs
    ``updates`` updates on full batches of at most ``max_positions`` tokens and answers its VmHWM. A forked
    child's peak starts at the server's memory, so each number is that trainer's with the imports, as a
    fairseq-train process has them. ``ask()`` without a job: the server's own RSS (its first answer)."""

    def __init__(self, max_positions: int, threads: int, updates: int = 2, name: str = "bench"):
        self.name = name
        jobs_in, jobs_out = os.pipe()
        answers_in, answers_out = os.pipe()
        sys.stdout.flush()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(jobs_out), os.close(answers_in)
            try:
                self._serve(
                    os.fdopen(jobs_in), os.fdopen(answers_out, "w"), max_positions, threads, updates
                )
            finally:
                os._exit(0)
        os.close(jobs_in), os.close(answers_out)
        self.jobs, self.answers = os.fdopen(jobs_out, "w"), os.fdopen(answers_in)

    @staticmethod
    def _serve(jobs, answers, max_positions, threads, updates):
        import torch

        torch.optim.Adam(
            [torch.zeros(1, requires_grad=True)]
        )  # its first use imports torch._dynamo (seconds): once
        print(json.dumps({"baseline_rss_mb": vm("VmRSS")}), file=answers, flush=True)
        for line in jobs:  # until the parent closes the pipe (or ends)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                try:
                    torch.set_num_threads(threads)
                    task, trainer = build_trainer(
                        pickle.loads(Path(json.loads(line)["cfg"]).read_bytes())
                    )
                    for b in full_batches(
                        task, trainer.cfg.dataset.batch_size, updates, max_positions
                    )[0]:
                        trainer.train_step([b])
                    answer = {"peak_rss_mb": vm("VmHWM"), "end_rss_mb": vm("VmRSS")}
                except BaseException as e:  # noqa: BLE001  (reported to the parent, which stops)
                    answer = {"error": f"{type(e).__name__}: {e}"}
                os.write(w, json.dumps(answer).encode())
                os._exit(0)
            os.close(w)
            with os.fdopen(r) as f:
                answer = f.read()
            os.waitpid(pid, 0)
            print(
                answer or json.dumps({"error": "the child died without an answer"}),
                file=answers,
                flush=True,
            )

    def ask(self, job: dict | None = None) -> dict:
        """The answer to one job (or the server's first answer); stops with the error a child reported."""
        if job is not None:
            print(json.dumps(job), file=self.jobs, flush=True)
        answer = json.loads(self.answers.readline() or '{"error": "the memory server ended"}')
        if "error" in answer:
            raise SystemExit(f"{self.name}: peak-RSS measurement {job}: {answer['error']}")
        return answer

    def close(self) -> None:
        """End the server (its loop ends when the job pipe closes) and wait for it."""
        self.jobs.close()
        os.waitpid(self.pid, 0)


# ---------------------------------------------------------------- synthetic data


def verse_lengths(
    tsv: Path = FIXTURE_TSV, translation: str = "4", tokens_per_word: float = 1.25
) -> list[int]:
    """Token counts of the fixture's verses of one translation (WEB: "4"), about as many as sentencepiece
    makes of them: what synthetic lines are as long as."""
    import csv

    with open(tsv, encoding="utf-8", newline="") as f:
        return [
            round(tokens_per_word * len(r["vText"].split()))
            for r in csv.DictReader(f, delimiter="\t")
            if r["bbName"] == translation
        ]


def synthetic_dictionary(path: Path, prefix: str, rows: int) -> list[str]:
    """Write a fairseq dict.txt of ``rows - 5`` symbols ``{prefix}0, {prefix}1, ...`` (with fairseq's 4 specials
    and <mask>, ``rows`` embedding rows) in falling counts; returns the symbols."""
    symbols = [f"{prefix}{i}" for i in range(rows - 5)]
    Path(path).write_text("".join(f"{w} {rows - i}\n" for i, w in enumerate(symbols)))
    return symbols


def random_lines(rng, symbols: Sequence[str], lengths: Sequence[int], n: int) -> list[str]:
    """n lines of random symbols, each as long as a random one of ``lengths`` (``rng``: a random.Random)."""
    return [" ".join(rng.choices(symbols, k=rng.choice(lengths))) for _ in range(n)]


def random_labels(rng, n: int, classes: int) -> list[str]:
    """n random class labels g0 .. g{classes - 1}."""
    return [f"g{rng.randrange(classes)}" for _ in range(n)]


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    """One line each, newline-terminated."""
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def binarize(dest: Path, splits: dict, srcdict: Path | None = None) -> Path:
    """fairseq-preprocess --only-source of {split: text file} into dest (in this process)."""
    from minimodel_fairseq.data.binarize import fairseq_preprocess

    return fairseq_preprocess(dest, splits, srcdict=srcdict)


# ---------------------------------------------------------------- reports


def row(cells: Iterable[object]) -> str:
    """One Markdown table row: ``| a | b |``."""
    return "| " + " | ".join(map(str, cells)) + " |"


def rule(columns: int, left: int | None = None) -> str:
    """A Markdown table's header rule: every column left-aligned (``|---|---|``), or the first ``left``
    columns left-aligned and the rest right-aligned (``|---|---:|``)."""
    if left is None:
        return "|---" * columns + "|"
    return "|" + "---|" * left + "---:|" * (columns - left)


def table(
    header: Sequence[object], rows: Iterable[Sequence[object]], left: int | None = None
) -> list[str]:
    """A Markdown table's lines: the header, its :func:`rule`, the rows."""
    return [row(header), rule(len(header), left), *map(row, rows)]


def pyplot():
    """matplotlib.pyplot, headless (Agg), without the DEBUG lines fairseq's logging set-up lets through."""
    import logging

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_text(path: Path, text: str, encoding: str | None = None) -> Path:
    """Write text atomically (minimodel_fairseq.files.atomic_write: never half-written under the real name)."""
    from minimodel_fairseq.files import atomic_write

    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding=encoding))


def write_json(
    path: Path, data: Any, end: str = "", encoding: str | None = None, **dumps: Any
) -> Path:
    """``json.dumps(data, indent=1, **dumps) + end``, written atomically."""
    return write_text(path, json.dumps(data, indent=1, **dumps) + end, encoding)


def write_plot(path: Path, draw: Callable[[str], None]) -> Path:
    """``draw(tmp)`` saves a figure to a temporary name, renamed onto ``path`` (atomic)."""
    from minimodel_fairseq.files import atomic_write

    return atomic_write(path, draw)


def read_json(path: str | Path) -> Any:
    """A results JSON, for a script's --report-from (rewrite the report from it, measuring nothing)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
