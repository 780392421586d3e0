"""The docs' figures that come from code cannot drift, and the paths they name exist.

Generated parts (``<!-- generated: NAME -->``, see docs/hooks/generated.py) are rendered afresh
when the site is built; the committed text must be that rendering too, so that the files read
right on GitHub. A stale part fails here: ``.venv/bin/python docs/hooks/generated.py`` rewrites.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROSE = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "migrations_notes.md"]
PROSE += sorted((ROOT / "docs").rglob("*.md"))
# a path in backticks: from the repository's root, or inside the package
PATH = re.compile(
    r"`((?:examples|tests|bench|shopify_sessions|docs|requirements|\.ci)/[\w./-]*"
    r"|(?:dynamodb|domain|tokens|formats|memory|cli|local|importers|integrations|testing)/[\w.-]+\.py)"
)

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_generated", ROOT / "docs/hooks/generated.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATED = _hook()


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", GENERATED.documents(), ids=_name)
def test_generated_parts_are_current(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert GENERATED.render(text, where=_name(path)) == text, (
        f"{_name(path)}: a generated part is stale; run .venv/bin/python docs/hooks/generated.py"
    )


def test_defaults_are_the_codes() -> None:
    """The figures the README once contradicted itself on (15 s / 30 s against 3 s / 10 s)."""
    from shopify_sessions import DynamoDBSessionStorage

    defaults = GENERATED.defaults()
    storage = DynamoDBSessionStorage(region="us-east-1", host="http://127.0.0.1:9")
    assert (defaults["connect_timeout"], defaults["read_timeout"]) == (
        storage.connection.connect_timeout,
        storage.connection.read_timeout,
    )
    assert defaults["deadline"] == storage.retry.deadline
    configuration = (ROOT / "docs/reference/configuration.md").read_text(encoding="utf-8")
    connect, read = (
        GENERATED._seconds(storage.connection.connect_timeout),
        GENERATED._seconds(storage.connection.read_timeout),
    )
    assert f"{connect} connect, {read} read" in configuration


def test_unknown_generated_parts_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown generated part 'nope'"):
        GENERATED.render("<!-- generated: nope -->\n<!-- end generated: nope -->", where="x.md")


@pytest.mark.parametrize("path", [p for p in PROSE if p.exists()], ids=_name)
def test_named_paths_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    missing = sorted(
        {
            found
            for found in PATH.findall(text)
            if not (ROOT / found.split("::")[0]).exists()
            and not (ROOT / "shopify_sessions" / found).exists()
        }
    )
    assert not missing, f"{_name(path)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("path", [ROOT / "README.md", ROOT / "CONTRIBUTING.md"], ids=_name)
def test_relative_links_resolve(path: Path) -> None:
    """Links into docs/ from the files GitHub shows first (mkdocs checks docs/ itself)."""
    targets = [t for t in LINK.findall(path.read_text(encoding="utf-8")) if "://" not in t]
    assert targets
    missing = [t for t in targets if not (path.parent / t).exists()]
    assert not missing, f"{_name(path)} links to files that do not exist: {missing}"


IMPORT = re.compile(r"from\s+(shopify_sessions[\w.]*)\s+import\s+([\w, ]+)")


@pytest.mark.parametrize("path", [p for p in PROSE if p.exists()], ids=_name)
def test_named_imports_exist(path: Path) -> None:
    """Imports quoted anywhere (shell one-liners too), e.g. a module that moved."""
    import importlib

    missing = []
    for module, names in IMPORT.findall(path.read_text(encoding="utf-8")):
        try:
            imported = importlib.import_module(module)
        except ImportError:
            missing.append(module)
            continue
        missing += [
            f"{module}.{name.strip()}"
            for name in names.split(",")
            if name.strip() and not hasattr(imported, name.strip())
        ]
    assert not missing, f"{_name(path)} imports what does not exist: {missing}"
