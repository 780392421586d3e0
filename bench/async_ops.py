"""Many calls at once: 1,000 loads, 1,000 stores, 100 finds, five ways, on one dynalite.

Sides, all through one counting proxy so requests are counted on the wire:

- ``coalesce``: ``AsyncDynamoDBSessionStorage`` (default: concurrent loads go out as
  BatchGetItem, plain stores as BatchWriteItem), ``asyncio.gather``;
- ``plain``: the same with ``coalesce=False``;
- ``node``: Shopify's Node adapter, ``Promise.all`` in a warm Node process
  (``bench/node_bulk.mjs``), timed inside Node;
- ``sync``: ``DynamoDBSessionStorage`` on a 32-thread pool (32 pooled connections);
- ``raw``: aiobotocore with one attempt per request (plain GetItem / PutItem / Query +
  BatchGetItem), ``asyncio.gather``.

Rounds are interleaved (each op: every side in turn, the starting side rotating); the first
round warms every side up and is not recorded. Async Python sides run on one event loop with a
monitor task that sleeps 5 ms and records how late it wakes: the longest stretch the loop was
held. Memory: tracemalloc around N=1,000 and N=4,000 concurrent loads (coalescing).
Seeding and checks talk to dynalite directly: never timed, never counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import IO, Any

from botocore.config import Config

from shopify_sessions import DynamoDBSessionStorage, Session
from tests.support.dynalite import new_log, read_tail, stop_process

from .cold_start import ColdStart, Target, bench_cold_start
from .floor import Floor
from .proxyproc import CountingProxy, counting_proxy
from .sessions import dynamo_item, index_safe_users, node_json, session, session_id, shop_name

SIDES = ("coalesce", "plain", "node", "sync", "raw")
ASYNC_SIDES = ("coalesce", "plain")  # ours: pending until AsyncDynamoDBSessionStorage exists
LOOP_SIDES = ("coalesce", "plain", "raw")  # on the bench's event loop: loop hold measured
LABELS = {
    "coalesce": "ours async (coalescing)",
    "plain": "ours async, coalesce=False",
    "node": "Node adapter, Promise.all",
    "sync": "ours sync, 32 threads",
    "raw": "raw aiobotocore",
}
OPS = ("load", "store", "find")
INDEX = "shop_index"
N_LOAD = 1000
N_STORE = 1000
N_FIND_SHOPS = 100
FIND_PER_SHOP = 10
MEMORY_SIZES = (1000, 4000)
SYNC_THREADS = 32
TICK_S = 0.005  # the loop monitor's sleep
BATCH_GET = 100
BATCH_WRITE = 25
NODE_TIMEOUT_S = 120.0
NODE_SCRIPT = Path(__file__).resolve().parent / "node_bulk.mjs"

# targets
LOAD_VS_NODE = 0.2
STORE_VS_NODE = 0.35
PLAIN_VS_RAW = 1.3
MEMORY_GROWTH = 1.2  # peak bytes per call at the largest N <= this x at the smallest
HOLD_MS = 250.0


class AsyncBenchError(RuntimeError):
    """A side returned something other than what was seeded."""


def async_storage_class() -> type[Any] | None:
    """``shopify_sessions.AsyncDynamoDBSessionStorage``, or ``None`` while it does not exist."""
    import shopify_sessions

    try:
        cls: type[Any] = shopify_sessions.AsyncDynamoDBSessionStorage
    except (AttributeError, ImportError):
        return None
    return cls


@dataclass
class Round:
    """One side doing one op once: wall ms, this process's CPU ms (Node's own for node),
    requests on the wire, and the longest event-loop hold (loop sides only)."""

    ms: float
    cpu_ms: float | None
    counts: dict[str, int]
    hold_ms: float | None = None
    gc_ms: float | None = None  # this process's time in the cyclic GC (Python sides)
    full_gcs: int | None = None  # of which full (generation 2) collections


@dataclass
class OpRow:
    op: str
    calls: int  # concurrent calls per round
    sessions: int  # sessions touched per round
    rounds: dict[str, list[Round]] = field(default_factory=lambda: {s: [] for s in SIDES})

    def has(self, side: str) -> bool:
        return bool(self.rounds[side])

    def median_ms(self, side: str) -> float:
        return median(r.ms for r in self.rounds[side])

    def median_cpu_ms(self, side: str) -> float | None:
        values = [r.cpu_ms for r in self.rounds[side] if r.cpu_ms is not None]
        return median(values) if values else None

    def holds_ms(self, side: str) -> list[float]:
        return [r.hold_ms for r in self.rounds[side] if r.hold_ms is not None]

    def median_gc(self, side: str) -> tuple[float, float] | None:
        """Median GC ms and median full collections per round (``None`` for Node)."""
        rounds = [r for r in self.rounds[side] if r.gc_ms is not None]
        if not rounds:
            return None
        return median(r.gc_ms or 0.0 for r in rounds), median(r.full_gcs or 0 for r in rounds)

    def requests(self, side: str) -> tuple[dict[str, int], bool]:
        seen: dict[tuple[tuple[str, int], ...], int] = {}
        for r in self.rounds[side]:
            key = tuple(sorted(r.counts.items()))
            seen[key] = seen.get(key, 0) + 1
        common = max(seen, key=lambda k: seen[k])
        return dict(common), len(seen) > 1


@dataclass
class MemoryRow:
    side: str
    n: int
    peak_bytes: int
    retained_bytes: int
    ms: float
    counts: dict[str, int]


@dataclass
class AsyncSection:
    rounds: int
    warm_up_rounds: int = 1
    sync_threads: int = SYNC_THREADS
    tick_ms: float = TICK_S * 1000.0
    gc_freeze: bool = True  # setup's objects (every side's clients and data) frozen
    frozen_objects: int = 0  # how many objects that took out of the collector's reach
    pending: list[str] = field(default_factory=list)  # sides not run (storage missing)
    pool: dict[str, int] = field(default_factory=dict)  # side: HTTP connections
    rows: list[OpRow] = field(default_factory=list)
    memory: list[MemoryRow] = field(default_factory=list)
    cold: ColdStart | None = None
    versions: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    date: str = ""
    git: str = ""

    def row(self, op: str) -> OpRow | None:
        return next((r for r in self.rows if r.op == op), None)


# --- the warm Node process --------------------------------------------------------------------


class NodeBulk:
    """``node bench/node_bulk.mjs``: one JSON request at a time, answered in order."""

    def __init__(self, endpoint: str, table: str, index: str) -> None:
        node = shutil.which("node")
        if node is None:
            raise AsyncBenchError("node is not on PATH")
        self._stderr: IO[bytes] = new_log("node-bulk-stderr-")
        cmd = [node, str(NODE_SCRIPT), "--endpoint", endpoint, "--table", table, "--index", index]
        self._proc: subprocess.Popen[str] = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._lines: list[str] = []
        if self._read() != {"ready": True}:
            raise self._error("node_bulk.mjs did not start")

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _read(self) -> dict[str, Any]:
        stdout = self._proc.stdout
        assert stdout is not None
        line = stdout.readline()  # bounded: every request answers or node exits (EOF)
        if not line:
            raise self._error(f"node exited with code {self._proc.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _error(self, message: str) -> AsyncBenchError:
        return AsyncBenchError(f"{message}\n--- node stderr ---\n{read_tail(self._stderr)}")

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        stdin = self._proc.stdin
        assert stdin is not None
        stdin.write(json.dumps(request, separators=(",", ":")) + "\n")
        stdin.flush()
        answer = self._read()
        if answer.get("ok") is not True:
            raise self._error(f"node_bulk {request.get('op')}: {answer.get('error')}")
        return answer

    def cpu_ms(self) -> float:
        """User + system CPU of the Node process so far (``/proc``; 0 where there is none)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks * 1000.0 / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stop_process(self._proc)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()


# --- the event loop and the garbage collector -------------------------------------------------


class GcTimer:
    """Time this process spends in the cyclic garbage collector (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.ms = 0.0
        self.full = 0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.ms += (time.perf_counter() - self._start) * 1000.0
            self.full += info["generation"] == 2

    def reset(self) -> None:
        self.ms, self.full = 0.0, 0

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self)


async def _watch(stop: asyncio.Event, worst: list[float]) -> None:
    """Sleep ``TICK_S`` again and again; keep the worst lateness (the loop was held that long)."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(TICK_S)
        late = time.perf_counter() - start - TICK_S
        worst[0] = max(worst[0], late)


async def _monitored(make: Callable[[], Awaitable[Any]]) -> tuple[Any, float, float, float]:
    """Await ``make()`` with the loop monitor running: result, wall ms, CPU ms, hold ms."""
    stop, worst = asyncio.Event(), [0.0]
    monitor = asyncio.create_task(_watch(stop, worst))
    await asyncio.sleep(0)  # the monitor's first sleep is armed
    cpu, start = time.process_time(), time.perf_counter()
    result = await make()
    ms = (time.perf_counter() - start) * 1000.0
    cpu_ms = (time.process_time() - cpu) * 1000.0
    stop.set()
    await monitor
    return result, ms, cpu_ms, worst[0] * 1000.0


async def _raw_get(client: Any, table: str, id: str) -> dict[str, Any] | None:
    response = await client.get_item(TableName=table, Key={"id": {"S": id}}, ConsistentRead=True)
    item: dict[str, Any] | None = response.get("Item")
    return item


async def _raw_find(client: Any, table: str, shop: str) -> list[dict[str, Any]]:
    """Query the shop index (every page), then BatchGetItem the ids, 100 at a time."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": INDEX,
        "KeyConditionExpression": "shop = :shop",
        "ExpressionAttributeValues": {":shop": {"S": shop}},
    }
    ids: list[str] = []
    for _ in range(1000):
        page = await client.query(**kwargs)
        ids += [item["id"]["S"] for item in page["Items"]]
        if not page.get("LastEvaluatedKey"):
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    items: list[dict[str, Any]] = []
    for at in range(0, len(ids), BATCH_GET):
        keys = [{"id": {"S": id}} for id in ids[at : at + BATCH_GET]]
        for round_no in range(30):
            request = {table: {"Keys": keys, "ConsistentRead": True}}
            response = await client.batch_get_item(RequestItems=request)
            items += response["Responses"].get(table, [])
            keys = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not keys:
                break
            await asyncio.sleep(min(0.01 * 2**round_no, 0.5))
    return items


class AsyncBench:
    """The running pieces (one event loop, every side's client) and one method per op."""

    def __init__(self, dynalite: str, proxy: CountingProxy, log: Callable[[str], None]) -> None:
        self.proxy = proxy
        self.log = log
        self.table = f"async_{uuid.uuid4().hex[:10]}"
        self.loop = asyncio.new_event_loop()
        self.stack = contextlib.AsyncExitStack()
        self.sync = DynamoDBSessionStorage(
            self.table,
            INDEX,
            host=proxy.endpoint,
            botocore_config=Config(max_pool_connections=SYNC_THREADS),
        )
        self.sync.create_table()
        self.pool = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="bench-sync")
        self.direct = Floor(dynalite, self.table, INDEX)  # uncounted
        self.node = NodeBulk(proxy.endpoint, self.table, INDEX)
        self.gc = GcTimer()
        self.frozen = 0
        self.ours: dict[str, Any] = {}  # side: AsyncDynamoDBSessionStorage
        self.raw: Any = None
        self.raw_pool = 0
        self.loop.run_until_complete(self._open())
        # what each side works on
        load_shop, store_shop = shop_name("async-load"), shop_name("async-store")
        self.load_ids = [session_id(load_shop, u) for u in range(1, max(MEMORY_SIZES) + 1)]
        self._loads = self.load_ids[:N_LOAD]
        self.store_users = list(range(1, N_STORE + 1))
        self.store_sessions = [session(store_shop, u) for u in self.store_users]
        self.store_items = [dynamo_item(store_shop, u) for u in self.store_users]
        self.find_shops = [shop_name(f"async-find-{k}") for k in range(N_FIND_SHOPS)]
        self._seed(load_shop, store_shop)

    async def _open(self) -> None:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        cls = async_storage_class()
        if cls is not None:
            for side, coalesce in (("coalesce", True), ("plain", False)):
                storage = cls(self.table, INDEX, host=self.proxy.endpoint, coalesce=coalesce)
                self.ours[side] = await self.stack.enter_async_context(storage)
        config = AioConfig(retries={"total_max_attempts": 1})
        self.raw_pool = int(config.max_pool_connections)
        self.raw = await self.stack.enter_async_context(
            get_session().create_client(
                "dynamodb",
                region_name="us-east-1",
                endpoint_url=self.proxy.endpoint,
                config=config,
            )
        )

    def _seed(self, load_shop: str, store_shop: str) -> None:
        items = [dynamo_item(load_shop, u) for u in range(1, max(MEMORY_SIZES) + 1)]
        for shop in self.find_shops:
            items += [dynamo_item(shop, u) for u in index_safe_users(shop, FIND_PER_SHOP)]
        items += self.store_items
        self.direct.put_many(items)
        self.node.call(
            {"op": "prepare", "sessions": [node_json(store_shop, u) for u in self.store_users]}
        )

    def close(self) -> None:
        gc.unfreeze()
        try:
            self.loop.run_until_complete(self.stack.aclose())
        finally:
            self.loop.close()
            self.pool.shutdown(wait=True)
            self.node.close()
            self.sync.close()
            self.direct.close()

    # --- one round of one op on one side --------------------------------------------------------

    def _async_calls(self, side: str, op: str) -> Callable[[], Awaitable[list[Any]]]:
        if side == "raw":
            client, table = self.raw, self.table
            if op == "load":
                return lambda: asyncio.gather(*(_raw_get(client, table, i) for i in self._loads))
            if op == "store":
                return lambda: asyncio.gather(
                    *(client.put_item(TableName=table, Item=it) for it in self.store_items)
                )
            return lambda: asyncio.gather(*(_raw_find(client, table, s) for s in self.find_shops))
        storage = self.ours[side]
        if op == "load":
            return lambda: asyncio.gather(*(storage.load_session(i) for i in self._loads))
        if op == "store":
            return lambda: asyncio.gather(*(storage.store_session(s) for s in self.store_sessions))
        return lambda: asyncio.gather(*(storage.find_sessions_by_shop(s) for s in self.find_shops))

    def _sync_calls(self, op: str) -> Callable[[], list[Any]]:
        s, pool = self.sync, self.pool
        if op == "load":
            return lambda: list(pool.map(s.load_session, self._loads))
        if op == "store":
            return lambda: list(pool.map(s.store_session, self.store_sessions))
        return lambda: list(pool.map(s.find_sessions_by_shop, self.find_shops))

    def once(self, side: str, op: str) -> Round:
        self.proxy.reset()
        self.gc.reset()
        hold: float | None = None
        if side in LOOP_SIDES:
            run = _monitored(self._async_calls(side, op))
            results, ms, cpu_ms, hold = self.loop.run_until_complete(run)
            self._check(side, op, results)
        elif side == "sync":
            cpu, start = time.process_time(), time.perf_counter()
            results = self._sync_calls(op)()
            ms = (time.perf_counter() - start) * 1000.0
            cpu_ms = (time.process_time() - cpu) * 1000.0
            self._check(side, op, results)
        else:
            cpu_before = self.node.cpu_ms()
            if op == "load":
                answer = self.node.call({"op": "loadAll", "ids": self._loads})
                _expect(answer["found"] == N_LOAD, f"node loaded {answer['found']} of {N_LOAD}")
            elif op == "store":
                answer = self.node.call({"op": "storeAll"})
                _expect(answer["stored"] == N_STORE, f"node stored {answer['stored']}")
            else:
                answer = self.node.call({"op": "findAll", "shops": self.find_shops})
                _expect(set(answer["counts"]) == {FIND_PER_SHOP}, "node finds: wrong counts")
            ms, cpu_ms = float(answer["ms"]), self.node.cpu_ms() - cpu_before
            return Round(ms, cpu_ms, dict(self.proxy.counts))
        return Round(ms, cpu_ms, dict(self.proxy.counts), hold, self.gc.ms, self.gc.full)

    def _check(self, side: str, op: str, results: list[Any]) -> None:
        if op == "load":
            found = sum(r is not None for r in results)
            _expect(found == N_LOAD, f"{side} loaded {found} of {N_LOAD}")
            if side != "raw":
                _expect(all(isinstance(r, Session) for r in results), f"{side}: not sessions")
        elif op == "store":
            _expect(len(results) == N_STORE, f"{side} stored {len(results)} of {N_STORE}")
        else:
            counts = {len(r) for r in results}
            _expect(counts == {FIND_PER_SHOP}, f"{side} finds returned {sorted(counts)} sessions")

    def sides(self) -> list[str]:
        return [s for s in SIDES if s not in ASYNC_SIDES or s in self.ours]

    def bench_ops(self, rounds: int, warm_up: int, freeze: bool = True) -> list[OpRow]:
        """``warm_up`` + ``rounds`` interleaved rounds; after the warm-up, with ``freeze``, every
        object alive (all sides' clients, models and data) is frozen out of the collector's
        reach, so one side's full collections do not scan the other sides' heaps."""
        rows = [
            OpRow("load", N_LOAD, N_LOAD),
            OpRow("store", N_STORE, N_STORE),
            OpRow("find", N_FIND_SHOPS, N_FIND_SHOPS * FIND_PER_SHOP),
        ]
        sides = self.sides()
        for r in range(-warm_up, rounds):
            if r == 0 and freeze:
                gc.collect()
                gc.freeze()
                self.frozen = gc.get_freeze_count()
            for row in rows:
                turn = r % len(sides)
                for side in sides[turn:] + sides[:turn]:
                    done = self.once(side, row.op)
                    if r >= 0:
                        row.rounds[side].append(done)
            if r >= 0:
                self.log(
                    f"async round {r + 1}/{rounds}: "
                    + ", ".join(
                        f"{row.op} " + " ".join(f"{s} {row.rounds[s][-1].ms:.0f}" for s in sides)
                        for row in rows
                    )
                )
        return rows

    # --- memory ---------------------------------------------------------------------------------

    def bench_memory(self) -> list[MemoryRow]:
        """tracemalloc around N concurrent loads, coalescing, for each N of MEMORY_SIZES."""
        storage = self.ours.get("coalesce")
        if storage is None:
            return []

        async def loads(n: int) -> list[Any]:
            return list(await asyncio.gather(*(storage.load_session(i) for i in self.load_ids[:n])))

        self.loop.run_until_complete(loads(max(MEMORY_SIZES)))  # warm-up, untraced
        rows = []
        for n in MEMORY_SIZES:
            gc.collect()
            self.proxy.reset()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            start = time.perf_counter()
            results = self.loop.run_until_complete(loads(n))
            ms = (time.perf_counter() - start) * 1000.0
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            _expect(sum(r is not None for r in results) == n, f"memory: loaded fewer than {n}")
            del results
            row = MemoryRow("coalesce", n, peak - base, current - base, ms, dict(self.proxy.counts))
            self.log(f"async memory N={n}: peak {row.peak_bytes / n:.0f} B/call, {ms:.0f} ms")
            rows.append(row)
        return rows


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise AsyncBenchError(what)


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("aiobotocore", "aiohttp", "botocore", "pynamodb")}


def bench_async(
    dynalite: str,
    rounds: int = 9,
    cold_starts: int = 10,
    proxy_mode: str = "process",
    gc_freeze: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> AsyncSection:
    """Run the section against dynalite at ``dynalite``: concurrent ops, memory, cold start."""
    started = time.monotonic()
    section = AsyncSection(rounds=rounds, gc_freeze=gc_freeze, versions=_versions())
    with counting_proxy(dynalite, proxy_mode) as proxy:
        bench = AsyncBench(dynalite, proxy, log)
        try:
            section.pending = [s for s in ASYNC_SIDES if s not in bench.ours]
            if section.pending:
                log("async: AsyncDynamoDBSessionStorage not found; ours async pending")
            section.pool = {"raw": bench.raw_pool, "sync": SYNC_THREADS, "node": 50}
            for side, storage in bench.ours.items():
                section.pool[side] = _pool_size(storage, bench.raw_pool)
            with bench.gc:
                section.rows = bench.bench_ops(rounds, section.warm_up_rounds, gc_freeze)
            section.frozen_objects = bench.frozen
            section.memory = bench.bench_memory()
        finally:
            bench.close()
        section.cold = bench_cold_start(dynalite, proxy, cold_starts, log=log)
    section.elapsed_s = time.monotonic() - started
    return section


def _pool_size(storage: Any, default: int) -> int:
    """The HTTP connections the async storage may open (its settings, else aiobotocore's)."""
    connection = getattr(storage, "connection", None)
    size = getattr(connection, "max_pool_connections", None)
    return int(size) if size else default


# --- report -----------------------------------------------------------------------------------

ASYNC_HEADING = "## async: concurrent calls on one event loop"
_OP_ORDER = ("Query", "GetItem", "BatchGetItem", "PutItem", "BatchWriteItem")


def _requests(counts: dict[str, int], varied: bool = False) -> str:
    ops = sorted(counts, key=lambda op: (_OP_ORDER.index(op) if op in _OP_ORDER else 99, op))
    detail = " + ".join(f"{op} {counts[op]}" for op in ops)
    total = sum(counts.values())
    text = f"{total}: {detail}" if len(ops) > 1 else f"{total} {detail.split(' ')[0]}"
    return (text if counts else "0") + ("*" if varied else "")


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _met(target: Target) -> str:
    if target.reference:
        return "reference"
    return "pending" if target.ok is None else "yes" if target.ok else "**no**"


def targets(section: AsyncSection) -> list[Target]:
    out: list[Target] = []
    load, store, find = (section.row(op) for op in OPS)
    pending = "pending"

    def vs(row: OpRow | None, side: str, other: str) -> float | None:
        if row is None or not row.has(side) or not row.has(other):
            return None
        return row.median_ms(side) / row.median_ms(other)

    for row, limit in ((load, LOAD_VS_NODE), (store, STORE_VS_NODE)):
        if row is None:
            continue
        ratio = vs(row, "coalesce", "node")
        figure = pending
        if ratio is not None:
            ours, node = _ms(row.median_ms("coalesce")), _ms(row.median_ms("node"))
            figure = f"{ratio:.2f}x ({ours} vs {node} ms)"
        out.append(
            Target(
                f"{row.calls:,} concurrent {row.op}s: ours (coalescing) / warm Node, wall time",
                figure,
                f"<= {limit}x",
                None if ratio is None else ratio <= limit,
            )
        )
    for row, per in ((load, BATCH_GET), (store, BATCH_WRITE)):
        if row is None:
            continue
        want = math.ceil(row.calls / per)
        got = None if not row.has("coalesce") else row.requests("coalesce")
        out.append(
            Target(
                f"{row.calls:,} concurrent {row.op}s, coalescing: requests on the wire",
                pending if got is None else _requests(*got),
                f"ceil({row.calls}/{per}) = {want}",
                None if got is None else sum(got[0].values()) == want and not got[1],
            )
        )
    for row in (load, store, find):
        if row is None:
            continue
        ratio = vs(row, "plain", "raw")
        cpu_plain, cpu_raw = (
            row.median_cpu_ms(s) if row.has(s) else None for s in ("plain", "raw")
        )
        cpu = f"; CPU {cpu_plain / cpu_raw:.2f}x" if cpu_plain is not None and cpu_raw else ""
        out.append(
            Target(
                f"{row.op} x{row.calls:,}, coalesce=False: per-op cost / raw aiobotocore (wall)",
                pending if ratio is None else f"{ratio:.2f}x{cpu}",
                f"<= {PLAIN_VS_RAW}x",
                None if ratio is None else ratio <= PLAIN_VS_RAW,
            )
        )
    if len(section.memory) >= 2:
        small, large = section.memory[0], section.memory[-1]
        per_small, per_large = small.peak_bytes / small.n, large.peak_bytes / large.n
        growth = per_large / per_small
        out.append(
            Target(
                f"memory: peak bytes per call, N={large.n:,} vs N={small.n:,} concurrent loads",
                f"{per_large:,.0f} vs {per_small:,.0f} B ({growth:.2f}x)",
                f"<= {MEMORY_GROWTH}x (flat)",
                growth <= MEMORY_GROWTH,
            )
        )
    elif section.pending:
        out.append(
            Target(
                "memory: peak bytes per call, N=4,000 vs N=1,000 loads",
                pending,
                f"<= {MEMORY_GROWTH}x (flat)",
                None,
            )
        )
    for side in ("coalesce", "plain", "raw"):
        holds = [h for row in section.rows for h in row.holds_ms(side)]
        label = f"event-loop hold, {LABELS[side]} (worst round of any op)"
        if not holds:
            out.append(Target(label, pending, f"<= {HOLD_MS:.0f} ms", None))
            continue
        per_op = ", ".join(
            f"{row.op} {median(row.holds_ms(side)):.0f}" for row in section.rows if row.has(side)
        )
        out.append(
            Target(
                label,
                f"{max(holds):.0f} ms (median by op: {per_op})",
                f"<= {HOLD_MS:.0f} ms",
                max(holds) <= HOLD_MS,
                reference=side == "raw",
            )
        )
    if section.cold is not None:
        out += section.cold.targets()
    return out


def async_markdown(section: AsyncSection) -> list[str]:
    """The section's lines, from its ``##`` heading to a trailing blank line."""
    lines = [
        ASYNC_HEADING,
        "",
        f"Run {section.date} · git {section.git} · {section.elapsed_s:.0f} s · "
        + " · ".join(f"{k} {v}" for k, v in section.versions.items())
        + ".",
        "",
    ]
    if section.pending:
        lines += [
            "**Pending:** `AsyncDynamoDBSessionStorage` is not in this build; its rows "
            f"({', '.join(LABELS[s] for s in section.pending)}) are marked pending.",
            "",
        ]
    lines += [
        "| op | side | requests | median ms | min-max ms | µs per call | CPU µs per call "
        "| vs Node | loop hold ms, median (worst) | GC ms (full collections) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in section.rows:
        what = (
            f"{row.calls:,} finds x {row.sessions // row.calls}"
            if row.op == "find"
            else f"{row.calls:,} {row.op}s"
        )
        node = row.median_ms("node") if row.has("node") else None
        for side in SIDES:
            if not row.has(side):
                lines.append(f"| {what} | {LABELS[side]} | pending |" + " - |" * 7)
                continue
            ms = row.median_ms(side)
            low, high = (f(r.ms for r in row.rounds[side]) for f in (min, max))
            cpu = row.median_cpu_ms(side)
            holds = row.holds_ms(side)
            hold = f"{median(holds):.0f} ({max(holds):.0f})" if holds else "-"
            gc_ = row.median_gc(side)
            gc_text = f"{gc_[0]:.0f} ({gc_[1]:g})" if gc_ is not None else "-"
            lines.append(
                f"| {what} | {LABELS[side]} | {_requests(*row.requests(side))} | {_ms(ms)} "
                f"| {_ms(low)}-{_ms(high)} | {ms * 1000 / row.calls:.0f} "
                f"| {'-' if cpu is None else f'{cpu * 1000 / row.calls:.0f}'} "
                f"| {f'{ms / node:.2f}x' if node else '-'} | {hold} | {gc_text} |"
            )
    lines += [
        "",
        f"One dynalite (in memory) behind the counting proxy; each cell: median of "
        f"{section.rounds} rounds after {section.warm_up_rounds} warm-up round, sides "
        "interleaved with the starting side rotating. Python async sides: `asyncio.gather` of "
        "all calls on one event loop, timed around the gather; Node: `Promise.all` in a warm "
        "process, timed inside Node (`performance.now()`); sync: "
        f"`ThreadPoolExecutor({section.sync_threads}).map` over one `DynamoDBSessionStorage` "
        f"with {section.sync_threads} pooled connections. HTTP connections: "
        + "; ".join(f"{LABELS[s]}: {n}" for s, n in section.pool.items())
        + " (Node: the AWS SDK's default maxSockets). Finds: shops of "
        f"{FIND_PER_SHOP} sessions each. Raw aiobotocore: one attempt per request "
        "(`AioConfig(retries={'total_max_attempts': 1})`), GetItem (ConsistentRead) / PutItem / "
        "Query + BatchGetItem, returning items, not `Session`s. CPU: this process's CPU time "
        "during the round (the proxy and dynalite run elsewhere); Node's own from /proc. "
        f"Loop hold: a task sleeping {section.tick_ms:.0f} ms records how late it wakes; the "
        "longest lateness in a round is the longest stretch no other task could run. GC: this "
        "process's time in the cyclic garbage collector during the round (`gc.callbacks`), "
        "median, and its full collections. "
        + (
            f"After the warm-up round every object alive ({section.frozen_objects:,}: every "
            "side's clients with their service models, and the bench's data) is frozen "
            "(`gc.freeze()`), as a long-running app may do after start-up: one side's full "
            "collections then do not rescan the other sides' clients; unfrozen, a full "
            "collection of this process costs over 100 ms (`--no-gc-freeze`)."
            if section.gc_freeze
            else "The collector sees every side's clients and data (`--no-gc-freeze`)."
        ),
        "",
    ]
    if section.memory:
        lines += [
            "### memory: concurrent loads under tracemalloc (ours, coalescing)",
            "",
            "| N | requests | peak MiB | peak B/call | retained B/call (results) "
            "| peak beyond results B/call | ms (traced) |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for m in section.memory:
            lines.append(
                f"| {m.n:,} | {_requests(m.counts)} | {m.peak_bytes / 2**20:.1f} "
                f"| {m.peak_bytes / m.n:,.0f} | {m.retained_bytes / m.n:,.0f} "
                f"| {(m.peak_bytes - m.retained_bytes) / m.n:,.0f} | {m.ms:.0f} |"
            )
        lines += [""]
    if section.cold is not None:
        lines += section.cold.markdown()
    lines += [
        "### targets",
        "",
        "| target | measured | limit | met |",
        "| --- | --- | --- | --- |",
    ]
    for t in targets(section):
        lines.append(f"| {t.what} | {t.figure} | {t.limit} | {_met(t)} |")
    lines += [""]
    return lines


def print_targets(section: AsyncSection, out: IO[str] = sys.stderr) -> None:
    for t in targets(section):
        print(f"[bench] target {_met(t):8} {t.what}: {t.figure} ({t.limit})", file=out)
