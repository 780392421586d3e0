"""Measure the Python storage, the real Node adapter and the floor on one dynalite table.

Everything goes through a counting ``DynamoProxy``, so requests are counted on the wire. Runs are
interleaved (python, node, floor, python, node, floor, ...) so drift hits every side alike.
Seeding and checks talk to dynalite directly: never timed, never counted.
"""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from statistics import median
from typing import Any

from shopify_sessions import DynamoDBSessionStorage
from tests.support.dynalite import ADAPTER_PACKAGE, DYNALITE_CLI, run_dynalite
from tests.support.node_adapter import NodeAdapter
from tests.support.proxy import DynamoProxy

from .async_ops import AsyncSection, bench_async, print_targets
from .floor import Floor
from .proxyproc import CountingProxy, counting_proxy
from .sessions import dynamo_item, index_safe_users, node_json, session, session_id, shop_name
from .tokens import TokenSection, bench_tokens

SIDES = ("python", "node", "floor")
SECTIONS = ("storage", "tokens", "async")  # storage: find, delete, latency, memory
INDEX = "shop_index"
OTHER_SHOPS = 4  # shops that are never looked for, so the index holds more than one shop
OTHER_SESSIONS = 100
NODE_TIMEOUT_S = 120.0


class BenchError(RuntimeError):
    """A side returned something other than what was seeded."""


@dataclass
class Options:
    quick: bool = False
    out: Path = Path("bench/results")
    repeats: int = 0  # 0: 15, or 3 with quick
    sizes: tuple[int, ...] = ()  # () : 1, 10, 100, 1000 (quick: 1, 10, 100)
    latency_samples: int = 0  # 0: 200 (quick: 30)
    memory_sizes: tuple[int, ...] = ()  # (): 2500, 5000, 10000 (quick: 250, 500, 1000)
    workers: int = 10  # the floor's thread pool and connection pool
    proxy: str = "process"  # "process": proxy in a child process; "thread": in this one
    only: tuple[str, ...] = ()  # (): every section of SECTIONS
    token_storms: int = 0  # storms per mode; 0: 20 (quick: 5)
    token_latency: float = 0.3  # the fake token endpoint's answer delay, seconds
    async_rounds: int = 0  # async section: rounds per op and side; 0: 9 (quick: 2)
    cold_starts: int = 0  # async section: fresh processes per side; 0: 10 (quick: 3)
    gc_freeze: bool = True  # async section: gc.freeze() after the warm-up round
    verbose: bool = True

    def __post_init__(self) -> None:
        quick = self.quick
        self.repeats = self.repeats or (3 if quick else 15)
        self.sizes = self.sizes or ((1, 10, 100) if quick else (1, 10, 100, 1000))
        self.latency_samples = self.latency_samples or (30 if quick else 200)
        self.memory_sizes = self.memory_sizes or (
            (250, 500, 1000) if quick else (2500, 5000, 10000)
        )
        self.token_storms = self.token_storms or (5 if quick else 20)
        self.async_rounds = self.async_rounds or (2 if quick else 9)
        self.cold_starts = self.cold_starts or (3 if quick else 10)
        if self.proxy not in ("process", "thread"):
            raise ValueError("proxy must be 'process' or 'thread'")
        unknown = set(self.only) - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown sections {sorted(unknown)}; known: {SECTIONS}")

    @property
    def sections(self) -> tuple[str, ...]:
        return tuple(s for s in SECTIONS if not self.only or s in self.only)


@dataclass
class Sample:
    ms: float
    counts: dict[str, int]


def mode_counts(samples: list[Sample]) -> tuple[dict[str, int], bool]:
    """The most common per-run request counts, and whether runs differed."""
    seen = Counter(tuple(sorted(s.counts.items())) for s in samples)
    common, _ = seen.most_common(1)[0]
    return dict(common), len(seen) > 1


@dataclass
class Row:
    """One operation at one size: every side's samples."""

    op: str
    n: int
    samples: dict[str, list[Sample]] = field(default_factory=lambda: {s: [] for s in SIDES})

    def median_ms(self, side: str) -> float:
        return median(s.ms for s in self.samples[side])

    def requests(self, side: str) -> tuple[dict[str, int], bool]:
        return mode_counts(self.samples[side])


@dataclass
class LatencyRow:
    op: str
    side: str
    samples: list[Sample] = field(default_factory=list)

    def median_ms(self) -> float:
        return median(s.ms for s in self.samples)

    def requests(self) -> tuple[dict[str, int], bool]:
        return mode_counts(self.samples)

    def percentile_ms(self, q: float) -> float:
        values = sorted(s.ms for s in self.samples)
        return values[min(len(values) - 1, int(q * len(values)))]


@dataclass
class MemoryRow:
    n: int
    peak_bytes: int
    retained_bytes: int
    ms: float
    counts: dict[str, int]


@dataclass
class Report:
    options: Options
    machine: dict[str, str]
    find: list[Row] = field(default_factory=list)
    delete: list[Row] = field(default_factory=list)
    latency: list[LatencyRow] = field(default_factory=list)
    memory: list[MemoryRow] = field(default_factory=list)
    tokens: TokenSection | None = None
    async_: AsyncSection | None = None
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["options"]["out"] = str(self.options.out)
        return data


def _clock(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1000.0


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise BenchError(what)


def _command_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def _package_version(package_json: Path) -> str:
    import json

    try:
        return str(json.loads(package_json.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "?"


def machine_info(proxy_mode: str) -> dict[str, str]:
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "node": _command_output(["node", "--version"]),
        "dynalite": _package_version(DYNALITE_CLI.parent / "package.json"),
        "node adapter": _package_version(ADAPTER_PACKAGE / "package.json"),
        "pynamodb": version("pynamodb"),
        "botocore": version("botocore"),
        "proxy": proxy_mode,
        "git": _command_output(["git", "describe", "--always", "--dirty"]),
    }


class Bench:
    """The running pieces, and one method per measurement."""

    def __init__(self, options: Options, dynalite: str, proxy: CountingProxy) -> None:
        self.options = options
        self.proxy = proxy
        self.table = f"bench_{uuid.uuid4().hex[:10]}"
        self.storage = DynamoDBSessionStorage(self.table, INDEX, host=proxy.endpoint)
        self.storage.create_table()
        self.node = NodeAdapter(proxy.endpoint, self.table, INDEX, timeout=NODE_TIMEOUT_S)
        self.floor = Floor(proxy.endpoint, self.table, INDEX, options.workers)
        self.direct = Floor(dynalite, self.table, INDEX, options.workers)  # uncounted

    def close(self) -> None:
        self.node.close()
        self.floor.close()
        self.direct.close()

    def log(self, message: str) -> None:
        _log(self.options)(message)

    def seed(self, shop: str, users: list[int]) -> list[str]:
        """Store these users' sessions of ``shop`` directly (uncounted); return their ids."""
        self.direct.put_many([dynamo_item(shop, user) for user in users])
        return [session_id(shop, user) for user in users]

    def measure(self, run: Callable[[], float]) -> Sample:
        self.proxy.reset()
        ms = run()
        return Sample(ms, dict(self.proxy.counts))

    # --- find -----------------------------------------------------------------------------

    def find_once(self, side: str, shop: str, n: int) -> float:
        if side == "python":
            sessions, ms = _clock(lambda: self.storage.find_sessions_by_shop(shop))
            _expect(len(sessions) == n, f"python found {len(sessions)} of {n}")
        elif side == "node":
            ids, times = self.node.timed("find", {"shop": shop})
            ms = times[0]
            _expect(len(ids) == n, f"node found {len(ids)} of {n}")
        else:
            items, ms = _clock(lambda: self.floor.find(shop))
            _expect(len(items) == n, f"floor found {len(items)} of {n}")
        return float(ms)

    def bench_find(self) -> list[Row]:
        sizes = self.options.sizes
        shops = {n: shop_name(f"find-{n}") for n in sizes}
        for n, shop in shops.items():
            self.seed(shop, index_safe_users(shop, n))
        for side in SIDES:  # warm up connections and code paths
            self.find_once(side, shops[max(sizes)], max(sizes))
        rows = []
        for n in sizes:
            row = Row("find", n)
            for _ in range(self.options.repeats):
                for side in SIDES:
                    row.samples[side].append(
                        self.measure(lambda side=side, n=n: self.find_once(side, shops[n], n))
                    )
            self.log(_summary(row))
            rows.append(row)
        return rows

    # --- delete ---------------------------------------------------------------------------

    def delete_once(self, side: str, ids: list[str]) -> float:
        if side == "python":
            _, ms = _clock(lambda: self.storage.delete_sessions(ids))
        elif side == "node":
            _, times = self.node.timed("deleteMany", {"ids": ids})
            ms = times[0]
        else:
            _, ms = _clock(lambda: self.floor.delete(ids))
        return float(ms)

    def delete_run(self, side: str, n: int) -> Sample:
        shop = shop_name(f"delete-{n}")
        ids = self.seed(shop, index_safe_users(shop, n))
        sample = self.measure(lambda: self.delete_once(side, ids))
        left = self.direct.count_shop(shop)
        _expect(left == 0, f"{side} delete of {n} left {left} sessions")
        return sample

    def bench_delete(self) -> list[Row]:
        sizes = self.options.sizes
        for side in SIDES:
            self.delete_run(side, min(100, max(sizes)))
        rows = []
        for n in sizes:
            row = Row("delete", n)
            for _ in range(self.options.repeats):
                for side in SIDES:
                    row.samples[side].append(self.delete_run(side, n))
            self.log(_summary(row))
            rows.append(row)
        return rows

    # --- single-item latency --------------------------------------------------------------

    def bench_latency(self) -> list[LatencyRow]:
        shop = shop_name("latency")
        sess, item, obj = session(shop, 1), dynamo_item(shop, 1), node_json(shop, 1)
        self.storage.store_session(sess)
        _expect(self.storage.load_session(sess.id) == sess, "python load != stored session")

        def node_ms(what: str, args: dict[str, Any]) -> float:
            return self.node.timed(what, args)[1][0]

        def clocked(fn: Callable[[], Any]) -> Callable[[], float]:
            return lambda: _clock(fn)[1]

        runs: dict[tuple[str, str], Callable[[], float]] = {
            ("store", "python"): clocked(lambda: self.storage.store_session(sess)),
            ("store", "floor"): clocked(lambda: self.floor.put(item)),
            ("store", "node"): lambda: node_ms("store", {"session": obj}),
            ("store", "floor, no proxy"): clocked(lambda: self.direct.put(item)),
            ("load", "python"): clocked(lambda: self.storage.load_session(sess.id)),
            ("load", "floor"): clocked(lambda: self.floor.get(sess.id)),
            ("load", "node"): lambda: node_ms("load", {"id": sess.id}),
            ("load", "floor, no proxy"): clocked(lambda: self.direct.get(sess.id)),
        }
        rows = {key: LatencyRow(*key) for key in runs}
        for i in range(self.options.latency_samples + 5):  # the first 5: warm-up
            for key, run in runs.items():
                sample = self.measure(run)
                if i >= 5:
                    rows[key].samples.append(sample)
        for row in rows.values():
            self.log(f"{row.op:6} {row.side:16} median {row.median_ms():.2f} ms")
        return list(rows.values())

    # --- memory ---------------------------------------------------------------------------

    def bench_memory(self) -> list[MemoryRow]:
        shop = shop_name("memory")
        rows, seeded = [], 0
        users = index_safe_users(shop, max(self.options.memory_sizes))
        for n in sorted(self.options.memory_sizes):
            self.seed(shop, users[seeded:n])
            seeded = n
            gc.collect()
            self.proxy.reset()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            sessions, ms = _clock(lambda: self.storage.find_sessions_by_shop(shop))
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            _expect(len(sessions) == n, f"python found {len(sessions)} of {n}")
            del sessions
            row = MemoryRow(n, peak - base, current - base, ms, dict(self.proxy.counts))
            self.log(f"memory N={n}: peak {row.peak_bytes / n:.0f} B/session, {ms:.0f} ms")
            rows.append(row)
        return rows


def _summary(row: Row) -> str:
    parts = [f"{side} {row.median_ms(side):.1f} ms" for side in SIDES]
    return f"{row.op} N={row.n}: " + ", ".join(parts)


def _log(options: Options) -> Callable[[str], None]:
    def log(message: str) -> None:
        if options.verbose:
            print(f"[bench] {message}", file=sys.stderr, flush=True)

    return log


def _run_storage(options: Options, dynalite: str, report: Report) -> None:
    """find, delete, latency and memory: Python vs Node vs the floor, through the proxy."""
    with counting_proxy(dynalite, options.proxy) as proxy:
        bench = Bench(options, dynalite, proxy)
        try:
            for k in range(1, OTHER_SHOPS + 1):
                other = shop_name(f"other-{k}")
                bench.seed(other, index_safe_users(other, OTHER_SESSIONS))
            report.find = bench.bench_find()
            report.delete = bench.bench_delete()
            report.latency = bench.bench_latency()
            report.memory = bench.bench_memory()
        finally:
            bench.close()


def run(options: Options | None = None) -> Report:
    """Run every measurement of ``options.sections`` once; return the report (nothing is
    written)."""
    options = options or Options()
    started = time.monotonic()
    report = Report(options, machine_info(options.proxy))
    with run_dynalite() as dynalite:
        if "storage" in options.sections:
            _run_storage(options, dynalite, report)
        if "tokens" in options.sections:
            report.tokens = bench_tokens(
                dynalite, options.token_storms, options.token_latency, log=_log(options)
            )
            report.tokens.date = report.machine["date"]
            report.tokens.git = report.machine["git"]
        if "async" in options.sections:
            report.async_ = bench_async(
                dynalite,
                options.async_rounds,
                options.cold_starts,
                options.proxy,
                options.gc_freeze,
                log=_log(options),
            )
            report.async_.date = report.machine["date"]
            report.async_.git = report.machine["git"]
            if options.verbose:
                print_targets(report.async_)
    report.elapsed_s = time.monotonic() - started
    return report


def count_wire_requests(upstream: str, op: str, n: int) -> Counter[str]:
    """Requests the Python storage sends on the wire for one ``op`` of ``n`` sessions.

    ``op`` is ``"find"`` (``find_sessions_by_shop``) or ``"delete"`` (``delete_sessions``).
    ``upstream`` is a DynamoDB-compatible endpoint (moto server, dynalite); a fresh table is
    created there and deleted afterwards. For tests, e.g.
    ``assert count_wire_requests(endpoint, "find", 250) == {"Query": 1, "BatchGetItem": 3}``.
    """
    if op not in ("find", "delete"):
        raise ValueError("op must be 'find' or 'delete'")
    table = f"wire_{uuid.uuid4().hex[:10]}"
    shop = shop_name("wire")
    with DynamoProxy(upstream) as proxy:
        storage = DynamoDBSessionStorage(table, INDEX, host=proxy.endpoint)
        storage.create_table()
        direct = Floor(upstream, table, INDEX)
        users = index_safe_users(shop, n)
        try:
            direct.put_many([dynamo_item(shop, user) for user in users])
            proxy.reset()
            if op == "find":
                found = storage.find_sessions_by_shop(shop)
                _expect(len(found) == n, f"found {len(found)} of {n}")
            else:
                storage.delete_sessions([session_id(shop, user) for user in users])
            return proxy.counts
        finally:
            direct.client.delete_table(TableName=table)
            direct.close()
