"""minimodel_recipes.forgetting_report: two budget.py reports of one budget compared, and its refusals."""

import copy
import json

import pytest

from minimodel_recipes import forgetting_report as fr

SERIES = [*fr.SERIES, *fr.CONTROL_SERIES]  # budget.py's labels (budget_series.py)


def report(accuracy, forget=None, english=(0.7, 0.71), loss=4.5):
    """A budget.py report of budget 8000, German, seeds 1 2: accuracy {series: [seed1, seed2]}."""
    settings = {
        "SRC": "en",
        "PRETRAIN_UPDATES": "8000",
        "ADAPT_UPDATES": "500",
        "PRECISION": "bf16",
    }
    if forget is not None:  # a report written since the setting exists records it
        settings.update(FORGET_EVERY=str(forget), DROPOUT_MASKS="torch")
    trained = [s for s in SERIES if "control" not in s]
    return {
        "budgets": [8000],
        "langs": ["de"],
        "seeds": [1, 2],
        "complete": True,
        "settings": {"8000": settings},
        "summary": [
            {
                "budget": 8000,
                "body": {
                    "seconds": 100.0,
                    "primary_loss": loss,
                    "mini_loss": loss + 0.1,
                    "done": True,
                },
                "english": list(english),
                "langs": [
                    {
                        "lang": "de",
                        "majority": 0.276,
                        "accuracy": accuracy,
                        "transfers": {
                            s: "yes" if min(accuracy[s]) > 0.35 else "no" for s in trained
                        },
                        "retrieval": {s: [0.01, 0.02] for s in SERIES},
                        "mlm_loss": {s: [8.0, 8.5] for s in SERIES},
                    }
                ],
            }
        ],
    }


BEFORE = {s: [0.40, 0.44] if "anchored" in s else [0.20, 0.24] for s in SERIES}
AFTER = {**BEFORE, "full (random init)": [0.38, 0.42], "random (control)": [0.18, 0.20]}


def test_compares_the_bodies_series_by_series():
    result = fr.compare(report(BEFORE), report(AFTER, forget=2250), 8000)
    assert result["forget_every"] == 2250
    text = fr.markdown(result)
    assert "| de | 27.6 | full (random init) | 22.0 ± 2.0 | 40.0 ± 2.0 | +18.0 | no / yes |" in text
    assert (
        "| de | 27.6 | full (anchored init) | 42.0 ± 2.0 | 42.0 ± 2.0 | +0.0 | yes / yes |" in text
    )
    assert "| de | 27.6 | random (control) | 22.0 ± 2.0 | 19.0 ± 1.0 | -3.0 |  |" in text
    assert "| forgetting every 2250 | 100 | 4.500 / 4.600 | 70.5 ± 0.5 |" in text
    assert "- full (random init) transfers: without forgetting nowhere; with forgetting de." in text
    assert (
        "- minijoint (random init) transfers: without forgetting nowhere; with forgetting nowhere."
        in text
    )
    phase = report(AFTER, forget=2250)
    phase["settings"]["8000"]["FORGET_LR"] = "phase"  # a forgetting setting: compared, not refused
    text = fr.markdown(fr.compare(report(BEFORE), phase, 8000))
    assert "| forgetting every 2250 (phase LR) | 100 |" in text


def test_refuses_bodies_that_differ_in_more_than_forgetting():
    other = report(AFTER, forget=2250)
    other["settings"]["8000"]["ADAPT_UPDATES"] = "1500"
    with pytest.raises(
        fr.InputError,
        match=r"differ in more than FORGET_EVERY \(ADAPT_UPDATES '500' there, '1500' now\)",
    ):
        fr.compare(report(BEFORE), other, 8000)
    masks = report(AFTER, forget=2250)
    masks["settings"]["8000"]["DROPOUT_MASKS"] = "fast"  # the old record ran torch's masks
    with pytest.raises(fr.InputError, match="DROPOUT_MASKS 'torch' there, 'fast' now"):
        fr.compare(report(BEFORE), masks, 8000)


def test_refuses_two_bodies_without_forgetting_and_a_missing_budget():
    with pytest.raises(fr.InputError, match="both reports were pretrained with FORGET_EVERY=0"):
        fr.compare(report(BEFORE), report(AFTER, forget=0), 8000)
    later = report(AFTER, forget=2250)
    later["settings"]["4000"] = later["settings"]["8000"]
    with pytest.raises(fr.InputError, match=r"--without has no budget 4000 \(it has 8000\)"):
        fr.compare(report(BEFORE), later, 4000)


def test_main_writes_the_report_and_refuses_a_file_that_is_not_one(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(report(BEFORE)))
    (tmp_path / "b.json").write_text(json.dumps(report(AFTER, forget=2250)))
    out = tmp_path / "res" / "forgetting"
    argv = [
        "--without",
        str(tmp_path / "a.json"),
        "--with",
        str(tmp_path / "b.json"),
        "--out",
        str(out),
    ]
    assert fr.main(argv) == 0
    assert (tmp_path / "res" / "forgetting.png").stat().st_size > 0
    written = json.loads((tmp_path / "res" / "forgetting.json").read_text())
    assert written["langs"][0]["accuracy"]["with"]["full (random init)"] == [0.38, 0.42]
    assert (tmp_path / "res" / "forgetting.md").read_text() == capsys.readouterr().out
    broken = copy.deepcopy(report(BEFORE))
    del broken["summary"]
    (tmp_path / "a.json").write_text(json.dumps(broken))
    with pytest.raises(SystemExit, match="a report lacks 'summary'"):
        fr.main(argv)
