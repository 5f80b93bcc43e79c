"""benchmarks/budget.py in miniature: one pretraining budget adapted with the anchored and the random
init, the label-free measures and the report; a report that names a budget not run yet is partial;
a rerun with other settings is refused. (One budget run only: each costs two run_langs.sh.)"""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow
SCRIPT = str(ROOT / "benchmarks" / "budget.py")


def budget(data, runs, out, budgets, *extra, **env_extra):
    env = {
        **os.environ,
        "DATA": str(data),
        "PYTHONWARNINGS": "ignore",
        "MODEL_FLAGS": "--encoder-layers 3 --encoder-embed-dim 32 --encoder-ffn-embed-dim 64 "
        "--encoder-attention-heads 2 --mini-layer 1",
        "TOKENS": "64",
        "ADAPT_UPDATES": "4",
        "FT_UPDATES": "4",
        "THREADS": "1",
        "VOCAB": "500",
        "PROGRESS_EVERY": "600",
        **env_extra,
    }
    return subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--budgets",
            *budgets,
            "--langs",
            "de",
            "--seeds",
            "1",
            "--runs",
            str(runs),
            "--out",
            str(out),
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.recipe
def test_budget_curve_in_miniature(bible_data, tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "out"
    proc = budget(bible_data, runs, out, ["6"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "budget.json").read_text())
    assert result["complete"] and [e["budget"] for e in result["summary"]] == [6]
    assert (out / "budget.png").stat().st_size > 0
    names = [
        "full (anchored init)",
        "minijoint (anchored init)",
        "full (random init)",
        "minijoint (random init)",
        "random (control)",
        "copy_only (control)",
    ]
    (entry,) = result["summary"]
    # the budget's own pretraining, exactly that many updates; the random-init runs share it and its classifiers
    assert (
        entry["body"]["done"] and entry["body"]["flops"] > 0 and entry["body"]["primary_loss"] > 0
    )
    assert entry["body"]["device"] == "CPU"
    log = (runs / "6" / "anchored" / "pretrain" / "minijoint" / "train.log").read_text()
    assert "num_updates 6" in log and "num_updates 7" not in log
    for shared in ("pretrain", "finetune"):
        assert (runs / "6" / "random" / shared).resolve() == (
            runs / "6" / "anchored" / shared
        ).resolve()
    # what differs between the two inits is the step-2 init, and only that
    anchored = (
        runs / "6" / "anchored" / "adapt" / "de" / "full" / "seed1" / "train.log"
    ).read_text()
    random = (runs / "6" / "random" / "adapt" / "de" / "full" / "seed1" / "train.log").read_text()
    assert "init shared_translit" in anchored and "init random" in random
    assert not (runs / "6" / "random" / "adapt" / "de" / "copy_only").exists()  # controls run once
    assert len(entry["english"]) == 1
    (row,) = entry["langs"]
    assert row["lang"] == "de" and set(row["accuracy"]) == set(names) == set(
        row["retrieval"]
    ) == set(row["mlm_loss"])
    assert set(row["transfers"]) == set(names[:4]) and set(row["transfers"].values()) <= {
        "yes",
        "no",
    }
    assert all(0 <= v[0] <= 1 for v in row["accuracy"].values())
    assert all(v[0] > 0 for v in row["mlm_loss"].values())
    text = (out / "budget.md").read_text()
    assert text in proc.stdout and "Partial" not in text
    assert "Where each trained series first transfers: full (anchored init): " in text
    assert text.count("| 6 | de |") == 2

    # a report naming a budget not run yet: partial, from what is on disk, running nothing
    partial = budget(bible_data, runs, tmp_path / "partial", ["6", "12"], "--report-only")
    assert partial.returncode == 0, partial.stderr[-3000:]
    text12 = (tmp_path / "partial" / "budget.md").read_text()
    assert (
        text12.startswith("**Partial**")
        and "| 12 |  |  |  |  |" in text12
        and "run_langs.sh" not in partial.stdout
    )
    assert text12.count("| 6 | de |") == 2 and not (runs / "12").exists()
    assert json.loads((tmp_path / "partial" / "budget.json").read_text())["summary"][0] == entry

    # other settings: refused before anything runs, nothing on disk changes
    before = sorted(runs.rglob("*"))
    refused = budget(bible_data, runs, out, ["6", "12"], FT_UPDATES="5")
    assert refused.returncode != 0
    assert "was run with other settings (FT_UPDATES '4' there, '5' now)" in refused.stderr
    assert sorted(runs.rglob("*")) == before and not (runs / "12").exists()
    assert json.loads((out / "budget.json").read_text()) == result


def test_body_names_the_gpu_a_budget_was_pretrained_on(tmp_path):
    """Pretraining seconds compare only on one device: a body pretrained on a GPU says which (fairseq's log)."""
    from benchmarks import budget as budget_module

    pre = tmp_path / "pretrain" / "minijoint"
    pre.mkdir(parents=True)
    lines = [
        "2026-11-28 03:18:39 | INFO | fairseq.utils | rank   0: capabilities =  9.0  ; total memory = 139.801 GB ; "
        "name = NVIDIA H200                             ",
        "2026-11-28 03:23:55 | INFO | valid | epoch 004 | valid on 'valid' subset | loss 13.999 | "
        "primary_loss 6.992 | mini_loss 7.007 | num_updates 4000",
    ]
    (pre / "train.log").write_text("\n".join(lines) + "\n")
    body = budget_module.body(tmp_path)
    assert body["device"] == "NVIDIA H200" and (body["primary_loss"], body["mini_loss"]) == (
        6.992,
        7.007,
    )
    (pre / "train.log").write_text(lines[1] + "\n")
    assert budget_module.body(tmp_path)["device"] == "CPU"
