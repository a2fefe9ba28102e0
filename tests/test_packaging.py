"""Packaging conventions: the library and the CLI run without napari, Qt or Jupyter (those are
the `napari` extra), and the npe2 manifest is a regular file inside the package."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import napari_sam2

PACKAGE = Path(napari_sam2.__file__).parent
ROOT = PACKAGE.parents[1]
# top-level modules that only the napari extra may bring in
GUI_MODULES = (
    "napari",
    "qtpy",
    "PySide6",
    "PySide2",
    "PyQt5",
    "PyQt6",
    "IPython",
    "ipykernel",
    "jupyter_client",
    "jupyter_core",
    "qtconsole",
    "magicgui",
    "npe2",
    "superqt",
    "vispy",
    "app_model",
)
# the napari plugin: it may import napari, Qt and magicgui (lazily, through the manifest)
GUI_PACKAGE = PACKAGE / "gui"


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    path = ROOT / "pyproject.toml"
    if not path.is_file():
        pytest.skip("not a source checkout")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    """'napari[pyside6]>=0.5' -> 'napari' (normalised like pip: lower case, '-' for '_' and '.')."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)).lower()


def test_cli_runs_without_importing_napari_qt_or_jupyter(tmp_path):
    """A CLI-only install has no napari: the commands must not even try to import it (the dev
    environment has napari installed, so any import would show in sys.modules)."""
    code = f"""
import json, sys
import napari_sam2, napari_sam2.cli
from napari_sam2.cli import main
rcs = [main(["weights", "list"]),
       main(["segment", "sample", "--point", "131,228", "--model", "demo", "--out", {str(tmp_path / "m.tif")!r}]),
       main(["track", "sample", "--model", "demo", "--out", {str(tmp_path / "labels.tif")!r},
             "--table", {str(tmp_path / "cells.csv")!r}, "--session", {str(tmp_path / "s.json")!r}])]
gui = sorted({{m.split(".")[0] for m in sys.modules}} & set({GUI_MODULES!r}))
print("RESULT", json.dumps({{"rcs": rcs, "gui": gui}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.split("RESULT", 1)[1])
    assert result["rcs"] == [0, 0, 0], done.stderr
    assert result["gui"] == [], f"the CLI imported {result['gui']}"
    assert (tmp_path / "labels.tif").is_file() and (tmp_path / "cells.csv").is_file()


def test_core_dependencies_leave_out_napari_and_qt():
    project = _pyproject()["project"]
    core = {_name(r) for r in project["dependencies"]}
    assert not core & {
        "napari",
        "magicgui",
        "npe2",
        "pyside6",
        "pyqt5",
        "pyqt6",
        "qtpy",
        "ipython",
        "distributed",
    }
    extras = project["optional-dependencies"]
    napari_extra = {_name(r) for r in extras["napari"]}
    assert {"napari", "magicgui", "npe2", "pyside6"} <= napari_extra
    assert "PySide6<6.12" in extras["napari"]  # 6.12.0 crashes long napari sessions
    assert any(
        r.startswith("napari-sam2[") and "napari" in r and "cluster" in r for r in extras["all"]
    )
    assert any(r.startswith("napari-sam2[") and "all" in r for r in extras["testing"])


def _third_party_imports(path: Path) -> set[str]:
    """Top-level names of every import in a file (module level and inside functions), ours left out."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n != "napari_sam2" and n not in sys.stdlib_module_names}


def test_library_imports_only_core_dependencies():
    """Every third-party module the library and CLI import comes from a core dependency, except
    the few that are optional on purpose (each import guarded or for one option)."""
    from importlib.metadata import packages_distributions

    core = {_name(r) for r in _pyproject()["project"]["dependencies"]}
    # .safetensors checkpoints; track --many --scheduler; the generator's coco_rle; video files
    optional = {"safetensors", "distributed", "pycocotools", "av"}
    owners = packages_distributions()
    missing = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if GUI_PACKAGE in path.parents:
            continue
        for module in _third_party_imports(path) - optional:
            dists = {_name(d) for d in owners.get(module, [module])}
            if not dists & core:
                missing.setdefault(module, []).append(str(path.relative_to(PACKAGE)))
    assert not missing, f"imported by the library but not a core dependency: {missing}"


def test_manifest_is_a_regular_file_in_the_package_and_valid():
    npe2 = pytest.importorskip("npe2")
    path = PACKAGE / "napari.yaml"
    assert path.is_file() and not path.is_symlink()
    assert not (ROOT / "napari.yaml").exists()  # one manifest, the one that ships
    manifest = npe2.PluginManifest.from_file(path)
    assert manifest.name == "napari-sam2"
    # every command points at a module of the package (found without importing napari or Qt)
    for command in manifest.contributions.commands:
        module, _, attr = command.python_name.partition(":")
        assert module.startswith("napari_sam2.") and attr
        assert importlib.util.find_spec(module) is not None, command.python_name
    entry = _pyproject()["project"]["entry-points"]["napari.manifest"]
    assert entry == {"napari-sam2": "napari_sam2:napari.yaml"}
