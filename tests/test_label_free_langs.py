"""minimodel_recipes/label_free_langs.py: the label-free table of a many-languages run, on a tiny RUNS.

The RUNS is laid out as the recipes lay it out (pretrain/minijoint, adapt/<lang>/<method>/seed<S>
with train_seconds), from the tiny MiniJoint model and real step-2 runs over it: full at seed 1
(seed 2: its embeddings moved), the random control at seed 1, and copy_only's seed 1 still
training (no train_seconds).
"""

import json
import shutil
import sys

import pytest
import torch
from conftest import ROOT, TINY_TRAIN, run_cli, run_python

from minimodel_fairseq import files, surgery

pytestmark = pytest.mark.slow
SCRIPT = ["-m", "minimodel_recipes.label_free_langs"]


def step2(bible_data, body, save, seed, control=False):
    run_cli(
        [
            "fairseq-train",
            str(bible_data / "de" / "mlm"),
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
            "--embedding-init",
            "random" if control else "shared",
            "--tokens-per-sample",
            "64",
            *TINY_TRAIN,
            "--seed",
            str(seed),
            "--max-update",
            "1" if control else "6",
            *(["--lr", "0"] if control else []),
            "--disable-validation",
            "--save-dir",
            str(save),
        ]
    )
    (save / "train_seconds").write_text("1\n")


@pytest.fixture(scope="module")
def runs(tiny_minijoint, bible_data, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    big = runs / "pretrain" / "minijoint" / "checkpoint_last.pt"
    big.parent.mkdir(parents=True)
    shutil.copy(tiny_minijoint, big)
    adapt = runs / "adapt" / "de"
    step2(bible_data, big, adapt / "full" / "seed1", 1)
    # seed 2: seed 1's embeddings slightly moved (one fairseq-train run fewer)
    state = torch.load(adapt / "full" / "seed1" / "checkpoint_last.pt", weights_only=False)
    weight = state["model"][surgery.TOKENS]
    weight = weight + 0.5 * weight.std() * torch.randn(
        weight.shape, generator=torch.Generator().manual_seed(2)
    )
    state["model"][surgery.TOKENS] = state["model"][surgery.LM_HEAD + "weight"] = weight
    files.save_checkpoint(state, adapt / "full" / "seed2" / "checkpoint_last.pt")
    (adapt / "full" / "seed2" / "train_seconds").write_text("1\n")
    step2(bible_data, big, adapt / "random" / "seed1", 1, control=True)
    (adapt / "copy_only" / "seed1").mkdir(
        parents=True
    )  # a run still training: a checkpoint, no train_seconds
    shutil.copy(adapt / "random" / "seed1" / "checkpoint_last.pt", adapt / "copy_only" / "seed1")
    return runs


def script(*args):
    return run_python([sys.executable, *SCRIPT, *args], cwd=ROOT)


def table(runs, bible_data, *extra):
    return script(runs, "--langs", "de", "--seeds", "1", "2", "--data", bible_data, *extra)


def test_table_cache_and_values(runs, bible_data):
    from minimodel_fairseq import label_free as lf

    out = runs / "langs" / "label_free.md"
    proc = table(runs, bible_data, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("measured in") == 3  # full seeds 1 and 2, random seed 1
    lines = out.read_text().splitlines()
    assert lines[0].startswith(
        "| language | method | seeds | ->en middle | en-> middle | ->en top | en-> top |"
    )
    assert [line.split(" | ")[1:3] for line in lines if line.startswith("| de |")] == [
        ["full", "2"],
        ["random", "1"],
    ]
    assert (
        "Not measured (5: no finished step-2 run yet): de/minijoint/seed1, de/minijoint/seed2, "
        "de/random/seed2, de/copy_only/seed1 (unfinished), de/copy_only/seed2."
    ) in lines
    assert out.read_text() in proc.stdout

    # the values are label_free's own
    result = json.loads(out.with_suffix(".json").read_text())
    big = runs / "pretrain" / "minijoint" / "checkpoint_last.pt"
    step2 = runs / "adapt" / "de" / "full" / "seed2" / "checkpoint_last.pt"
    direct = lf.Retrieval(big, bible_data / "de", bible_data / "en", "test").score(step2)
    m = next(m for m in result["measurements"] if (m["method"], m["seed"]) == ("full", 2))
    assert (m["target_to_source"], m["source_to_target"], m["n"]) == (
        direct["target_to_source"],
        direct["source_to_target"],
        direct["n"],
    )
    assert (m["layer"], m["top_layer"], m["updates"]) == (2, 4, 6)
    swapped = lf.big_with_embeddings(big, surgery.load_roberta_checkpoint(step2))
    assert m["mlm_loss"] == lf.mlm_loss(swapped, bible_data / "de" / "mlm")["loss"]
    full = next(r for r in result["rows"] if r["method"] == "full")
    assert full["to_en_top"]["values"][1] == direct["target_to_source"][4]
    assert full["from_en_middle"]["values"][1] == direct["source_to_target"][2]
    assert full["chance"] == pytest.approx(1 / 83) and full["seeds"] == [1, 2]
    assert all(
        0 <= v <= 1
        for r in result["rows"]
        for k in ("to_en_middle", "from_en_top")
        for v in r[k]["values"]
    )

    # a rerun measures nothing: the cache files stay as they are
    caches = sorted((runs / "label_free").rglob("*.json"))
    assert [p.relative_to(runs / "label_free").as_posix() for p in caches] == [
        "de/full/seed1.json",
        "de/full/seed2.json",
        "de/random/seed1.json",
    ]
    before = {p: p.stat().st_mtime_ns for p in caches}
    again = table(runs, bible_data)
    assert again.returncode == 0 and "measured in" not in again.stdout
    assert {p: p.stat().st_mtime_ns for p in caches} == before
    assert again.stdout == out.read_text()


@pytest.mark.parametrize("case", ["no_big_model", "unknown_language"])
def test_bad_input_is_one_clear_error(case, runs, bible_data, tmp_path):
    if case == "no_big_model":
        proc = table(tmp_path, bible_data)
        message = (
            f"{tmp_path}/pretrain/minijoint/checkpoint_last.pt does not exist: give the RUNS of a run whose "
            "step 1 has finished (examples/bible/run_langs.sh)"
        )
    else:
        proc = script(runs, "--langs", "xx", "--data", bible_data)
        message = (
            f"{bible_data}/xx lacks raw/cls.test.ref, cls/input0/dict.txt, cls/input0/test.idx: give a "
            f"language directory written by data preparation (DATA/<lang>, with raw/ and cls/) "
            f"(--data {bible_data}, language xx)"
        )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"label_free_langs.py: error: {message}"
    assert not (tmp_path / "label_free").exists() and not (runs / "label_free" / "xx").exists()
