"""The package's layers (shared design, "Layers of the code") hold: every import, read with ast, points downwards."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import napari_sam2

PACKAGE_DIR = Path(napari_sam2.__file__).parent

BASE = {"notices", "threads", "heap", "device", "synthetic"}
BELOW_TOP = {"model", "io", "settings", "weights", "loading", "predictor", "engine", *BASE}
# which layers each layer may import (its own layer is always allowed)
ALLOWED: dict[str, set[str]] = {
    "notices": set(),
    "threads": {"notices"},
    "heap": set(),  # giving freed memory back to the system (glibc's malloc_trim)
    "device": {"notices"},
    "synthetic": {"notices"},
    "model": {"notices"},
    "io": {"notices"},
    "settings": {
        "io",
        "notices",
    },  # the run's settings as types: no torch (the widget docks without it)
    "weights": {"notices", "model"},  # model.configs only: see WEIGHTS_MAY_IMPORT
    "loading": {
        "model",
        "weights",
        "notices",
        "device",
    },  # device: picking one, the memory a size needs
    "predictor": {"model", "loading", "io", *BASE},
    "engine": {"predictor", "model", "loading", "io", "settings", *BASE},
    "init": {"loading", "predictor"},  # lazily only: see test_package_init_imports_lazily
    # the official module names (napari_sam2.build_sam, ...): re-exports only
    # (test_compat_modules_only_re_export)
    "compat": {"loading", "predictor"},
    # the top layers take the public names from the package (`from napari_sam2 import build_sam2`)
    "train": BELOW_TOP | {"init"},
    # `napari-sam2 finetune` (cli/finetune.py) drives the trainer: the one allowed edge between top layers
    "cli": BELOW_TOP | {"init", "train"},
    "gui": BELOW_TOP | {"init"},
}
WEIGHTS_MAY_IMPORT = {"napari_sam2.model.configs"}

QT = {"qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt", "vispy", "magicgui"}
# third-party packages a layer must not import, at any level
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {
    layer: ({"napari"} | QT) for layer in ALLOWED if layer != "gui"
}
FORBIDDEN_THIRD_PARTY["io"] = {"torch", "napari"} | QT
FORBIDDEN_THIRD_PARTY["settings"] = {"torch", "napari"} | QT

COMPAT_MODULES = {
    "build_sam",
    "sam2_image_predictor",
    "sam2_video_predictor",
    "automatic_mask_generator",
}


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name inside the package (its first part is the package); None if unknown."""
    parts = module.split(".")
    if len(parts) == 1:
        return "init"
    top = parts[1]
    if top in (
        "model",
        "io",
        "predictor",
        "engine",
        "train",
        "loading",
        "weights",
        "settings",
        *BASE,
    ):
        return top
    if top == "cli":
        return "cli"
    if top == "gui":
        return "gui"
    if top in COMPAT_MODULES:
        return "compat"
    return None


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    line: int
    target: str  # absolute name of what it imports: a module of the package, or a third-party name
    text: str  # the import statement as written
    module_level: (
        bool  # runs when the module is imported (not in a function, not under TYPE_CHECKING)
    )

    def where(self) -> str:
        return f"{self.module}:{self.line} `{self.text}`"


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package in package_dir."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, module_level: bool):
    """(import node, runs at import time) for every import below node."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, module_level
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, False)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), False)
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), module_level)
        else:
            yield from _walk(child, module_level)


def collect_imports(package_dir: Path) -> list[Import]:
    """Every import of every module in package_dir, relative ones resolved to absolute names."""
    names = module_names(package_dir)
    found = []
    for module, path in names.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node, module_level in _walk(
            ast.parse(path.read_text(encoding="utf-8"), str(path)), True
        ):
            text = ast.unparse(node)
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module
                # `from pkg import sub` imports the submodule; `from pkg import name` imports pkg itself
                targets = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in names else source
                    for alias in node.names
                ]
            for target in dict.fromkeys(targets):
                found.append(Import(module, node.lineno, target, text, module_level))
    return found


def edge_problems(imports: list[Import], root: str) -> list[str]:
    """Each import that the layer table forbids, as a message naming the module, line and statement."""
    problems = []
    for imp in imports:
        source = layer_of(imp.module)
        if source is None:
            problems.append(
                f"{imp.module}: in no layer; add it to the layer table in tests/test_layers.py"
            )
            continue
        if imp.target == root or imp.target.startswith(root + "."):
            target = layer_of(imp.target)
            if target is None:
                problems.append(f"{imp.where()}: imports {imp.target}, which is in no layer")
            elif target != source and target not in ALLOWED[source]:
                problems.append(
                    f"{imp.where()}: layer {source} may not import layer {target} ({imp.target})"
                )
            elif source == "weights" and target == "model" and imp.target not in WEIGHTS_MAY_IMPORT:
                problems.append(
                    f"{imp.where()}: weights may import only {sorted(WEIGHTS_MAY_IMPORT)} of the model"
                )
        else:
            top = imp.target.split(".")[0]
            if top in FORBIDDEN_THIRD_PARTY.get(source, set()):
                problems.append(f"{imp.where()}: layer {source} may not import {top}")
    return problems


def layer_cycles(imports: list[Import], root: str) -> list[str]:
    """The cycles of the layer graph drawn by module-level imports, each with the imports that make it."""
    edges: dict[str, dict[str, Import]] = {}
    for imp in imports:
        if not imp.module_level or not (imp.target == root or imp.target.startswith(root + ".")):
            continue
        source, target = layer_of(imp.module), layer_of(imp.target)
        if source and target and source != target:
            edges.setdefault(source, {}).setdefault(target, imp)
    cycles, done, path = [], set(), []

    def visit(layer: str) -> None:
        path.append(layer)
        for nxt in sorted(edges.get(layer, {})):
            if nxt in path:
                loop = path[path.index(nxt) :] + [nxt]
                steps = "; ".join(
                    f"{a} -> {b} by {edges[a][b].where()}" for a, b in zip(loop, loop[1:])
                )
                cycles.append(" -> ".join(loop) + f": {steps}")
            elif nxt not in done:
                visit(nxt)
        path.pop()
        done.add(layer)

    for layer in sorted(edges):
        if layer not in done:
            visit(layer)
    return cycles


# ---------------------------------------------------------------- the real package


def test_every_module_is_read_and_in_a_layer():
    names = module_names(PACKAGE_DIR)
    assert {
        "napari_sam2.model.sam2_base",
        "napari_sam2.io.exports",
        "napari_sam2.engine.session",
        "napari_sam2.gui.widget",
        "napari_sam2.cli.finetune",
    } <= set(names)
    assert [name for name in names if layer_of(name) is None] == []


def test_every_import_is_allowed_by_the_layer_table():
    imports = collect_imports(PACKAGE_DIR)
    assert len(imports) > 300  # the reader really read the package
    problems = edge_problems(imports, "napari_sam2")
    assert problems == [], "\n".join(problems)


def test_every_import_of_the_package_names_a_module_that_exists():
    """A relative import inside a function runs only when called: one that points nowhere (say
    ``from .io import x`` in a module moved one level down) fails here, not in a user's run."""
    names = module_names(PACKAGE_DIR)
    missing = [
        f"{imp.where()}: {imp.target} does not exist"
        for imp in collect_imports(PACKAGE_DIR)
        if imp.target.startswith("napari_sam2") and imp.target not in names
    ]
    assert missing == [], "\n".join(missing)


def test_module_level_layer_graph_has_no_cycle():
    cycles = layer_cycles(collect_imports(PACKAGE_DIR), "napari_sam2")
    assert cycles == [], "\n".join(cycles)


def test_model_never_imports_weights_or_loading():
    bad = [
        imp.where()
        for imp in collect_imports(PACKAGE_DIR)
        if layer_of(imp.module) == "model"
        and layer_of(imp.target) in ("weights", "loading")
        and imp.target.startswith("napari_sam2.")
    ]
    assert bad == [], "the model <-> weights loop is back: " + "; ".join(bad)


def test_package_init_imports_lazily():
    eager = [
        imp.where()
        for imp in collect_imports(PACKAGE_DIR)
        if imp.module == "napari_sam2" and imp.module_level and imp.target.startswith("napari_sam2")
    ]
    assert eager == [], (
        "napari_sam2/__init__.py must import its parts inside functions: " + "; ".join(eager)
    )


def test_compat_modules_only_re_export():
    """The official module names are a thin surface: a docstring, imports, ``__all__``."""
    for name in sorted(COMPAT_MODULES):
        tree = ast.parse((PACKAGE_DIR / f"{name}.py").read_text(encoding="utf-8"))
        body = tree.body[1:] if ast.get_docstring(tree) else tree.body
        imported = set()
        for node in body:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported |= {alias.asname or alias.name for alias in node.names}
            elif isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["__all__"]:
                exported = set(ast.literal_eval(node.value))
            else:
                raise AssertionError(f"{name}.py: {ast.unparse(node)[:60]!r} is not a re-export")
        assert exported == imported, name


# ---------------------------------------------------------------- the checker itself


def write_fake_package(tmp_path: Path) -> Path:
    files = {
        "fakepkg/__init__.py": "",
        "fakepkg/notices.py": "",
        "fakepkg/model/__init__.py": "",
        # model -> loading (forbidden), module level: with loading -> model, a cycle
        "fakepkg/model/a.py": "from ..loading import load\nfrom . import b\n",
        "fakepkg/model/b.py": "import torch\n",
        "fakepkg/loading.py": "from fakepkg.model.a import thing\n\ndef load():\n    pass\n",
        # io imports torch inside a function: forbidden at any level
        "fakepkg/io/__init__.py": "",
        "fakepkg/io/exports.py": "def write():\n    import torch.nn\n    from .. import notices\n",
        # an engine that imports the widget lazily (forbidden) and the cli only for type checking (forbidden)
        "fakepkg/engine/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from fakepkg.cli import main\n",
        "fakepkg/engine/run.py": "def go():\n    from fakepkg.gui import widget\n",
        "fakepkg/cli.py": "from fakepkg.engine import run\n",
        "fakepkg/gui/__init__.py": "",
        "fakepkg/gui/widget.py": "import napari\n",
        "fakepkg/stray.py": "import os\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path / "fakepkg"


def test_checker_resolves_relative_imports_and_levels(tmp_path):
    imports = {
        (imp.module, imp.target): imp for imp in collect_imports(write_fake_package(tmp_path))
    }
    assert imports["fakepkg.model.a", "fakepkg.loading"].module_level
    assert imports["fakepkg.model.a", "fakepkg.model.b"].module_level
    assert not imports["fakepkg.io.exports", "torch.nn"].module_level
    assert not imports["fakepkg.io.exports", "fakepkg.notices"].module_level
    assert not imports["fakepkg.engine", "fakepkg.cli"].module_level  # under TYPE_CHECKING
    assert not imports["fakepkg.engine.run", "fakepkg.gui.widget"].module_level
    assert imports["fakepkg.cli", "fakepkg.engine.run"].module_level


def test_checker_finds_forbidden_edges_and_cycles(tmp_path):
    imports = collect_imports(write_fake_package(tmp_path))
    problems = edge_problems(imports, "fakepkg")
    assert problems == [
        "fakepkg.engine:3 `from fakepkg.cli import main`: layer engine may not import layer cli (fakepkg.cli)",
        "fakepkg.engine.run:2 `from fakepkg.gui import widget`: layer engine may not import layer gui "
        "(fakepkg.gui.widget)",
        "fakepkg.io.exports:2 `import torch.nn`: layer io may not import torch",
        "fakepkg.model.a:1 `from ..loading import load`: layer model may not import layer loading "
        "(fakepkg.loading)",
        "fakepkg.stray: in no layer; add it to the layer table in tests/test_layers.py",
    ]
    cycles = layer_cycles(imports, "fakepkg")
    assert cycles == [
        "loading -> model -> loading: loading -> model by fakepkg.loading:1 "
        "`from fakepkg.model.a import thing`; model -> loading by fakepkg.model.a:1 "
        "`from ..loading import load`"
    ]
