"""How close are relearned token embeddings to the originals? (the step-2 identifiability check)

    .venv/bin/python benchmarks/embedding_alignment.py ORIGINAL.pt RELEARNED.pt

Both checkpoints must hold embeddings over the same dictionary, e.g. the pretrained model
and a step-2 run over the *source* language itself:

    RUNS=runs/diag examples/bible/2_adapt_language.sh en minijoint 1   # relearn English

If step 2 recovered the embedding space the body was trained with, each relearned row
sits next to its original (nearest-neighbour precision@1 near 1, cosine near 1); if the
masked-LM objective leaves the new matrix free up to a rotation, precision@1 is at chance
level even though the masked-LM loss matches. Prints mean cosine of same rows, P@1,
and P@1 after the best linear map (least squares), over the non-special rows.
"""

import sys

import torch

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq.compat import load_checkpoint
from minimodel_fairseq.params import TOKENS


def alignment(orig, new, skip=4):
    orig, new = orig[skip:].float(), new[skip:].float()
    if orig.shape != new.shape:
        raise SystemExit(
            f"the two matrices differ in shape {tuple(orig.shape)} vs {tuple(new.shape)}: "
            f"give checkpoints over the same dictionary"
        )
    ids = torch.arange(orig.size(0))
    a, b = torch.nn.functional.normalize(new, dim=1), torch.nn.functional.normalize(orig, dim=1)
    mapped = torch.nn.functional.normalize(new @ torch.linalg.lstsq(new, orig).solution, dim=1)
    return {
        "rows": orig.size(0),
        "norm_original": orig.norm(dim=1).mean().item(),
        "norm_relearned": new.norm(dim=1).mean().item(),
        "cosine_same_row": (a * b).sum(1).mean().item(),
        "p_at_1": ((a @ b.T).argmax(1) == ids).float().mean().item(),
        "p_at_1_linear_map": ((mapped @ b.T).argmax(1) == ids).float().mean().item(),
    }


if __name__ == "__main__":
    original, relearned = (load_checkpoint(p)["model"][TOKENS] for p in sys.argv[1:3])
    for key, value in alignment(original, relearned).items():
        print(f"{key:>20}: {value:.4f}" if isinstance(value, float) else f"{key:>20}: {value}")
