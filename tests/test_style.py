"""Style is enforced by tools (pyproject.toml's [tool.ruff]): the linter and the formatter find nothing."""

import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.parametrize(
    "command", [["check", "."], ["format", "--check", "."]], ids=["check", "format"]
)
def test_ruff_finds_nothing(command):
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, (
        f"ruff {' '.join(command)}:\n{proc.stdout[-3000:]}{proc.stderr[-1000:]}\n"
        "fix with: .venv/bin/ruff check --fix . && .venv/bin/ruff format ."
    )
