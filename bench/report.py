"""Write a bench ``Report`` as markdown, a PNG and JSON."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

from .async_ops import ASYNC_HEADING, async_markdown
from .runner import SIDES, Report, Row
from .tokens import TOKENS_HEADING, tokens_markdown

_OP_ORDER = ("Query", "GetItem", "BatchGetItem", "PutItem", "DeleteItem", "BatchWriteItem")
_TITLES = {"find": "find_sessions_by_shop", "delete": "delete_sessions"}
_COLORS = {"python": "tab:blue", "node": "tab:orange", "floor": "tab:gray"}


def requests_text(counts: dict[str, int], varied: bool = False) -> str:
    """``11: Query 1 + BatchGetItem 10`` (``*`` when runs sent different counts)."""
    ops = sorted(counts, key=lambda op: (_OP_ORDER.index(op) if op in _OP_ORDER else 99, op))
    detail = " + ".join(f"{op} {counts[op]}" for op in ops)
    total = sum(counts.values())
    text = f"{total}: {detail}" if len(ops) > 1 else f"{total} {detail.split(' ')[0]}"
    return text + ("*" if varied else "") if counts else "0"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "-"


def _machine_line(report: Report) -> str:
    m = report.machine
    return (
        f"{m['date']} · {m['cpus']} CPUs · {m['platform']} · Python {m['python']} · "
        f"Node {m['node']} · dynalite {m['dynalite']} · Node adapter {m['node adapter']} · "
        f"PynamoDB {m['pynamodb']} · botocore {m['botocore']} · git {m['git']}"
    )


def main_table(rows: list[Row]) -> list[str]:
    lines = [
        "| op | N | requests python | requests node | requests floor "
        "| median ms python | median ms node | median ms floor | python/node | python/floor |",
        "| --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        reqs = [requests_text(*row.requests(side)) for side in SIDES]
        ms = [row.median_ms(side) for side in SIDES]
        lines.append(
            f"| {row.op} | {row.n} | {' | '.join(reqs)} | {' | '.join(_ms(v) for v in ms)} "
            f"| {_ratio(ms[0], ms[1])} | {_ratio(ms[0], ms[2])} |"
        )
    return lines


def _has_storage(report: Report) -> bool:
    return bool(report.find or report.delete or report.latency or report.memory)


def markdown(report: Report) -> str:
    o = report.options
    proxy = "a child process" if o.proxy == "process" else "the bench's own process"
    lines = [
        "# shopify_sessions bench: Python vs the Node adapter vs the floor",
        "",
        f"Machine: {_machine_line(report)}.",
        "",
    ]
    if _has_storage(report):
        lines += _storage_markdown(report, proxy)
    if report.tokens is not None:
        lines += tokens_markdown(report.tokens)
    if report.async_ is not None:
        lines += async_markdown(report.async_)
    if _has_storage(report):
        lines += _NOTES
    return "\n".join(lines)


def _storage_markdown(report: Report, proxy: str) -> list[str]:
    o = report.options
    lines = [
        f"dynalite (in memory) behind a counting HTTP proxy running in {proxy}; every side talks "
        "to the proxy, so requests are counted on the wire. Runs are interleaved python, node, "
        f"floor; each cell is the median of {o.repeats} runs"
        f"{' (--quick)' if o.quick else ''}. Node times are measured inside Node "
        "(`performance.now()`), so the JSON pipe is excluded. Floor: raw botocore with the "
        "ideal requests (Query pages, then BatchGetItem x100 / BatchWriteItem x25 chunks sent "
        f"concurrently on {o.workers} threads). Delete runs re-seed before each run (not timed, "
        f"not counted). Total bench time {report.elapsed_s:.0f} s.",
        "",
        "## find_sessions_by_shop and delete_sessions",
        "",
        *main_table(report.find + report.delete),
        "",
        "Requests: total, then per operation; `*`: the counts differed between runs (the most "
        "common shown).",
        "",
    ]
    if report.latency:
        floor = {r.op: r.median_ms() for r in report.latency if r.side == "floor"}
        lines += [
            f"## store / load latency (one session; {o.latency_samples} samples each, interleaved)",
            "",
            "| op | side | requests | median ms | p90 ms | vs floor |",
            "| --- | --- | --- | ---: | ---: | ---: |",
        ]
        for r in report.latency:
            direct = r.side.endswith("no proxy")
            reqs = "1 (not on the proxy)" if direct else requests_text(*r.requests())
            lines.append(
                f"| {r.op} | {r.side} | {reqs} | {_ms(r.median_ms())} "
                f"| {_ms(r.percentile_ms(0.9))} | {_ratio(r.median_ms(), floor[r.op])} |"
            )
        lines += [
            "",
            "python: `store_session` / `load_session`; floor: raw botocore PutItem / GetItem "
            "(ConsistentRead) of the same item through the proxy; floor, no proxy: the same "
            "straight to dynalite (the proxy's own cost is the difference); node: "
            "`storeSession` / `loadSession` timed inside Node.",
            "",
        ]
    if report.memory:
        lines += [
            "## memory: Python find_sessions_by_shop under tracemalloc",
            "",
            "| N | requests | peak MiB | peak bytes/session | marginal peak bytes/session "
            "| retained bytes/session | ms (traced, slower) |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        previous = None
        for m in report.memory:
            marginal = "-"
            if previous is not None and m.n > previous.n:
                slope = (m.peak_bytes - previous.peak_bytes) / (m.n - previous.n)
                marginal = f"{slope:.0f}"
            lines.append(
                f"| {m.n} | {requests_text(m.counts)} | {m.peak_bytes / 2**20:.1f} "
                f"| {m.peak_bytes / m.n:.0f} | {marginal} | {m.retained_bytes / m.n:.0f} "
                f"| {m.ms:.0f} |"
            )
            previous = m
        lines += [
            "",
            "peak: highest traced allocation during the call; retained: still allocated after "
            "it (the returned sessions); marginal: peak growth per extra session since the row "
            "above (a constant marginal cost means memory is linear in N). Online sessions with "
            "full user info.",
            "",
        ]
    return lines


_NOTES = [
    "## notes",
    "",
    "- dynalite 4.0.0 keys a global-secondary-index entry by the index key plus only 24 bits "
    "of md5(table key): two sessions of one shop that share those bits overwrite each other "
    "in the index, so a Query misses them (about N^2 / 2^25: ~3 of 10,000). Real DynamoDB "
    "does not do this. The bench seeds only ids that do not collide "
    "(`bench.sessions.index_safe_users`), so every side must return exactly N.",
    "- The Node adapter sends one GetItem / DeleteItem per session (up to ~50 sockets at "
    "once), and reads only the first index page.",
    "",
]


def plot(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [("find", report.find), ("delete", report.delete)]
    fig, axes = plt.subplots(1, len(groups), figsize=(12, 5), constrained_layout=True)
    for ax, (op, rows) in zip(axes, groups, strict=True):
        sizes = [row.n for row in rows]
        for side in SIDES:
            medians = [row.median_ms(side) for row in rows]
            lows = [min(s.ms for s in row.samples[side]) for row in rows]
            highs = [max(s.ms for s in row.samples[side]) for row in rows]
            ax.plot(sizes, medians, marker="o", color=_COLORS[side], label=side)
            ax.fill_between(sizes, lows, highs, color=_COLORS[side], alpha=0.15)
            for row, y in zip(rows, medians, strict=True):
                total = sum(row.requests(side)[0].values())
                ax.annotate(
                    str(total),
                    (row.n, y),
                    textcoords="offset points",
                    xytext=(5, -10 if side == "floor" else 4),
                    fontsize=7,
                    color=_COLORS[side],
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sessions (N)")
        ax.set_ylabel("median ms (band: min to max)")
        ax.set_title(f"{_TITLES[op]} (labels: requests on the wire)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"shopify_sessions vs Node adapter 8.0.0 vs floor, {report.machine['date']}")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _section_span(lines: list[str], heading: str) -> tuple[int, int] | None:
    """Where the ``## `` section starting with ``heading`` is: [start, end) line indexes."""
    for start, line in enumerate(lines):
        if line.startswith(heading):
            end = start + 1
            while end < len(lines) and not lines[end].startswith("## "):
                end += 1
            return start, end
    return None


def splice_tokens(text: str, section: list[str]) -> str:
    """``text`` with its token section replaced by ``section`` (or ``section`` put before
    ``## notes``, or at the end, when it has none)."""
    return splice_section(text, TOKENS_HEADING, section)


def splice_section(text: str, heading: str, section: list[str]) -> str:
    """``text`` with its ``heading`` section replaced by ``section`` (or ``section`` put before
    ``## notes``, or at the end, when it has none)."""
    body = text.rstrip("\n")
    ending = text[len(body) :] or "\n"
    lines = body.split("\n")
    span = _section_span(lines, heading)
    if span is None:
        notes = _section_span(lines, "## notes")
        at = notes[0] if notes else len(lines)
        if at == len(lines) and lines[-1] != "":
            lines.append("")
        span = (at, at)
    return "\n".join([*lines[: span[0]], *section, *lines[span[1] :]]).rstrip("\n") + ending


def _old_section(text: str, heading: str) -> list[str] | None:
    lines = text.rstrip("\n").split("\n")
    span = _section_span(lines, heading)
    return None if span is None else lines[span[0] : span[1]]


# Sections that run on their own and sit in bench.md as one ``## `` section each:
# section name: (its key in bench.json, its heading, its lines from the report or None).
def _spliced(report: Report) -> dict[str, tuple[str, str, list[str] | None]]:
    return {
        "tokens": (
            "tokens",
            TOKENS_HEADING,
            tokens_markdown(report.tokens) if report.tokens is not None else None,
        ),
        "async": (
            "async_",
            ASYNC_HEADING,
            async_markdown(report.async_) if report.async_ is not None else None,
        ),
    }


def load(path: Path) -> Report:
    """The ``Report`` a run wrote to ``bench.json`` (for the docs site's tables and plot)."""
    return typing.cast(Report, _from_json(Report, json.loads(path.read_text(encoding="utf-8"))))


def _from_json(kind: Any, value: Any) -> Any:
    """``value`` (parsed JSON) as ``kind``: dataclasses, lists, dicts, tuples, optionals."""
    if value is None:
        return None
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        return kind(
            **{
                f.name: _from_json(hints[f.name], value[f.name])
                for f in dataclasses.fields(kind)
                if f.init and f.name in value
            }
        )
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return _from_json(next(arg for arg in args if arg is not type(None)), value)
    if origin is list:
        return [_from_json(args[0], item) for item in value]
    if origin is tuple:
        return tuple(value)
    if origin is dict:
        return {key: _from_json(args[1], item) for key, item in value.items()}
    return Path(value) if kind is Path else value


def write(report: Report, out: Path) -> dict[str, Path]:
    """Write ``bench.md``, ``bench.png`` and ``bench.json`` into ``out``.

    After a run of some sections only (``--only``), earlier results of the other sections in
    ``out`` are kept: without storage, the sections run (tokens, async) alone are replaced in
    ``bench.md`` and ``bench.json`` (``bench.png`` is left as it is); with storage, the earlier
    tokens and async sections that were not run are kept.
    """
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / "bench.md", "png": out / "bench.png", "json": out / "bench.json"}
    data = report.to_json()
    text = markdown(report) + "\n"
    old = paths["md"].exists() and paths["json"].exists()
    if report.options.only and old:
        old_data = json.loads(paths["json"].read_text(encoding="utf-8"))
        old_text = paths["md"].read_text(encoding="utf-8")
        spliced = _spliced(report)
        if "storage" not in report.options.sections:  # update the sections run in place
            for name, (key, heading, lines) in spliced.items():
                if name in report.options.sections and lines is not None:
                    old_data[key] = data[key]
                    old_text = splice_section(old_text, heading, lines)
            data, text = old_data, old_text
            del paths["png"]
        else:
            for name, (key, heading, _) in spliced.items():
                if name not in report.options.sections and old_data.get(key):
                    data[key] = old_data[key]
                    kept = _old_section(old_text, heading)
                    text = splice_section(text, heading, kept) if kept else text
    paths["md"].write_text(text, encoding="utf-8")
    if "png" in paths:
        if _has_storage(report):
            plot(report, paths["png"])
        else:
            del paths["png"]
    paths["json"].write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return paths
