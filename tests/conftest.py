"""Shared fixtures: tiny models on small real text (public-domain Bible verses)."""

import atexit
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import forkserver
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_TSV = ROOT / "tests" / "fixtures" / "bible" / "verses.tsv"

# Tiny model flags shared by the CLI tests: 4 layers x 64, mini head at layer 2.
TINY_MODEL = [
    "--encoder-layers",
    "4",
    "--encoder-embed-dim",
    "64",
    "--encoder-ffn-embed-dim",
    "128",
    "--encoder-attention-heads",
    "2",
    "--tokens-per-sample",
    "64",
]


def fixture_verses(code="4"):
    """Verse texts of one translation of the committed fixture, in Bible order."""
    with open(FIXTURE_TSV, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["bbName"] == code]
    return [r["vText"] for r in rows]


def random_hf_masked_lm(cls_name, config, seed=0):
    """A transformers ``cls_name`` built from ``config`` (a dict), every tensor moved off its init value
    (LayerNorms, biases, token types too), in eval mode: what an exact conversion must carry over."""
    import torch
    import transformers

    cls = getattr(transformers, cls_name)
    torch.manual_seed(seed)
    model = cls(cls.config_class(**config)).eval()
    with torch.no_grad():
        for p in model.parameters():  # tied tensors appear once
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _start_fork_server():
    """tests/forkserver.py for this pytest process (one per xdist worker), named in the environment
    (MINIMODEL_FORKSERVER, and the recipes' LAUNCH) for what the tests start; MINIMODEL_TEST_FORK=0: none."""
    if os.environ.get("MINIMODEL_TEST_FORK", "1") == "0" or os.environ.get("MINIMODEL_FORKSERVER"):
        return
    path = os.path.join(tempfile.mkdtemp(prefix="mmfork"), "socket")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "forkserver.py"), "serve", path],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    atexit.register(proc.kill)
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(
            "tests/forkserver.py did not start (MINIMODEL_TEST_FORK=0 runs without it)"
        )
    os.environ["MINIMODEL_FORKSERVER"] = path
    os.environ["LAUNCH"] = f"{sys.executable} -S {ROOT / 'tests' / 'forkserver.py'} run"


def _share_the_cores():
    """Under xdist, torch threads = cores // workers (OMP_NUM_THREADS, inherited by every command).
    Two workers each running two-thread processes on two cores ran tiny trainings 5-9x slower
    than one thread each (OpenMP threads spin on a core another process needs)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_configure(config):
    if getattr(config, "workerinput", None) is not None or not getattr(
        config.option, "numprocesses", None
    ):
        _share_the_cores()
        _start_fork_server()  # in each worker, or in the one process of a run without xdist


def _run(argv, cwd, env, shown):
    """CompletedProcess (text) of ARGV: forked from tests/forkserver.py where it serves ARGV (saving
    the 3-4 s a fresh interpreter spends importing torch and fairseq), else a subprocess."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    if not (os.environ.get("MINIMODEL_FORKSERVER") and forkserver.served(argv)):
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, open(os.devnull) as null:
        code = forkserver.call(argv, cwd, env, (null.fileno(), out.fileno(), err.fileno()))
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(
            shown, code, out.read().decode(errors="replace"), err.read().decode(errors="replace")
        )


def run_python(argv, cwd=None, env=None):
    """ARGV = [sys.executable, -m MODULE | SCRIPT.py, ...] as a fresh command; CompletedProcess (text)."""
    argv = list(map(str, argv))
    return _run(argv, cwd, env, argv)


def run_cli(args, cwd=None, env=None, check=True):
    """Run a console command from the venv; return CompletedProcess (text). fairseq-train,
    fairseq-preprocess and minimodel are forked from tests/forkserver.py, which saves each about 4 s."""
    proc = _run([str(Path(sys.executable).parent / args[0]), *args[1:]], cwd, env, args)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args[0]} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def en_bin(tmp_path_factory):
    """A fairseq masked-LM data dir (train/valid) of WEB verses, whitespace tokens."""
    out = tmp_path_factory.mktemp("en_bin")
    verses = fixture_verses("4")
    (out / "train.txt").write_text("\n".join(verses[:340]) + "\n", encoding="utf-8")
    (out / "valid.txt").write_text("\n".join(verses[340:]) + "\n", encoding="utf-8")
    run_cli(
        [
            "fairseq-preprocess",
            "--only-source",
            "--trainpref",
            str(out / "train.txt"),
            "--validpref",
            str(out / "valid.txt"),
            "--destdir",
            str(out / "bin"),
            "--workers",
            "1",
        ]
    )
    return out / "bin"


TINY_TRAIN = [
    "--batch-size",
    "16",
    "--optimizer",
    "adam",
    "--lr",
    "1e-3",
    "--clip-norm",
    "0",
    "--no-epoch-checkpoints",
    "--cpu",
    "--num-workers",
    "0",
    "--data-buffer-size",
    "0",
    "--seed",
    "1",
    "--log-format",
    "simple",
    "--log-interval",
    "10",
]


@pytest.fixture(scope="session")
def bible_data(tmp_path_factory):
    """Fixture verses prepared as the recipes prepare the real text: en (WEB) and de (ELB 1932)."""
    from minimodel_fairseq.data import bible

    root = tmp_path_factory.mktemp("bible")
    db = bible.build_fixture_db(FIXTURE_TSV, root / "fixture.db")
    for lang, code in (("en", "4"), ("de", "e")):
        bible.prepare_language(lang, root / "data", translations=[code], vocab_size=500, db=db)
    return root / "data"


@pytest.fixture(scope="session")
def tiny_minijoint(bible_data, tmp_path_factory):
    """A tiny MiniJoint model (4 layers x 64, K=2) pretrained briefly on the English fixture."""
    save = tmp_path_factory.mktemp("tiny_minijoint")
    run_cli(minijoint_cmd(bible_data, "--max-update", "30", "--save-dir", str(save)))
    return save / "checkpoint_last.pt"


@pytest.fixture(scope="session")
def transformer_lm(bible_data, tmp_path_factory):
    """A real checkpoint of another model family (a decoder-only transformer LM)."""
    save = tmp_path_factory.mktemp("transformer_lm")
    run_cli(
        [
            "fairseq-train",
            str(bible_data / "en" / "mlm"),
            "--task",
            "language_modeling",
            "--arch",
            "transformer_lm",
            "--decoder-layers",
            "1",
            "--decoder-embed-dim",
            "16",
            "--decoder-ffn-embed-dim",
            "16",
            "--decoder-attention-heads",
            "2",
            "--tokens-per-sample",
            "32",
            *TINY_TRAIN,
            "--max-update",
            "1",
            "--save-dir",
            str(save),
        ]
    )
    return save / "checkpoint_last.pt"


def minijoint_cmd(bible_data, *extra):
    """A fairseq-train command of a tiny MiniJoint pretraining (4 layers x 64, K=2) on the English
    fixture, with EXTRA flags."""
    return [
        "fairseq-train",
        str(bible_data / "en" / "mlm"),
        "--user-dir",
        str(ROOT / "minimodel_fairseq"),
        "--task",
        "minijoint_mlm",
        "--criterion",
        "minijoint_mlm",
        "--arch",
        "minijoint_roberta_small",
        *TINY_MODEL,
        "--mini-layer",
        "2",
        *TINY_TRAIN,
        *map(str, extra),
    ]


def minijoint_trainer(bible_data, *extra):
    """(cfg, task, Trainer) of :func:`minijoint_cmd` in this process (minimodel_recipes/bench.py's builder)."""
    from minimodel_recipes import bench

    return bench.trainer_from_argv(minijoint_cmd(bible_data, *extra)[1:])


def step2_cmd(bible_data, body, save, data=None, updates=1, extra=()):
    """A step-2 fairseq-train command of UPDATES updates over BODY on German (or DATA) into SAVE,
    with EXTRA flags."""
    return [
        "fairseq-train",
        str(data or bible_data / "de" / "mlm"),
        "--user-dir",
        str(ROOT / "minimodel_fairseq"),
        "--task",
        "new_language_mlm",
        "--criterion",
        "masked_lm",
        "--arch",
        "roberta",
        "--body-checkpoint",
        str(body),
        "--tokens-per-sample",
        "64",
        *TINY_TRAIN,
        *map(str, extra),
        "--max-update",
        str(updates),
        "--save-dir",
        str(save),
    ]
