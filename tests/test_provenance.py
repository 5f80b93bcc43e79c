"""Provenance: every checkpoint records the big model it belongs to, and embeddings learned over
another big model are refused where they would meet its classifier (swap-embeddings, evaluate).

The case of issue 11: two tiny MiniJoint models pretrained with different seeds, step 2 over the
mini-model of the first, swapped into a step-3 classifier of the second.
"""

import copy
import random
import shutil

import pytest
import torch
from conftest import ROOT, TINY_MODEL, TINY_TRAIN, run_cli
from test_adaptation import step2, step3

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import files, surgery
from minimodel_fairseq.compat import load_checkpoint
from minimodel_fairseq.flops import FLOPS_KEY

pytestmark = pytest.mark.slow
USER_DIR = str(ROOT / "minimodel_fairseq")


@pytest.fixture(scope="module")
def chain(bible_data, tiny_minijoint, tmp_path_factory):
    d = tmp_path_factory.mktemp("provenance")
    second = d / "second"  # as tiny_minijoint, another seed
    run_cli(
        [
            "fairseq-train",
            str(bible_data / "en" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "minijoint_mlm",
            "--criterion",
            "minijoint_mlm",
            "--arch",
            "minijoint_roberta_small",
            *TINY_MODEL,
            "--mini-layer",
            "2",
            *TINY_TRAIN,
            "--seed",
            "2",
            "--max-update",
            "30",
            "--save-dir",
            str(second),
        ]
    )
    mini = d / "mini_first.pt"
    run_cli(["minimodel", "extract-mini", str(tiny_minijoint), "--out", str(mini)])
    first_big, second_big = tiny_minijoint, second / "checkpoint_last.pt"
    return {
        "dir": d,
        "mini": mini,
        "step2": step2(bible_data, mini, d / "s2", updates=3),  # over the first model's mini-model
        "cls_first": step3(bible_data, first_big, d / "s3_first", updates=3),
        "cls_second": step3(bible_data, second_big, d / "s3_second", updates=3),
        "fp_first": surgery.fingerprint(load_checkpoint(str(first_big))),
        "fp_second": surgery.fingerprint(load_checkpoint(str(second_big))),
    }


def swap(classifier, embeddings, out, *extra):
    return run_cli(
        [
            "minimodel",
            "swap-embeddings",
            "--classifier",
            str(classifier),
            "--embeddings",
            str(embeddings),
            "--out",
            str(out),
            *map(str, extra),
        ],
        check=False,
    )


def test_every_checkpoint_records_its_big_model(chain):
    first, second = chain["fp_first"], chain["fp_second"]
    assert first != second  # another seed, another model
    mini = load_checkpoint(str(chain["mini"]))
    assert mini["minimodel"][surgery.BIG_MODEL_KEY] == first
    # fairseq writes steps 2 and 3: the task's checkpoint state holds it, next to the FLOPs count
    for path, task, fp in (
        (chain["step2"], "NewLanguageMLMTask", first),
        (chain["cls_first"], "SentencePredictionFrozenEmbeddingsTask", first),
        (chain["cls_second"], "SentencePredictionFrozenEmbeddingsTask", second),
    ):
        own = load_checkpoint(str(path))["extra_state"][task]
        assert own[surgery.BIG_MODEL_KEY] == fp and own[FLOPS_KEY] > 0, path
        assert surgery.big_model_of(load_checkpoint(str(path))) == fp


def test_swap_refuses_embeddings_of_another_model(chain):
    out = chain["dir"] / "mixed.pt"
    proc = swap(chain["cls_second"], chain["step2"], out)
    assert proc.returncode == 2, proc.stderr
    expected = (
        f"minimodel swap-embeddings: error: embeddings learned over another model: {chain['step2']} "
        f"(big model {chain['fp_first'][:12]}) and {chain['cls_second']} (big model "
        f"{chain['fp_second'][:12]}) belong to different big models"
    )
    assert expected in proc.stderr and "pass --allow-other-model to swap it anyway" in proc.stderr
    assert proc.stderr.count("\n") == 1 and not out.exists()

    # the override writes it, with a warning, and the result records both big models
    proc = swap(chain["cls_second"], chain["step2"], out, "--allow-other-model")
    assert proc.returncode == 0, proc.stderr
    assert (
        "minimodel swap-embeddings: warning: embeddings learned over another model" in proc.stderr
    )
    note = load_checkpoint(str(out))["minimodel"]
    assert (note[surgery.BIG_MODEL_KEY], note[surgery.EMBEDDINGS_BIG_MODEL_KEY]) == (
        chain["fp_second"],
        chain["fp_first"],
    )


def test_evaluate_refuses_a_classifier_swapped_across_models(chain, bible_data):
    out = chain["dir"] / "mixed_eval.pt"
    assert swap(chain["cls_second"], chain["step2"], out, "--allow-other-model").returncode == 0
    cmd = [
        "minimodel",
        "evaluate",
        "--classifier",
        str(out),
        "--data",
        str(bible_data / "de" / "cls"),
        "--lang",
        "de",
    ]
    proc = run_cli(cmd, check=False)
    assert proc.returncode == 2
    assert (
        f"minimodel evaluate: error: embeddings learned over another model: the embeddings of {out} (big model "
        f"{chain['fp_first'][:12]}) and the body of {out} (big model {chain['fp_second'][:12]}) belong to "
        f"different big models"
    ) in proc.stderr
    assert "pass --allow-other-model to score it anyway" in proc.stderr
    proc = run_cli(cmd + ["--allow-other-model"], check=False)
    assert (
        proc.returncode == 0
        and "minimodel evaluate: warning: embeddings learned over another model" in proc.stderr
    )
    assert proc.stdout.strip().splitlines()[-1].split()[0] == "de"


def test_same_model_chain_is_accepted_without_warning(chain, bible_data):
    out = chain["dir"] / "same.pt"
    proc = swap(chain["cls_first"], chain["step2"], out)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
    note = load_checkpoint(str(out))["minimodel"]
    assert (
        note[surgery.BIG_MODEL_KEY] == note[surgery.EMBEDDINGS_BIG_MODEL_KEY] == chain["fp_first"]
    )
    proc = run_cli(
        [
            "minimodel",
            "evaluate",
            "--classifier",
            str(out),
            "--data",
            str(bible_data / "de" / "cls"),
        ]
    )
    assert "warning" not in proc.stderr


def test_checkpoints_without_a_fingerprint_warn_only(chain):
    """Files written before provenance was recorded: the swap goes on, with a warning."""
    old = load_checkpoint(str(chain["step2"]))
    del old["extra_state"]["NewLanguageMLMTask"][surgery.BIG_MODEL_KEY]
    assert surgery.big_model_of(old) is None  # a step-2 checkpoint is not a big model: unknown
    path = files.save_checkpoint(old, chain["dir"] / "old_step2.pt")
    proc = swap(chain["cls_second"], path, chain["dir"] / "old_swap.pt")
    assert proc.returncode == 0, proc.stderr
    assert (
        f"minimodel swap-embeddings: warning: {path}: no big-model fingerprint recorded"
        in proc.stderr
    )


def test_minipost_records_its_source(chain, bible_data, tiny_minijoint, tmp_path):
    run_cli(
        [
            "fairseq-train",
            str(bible_data / "en" / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "minipost_mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "minipost_roberta",
            "--source-checkpoint",
            str(tiny_minijoint),
            "--mini-layers",
            "2",
            "--mini-new-layers",
            "1",
            "--tokens-per-sample",
            "64",
            *TINY_TRAIN,
            "--max-update",
            "2",
            "--save-dir",
            str(tmp_path / "minipost"),
        ]
    )
    state = load_checkpoint(str(tmp_path / "minipost" / "checkpoint_last.pt"))
    assert surgery.big_model_of(state) == chain["fp_first"]
    # extract-mini of it keeps the source's
    run_cli(
        [
            "minimodel",
            "extract-mini",
            str(tmp_path / "minipost" / "checkpoint_last.pt"),
            "--out",
            str(tmp_path / "mini.pt"),
        ]
    )
    assert surgery.big_model_of(load_checkpoint(str(tmp_path / "mini.pt"))) == chain["fp_first"]


def test_fingerprint_is_of_the_tensors():
    state = {
        "model": {
            "encoder.a": torch.arange(6, dtype=torch.float32).view(2, 3),
            "encoder.b": torch.ones(3, dtype=torch.bfloat16),
            "classification_heads.x": torch.zeros(2),
        }
    }
    fp = surgery.fingerprint(state)
    same = copy.deepcopy(state)
    same["model"]["classification_heads.x"] += 1  # not part of the encoder
    assert surgery.fingerprint(same) == fp
    other = copy.deepcopy(state)
    other["model"]["encoder.a"][1, 2] += 1e-3  # one value
    assert surgery.fingerprint(other) != fp
    reshaped = copy.deepcopy(state)
    reshaped["model"]["encoder.a"] = reshaped["model"]["encoder.a"].view(
        3, 2
    )  # same bytes, other shape
    assert surgery.fingerprint(reshaped) != fp
    assert surgery.big_model_of(state) == fp  # no task, no note: a big model itself


def _shuffled_copy(data_dir, out):
    """``data_dir`` with its dict.txt's symbols shuffled: the same size, another vocabulary."""
    shutil.copytree(data_dir, out)
    lines = (out / "dict.txt").read_text(encoding="utf-8").splitlines()
    random.Random(0).shuffle(lines)
    (out / "dict.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _one_error(proc, command):
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "warning:" not in line]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith(f"minimodel {command}: error: "), lines[0]
    return lines[0]


def test_swap_refuses_exchanged_roles_and_a_same_size_wrong_dict(chain, bible_data):
    """Identity, not size: arguments given in each other's place, and a dict.txt of the right size
    but another order, are refused before anything is written."""
    d = chain["dir"] / "roles"
    d.mkdir()
    err = _one_error(swap(chain["step2"], chain["cls_first"], d / "out.pt"), "swap-embeddings")
    assert err.endswith(
        f"{chain['step2']} has no classification head (task 'new_language_mlm'): --classifier takes "
        "the step-3 checkpoint (--task sentence_prediction_frozen_embeddings); were --classifier "
        "and --embeddings exchanged?"
    ), err
    err = _one_error(swap(chain["cls_first"], chain["mini"], d / "out.pt"), "swap-embeddings")
    assert err.endswith(
        f"{chain['mini']} is not a step-2 checkpoint (task 'masked_lm'): --embeddings takes the "
        "checkpoint of --task new_language_mlm"
    ), err
    shuffled = _shuffled_copy(bible_data / "de" / "mlm", d / "shuffled") / "dict.txt"
    err = _one_error(
        swap(
            chain["cls_first"],
            chain["step2"],
            d / "out.pt",
            "--dict",
            shuffled,
            "--allow-other-model",
        ),
        "swap-embeddings",
    )
    assert (
        f"dictionary mismatch: {shuffled} is not the dictionary the embeddings of {chain['step2']} were "
        f"learned with"
        in err
        and str(bible_data / "de" / "mlm" / "dict.txt") in err
    ), err
    assert not list(d.glob("*.pt")) and not list(d.glob(".*"))  # nothing written


def test_evaluate_refuses_data_of_another_dictionary(chain, bible_data):
    """A German swapped classifier on English data, and the English classifier on English data whose
    dictionary was shuffled (same size): refused, naming the two dictionaries' digests."""
    swapped = chain["dir"] / "swapped_de.pt"
    assert swap(chain["cls_first"], chain["step2"], swapped, "--allow-other-model").returncode == 0
    err = _one_error(
        run_cli(
            [
                "minimodel",
                "evaluate",
                "--classifier",
                str(swapped),
                "--data",
                str(bible_data / "en" / "cls"),
                "--allow-other-model",
            ],
            check=False,
        ),
        "evaluate",
    )
    assert f"{bible_data / 'en' / 'cls'} is binarized with another dictionary" in err
    assert f"(the embeddings' language data: {bible_data / 'de' / 'mlm'})" in err, err
    shuffled = _shuffled_copy(
        bible_data / "en" / "cls" / "input0", chain["dir"] / "en_cls_shuffled" / "input0"
    ).parent
    shutil.copytree(bible_data / "en" / "cls" / "label", shuffled / "label")
    err = _one_error(
        run_cli(
            [
                "minimodel",
                "evaluate",
                "--classifier",
                str(chain["cls_first"]),
                "--data",
                str(shuffled),
            ],
            check=False,
        ),
        "evaluate",
    )
    assert f"{shuffled} is binarized with another dictionary" in err, err
    proc = run_cli(
        [
            "minimodel",
            "evaluate",
            "--classifier",
            str(chain["cls_first"]),
            "--data",
            str(bible_data / "en" / "cls"),
        ]
    )  # its own data: scored
    assert "accuracy" in proc.stdout


def test_step2_resume_on_data_of_another_dictionary_is_refused(chain, bible_data):
    """fairseq-train into a step-2 --save-dir with data binarized with another dictionary of the same
    size: refused naming both, the run's checkpoint untouched."""
    save = chain["step2"].parent
    before = {p.name: p.read_bytes() for p in save.glob("*.pt")}
    other = _shuffled_copy(bible_data / "de" / "mlm", chain["dir"] / "de_shuffled")
    proc = run_cli(
        [
            "fairseq-train",
            str(other),
            "--user-dir",
            USER_DIR,
            "--task",
            "new_language_mlm",
            "--criterion",
            "masked_lm",
            "--body-checkpoint",
            str(chain["mini"]),
            "--tokens-per-sample",
            "64",
            *TINY_TRAIN,
            "--max-update",
            "6",
            "--save-dir",
            str(save),
        ],
        check=False,
    )
    assert proc.returncode != 0
    assert (
        "--save-dir holds a run trained with another dictionary (digest " in proc.stderr
        and f"than the data's, {other} (digest " in proc.stderr
    ), proc.stderr[-2000:]
    assert {p.name: p.read_bytes() for p in save.glob("*.pt")} == before


def test_step2_refuses_a_body_dict_that_is_not_the_bodys(chain, bible_data, tmp_path):
    """--embedding-init shared with --body-dict naming the target's own dict.txt (the mistake of issue 25):
    refused by digest, before a step is trained; the body's own dict.txt is accepted."""

    def run(body_dict, save):
        return run_cli(
            [
                "fairseq-train",
                str(bible_data / "de" / "mlm"),
                "--user-dir",
                USER_DIR,
                "--task",
                "new_language_mlm",
                "--criterion",
                "masked_lm",
                "--body-checkpoint",
                str(chain["mini"]),
                "--embedding-init",
                "shared",
                "--body-dict",
                str(body_dict),
                "--tokens-per-sample",
                "64",
                *TINY_TRAIN,
                "--max-update",
                "1",
                "--save-dir",
                str(save),
            ],
            check=False,
        )

    wrong = bible_data / "de" / "mlm" / "dict.txt"
    proc = run(wrong, tmp_path / "wrong")
    assert (
        proc.returncode != 0
        and f"--body-dict {wrong} is not the dictionary the body {chain['mini']} was trained with"
        in proc.stderr
    ), proc.stderr[-2000:]
    assert not (tmp_path / "wrong" / "checkpoint_last.pt").exists()
    assert run(bible_data / "en" / "mlm" / "dict.txt", tmp_path / "right").returncode == 0
