"""The apps depend on each other one way, and imports sit at the top of their modules.

Three layers, shown by the folders: instrument basics at the bottom (``etfs`` models, symbols,
calendar, dates, names, providers, and ``etfs.rest``, the REST API's shared pieces); bars in
``prices`` above them (models, writing, quarantine, reading, adjustments, and their API and
admin); sync, the instrument API, admin, tasks and pages on top. A module may import from its
own layer and the ones below, never above. Imports are read from the source with ``ast``, so
a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("etfs", "prices", "etfproject")
TOP = (
    "etfs.admin",
    "etfs.api",
    "etfs.charts",
    "etfs.fund_admin",
    "etfs.fund_charts",
    "etfs.management",
    "etfs.schedules",
    "etfs.site_urls",
    "etfs.sync",
    "etfs.tasks",
    "etfs.views",
)
# The simulator stands in for the providers' hosts; it is a tool beside the layers, not in them.
OUTSIDE = ("etfs.simulator",)


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def _modules() -> Iterator[tuple[str, Path]]:
    """Every application module: tests and migrations left out (a migration imports app code only
    when it runs, so that a later move cannot break loading the migration graph)."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imported(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """``(line, imported module)`` for every import in the file, wherever it stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # ``from etfs import sync`` imports etfs.sync
                yield node.lineno, f"{base}.{alias.name}"


def _layer(module: str) -> str | None:
    if _within(module, OUTSIDE) or module.startswith("etfproject"):
        return None
    if module.startswith("prices"):
        return "bars"
    if _within(module, TOP):
        return "top"
    return "basics" if module.startswith("etfs") else None


RANK = {"basics": 0, "bars": 1, "top": 2}


def _upward_imports() -> list[str]:
    found = []
    for module, path in _modules():
        layer = _layer(module)
        if layer is None:
            continue
        for line, target in _imported(module, path):
            target_layer = _layer(target)
            if target_layer is not None and RANK[target_layer] > RANK[layer]:
                found.append(
                    f"{path.relative_to(ROOT)}:{line}: {layer} module {module} imports {target} ({target_layer})"
                )
    return sorted(set(found))


def test_no_module_imports_from_a_layer_above_its_own():
    assert _upward_imports() == []


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("etfs.models", "basics"),
        ("etfs.providers.eastmoney", "basics"),
        ("etfs.rest.lookup", "basics"),
        ("prices.writer", "bars"),
        ("prices.api.views", "bars"),
        ("etfs.sync.service", "top"),
        ("etfs.api.views", "top"),
        ("etfs.admin", "top"),
    ],
)
def test_modules_are_placed_in_the_layer_their_folder_says(module, layer):
    assert _layer(module) == layer


def test_the_layer_check_sees_an_upward_import_inside_a_function(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from etfs.sync import service\n")
    assert ("etfs.sync.service" in {target for _, target in _imported("prices.probe", source)}) is True
    assert RANK[_layer("etfs.sync.service")] > RANK[_layer("prices.probe")]


def _function_level_imports(path: Path) -> Iterator[ast.stmt]:
    """Imports inside a function or class body (module-level ``if``/``try`` blocks are still the top)."""

    def visit(node: ast.AST, *, nested: bool) -> Iterator[ast.stmt]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom) and nested:
                yield child
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
            yield from visit(child, nested=inner)

    yield from visit(ast.parse(path.read_text(), str(path)), nested=False)


def _commented(lines: list[str], index: int) -> bool:
    """A comment on the import's line, on an import just above it (a block of them), or on the line
    above the block."""
    while True:
        line = lines[index].strip()
        if "#" in line:
            return True
        above = lines[index - 1].strip() if index else ""
        if above.startswith("#"):
            return True
        if not above.startswith(("import ", "from ")):
            return False
        index -= 1


def test_every_import_inside_a_function_says_why_it_is_there():
    unexplained = []
    for _, path in _modules():
        lines = path.read_text().splitlines()
        for node in _function_level_imports(path):
            if not _commented(lines, node.lineno - 1):
                unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert unexplained == []
