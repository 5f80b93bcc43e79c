"""Label-free measures (minimodel_fairseq/label_free.py): verse retrieval, masked-LM loss, checkpoint choice.

The known answer: with "target language" = English itself (same dictionary), the big
model's own embeddings retrieve every verse and a permutation of their rows (specials
kept) scores near chance, in retrieval and in masked-LM loss.
"""

import copy
import json

import pytest
import torch
from conftest import ROOT, TINY_TRAIN, run_cli

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import files, surgery
from minimodel_fairseq import label_free as lf

pytestmark = pytest.mark.slow
USER_DIR = str(ROOT / "minimodel_fairseq")


def with_embeddings(state, weight, bias, updates):
    out = copy.copy(state)
    out["model"] = {
        **state["model"],
        surgery.TOKENS: weight,
        surgery.LM_HEAD + "weight": weight,
        surgery.LM_HEAD + "bias": bias,
    }
    out["optimizer_history"] = [{**state["optimizer_history"][-1], "num_updates": updates}]
    return out


@pytest.fixture(scope="module")
def english(tiny_minijoint, bible_data, tmp_path_factory):
    """'Step-2 checkpoints' for target = English: the big model's own embeddings, and their rows permuted."""
    d = tmp_path_factory.mktemp("english")
    own = surgery.to_roberta(surgery.load_roberta_checkpoint(tiny_minijoint))
    weight, bias = own["model"][surgery.TOKENS], own["model"][surgery.LM_HEAD + "bias"]
    nspecial, rows = 4, weight.size(0)  # <s> <pad> </s> <unk> ... <mask>: specials and <mask> stay
    perm = torch.arange(rows)
    perm[nspecial : rows - 1] = nspecial + torch.randperm(
        rows - 1 - nspecial, generator=torch.Generator().manual_seed(0)
    )
    states = {
        "own": with_embeddings(own, weight, bias, 10),
        "permuted": with_embeddings(own, weight[perm].clone(), bias[perm].clone(), 5),
    }
    paths = {k: files.save_checkpoint(v, d / f"{k}.pt") for k, v in states.items()}
    return {"states": states, "paths": paths, "big": tiny_minijoint, "en": bible_data / "en"}


def test_retrieval_own_embeddings_near_top_permuted_near_chance(english):
    r = lf.Retrieval(english["big"], english["en"], english["en"], subset="test")
    assert r.n == 83 and r.depth == 4
    own = r.score(english["states"]["own"])
    permuted = r.score(english["paths"]["permuted"])
    assert len(own["target_to_source"]) == 5  # embedding layer + 4 layers
    for layer in range(5):
        assert own["target_to_source"][layer] >= 0.95 and own["source_to_target"][layer] >= 0.95, (
            own
        )
    for layer in range(5):  # chance is 1/83 = 0.012
        assert (
            permuted["target_to_source"][layer] <= 0.1
            and permuted["source_to_target"][layer] <= 0.1
        ), permuted
    assert own["chance"] == pytest.approx(1 / 83)


def test_align_by_reference_across_translations():
    src = [(1, 1, 1), (1, 1, 2), (1, 1, 3), (2, 1, 1)]
    tgt = [(1, 1, 2), (2, 1, 1), (1, 1, 1), (5, 5, 5)]  # another order, one verse the source lacks
    assert lf.align(src, tgt) == ([1, 3, 0], [0, 1, 2])


def test_top1_counts_both_directions():
    source = torch.eye(3)
    target = torch.tensor([[1.0, 0, 0], [1.0, 0.1, 0], [0, 0, 1.0]])  # verse 1 looks like verse 0
    to_source, to_target = lf.top1(target, source)
    assert to_source == pytest.approx(2 / 3)  # target 1 -> source 0
    assert (
        to_target == 1.0
    )  # each source verse's nearest target is its own (target 1 is only 2nd for source 0)
    assert lf.top1(source, source) == (1.0, 1.0)


def test_mlm_loss_own_embeddings_far_below_permuted(english):
    own = lf.mlm_loss(english["states"]["own"], english["en"] / "mlm")
    permuted = lf.mlm_loss(english["states"]["permuted"], english["en"] / "mlm")
    assert own["masked_tokens"] == permuted["masked_tokens"] > 100  # the same masked tokens
    assert own["loss"] < permuted["loss"] - 1.0, (own, permuted)
    again = lf.mlm_loss(english["states"]["own"], english["en"])  # language dir: its mlm/
    assert again["loss"] == own["loss"]  # deterministic masking
    other_seed = lf.mlm_loss(english["states"]["own"], english["en"] / "mlm", seed=2)
    assert other_seed["loss"] != own["loss"]


@pytest.fixture(scope="module")
def mini_run(tiny_minijoint, bible_data, tmp_path_factory):
    """Step 2 on German over the tiny MiniJoint mini-model, with interval checkpoints."""
    d = tmp_path_factory.mktemp("mini_run")
    run_cli(["minimodel", "extract-mini", str(tiny_minijoint), "--out", str(d / "mini.pt")])
    run_cli(
        [
            "fairseq-train",
            str(bible_data / "de" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "new_language_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "roberta",
            "--body-checkpoint",
            str(d / "mini.pt"),
            "--embedding-init",
            "shared",
            "--tokens-per-sample",
            "64",
            *TINY_TRAIN,
            "--max-update",
            "15",
            "--save-interval-updates",
            "5",
            "--keep-interval-updates",
            "-1",
            "--disable-validation",
            "--save-dir",
            str(d / "run"),
        ]
    )
    return d / "run"


def test_mini_embeddings_go_into_the_big_model(mini_run, tiny_minijoint, bible_data):
    step2 = surgery.load_roberta_checkpoint(mini_run / "checkpoint_last.pt")
    assert step2["cfg"]["model"].encoder_layers == 2
    big = lf.big_with_embeddings(tiny_minijoint, step2)
    assert big["cfg"]["model"].encoder_layers == 4 and big["cfg"]["model"].arch == "roberta"
    assert torch.equal(big["model"][surgery.TOKENS], step2["model"][surgery.TOKENS])
    body = surgery.to_roberta(surgery.load_roberta_checkpoint(tiny_minijoint))["model"]
    assert torch.equal(
        big["model"]["encoder.sentence_encoder.layers.3.fc1.weight"],
        body["encoder.sentence_encoder.layers.3.fc1.weight"],
    )
    own, in_big = lf.mlm_loss(step2, bible_data / "de"), lf.mlm_loss(big, bible_data / "de")
    assert own["settings"] == in_big["settings"] and own["masked_tokens"] == in_big["masked_tokens"]
    assert own["loss"] != in_big["loss"]


def test_full_body_loss_equals_big_model_with_its_embeddings(english, tiny_minijoint):
    # a step-2 model over the full body IS the big model with those embeddings: same loss
    own = lf.mlm_loss(english["states"]["own"], english["en"] / "mlm")
    big = lf.mlm_loss(
        lf.big_with_embeddings(tiny_minijoint, english["states"]["own"]), english["en"] / "mlm"
    )
    assert big["loss"] == pytest.approx(own["loss"], abs=1e-6)


@pytest.mark.parametrize("kind, init", [("random", "random"), ("copy_only", "shared_translit")])
def test_controls_are_what_step2_starts_from(kind, init, tiny_minijoint, bible_data, tmp_path):
    # the recipes' controls: a step-2 run of 1 update at lr 0 (2_adapt_language.sh random / copy_only)
    run_cli(
        [
            "fairseq-train",
            str(bible_data / "de" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "new_language_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "roberta",
            "--body-checkpoint",
            str(tiny_minijoint),
            "--embedding-init",
            init,
            "--tokens-per-sample",
            "64",
            *TINY_TRAIN,
            "--lr",
            "0",
            "--max-update",
            "1",
            "--disable-validation",
            "--save-dir",
            str(tmp_path),
        ]
    )
    step2 = surgery.load_roberta_checkpoint(tmp_path / "checkpoint_last.pt")
    control = lf.control_embeddings(
        tiny_minijoint,
        bible_data / "de" / "mlm" / "dict.txt",
        kind,
        bible_data / "en" / "mlm" / "dict.txt",
        lang="de",
    )
    assert torch.equal(control["model"][surgery.TOKENS], step2["model"][surgery.TOKENS])
    assert (control["minimodel"]["copied_rows"] > 4) == (kind == "copy_only")


def test_step2_checkpoints_skip_a_repeated_last(mini_run):
    points = lf.step2_checkpoints(mini_run)
    assert [u for u, _ in points] == [5, 10, 15]
    assert all(p.name != "checkpoint_last.pt" for _, p in points)


def test_choice_on_a_real_run_is_the_lowest_valid_loss(mini_run, bible_data):
    choice = lf.choose_checkpoint(mini_run, bible_data / "de")
    values = {
        p: lf.mlm_loss(surgery.load_roberta_checkpoint(p), bible_data / "de" / "mlm")["loss"]
        for _, p in lf.step2_checkpoints(mini_run)
    }
    assert [pt["value"] for pt in choice["points"]] == list(values.values())
    assert choice["best"] == str(min(values, key=values.get))


def test_best_index_breaks_ties_as_fairseq():
    # fairseq's checkpoint_best: is_better(a, b) is a <= b (a >= b when maximising), so a tie goes to the later one
    assert lf.best_index([3.0, 1.0, 1.0, 2.0], "mlm") == 2
    assert lf.best_index([0.1, 0.5, 0.5, 0.2], "retrieval") == 2
    assert (
        lf.best_index([2.0, 1.0, 3.0], "mlm") == 1
        and lf.best_index([2.0, 1.0, 3.0], "retrieval") == 2
    )


@pytest.mark.parametrize("measure", ["mlm", "retrieval"])
def test_choice_keeps_the_peak(english, tmp_path, measure):
    # a run that peaks at update 10 and then breaks down (rows scrambled), as checkpoint files
    run = tmp_path / "run"
    own, permuted = english["states"]["own"], english["states"]["permuted"]
    files.save_checkpoint(
        with_embeddings(
            permuted,
            permuted["model"][surgery.TOKENS],
            permuted["model"][surgery.LM_HEAD + "bias"],
            5,
        ),
        run / "checkpoint_1_5.pt",
    )
    files.save_checkpoint(own, run / "checkpoint_1_10.pt")
    late = with_embeddings(
        permuted, permuted["model"][surgery.TOKENS], permuted["model"][surgery.LM_HEAD + "bias"], 15
    )
    files.save_checkpoint(late, run / "checkpoint_2_15.pt")
    files.save_checkpoint(late, run / "checkpoint_last.pt")
    choice = lf.choose_checkpoint(
        run, english["en"], measure, big=english["big"], source_dir=english["en"]
    )
    assert choice["best"] == str(run / "checkpoint_1_10.pt") and choice["updates"] == 10
    assert [p["updates"] for p in choice["points"]] == [5, 10, 15]
    if measure == "retrieval":
        assert choice["layer"] == 2 and choice["value"] >= 0.95


def test_retrieve_command(english, mini_run, bible_data, tmp_path):
    out = tmp_path / "r.json"
    args = [
        "minimodel",
        "retrieve",
        "--big",
        str(english["big"]),
        "--data",
        str(bible_data / "de"),
        "--embeddings",
        str(mini_run / "checkpoint_last.pt"),
        "--controls",
        "--json",
        str(out),
    ]
    proc = run_cli(args)
    result = json.loads(out.read_text())
    assert result["n"] == 83 and result["layer"] == 2 and result["top_layer"] == 4
    assert [r["name"] for r in result["results"]] == [
        str(mini_run / "checkpoint_last.pt"),
        "random",
        "copy_only",
    ]
    for r in result["results"]:
        assert len(r["target_to_source"]) == len(r["source_to_target"]) == 5
        assert r["at_layer"] == pytest.approx(
            (r["target_to_source"][2] + r["source_to_target"][2]) / 2
        )
    assert "verse retrieval de <-> en, test split: 83 aligned verses" in proc.stdout
    assert "copy_only (control)" in proc.stdout and "L2*" in proc.stdout
    before = out.read_bytes()
    proc = run_cli(args, check=False)
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"minimodel retrieve: error: {out} exists: choose another --json or pass --force to overwrite it"
    )
    assert out.read_bytes() == before


def test_mlm_loss_command(english, mini_run, bible_data, tmp_path):
    out = tmp_path / "m.json"
    proc = run_cli(
        [
            "minimodel",
            "mlm-loss",
            "--data",
            str(bible_data / "de" / "mlm"),
            "--big",
            str(english["big"]),
            "--embeddings",
            str(mini_run / "checkpoint_last.pt"),
            "--controls",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    step2, random, copy_only = result["results"]
    assert step2["own"] < random["big"] and step2["big"] > 0
    assert (random["name"], random["own"]) == ("random", None) and copy_only["name"] == "copy_only"
    assert "bits per masked token" in proc.stdout and "random (control)" in proc.stdout


def test_best_checkpoint_command(mini_run, bible_data):
    proc = run_cli(
        ["minimodel", "best-checkpoint", str(mini_run), "--data", str(bible_data / "de")]
    )
    lines = proc.stdout.strip().splitlines()
    best = lf.choose_checkpoint(mini_run, bible_data / "de")["best"]
    assert lines[-1] == best and sum("<- best" in line for line in lines) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(*case, id=name)
        for name, case in zip(
            [
                "nothing_to_score",
                "layer_out_of_range",
                "not_a_language_dir",
                "source_of_another_language",
                "controls_without_big",
                "no_checkpoints",
                "retrieval_measure_without_big",
            ],
            [
                (
                    ["retrieve", "--big", "{big}", "--data", "{data}"],
                    "nothing to score: give --embeddings STEP2.pt (repeatable) and/or --controls",
                ),
                (
                    [
                        "retrieve",
                        "--big",
                        "{big}",
                        "--data",
                        "{data}",
                        "--controls",
                        "--layer",
                        "7",
                    ],
                    "--layer must be between 0 and the big model's depth 4, got 7",
                ),
                (
                    ["retrieve", "--big", "{big}", "--data", "{data}/mlm", "--controls"],
                    "{data}/mlm lacks raw/cls.test.ref, cls/input0/dict.txt, cls/input0/test.idx: give a language directory written by data "
                    "preparation (DATA/<lang>, with raw/ and cls/)",
                ),
                (
                    [
                        "retrieve",
                        "--big",
                        "{big}",
                        "--data",
                        "{data}",
                        "--source-data",
                        "{data}",
                        "--controls",
                    ],
                    "{data}/cls/input0/dict.txt is not the dictionary the big model was trained with ({en}/mlm/dict.txt): "
                    "--source-data must be the directory of the language the big model was pretrained on",
                ),
                (
                    ["mlm-loss", "--data", "{data}", "--controls"],
                    "--controls needs --big BIG.pt: the controls are untrained embeddings in the big model",
                ),
                (
                    ["best-checkpoint", "{data}", "--data", "{data}"],
                    "{data} holds no step-2 checkpoints (checkpoint_*_*.pt, checkpoint_last.pt): give a step-2 run's --save-dir",
                ),
                (
                    ["best-checkpoint", "{run}", "--data", "{data}", "--measure", "retrieval"],
                    "--measure retrieval needs --big BIG.pt: retrieval is measured in the big model",
                ),
            ],
        )
    ],
)
def test_bad_input_is_one_clear_error(argv, message, english, mini_run, bible_data):
    fill = {
        "big": english["big"],
        "data": bible_data / "de",
        "run": mini_run,
        "en": bible_data / "en",
    }
    proc = run_cli(["minimodel", *[a.format(**fill) for a in argv]], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"minimodel {argv[0]}: error: {message.format(**fill)}"
