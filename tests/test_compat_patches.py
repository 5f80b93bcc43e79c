"""Importing the plugin patches fairseq (minimodel_fairseq/compat.py's table): one DEBUG line per patch.

Each test imports the plugin in a fresh interpreter, as ``fairseq-train --user-dir`` does, so the
lines are those of the first (and only) application of every patch.
"""

import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

# what each patch's line names (a fragment of it), one per row of compat.py's table
PATCHES = {
    "checkpoint loading": "fairseq.checkpoint_utils.torch.load",
    "checkpoint copies": "fairseq.checkpoint_utils.PathManager.copy",
    "cpu distributed": "fairseq.distributed.utils.infer_init_method",
    "bf16 without a TPU": "fairseq.trainer.Trainer.__init__",
    "save-dir lock": "fairseq.checkpoint_utils.load_checkpoint",
    "architecture None": "fairseq.models.ARCH_MODEL_REGISTRY[None]",
    "dropout masks": "train_step's dropout masks",
    "bf16 GELU": "fairseq.modules.gelu",
}
BF16 = "bf16 without a TPU"

IMPORT_WITH_DEBUG = (
    "import logging; "
    "logging.basicConfig(level=logging.DEBUG, format='%(levelname)s|%(name)s|%(message)s'); "
    "import minimodel_fairseq; "
    "from fairseq.trainer import Trainer; "
    "print('trainer patched:', getattr(Trainer, '_minimodel_autocast_patched', False))"
)


def _import_plugin(code, pythonpath=()):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env["PYTHONPATH"] = os.pathsep.join(
        [*map(str, pythonpath), str(ROOT), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _compat_lines(stderr, kind="patched"):
    return [line for line in stderr.splitlines() if f"|compat: {kind} " in line]


def _which(line):
    hits = [name for name, fragment in PATCHES.items() if fragment in line]
    assert len(hits) == 1, f"{line!r} names {hits or 'no patch of compat.py'}"
    return hits[0]


def test_each_patch_logs_one_debug_line_naming_it():
    proc = _import_plugin(IMPORT_WITH_DEBUG)
    lines = _compat_lines(proc.stderr)
    assert sorted(map(_which, lines)) == sorted(PATCHES), "\n".join(lines)  # each once, none other
    for line in lines:
        level, logger, message = line.split("|", 2)
        assert (level, logger) == ("DEBUG", "minimodel_fairseq.compat"), line
        assert message.endswith(")") and " (" in message, f"no reason given: {line!r}"
    assert not _compat_lines(proc.stderr, "not patched")
    assert "trainer patched: True" in proc.stdout


def test_the_bf16_patch_is_skipped_where_torch_xla_is_findable(tmp_path):
    fake = tmp_path / "site"
    (fake / "torch_xla").mkdir(parents=True)
    (fake / "torch_xla" / "__init__.py").write_text(
        ""
    )  # findable (importlib.util.find_spec), never used
    proc = _import_plugin(IMPORT_WITH_DEBUG, pythonpath=[fake])
    patched = sorted(map(_which, _compat_lines(proc.stderr)))
    assert patched == sorted(set(PATCHES) - {BF16}), proc.stderr[-3000:]
    skipped = _compat_lines(proc.stderr, "not patched")
    assert len(skipped) == 1 and "torch_xla is installed" in skipped[0], skipped
    assert "trainer patched: False" in proc.stdout  # fairseq's own --bf16 (the TPU path), untouched


def test_no_patch_line_unless_debug_was_asked_for():
    """fairseq's import sets the root logger to DEBUG itself: that alone must not print the lines
    (every ``minimodel`` command would show them on stderr; tests/forkserver.py imports fairseq first)."""
    proc = _import_plugin("import minimodel_fairseq")
    assert "compat: " not in proc.stderr, proc.stderr[-3000:]
    proc = _import_plugin(
        "import logging, fairseq; assert logging.getLogger().level == logging.DEBUG; "
        "import minimodel_fairseq"
    )
    assert "compat: " not in proc.stderr, proc.stderr[-3000:]


def test_debug_on_the_plugin_logger_shows_the_lines_after_fairseq_was_imported():
    proc = _import_plugin(
        "import logging, fairseq; "
        "logging.getLogger('minimodel_fairseq').setLevel(logging.DEBUG); "
        "import minimodel_fairseq"
    )
    assert sorted(
        _which(line) for line in proc.stderr.splitlines() if "compat: patched " in line
    ) == sorted(PATCHES), proc.stderr[-3000:]


def test_the_docstring_table_lists_every_patch_function():
    from minimodel_fairseq import compat

    functions = [
        name
        for name in vars(compat)
        if name.startswith("patch_") and callable(getattr(compat, name))
    ]
    # + the architecture None (tasks/default_arch.py) and the dropout masks (dropout.py)
    assert len(functions) == len(PATCHES) - 2
    for name in [*functions, "register_no_arch", "patch_trainer"]:
        assert f"``{name}``" in compat.__doc__, name


def test_gelu_of_bf16_on_cpu_is_fairseqs_round_trip_bitwise_but_subnormals():
    """Patch 8: torch's bf16 GELU in place of fairseq's fp32 round trip gives the same gradients on
    every finite bf16 value, and the same values but where GELU(x) ~ x / 2 is subnormal (zero there)."""
    import torch.nn.functional as F
    from fairseq import utils

    import minimodel_fairseq  # noqa: F401

    gelu = utils.get_activation_fn("gelu")  # what a model built with --activation-fn gelu holds
    assert getattr(gelu, "_minimodel", False)
    every = (
        torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)
    )
    x = every[torch.isfinite(every)].clone().requires_grad_()
    assert x.numel() == 65280
    grad = torch.randn(x.numel(), generator=torch.Generator().manual_seed(0)).bfloat16()
    ours = gelu(x)
    (ours_grad,) = torch.autograd.grad(ours, x, grad)
    theirs = F.gelu(x.float()).type_as(x)  # fairseq/modules/gelu.py
    (theirs_grad,) = torch.autograd.grad(theirs, x, grad)
    assert ours.dtype == torch.bfloat16 and torch.equal(ours_grad, theirs_grad)
    tiny = x.detach().abs() < 2 * torch.finfo(torch.bfloat16).tiny  # GELU(x) ~ x / 2: subnormal
    assert torch.equal(ours[~tiny], theirs[~tiny])
    assert (ours[tiny] == 0).all()
    y = torch.randn(64, dtype=torch.float32)  # fp32 (and fp16, CUDA) keep fairseq's function
    assert torch.equal(gelu(y), F.gelu(y))
