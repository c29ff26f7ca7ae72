"""Imports run one way: `models/` <- `pipeline/` <- `kinds/` <- `components/` <- `dag.py`, the CLI on top.

Over the import graph of every module (imports inside functions included, as `pipeline.code` reads them):
a module imports only from its own layer and those below; a kind imports `kinds.base`, its own package,
`models/` and `pipeline/`, never another kind or a stage; `kinds.base` imports no kind; the framework
(`pipeline/` but for the CLI) imports no kind and no stage.
"""

from __future__ import annotations

import pathlib

import pytest

from pipeline import code

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ("pipeline/cli.py", "pipeline/__main__.py", "pipeline/commands/")
LAYERS = {"models": 0, "pipeline": 1, "kinds": 2, "components": 3, "dag.py": 4, "cli": 5}


def layer(path: pathlib.Path) -> tuple[int, str]:
    name = path.relative_to(ROOT).as_posix()
    if name.startswith(CLI):
        return LAYERS["cli"], "the CLI"
    top = name.split("/")[0]
    return LAYERS[top], top


def modules() -> list[pathlib.Path]:
    found = [ROOT / "dag.py"]
    for top in ("models", "pipeline", "kinds", "components"):
        found += sorted((ROOT / top).rglob("*.py"))
    return [path for path in found if "__pycache__" not in path.parts]


def kind_of(path: pathlib.Path) -> str | None:
    """The kind package a file belongs to (`tagger`), `base`, or None outside kinds/ (and for the registry)."""
    parts = path.relative_to(ROOT).parts
    return parts[1] if parts[0] == "kinds" and len(parts) > 2 else None


@pytest.mark.parametrize("path", modules(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_a_module_imports_only_its_own_layer_and_those_below(path):
    level, name = layer(path)
    for imported in code.project_imports(path, ROOT):
        if imported.is_relative_to(ROOT / "tests"):
            continue
        below, other = layer(imported)
        assert below <= level, f"{name} ({path.relative_to(ROOT)}) imports {imported.relative_to(ROOT)} ({other})"


@pytest.mark.parametrize("path", [p for p in modules() if kind_of(p)], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_kind_imports_the_kinds_base_and_its_own_package_only(path):
    mine = kind_of(path)
    for imported in code.project_imports(path, ROOT):
        relative = imported.relative_to(ROOT)
        if relative.parts[0] != "kinds":
            continue
        theirs = kind_of(imported)
        assert relative.as_posix() != "kinds/__init__.py", f"{path.relative_to(ROOT)} imports the registry"
        assert theirs in ("base", mine), f"{path.relative_to(ROOT)} imports {relative}"
        if mine == "base":
            assert theirs == "base", f"kinds/base imports a kind: {path.relative_to(ROOT)} -> {relative}"
