"""The tree stays formatted and lint-clean (``ruff format`` and ``ruff check`` at the line length in
pyproject.toml): an unused import or an undefined name fails here, not on a user's machine."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["src", "tests", "benchmarks", "docs"]


def ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("command", [("format", "--check"), ("check",)], ids=["format", "check"])
def test_ruff_is_clean(command):
    done = ruff(*command)
    assert done.returncode == 0, f"ruff {' '.join(command)} found:\n{done.stdout}{done.stderr}"


def test_ruff_finds_an_undefined_name(tmp_path):
    """The check can fail: a file with an undefined name is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    return CROP\n")
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "F821" in done.stdout
