"""MiniJoint through the real fairseq CLI: train, resume, reload, extend, refuse."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import ROOT, TINY_MODEL, run_cli

pytestmark = pytest.mark.slow

COMMON = [
    "--task",
    "minijoint_mlm",
    "--criterion",
    "minijoint_mlm",
    "--batch-size",
    "16",
    "--optimizer",
    "adam",
    "--lr",
    "1e-3",
    "--lr-scheduler",
    "inverse_sqrt",
    "--warmup-updates",
    "10",
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
    "json",
    "--log-interval",
    "1",
]
TRAIN = [*COMMON, "--arch", "minijoint_roberta_small", *TINY_MODEL, "--mini-layer", "2"]


def valid_logs(stdout):
    """The JSON `valid` records that fairseq-train printed, in order."""
    out = []
    for line in stdout.splitlines():
        start = line.find("{")
        if start >= 0 and '"valid_primary_loss"' in line:
            out.append(json.loads(line[start:]))
    return out


@pytest.fixture(scope="module")
def trained(en_bin, tmp_path_factory):
    save = tmp_path_factory.mktemp("minijoint_ckpt")
    proc = run_cli(
        [
            "fairseq-train",
            str(en_bin),
            "--user-dir",
            "minimodel_fairseq",
            *TRAIN,
            "--max-update",
            "60",
            "--save-dir",
            str(save),
        ],
        cwd=ROOT,
    )
    return save, proc


def test_training_lowers_both_losses(trained):
    _, proc = trained
    logs = valid_logs(proc.stdout + proc.stderr)
    assert len(logs) >= 3
    first, last = logs[0], logs[-1]
    for key in ("valid_primary_loss", "valid_mini_loss"):
        assert float(last[key]) < float(first[key]) - 0.5, (key, first[key], last[key])
    # the logged loss is the weighted sum, W = 1 by default
    assert float(last["valid_loss"]) == pytest.approx(
        float(last["valid_primary_loss"]) + float(last["valid_mini_loss"]), abs=2e-3
    )
    assert "valid_primary_ppl" in last and "valid_mini_ppl" in last


def test_resume_from_checkpoint_last(trained, en_bin):
    save, _ = trained
    proc = run_cli(
        [
            "fairseq-train",
            str(en_bin),
            "--user-dir",
            "minimodel_fairseq",
            *TRAIN,
            "--max-update",
            "70",
            "--save-dir",
            str(save),
        ],
        cwd=ROOT,
    )
    log = proc.stdout + proc.stderr
    assert "Loaded checkpoint" in log and "@ 60 updates" in log
    state = torch.load(save / "checkpoint_last.pt", weights_only=False)
    assert state["optimizer_history"][-1]["num_updates"] == 70


def test_reload_in_fresh_process(trained, en_bin, tmp_path):
    save, _ = trained
    code = textwrap.dedent(f"""
        import torch, minimodel_fairseq
        from fairseq import checkpoint_utils
        from fairseq.models.roberta import RobertaModel
        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([{str(save / "checkpoint_last.pt")!r}])
        m = models[0].eval()
        hub = RobertaModel.from_pretrained({str(save)!r}, "checkpoint_last.pt", {str(en_bin)!r}, bpe=None).eval()
        tokens = task.source_dictionary.encode_line("In the beginning God created the heavens", add_if_not_exist=False).unsqueeze(0)
        a, ea = m(tokens); b, eb = hub.model(tokens)
        assert type(m).__name__ == "MiniJointRobertaModel" and m.mini_layer == 2
        assert torch.equal(a, b) and torch.equal(ea["mini_logits"], eb["mini_logits"])
        print("OK", tuple(a.shape))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK (1, 8," in proc.stdout


def test_user_registered_architecture_from_another_directory(en_bin, tmp_path):
    """A user's own --user-dir adds a MiniJoint architecture with one decorated function."""
    user_dir = run_cli(["minimodel", "user-dir"], cwd=tmp_path).stdout.strip()
    assert (ROOT / "minimodel_fairseq").samefile(user_dir)
    ext = tmp_path / "my_minijoint"
    ext.mkdir()
    (ext / "__init__.py").write_text(
        textwrap.dedent("""
        import minimodel_fairseq  # registers minijoint_roberta
        from fairseq.models import register_model_architecture
        from minimodel_fairseq.models.minijoint_roberta import minijoint_roberta_small_architecture

        @register_model_architecture("minijoint_roberta", "minijoint_roberta_3l")
        def minijoint_roberta_3l(args):
            args.encoder_layers = getattr(args, "encoder_layers", 3)
            args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 32)
            args.mini_layer = getattr(args, "mini_layer", 1)
            minijoint_roberta_small_architecture(args)
    """)
    )
    save = tmp_path / "ckpt"  # sizes and K come from the architecture alone
    run_cli(
        [
            "fairseq-train",
            str(en_bin),
            "--user-dir",
            str(ext),
            *COMMON,
            "--arch",
            "minijoint_roberta_3l",
            "--tokens-per-sample",
            "64",
            "--max-update",
            "5",
            "--save-dir",
            str(save),
        ],
        cwd=tmp_path,
    )
    # and the plugin itself, from this directory, through `minimodel user-dir`
    run_cli(
        [
            "fairseq-train",
            str(en_bin),
            "--user-dir",
            user_dir,
            *TRAIN,
            "--max-update",
            "2",
            "--save-dir",
            str(tmp_path / "ckpt2"),
        ],
        cwd=tmp_path,
    )
    state = torch.load(save / "checkpoint_last.pt", weights_only=False)
    model_cfg = state["cfg"]["model"]
    assert (model_cfg.arch, model_cfg.encoder_layers, model_cfg.mini_layer) == (
        "minijoint_roberta_3l",
        3,
        1,
    )
    assert state["model"]["encoder.mini_lm_head.dense.weight"].shape == (32, 32)
    assert not any(k.startswith("encoder.sentence_encoder.layers.3.") for k in state["model"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--arch", "minijoint_roberta_small", "--mini-layer", "4"],
            "--mini-layer must satisfy 1 <= K < --encoder-layers (4), got 4",
        ),
        (["--arch", "roberta"], "--task minijoint_mlm needs a model with a secondary MLM head"),
    ],
)
def test_bad_configuration_fails_clearly(en_bin, tmp_path, extra, message):
    proc = run_cli(
        [
            "fairseq-train",
            str(en_bin),
            "--user-dir",
            "minimodel_fairseq",
            *COMMON,
            *TINY_MODEL,
            *extra,
            "--max-update",
            "1",
            "--save-dir",
            str(tmp_path / "ckpt"),
        ],
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not (tmp_path / "ckpt" / "checkpoint_last.pt").exists()
