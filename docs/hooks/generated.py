"""Figures the docs take from the code, the rules and the bench, never typed by hand.

A page marks a generated part as::

    <!-- generated: NAME -->
    ...
    <!-- end generated: NAME -->

At build time (an mkdocs hook) every such part is rendered afresh from its source, so the site
cannot drift; the committed text is the same rendering, so the files read right on GitHub
too, and ``tests/test_docs_generated.py`` fails when they are stale. Rewrite them with::

    .venv/bin/python docs/hooks/generated.py

Sources: defaults and limits from the package itself (a storage made with no environment,
signatures, constants), the Node differences from ``tests/support/differential_rules.py``
(what the differential suite runs), and the performance tables and plot from
``bench/results/bench.json`` (what ``python -m bench`` wrote).
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]

BENCH_JSON = ROOT / "bench" / "results" / "bench.json"
FLEET_JSON = ROOT / "bench" / "results" / "fleet.json"
BENCH_PNG_SITE = "explanation/bench.png"  # the plot drawn at build time, in the site

_BLOCK = re.compile(
    r"(?P<open><!-- generated: (?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- end generated: (?P=name) -->)",
    re.DOTALL,
)

# where a committed rendering links the plot (the site draws its own, at BENCH_PNG_SITE)
_PNG_ON_GITHUB = "../../bench/results/bench.png"


# --- figures from the code -----------------------------------------------------------------------


@contextmanager
def _no_environment() -> Iterator[None]:
    """The defaults a storage gets when nothing in the environment says otherwise."""
    keep = {"PATH", "HOME", "TMPDIR"}
    with mock.patch.dict(
        os.environ, {k: v for k, v in os.environ.items() if k in keep}, clear=True
    ):
        yield


def _seconds(value: float | timedelta) -> str:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds >= 86400 and seconds % 86400 == 0:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    return f"{seconds:g} s"


def defaults() -> dict[str, Any]:
    """Every default the docs quote, read from the package."""
    import pynamodb.settings
    from botocore.config import Config

    from shopify_sessions import DynamoDBSessionStorage, RetryPolicy, ShopifyTokenRefresher
    from shopify_sessions.dynamodb import item_size, table_requests

    with _no_environment():
        storage = DynamoDBSessionStorage(region="us-east-1")
    storage_parameters = inspect.signature(DynamoDBSessionStorage).parameters
    fresh = inspect.signature(DynamoDBSessionStorage.load_fresh_session).parameters
    refresher = inspect.signature(ShopifyTokenRefresher).parameters
    pynamodb_defaults = pynamodb.settings.default_settings_dict
    retry = RetryPolicy()
    values = {
        "table": storage.table_name,
        "index": storage.shop_index_name,
        "connect_timeout": storage.connection.connect_timeout,
        "read_timeout": storage.connection.read_timeout,
        "pynamodb_connect_timeout": pynamodb_defaults["connect_timeout_seconds"],
        "pynamodb_read_timeout": pynamodb_defaults["read_timeout_seconds"],
        "pool": storage.connection.max_pool_connections or Config().max_pool_connections,
        "max_concurrency": storage_parameters["max_concurrency"].default,
        "ttl_grace": storage_parameters["ttl_grace"].default,
        "attempts": retry.attempts,
        "base_delay": retry.base_delay,
        "max_delay": retry.max_delay,
        "stalled_rounds": retry.stalled_rounds,
        "deadline": retry.deadline,
        "within": fresh["within"].default,
        "lease": fresh["lease"].default,
        "refresh_timeout": refresher["timeout"].default,
        "item_bytes": item_size.MAX_ITEM_BYTES,
        "batch_get": table_requests.BATCH_GET_SIZE,
        "batch_write": table_requests.BATCH_WRITE_SIZE,
    }
    storage.close()
    return values


def configuration() -> str:
    d = defaults()
    rows = [
        ("table name", "`session_table_name`", "`SHOPIFY_SESSIONS_TABLE`", f"`{d['table']}`"),
        (
            "shop index name",
            "`shop_index_name`",
            "`SHOPIFY_SESSIONS_SHOP_INDEX`",
            f"`{d['index']}`",
        ),
        (
            "region",
            "`region`",
            "`AWS_REGION`, then `AWS_DEFAULT_REGION`",
            "botocore's profile; `us-east-1` for a custom endpoint",
        ),
        ("endpoint", "`host`", "`AWS_ENDPOINT_URL_DYNAMODB`, then `AWS_ENDPOINT_URL`", "AWS"),
        (
            "credentials",
            "`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`",
            "botocore's chain",
            "botocore's chain (placeholders for a loopback endpoint)",
        ),
        ("index page size", "`page_size`", "", "DynamoDB's 1 MB pages"),
        ("concurrent requests per call", "`max_concurrency`", "", str(d["max_concurrency"])),
        (
            "retries",
            "`retry=RetryPolicy(...)`",
            "",
            f"{d['attempts']} attempts, {_seconds(d['base_delay'])} base, "
            f"{_seconds(d['max_delay'])} cap, {d['stalled_rounds']} stalled rounds, "
            f"no retry started after {_seconds(d['deadline'])}",
        ),
        (
            "timeouts, HTTP pool, attempts",
            "`botocore_config=Config(...)`",
            "",
            f"{_seconds(d['connect_timeout'])} connect, {_seconds(d['read_timeout'])} read "
            f"(PynamoDB's: {_seconds(d['pynamodb_connect_timeout'])} and "
            f"{_seconds(d['pynamodb_read_timeout'])}), {d['pool']} connections",
        ),
        (
            "token encryption",
            "`token_cipher=TokenCipher(...)`",
            "`SHOPIFY_SESSIONS_TOKEN_KEYS`, `SHOPIFY_SESSIONS_ACTIVE_KEY_ID` "
            "(via `TokenCipher.from_env()`)",
            "off",
        ),
        (
            "TTL grace after a session's natural end",
            "`ttl_grace`",
            "",
            f"{_seconds(d['ttl_grace'])} (`None`: no `ttl` attribute)",
        ),
    ]
    return _table(("setting", "argument", "environment", "default"), rows)


def limits() -> str:
    d = defaults()
    rows = [
        (
            "item size",
            f"{d['item_bytes']:,} bytes ({d['item_bytes'] // 1024} KB)",
            "DynamoDB's limit; a larger session is refused before sending (`InvalidSessionError`)",
        ),
        ("keys per BatchGetItem", str(d["batch_get"]), "DynamoDB's limit"),
        ("writes per BatchWriteItem", str(d["batch_write"]), "DynamoDB's limit"),
        (
            "`load_fresh_session(within=)`",
            _seconds(d["within"]),
            "refresh a token that expires this soon",
        ),
        (
            "`load_fresh_session(lease=)`",
            _seconds(d["lease"]),
            "how long one refresh may hold the lease; must exceed the refresher's timeout by "
            "more than 2 s",
        ),
        (
            "`ShopifyTokenRefresher(timeout=)`",
            _seconds(d["refresh_timeout"]),
            "one refresh in all, retries included",
        ),
    ]
    return _table(("limit or default", "value", "meaning"), rows)


def timeouts() -> str:
    d = defaults()
    return (
        f"**A hung endpoint costs seconds, not minutes**: no retry starts after `deadline` "
        f"seconds (default {d['deadline']:g}; `StorageUnavailableError` says the deadline ended "
        f"it), and the connect and read timeouts default to {_seconds(d['connect_timeout'])} "
        f"and {_seconds(d['read_timeout'])} (PynamoDB's are "
        f"{_seconds(d['pynamodb_connect_timeout'])} and "
        f"{_seconds(d['pynamodb_read_timeout'])}, times its attempts), so one call ends within "
        f"about {d['deadline'] + d['read_timeout']:g} s.\n"
    )


def _python_default(value: Any) -> str:
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds % 60 == 0:
            return f"timedelta(minutes={seconds // 60:g})"
        return f"timedelta(seconds={seconds:g})"
    return repr(value)


def _signature(name: str, function: Any, skip_self: bool) -> str:
    parts: list[str] = []
    keyword_only = False
    for parameter in inspect.signature(function).parameters.values():
        if skip_self and parameter.name == "self":
            continue
        if parameter.kind is parameter.KEYWORD_ONLY and not keyword_only:
            parts.append("*")
            keyword_only = True
        if parameter.default is parameter.empty:
            parts.append(parameter.name)
        else:
            parts.append(f"{parameter.name}={_python_default(parameter.default)}")
    return f"`{name}({', '.join(parts)})`"


def load_fresh_signature() -> str:
    from shopify_sessions import DynamoDBSessionStorage

    method = DynamoDBSessionStorage.load_fresh_session
    return _signature("load_fresh_session", method, skip_self=True) + "\n"


def refresher_signature() -> str:
    from shopify_sessions import ShopifyTokenRefresher

    return _signature("ShopifyTokenRefresher", ShopifyTokenRefresher, skip_self=False) + "\n"


def table_definition(form: str) -> str:
    """What ``shopify-sessions create-table --print FORM --ttl`` prints (default names)."""
    from click.testing import CliRunner

    from shopify_sessions.cli import cli

    with _no_environment():
        result = CliRunner().invoke(cli, ["create-table", "--print", form, "--ttl"])
    if result.exit_code != 0:
        raise RuntimeError(f"create-table --print {form} failed: {result.output}")
    language = {"terraform": "hcl", "cloudformation": "yaml"}.get(form, "json")
    return f"```{language}\n{result.output.rstrip()}\n```\n"


def modules() -> str:
    """Every module of the package with the first sentence of its docstring."""
    import ast

    package = ROOT / "shopify_sessions"
    rows = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = docstring.strip().split("\n\n")[0].replace("\n", " ")
        rows.append((f"`{relative}`", first or "-"))
    return _table(("module", "what it holds or decides"), rows)


# --- the Node differences, from the differential suite's rules -----------------------------------


def node_differences() -> str:
    from tests.support.differential_rules import documented_rows

    rows = [
        (f"`{id}`", row.input, row.node, row.python, row.why, _checked_by(checked))
        for id, checked, row in documented_rows()
    ]
    return _table(("id", "input", "Node", "Python", "why", "rule"), rows)


def _checked_by(checked: str) -> str:
    """``refuse`` (a differential rule's kind), or the unit test's file."""
    if checked.startswith("differential"):
        return checked.split("(")[1].rstrip(")")
    return f"unit test: `{checked.split('::')[0]}`"


# --- performance, from bench/results/bench.json ------------------------------------------------


def _report() -> Any:
    from bench.report import load

    return load(BENCH_JSON)


def bench_report() -> str:
    from bench.report import markdown

    lines = markdown(_report()).split("\n")
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    demoted = [("#" + line) if line.startswith("##") else line for line in lines]
    return "\n".join(demoted).strip("\n") + "\n"


def bench_plot(*, site: bool) -> str:
    target = "bench.png" if site else _PNG_ON_GITHUB
    return (
        "![find and delete: median wall time against N for Python, the Node adapter and the "
        f"raw-botocore floor]({target})\n"
    )


def bench_png() -> bytes:
    """The plot, drawn from bench.json now."""
    from bench.report import plot

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.png"
        plot(_report(), path)
        return path.read_bytes()


def fleet_bench() -> str:
    """``doctor`` against a raw parallel scan, from ``bench/results/fleet.json``."""
    import json

    runs = json.loads(FLEET_JSON.read_text(encoding="utf-8"))
    header = ("sessions", "K", "doctor s", "raw scan s", "ratio (target <= 1.3)")
    header += ("doctor peak MB", "raw scan peak MB")
    rows = [
        (
            f"{run['sessions']:,}",
            str(run["k"]),
            f"{run['doctor_s']:.1f}",
            f"{run['raw_s']:.1f}",
            f"{run['doctor_s'] / run['raw_s']:.2f}",
            f"{run['doctor_mb']:.0f}",
            f"{run['raw_mb']:.0f}",
        )
        for run in runs
    ]
    sizes = sorted({run["sessions"] for run in runs})
    memory = [
        (str(k), f"{peak[(sizes[-1], k)] / peak[(sizes[0], k)]:.2f}")
        for peak in [{(run["sessions"], run["k"]): run["doctor_mb"] for run in runs}]
        for k in sorted({run["k"] for run in runs})
    ]
    growth = ("K", f"doctor peak RSS {sizes[-1]:,} / {sizes[0]:,} (target <= 1.2)")
    return _table(header, rows) + "\n" + _table(growth, memory)


# --- rendering ------------------------------------------------------------------------------------


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    out = [line(header), "| " + " | ".join("---" for _ in header) + " |"]
    out += [line(row) for row in rows]
    return "\n".join(out) + "\n"


def _importable() -> None:
    """The repository's ``bench`` and ``tests`` packages importable (mkdocs loads this hook
    with its own folder on the path, and takes it off again)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def generators(*, site: bool) -> dict[str, Callable[[], str]]:
    _importable()
    return {
        "configuration": configuration,
        "limits": limits,
        "timeouts": timeouts,
        "node-differences": node_differences,
        "bench-report": bench_report,
        "bench-plot": lambda: bench_plot(site=site),
        "fleet-bench": fleet_bench,
        "load-fresh-signature": load_fresh_signature,
        "refresher-signature": refresher_signature,
        "table-terraform": lambda: table_definition("terraform"),
        "table-cloudformation": lambda: table_definition("cloudformation"),
        "modules": modules,
    }


def render(text: str, *, site: bool = False, where: str = "") -> str:
    """``text`` with every generated part rendered afresh."""
    made = generators(site=site)
    cache: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in made:
            raise ValueError(f"{where}: unknown generated part {name!r}; known: {sorted(made)}")
        if name not in cache:
            cache[name] = made[name]()
        return match["open"] + cache[name] + match["close"]

    return _BLOCK.sub(replace, text)


def documents() -> list[Path]:
    """Every Markdown file that may hold generated parts."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


# --- the mkdocs hook ------------------------------------------------------------------------------


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return render(markdown, site=True, where=page.file.src_uri)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    _importable()
    files.append(File.generated(config, BENCH_PNG_SITE, content=bench_png()))
    return files


def main() -> None:
    """Rewrite the generated parts of every document in place."""
    for path in documents():
        text = path.read_text(encoding="utf-8")
        new = render(text, where=str(path.relative_to(ROOT)))
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
