"""Every Python block of README.md, migrations_notes.md and docs/ runs, or is a true excerpt.

The blocks of one document run in order in one namespace (Sybil), against moto's server on
loopback: ``AWS_ENDPOINT_URL_DYNAMODB`` points there, so ``DynamoDBSessionStorage()`` finds it
as an app would find its endpoint. Tables a document creates are dropped after it, and the
environment it changes is put back. The line right before a block may say:

- ``<!-- excerpt: PATH -->``: the block is not run; its non-blank lines must appear, in order,
  in PATH (a file the suite tests, e.g. ``examples/flask_app/app.py``);
- ``<!-- not run: REASON -->``: the block cannot run here (real AWS or a real Shopify admin).

Hidden set-up and checks are Sybil's ``<!-- invisible-code-block: python ... -->``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import boto3
import pytest
from sybil import Example, Sybil
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown import CodeBlockParser

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "migrations_notes.md",
    *sorted((ROOT / "docs").rglob("*.md")),
]
MARKER = re.compile(r"<!-- (excerpt|not run): (.+?) -->")
FENCE = re.compile(r"^[ \t]*```python[ \t]*$", re.MULTILINE)

_run = PythonEvaluator()


def marker(example: Example) -> tuple[str, str] | None:
    """The ``excerpt`` / ``not run`` marker on the line right before the block, if any."""
    before = example.document.text[: example.region.start]
    fence_line = before.rfind("\n")
    previous = before[:fence_line].rsplit("\n", 1)[-1].strip() if fence_line >= 0 else ""
    found = MARKER.fullmatch(previous)
    return (found[1], found[2].strip()) if found else None


def missing_from(block: str, path: Path) -> str | None:
    """The first line of ``block`` not found (in order) in ``path``; None when all are.

    Lines are compared without their indentation: an excerpt from inside a function reads
    better dedented, and the parser may dedent it anyway."""
    lines = iter(line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    for wanted in (line.strip() for line in block.splitlines() if line.strip()):
        if not any(line == wanted for line in lines):
            return wanted
    return None


def evaluate(example: Example) -> str | None:
    found = marker(example)
    if found is None:
        _run(example)
        return None
    kind, what = found
    if kind == "not run":
        return None if what else "<!-- not run: --> needs a reason"
    path = ROOT / what
    if not path.is_file():
        return f"excerpt of {what}: no such file"
    line = missing_from(str(example.parsed), path)
    if line is not None:
        return f"excerpt of {what}: this line is not there (or not in this order): {line!r}"
    return None


SYBIL = Sybil(parsers=[CodeBlockParser("python", evaluate)])


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.fixture
def documents_endpoint(moto_server_endpoint: str, tmp_path: Path) -> Iterator[str]:
    """moto's server as the environment's endpoint; new tables dropped, the env restored."""
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server_endpoint)
    before = set(client.list_tables()["TableNames"])
    cwd = Path.cwd()
    os.chdir(tmp_path)  # files a block writes stay out of the repository
    try:
        with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL_DYNAMODB": moto_server_endpoint}):
            yield moto_server_endpoint
    finally:
        os.chdir(cwd)
        for table in set(client.list_tables()["TableNames"]) - before:
            client.delete_table(TableName=table)


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_python_blocks_run(path: Path, documents_endpoint: str) -> None:
    document = SYBIL.parse(path)
    for example in document:
        example.evaluate()


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_every_python_fence_is_seen(path: Path) -> None:
    """A fence Sybil's lexer did not see would be neither run nor checked."""
    text = path.read_text(encoding="utf-8")
    fenced = [e for e in SYBIL.parse(path) if text[e.region.start :].lstrip().startswith("```")]
    assert len(fenced) == len(FENCE.findall(text))


def test_an_excerpt_must_match_its_file(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text("def create_app():\n    app = Flask(__name__)\n    return app\n")
    assert missing_from("def create_app():\n\n    return app\n", source) is None
    assert missing_from("    return app\ndef create_app():\n", source) == "def create_app():"
    assert missing_from("    app = Flask(name)\n", source) == "app = Flask(name)"
