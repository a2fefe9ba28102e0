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


def _package_imports(path: Path):
    """``(line, module, names)`` of each absolute ``from napari_sam2... import`` in a script."""
    import ast

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "napari_sam2":
                yield node.lineno, node.module, [a.name for a in node.names]


def test_benchmarks_and_doc_scripts_import_what_exists():
    """Scripts outside the package are not imported by the suite: a module moved in the package
    (say ``train/quality.py`` to ``train/demo/quality.py``) would break them unseen."""
    import importlib
    import importlib.util

    missing = []
    scripts = sorted((ROOT / "benchmarks").glob("*.py")) + sorted((ROOT / "docs").glob("*.py"))
    assert len(scripts) > 10
    for path in scripts:
        for line, module, names in _package_imports(path):
            if importlib.util.find_spec(module) is None:
                missing.append(f"{path.name}:{line} {module}")
                continue
            loaded = importlib.import_module(module)
            for name in names:
                if (
                    not hasattr(loaded, name)
                    and importlib.util.find_spec(f"{module}.{name}") is None
                ):
                    missing.append(f"{path.name}:{line} {module}.{name}")
    assert missing == [], missing
