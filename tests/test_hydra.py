"""The recipe configs in examples/bible/config run through fairseq-hydra-train.

Step 2 (adapt.yaml) from another directory, against the same step through flags
with the same settings: both must train the same tensors to the same values.
"""
import pytest
import torch

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq.compat import load_checkpoint

from conftest import ROOT, run_cli

pytestmark = pytest.mark.slow
CONFIG_DIR = ROOT / "examples" / "bible" / "config"


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
def test_every_config_names_a_plugin_task(name):
    text = (CONFIG_DIR / f"{name}.yaml").read_text()
    assert "user_dir: minimodel_fairseq" in text and "data: ???" in text


def test_adapt_config_equals_the_flag_recipe(bible_data, tiny_minijoint, tmp_path):
    data, updates = bible_data / "de" / "mlm", 3
    run_cli(["fairseq-hydra-train", "--config-dir", str(CONFIG_DIR), "--config-name", "adapt",
             f"common.user_dir={ROOT / 'minimodel_fairseq'}", f"task.data={data}",
             f"task.body_checkpoint={tiny_minijoint}", "task.tokens_per_sample=64",
             f"optimization.max_update={updates}", f"checkpoint.save_dir={tmp_path / 'hydra'}"], cwd=tmp_path)
    run_cli(["fairseq-train", str(data), "--user-dir", str(ROOT / "minimodel_fairseq"),
             "--task", "new_language_mlm", "--criterion", "masked_lm", "--arch", "roberta",
             "--body-checkpoint", str(tiny_minijoint), "--embedding-init", "random", "--tokens-per-sample", "64",
             "--batch-size", "16", "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "0.002",
             "--lr-scheduler", "fixed", "--clip-norm", "0", "--max-update", str(updates), "--max-epoch", "1000",
             "--disable-validation", "--cpu", "--num-workers", "0", "--data-buffer-size", "0", "--seed", "1",
             "--no-epoch-checkpoints", "--save-dir", str(tmp_path / "flags")])
    hydra, flags = (load_checkpoint(str(tmp_path / d / "checkpoint_last.pt")) for d in ("hydra", "flags"))
    assert hydra["optimizer_history"][-1]["num_updates"] == updates
    assert hydra["model"]["encoder.lm_head.bias"].abs().sum() > 0  # starts at zero: it trained
    for name, tensor in flags["model"].items():
        assert torch.equal(hydra["model"][name], tensor), name
    assert not (tmp_path / ".hydra").exists() and not (tmp_path / "outputs").exists()
