"""minimodel_recipes/settings.py (the recipes' settings and method table), table.py and progress.py.

No training: the shell side of the settings against the Python side, the refusals, results.tsv
read by its header, and the progress line on a real fairseq log.
"""

import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_python

from minimodel_recipes import bench, progress, settings

CLEAN = {
    k: v for k, v in os.environ.items() if k not in settings.BY_NAME and k != "PROGRESS_PREFIX"
}
# the recipes' minimodel commands forked from the suite's fork server (conftest sets LAUNCH)
FORKED = {"LAUNCH": os.environ["LAUNCH"]} if os.environ.get("LAUNCH") else {}


def bash(script, **env):
    return subprocess.run(
        ["bash", "-c", f"source examples/bible/common.sh; {script}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**CLEAN, **env},
    )


def test_the_shell_sees_the_python_method_table(tmp_path):
    """common.sh's functions are generated from settings.METHODS: same bodies, classifiers, step-2 runs."""
    env = {
        "RUNS": str(tmp_path),
        "ADAPT_UPDATES": "40",
        "MINI_ADAPT_UPDATES": "80",
        "EMBED_INIT": "random",
    }
    s = settings.resolve({**CLEAN, **env})
    script = "; ".join(
        f'echo "$(body_of {m}) $(big_model_of {m}) $(step2_of {m})"' for m in settings.METHODS
    )
    proc = bash(
        script + '; echo "$PRIMARY|$MINI|$PLAIN|$MINIPOST|$ADAPT_UPDATES|$RESULTS_HEADER"', **env
    )
    assert proc.returncode == 0, proc.stderr
    *rows, last = proc.stdout.splitlines()
    for line, (name, m) in zip(rows, settings.METHODS.items()):
        r = settings.step2(name, s)
        assert (
            line == f"{r['body']} {m.big_model} {r['updates']} {r['lr']} {r['init']} {r['warmup']}"
        ), name
    assert rows[1].split()[2:] == ["80", "2e-3", "random", "4"]  # minijoint: MINI_ADAPT_UPDATES
    assert rows[0].split()[2:] == ["40", "2e-3", "random", "4"]  # full: ADAPT_UPDATES
    assert rows[-1].split()[2:] == ["1", "0", "shared", "4"]  # copy_only: the shared init's rows
    assert last == "|".join(
        [
            *(settings.checkpoint(k, s) for k in settings.CHECKPOINTS),
            "40",
            "\t".join(settings.RESULTS_COLUMNS),
        ]
    )
    proc = bash("body_of nope")
    assert proc.returncode == 2 and "unknown METHOD 'nope': use full, minijoint" in proc.stderr


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ADAPT_UPDATES": "5OO"}, "ADAPT_UPDATES must be a whole number of at least 1, got '5OO'"),
        (
            {"PRETRAIN_UPDATES": "0"},
            "PRETRAIN_UPDATES must be a whole number of at least 1, got '0'",
        ),
        ({"ADAPT_LR": "fast"}, "ADAPT_LR must be a number (e.g. 2e-3), got 'fast'"),
        (
            {"ADAPT_UPDATES": "\u00b2"},
            "ADAPT_UPDATES must be a whole number of at least 1, got '\u00b2'",
        ),
        ({"FT_UPDATES": "\u0663"}, "FT_UPDATES must be a whole number of at least 1, got '\u0663'"),
        ({"ADAPT_LR": "nan"}, "ADAPT_LR must be a finite number (e.g. 2e-3), got 'nan'"),
        ({"FT_LR": "-inf"}, "FT_LR must be a finite number"),
        (
            {"EMBED_INIT": "shared-translit"},
            "EMBED_INIT must be one of random, shared, shared_translit, got 'shared-translit'",
        ),
        (
            {"METHODS": "full minijiont"},
            "unknown METHODS 'minijiont': use full, minijoint, minipost",
        ),
        ({"PRECISION": "fp8"}, "PRECISION must be one of fp32"),
        ({"FORGET_EVERY": "-1"}, "FORGET_EVERY must be a whole number of at least 0, got '-1'"),
        ({"ADAPT_FRACTION": "0"}, "ADAPT_FRACTION must be above 0 and at most 1, got '0'"),
        ({"ADAPT_FRACTION": "10%"}, "ADAPT_FRACTION must be a number (e.g. 1), got '10%'"),
    ],
)
def test_a_bad_setting_stops_every_recipe_with_one_message(env, message, tmp_path):
    proc = subprocess.run(
        ["bash", "examples/bible/2_adapt_language.sh", "de", "full"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**CLEAN, "RUNS": str(tmp_path / "runs"), **env},
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().startswith(f"examples/bible settings: error: {message}"), proc.stderr
    assert proc.stderr.count("error") == 1 and not (tmp_path / "runs").exists()


def _dry(script, *args, **env):
    """The one command line a recipe prints with DRY_RUN=1 (given ARGS), as words."""
    proc = subprocess.run(
        ["bash", f"examples/bible/{script}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**CLEAN, "DRY_RUN": "1", "PRECISION": "fp32", **env},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_forget_every_goes_into_both_pretrainings_and_nowhere_else():
    for script, task in [
        ("1_pretrain_minijoint.sh", "minijoint_mlm"),
        ("1_pretrain_roberta.sh", "forgetting_mlm"),
    ]:
        plain, forget = _dry(script), _dry(script, FORGET_EVERY="300")
        i = forget.index("--forget-embeddings-every")
        assert forget[i + 1] == "300" and forget[forget.index("--task") + 1] == task, script
        assert "--forget-embeddings-every" not in plain
        assert forget[:i] + forget[i + 2 :] == [
            task if w == "masked_lm" and plain[j - 1] == "--task" else w
            for j, w in enumerate(plain)
        ], script  # otherwise the same command (the plain RoBERTa: fairseq's task plus the flag)
    assert "--forget-embeddings-every" not in _dry("1b_minipost.sh", FORGET_EVERY="300")
    for script in ("1_pretrain_minijoint.sh", "1_pretrain_roberta.sh"):
        plain, phase = (
            _dry(script, FORGET_EVERY="300"),
            _dry(script, FORGET_EVERY="300", FORGET_LR="phase"),
        )
        i = phase.index("--forget-lr-schedule")
        assert phase[i + 1] == "phase" and phase[:i] + phase[i + 2 :] == plain, script
        assert "--forget-lr-schedule" not in _dry(
            script, FORGET_LR="phase"
        )  # no forgetting: nothing


def test_adapt_fraction_goes_into_step_2_alone_and_1_is_the_plain_command():
    plain = _dry("2_adapt_language.sh", "de", "full")
    assert (
        "--train-fraction" not in plain
        and _dry("2_adapt_language.sh", "de", "full", ADAPT_FRACTION="1.0") == plain
    )
    low = _dry("2_adapt_language.sh", "de", "minijoint", ADAPT_FRACTION="0.10")
    i = low.index("--train-fraction")
    assert low[i + 1] == "0.1" and low[:i] + low[i + 2 :] == _dry(
        "2_adapt_language.sh", "de", "minijoint"
    )
    assert "--train-fraction" not in _dry("3_finetune.sh", "1", ADAPT_FRACTION="0.1")


def test_records_from_before_a_setting_are_read_with_what_the_recipes_did_then():
    """A cached result written before FORGET_EVERY existed ran without forgetting: it matches the
    default and is refused for another value. One written before DROPOUT_MASKS ran with torch's
    masks: refused for the default (fast), matched with DROPOUT_MASKS=torch."""
    now = settings.affecting_results(settings.resolve({**CLEAN, "PRECISION": "fp32"}))
    assert now["FORGET_EVERY"] == "0" and now["DROPOUT_MASKS"] == "fast"
    old = {k: v for k, v in now.items() if k not in settings.ADDED}
    with pytest.raises(SystemExit, match="DROPOUT_MASKS 'torch' there, 'fast' now"):
        bench.refuse_other_settings(old, now, str)
    then = {**now, "DROPOUT_MASKS": "torch"}
    assert bench.refuse_other_settings(old, then, str)
    with pytest.raises(SystemExit, match="FORGET_EVERY '0' there, '300' now"):
        bench.refuse_other_settings(old, {**then, "FORGET_EVERY": "300"}, str)


def test_dropout_masks_reach_every_training_run_as_the_plugins_variable():
    out = subprocess.run(
        [
            "bash",
            "-c",
            'source examples/bible/common.sh >/dev/null && echo "$MINIMODEL_DROPOUT_MASKS"',
        ],
        cwd=ROOT,
        env={**os.environ, **CLEAN, "DROPOUT_MASKS": "torch"},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and out.stdout.split() == ["torch"], out.stderr[-2000:]


RESULTS = [  # columns in another order than the recipes write them: read by name
    "seed\tmethod\tlang\tn\tmajority\taccuracy\tstep2_seconds",
    "1\tin-language (minijoint)\ten\t100\t0.25\t0.60\tNA",
    "1\tfull\tde\t80\t0.30\t0.40\t100",
    "2\tfull\tde\t80\t0.30\t0.44\t110",
    "1\tminijoint\tde\t80\t0.30\t0.42\t25",
]


def table(path, *args):
    return run_python([sys.executable, "-m", "minimodel_recipes.table", path, *args], cwd=ROOT)


def test_table_reads_results_by_column_name(tmp_path):
    path = tmp_path / "results.tsv"
    path.write_text("\n".join(RESULTS) + "\n")
    with pytest.raises(
        settings.SettingError
    ):  # not the recipes' header order: refused by read_results...
        settings.read_results(path)
    header = "\t".join(
        settings.RESULTS_COLUMNS
    )  # ...and the same rows under the recipes' header are read
    cols = RESULTS[0].split("\t")
    rows = [
        "\t".join(dict(zip(cols, r.split("\t")))[c] for c in settings.RESULTS_COLUMNS)
        for r in RESULTS[1:]
    ]
    path.write_text("\n".join([header, *rows]) + "\n")
    proc = table(path, "--plot", str(tmp_path / "results.png"))
    assert proc.returncode == 0, proc.stderr
    assert "| language | n | majority | in-language (minijoint) | full | minijoint |" in proc.stdout
    assert "| en | 100 | 25.0 | 60.0 |  |  |" in proc.stdout
    assert "| de | 80 | 30.0 |  | 42.0 ± 2.0 | 42.0 |" in proc.stdout
    assert "| de | 105 | 25 | 4.20x |" in proc.stdout  # step-2 seconds: full / minijoint
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp"))


def test_table_refuses_results_without_header(tmp_path):
    """A results.tsv from before the header (columns by position) gets one message that says what to do."""
    path = tmp_path / "results.tsv"
    path.write_text("de\tfull\t1\t0.4\t80\t0.3\t100\n")
    proc = table(path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        "does not start with the header line lang method seed accuracy n majority step2_seconds"
        in proc.stderr
    )
    assert "rerun examples/bible/run_all.sh" in proc.stderr and proc.stderr.count("error") == 1


def test_results_rows_are_not_appended_to_a_file_without_header(tmp_path):
    old = tmp_path / "results.tsv"
    old.write_text("de\tfull\t1\t0.4\t80\t0.3\t100\n")
    proc = bash("results_row de minijoint 1 0.42 80 0.3 25", RUNS=str(tmp_path))
    assert (
        proc.returncode == 2
        and "has no header line" in proc.stderr
        and "delete it or rerun run_all.sh" in proc.stderr
    )
    assert old.read_text() == "de\tfull\t1\t0.4\t80\t0.3\t100\n"
    new = tmp_path / "new"
    proc = bash(
        "results_row de minijoint 1 0.42 80 0.3 25; results_row de full 1 0.4 80 0.3 100",
        RUNS=str(new),
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["method"] for r in settings.read_results(new / "results.tsv")] == [
        "minijoint",
        "full",
    ]


LOG = """\
2026-11-27 14:28:04 | INFO | fairseq_cli.train | {'_name': None, 'common': {'loss': 1}}
2026-11-27 14:32:09 | INFO | train_inner | epoch 001:     25 / 1254 loss=23.112, primary_loss=11.499, mini_loss=11.614, wps=213.5, ups=0.1, bsz=16, num_updates=25, lr=0.000125, train_wall=239, wall=244
2026-11-27 14:33:09 | INFO | train_inner | epoch 001:     50 / 1254 loss=20.5, primary_loss=10.2, mini_loss=10.3, wps=213.5, ups=0.4, bsz=16, num_updates=50, lr=0.00025, train_wall=299, wall=304
2026-11-27 14:40:09 | INFO | train | epoch 001 | loss 19.9 | primary_loss 9.9 | num_updates 100 | lr 0.0005 | wall 724
2026-11-27 14:40:10 | INFO | fairseq_cli.train | done training in 724.0 seconds
"""


def test_progress_line_from_fairseq_log():
    lines = LOG.splitlines(True)
    f = progress.Follower("step 1/4 pretraining MiniJoint", 2000, start=0.0)
    assert not f.feed("".join(lines[:2]), now=40.0)
    assert (
        f.line()
        == "step 1/4 pretraining MiniJoint: update 25/2000 (1 %), loss 23.11, 0m40s, about 53m left"
    )
    assert not f.feed(
        lines[2], now=100.0
    )  # 25 updates in 60 s since the first: 1950 left at that rate
    assert (
        f.line()
        == "step 1/4 pretraining MiniJoint: update 50/2000 (2 %), loss 20.50, 1m40s, about 1h18m left"
    )
    assert f.feed("".join(lines[3:]), now=300.0)  # done training: the follower stops
    assert (
        f.line()
        == "step 1/4 pretraining MiniJoint: update 100/2000 (5 %), loss 19.90, 5m00s, about 1h49m left"
    )


def test_progress_line_from_the_heartbeat_and_without_new_lines():
    """At real size fairseq's train lines are minutes apart: the plugin's heartbeat and the time go on."""
    lines = LOG.splitlines(True)
    f = progress.Follower("step 3/4", 100, start=0.0)
    assert f.line(at=30.0) == "step 3/4: starting, 0m30s"
    f.feed(lines[1], now=40.0)
    beat = "2026-11-27 14:33:09 | INFO | minimodel_fairseq.tasks.heartbeat | progress: num_updates=30\n"
    f.feed(
        beat, now=100.0
    )  # 5 updates in 60 s since the first logged one; the loss stays the last train line's
    assert f.line() == "step 3/4: update 30/100 (30 %), loss 23.11, 1m40s, about 14m left"
    assert (
        f.line(at=160.0)
        == "step 3/4: update 30/100 (30 %), loss 23.11, 2m40s, about 13m left, last logged 1m00s ago"
    )


def test_progress_line_says_validating_until_the_valid_line():
    """The final validation of a base-size model takes minutes: the line says so, at the last update."""
    lines = LOG.splitlines(True)
    f = progress.Follower("step 3/4", 4, start=0.0)
    f.feed(lines[1].replace("num_updates=25", "num_updates=3"), now=40.0)
    f.feed(
        "2026-11-27 14:33:09 | INFO | fairseq_cli.train | Stopping training due to num_updates: 4 >= max_update: 4\n"
        '2026-11-27 14:33:09 | INFO | fairseq_cli.train | begin validation on "valid" subset\n',
        now=50.0,
    )
    assert (
        f.line(at=170.0)
        == "step 3/4: update 4/4 (100 %), loss 23.11, 2m50s, validating, last logged 2m00s ago"
    )
    f.feed(
        "2026-11-27 14:43:09 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 3.0 | num_updates 4\n",
        now=600.0,
    )
    assert (
        f.line(at=600.0)
        == "step 3/4: update 4/4 (100 %), loss 23.11, 10m00s, last logged 9m10s ago"
    )


def test_progress_follows_a_growing_log(tmp_path):
    """The follower prints while the log grows and ends when the log says training is done."""
    log = tmp_path / "train.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "minimodel_recipes.progress",
            str(log),
            "--label",
            "x",
            "--total",
            "100",
            "--every",
            "0",
            "--poll",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = LOG.splitlines(True)
    for chunk in (lines[:2], [lines[2][:40]], [lines[2][40:]], lines[3:]):
        with open(log, "a") as f:
            f.write("".join(chunk))
        time.sleep(0.3)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert [line.split(",")[0] for line in out.splitlines()] == [
        "x: update 25/100 (25 %)",
        "x: update 50/100 (50 %)",
        "x: update 100/100 (100 %)",
    ]


def test_step4_skips_scoring_again_what_it_scored_from_the_same_files(tmp_path):
    """A rerun does not score again (minutes at base size) when the predictions are newer than the
    classifier, the step-2 checkpoint, the swapped classifier and the test data and results.tsv has the row;
    a newer step-2 checkpoint scores again."""
    runs, data = tmp_path / "runs", tmp_path / "data"
    files = [
        runs / "finetune" / "minijoint" / "seed1" / "checkpoint_best.pt",
        runs / "adapt" / "de" / "full" / "seed1" / "checkpoint_last.pt",
        data / "de" / "cls" / "input0" / "test.bin",
        runs / "transfer" / "de" / "full" / "seed1.pt",
        runs / "transfer" / "de" / "full" / "seed1.predictions.tsv",
    ]
    for i, f in enumerate(files):  # not checkpoints: the recipe must not read them when it skips
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x")
        os.utime(f, (1000 + i, 1000 + i))
    (runs / "results.tsv").write_text(
        "\t".join(settings.RESULTS_COLUMNS) + "\nde\tfull\t1\t0.5\t10\t0.3\tNA\n"
    )
    env = {**CLEAN, **FORKED, "RUNS": str(runs), "DATA": str(data), "PRECISION": "fp32"}

    def run():
        return subprocess.run(
            ["bash", "examples/bible/4_transfer.sh", "de", "full", "1"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
        )

    proc = run()
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1].endswith(
        f"step 4/4 de full seed 1: scored already ({files[-1]}), skipped"
    ), proc.stdout + proc.stderr
    os.utime(
        files[1], (2000, 2000)
    )  # a newer step 2: swapped and scored again (here: refused, not a checkpoint)
    proc = run()
    assert proc.returncode != 0 and "scored already" not in proc.stdout


def test_in_language_score_is_kept_and_reused_until_its_inputs_change(tmp_path):
    """examples/hf/common.sh's in_language_row (run.sh's and the own-files recipe's closing line): the
    source-language score is read from the kept row while it is newer than the classifier and the split;
    a newer classifier is scored again (here: refused, not a checkpoint)."""
    runs, data = tmp_path / "runs", tmp_path / "data"
    classifier = runs / "m" / "finetune" / "roberta" / "seed1" / "checkpoint_best.pt"
    split = data / "m" / "en" / "cls" / "input0" / "test.bin"
    kept = classifier.parent / "checkpoint_best.en.test.row"
    for i, f in enumerate([classifier, split, kept]):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("test\t0.625\t8\t0.5\n" if f == kept else "x")
        os.utime(f, (1000 + i, 1000 + i))
    env = {**CLEAN, **FORKED, "HF_RUNS": str(runs), "HF_DATA": str(data), "PRECISION": "fp32"}
    script = f'source examples/hf/common.sh m && in_language_row "{classifier}" test'

    def run():
        return subprocess.run(
            ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, env=env
        )

    proc = run()
    assert proc.returncode == 0 and proc.stdout == "test\t0.625\t8\t0.5\n", (
        proc.stdout + proc.stderr
    )
    os.utime(classifier, (3000, 3000))
    proc = run()
    assert proc.returncode != 0 and "0.625" not in proc.stdout
    assert (
        kept.read_text() == "test\t0.625\t8\t0.5\n"
        and not kept.with_name(kept.name + ".tmp").exists()
    )
