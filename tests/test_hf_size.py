"""benchmarks/hf_size.py --quick: every step timed in both precisions, its phases, peak RSS, disk, scoring.

The FLOP counts are checked against the closed form of step 2 (frozen body, trainable embeddings
tied to the LM head's projection) for the shapes the benchmark reports, so the full/mini ratio it
prints is the counter's and not a guess.
"""

import json
import os
import statistics
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.recipe]
STEPS = ("step 3", "step 1b K=4", "step 2 full", "step 2 mini K=3", "step 2 mini K=4")
PRECISIONS = ("fp32", "bf16")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("hf_size") / "out.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/hf_size.py", "--quick", "--threads", "1", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "| step 2 mini K=4 |" in proc.stdout and "ESTIMATES" in proc.stdout
    return json.loads(out.read_text())


def step2_flops(layers, d, ffn, rows, sequences, seq_len, masked):
    """One step-2 update: every layer forward + input gradients (no weight gradients); the LM head's dense
    forward + input gradient; its projection forward + input gradient + weight gradient (the embeddings)."""
    tokens = sequences * seq_len
    linear = 2 * tokens * (4 * d * d + 2 * d * ffn)
    attention = 4 * sequences * seq_len * seq_len * d
    return (
        layers * (2 * linear + 3 * attention)
        + 2 * (2 * masked * d * d)
        + 3 * (2 * masked * d * rows)
    )


def test_every_step_and_precision_measured(result):
    assert result["precisions"] == list(PRECISIONS)
    assert list(result["steps"]) == list(STEPS)
    for step, r in result["steps"].items():
        assert r["gflops_per_update"] > 0, step
        for p in PRECISIONS:
            assert r[f"{p}_s_per_update"] > 0 and r[f"{p}_gflops_per_s"] > 0, (step, p)
            assert r["peak_rss_mb"][p] > 50, (
                step,
                p,
            )  # one child per cell: torch and fairseq are in it
        assert r["bf16_speedup"] > 0
    layers = {step: r["layers"] for step, r in result["steps"].items()}
    assert layers == {
        "step 3": 6,
        "step 1b K=4": 5,
        "step 2 full": 6,
        "step 2 mini K=3": 4,
        "step 2 mini K=4": 5,
    }


def test_phases_add_up_to_the_update(result):
    for step, r in result["steps"].items():
        for p in PRECISIONS:
            phases, total = r["phases"][p], r[f"{p}_s_per_update"]
            assert all(v >= 0 for k, v in phases.items() if not k.startswith("other")), (
                step,
                p,
                phases,
            )
            # medians of each phase against the median update: about equal
            assert abs(sum(phases.values()) - total) <= 0.3 * total, (step, p, phases, total)
            # what the timers see (all but the remainder) is most of the update
            seen = sum(v for k, v in phases.items() if not k.startswith("other"))
            assert 0.3 * total <= seen <= 1.3 * total, (step, p, phases, total)
            assert phases["layers fwd"] > 0 and phases["Adam step"] > 0
        assert r["data_s_per_batch"] > 0
    # step 1b: nothing trains below the frozen K layers, so no gradient reaches the embeddings
    assert result["steps"]["step 1b K=4"]["phases"]["fp32"]["embeddings bwd"] == 0


def test_step2_flop_ratio_is_the_counters(result):
    shape = result["shape"]
    full = result["steps"]["step 2 full"]
    for k in (3, 4):
        mini = result["steps"][f"step 2 mini K={k}"]
        assert mini["shapes"] == full["shapes"]  # the same batches
        expected = []
        for (b, t, m), f_full, f_mini in zip(full["shapes"], full["flops"], mini["flops"]):

            def one(layers, b=b, t=t, m=m):
                return step2_flops(layers, shape["dim"], shape["ffn"], shape["tgt_rows"], b, t, m)

            assert f_full == one(shape["layers"]) and f_mini == one(k + 1)
            expected.append(one(shape["layers"]) / one(k + 1))
        ratios = result["step2_ratios"][f"K={k}"]
        assert ratios["flops"] == pytest.approx(statistics.median(expected)) and ratios["flops"] > 1
        for p in PRECISIONS:
            assert ratios[p]["wall"] > 0 and ratios[p]["layers"] > 0
            assert 0 < ratios[p]["equal_share_of_mini"] < 1
    # step 3 projects nothing through the LM head (its labels are no masked positions)
    assert all(m == 0 for _, _, m in result["steps"]["step 3"]["shapes"])


def test_disk_and_scoring(result):
    disk = result["disk_mb"]
    assert disk["step3_with_optimizer"] > disk["step3_model_only"] > 0
    assert (
        disk["big_model"] > disk["step2_full"] > disk["step2_mini_K4"] > disk["step2_mini_K3"] > 0
    )
    kept = result["kept_per_run_mb"]
    assert kept["total"] == pytest.approx(sum(v for k, v in kept.items() if k != "total"))
    scoring = result["scoring"]
    modes = ("by length", "file order") if scoring["by_length_keyword"] else ("default",)
    for mode in modes:
        assert scoring[mode]["sentences_per_s"] > 0 and 0 <= scoring[mode]["accuracy"] <= 1
    for step, e in result["estimates"].items():
        assert e["fp32_hours"] > 0 and e["bf16_hours"] > 0 and e["gpu_hours"] > 0, step
