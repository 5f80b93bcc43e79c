"""benchmarks/transfer.py in miniature: tiny models, fixture text, one language, one seed.

Checks the instrument, not the result: every method gets a curve whose FLOPs and
seconds grow with the updates, the mini-model's updates cost fewer FLOPs than the
full model's, every point has the label-free measures (label_free.py's own values),
each method is paired with its baseline verse by verse, and the JSON, Markdown table and
PNG plot are written; a rerun measures nothing again (a curve cached without label-free
measures gets them alone), and --report-only reports what is finished, marked partial.
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from minimodel_fairseq import label_free as lf
from minimodel_fairseq import surgery

pytestmark = [pytest.mark.slow, pytest.mark.recipe]


def test_transfer_benchmark_miniature(bible_data, tmp_path):
    env = {
        **os.environ,
        "DATA": str(bible_data),
        "RUNS": str(tmp_path / "runs"),
        "PYTHONWARNINGS": "ignore",
        "MODEL_FLAGS": "--encoder-layers 3 --encoder-embed-dim 32 --encoder-ffn-embed-dim 64 "
        "--encoder-attention-heads 2 --mini-layer 1",
        "TOKENS": "64",
        "PRETRAIN_UPDATES": "12",
        "MINIPOST_UPDATES": "4",
        "MINIPOST_K": "1",
        "ADAPT_UPDATES": "6",
        "FT_UPDATES": "4",
        "THREADS": "1",
    }
    out = tmp_path / "results"
    args = [
        sys.executable,
        "benchmarks/transfer.py",
        "--langs",
        "de",
        "--seeds",
        "1",
        "--methods",
        "full",
        "minijoint",
        "minipost",
        "random",
        "copy_only",
        "full_roberta",
        "--points",
        "3",
        "--out",
        str(out),
    ]
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "de minijoint seed 1: 4 updates" in proc.stdout  # progress while it runs
    result = json.loads((out / "transfer.json").read_text())
    de = result["summary"]["de"]["methods"]
    for method in ("full", "minijoint", "minipost", "full_roberta"):
        curve = de[method]["curve"]  # the mini methods run --mini-budget 2 x ADAPT_UPDATES
        assert [p["updates"] for p in curve] == (
            [2, 4, 6] if method.startswith("full") else [2, 4, 6, 8, 10, 12]
        )
        assert all(
            b["flops"] > a["flops"] > 0 and b["seconds"] >= a["seconds"]
            for a, b in zip(curve, curve[1:])
        )
        assert all(0 <= p["accuracy"] <= 1 for p in curve)
    assert (
        de["minijoint"]["curve"][2]["flops"] < de["full"]["curve"][2]["flops"]
    )  # same updates, fewer FLOPs
    assert de["minipost"]["baseline"] == "full_roberta" and de["minijoint"]["baseline"] == "full"
    assert len(de["random"]["curve"]) == 1 and len(de["copy_only"]["curve"]) == 1
    assert result["minipost_cost"]["flops"] > 0 and set(result["english"]) == {
        "minijoint",
        "roberta",
    }
    table = (out / "transfer.md").read_text()
    assert "| de |" in table and "| average |" in table and "MiniPost's one-off cost" in table
    assert "Step 2 per update" in table and "realised" in table
    assert (out / "transfer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*tmp*"))

    # the label-free measures beside the accuracy: in [0, 1], and label_free's own values for one checkpoint
    for method, r in de.items():
        assert all(
            0 <= p["retrieval"] <= 1 and 0 <= p["retrieval_top"] <= 1 and p["mlm_loss"] > 0
            for p in r["curve"]
        ), method
        assert r["final_retrieval"] == r["curve"][-1]["retrieval"] and r["final_mlm_loss"] > 0
    assert result["summary"]["de"]["retrieval_chance"] == pytest.approx(1 / 83)
    middle, top = result["meta"]["label_free"]["layers"]["minijoint"]
    assert (middle, top) == (1, 3) and result["meta"]["label_free"]["layers"]["roberta"] == [1, 3]
    runs = tmp_path / "runs"
    big, step2 = (
        runs / "pretrain" / "minijoint" / "checkpoint_last.pt",
        runs / "adapt" / "de" / "full" / "seed1",
    )
    direct = lf.Retrieval(big, bible_data / "de", bible_data / "en", "test").score(
        step2 / "checkpoint_last.pt"
    )
    last = de["full"]["curve"][-1]
    assert (last["retrieval"], last["retrieval_top"]) == (
        direct["target_to_source"][1],
        direct["target_to_source"][3],
    )
    swapped = lf.big_with_embeddings(
        big, surgery.load_roberta_checkpoint(step2 / "checkpoint_last.pt")
    )
    assert last["mlm_loss"] == lf.mlm_loss(swapped, bible_data / "de" / "mlm")["loss"]
    assert "Label-free measures at the final checkpoint" in table and "| de | minijoint |" in table
    assert "retrieval ->en middle" in table and "L1 / L3" in table
    # the checkpoint the step-2 model's own valid loss picks, for the trained methods: its run's lowest
    own = [p["step2_mlm_loss"] for p in de["minijoint"]["curve"]]
    best = len(own) - 1 - own[::-1].index(min(own))  # a tie goes to the later checkpoint
    assert de["minijoint"]["choice"]["step2_mlm_loss"]["chosen_updates"] == [
        de["minijoint"]["curve"][best]["updates"]
    ]
    assert set(de["minijoint"]["choice"]) == {"step2_mlm_loss", "mlm_loss"}
    assert "choice" not in de["random"] and "Step-2 checkpoint chosen without labels" in table
    # baseline - method verse by verse: the per-verse results stay in RUNS/points, not in the report
    kept = json.loads((tmp_path / "runs" / "points" / "de_full_seed1.json").read_text())["curve"][
        -1
    ]
    assert kept["correct"].count("1") / len(kept["correct"]) == pytest.approx(kept["accuracy"])
    pair = result["paired"]["minijoint"]["last"]["result"]["de"]
    assert pair["difference"] == pytest.approx(
        de["full"]["final_accuracy"] - de["minijoint"]["final_accuracy"]
    )
    assert result["paired"]["minipost"]["last"]["baseline"] == "full_roberta"
    assert "correct" not in result["points"][0]["curve"][0]
    assert (
        "Paired: full - minijoint at the last checkpoints:" in table
        and "Paired: full_roberta - minipost" in table
    )

    # a rerun resumes: everything is cached, nothing is trained or scored again, same summary; a curve
    # cached before the label-free measures existed (no _label_free file) gets them alone
    points = tmp_path / "runs" / "points"
    (points / "de_full_seed1_label_free.json").unlink()
    curve_before = (points / "de_full_seed1.json").read_bytes()
    rerun = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert (
        "-> accuracy" not in rerun.stdout and "Partial" not in rerun.stdout
    )  # no step-2 point scored again
    assert (
        rerun.stdout.count("-> retrieval") == 3
        and "de full seed 1: 6 updates -> retrieval" in rerun.stdout
    )
    assert (points / "de_full_seed1.json").read_bytes() == curve_before
    assert json.loads((out / "transfer.json").read_text())["summary"] == result["summary"]
    # a second seed that has not run yet: --report-only trains nothing and marks the report partial
    report = subprocess.run(
        args[:5] + ["1", "2"] + args[6:] + ["--report-only"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert report.returncode == 0, report.stdout[-3000:] + report.stderr[-3000:]
    assert "Partial" in report.stdout and "[1 seed]" in report.stdout
    assert not (tmp_path / "runs" / "adapt" / "de" / "full" / "seed2").exists()

    # other settings over the same RUNS: refused before anything runs, nothing on disk changes
    before = {p: p.read_bytes() for p in points.iterdir()}
    other = subprocess.run(
        args, cwd=ROOT, env={**env, "ADAPT_UPDATES": "8"}, capture_output=True, text=True
    )
    assert other.returncode == 1, other.stdout[-3000:] + other.stderr[-3000:]
    assert (
        "refusing to reuse" in other.stderr and "ADAPT_UPDATES '6' there, '8' now" in other.stderr
    )
    assert (
        "MINI_ADAPT_UPDATES '12' there, '16' now" in other.stderr and "another RUNS" in other.stderr
    )
    assert "step 1" not in other.stdout and {p: p.read_bytes() for p in points.iterdir()} == before
    # a point from before settings were recorded: used, with a warning
    old = points / "de_full_seed1.json"
    old.write_text(
        json.dumps({k: v for k, v in json.loads(old.read_text()).items() if k != "settings"})
    )
    report = subprocess.run(
        args + ["--report-only"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert (
        report.returncode == 0
        and "1 points in" in report.stdout
        and "record no settings" in report.stdout
    )


def _curve(updates, flops, accuracies):
    return [
        {"updates": u, "flops": f, "seconds": f / 1e9, "accuracy": a}
        for u, f, a in zip(updates, flops, accuracies)
    ]


def test_summary_targets_ties_and_baselines():
    """The ratio is the baseline's compute to its final accuracy - 1 point over the method's compute to
    that target; differences within the seeds' spread are ties; MiniPost is measured against full_roberta
    when that ran, else against full; one seed gives no verdict."""
    from minimodel_recipes import transfer_report as transfer

    points = {}
    for seed, noise in ((1, -0.01), (2, 0.0), (3, 0.01)):
        points["de", "full", seed] = _curve([5, 10], [10e12, 20e12], [0.30, 0.40 + noise])
        points["de", "minijoint", seed] = _curve(
            [5, 10, 20], [2e12, 4e12, 8e12], [0.31, 0.395, 0.405 + noise]
        )
        points["de", "minipost", seed] = _curve([5, 10], [3e12, 6e12], [0.295, 0.30 + noise])
        points["de", "full_roberta", seed] = _curve([5, 10], [10e12, 20e12], [0.27, 0.30])
        points["de", "copy_only", seed] = _curve([0], [0.0], [0.26])
    methods = ["full", "minijoint", "minipost", "full_roberta", "copy_only"]
    row = transfer.summarise(points, ["de"], methods, [1, 2, 3], {"de": 0.276})["de"]["methods"]
    assert row["full"]["final_accuracy"] == pytest.approx(0.40) and row["full"][
        "spread"
    ] == pytest.approx(0.01)
    # target 0.39: full reaches it at 20 TFLOPs, minijoint at 4 -> 5x; wall the same here
    assert row["minijoint"]["baseline"] == "full" and row["minijoint"][
        "flops_ratio"
    ] == pytest.approx(5.0)
    assert (
        row["minijoint"]["seconds_ratio"] == pytest.approx(5.0)
        and row["minijoint"]["vs_baseline"] == "tie"
    )
    # per update, first to last checkpoint: full 10 TFLOPs / 5 updates, minijoint 6 / 15 -> 5x, all of it realised
    assert row["minijoint"]["per_update"] == pytest.approx(
        {"flops_ratio": 5.0, "seconds_ratio": 5.0, "realised": 1.0}
    )
    # MiniPost against its own big model's standard recipe (target 0.29): reached at 3 TFLOPs, 20 / 3
    assert row["minipost"]["baseline"] == "full_roberta" and row["minipost"]["vs_baseline"] == "tie"
    assert row["minipost"]["flops_ratio"] == pytest.approx(20 / 3)
    assert "vs_baseline" not in row["copy_only"] and "vs_baseline" not in row["full_roberta"]
    # without full_roberta, MiniPost is measured against full: target 0.39 never reached, a loss
    row = transfer.summarise(points, ["de"], methods[:3], [1, 2, 3], {"de": 0.276})["de"]["methods"]
    assert row["minipost"]["baseline"] == "full" and row["minipost"]["flops_ratio"] is None
    assert row["minipost"]["vs_baseline"] == "loss"
    # a clear win beyond the spread, and no verdict from one seed
    for seed in (1, 2, 3):
        points["de", "minijoint", seed][-1]["accuracy"] = 0.45
    row = transfer.summarise(points, ["de"], methods, [1, 2, 3], {"de": 0.276})["de"]["methods"]
    assert row["minijoint"]["vs_baseline"] == "win"
    one = {k: v for k, v in points.items() if k[2] == 1}
    row = transfer.summarise(one, ["de"], methods, [1], {"de": 0.276})["de"]["methods"]
    assert "vs_baseline" not in row["minijoint"] and row["minijoint"]["flops_ratio"] is not None


def test_checkpoint_choice_by_the_label_free_loss():
    """The step-2 checkpoint with the lowest valid loss is chosen (a tie to the later one, as fairseq's best
    checkpoint), by the step-2 model's own loss and by the big model's, and reported against the last and
    the best; not for controls, and not by a loss some point lacks."""
    from minimodel_recipes import transfer_report as transfer

    points = {}
    for seed, own, big, accs in (
        (1, [7.0, 6.5, 6.6], [9.0, 8.9, 8.8], [0.30, 0.42, 0.38]),
        (2, [7.0, 6.7, 6.7], [9.0, 8.9, 8.8], [0.31, 0.44, 0.36]),
    ):
        points["de", "minijoint", seed] = [
            {**p, "step2_mlm_loss": o, "mlm_loss": b}
            for p, o, b in zip(_curve([5, 10, 20], [2e12, 4e12, 8e12], accs), own, big)
        ]
        points["de", "full", seed] = _curve(
            [5, 10], [10e12, 20e12], [0.30, 0.40]
        )  # no label-free measure
        points["de", "copy_only", seed] = [{**_curve([0], [0.0], [0.26])[0], "mlm_loss": 11.0}]
    assert transfer.choose(points["de", "minijoint", 1], "step2_mlm_loss") == 1
    assert (
        transfer.choose(points["de", "minijoint", 2], "step2_mlm_loss") == 2
    )  # the tie: the later one
    assert transfer.choose(points["de", "full", 1], "mlm_loss") is None
    row = transfer.summarise(
        points, ["de"], ["full", "minijoint", "copy_only"], [1, 2], {"de": 0.276}
    )["de"]
    choice = row["methods"]["minijoint"]["choice"]
    own, big = choice["step2_mlm_loss"], choice["mlm_loss"]
    assert own["chosen_updates"] == [10, 20] and own["chosen_last"] == 1
    assert own["last"] == pytest.approx(0.37) and own["chosen"] == pytest.approx(0.39)
    assert own["peak"] == pytest.approx(0.43) and own["differences"] == pytest.approx([0.04, 0.0])
    assert big["chosen_updates"] == [20, 20] and big["chosen"] == pytest.approx(0.37)
    assert "choice" not in row["methods"]["full"] and "choice" not in row["methods"]["copy_only"]
    lines = transfer.choice_markdown({"de": row}, ["full", "minijoint", "copy_only"])
    assert "| de | minijoint | step2_mlm_loss | 37.0 | 39.0 | 43.0 | +4.0, +0.0 | 10, 20 |" in lines
    assert (
        "| all | minijoint | step2_mlm_loss | 37.0 | 39.0 | 43.0 | mean +2.0 (from +0.0 to +4.0) "
        "| the last in 1 of 2 |"
    ) in lines
    assert "| de | minijoint | mlm_loss | 37.0 | 37.0 | 43.0 | +0.0, +0.0 | 20, 20 |" in lines
    assert transfer.choice_markdown({"de": {"methods": {}}}, ["full"]) == []
    # the target from the baseline's chosen checkpoints: minijoint as the baseline of a cheaper copy of itself
    for seed in (1, 2):
        points["de", "full", seed] = points["de", "minijoint", seed]
        points["de", "minijoint", seed] = [
            {**p, "flops": p["flops"] / 4, "seconds": p["seconds"] / 2}
            for p in points["de", "full", seed]
        ]
    row = transfer.summarise(points, ["de"], ["full", "minijoint"], [1, 2], {"de": 0.276})["de"]
    target = row["methods"]["minijoint"]["chosen_target"]
    # by the step-2 model's own loss, full's chosen checkpoints average 0.39; target 0.38 is first reached at
    # 10 updates (mean 0.43) by both
    assert target["by"] == "step2_mlm_loss" and target["target"] == pytest.approx(0.38)
    assert target["flops"] == [4e12, 1e12] and target["flops_ratio"] == pytest.approx(4.0)
    assert target["seconds_ratio"] == pytest.approx(2.0)
    lines = transfer.choice_markdown({"de": row}, ["full", "minijoint"])
    assert "| de | minijoint | full | step2_mlm_loss | 38.0 | 4.00x / 2.00x |" in lines


def test_paired_comparison_verse_by_verse():
    """full - minijoint is paired by seed and verse at the last checkpoints and at the ones chosen without
    labels; its mean is the mean accuracy difference, a language lacking per-verse results is left out,
    and the report's JSON curves do not carry them."""
    from minimodel_recipes import transfer_report as transfer

    def point(updates, correct, loss):
        return {
            "updates": updates,
            "flops": updates * 1e12,
            "seconds": updates,
            "step2_mlm_loss": loss,
            "mlm_loss": loss,
            "accuracy": correct.count("1") / len(correct),
            "correct": correct,
        }

    points = {}
    for seed, full_last, mj_early, mj_last in (
        (1, "1100", "1111", "1000"),
        (2, "1110", "1011", "0100"),
    ):
        points["de", "full", seed] = [point(5, "0000", 7.0), point(10, full_last, 6.0)]
        points["de", "minijoint", seed] = [
            point(5, mj_early, 6.5),
            point(10, mj_last, 6.9),
        ]  # chosen: the first
        points["fr", "full", seed] = [
            {k: v for k, v in p.items() if k != "correct"} for p in points["de", "full", seed]
        ]
        points["fr", "minijoint", seed] = points["de", "minijoint", seed]
        points["de", "copy_only", seed] = [point(0, "0101", 11.0)]
    methods = ["full", "minijoint", "copy_only"]
    summary = transfer.summarise(points, ["de", "fr"], methods, [1, 2], {"de": 0.25, "fr": 0.25})
    result = transfer.paired_comparisons(points, summary, methods, [1, 2], reps=200)
    assert list(result) == ["minijoint"]  # no comparison for a control or for the baseline itself
    last, chosen, big = (result["minijoint"][k] for k in ("last", "step2_mlm_loss", "mlm_loss"))
    assert last["languages"] == ["de"] and last["baseline"] == "full" and last["by"] is None
    # last: full 2/4 and 3/4 right, minijoint 1/4 and 1/4 -> +0.25, +0.50 per seed
    assert last["result"]["de"]["per_seed"] == pytest.approx([0.25, 0.5])
    assert (
        last["result"]["de"]["difference"]
        == pytest.approx(0.375)
        == last["result"]["all"]["difference"]
    )
    lo, hi = last["result"]["de"]["interval"]
    assert -1 <= lo <= 0.375 <= hi <= 1
    # chosen by the step-2 model's own loss: full's last (6.0), minijoint's first (6.5): 2/4 - 4/4, 3/4 - 3/4
    assert chosen["by"] == "step2_mlm_loss" and chosen["result"]["de"]["per_seed"] == pytest.approx(
        [-0.5, 0.0]
    )
    # the big model's loss is the same here, so it picks the same checkpoints
    assert big["by"] == "mlm_loss" and big["result"]["de"]["per_seed"] == pytest.approx([-0.5, 0.0])
    lines = transfer.paired_markdown(result, [1, 2])
    assert "Paired: full - minijoint at the last checkpoints:" in lines
    assert "Paired: full - minijoint at the checkpoints chosen by step2_mlm_loss:" in lines
    assert "Paired: full - minijoint at the checkpoints chosen by mlm_loss:" in lines
    assert "| de | +37.5 | +25.0 / +50.0 |" in "\n".join(lines)
    assert transfer.paired_markdown({}, [1]) == []
