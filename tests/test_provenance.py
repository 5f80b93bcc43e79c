"""Provenance: every checkpoint records the big model it belongs to, and embeddings learned over
another big model are refused where they would meet its classifier (swap-embeddings, evaluate).

The case of issue 11: two tiny MiniJoint models pretrained with different seeds, step 2 over the
mini-model of the first, swapped into a step-3 classifier of the second.
"""
import copy

import pytest
import torch

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import surgery
from minimodel_fairseq.compat import load_checkpoint
from minimodel_fairseq.flops import FLOPS_KEY

from conftest import ROOT, TINY_MODEL, TINY_TRAIN, run_cli
from test_adaptation import step2, step3

pytestmark = pytest.mark.slow
USER_DIR = str(ROOT / "minimodel_fairseq")


@pytest.fixture(scope="module")
def chain(bible_data, tiny_minijoint, tmp_path_factory):
    d = tmp_path_factory.mktemp("provenance")
    second = d / "second"  # as tiny_minijoint, another seed
    run_cli(["fairseq-train", str(bible_data / "en" / "mlm"), "--user-dir", USER_DIR,
             "--task", "minijoint_mlm", "--criterion", "minijoint_mlm", "--arch", "minijoint_roberta_small",
             *TINY_MODEL, "--mini-layer", "2", *TINY_TRAIN, "--seed", "2", "--max-update", "30",
             "--save-dir", str(second)])
    mini = d / "mini_first.pt"
    run_cli(["minimodel", "extract-mini", str(tiny_minijoint), "--out", str(mini)])
    first_big, second_big = tiny_minijoint, second / "checkpoint_last.pt"
    return {
        "dir": d, "mini": mini,
        "step2": step2(bible_data, mini, d / "s2", updates=3),  # over the first model's mini-model
        "cls_first": step3(bible_data, first_big, d / "s3_first", updates=3),
        "cls_second": step3(bible_data, second_big, d / "s3_second", updates=3),
        "fp_first": surgery.fingerprint(load_checkpoint(str(first_big))),
        "fp_second": surgery.fingerprint(load_checkpoint(str(second_big))),
    }


def swap(classifier, embeddings, out, *extra):
    return run_cli(["minimodel", "swap-embeddings", "--classifier", str(classifier), "--embeddings",
                    str(embeddings), "--out", str(out), *extra], check=False)


def test_every_checkpoint_records_its_big_model(chain):
    first, second = chain["fp_first"], chain["fp_second"]
    assert first != second  # another seed, another model
    mini = load_checkpoint(str(chain["mini"]))
    assert mini["minimodel"][surgery.BIG_MODEL_KEY] == first
    # fairseq writes steps 2 and 3: the task's checkpoint state holds it, next to the FLOPs count
    for path, task, fp in ((chain["step2"], "NewLanguageMLMTask", first),
                           (chain["cls_first"], "SentencePredictionFrozenEmbeddingsTask", first),
                           (chain["cls_second"], "SentencePredictionFrozenEmbeddingsTask", second)):
        own = load_checkpoint(str(path))["extra_state"][task]
        assert own[surgery.BIG_MODEL_KEY] == fp and own[FLOPS_KEY] > 0, path
        assert surgery.big_model_of(load_checkpoint(str(path))) == fp


def test_swap_refuses_embeddings_of_another_model(chain):
    out = chain["dir"] / "mixed.pt"
    proc = swap(chain["cls_second"], chain["step2"], out)
    assert proc.returncode == 2, proc.stderr
    expected = (f"minimodel swap-embeddings: error: embeddings learned over another model: {chain['step2']} "
                f"(big model {chain['fp_first'][:12]}) and {chain['cls_second']} (big model "
                f"{chain['fp_second'][:12]}) belong to different big models")
    assert expected in proc.stderr and "pass --allow-other-model to swap it anyway" in proc.stderr
    assert proc.stderr.count("\n") == 1 and not out.exists()

    # the override writes it, with a warning, and the result records both big models
    proc = swap(chain["cls_second"], chain["step2"], out, "--allow-other-model")
    assert proc.returncode == 0, proc.stderr
    assert "minimodel swap-embeddings: warning: embeddings learned over another model" in proc.stderr
    note = load_checkpoint(str(out))["minimodel"]
    assert (note[surgery.BIG_MODEL_KEY], note[surgery.EMBEDDINGS_BIG_MODEL_KEY]) == (
        chain["fp_second"], chain["fp_first"])


def test_evaluate_refuses_a_classifier_swapped_across_models(chain, bible_data):
    out = chain["dir"] / "mixed_eval.pt"
    assert swap(chain["cls_second"], chain["step2"], out, "--allow-other-model").returncode == 0
    cmd = ["minimodel", "evaluate", "--classifier", str(out), "--data", str(bible_data / "de" / "cls"), "--lang", "de"]
    proc = run_cli(cmd, check=False)
    assert proc.returncode == 2
    assert (f"minimodel evaluate: error: embeddings learned over another model: the embeddings of {out} (big model "
            f"{chain['fp_first'][:12]}) and the body of {out} (big model {chain['fp_second'][:12]}) belong to "
            f"different big models") in proc.stderr
    assert "pass --allow-other-model to score it anyway" in proc.stderr
    proc = run_cli(cmd + ["--allow-other-model"], check=False)
    assert proc.returncode == 0 and "minimodel evaluate: warning: embeddings learned over another model" in proc.stderr
    assert proc.stdout.strip().splitlines()[-1].split()[0] == "de"


def test_same_model_chain_is_accepted_without_warning(chain, bible_data):
    out = chain["dir"] / "same.pt"
    proc = swap(chain["cls_first"], chain["step2"], out)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
    note = load_checkpoint(str(out))["minimodel"]
    assert note[surgery.BIG_MODEL_KEY] == note[surgery.EMBEDDINGS_BIG_MODEL_KEY] == chain["fp_first"]
    proc = run_cli(["minimodel", "evaluate", "--classifier", str(out), "--data", str(bible_data / "de" / "cls")])
    assert "warning" not in proc.stderr


def test_checkpoints_without_a_fingerprint_warn_only(chain):
    """Files written before provenance was recorded: the swap goes on, with a warning."""
    old = load_checkpoint(str(chain["step2"]))
    del old["extra_state"]["NewLanguageMLMTask"][surgery.BIG_MODEL_KEY]
    assert surgery.big_model_of(old) is None  # a step-2 checkpoint is not a big model: unknown
    path = surgery.save_checkpoint(old, chain["dir"] / "old_step2.pt")
    proc = swap(chain["cls_second"], path, chain["dir"] / "old_swap.pt")
    assert proc.returncode == 0, proc.stderr
    assert (f"minimodel swap-embeddings: warning: {path}: no big-model fingerprint recorded" in proc.stderr)


def test_minipost_records_its_source(chain, bible_data, tiny_minijoint, tmp_path):
    run_cli(["fairseq-train", str(bible_data / "en" / "mlm"), "--user-dir", USER_DIR, "--task", "minipost_mlm",
             "--criterion", "masked_lm", "--arch", "minipost_roberta", "--source-checkpoint", str(tiny_minijoint),
             "--mini-layers", "2", "--mini-new-layers", "1", "--tokens-per-sample", "64", *TINY_TRAIN,
             "--max-update", "2", "--save-dir", str(tmp_path / "minipost")])
    state = load_checkpoint(str(tmp_path / "minipost" / "checkpoint_last.pt"))
    assert surgery.big_model_of(state) == chain["fp_first"]
    # extract-mini of it keeps the source's
    run_cli(["minimodel", "extract-mini", str(tmp_path / "minipost" / "checkpoint_last.pt"), "--out",
             str(tmp_path / "mini.pt")])
    assert surgery.big_model_of(load_checkpoint(str(tmp_path / "mini.pt"))) == chain["fp_first"]


def test_fingerprint_is_of_the_tensors():
    state = {"model": {"encoder.a": torch.arange(6, dtype=torch.float32).view(2, 3),
                       "encoder.b": torch.ones(3, dtype=torch.bfloat16), "classification_heads.x": torch.zeros(2)}}
    fp = surgery.fingerprint(state)
    same = copy.deepcopy(state)
    same["model"]["classification_heads.x"] += 1  # not part of the encoder
    assert surgery.fingerprint(same) == fp
    other = copy.deepcopy(state)
    other["model"]["encoder.a"][1, 2] += 1e-3  # one value
    assert surgery.fingerprint(other) != fp
    reshaped = copy.deepcopy(state)
    reshaped["model"]["encoder.a"] = reshaped["model"]["encoder.a"].view(3, 2)  # same bytes, other shape
    assert surgery.fingerprint(reshaped) != fp
    assert surgery.big_model_of(state) == fp  # no task, no note: a big model itself
