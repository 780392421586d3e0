"""How modules import each other: no import circle in the package, no test importing a test.

A circle makes the import order matter and hides the layers (four modules of the token path
once closed one). Tests take their helpers from ``tests/support/``, so running one test file
never collects another's tests and fixtures.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.import_graph import cycles, import_graph, module_name

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_has_no_import_circle() -> None:
    graph = import_graph(ROOT / "shopify_sessions")
    assert len(graph) > 50  # the whole package was read
    assert cycles(graph) == []


def test_a_circle_closed_inside_a_function_is_found_and_type_checking_is_not(
    tmp_path: Path,
) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from .sub import b\n")
    (package / "sub" / "b.py").write_text("def later():\n    from ..c import name\n")
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import e\n"
    )
    (package / "e.py").write_text("from pkg import d\n")
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.d"] == set()
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


def test_no_test_module_imports_another_test_module() -> None:
    tests = ROOT / "tests"
    offenders = []
    for path in sorted(tests.rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        name = module_name(path, ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the importing module's package
                    package = name.split(".")[: -node.level]
                    base = ".".join([*package, base] if base else package)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {target}"
                for target in targets
                if target.split(".")[-1].startswith("test_")
            ]
    assert offenders == []


def test_package_modules_have_distinct_names() -> None:
    """Two modules of one name make tabs and tracebacks ambiguous (three ``lease.py`` once)."""
    seen: dict[str, list[str]] = {}
    for path in sorted((ROOT / "shopify_sessions").rglob("*.py")):
        if path.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
