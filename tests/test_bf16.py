"""``fairseq-train --cpu --bf16`` (compat.patch_bf16_without_tpu): bf16 autocast, fp32 weights.

For each plugin task, a bf16 run is compared with the same fp32 run: the frozen tensors
stay bitwise what was loaded, every checkpoint tensor is fp32, two phases (max-update
N/2, then N in the same save dir) end bitwise where one bf16 run ends, the FLOP count is
the fp32 run's, the losses are finite and close to fp32's, and the trained tensors are
close to but not equal to fp32's (the products really ran in bf16). In-process, a hook
sees bf16 activations inside the model while its weights and optimizer stay fp32.
"""

import json
import math
import os

import pytest
import torch
from conftest import ROOT, TINY_MODEL, TINY_TRAIN, minijoint_trainer, run_cli

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import params, surgery
from minimodel_fairseq.compat import load_checkpoint
from minimodel_fairseq.flops import FLOPS_KEY

pytestmark = pytest.mark.slow
USER_DIR = str(ROOT / "minimodel_fairseq")
UPDATES = 8
ENV = {"OMP_NUM_THREADS": "1"}  # one thread: bitwise-reproducible runs (resume check)


def task_args(name, bible_data, body):
    """(data dir, fairseq-train arguments) of one plugin task at tiny size."""
    if name == "minijoint_mlm":
        return bible_data / "en" / "mlm", [
            "--task",
            "minijoint_mlm",
            "--criterion",
            "minijoint_mlm",
            "--arch",
            "minijoint_roberta_small",
            *TINY_MODEL,
            "--mini-layer",
            "2",
        ]
    if name == "minipost_mlm":
        return bible_data / "en" / "mlm", [
            "--task",
            "minipost_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "minipost_roberta",
            "--source-checkpoint",
            str(body),
            "--mini-layers",
            "2",
            "--mini-new-layers",
            "1",
            "--tokens-per-sample",
            "64",
        ]
    if name == "new_language_mlm":
        return bible_data / "de" / "mlm", [
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
        ]
    return bible_data / "en" / "cls", [
        "--task",
        "sentence_prediction_frozen_embeddings",
        "--criterion",
        "sentence_prediction",
        "--arch",
        "roberta",
        "--body-checkpoint",
        str(body),
        "--num-classes",
        "6",
        "--init-token",
        "0",
        "--max-positions",
        "64",
        "--shorten-method",
        "truncate",
    ]


def frozen_reference(name, body):
    """{tensor name: value it must keep} for the task's frozen tensors (none when pretraining)."""
    if name == "minijoint_mlm":
        return {}
    source = surgery.to_roberta(surgery.load_roberta_checkpoint(body))["model"]
    if name == "minipost_mlm":  # embeddings and the K=2 copied layers
        keep = (
            "encoder.sentence_encoder.embed_",
            "encoder.sentence_encoder.layers.0.",
            "encoder.sentence_encoder.layers.1.",
        )
        return {k: v for k, v in source.items() if k.startswith(keep)}
    if name == "new_language_mlm":  # the whole body but the new embeddings and LM-head bias
        return {
            k: v
            for k, v in source.items()
            if k not in {params.TOKENS, "encoder.lm_head.weight", "encoder.lm_head.bias"}
        }
    return {params.TOKENS: source[params.TOKENS]}  # step 3: the token embeddings


def train(name, bible_data, body, save, *extra, updates=UPDATES):
    data, args = task_args(name, bible_data, body)
    proc = run_cli(
        [
            "fairseq-train",
            str(data),
            "--user-dir",
            USER_DIR,
            *args,
            *TINY_TRAIN,
            "--log-format",
            "json",
            "--log-interval",
            "1",
            "--max-update",
            str(updates),
            "--save-dir",
            str(save),
            *extra,
        ],
        env=ENV,
    )
    log = proc.stdout + proc.stderr
    losses = [
        float(json.loads(line[line.index("{") :])["loss"])
        for line in log.splitlines()
        if '"loss"' in line and '"num_updates"' in line and "train_inner" in line
    ]
    valid = [
        float(json.loads(line[line.index("{") :])["valid_loss"])
        for line in log.splitlines()
        if '"valid_loss"' in line
    ]
    return load_checkpoint(str(save / "checkpoint_last.pt")), losses, valid, log


def flops(state):
    return next(
        v[FLOPS_KEY]
        for v in state["extra_state"].values()
        if isinstance(v, dict) and FLOPS_KEY in v
    )


@pytest.mark.parametrize(
    "name",
    ["minijoint_mlm", "minipost_mlm", "new_language_mlm", "sentence_prediction_frozen_embeddings"],
)
def test_bf16_run_matches_fp32_contract(name, bible_data, tiny_minijoint, tmp_path):
    fp32, fp32_losses, fp32_valid, _ = train(name, bible_data, tiny_minijoint, tmp_path / "fp32")
    bf16, losses, valid, log = train(name, bible_data, tiny_minijoint, tmp_path / "bf16", "--bf16")
    assert "matrix products in bfloat16 (torch.autocast on cpu)" in log

    # checkpoints: fp32 weights, Adam state in fp32 too, and they load into an fp32 model as usual
    assert all(t.dtype == torch.float32 for t in bf16["model"].values() if t.is_floating_point())
    adam = bf16["last_optimizer_state"]["state"]
    assert adam and all(s["exp_avg"].dtype == torch.float32 for s in adam.values())
    assert set(bf16["model"]) == set(fp32["model"])
    assert (
        bf16["cfg"]["common"]["bf16"] and not fp32["cfg"]["common"]["bf16"]
    )  # the checkpoint says what ran

    for k, v in frozen_reference(name, tiny_minijoint).items():
        assert torch.equal(bf16["model"][k], v), f"{k} changed"

    assert flops(bf16) == flops(fp32) > 0  # same batches, same count: autocast changes no shape
    assert len(losses) == len(fp32_losses) == UPDATES and valid and fp32_valid
    assert all(math.isfinite(x) for x in losses + valid)
    assert abs(valid[-1] - fp32_valid[-1]) < 0.05 * abs(fp32_valid[-1]) + 0.05
    trained = [
        k
        for k, v in bf16["model"].items()
        if v.is_floating_point() and not torch.equal(v, fp32["model"][k])
    ]
    assert trained, "bf16 products must round differently from fp32 somewhere"
    for k in trained:  # ... but only at bf16's precision: the same training, slightly perturbed
        torch.testing.assert_close(bf16["model"][k], fp32["model"][k], rtol=0.05, atol=0.02)

    # resume: N/2 updates, then the same command to N in the same dir, ends bitwise where one run ends
    split = tmp_path / "split"
    train(name, bible_data, tiny_minijoint, split, "--bf16", updates=UPDATES // 2)
    resumed, _, _, log = train(name, bible_data, tiny_minijoint, split, "--bf16")
    assert f"@ {UPDATES // 2} updates" in log  # it resumed, it did not start again
    assert resumed["optimizer_history"][-1]["num_updates"] == UPDATES
    for k, v in bf16["model"].items():
        assert torch.equal(resumed["model"][k], v), k
    assert flops(resumed) == flops(bf16)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_products_run_in_bf16_weights_stay_fp32(bible_data, precision):
    cfg, task, trainer = minijoint_trainer(bible_data, *(["--bf16"] if precision == "bf16" else []))
    assert not cfg.common.tpu  # fairseq's "--bf16 implies --tpu" is gone: there is no TPU here
    seen = []
    layer = trainer.model.encoder.sentence_encoder.layers[0]
    layer.fc1.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    batch = next(task.get_batch_iterator(task.dataset("train"), max_sentences=16).next_epoch_itr())
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train_step([batch])
    assert seen == [torch.bfloat16 if precision == "bf16" else torch.float32]
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert (
        type(trainer.optimizer).__name__ == "FairseqAdam"
    )  # no FP16Optimizer: Adam on the fp32 weights
    assert any(not torch.equal(p, before[n]) for n, p in trainer.model.named_parameters())
    assert not torch.is_autocast_enabled(
        "cpu"
    )  # nothing leaks: autocast is on only inside the step


def test_bf16_with_an_unpatched_parse_is_one_clear_error(bible_data):
    from fairseq.trainer import Trainer

    cfg, task, trainer = minijoint_trainer(bible_data, "--bf16")
    cfg.common.bf16, cfg.common.tpu = (
        True,
        True,
    )  # what fairseq's own parser leaves without the plugin
    with pytest.raises(ValueError, match="--bf16 turned on --tpu but torch_xla is not installed"):
        Trainer(cfg, task, trainer.model, trainer.criterion)


@pytest.mark.recipe
def test_gpu_check_dry_run_on_cpu(bible_data, tmp_path):
    """scripts/gpu_check.py (run on a GPU by the lead) keeps working: its CPU dry run, bf16, passes."""
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "gpu_check.py"),
            "--device",
            "cpu",
            "--precisions",
            "bf16",
            "--updates",
            "2",
            "--data",
            str(bible_data),
            "--workdir",
            str(tmp_path),
            "--out",
            str(tmp_path / "gpu_check.txt"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = (tmp_path / "gpu_check.txt").read_text()
    assert report.rstrip().endswith("GPU CHECK PASSED")
    rows = [line for line in report.splitlines() if line.startswith("| bf16 |")]
    assert len(rows) == 6 and all(
        line.endswith("| yes |") for line in rows
    )  # steps 1, 2 full, 2 mini, 3, 4 x2
    assert "| 72/72 | float32 |" in report  # step 2 full: the whole body bitwise, fp32 checkpoint


def test_the_settings_listing_gives_the_auto_note_at_most_once(monkeypatch, capsys):
    from minimodel_recipes import settings

    monkeypatch.setattr(settings, "BF16_CPU_FLAGS", ("no_such_cpu_flag",))  # the note on any CPU
    monkeypatch.setenv("PRECISION", "auto")
    assert settings.main([]) == 0
    out = capsys.readouterr()
    assert out.err.count("PRECISION=auto: no no_such_cpu_flag in /proc/cpuinfo, so fp32") == 1
    assert "\nPRECISION=fp32\n" in out.out


def test_recipes_precision_auto_picks_bf16_only_with_native_bf16(tmp_path, capsys):
    """PRECISION=auto (minimodel_recipes/settings.py): bf16 where /proc/cpuinfo lists AVX-512 BF16 or AMX."""
    from minimodel_recipes import settings

    cpus = {
        "avx512_bf16": "flags\t\t: fpu sse2 avx512f avx512_bf16 avx512_fp16\n",
        "amx_bf16": "flags\t\t: fpu sse2 amx_tile amx_bf16 amx_int8\n",
        "none": "flags\t\t: fpu sse2 avx2 avx512f\n",
    }
    for name, text in cpus.items():
        (tmp_path / name).write_text(text)
        got = settings.auto_precision(str(tmp_path / name))
        assert got == ("fp32" if name == "none" else "bf16"), name
    assert capsys.readouterr().err.count("PRECISION=auto: no avx512_bf16 or amx_bf16") == 1
    s = settings.resolve({"PRECISION": "bf16"})
    assert settings.PRECISION_FLAGS[s["PRECISION"]] == ("--bf16",)
    assert settings.resolve({"PRECISION": "auto"})["PRECISION"] in (
        "fp32",
        "bf16",
    )  # resolved, never "auto"
