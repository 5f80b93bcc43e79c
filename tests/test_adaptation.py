"""Steps 2-4 through the real CLI: what trains, what stays bitwise, extraction, swap, recipes."""

import os
import shutil
import subprocess

import pytest
import torch
from conftest import ROOT, TINY_TRAIN, run_cli
from fairseq.data import Dictionary

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import files, surgery
from minimodel_fairseq.compat import load_checkpoint

pytestmark = pytest.mark.slow
USER_DIR = str(ROOT / "minimodel_fairseq")
NEW = {surgery.TOKENS, "encoder.lm_head.weight", "encoder.lm_head.bias"}


def bpe(bible_data, lang):
    """The recipes' tokenizer flags: the checkpoint records its language's sentencepiece model."""
    return ["--bpe", "sentencepiece", "--sentencepiece-model", str(bible_data / lang / "spm.model")]


# Steps 2 and 3 without --arch: the body checkpoint gives the architecture.
def step2(bible_data, body, save, *extra, lang="de", updates=15):
    run_cli(
        [
            "fairseq-train",
            str(bible_data / lang / "mlm"),
            "--user-dir",
            USER_DIR,
            "--task",
            "new_language_mlm",
            "--criterion",
            "masked_lm",
            *bpe(bible_data, lang),
            "--body-checkpoint",
            str(body),
            "--tokens-per-sample",
            "64",
            *TINY_TRAIN,
            "--max-update",
            str(updates),
            "--save-dir",
            str(save),
            *extra,
        ]
    )
    return save / "checkpoint_last.pt"


def step3(bible_data, body, save, updates=20):
    run_cli(
        [
            "fairseq-train",
            str(bible_data / "en" / "cls"),
            "--user-dir",
            USER_DIR,
            "--task",
            "sentence_prediction_frozen_embeddings",
            "--criterion",
            "sentence_prediction",
            *bpe(bible_data, "en"),
            "--body-checkpoint",
            str(body),
            "--num-classes",
            "6",
            "--init-token",
            "0",
            "--max-positions",
            "64",
            "--shorten-method",
            "truncate",
            *TINY_TRAIN,
            "--max-update",
            str(updates),
            "--save-dir",
            str(save),
        ]
    )
    return save / "checkpoint_last.pt"


@pytest.fixture(scope="module")
def mini(tiny_minijoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("mini") / "mini.pt"
    run_cli(["minimodel", "extract-mini", str(tiny_minijoint), "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def pipeline(bible_data, tiny_minijoint, tmp_path_factory):
    d = tmp_path_factory.mktemp("pipeline")
    return {
        "step2_full": step2(bible_data, tiny_minijoint, d / "s2_full"),
        "step3": step3(bible_data, tiny_minijoint, d / "s3"),
        "dir": d,
    }


def test_extracted_mini_model_equals_secondary_head(tiny_minijoint, mini, bible_data):
    from fairseq import checkpoint_utils

    (big,), _, task = checkpoint_utils.load_model_ensemble_and_task([str(tiny_minijoint)])
    (small,), _, _ = checkpoint_utils.load_model_ensemble_and_task([str(mini)])
    assert (
        type(small).__name__ == "RobertaModel" and len(small.encoder.sentence_encoder.layers) == 2
    )
    state = torch.load(mini, weights_only=False)
    assert state["cfg"]["model"].arch == "roberta" and state["cfg"]["task"]["_name"] == "masked_lm"
    d = task.source_dictionary
    lines = (
        (bible_data / "en" / "spm" / "test.txt.spm").read_text(encoding="utf-8").splitlines()[:8]
    )
    toks = [d.encode_line(line, add_if_not_exist=False)[:60] for line in lines]
    batch = torch.nn.utils.rnn.pad_sequence(toks, batch_first=True, padding_value=d.pad())
    big.eval(), small.eval()
    with torch.no_grad():
        expected = big(batch)[1]["mini_logits"]
        got = small(batch)[0]
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    assert not torch.allclose(big(batch)[0], got, atol=1e-3)  # the primary head differs


@pytest.mark.parametrize("body_kind", ["full", "mini"])
def test_step2_trains_only_new_embeddings(
    bible_data, tiny_minijoint, mini, pipeline, tmp_path, body_kind
):
    body_path = tiny_minijoint if body_kind == "full" else mini
    ckpt = (
        pipeline["step2_full"] if body_kind == "full" else step2(bible_data, mini, tmp_path / "s2")
    )
    body = surgery.to_roberta(surgery.load_roberta_checkpoint(body_path))["model"]
    got = load_checkpoint(str(ckpt))
    model = got["model"]
    assert set(model) == set(body), "step 2 has the body's shape (layers, head), no more, no less"
    for k, v in body.items():
        if k not in NEW:
            assert torch.equal(model[k], v), f"{k} changed"
    de_dict = Dictionary.load(str(bible_data / "de" / "mlm" / "dict.txt"))
    assert model[surgery.TOKENS].shape == (
        len(de_dict) + 1,
        body[surgery.TOKENS].shape[1],
    )  # + <mask>
    init, _ = surgery.new_language_embeddings(
        de_dict, body[surgery.TOKENS][: len(de_dict) + 1], seed=1
    )
    changed = (model[surgery.TOKENS][: len(de_dict)] != init[: len(de_dict)]).any(1)
    assert changed.float().mean() > 0.5, "most embedding rows trained"
    assert model["encoder.lm_head.bias"].abs().sum() > 0
    assert torch.equal(model["encoder.lm_head.weight"], model[surgery.TOKENS])  # still tied
    assert got["cfg"]["model"].encoder_layers == (4 if body_kind == "full" else 2)


def test_step3_keeps_token_embeddings_frozen(pipeline, tiny_minijoint):
    body = surgery.to_roberta(surgery.load_roberta_checkpoint(tiny_minijoint))["model"]
    model = load_checkpoint(str(pipeline["step3"]))["model"]
    assert torch.equal(model[surgery.TOKENS], body[surgery.TOKENS])
    assert not torch.equal(
        model["encoder.sentence_encoder.layers.0.fc1.weight"],
        body["encoder.sentence_encoder.layers.0.fc1.weight"],
    )
    assert "classification_heads.sentence_classification_head.out_proj.weight" in model


def test_arch_is_optional_where_the_body_gives_it(pipeline, mini, tmp_path):
    """Steps 2 and 3 above ran without --arch; fairseq-hydra-train takes a config without `model:` too."""
    from fairseq import checkpoint_utils
    from omegaconf import OmegaConf

    for ckpt in (pipeline["step2_full"], pipeline["step3"]):
        assert load_checkpoint(str(ckpt))["cfg"]["model"].arch == "roberta"
    cfg = OmegaConf.load(ROOT / "examples" / "bible" / "config" / "adapt.yaml")
    del cfg["model"]
    data = load_checkpoint(str(pipeline["step2_full"]))["cfg"]["task"]["data"]  # the German data
    cfg.common.user_dir = USER_DIR
    cfg.task.data, cfg.task.body_checkpoint, cfg.task.tokens_per_sample = data, str(mini), 64
    cfg.checkpoint.save_dir = str(tmp_path / "save")
    cfg.optimization.max_update = 2
    if "bpe" in cfg:
        cfg.bpe = None
    OmegaConf.save(cfg, tmp_path / "adapt_no_model.yaml")
    run_cli(
        ["fairseq-hydra-train", "--config-dir", str(tmp_path), "--config-name", "adapt_no_model"],
        cwd=tmp_path,
    )
    state = load_checkpoint(str(tmp_path / "save" / "checkpoint_last.pt"))
    assert (
        state["cfg"]["model"]["_name"] == "roberta" and state["cfg"]["model"]["encoder_layers"] == 2
    )
    (model,), _, _ = checkpoint_utils.load_model_ensemble_and_task(
        [str(tmp_path / "save" / "checkpoint_last.pt")]
    )
    assert len(model.encoder.sentence_encoder.layers) == 2  # the mini-model's depth, reloaded


def test_shared_init_copies_exactly_the_common_tokens():
    src, tgt = Dictionary(), Dictionary()
    for w in ["▁the", "▁God", "▁and", "s"]:
        src.add_symbol(w)
    for w in ["▁und", "▁God", "s", "▁der", "▁the"]:
        tgt.add_symbol(w)
    body = torch.randn(len(src), 8)
    weight, copied = surgery.new_language_embeddings(tgt, body, "shared", src, seed=3)
    common = [s for s in tgt.symbols if s in src.indices and s != "<pad>"]
    assert copied == len(common) + 1  # + <pad>, copied then zeroed
    for i, s in enumerate(tgt.symbols):
        if s == "<pad>":
            assert weight[i].abs().sum() == 0
        elif s in src.indices:
            assert torch.equal(weight[i], body[src.index(s)])
        else:
            assert not any(torch.equal(weight[i], row) for row in body)
    rnd, n = surgery.new_language_embeddings(tgt, body, "random", seed=3)
    assert n == 0 and rnd.std().item() == pytest.approx(0.02, rel=0.3)


# shared_translit (anchors of every script through uroman): tests/test_anchors.py


def test_shared_init_through_the_task(bible_data, tiny_minijoint, tmp_path):
    ckpt = step2(
        bible_data,
        tiny_minijoint,
        tmp_path / "s2",
        "--embedding-init",
        "shared",
        "--body-dict",
        str(bible_data / "en" / "mlm" / "dict.txt"),
        updates=1,
    )
    # one update at lr 1e-3 moves rows by ~1e-3: the copied rows stay close to the body's
    en = Dictionary.load(str(bible_data / "en" / "mlm" / "dict.txt"))
    de = Dictionary.load(str(bible_data / "de" / "mlm" / "dict.txt"))
    body = surgery.load_roberta_checkpoint(tiny_minijoint)["model"][surgery.TOKENS]
    emb = load_checkpoint(str(ckpt))["model"][surgery.TOKENS]
    common = [s for s in de.symbols[de.nspecial :] if s in en.indices]
    assert common
    for s in common:
        assert torch.allclose(emb[de.index(s)], body[en.index(s)], atol=5e-3)


def test_swap_equals_classifier_on_target_embeddings_by_hand(pipeline, bible_data):
    from fairseq import checkpoint_utils

    out = pipeline["dir"] / "de.pt"
    run_cli(
        [
            "minimodel",
            "swap-embeddings",
            "--classifier",
            str(pipeline["step3"]),
            "--embeddings",
            str(pipeline["step2_full"]),
            "--out",
            str(out),
        ]
    )
    de_cls = str(bible_data / "de" / "cls")
    (swapped,), _, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(out)], arg_overrides={"data": de_cls}
    )
    # by hand: the fine-tuned classifier, its embedding matrix replaced by step 2's
    ft = load_checkpoint(str(pipeline["step3"]))
    emb = load_checkpoint(str(pipeline["step2_full"]))["model"][surgery.TOKENS]
    (manual,), _, _ = checkpoint_utils.load_model_ensemble_and_task(
        [str(pipeline["step3"])], arg_overrides={"data": str(bible_data / "en" / "cls")}
    )
    manual.encoder.sentence_encoder.embed_tokens = torch.nn.Embedding.from_pretrained(
        emb, padding_idx=1
    )
    task.load_dataset("test")
    batch = task.dataset("test").collater([task.dataset("test")[i] for i in range(8)])
    head = "sentence_classification_head"
    swapped.eval(), manual.eval()
    with torch.no_grad():
        a = swapped(**batch["net_input"], features_only=True, classification_head_name=head)[0]
        b = manual(**batch["net_input"], features_only=True, classification_head_name=head)[0]
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert ft["model"][surgery.TOKENS].shape != emb.shape or not torch.equal(
        ft["model"][surgery.TOKENS], emb
    )

    preds = pipeline["dir"] / "pred" / "de.tsv"
    rows = run_cli(
        [
            "minimodel",
            "evaluate",
            "--classifier",
            str(out),
            "--data",
            de_cls,
            "--lang",
            "de",
            "--predictions",
            str(preds),
        ]
    ).stdout
    lang, acc, n, majority, _ = rows.strip().splitlines()[-1].split()
    assert lang == "de" and 0 <= float(acc) <= 1 and int(n) == 83 and 0 < float(majority) < 1
    # the per-verse predictions: the test set's order, label names, the accuracy, the model's argmax
    lines = [line.split("\t") for line in preds.read_text().splitlines()]
    assert lines[0] == ["index", "gold", "predicted", "correct"] and len(lines) == 84
    assert [int(r[0]) for r in lines[1:]] == list(range(83))
    assert f"{sum(int(r[3]) for r in lines[1:]) / 83:.4f}" == acc
    labels = task.label_dictionary
    assert [r[2] for r in lines[1:9]] == [labels[int(k) + labels.nspecial] for k in a.argmax(-1)]
    assert [r[1] for r in lines[1:9]] == [
        labels[int(k) + labels.nspecial] for k in batch["target"].view(-1)
    ]


def test_step3_validates_in_batches_of_similar_length(bible_data):
    """Step 3's valid split is ordered by length (less padding at base size); training stays shuffled."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    argv = [
        str(bible_data / "en" / "cls"),
        "--user-dir",
        str(ROOT / "minimodel_fairseq"),
        "--task",
        "sentence_prediction_frozen_embeddings",
        "--criterion",
        "sentence_prediction",
        "--arch",
        "roberta",
        "--num-classes",
        "6",
        "--cpu",
    ]
    cfg = convert_namespace_to_omegaconf(
        options.parse_args_and_arch(options.get_training_parser(), input_args=argv)
    )
    task = tasks.setup_task(cfg.task)
    for split in ("train", "valid"):
        task.load_dataset(split)
    valid, train = task.dataset("valid"), task.dataset("train")
    order = valid.ordered_indices()
    lengths = [valid.num_tokens(i) for i in order]
    assert lengths == sorted(lengths) and sorted(order.tolist()) == list(range(len(valid)))
    train_lengths = [train.num_tokens(i) for i in train.ordered_indices()]
    assert train_lengths != sorted(train_lengths)


def test_scoring_by_length_gives_the_predictions_of_file_order(pipeline, bible_data):
    """evaluate batches sentences by length (less padding); predictions come back in the file's order,
    the same as file-order batches and as one sentence at a time."""
    from minimodel_fairseq.evaluate import evaluate_classifier

    ckpt, data = pipeline["step3"], bible_data / "en" / "cls"
    fast = evaluate_classifier(ckpt, data, batch_size=16)
    assert fast == evaluate_classifier(ckpt, data, batch_size=16, by_length=False)
    assert (
        fast["predictions"]
        == evaluate_classifier(ckpt, data, batch_size=1, by_length=False)["predictions"]
    )
    gold = [
        line.split()[0]
        for line in (bible_data / "en" / "raw" / "cls.test.label").read_text().splitlines()
    ]
    assert [g for g, _ in fast["predictions"]] == gold


def test_swap_refuses_bad_input(pipeline, bible_data, tmp_path, tiny_minijoint):
    out = tmp_path / "out.pt"
    # a step-2 checkpoint of another width: mismatched dimension
    other = surgery.load_roberta_checkpoint(pipeline["step2_full"])
    other["model"] = {
        k: (v[:, :32] if k == surgery.TOKENS else v) for k, v in other["model"].items()
    }
    bad_dim = files.save_checkpoint(other, tmp_path / "bad_dim.pt")
    short_dict = tmp_path / "dict.txt"  # a dictionary of another language / size
    short_dict.write_text(
        "".join((bible_data / "en" / "mlm" / "dict.txt").read_text().splitlines(True)[:100])
    )
    cases = [
        (
            ["--embeddings", str(bad_dim)],
            "embedding dimension differs: classifier 64, embeddings 32",
        ),
        (["--embeddings", str(tmp_path / "missing.pt")], "does not exist"),
        (
            ["--embeddings", str(pipeline["step2_full"]), "--dict", str(short_dict)],
            "dictionary mismatch: " + str(short_dict) + " has 104 symbols",
        ),  # 100 + 4 specials
    ]
    for extra, message in cases:
        proc = run_cli(
            [
                "minimodel",
                "swap-embeddings",
                "--classifier",
                str(pipeline["step3"]),
                *extra,
                "--out",
                str(out),
            ],
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and proc.stderr.count("error") == 1, proc.stderr
        assert not out.exists() and not list(tmp_path.glob(".out.pt*"))
    # an existing output is refused without --force, and left untouched
    out.write_bytes(b"precious")
    proc = run_cli(
        [
            "minimodel",
            "swap-embeddings",
            "--classifier",
            str(pipeline["step3"]),
            "--embeddings",
            str(pipeline["step2_full"]),
            "--out",
            str(out),
        ],
        check=False,
    )
    assert proc.returncode == 2 and "--force" in proc.stderr and out.read_bytes() == b"precious"


@pytest.mark.recipe
def test_miniature_recipes_end_to_end(bible_data, tmp_path):
    env = {
        "DATA": str(bible_data),
        "RUNS": str(tmp_path / "runs"),
        "LANGS": "de",
        "SEEDS": "1",
        "MODEL_FLAGS": "--encoder-layers 3 --encoder-embed-dim 32 --encoder-ffn-embed-dim 64 "
        "--encoder-attention-heads 2 --mini-layer 1",
        "TOKENS": "64",
        "PRETRAIN_UPDATES": "12",
        "MINIPOST_UPDATES": "4",
        "MINIPOST_K": "1",
        "ADAPT_UPDATES": "4",
        "FT_UPDATES": "4",
        "THREADS": "1",
        "METHODS": "full minijoint minipost random",
    }
    proc = subprocess.run(
        ["bash", "examples/bible/run_all.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    table = (tmp_path / "runs" / "results.md").read_text()
    for row in ("| en |", "| de |"):
        assert row in table
    header, *rows = (tmp_path / "runs" / "results.tsv").read_text().splitlines()
    assert header.split("\t")[:2] == [
        "lang",
        "method",
    ]  # a header: read by column name (settings.py)
    assert {r.split("\t")[1] for r in rows} == {
        "in-language (minijoint)",
        "in-language (roberta)",
        "full",
        "minijoint",
        "minipost",
        "random",
    }


def test_step3_accepts_sentence_pairs(bible_data, tiny_minijoint, tmp_path):
    """XNLI-style data (input0, input1, label) goes through the same task: here verse pairs
    labelled by whether both verses come from the same chapter (real text, toy labels)."""
    spm = (
        (bible_data / "en" / "spm" / "cls.train.input0.spm")
        .read_text(encoding="utf-8")
        .splitlines()
    )
    refs = (bible_data / "en" / "raw" / "cls.train.ref").read_text().splitlines()
    raw = tmp_path / "raw"
    raw.mkdir()
    for split, lo, hi in (("train", 0, 150), ("valid", 150, 200)):
        a, b, y = [], [], []
        for i in range(lo, hi):
            j = (i + 1) if i % 2 else (i + 97) % len(spm)
            a.append(spm[i]), b.append(spm[j])
            y.append("same" if refs[i].split()[1:3] == refs[j].split()[1:3] else "different")
        for name, lines in (("input0", a), ("input1", b), ("label", y)):
            (raw / f"{split}.{name}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = tmp_path / "pairs"
    for name in ("input0", "input1", "label"):
        extra = (
            ["--srcdict", str(bible_data / "en" / "mlm" / "dict.txt")] if name != "label" else []
        )
        run_cli(
            [
                "fairseq-preprocess",
                "--only-source",
                "--trainpref",
                str(raw / f"train.{name}"),
                "--validpref",
                str(raw / f"valid.{name}"),
                "--destdir",
                str(data / name),
                "--workers",
                "1",
                *extra,
            ]
        )
    save = tmp_path / "ckpt"
    proc = run_cli(
        [
            "fairseq-train",
            str(data),
            "--user-dir",
            USER_DIR,
            "--task",
            "sentence_prediction_frozen_embeddings",
            "--criterion",
            "sentence_prediction",
            "--arch",
            "roberta",
            "--body-checkpoint",
            str(tiny_minijoint),
            "--num-classes",
            "2",
            "--init-token",
            "0",
            "--separator-token",
            "2",
            "--max-positions",
            "64",
            "--shorten-method",
            "truncate",
            *TINY_TRAIN,
            "--max-update",
            "6",
            "--save-dir",
            str(save),
        ]
    )
    assert f"loaded 150 examples from: {data / 'input1' / 'train'}" in proc.stdout + proc.stderr
    state = load_checkpoint(str(save / "checkpoint_last.pt"))
    body = surgery.load_roberta_checkpoint(tiny_minijoint)["model"]
    assert torch.equal(state["model"][surgery.TOKENS], body[surgery.TOKENS])
    assert (
        state["model"]["classification_heads.sentence_classification_head.out_proj.weight"].shape[0]
        == 2
    )


def test_hub_interface_classifies_raw_target_text(pipeline, bible_data):
    """The README's three lines: fairseq's from_pretrained with no tokenizer arguments (the swapped
    classifier records the target language's sentencepiece model, from step 2), encode, predict.
    encode() must give the binarized test tokens, predict() the same labels that `minimodel
    evaluate` scores."""
    from fairseq.models.roberta import RobertaModel

    out = pipeline["dir"] / "de_hub.pt"
    run_cli(
        [
            "minimodel",
            "swap-embeddings",
            "--classifier",
            str(pipeline["step3"]),
            "--embeddings",
            str(pipeline["step2_full"]),
            "--out",
            str(out),
        ]
    )
    de = bible_data / "de"
    assert load_checkpoint(str(pipeline["step3"]))["cfg"]["bpe"]["sentencepiece_model"] == str(
        bible_data / "en" / "spm.model"
    )
    assert load_checkpoint(str(out))["cfg"]["bpe"]["sentencepiece_model"] == str(de / "spm.model")
    hub = RobertaModel.from_pretrained(str(out.parent), out.name, str(de / "cls")).eval()
    raw = (de / "raw" / "cls.test.input0").read_text(encoding="utf-8").splitlines()
    # verses that fit --max-positions 64 whole (the dataset truncates longer ones, encode() does not)
    picked = [i for i, text in enumerate(raw) if len(hub.encode(text)) <= 64][:6]
    assert len(picked) == 6
    hub.task.load_dataset("test")
    test = hub.task.dataset("test")
    labels = hub.task.label_dictionary
    batch = test.collater([test[i] for i in picked])  # as `minimodel evaluate` batches them
    with torch.no_grad():
        logits, _ = hub.model(
            **batch["net_input"],
            features_only=True,
            classification_head_name="sentence_classification_head",
        )
    for row, i in enumerate(picked):
        tokens = hub.encode(raw[i])
        assert torch.equal(tokens, test[i]["net_input.src_tokens"]), (raw[i], tokens)
        with torch.no_grad():
            label = labels.string(
                [
                    hub.predict("sentence_classification_head", tokens).argmax().item()
                    + labels.nspecial
                ]
            )
        assert label == labels[logits[row].argmax().item() + labels.nspecial]
        assert label in {"law", "history", "wisdom", "prophets", "gospels", "epistles"}


@pytest.mark.recipe
def test_run_all_stops_every_job_when_one_fails(bible_data, tiny_minijoint, tmp_path):
    """Steps 2-3 run JOBS at once: when one fails, run_all says so once, stops the others (their
    fairseq-train processes too) and exits 1, with no score written. Here step 1 is marked done
    with a real body but no mini-model: step 3 starts a long run, MiniJoint's step 2 fails."""
    runs = tmp_path / "runs"
    pretrain = runs / "pretrain" / "minijoint"
    pretrain.mkdir(parents=True)
    (pretrain / "DONE").touch()
    shutil.copy(tiny_minijoint, pretrain / "checkpoint_last.pt")
    env = {"DATA": str(bible_data), "RUNS": str(runs), "LANGS": "de", "METHODS": "minijoint"}
    proc = subprocess.run(
        ["bash", "examples/bible/run_all.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env, "FT_UPDATES": "100000", "JOBS": "2", "THREADS": "2"},
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.stderr.count("run_all: a training job failed") == 1, proc.stderr[-3000:]
    assert f"no {pretrain / 'mini.pt'}: run the step-1 recipes first" in proc.stderr
    assert (runs / "results.tsv").read_text().count("\n") == 1  # the header alone
    left = subprocess.run(["pgrep", "-f", str(runs)], capture_output=True, text=True).stdout
    assert not left.strip(), left
