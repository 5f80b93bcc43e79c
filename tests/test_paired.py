"""minimodel_recipes/paired.py: paired differences of two methods from per-verse predictions."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minimodel_recipes import paired

ROOT = Path(__file__).resolve().parents[1]


def write(runs, lang, method, seed, flags):
    path = Path(runs, "transfer", lang, method, f"seed{seed}.predictions.tsv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "index\tgold\tpredicted\tcorrect\n"
        + "".join(f"{i}\tlaw\t{'law' if c else 'history'}\t{c}\n" for i, c in enumerate(flags))
    )


def test_paired_differences_and_interval(tmp_path):
    rng = np.random.default_rng(1)
    for seed in (
        "1",
        "2",
    ):  # full right on 60 % of 500 verses, minijoint on the same verses minus 50
        full = (rng.random(500) < 0.6).astype(int)
        mini = full.copy()
        mini[np.flatnonzero(full)[:50]] = 0
        write(tmp_path, "de", "full", seed, full)
        write(tmp_path, "de", "minijoint", seed, mini)
        write(tmp_path, "fr", "full", seed, full)
        write(tmp_path, "fr", "minijoint", seed, full)  # identical: difference 0 on every resample
    r = paired.compare(tmp_path, ["de", "fr"], ["1", "2"], reps=500)
    assert r["de"]["per_seed"] == [0.1, 0.1] and r["de"]["difference"] == pytest.approx(0.1)
    lo, hi = r["de"]["interval"]
    assert lo < 0.1 < hi and hi - lo < 0.06  # only the verses vary: 50 of 500 flipped
    assert r["fr"]["interval"] == [0.0, 0.0] and r["fr"]["seeds_needed"] == 2
    assert r["all"]["difference"] == pytest.approx(0.05)
    assert r["all"]["interval"][0] < 0.05 < r["all"]["interval"][1]


def test_seed_noise_widens_the_interval(tmp_path):
    rng = np.random.default_rng(2)
    for seed, shift in (("1", 0), ("2", 150), ("3", 0)):  # seed 2: minijoint 30 points worse
        full = (rng.random(500) < 0.5).astype(int)
        mini = full.copy()
        mini[np.flatnonzero(full)[:shift]] = 0
        write(tmp_path, "de", "full", seed, full)
        write(tmp_path, "de", "minijoint", seed, mini)
    r = paired.compare(tmp_path, ["de"], ["1", "2", "3"], reps=500)
    assert r["de"]["per_seed"] == [0.0, 0.3, 0.0]
    lo, hi = r["de"]["interval"]
    # resampled seeds: 8 of 27 draws hold no seed 2 (difference 0 exactly), 1 of 27 only seed 2 (about 0.3)
    assert lo == 0.0 and 0.25 < hi <= 0.3
    assert r["de"]["seeds_needed"] == int(np.ceil(3 * ((hi - lo) / 0.03) ** 2))


def test_paired_refuses_missing_predictions(tmp_path):
    write(tmp_path, "de", "full", "1", [1, 0])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "minimodel_recipes.paired",
            str(tmp_path),
            "--langs",
            "de",
            "--seeds",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert (
        "minijoint/seed1.predictions.tsv is missing: examples/bible/4_transfer.sh de minijoint 1 writes it"
        in proc.stderr
    )
