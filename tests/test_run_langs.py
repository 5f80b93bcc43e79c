"""Many languages in one command (examples/bible/run_langs.sh) in miniature, and the data
preparation that lets any prepared language through every recipe.

A language without default translations is prepared once with --translations (as a new user
would: prepare.sh --translations xx=CODE); every later preparation call, as the recipes make
it, takes it as it was built instead of stopping at "unknown language".
"""

import os
import signal
import subprocess
import time

import pytest
from conftest import FIXTURE_TSV, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(bible_data, tmp_path_factory):
    """en and de of the fixture, and 'xx': the fixture's Russian text prepared under a code
    without default translations (--translations xx=r), from the fixture database."""
    from minimodel_fairseq.data import bible

    root = tmp_path_factory.mktemp("langs")
    db = bible.build_fixture_db(FIXTURE_TSV, root / "fixture.db")
    out = root / "data"
    out.mkdir()
    for lang in ("en", "de"):
        (out / lang).symlink_to(bible_data / lang)
    assert (
        bible.main(
            [
                "--langs",
                "xx",
                "--out",
                str(out),
                "--db",
                str(db),
                "--translations",
                "xx=r",
                "--vocab-size",
                "500",
            ]
        )
        == 0
    )
    return out, db


def test_a_prepared_language_goes_through_preparation_again(data, tmp_path, capsys):
    from minimodel_fairseq.data import bible

    out, db = data
    capsys.readouterr()
    # what 2_adapt_language.sh runs: no --translations, no --db (no database is read at all)
    assert bible.main(["--langs", "xx", "--out", str(out), "--vocab-size", "500"]) == 0
    err = capsys.readouterr().err
    assert "xx: skipped" in err and "unknown language" not in err and "warning" not in err
    # other settings than the prepared ones: still a warning, still no rebuild
    assert (
        bible.main(
            [
                "--langs",
                "xx",
                "--out",
                str(out),
                "--translations",
                "xx=e",
                "--db",
                str(db),
                "--vocab-size",
                "500",
            ]
        )
        == 0
    )
    assert "translations=['r'] (asked ['e'])" in capsys.readouterr().err
    # an unprepared language without defaults still stops with the one clear message
    assert bible.main(["--langs", "yy", "--out", str(out), "--db", str(db)]) == 2
    assert "unknown language 'yy'" in capsys.readouterr().err and not (out / "yy").exists()
    # a --raw-text corpus, prepared once, is accepted by name as well
    text = tmp_path / "corpus.txt"
    text.write_text(
        "\n".join(f"line {i} of a plain corpus" for i in range(300)) + "\n", encoding="utf-8"
    )
    assert (
        bible.main(
            ["--langs", "zz", "--out", str(out), "--raw-text", str(text), "--vocab-size", "40"]
        )
        == 0
    )
    assert bible.main(["--langs", "en,zz", "--out", str(out), "--vocab-size", "40"]) == 0
    assert "zz: skipped" in capsys.readouterr().err


@pytest.mark.recipe
def test_run_langs_miniature_resumes_after_a_kill(data, tmp_path):
    out, db = data
    runs = tmp_path / "runs"
    env = {
        **os.environ,
        "DATA": str(out),
        "RUNS": str(runs),
        "PYTHONWARNINGS": "ignore",
        "MODEL_FLAGS": "--encoder-layers 3 --encoder-embed-dim 32 --encoder-ffn-embed-dim 64 "
        "--encoder-attention-heads 2 --mini-layer 1",
        "TOKENS": "64",
        "PRETRAIN_UPDATES": "12",
        "ADAPT_UPDATES": "6",
        "FT_UPDATES": "4",
        "THREADS": "1",
        "LANGS": "de xx",
        "SEEDS": "1",
        "TRANSLATIONS": "xx=r",
        "VOCAB": "500",
        "PROGRESS_EVERY": "600",
    }
    cmd = ["bash", "examples/bible/run_langs.sh", "--db", str(db)]
    rows = runs / "langs" / "rows"
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 900
    while (
        time.time() < deadline and proc.poll() is None and not (rows / "de.full.seed1.tsv").exists()
    ):
        time.sleep(0.2)
    assert proc.poll() is None, proc.stdout.read()[-3000:]
    time.sleep(3)  # into the next job (de minijoint's step 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = (rows / "de.full.seed1.tsv").read_text()
    assert not (runs / "langs" / "results.md").exists()

    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "de full seed 1: done, skipped" in rerun.stdout
    assert (rows / "de.full.seed1.tsv").read_text() == first  # not scored again
    assert not list(rows.glob("*.tmp"))
    results = (runs / "langs" / "results.tsv").read_text().splitlines()
    assert len(results) == 1 + 1 + 2 * 4  # header, English in-language, 2 languages x 4 methods
    table = (runs / "langs" / "results.md").read_text()
    assert table in rerun.stdout
    header, _, de, xx = table.splitlines()[:4]
    assert header.startswith(
        "| language | n | majority | anchored rows | full | minijoint | random | copy_only |"
    )
    assert "transfers: full / minijoint" in header
    for row, lang in ((de, "de"), (xx, "xx")):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == lang and int(cells[3]) > 5  # more anchored rows than the special symbols
        assert all(0 <= float(c) <= 100 for c in cells[4:8])
        assert all(v in ("yes", "no") for v in cells[8].split(" / "))
    assert "In-language (minijoint): en" in table
    full = next(line for line in table.splitlines() if line.startswith("| full | 2 |"))
    mini = next(line for line in table.splitlines() if line.startswith("| minijoint | 2 |"))
    assert float(full.split("|")[3]) > float(mini.split("|")[3]) > 0 and "x fewer" in mini
    # the paired comparison, from the predictions 4_transfer.sh wrote: its difference is the accuracies'
    paired = {
        line.split("|")[1].strip(): line
        for line in table.splitlines()
        if line.startswith(("| de |", "| xx |", "| all |")) and "[" in line
    }
    assert set(paired) == {"de", "xx", "all"}
    for lang, row in ((de, "de"), (xx, "xx")):
        cells = [c.strip() for c in lang.strip("|").split("|")]
        assert float(paired[row].split("|")[2]) == pytest.approx(
            float(cells[4]) - float(cells[5]), abs=0.11
        )  # each rounded to 0.1

    # a finished run: everything is skipped, the same table again
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "step 2/4" not in again.stdout.replace("is done, skipped", "")
    assert (runs / "langs" / "results.md").read_text() == table


def test_run_langs_refuses_translations_of_a_language_it_does_not_run(tmp_path):
    env = {**os.environ, "RUNS": str(tmp_path / "runs"), "LANGS": "de", "TRANSLATIONS": "zh=c"}
    proc = subprocess.run(
        ["bash", "examples/bible/run_langs.sh"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert (
        proc.returncode == 2 and "TRANSLATIONS names zh, which is not in LANGS (de)" in proc.stderr
    )
    assert not (tmp_path / "runs").exists()
