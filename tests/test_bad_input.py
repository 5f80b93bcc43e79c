"""The rows of docs/usage.md's bad-input table that other test files do not already cover.

Each case runs the real command, and checks that it exits non-zero with one
message naming the file and what to do, and that nothing already on disk
changed (a sentinel output file keeps its bytes; no new file appears).
"""

import errno
import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, TINY_TRAIN, run_cli, step2_cmd

pytestmark = pytest.mark.slow
USER_DIR = str(ROOT / "minimodel_fairseq")


def step3_cmd(bible_data, body, save, data=None):
    return [
        "fairseq-train",
        str(data or bible_data / "en" / "cls"),
        "--user-dir",
        USER_DIR,
        "--task",
        "sentence_prediction_frozen_embeddings",
        "--criterion",
        "sentence_prediction",
        "--arch",
        "roberta",
        "--body-checkpoint",
        str(body),
        "--num-classes",
        "6",
        "--init-token",
        "0",
        "--max-positions",
        "64",
        *TINY_TRAIN,
        "--max-update",
        "1",
        "--save-dir",
        str(save),
    ]


def _snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def files(tiny_minijoint, bible_data, tmp_path):
    """Bad files next to a good one; `out` already exists and must survive every failure."""
    good = tiny_minijoint.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(good[: len(good) // 2])
    (tmp_path / "garbage.pt").write_bytes(b"this is not a checkpoint\n" * 10)
    (tmp_path / "a_directory.pt").mkdir()
    (tmp_path / "no_dict").mkdir()
    (tmp_path / "no_dict" / "train.bin").write_bytes(b"")
    (tmp_path / "out.pt").write_bytes(b"precious")
    shutil.copytree(bible_data / "en" / "cls" / "input0", tmp_path / "cls_no_label" / "input0")
    run_cli(["minimodel", "extract-mini", str(tiny_minijoint), "--out", str(tmp_path / "plain.pt")])
    return tmp_path


def _cases(bible_data, tiny_minijoint, transformer_lm, f):
    """name -> (command, the message stderr must contain)."""
    save = f / "save"
    return {
        "checkpoint path is a directory": (
            ["minimodel", "extract-mini", str(f / "a_directory.pt"), "--out", str(f / "new.pt")],
            f"checkpoint {f / 'a_directory.pt'} does not exist (or is not a file): check the path",
        ),
        "truncated checkpoint (extract-mini)": (
            ["minimodel", "extract-mini", str(f / "truncated.pt"), "--out", str(f / "new.pt")],
            f"cannot read checkpoint {f / 'truncated.pt'}",
        ),
        "not a checkpoint at all (swap)": (
            [
                "minimodel",
                "swap-embeddings",
                "--classifier",
                str(f / "garbage.pt"),
                "--embeddings",
                str(tiny_minijoint),
                "--out",
                str(f / "new.pt"),
            ],
            f"cannot read checkpoint {f / 'garbage.pt'}",
        ),
        "truncated body checkpoint (step 2)": (
            step2_cmd(bible_data, f / "truncated.pt", save),
            f"cannot read checkpoint {f / 'truncated.pt'}",
        ),
        "translation-family checkpoint as step-2 body": (
            step2_cmd(bible_data, transformer_lm, save),
            f"{transformer_lm} is not a RoBERTa-family encoder checkpoint: found arch 'transformer_lm'",
        ),
        "translation-family checkpoint given to extract-mini": (
            ["minimodel", "extract-mini", str(transformer_lm), "--out", str(f / "new.pt")],
            "is not a RoBERTa-family encoder checkpoint",
        ),
        "layer count out of range (extract-mini --layers)": (
            [
                "minimodel",
                "extract-mini",
                str(tiny_minijoint),
                "--layers",
                "9",
                "--out",
                str(f / "new.pt"),
            ],
            "--layers",
        ),
        "data dir without dict.txt (step 2)": (
            step2_cmd(bible_data, tiny_minijoint, save, data=f / "no_dict"),
            f"{f / 'no_dict' / 'dict.txt'} is missing: {f / 'no_dict'} is not a binarized data directory",
        ),
        "data dir that does not exist (MiniJoint pretraining)": (
            [
                "fairseq-train",
                str(f / "nowhere"),
                "--user-dir",
                USER_DIR,
                "--task",
                "minijoint_mlm",
                "--criterion",
                "minijoint_mlm",
                "--arch",
                "minijoint_roberta_small",
                *TINY_TRAIN,
                "--save-dir",
                str(save),
            ],
            f"data directory {f / 'nowhere'} does not exist",
        ),
        "classification dir without label/dict.txt (step 3)": (
            step3_cmd(bible_data, tiny_minijoint, save, data=f / "cls_no_label"),
            f"{f / 'cls_no_label' / 'label' / 'dict.txt'} is missing",
        ),
        "step-3 data binarized with another language's dictionary": (
            step3_cmd(bible_data, tiny_minijoint, save, data=bible_data / "de" / "cls"),
            "dictionary mismatch: the data's input0/dict.txt is not the dictionary",
        ),
        "extract-mini on a plain RoBERTa (no secondary head)": (
            ["minimodel", "extract-mini", str(f / "plain.pt"), "--out", str(f / "new.pt")],
            "has no secondary (mini) MLM head: extract-mini needs a MiniJoint checkpoint",
        ),
        "evaluate on a data dir without label/dict.txt": (
            [
                "minimodel",
                "evaluate",
                "--classifier",
                str(tiny_minijoint),
                "--data",
                str(f / "cls_no_label"),
            ],
            f"{f / 'cls_no_label'} is not a classification data dir: {f / 'cls_no_label' / 'label' / 'dict.txt'} is missing",
        ),
        "evaluate on a split the data dir does not have": (
            [
                "minimodel",
                "evaluate",
                "--classifier",
                str(tiny_minijoint),
                "--data",
                str(bible_data / "en" / "cls"),
                "--subset",
                "tset",
            ],
            f"{bible_data / 'en' / 'cls'} has no split 'tset' (it has: test, train, valid): give --subset one of those",
        ),
        "MiniJoint pretraining without --arch": (
            [
                "fairseq-train",
                str(bible_data / "en" / "mlm"),
                "--user-dir",
                USER_DIR,
                "--task",
                "minijoint_mlm",
                "--criterion",
                "minijoint_mlm",
                "--mini-layer",
                "2",
                *TINY_TRAIN,
                "--save-dir",
                str(save),
            ],
            "--task minijoint_mlm needs --arch (in a hydra config: model._name): pass --arch "
            "minijoint_roberta_small (or _base/_large, or your own minijoint_roberta architecture)",
        ),
        "MiniPost without --arch": (
            [
                "fairseq-train",
                str(bible_data / "en" / "mlm"),
                "--user-dir",
                USER_DIR,
                "--task",
                "minipost_mlm",
                "--criterion",
                "masked_lm",
                "--source-checkpoint",
                str(tiny_minijoint),
                *TINY_TRAIN,
                "--save-dir",
                str(save),
            ],
            "--task minipost_mlm needs --arch (in a hydra config: model._name): pass --arch minipost_roberta "
            "--source-checkpoint BIG.pt --mini-layers K --mini-new-layers M",
        ),
        "output exists (extract-mini without --force)": (
            ["minimodel", "extract-mini", str(tiny_minijoint), "--out", str(f / "out.pt")],
            f"{f / 'out.pt'} exists: choose another --out or pass --force to overwrite it",
        ),
    }


CASE_NAMES = list(_cases(*[Path("placeholder")] * 4))  # the commands only format paths


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_fails_clearly_and_touches_nothing(
    case, bible_data, tiny_minijoint, transformer_lm, files
):
    cmd, message = _cases(bible_data, tiny_minijoint, transformer_lm, files)[case]
    before = _snapshot(files)
    proc = run_cli(cmd, cwd=ROOT, check=False)
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert message in proc.stderr, proc.stderr[-3000:]
    if cmd[0] == "minimodel":  # our own commands: exactly one line, exit status 2
        assert proc.returncode == 2 and proc.stderr.count(": error: ") == 1, proc.stderr
    assert _snapshot(files) == before  # nothing written, nothing changed (out.pt still "precious")


def _torch_save_fails(error):
    """torch.save that writes a little, then fails as a full disk makes it fail."""

    def save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"x" * 64)
        raise error

    return save


def _mkstemp_fails(error):
    def mkstemp(*args, **kwargs):
        raise error

    return mkstemp


def _safetensors_fails(*args, **kwargs):
    from safetensors import SafetensorError

    raise SafetensorError(
        "Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
        'message: "No space left on device" })'
    )


OS_CASES = {  # name: (what to patch, command after the checkpoint, expected line after "error: ")
    "disk full (torch's writer)": (
        (
            "torch",
            "save",
            _torch_save_fails(
                RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")
            ),
        ),
        "extract-mini",
        r"cannot write OUT: no space left on the device \(disk full \(0 MB written before the write failed\); "
        r"\d+ MB free there\): free some space or choose another --out",
    ),
    "disk full (OSError)": (
        (
            "torch",
            "save",
            _torch_save_fails(OSError(errno.ENOSPC, "No space left on device", "TMP")),
        ),
        "extract-mini",
        r"cannot write TMP: no space left on the device \(disk full; \d+ MB free there\): "
        r"free some space or choose another --out",
    ),
    "disk full (safetensors, export-hf)": (
        ("transformers.modeling_utils", "safe_save_file", _safetensors_fails),
        "export-hf",
        r"cannot write OUT: no space left on the device \(disk full "
        r"\(\d+ MB written before the write failed\); \d+ MB free there\): "
        r"free some space or choose another --out",
    ),
    "read-only folder": (
        (
            "tempfile",
            "mkstemp",
            _mkstemp_fails(OSError(errno.EROFS, "Read-only file system", "DIR")),
        ),
        "extract-mini",
        r"read-only file system: DIR: choose another --out on a writable disk",
    ),
    "permission denied": (
        (
            "tempfile",
            "mkstemp",
            _mkstemp_fails(PermissionError(errno.EACCES, "Permission denied", "DIR")),
        ),
        "extract-mini",
        r"permission denied: DIR: choose another --out or change the folder's permissions",
    ),
    "--out an existing directory, with --force": (
        None,
        "extract-mini",
        r"OUT is a directory: give --out a file name \(a directory is "
        r"never replaced\)",
    ),
}


@pytest.mark.parametrize("case", list(OS_CASES))
def test_os_errors_are_one_line_exit_2_and_leave_nothing(
    case, tiny_minijoint, tmp_path, monkeypatch, capsys
):
    """Disk full, read-only, permission, a directory as --out: one line, exit 2, no partial or hidden file,
    an existing output untouched (fault injection: the failing call patched, as root bypasses modes)."""
    import importlib

    from minimodel_fairseq import cli

    patch, command, expected = OS_CASES[case]
    out = tmp_path / ("out" if case.startswith("--out") or command == "export-hf" else "out.pt")
    if command == "export-hf" or case.startswith("--out"):
        out.mkdir()
        (out / "sentinel").write_text("keep me")
    else:
        out.write_bytes(b"an earlier output")
    before = _snapshot(tmp_path)
    if patch:
        monkeypatch.setattr(importlib.import_module(patch[0]), patch[1], patch[2])
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, str(tiny_minijoint), "--out", str(out), "--force"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_.value.code == 2 and len(lines) == 1, lines
    expected = expected.replace(
        "OUT", re.escape(str(out))
    )  # DIR, TMP: the names the patched call gave
    assert re.fullmatch(rf"minimodel {command}: error: {expected}", lines[0]), lines[0]
    assert _snapshot(tmp_path) == before  # the old output as it was, nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left beside it


def test_a_value_error_shows_its_traceback_with_minimodel_debug(
    tiny_minijoint, tmp_path, monkeypatch, capsys
):
    """A ValueError is one line (it is usually the user's); MINIMODEL_DEBUG=1 lets it through with its traceback."""
    from minimodel_fairseq import cli, surgery

    def bug(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr(surgery, "to_roberta", bug)
    args = ["extract-mini", str(tiny_minijoint), "--out", str(tmp_path / "mini.pt")]
    with pytest.raises(SystemExit) as exit_:
        cli.main(args)
    assert (
        exit_.value.code == 2
        and capsys.readouterr().err == "minimodel extract-mini: error: an internal bug\n"
    )
    monkeypatch.setenv("MINIMODEL_DEBUG", "1")
    with pytest.raises(ValueError, match="an internal bug"):
        cli.main(args)
    assert not list(tmp_path.iterdir())
