"""The Bible recipes' settings and method table, defined once.

Every setting is an environment variable with a CPU-sized default; the recipes
(examples/bible/*.sh, through common.sh), the benchmarks (benchmarks/transfer.py,
benchmarks/step2_compute.py) and table.py all read them from here:

    .venv/bin/python -m minimodel_recipes.settings             # every setting: value, default, meaning
    .venv/bin/python -m minimodel_recipes.settings --methods   # the step-2 methods
    eval "$(.venv/bin/python -m minimodel_recipes.settings --shell)"   # what common.sh does

In Python (standard library only, so the shell pays no torch import):

    from minimodel_recipes import settings
    s = settings.resolve()                  # {name: value} from os.environ and the defaults
    settings.METHODS["minijoint"].big_model # 'minijoint': its step-3 classifier
    settings.step2("minijoint", s)          # body checkpoint, updates, lr, init, warmup

A bad value stops here with one message that names the variable (SettingError).
"""

import argparse
import csv
import math
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path


class SettingError(ValueError):
    """A setting's value cannot be used; the message names the variable and what to give."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    kind: str = (
        "str"  # str | int (>= 1) | count (>= 0) | float | fraction (0 < x <= 1) | words | choice
    )
    choices: tuple = ()
    affects_results: bool = (
        True  # False: where files go, what to run, logging; True: what gets trained
    )


def _threads():
    return str(
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


# fairseq-train flags per PRECISION; a new precision (e.g. fp16 on a GPU) is one entry here. bf16:
# matrix products in bfloat16, weights, optimizer and checkpoints in fp32 (the plugin's --bf16
# without a TPU, minimodel_fairseq/compat.py; docs/benchmarks.md); fast only where the CPU computes
# bf16 natively, hence the default auto: bf16 where /proc/cpuinfo lists AVX-512 BF16 or AMX, else
# fp32 with a one-line notice (docs/results.md compares the two precisions).
PRECISION_FLAGS = {"fp32": (), "bf16": ("--bf16",)}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def auto_precision(cpuinfo="/proc/cpuinfo", quiet=False):
    """PRECISION=auto: bf16 where the CPU has native bf16 products (BF16_CPU_FLAGS), else fp32."""
    try:
        flags = set(Path(cpuinfo).read_text().split())
    except OSError:
        flags = set()
    if flags & set(BF16_CPU_FLAGS):
        return "bf16"
    if quiet:
        return "fp32"
    print(
        f"PRECISION=auto: no {' or '.join(BF16_CPU_FLAGS)} in {cpuinfo}, so fp32", file=sys.stderr
    )
    return "fp32"


SETTINGS = [
    # where and what
    Setting(
        "DATA",
        "data/bible",
        "prepared data: DATA/<lang>/{mlm,cls,spm.model} (prepare.sh)",
        affects_results=False,
    ),
    Setting("RUNS", "runs/bible", "checkpoints, logs and results", affects_results=False),
    Setting("SRC", "en", "source language (pretraining, fine-tuning)"),
    Setting("LANGS", "de fr ru", "target languages of run_all.sh", "words", affects_results=False),
    Setting(
        "SEEDS",
        "1",
        'seeds of steps 2-3 in run_all.sh (docs/results.md: "1 2")',
        "words",
        affects_results=False,
    ),
    Setting(
        "METHODS",
        "full minijoint random copy_only",
        "step-2 methods of run_all.sh (--methods below; "
        "minipost pretrains a plain RoBERTa too, about as long again)",
        "words",
        affects_results=False,
    ),
    Setting("VOCAB", "4000", "sentencepiece vocabulary per language (prepare.sh)", "int"),
    # the models
    Setting("ARCH", "minijoint_roberta_small", "MiniJoint architecture (step 1)"),
    Setting(
        "PLAIN_ARCH",
        "roberta_small",
        "plain RoBERTa architecture (step 1 for MiniPost): ARCH without the secondary head",
    ),
    Setting(
        "MODEL_FLAGS",
        "",
        'extra model flags for step 1, e.g. "--encoder-layers 4 --encoder-embed-dim 64" '
        "for a miniature run (--mini-layer is dropped for the plain RoBERTa)",
    ),
    Setting("TOKENS", "128", "tokens per sample", "int"),
    Setting(
        "PRECISION",
        "auto",
        "numeric precision of every fairseq-train run: fp32, bf16 (bfloat16 products, "
        "fp32 weights) or auto (bf16 where the CPU has AVX-512 BF16 or AMX, else fp32)",
        "choice",
        (*PRECISION_FLAGS, "auto"),
    ),
    Setting(
        "DROPOUT_MASKS",
        "fast",
        "dropout masks of every fairseq-train run on CPU: fast (16 random bits per element, "
        "4x faster) or torch (torch's bernoulli_); MINIMODEL_DROPOUT_MASKS, minimodel_fairseq/dropout.py",
        "choice",
        ("fast", "torch"),
    ),
    # step 1: pretraining (MiniJoint, and the plain RoBERTa that MiniPost starts from)
    Setting("PRETRAIN_UPDATES", "2000", "step-1 updates (MiniJoint and the plain RoBERTa)", "int"),
    Setting("PRETRAIN_BSZ", "16", "step-1 batch size (sequences)", "int"),
    Setting("PRETRAIN_LR", "1e-3", "step-1 peak learning rate", "float"),
    Setting(
        "FORGET_EVERY",
        "0",
        "step 1 with active forgetting: token embeddings re-drawn every N updates "
        "(--forget-embeddings-every; 0: off)",
        "count",
    ),
    Setting(
        "FORGET_LR",
        "run",
        "with FORGET_EVERY: the embeddings' LR, run (the run's schedule) or phase (it compressed into "
        "each phase, as the reference code; --forget-lr-schedule)",
        "choice",
        ("run", "phase"),
    ),
    # step 1b: MiniPost
    Setting("MINIPOST_K", "2", "MiniPost: layers kept from the plain RoBERTa", "int"),
    Setting("MINIPOST_M", "1", "MiniPost: new layers on top (copies of layers K+1..K+M)", "int"),
    Setting("MINIPOST_UPDATES", "200", "MiniPost training updates", "int"),
    Setting(
        "MINIPOST_VALID_STEPS",
        "20",
        "step-1b validation batches (--max-valid-steps): the loss is only "
        "reported, and a whole valid split costs tens of minutes at base size",
        "int",
        affects_results=False,
    ),
    Setting(
        "MINIPOST_HEAD_INIT",
        "copy",
        "MiniPost's LM head: copy (the big model's) or random (a new one)",
        "choice",
        ("copy", "random"),
    ),
    # step 2: new-language embeddings
    Setting(
        "ADAPT_UPDATES",
        "500",
        "step-2 updates of the standard recipe (and of every method's warmup: ADAPT_UPDATES / 10)",
        "int",
    ),
    Setting(
        "MINI_ADAPT_UPDATES",
        "$ADAPT_UPDATES",
        "step-2 updates over a mini-model (cheaper updates; "
        "benchmarks/transfer.py gives them more)",
        "int",
    ),
    Setting("ADAPT_BSZ", "16", "step-2 batch size", "int"),
    Setting("ADAPT_LR", "2e-3", "step-2 learning rate", "float"),
    Setting(
        "ADAPT_FRACTION",
        "1",
        "step 2 on this leading share of the target's training text (--train-fraction; 0.1: low data)",
        "fraction",
    ),
    # shared: rows of tokens spelled as in the source dictionary start from the source embedding
    # (names, numbers, punctuation). At CPU scale it is what makes transfer work: over a weakly
    # contextual body, masked LM pins the new embeddings down only up to a rotation, and the copied
    # rows fix it (docs/results.md).
    Setting(
        "EMBED_INIT",
        "shared_translit",
        "step-2 init of the new embeddings: random (the paper's N(0, 0.02)), "
        "shared (rows of tokens spelled as in the source copy the source's), shared_translit (shared, plus "
        "tokens of any script matched through their romanisation by uroman: minimodel_fairseq/anchors.py)",
        "choice",
        ("random", "shared", "shared_translit"),
    ),
    # step 3: fine-tuning
    Setting("FT_UPDATES", "400", "step-3 updates", "int"),
    Setting("FT_BSZ", "32", "step-3 batch size", "int"),
    Setting("FT_LR", "2e-4", "step-3 peak learning rate", "float"),
    # running
    Setting("THREADS", "$nproc", "torch threads (OMP_NUM_THREADS)", "int", affects_results=False),
    Setting(
        "JOBS",
        "2",
        "run_all.sh: training runs of steps 2-3 at once after step 1, each on THREADS/JOBS threads",
        "int",
        affects_results=False,
    ),
    Setting(
        "LOG_FORMAT",
        "simple",
        "fairseq's --log-format in the train.log files",
        affects_results=False,
    ),
    Setting(
        "LAUNCH",
        "",
        "command prefix for each fairseq-train, minimodel and python -m minimodel_fairseq run",
        affects_results=False,
    ),
    Setting(
        "PROGRESS_EVERY",
        "60",
        "seconds between progress lines of a training step",
        "int",
        affects_results=False,
    ),
    Setting(
        "DRY_RUN",
        "0",
        "1: the recipes print their fairseq-train and minimodel commands instead of running them",
        "choice",
        ("0", "1"),
        affects_results=False,
    ),
]
BY_NAME = {s.name: s for s in SETTINGS}

# The checkpoints of step 1, relative to RUNS (common.sh's variable names).
CHECKPOINTS = {
    "PRIMARY": "pretrain/minijoint/checkpoint_last.pt",  # MiniJoint's full model
    "MINI": "pretrain/minijoint/mini.pt",  # its mini-model (extract-mini)
    "PLAIN": "pretrain/roberta/checkpoint_last.pt",  # plain RoBERTa (stock masked_lm)
    "MINIPOST": "pretrain/minipost/checkpoint_last.pt",  # MiniPost mini-model of PLAIN
}
# The big models: step 3 fine-tunes each into a classifier, RUNS/finetune/<name>/seed<S>/.
BIG_MODELS = {"minijoint": "PRIMARY", "roberta": "PLAIN"}


@dataclass(frozen=True)
class Method:
    """A step-2 method: which body it trains over, which classifier its embeddings go into."""

    name: str
    body: str  # a CHECKPOINTS key: the frozen body of step 2
    big_model: str  # a BIG_MODELS key: the step-3 classifier its embeddings are swapped into
    kind: str  # standard: over the whole big model; mini: over a mini-model; control: untrained
    help: str

    @property
    def control(self):
        return self.kind == "control"


METHODS = {
    m.name: m
    for m in [
        Method(
            "full",
            "PRIMARY",
            "minijoint",
            "standard",
            "the standard recipe: MiniJoint's whole primary model is the body",
        ),
        Method(
            "minijoint",
            "MINI",
            "minijoint",
            "mini",
            "the MiniJoint mini-model (bottom K layers + secondary head)",
        ),
        Method(
            "minipost",
            "MINIPOST",
            "roberta",
            "mini",
            "the MiniPost mini-model of the plain RoBERTa (1b_minipost.sh)",
        ),
        Method(
            "full_roberta",
            "PLAIN",
            "roberta",
            "standard",
            "the standard recipe on the plain RoBERTa (MiniPost's big model)",
        ),
        Method(
            "random",
            "PRIMARY",
            "minijoint",
            "control",
            "control: untrained embeddings (lr 0), random init",
        ),
        Method(
            "random_roberta", "PLAIN", "roberta", "control", "control: random, on the plain RoBERTa"
        ),
        Method(
            "copy_only",
            "PRIMARY",
            "minijoint",
            "control",
            "control: untrained embeddings with the shared init (only "
            "the copied rows; EMBED_INIT's matching, shared when EMBED_INIT is random)",
        ),
    ]
}
CONTROLS = frozenset(m.name for m in METHODS.values() if m.control)

# results.tsv, written by 4_transfer.sh and run_all.sh; read by column name (read_results)
RESULTS_COLUMNS = ("lang", "method", "seed", "accuracy", "n", "majority", "step2_seconds")


def in_language(big_model):
    """results.tsv's method name of a classifier scored on the source language itself."""
    return f"in-language ({big_model})"


def resolve(env=None, quiet=False):
    """{name: value} of every setting: the environment's value, else the default. Checks each value.
    quiet: without PRECISION=auto's note on stderr."""
    env = os.environ if env is None else env
    out = {}
    for s in SETTINGS:
        value = env.get(s.name, "")
        if value == "":
            value = {"$ADAPT_UPDATES": out.get("ADAPT_UPDATES"), "$nproc": _threads()}.get(
                s.default, s.default
            )
        out[s.name] = _check(s, value)
    for name in out["METHODS"].split():
        method(name, "METHODS")
    if out["PRECISION"] == "auto":  # last: its note on stderr only when every setting is good
        out["PRECISION"] = auto_precision(quiet=quiet)
    return out


def _check(s, value):
    value = value.strip() if s.kind != "str" else value
    if s.kind in ("int", "count"):
        # ASCII digits only: str.isdigit() is true of '²' and '٣', which int() refuses or reads otherwise
        least = 1 if s.kind == "int" else 0
        if not (value.isascii() and value.isdigit()) or int(value) < least:
            raise SettingError(
                f"{s.name} must be a whole number of at least {least}, got {value!r}"
            )
        value = str(int(value))  # '007' is 7, as fairseq reads it
    elif s.kind in ("float", "fraction"):
        try:
            number = float(value)
        except ValueError:
            raise SettingError(
                f"{s.name} must be a number (e.g. {s.default}), got {value!r}"
            ) from None
        if not math.isfinite(
            number
        ):  # float() reads 'nan' and 'inf'; fairseq would fail much later
            raise SettingError(
                f"{s.name} must be a finite number (e.g. {s.default}), got {value!r}"
            )
        if s.kind == "fraction":
            if not 0 < number <= 1:
                raise SettingError(f"{s.name} must be above 0 and at most 1, got {value!r}")
            value = "1" if number == 1 else repr(number)  # one spelling: '1.0' is the default, 1
    elif s.kind == "choice" and value not in s.choices:
        raise SettingError(f"{s.name} must be one of {', '.join(s.choices)}, got {value!r}")
    elif s.kind == "words" and not value.split():
        raise SettingError(f"{s.name} is empty: give at least one (default {s.default!r})")
    return value


def method(name, what="METHOD"):
    """The Method called name, or one SettingError that lists the known ones."""
    if name not in METHODS:
        raise SettingError(f"unknown {what} {name!r}: use {', '.join(METHODS)}")
    return METHODS[name]


def checkpoint(key, s):
    """Path of a step-1 checkpoint (a CHECKPOINTS key) under s['RUNS']."""
    return f"{s['RUNS']}/{CHECKPOINTS[key]}"


def step2(name, s):
    """What 2_adapt_language.sh runs for a method: body checkpoint, updates, lr, embedding init, warmup.

    Controls train one update at lr 0 (fairseq saves a checkpoint only after an update). Every method
    warms up over ADAPT_UPDATES / 10, so a mini method's first updates equal the standard one's.
    """
    m, init = method(name), s["EMBED_INIT"]
    if name == "copy_only":  # the shared init's copied rows alone
        init = "shared" if init == "random" else init
    elif m.control:
        init = "random"
    updates = {"standard": s["ADAPT_UPDATES"], "mini": s["MINI_ADAPT_UPDATES"], "control": "1"}[
        m.kind
    ]
    return {
        "body": checkpoint(m.body, s),
        "updates": int(updates),
        "lr": "0" if m.control else s["ADAPT_LR"],
        "init": init,
        "warmup": int(s["ADAPT_UPDATES"]) // 10,
    }


# settings that records written before them lack, with what the recipes did before them
# (with_defaults fills them in)
ADDED = {"FORGET_EVERY": "0", "FORGET_LR": "run", "DROPOUT_MASKS": "torch", "ADAPT_FRACTION": "1"}


def affecting_results(s):
    """The settings that change what gets trained or measured (a benchmark cache is valid for these)."""
    return {k: v for k, v in s.items() if BY_NAME[k].affects_results}


def with_defaults(stored, now):
    """A stored settings record with the settings of ``now`` added since it was written, at what
    the recipes did before each existed (ADDED): it was trained so."""
    added = {k: v for k, v in ADDED.items() if k in now}
    return {**added, **stored}


def differences(stored, now):
    """The settings that differ between two {name: value} records, as one line for a refusal."""
    return "; ".join(
        f"{k} {stored.get(k)!r} there, {now.get(k)!r} now"
        for k in sorted(set(stored) | set(now))
        if stored.get(k) != now.get(k)
    )


def read_results(path):
    """results.tsv's rows as dicts keyed by RESULTS_COLUMNS; refuses a file without that header."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        if tuple(reader.fieldnames or ()) != RESULTS_COLUMNS:
            raise SettingError(
                f"{path} does not start with the header line {' '.join(RESULTS_COLUMNS)} (tab-separated): it was "
                "written by an older version of the recipes; rerun examples/bible/run_all.sh (finished training "
                "is skipped, the file is rewritten) or add that line at its top"
            )
        return list(reader)


def shell(s):
    """Bash for common.sh: every setting exported, the checkpoints, and the method table as functions."""
    q = shlex.quote
    lines = [f"export {k}={q(v)}" for k, v in s.items()]
    lines += [f"{k}={q(checkpoint(k, s))}" for k in CHECKPOINTS]
    lines.append(f"PRECISION_FLAGS=({' '.join(map(q, PRECISION_FLAGS[s['PRECISION']]))})")
    lines.append(f"METHOD_NAMES={q(' '.join(METHODS))}")
    lines.append(f"CONTROL_METHODS={q(' '.join(m for m in METHODS if m in CONTROLS))}")
    lines.append(f"BIG_MODEL_NAMES={q(' '.join(BIG_MODELS))}")
    lines.append("RESULTS_HEADER=$'" + "\\t".join(RESULTS_COLUMNS) + "'")
    unknown = f"*) echo \"unknown METHOD '$1': use {', '.join(METHODS)}\" >&2; return 2 ;;"

    def case(fn, cases, default):
        lines.append(
            f'{fn}() {{ case "$1" in '
            + " ".join(f"{k}) echo {q(v)} ;;" for k, v in cases.items())
            + f" {default} esac; }}"
        )

    case("body_of", {n: checkpoint(m.body, s) for n, m in METHODS.items()}, unknown)
    case("big_model_of", {n: m.big_model for n, m in METHODS.items()}, unknown)
    case(
        "checkpoint_of",
        {b: checkpoint(k, s) for b, k in BIG_MODELS.items()},
        f"*) echo \"unknown big model '$1': use {', '.join(BIG_MODELS)}\" >&2; return 2 ;;",
    )
    # step2_of METHOD -> "UPDATES LR INIT WARMUP"
    case(
        "step2_of",
        {n: "{updates} {lr} {init} {warmup}".format(**step2(n, s)) for n in METHODS},
        unknown,
    )
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--shell", action="store_true", help="print the settings as bash (common.sh evaluates it)"
    )
    p.add_argument("--methods", action="store_true", help="print the step-2 method table")
    args = p.parse_args(argv)
    try:
        s = resolve()
    except SettingError as e:
        print(f"examples/bible settings: error: {e}", file=sys.stderr)
        return 2
    if args.shell:
        sys.stdout.write(shell(s))
    elif args.methods:
        print(f"{'method':<15}{'body':<10}{'classifier':<11}{'kind':<9}updates lr init warmup")
        for n, m in METHODS.items():
            r = step2(n, s)
            print(
                f"{n:<15}{m.body:<10}{m.big_model:<11}{m.kind:<9}{r['updates']} {r['lr']} {r['init']} {r['warmup']}"
                f"\n{'':<15}{m.help}"
            )
    else:
        defaults = resolve({}, quiet=True)  # its note was printed once already
        for st in SETTINGS:
            changed = (
                f"  (default {shlex.quote(defaults[st.name])})"
                if s[st.name] != defaults[st.name]
                else ""
            )
            print(f"{st.name}={shlex.quote(s[st.name])}{changed}\n    {st.help}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
