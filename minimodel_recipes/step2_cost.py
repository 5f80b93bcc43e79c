"""Step-2 cost of a Hugging Face model's shape: the standard recipe against MiniPost, from config.json alone.

    .venv/bin/python -m minimodel_recipes.step2_cost HF_DIR_OR_CONFIG_JSON [--k 4] [--m 1] \
        [--target-vocab 4001] [--batch 16] [--tokens 128]

Builds fairseq RoBERTa models of the config's shape on PyTorch's meta device (no weights, no
memory), marks what each step trains with the tasks' own freezing patterns, and counts the FLOPs
of one update with minimodel_fairseq.flops.roberta_update_flops (docs/method.md): step 2 over the
whole model (the standard recipe) and over MiniPost's mini-model (bottom K layers + M new ones),
and one update of MiniPost's build (step 1b, on the source vocabulary). Step 2's embedding matrix
is the target language's (--target-vocab rows: the recipes' 4000-piece sentencepiece vocabulary
gives 4001 with <mask>), so the source vocabulary enters only step 1b.
"""

import argparse
import json
import sys
from pathlib import Path


def config_of(path):
    path = Path(path)
    path = path / "config.json" if path.is_dir() else path
    if not path.is_file():
        sys.exit(
            f"step2_cost: error: {path} not found: give a Hugging Face model directory or its config.json"
        )
    return json.loads(path.read_text())


def build(config, layers, rows, normalize_before):
    """A fairseq RobertaModel of the config's width with `layers` layers and `rows` embedding rows (meta device)."""
    from unittest import mock

    import torch
    from fairseq.data import Dictionary
    from fairseq.models.roberta import RobertaModel
    from fairseq.models.roberta.model import base_architecture

    d = Dictionary()
    for i in range(rows - len(d)):
        d.add_symbol(f"w{i}")
    args = argparse.Namespace(
        encoder_layers=layers,
        encoder_embed_dim=config["hidden_size"],
        encoder_ffn_embed_dim=config["intermediate_size"],
        encoder_attention_heads=config["num_attention_heads"],
        max_positions=config["max_position_embeddings"] - 2,
        encoder_normalize_before=normalize_before,
    )
    base_architecture(args)
    # no initialisation: fairseq's init_bert_params draws on the CPU, and only the shapes count here
    with (
        torch.device("meta"),
        mock.patch("fairseq.models.roberta.model.init_bert_params", lambda module: None),
    ):
        return RobertaModel.build_model(args, argparse.Namespace(source_dictionary=d))


def costs(config, k, m, target_rows, batch, tokens):
    import minimodel_fairseq  # noqa: F401
    from minimodel_fairseq.flops import UpdateShape, roberta_update_flops
    from minimodel_fairseq.freezing import set_trainable
    from minimodel_fairseq.tasks.minipost_mlm import minipost_trainable
    from minimodel_fairseq.tasks.new_language_mlm import NEW_LANGUAGE_TRAINABLE

    layers = config["num_hidden_layers"]
    if not (1 <= k and k + m <= layers):
        sys.exit(
            f"step2_cost: error: need 1 <= K and K + M <= {layers} (the model's layers), got K={k}, M={m}"
        )
    pre_norm = (
        "PreLayerNorm" in "".join(config.get("architectures") or [])
        or config.get("model_type") == "roberta-prelayernorm"
    )
    shape = UpdateShape(batch, tokens, round(0.15 * batch * tokens))
    out = {}
    for name, depth, rows, trainable in (
        ("full", layers, target_rows, NEW_LANGUAGE_TRAINABLE),
        ("minipost", k + m, target_rows, NEW_LANGUAGE_TRAINABLE),
        (
            "minipost_build",
            k + m,
            config["vocab_size"],
            minipost_trainable(k, k + m, final_layer_norm=pre_norm),
        ),
    ):
        model = build(config, depth, rows, pre_norm)
        set_trainable(model, trainable=trainable, what=name)
        out[name] = roberta_update_flops(model, shape)["total"]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "config", help="Hugging Face model directory or its config.json (only the sizes are read)"
    )
    p.add_argument(
        "--k", type=int, default=4, help="MiniPost: bottom layers kept (MINIPOST_K; default 4)"
    )
    p.add_argument(
        "--m", type=int, default=1, help="MiniPost: new layers on top (MINIPOST_M; default 1)"
    )
    p.add_argument(
        "--target-vocab",
        type=int,
        default=4001,
        help="rows of the new embedding matrix (target dict.txt + 4 specials + <mask>; default 4001)",
    )
    p.add_argument(
        "--batch", type=int, default=16, help="sequences per update (ADAPT_BSZ; default 16)"
    )
    p.add_argument(
        "--tokens",
        type=int,
        default=128,
        help="tokens per sequence (TOKENS; default 128), 15%% masked",
    )
    args = p.parse_args(argv)
    config = config_of(args.config)
    c = costs(config, args.k, args.m, args.target_vocab, args.batch, args.tokens)
    print(
        f"{config['num_hidden_layers']} layers x {config['hidden_size']}, FFN {config['intermediate_size']}, "
        f"vocab {config['vocab_size']}; step 2: {args.target_vocab} rows, {args.batch} x {args.tokens} tokens, "
        f"{round(0.15 * args.batch * args.tokens)} masked per update"
    )
    print(
        f"  step 2, standard recipe (all {config['num_hidden_layers']} layers): {c['full'] / 1e9:9.1f} GFLOPs/update"
    )
    print(
        f"  step 2, MiniPost K={args.k} M={args.m} ({args.k + args.m} layers):  {c['minipost'] / 1e9:9.1f} "
        f"GFLOPs/update: {c['full'] / c['minipost']:.2f}x less"
    )
    print(
        f"  step 1b, MiniPost build (source vocab):  {c['minipost_build'] / 1e9:9.1f} GFLOPs/update"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
