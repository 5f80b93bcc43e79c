"""GPU readiness: the method's steps in miniature with --fp16 and --bf16, and the checks that must hold.

    scripts/gpu_check.sh                                        # on a CUDA machine (see that script)
    .venv/bin/python scripts/gpu_check.py --device cpu          # dry run here: fp32 and bf16 on CPU
    .venv/bin/python scripts/gpu_check.py --device cpu --precisions fp16   # fairseq's fp16 path, on CPU

Tiny models (4 layers x 64) on the committed fixture verses, prepared as the recipes
prepare real text (English and German, sentencepiece 500). For each precision:
step 1 (MiniJoint pretraining), step 2 over the full model and over its mini-model
(German embeddings), step 3 (English genre fine-tuning, embeddings frozen), each a
real ``python -m fairseq_cli.train`` run on --device; then step 4 on CPU: the step-2
embeddings swapped into the step-3 classifier and scored on German.

Checks per training run: exit status 0; every logged training loss finite; the
frozen tensors bitwise what was loaded (compared in the checkpoint's dtype: fairseq's
--fp16 casts the whole model to fp16, the plugin's --bf16 keeps fp32); the FLOP count
in the checkpoint; the checkpoint reloads on CPU (fairseq's loader, the task's own
criterion on a validation batch gives a finite loss). Step 4 must produce an accuracy.
A table goes to stdout and, with --out (default $OUT/gpu_check.txt when $OUT is set),
to a file, with the failing runs' log tails in gpu_check.log beside it. Exit 1 if any
check fails.
"""

import argparse
import contextlib
import io
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import minimodel_fairseq  # noqa: F401
from minimodel_fairseq import files, params, surgery
from minimodel_fairseq.compat import load_checkpoint
from minimodel_fairseq.flops import FLOPS_KEY

ROOT = Path(__file__).resolve().parents[1]

FIXTURE_TSV = ROOT / "tests" / "fixtures" / "bible" / "verses.tsv"
TINY_MODEL = [
    "--encoder-layers",
    "4",
    "--encoder-embed-dim",
    "64",
    "--encoder-ffn-embed-dim",
    "128",
    "--encoder-attention-heads",
    "2",
    "--tokens-per-sample",
    "64",
]
NEW = {params.TOKENS, "encoder.lm_head.weight", "encoder.lm_head.bias"}  # what step 2 trains


def prepare(root: Path) -> Path:
    """English and German fixture verses as the recipes prepare them (as tests/conftest.py does)."""
    from minimodel_fairseq.data import bible

    db = bible.build_fixture_db(FIXTURE_TSV, root / "fixture.db")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for lang, code in (("en", "4"), ("de", "e")):
            bible.prepare_language(lang, root / "data", translations=[code], vocab_size=500, db=db)
    return root / "data"


def steps(data: Path, runs: Path):
    """(name, data dir, fairseq-train arguments, {frozen tensor: reference} thunk) in pipeline order."""
    full, mini = runs / "step1" / "checkpoint_last.pt", runs / "mini.pt"

    def body_frozen():
        body = surgery.to_roberta(surgery.load_roberta_checkpoint(full))["model"]
        return {k: v for k, v in body.items() if k not in NEW}

    def mini_frozen():
        return {k: v for k, v in load_checkpoint(str(mini))["model"].items() if k not in NEW}

    def embeddings_frozen():
        return {
            params.TOKENS: surgery.to_roberta(surgery.load_roberta_checkpoint(full))["model"][
                params.TOKENS
            ]
        }

    return [
        (
            "step 1 pretrain MiniJoint",
            data / "en" / "mlm",
            [
                "--task",
                "minijoint_mlm",
                "--criterion",
                "minijoint_mlm",
                "--arch",
                "minijoint_roberta_small",
                *TINY_MODEL,
                "--mini-layer",
                "2",
            ],
            lambda: {},
        ),
        (
            "step 2 full",
            data / "de" / "mlm",
            [
                "--task",
                "new_language_mlm",
                "--criterion",
                "masked_lm",
                "--arch",
                "roberta",
                "--body-checkpoint",
                str(full),
                "--tokens-per-sample",
                "64",
            ],
            body_frozen,
        ),
        (
            "step 2 mini",
            data / "de" / "mlm",
            [
                "--task",
                "new_language_mlm",
                "--criterion",
                "masked_lm",
                "--arch",
                "roberta",
                "--body-checkpoint",
                str(mini),
                "--tokens-per-sample",
                "64",
            ],
            mini_frozen,
        ),
        (
            "step 3 fine-tune",
            data / "en" / "cls",
            [
                "--task",
                "sentence_prediction_frozen_embeddings",
                "--criterion",
                "sentence_prediction",
                "--arch",
                "roberta",
                "--body-checkpoint",
                str(full),
                "--num-classes",
                "6",
                "--init-token",
                "0",
                "--separator-token",
                "2",
                "--max-positions",
                "64",
                "--shorten-method",
                "truncate",
            ],
            embeddings_frozen,
        ),
    ]


def train(save: Path, data: Path, args, precision, device, updates, timeout):
    cmd = [
        sys.executable,
        "-m",
        "fairseq_cli.train",
        str(data),
        "--user-dir",
        str(ROOT / "minimodel_fairseq"),
        *args,
        "--batch-size",
        "16",
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--clip-norm",
        "0",
        "--no-epoch-checkpoints",
        "--num-workers",
        "0",
        "--data-buffer-size",
        "0",
        "--seed",
        "1",
        "--log-format",
        "json",
        "--log-interval",
        "1",
        "--max-update",
        str(updates),
        "--save-dir",
        str(save),
        *(["--cpu"] if device == "cpu" else []),
        *([f"--{precision}"] if precision != "fp32" else []),
    ]
    t = time.time()
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        rc, log = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        rc, log = "timeout", f"{e.stdout or ''}{e.stderr or ''}"
    save.mkdir(parents=True, exist_ok=True)
    (save / "train.log").write_text(log if isinstance(log, str) else log.decode(errors="replace"))
    losses = []
    for line in str(log).splitlines():
        if "train_inner" in line and "{" in line:
            try:
                losses.append(float(json.loads(line[line.index("{") :])["loss"]))
            except (ValueError, KeyError):
                pass
    return rc, losses, time.time() - t


def reload_on_cpu(ckpt: Path) -> float:
    """The checkpoint through fairseq's own loader on CPU, fp32; the task's criterion on a validation batch."""
    from fairseq import checkpoint_utils

    (model,), cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(ckpt)])
    model = model.float().cpu()
    task.load_dataset("valid")
    batch = next(task.get_batch_iterator(task.dataset("valid"), max_sentences=8).next_epoch_itr())
    loss, sample_size, _ = task.valid_step(batch, model, task.build_criterion(cfg.criterion))
    return (
        float(loss) / sample_size / math.log(2)
    )  # per token (sentence), base 2, as fairseq logs it


def check_run(name, precision, save, rc, losses, secs, frozen_ref):
    row = {
        "precision": precision,
        "step": name,
        "rc": rc,
        "updates": len(losses),
        "seconds": secs,
        "last_loss": losses[-1] if losses else float("nan"),
        "losses_finite": bool(losses) and all(math.isfinite(x) for x in losses),
    }
    ckpt = save / "checkpoint_last.pt"
    if rc != 0 or not ckpt.is_file():
        return {**row, "ok": False, "why": f"training failed (exit {rc})"}
    state = load_checkpoint(str(ckpt))
    dtypes = sorted(
        {
            str(t.dtype).replace("torch.", "")
            for t in state["model"].values()
            if t.is_floating_point()
        }
    )
    ref = frozen_ref()
    changed = [
        k
        for k, v in ref.items()
        if not torch.equal(state["model"][k], v.to(state["model"][k].dtype))
    ]
    flops = next(
        (
            v[FLOPS_KEY]
            for v in (state.get("extra_state") or {}).values()
            if isinstance(v, dict) and FLOPS_KEY in v
        ),
        0,
    )
    try:
        reload_loss = reload_on_cpu(ckpt)
    except Exception as e:  # reported in the table, not raised: the other rows still run
        reload_loss, row["why"] = float("nan"), f"reload on CPU: {type(e).__name__}: {e}"
    row.update(
        dtypes="/".join(dtypes),
        frozen=f"{len(ref) - len(changed)}/{len(ref)}" if ref else "n/a",
        frozen_ok=not changed,
        tflops=flops / 1e12,
        reload_loss=reload_loss,
    )
    row["ok"] = row["losses_finite"] and not changed and flops > 0 and math.isfinite(reload_loss)
    if not row["ok"] and "why" not in row:
        row["why"] = (
            "losses not finite"
            if not row["losses_finite"]
            else f"frozen tensors changed: {changed[:3]}"
            if changed
            else "no FLOP count"
            if flops <= 0
            else "reload loss not finite"
        )
    return row


def step4(precision, runs: Path, data: Path, method):
    """Swap the step-2 embeddings into the step-3 classifier; accuracy on German (CPU, as `minimodel` does)."""
    from minimodel_fairseq import cli
    from minimodel_fairseq.evaluate import evaluate_classifier

    out = runs / f"transfer_{method}.pt"
    row = {"precision": precision, "step": f"step 4 swap {method} + score de", "rc": 0}
    t = time.time()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            rc = cli.main(
                [
                    "swap-embeddings",
                    "--classifier",
                    str(runs / "step3" / "checkpoint_last.pt"),
                    "--embeddings",
                    str(runs / f"step2_{method}" / "checkpoint_last.pt"),
                    "--out",
                    str(out),
                    "--force",
                ]
            )
        r = evaluate_classifier(str(out), str(data / "de" / "cls"))
        row.update(
            rc=rc or 0,
            accuracy=r["accuracy"],
            n=r["n"],
            ok=(rc or 0) == 0 and 0 <= r["accuracy"] <= 1,
        )
    except Exception as e:
        row.update(ok=False, why=f"{type(e).__name__}: {e}")
    row["seconds"] = time.time() - t
    return row


def table(rows, header):
    lines = [
        header,
        "",
        "| precision | step | exit | updates | last loss | losses finite | frozen bitwise | ckpt dtype "
        "| CPU reload valid loss | TFLOPs | s | ok |",
        "|---|---|---|---:|---:|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        if r["step"].startswith("step 4"):
            acc = f"accuracy {r['accuracy']:.3f} (n={r['n']})" if "accuracy" in r else "-"
            lines.append(
                f"| {r['precision']} | {r['step']} | {r['rc']} | | | | | | {acc} | | "
                f"{r['seconds']:.0f} | {'yes' if r['ok'] else 'NO'} |"
            )
            continue
        lines.append(
            f"| {r['precision']} | {r['step']} | {r['rc']} | {r['updates']} | {r['last_loss']:.3f} | "
            f"{'yes' if r['losses_finite'] else 'NO'} | {r.get('frozen', '-')}{'' if r.get('frozen_ok', True) else ' NO'} "
            f"| {r.get('dtypes', '-')} | {r.get('reload_loss', float('nan')):.3f} | {r.get('tflops', 0):.4f} | "
            f"{r['seconds']:.0f} | {'yes' if r['ok'] else 'NO'} |"
        )
    failed = [f"{r['precision']} {r['step']}: {r.get('why', '?')}" for r in rows if not r["ok"]]
    lines += [
        "",
        "GPU CHECK PASSED" if not failed else "GPU CHECK FAILED:\n  " + "\n  ".join(failed),
    ]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--device",
        choices=["cuda", "cpu"],
        default="cuda",
        help="cuda (default; fails without a GPU) or cpu (a dry run of the same checks)",
    )
    p.add_argument(
        "--precisions",
        nargs="+",
        choices=["fp32", "fp16", "bf16"],
        help="default: fp16 bf16 on cuda, fp32 bf16 on cpu",
    )
    p.add_argument("--updates", type=int, default=20, help="updates per training run (default 20)")
    p.add_argument(
        "--timeout", type=int, default=150, help="seconds one training run may take (default 150)"
    )
    p.add_argument(
        "--out",
        type=Path,
        help="also write the table here (default: $OUT/gpu_check.txt if $OUT is set)",
    )
    p.add_argument(
        "--workdir", type=Path, help="keep data and runs here (default: a temporary directory)"
    )
    p.add_argument(
        "--data",
        type=Path,
        help="an already prepared data dir with en/ and de/ (default: prepare "
        "the fixture verses, as tests/conftest.py's bible_data does)",
    )
    opt = p.parse_args()
    if opt.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check: torch sees no CUDA device; run with --device cpu for a dry run")
    precisions = opt.precisions or (["fp16", "bf16"] if opt.device == "cuda" else ["fp32", "bf16"])
    out = opt.out or (Path(os.environ["OUT"]) / "gpu_check.txt" if os.environ.get("OUT") else None)
    import fairseq

    logging.getLogger().setLevel(
        logging.WARNING
    )  # the in-process reloads would log every dataset they load
    dev = (
        torch.cuda.get_device_name(0)
        if opt.device == "cuda"
        else f"CPU ({torch.backends.cpu.get_cpu_capability()})"
    )
    header = (
        f"gpu_check: {dev}, torch {torch.__version__}, fairseq {fairseq.__version__}, python "
        f"{sys.version.split()[0]}, {opt.updates} updates per run, precisions {' '.join(precisions)}"
    )
    print(header, flush=True)

    with contextlib.ExitStack() as stack:
        work = opt.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        t = time.time()
        data = opt.data or prepare(work)
        print(f"data prepared in {time.time() - t:.0f} s", flush=True)
        rows = []
        for precision in precisions:
            runs = work / precision
            for name, step_data, args, frozen_ref in steps(data, runs):
                save = (
                    runs
                    / {
                        "step 1 pretrain MiniJoint": "step1",
                        "step 2 full": "step2_full",
                        "step 2 mini": "step2_mini",
                        "step 3 fine-tune": "step3",
                    }[name]
                )
                rc, losses, secs = train(
                    save, step_data, args, precision, opt.device, opt.updates, opt.timeout
                )
                row = check_run(name, precision, save, rc, losses, secs, frozen_ref)
                if not row["ok"]:
                    row["log_tail"] = (save / "train.log").read_text()[-3000:]
                rows.append(row)
                print(
                    f"  {precision} {name}: {'ok' if row['ok'] else 'FAILED: ' + row['why']} ({secs:.0f} s)",
                    flush=True,
                )
                if name.startswith("step 1"):
                    if not row["ok"]:
                        break  # every later step needs this model
                    mini = surgery.to_roberta(
                        surgery.load_roberta_checkpoint(save / "checkpoint_last.pt"), head="mini"
                    )
                    files.save_checkpoint(mini, runs / "mini.pt", force=True)
            if all(r["ok"] for r in rows if r["precision"] == precision):
                rows += [step4(precision, runs, data, m) for m in ("full", "mini")]
        report = table(rows, header)
    print("\n" + report, flush=True)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report + "\n")
        tails = [
            f"==== {r['precision']} {r['step']}\n{r['log_tail']}" for r in rows if r.get("log_tail")
        ]
        if tails:
            out.with_suffix(".log").write_text("\n\n".join(tails))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
