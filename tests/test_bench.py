"""minimodel_recipes/bench.py, the benchmarks' shared layer, and the proof that the benchmarks' reports are
functions of their results: each committed docs/results/X.md is rewritten from X.json, byte for byte.

The committed files are never edited here. Where the current code words a line differently from the
committed report (a path renamed since it was written), KNOWN names the line as committed and as
rendered now; the rest must match byte for byte.
"""

import json
import os
import re
import stat
import subprocess
import sys

import pytest
from conftest import ROOT, run_python

from minimodel_recipes import bench

RESULTS = ROOT / "docs" / "results"


def committed(name):
    return (RESULTS / name).read_text(encoding="utf-8")


def results(name):
    return json.loads((RESULTS / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- the committed reports, from their JSON


def test_transfer_report_from_its_json():
    from minimodel_recipes import transfer_report

    assert transfer_report.from_json(results("transfer.json")) == committed("transfer.md")


def test_budget_report_from_its_json():
    from benchmarks import budget

    assert budget.from_json(results("budget.json")) == committed("budget.md")


def test_precision_report_from_its_json():
    from benchmarks import precision

    assert precision.from_json(results("bf16.json")) == committed("bf16.md")


def test_anchor_report_from_its_json():
    from benchmarks import anchor_quality

    assert anchor_quality.report(results("anchors.json")) == committed("anchors.md")


def test_label_free_report_from_its_json():
    from minimodel_recipes import label_free_langs

    r = results("label_free.json")
    assert label_free_langs.markdown(
        r["rows"], r["missing"], r["methods"], r["seeds"], r["src"]
    ) == committed("label_free.md")


def run_script(*args):
    proc = run_python([sys.executable, *args], cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_hf_size_report_from_its_json():
    """hf_size.md is a hand-written introduction (the machine, the command), then the script's report."""
    md = committed("hf_size.md")
    rendered = run_script("benchmarks/hf_size.py", "--report-from", RESULTS / "hf_size.json")
    assert rendered and md.endswith(rendered)
    intro = md[: len(md) - len(rendered)]
    assert intro.startswith("# What real size costs") and intro.endswith(
        "--json docs/results/hf_size.json\n```\n\n"
    )


def test_peak_report_from_its_json():
    """No peak.md is committed: its tables go to docs/benchmarks.md by hand; they come back from peak.json."""
    peak = results("peak.json")
    text = run_script("benchmarks/peak.py", "--report-from", RESULTS / "peak.json")
    assert text.startswith(f"\n{peak['description']}\n\n| product | shape |")
    assert text.count("\n| ") == 1 + len(peak["products"]) + 1 + 1 + len(
        peak["steps"]
    )  # header, rows, peak; header, rows


@pytest.mark.parametrize(
    "name, key",
    [("profile_before.json", "profile"), ("profile.json", "profile"), ("options.json", "options")],
)
def test_peak_profile_and_options_tables_are_the_ones_in_the_docs(name, key):
    """docs/benchmarks.md's profile and options tables are those of their JSON, row for row."""
    r = results(name)
    text = run_script("benchmarks/peak.py", "--report-from", RESULTS / name)
    tables = text.split("\n\n")
    assert tables[1].startswith("| product | shape |")  # the peak first, then the steps
    rows = tables[2].splitlines()[2:]
    steps = {row.split(" | ")[0].lstrip("| ") for row in rows}
    assert steps == set(r[key]) and len(rows) == sum(
        len(v) if key == "options" else 1 for v in r[key].values()
    )
    docs = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for line in tables[2].splitlines():
        assert line in docs, line


def test_the_scripts_report_from_option(tmp_path, capsys):
    """--report-from prints the report of a results JSON, measuring and writing nothing."""
    from benchmarks import budget, precision, transfer

    before = sorted(tmp_path.iterdir())
    transfer.main(["--report-from", str(RESULTS / "transfer.json"), "--out", str(tmp_path)])
    assert capsys.readouterr().out == committed("transfer.md")
    assert budget.main(["--report-from", str(RESULTS / "budget.json"), "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == committed("budget.md")
    assert (
        precision.main(["--report-from", str(RESULTS / "bf16.json")]) == 0
    )  # no --fp32, --bf16 needed
    assert capsys.readouterr().out == committed("bf16.md")
    assert sorted(tmp_path.iterdir()) == before
    with pytest.raises(SystemExit) as stop:  # without it, both runs are required, as ever
        precision.main(["--fp32", "runs/bible"])
    assert (
        stop.value.code == 2
        and "the following arguments are required: --bf16" in capsys.readouterr().err
    )


# ---------------------------------------------------------------- the shared layer


def test_standard_library_at_import():
    code = (
        "import sys; import minimodel_recipes.bench, minimodel_recipes.transfer_report; "
        "print(sorted(m for m in ('torch', 'fairseq', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_printers(capsys):
    bench.logger("transfer")("step 1")
    bench.stopwatch()("data ...")
    bench.say("a", 1)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\[transfer \d\d:\d\d:\d\d\] step 1", lines[0])
    assert (
        re.fullmatch(r"\[ +\d+\.\d s\] data \.\.\.", lines[1]) and len(lines[1].split("]")[0]) == 9
    )
    assert lines[2] == "a 1"


def test_statistics():
    assert (
        bench.ratio(6.0, 2.0) == 3.0
        and bench.ratio(None, 2.0) is None
        and bench.ratio(1.0, 0) is None
    )
    assert bench.paired_ratio([2.0, 9.0, 3.0], [1.0, 3.0, 3.0]) == 2.0  # median of 2, 3, 1
    assert bench.robust([3.0, 1.0, 2.0, 10.0]) == (2.5, 1.5)  # median; mean of the fastest half
    assert bench.robust([4.0]) == (4.0, 4.0)


def test_tables():
    assert bench.row(["a", 1, ""]) == "| a | 1 |  |"
    assert bench.rule(3) == "|---|---|---|" and bench.rule(4, left=1) == "|---|---:|---:|---:|"
    assert bench.rule(3, left=2) == "|---|---|---:|"
    assert bench.table(["x", "y"], [["1", "2"]], left=1) == ["| x | y |", "|---|---:|", "| 1 | 2 |"]


def test_cached_points_are_measured_once_and_stamped(tmp_path):
    calls = []

    def measure():
        calls.append(1)
        return {"value": 3}

    path, stamp = tmp_path / "points" / "de_full_seed1.json", {"ADAPT_UPDATES": "6"}
    assert (
        bench.cached(path, measure, True, stamp) is None and not calls
    )  # report only: nothing measured
    first = bench.cached(path, measure, False, stamp)
    assert first["value"] == 3 and first["settings"] == stamp and first["measured_in_s"] >= 0
    assert bench.cached(path, measure, False, stamp) == first == json.loads(
        path.read_text()
    ) and calls == [1]
    assert not list(path.parent.glob(".*tmp*"))


def test_a_cache_of_other_settings_is_refused_with_its_message(tmp_path, capsys):
    cache = tmp_path / "runs" / "points"
    bench.cached(
        cache / "de_full_seed1.json",
        lambda: {"value": 1},
        False,
        {"ADAPT_UPDATES": "6", "SRC": "en"},
    )
    bench.check_points(
        cache, {"ADAPT_UPDATES": "6", "SRC": "en"}, print
    )  # the same settings: nothing said
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit) as refused:
        bench.check_points(cache, {"ADAPT_UPDATES": "8", "SRC": "en"}, print)
    assert str(refused.value) == (
        f"refusing to reuse {cache / 'de_full_seed1.json'}: it was measured with other settings (ADAPT_UPDATES "
        "'6' there, '8' now). Nothing is recomputed, because the recipes would skip the finished training of the "
        f"old settings: run these settings in another RUNS (now {tmp_path / 'runs'}), or delete that folder to "
        "measure again"
    )
    (cache / "old.json").write_text(
        json.dumps({"value": 2})
    )  # measured before settings were recorded
    bench.check_points(cache, {"ADAPT_UPDATES": "6", "SRC": "en"}, print)
    assert capsys.readouterr().out == (
        f"warning: 1 points in {cache} record no settings (measured before they "
        "were recorded, e.g. old.json): assumed to be these settings\n"
    )


def test_a_settings_stamp_is_written_once_and_other_settings_refused(tmp_path):
    path, now = tmp_path / "2000" / "settings.json", {"FT_UPDATES": "4"}
    bench.check_stamp(path, now, False, str)
    assert not path.exists()  # nothing recorded without write
    bench.check_stamp(path, now, True, str)
    assert json.loads(path.read_text()) == now and path.read_text().endswith("}\n")
    bench.check_stamp(path, now, True, str)  # the same settings: accepted
    with pytest.raises(SystemExit) as refused:
        bench.check_stamp(path, {"FT_UPDATES": "5"}, True, lambda diff: f"other settings ({diff})")
    assert str(refused.value) == "other settings (FT_UPDATES '4' there, '5' now)"
    assert json.loads(path.read_text()) == now
    from benchmarks import budget  # budget.py's own message, unchanged

    with pytest.raises(SystemExit) as refused:
        budget.check_stamp(path, {"FT_UPDATES": "5"}, write=False)
    assert str(refused.value) == (
        f"budget.py: error: {path.parent} was run with other settings (FT_UPDATES '4' there, '5' now). Nothing "
        "was run, because the recipes would skip the finished training of the old settings: give another --runs, "
        "or the old settings"
    )


def test_writes_are_atomic_with_the_usual_mode(tmp_path):
    bench.write_text(tmp_path / "a" / "r.md", "é\n", encoding="utf-8")
    bench.write_json(
        tmp_path / "r.json", {"b": [1, "é"]}, end="\n", encoding="utf-8", ensure_ascii=False
    )
    assert (tmp_path / "a" / "r.md").read_text(encoding="utf-8") == "é\n"
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == '{\n "b": [\n  1,\n  "é"\n ]\n}\n'
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o666 & ~umask
    plt = bench.pyplot()
    import matplotlib

    assert matplotlib.get_backend().lower() == "agg"
    fig, _ = plt.subplots()
    bench.write_plot(tmp_path / "p.png", lambda p: fig.savefig(p, format="png"))
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not list(
        tmp_path.glob(".*tmp*")
    )


def test_train_argv():
    assert bench.train_argv(
        "data",
        ["--task", "masked_lm", "--tokens-per-sample", 64],
        8,
        seed=3,
        precision="bf16",
        adam_betas="(0.9,0.98)",
    ) == [
        "data",
        "--user-dir",
        str(ROOT / "minimodel_fairseq"),
        "--task",
        "masked_lm",
        "--tokens-per-sample",
        "64",
        "--batch-size",
        "8",
        "--optimizer",
        "adam",
        "--adam-betas",
        "(0.9,0.98)",
        "--lr",
        "1e-4",
        "--clip-norm",
        "0",
        "--cpu",
        "--num-workers",
        "0",
        "--data-buffer-size",
        "0",
        "--seed",
        "3",
        "--bf16",
    ]
    assert bench.train_argv("d", [], 1)[-2:] == ["--seed", "1"]  # fp32: no --bf16, no betas


def test_synthetic_data_gives_a_trainer_of_the_requested_shape(tmp_path):
    import random

    from fairseq.trainer import Trainer

    lengths = bench.verse_lengths()
    assert len(lengths) > 100 and min(lengths) > 0
    rng = random.Random(1)
    symbols = bench.synthetic_dictionary(tmp_path / "dict.txt", "w", 300)
    assert len(symbols) == 295 and (tmp_path / "dict.txt").read_text().startswith(
        "w0 300\nw1 299\n"
    )
    lines = bench.random_lines(rng, symbols, lengths, 64)
    assert len(lines) == 64 and all(set(line.split()) <= set(symbols) for line in lines)
    labels = bench.random_labels(rng, 64, 6)
    assert set(labels) <= {f"g{i}" for i in range(6)}
    bench.binarize(
        tmp_path / "mlm",
        {"train": bench.write_lines(tmp_path / "train.txt", lines)},
        srcdict=tmp_path / "dict.txt",
    )

    args = [
        "--task",
        "masked_lm",
        "--criterion",
        "masked_lm",
        "--arch",
        "roberta",
        "--encoder-layers",
        3,
        "--encoder-embed-dim",
        32,
        "--encoder-ffn-embed-dim",
        64,
        "--encoder-attention-heads",
        2,
        "--tokens-per-sample",
        32,
    ]
    cfg, task, trainer = bench.trainer_from_argv(bench.train_argv(tmp_path / "mlm", args, 4))
    assert isinstance(trainer, Trainer) and not cfg.common.bf16
    encoder = trainer.model.encoder.sentence_encoder
    assert len(encoder.layers) == 3 and tuple(encoder.embed_tokens.weight.shape) == (300, 32)
    assert encoder.layers[0].fc1.out_features == 64 and len(task.dataset("train")) > 0
    batches, seconds = bench.full_batches(task, 4, 3, 32)
    assert len(batches) == 3 and all(b["nsentences"] == 4 for b in batches) and seconds > 0
    assert all(b["net_input"]["src_tokens"].shape[1] <= 32 for b in batches)

    def pad(t):  # prepare runs before the split loads and the model is built
        while len(t.source_dictionary) < 320:
            t.source_dictionary.add_symbol(f"<dummy{len(t.source_dictionary)}>")

    bf16 = bench.train_argv(tmp_path / "mlm", args, 4, precision="bf16")
    assert bench.training_config(
        bf16
    ).common.bf16  # (the plugin's Trainer then runs it as CPU autocast)
    _, _, padded = bench.trainer_from_argv(bf16, pad)
    assert padded.model.encoder.sentence_encoder.embed_tokens.weight.shape[0] == 320
    # the same command line, the same seed: the same initial weights
    _, _, again = bench.trainer_from_argv(bench.train_argv(tmp_path / "mlm", args, 4))
    assert all(
        (a == b).all()
        for a, b in zip(trainer.model.state_dict().values(), again.model.state_dict().values())
    )
