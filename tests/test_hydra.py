"""The recipe configs in examples/bible/config are the recipes' own command lines.

Each config, composed the way fairseq-hydra-train composes it, must give the same fairseq
configuration, field by field, as the fairseq-train command that its recipe runs at the default
settings (printed by the recipe with DRY_RUN=1, parsed by fairseq's own option parser). Only the
per-run locations (data, checkpoints, tokenizer model, log dirs: `???` or unset in the configs)
are taken from the command line. The configs are fp32 on every machine, the recipes'
PRECISION=fp32 (their default, auto, depends on the processor); PRECISION=bf16 is the override
common.bf16=true. Step 2 (adapt.yaml) also trains through both paths, from another directory: the
same tensors to the same values.
"""

import argparse
import os
import shlex
import subprocess

import pytest
import torch
from conftest import ROOT, run_cli
from omegaconf import OmegaConf

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq.compat import load_checkpoint
from minimodel_recipes import settings

# hydra 1.3 warns about fairseq's 1.0-style configs (package header, schema matching): fairseq's to fix
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]
CONFIG_DIR = ROOT / "examples" / "bible" / "config"

# config -> the recipe (and its arguments) whose command line it reproduces
RECIPES = {
    "pretrain_minijoint": ["1_pretrain_minijoint.sh"],
    # active forgetting: the recipe with FORGET_EVERY=300 (the setting's flag)
    "pretrain_minijoint_forget": ["1_pretrain_minijoint.sh"],
    "minipost": ["1b_minipost.sh"],
    "adapt": ["2_adapt_language.sh", "de", "minijoint"],
    "finetune": ["3_finetune.sh", "1", "minijoint"],
}
RECIPE_ENV = {"pretrain_minijoint_forget": {"FORGET_EVERY": "300"}}  # settings beyond the defaults
# where a run reads and writes: the configs leave them to the command line
LOCATIONS = ("checkpoint.save_dir", "common.tensorboard_logdir")
# fairseq's own config.yaml default for generation scoring, which only the flag path composes;
# training never reads it
IGNORED = ("scoring",)


def dry_run(args, **env):
    """The fairseq-train command a recipe runs (DRY_RUN=1), as an argument list; default settings in fp32."""
    clean = {
        k: v for k, v in os.environ.items() if k not in settings.BY_NAME and k != "PROGRESS_PREFIX"
    }
    proc = subprocess.run(
        ["bash", f"examples/bible/{args[0]}", *args[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**clean, "DRY_RUN": "1", "PRECISION": "fp32", **env},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(".venv/bin/fairseq-train "), proc.stdout
    return shlex.split(lines[0])[1:]


def flags_config(argv):
    """fairseq-train's configuration for a command line (what fairseq_cli.train does with it)."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    args = options.parse_args_and_arch(options.get_training_parser(), input_args=argv)
    return convert_namespace_to_omegaconf(args)


def yaml_config(name, overrides):
    """fairseq-hydra-train's configuration for a config (as fairseq_cli.hydra_train composes it)."""
    from fairseq.dataclass.initialize import add_defaults, hydra_init
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    hydra_init(name)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.1"):  # hydra_train's
        cfg = compose(name, overrides=overrides)
    add_defaults(cfg)
    GlobalHydra.instance().clear()
    return OmegaConf.create(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))


def model_fields(model):
    """A model config's fields as the model sees them. The models here are argparse models (fields in
    add_args, no dataclass): the arch function fills what is unset, and a field left None reads as
    its default (fairseq's safe_getattr), which the flag path takes from add_args."""
    from fairseq.models import ARCH_CONFIG_REGISTRY, ARCH_MODEL_REGISTRY

    values = vars(model) if isinstance(model, argparse.Namespace) else OmegaConf.to_container(model)
    ns = argparse.Namespace(**values)
    ARCH_CONFIG_REGISTRY[ns._name](ns)
    parser = argparse.ArgumentParser()
    ARCH_MODEL_REGISTRY[ns._name].add_args(parser)
    fields = {
        a.dest: a.default if getattr(ns, a.dest, None) is None else getattr(ns, a.dest)
        for a in parser._actions
        if a.dest != "help"
    }
    return {"_name": ns._name, **fields}


def field(cfg, path):
    """cfg's value at 'group.key' (groups of argparse-only classes are Namespaces)."""
    group, key = path.split(".")
    g = cfg.get(group)
    return getattr(g, key, None) if isinstance(g, argparse.Namespace) else g.get(key)


def differences(yaml_cfg, flag_cfg):
    """['group.field: config X, recipe Y', ...] over every field of every group."""
    out = []
    for group in yaml_cfg:
        if group in IGNORED:
            continue
        y, f = yaml_cfg[group], flag_cfg.get(group)
        if group == "model":
            y, f = model_fields(y), model_fields(f)
        elif not OmegaConf.is_dict(y):
            if y != f:
                out.append(f"{group}: config {y!r}, recipe {f!r}")
            continue
        for key in y:
            a = y[key]
            b = getattr(f, key, None) if isinstance(f, argparse.Namespace) else f.get(key)
            if a != b:
                out.append(f"{group}.{key}: config {a!r}, recipe {b!r}")
    return out


def compare(name, monkeypatch, **env):
    monkeypatch.chdir(
        ROOT
    )  # --user-dir minimodel_fairseq is relative to the repo root, as in the recipes
    flag_cfg = flags_config(dry_run(RECIPES[name], **RECIPE_ENV.get(name, {}), **env))
    raw = OmegaConf.load(CONFIG_DIR / f"{name}.yaml")
    required = [
        f"{g}.{k}"
        for g in raw
        if g != "hydra" and OmegaConf.is_dict(raw[g])
        for k in raw[g]
        if OmegaConf.is_missing(raw[g], k)
    ]
    assert required, f"{name}.yaml leaves no location to the command line"
    overrides = [f"{path}={field(flag_cfg, path)}" for path in [*required, *LOCATIONS]]
    return differences(yaml_config(name, overrides), flag_cfg)


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
def test_config_is_the_recipes_command_line(name, monkeypatch, tmp_path):
    assert name in RECIPES, f"{name}.yaml has no recipe to check it against: add it to RECIPES"
    assert compare(name, monkeypatch, RUNS=str(tmp_path / "runs")) == []


def test_a_drifted_config_is_caught(monkeypatch, tmp_path):
    """The check above can fail: a recipe setting that differs from its config is reported."""
    diffs = compare(
        "pretrain_minijoint",
        monkeypatch,
        RUNS=str(tmp_path / "runs"),
        PRETRAIN_LR="2e-3",
        PRETRAIN_UPDATES="1000",
    )
    assert "optimization.lr: config [0.001], recipe [0.002]" in diffs
    assert "optimization.max_update: config 2000, recipe 1000" in diffs
    assert "lr_scheduler.warmup_updates: config 200, recipe 100" in diffs
    diffs = compare("adapt", monkeypatch, RUNS=str(tmp_path / "runs"), EMBED_INIT="random")
    assert diffs == ["task.embedding_init: config 'shared_translit', recipe 'random'"]
    diffs = compare(
        "minipost", monkeypatch, RUNS=str(tmp_path / "runs"), MINIPOST_HEAD_INIT="random"
    )
    assert diffs == [
        "model.mini_head_init: config 'copy', recipe 'random'"
    ]  # a model (add_args) field
    # bf16 is the one field the configs leave to the command line (common.bf16=true)
    diffs = compare("finetune", monkeypatch, RUNS=str(tmp_path / "runs"), PRECISION="bf16")
    assert diffs == ["common.bf16: config False, recipe True"]


def test_adapt_config_equals_the_flag_recipe(bible_data, tiny_minijoint, tmp_path):
    """Step 2 trained from adapt.yaml (from another directory) and from the recipe's own command
    line (DRY_RUN=1, tiny sizes) gives bitwise the same tensors."""
    runs, updates = tmp_path / "runs", 3
    (runs / "pretrain" / "minijoint").mkdir(parents=True)
    (runs / "pretrain" / "minijoint" / "mini.pt").symlink_to(
        tiny_minijoint
    )  # the body: a tiny model
    argv = dry_run(
        ["2_adapt_language.sh", "de", "minijoint"],
        RUNS=str(runs),
        DATA=str(bible_data),
        TOKENS="64",
        ADAPT_UPDATES=str(updates),
    )
    argv[argv.index("--save-dir") + 1] = str(tmp_path / "flags")
    run_cli(["fairseq-train", *argv], cwd=ROOT)
    value = {
        a: argv[argv.index(a) + 1]
        for a in ("--sentencepiece-model", "--warmup-updates", "--max-update")
    }
    assert value["--warmup-updates"] == "0" and value["--max-update"] == str(updates)
    run_cli(
        [
            "fairseq-hydra-train",
            "--config-dir",
            str(CONFIG_DIR),
            "--config-name",
            "adapt",
            f"common.user_dir={ROOT / 'minimodel_fairseq'}",
            f"task.data={bible_data / 'de' / 'mlm'}",
            f"task.body_checkpoint={runs / 'pretrain' / 'minijoint' / 'mini.pt'}",
            "task.tokens_per_sample=64",
            f"bpe.sentencepiece_model={value['--sentencepiece-model']}",
            "lr_scheduler.warmup_updates=0",
            f"optimization.max_update={updates}",
            f"checkpoint.save_dir={tmp_path / 'hydra'}",
        ],
        cwd=tmp_path,
    )
    hydra, flags = (
        load_checkpoint(str(tmp_path / d / "checkpoint_last.pt")) for d in ("hydra", "flags")
    )
    assert hydra["optimizer_history"][-1]["num_updates"] == updates
    assert hydra["model"]["encoder.lm_head.bias"].abs().sum() > 0  # starts at zero: it trained
    for name, tensor in flags["model"].items():
        assert torch.equal(hydra["model"][name], tensor), name
    assert not (tmp_path / ".hydra").exists() and not (tmp_path / "outputs").exists()
    # the checkpoint knows its tokenizer: the target language's sentencepiece model
    assert flags["cfg"]["bpe"]["sentencepiece_model"] == str(bible_data / "de" / "spm.model")
