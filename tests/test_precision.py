"""benchmarks/precision.py: the fp32/bf16 comparison of two recipe runs, on hand-written run directories."""

import json
import sys
from pathlib import Path

from conftest import run_python

ROOT = Path(__file__).resolve().parents[1]
HEADER = "lang\tmethod\tseed\taccuracy\tn\tmajority\tstep2_seconds\n"


def fake_run(root, acc, loss_scale):
    """A RUNS directory with results.tsv rows {(lang, method, seed): accuracy} and short train.logs."""
    (root / "langs").mkdir(parents=True)
    rows = [f"{lang}\t{m}\t{s}\t{a}\t100\t0.3\t10\n" for (lang, m, s), a in acc.items()]
    (root / "langs" / "results.tsv").write_text(
        HEADER + "en\tin-language (minijoint)\t1\t0.6\t100\t0.3\tNA\n" + "".join(rows)
    )
    logs = [root / "pretrain/minijoint/train.log", root / "finetune/minijoint/seed1/train.log"]
    logs += [root / f"adapt/{lang}/{m}/seed{s}/train.log" for (lang, m, s) in acc]
    for k, log in enumerate(logs):
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(
            "".join(
                f"2026-11-27 10:00:00 | INFO | train_inner | epoch 001:  {u} / 99 loss={loss_scale * (10 - u / 25):.3f}, "
                f"primary_loss=1.0, wps=1, num_updates={u}, lr=0.001\n"
                for u in (25, 50, 75)
            )
            + f"2026-11-27 10:01:00 | INFO | fairseq_cli.train | done training in {100.0 * loss_scale + k:.1f} seconds\n"
        )


def test_precision_report(tmp_path):
    fp32 = {
        ("de", "full", "1"): 0.40,
        ("de", "full", "2"): 0.36,
        ("de", "minijoint", "1"): 0.38,
        ("de", "minijoint", "2"): 0.38,
    }
    bf16 = {
        ("de", "full", "1"): 0.39,
        ("de", "full", "2"): 0.35,
        ("de", "minijoint", "1"): 0.30,
        ("de", "minijoint", "2"): 0.31,
    }
    fake_run(tmp_path / "fp32", fp32, 1.0)
    fake_run(tmp_path / "bf16", bf16, 0.5)
    out = tmp_path / "bf16.md"
    r = run_python(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "precision.py"),
            "--fp32",
            str(tmp_path / "fp32"),
            "--bf16",
            str(tmp_path / "bf16"),
            "--langs",
            "de",
            "--out",
            str(out),
        ],
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(out.with_suffix(".json").read_text())
    rows = {(a["lang"], a["method"]): a for a in data["accuracy"]}
    # full: means 38.0 vs 37.0, half range 2.0: within; minijoint: 38.0 vs 30.5, half ranges 0 / 0.5: not
    assert (
        abs(rows["de", "full"]["difference"] + 0.01) < 1e-9 and rows["de", "full"]["within_spread"]
    )
    assert (
        abs(rows["de", "minijoint"]["difference"] + 0.075) < 1e-9
        and not rows["de", "minijoint"]["within_spread"]
    )
    assert rows["en", "in-language (minijoint)"]["difference"] == 0
    assert (
        "| de | full | 40.0 / 36.0 | 39.0 / 35.0 | 38.0 ± 2.0 | 37.0 ± 2.0 | -1.0 | yes |"
        in out.read_text()
    )
    pre = data["steps"]["step 1 pretraining"]
    assert (
        pre["fp32"]["seconds"] == 100.0
        and pre["bf16"]["seconds"] == 50.0
        and pre["bf16"]["final_loss"] == 3.5
    )
    assert data["curves"]["fp32"]["step 2 de full seed 1"] == [[25, 9.0], [50, 8.0], [75, 7.0]]
    assert out.with_suffix(".png").stat().st_size > 0


def test_precision_refuses_missing_run(tmp_path):
    fake_run(tmp_path / "fp32", {("de", "full", "1"): 0.4}, 1.0)
    r = run_python(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "precision.py"),
            "--fp32",
            str(tmp_path / "fp32"),
            "--bf16",
            str(tmp_path / "nothing"),
        ],
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "run run_langs.sh for both precisions first" in r.stderr
