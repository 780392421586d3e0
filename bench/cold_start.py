"""Cold start, as a Lambda's first request pays it: a fresh Python process that imports, makes
a client and loads one session, ours (``DynamoDBSessionStorage``) vs raw botocore.

Each run is a new interpreter (``python -c``) against the counting proxy; the child times
itself from before its first import to the loaded item and says which heavy packages ended up
in ``sys.modules``. Runs are interleaved (ours, raw, ours, ...) after one untimed warm-up
each (the OS file cache). When ours is slower than the target, ``python -X importtime`` of
both says which modules ours imports that raw botocore does not, and what they cost.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, Protocol

from .sessions import dynamo_item, session_id, shop_name

SIDES = ("ours", "raw")
LABELS = {"ours": "ours: DynamoDBSessionStorage", "raw": "raw botocore client"}
HEAVY = ("aiobotocore", "aiohttp", "httpx", "cryptography", "click", "rich")
TARGET = 1.1  # ours / raw, import to loaded item
ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT_S = 60.0
INDEX = "shop_index"

_PRELUDE = """import gc, sys, time
gcs = [0.0, 0, 0.0]  # seconds in the cyclic GC, full collections, start of the current one
def on_gc(phase, info):
    if phase == "start":
        gcs[2] = time.perf_counter()
    else:
        gcs[0] += time.perf_counter() - gcs[2]
        gcs[1] += info["generation"] == 2
gc.callbacks.append(on_gc)
c0, t0 = time.process_time(), time.perf_counter()
"""
_OURS = """
from shopify_sessions import DynamoDBSessionStorage
t1 = time.perf_counter()
storage = DynamoDBSessionStorage(sys.argv[2], sys.argv[3], host=sys.argv[1])
t2 = time.perf_counter()
found = storage.load_session(sys.argv[4]) is not None
t3 = time.perf_counter()
import shopify_sessions
origin = shopify_sessions.__file__
"""
_RAW = """
import botocore.session
t1 = time.perf_counter()
client = botocore.session.get_session().create_client(
    "dynamodb", region_name="us-east-1", endpoint_url=sys.argv[1]
)
t2 = time.perf_counter()
key = {"id": {"S": sys.argv[4]}}
found = "Item" in client.get_item(TableName=sys.argv[2], Key=key, ConsistentRead=True)
t3 = time.perf_counter()
origin = ""
"""
_REPORT = f"""
c3 = time.process_time()
import json
heavy = [m for m in {HEAVY!r} if m in sys.modules]
print(json.dumps({{
    "import_ms": (t1 - t0) * 1000, "client_ms": (t2 - t1) * 1000, "first_ms": (t3 - t2) * 1000,
    "cpu_ms": (c3 - c0) * 1000, "gc_ms": gcs[0] * 1000, "full_gcs": gcs[1],
    "found": found, "modules": len(sys.modules), "heavy": heavy, "origin": origin,
}}))
"""
SCRIPTS = {side: _PRELUDE + body + _REPORT for side, body in (("ours", _OURS), ("raw", _RAW))}


class ColdStartError(RuntimeError):
    """A child failed or did not find the item."""


class Counting(Protocol):
    @property
    def endpoint(self) -> str: ...
    @property
    def counts(self) -> Any: ...
    def reset(self) -> None: ...


class Direct(Protocol):
    def put(self, item: dict[str, Any]) -> None: ...


@dataclass
class Target:
    """One target of the async section: what, the measured figure, the limit, and whether it
    was met (``None``: pending)."""

    what: str
    figure: str
    limit: str
    ok: bool | None
    reference: bool = False  # measured to compare with, not a target of ours


@dataclass
class ColdRun:
    import_ms: float
    client_ms: float
    first_ms: float
    cpu_ms: float  # the child's CPU time, import to item (less swayed by other load)
    gc_ms: float  # of which in the cyclic garbage collector
    full_gcs: int  # full (generation 2) collections
    wall_ms: float  # the whole process, as the parent saw it (interpreter start and exit too)
    modules: int
    heavy: list[str]
    counts: dict[str, int]

    @property
    def total_ms(self) -> float:
        return self.import_ms + self.client_ms + self.first_ms


@dataclass
class ImportCost:
    name: str
    ms: float


@dataclass
class ColdStart:
    runs: dict[str, list[ColdRun]] = field(default_factory=lambda: {s: [] for s in SIDES})
    extra_packages: list[ImportCost] = field(default_factory=list)  # ours only, self time
    heavy_imports: list[ImportCost] = field(default_factory=list)  # ours' own, cumulative

    def median(self, side: str, what: str) -> float:
        return median(float(getattr(run, what)) for run in self.runs[side])

    @property
    def ratio(self) -> float:
        return self.median("ours", "total_ms") / self.median("raw", "total_ms")

    @property
    def cpu_ratio(self) -> float:
        return self.median("ours", "cpu_ms") / self.median("raw", "cpu_ms")

    def heavy(self, side: str) -> list[str]:
        return sorted({m for run in self.runs[side] for m in run.heavy})

    def targets(self) -> list[Target]:
        ours, raw = self.median("ours", "total_ms"), self.median("raw", "total_ms")
        heavy = self.heavy("ours")
        return [
            Target(
                "cold start: fresh process, import + storage + 1 load_session, ours / raw botocore",
                f"{self.ratio:.2f}x ({ours:.0f} vs {raw:.0f} ms; CPU {self.cpu_ratio:.2f}x)",
                f"<= {TARGET}x",
                self.ratio <= TARGET,
            ),
            Target(
                f"cold start: heavy modules imported by the sync path ({', '.join(HEAVY)})",
                ", ".join(heavy) or "none",
                "none",
                not heavy,
            ),
        ]

    def markdown(self) -> list[str]:
        n = len(self.runs["ours"])
        lines = [
            f"### cold start: a fresh process's first load (median of {n} processes each)",
            "",
            "| side | import ms | client ms | first request ms | import to item ms | CPU ms "
            "| GC ms (full collections) | process wall ms | requests | modules loaded "
            "| heavy modules |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
        ]
        for side in SIDES:
            counts = self.runs[side][0].counts
            reqs = " + ".join(f"{op} {k}" for op, k in sorted(counts.items())) or "0"
            lines.append(
                f"| {LABELS[side]} | {self.median(side, 'import_ms'):.0f} "
                f"| {self.median(side, 'client_ms'):.0f} | {self.median(side, 'first_ms'):.0f} "
                f"| {self.median(side, 'total_ms'):.0f} | {self.median(side, 'cpu_ms'):.0f} "
                f"| {self.median(side, 'gc_ms'):.0f} ({self.median(side, 'full_gcs'):g}) "
                f"| {self.median(side, 'wall_ms'):.0f} "
                f"| {reqs} | {self.median(side, 'modules'):.0f} "
                f"| {', '.join(self.heavy(side)) or 'none'} |"
            )
        lines += [
            "",
            f"ours / raw, import to item: **{self.ratio:.2f}x** (CPU {self.cpu_ratio:.2f}x, "
            f"process wall {self.median('ours', 'wall_ms') / self.median('raw', 'wall_ms'):.2f}x)."
            " Each run: `python -c` in a new process, timed inside from before the first import "
            "to the loaded item (CPU: the child's CPU time over the same stretch; GC: time in "
            "the cyclic garbage collector, from `gc.callbacks`); ours: "
            "`from shopify_sessions import DynamoDBSessionStorage`, "
            "`DynamoDBSessionStorage(table, index, host=...)`, `load_session(id)`; raw: "
            "`botocore.session.get_session().create_client('dynamodb', ...)`, `get_item` "
            "(ConsistentRead). Bytecode is cached for every module, ours and botocore's (a "
            "private `PYTHONPYCACHEPREFIX`, written by one untimed warm-up run per side), as an "
            "installed package has it. Heavy modules: which of "
            f"{', '.join(HEAVY)} were in `sys.modules` afterwards.",
            "",
        ]
        if self.ratio > TARGET and self.extra_packages:
            lines += [
                "What ours imports that raw botocore does not (`python -X importtime`, one "
                "process each, self time summed per top-level package): "
                + ", ".join(f"{c.name} {c.ms:.1f} ms" for c in self.extra_packages)
                + ". `shopify_sessions` modules whose imports cost most beyond raw botocore (self "
                "time of every module below them that raw does not import): "
                + ", ".join(f"`{c.name}` {c.ms:.1f} ms" for c in self.heavy_imports)
                + ".",
                "",
            ]
        return lines


def _child_env(pycache: str) -> dict[str, str]:
    """The bench's fake AWS environment; bytecode cached in ``pycache`` for every module, ours
    and botocore's alike (as an installed package has it), whatever PYTHONDONTWRITEBYTECODE
    says here."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    return env


def _run_child(
    side: str, args: list[str], pycache: str, importtime: bool = False
) -> tuple[Any, float, str]:
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", SCRIPTS[side]]
    start = time.perf_counter()
    done = subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        env=_child_env(pycache),
        cwd=ROOT,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    wall_ms = (time.perf_counter() - start) * 1000.0
    if done.returncode != 0:
        raise ColdStartError(f"{side} child exited {done.returncode}:\n{done.stderr[-3000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if not answer["found"]:
        raise ColdStartError(f"{side} child did not find the item")
    if side == "ours" and not str(answer["origin"]).startswith(str(ROOT)):
        raise ColdStartError(f"the child imported shopify_sessions from {answer['origin']}")
    return answer, wall_ms, done.stderr


def _importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """``python -X importtime`` lines: (module, self us, cumulative us, depth)."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append((name.strip(), int(self_us), int(cumulative_us), depth))
    return rows


def attribute(ours_stderr: str, raw_stderr: str) -> tuple[list[ImportCost], list[ImportCost]]:
    """Packages ours imports that raw does not (self time per top-level package), and ours'
    own modules by what importing each costs beyond raw botocore: the self time of every
    module in its import subtree that raw does not import."""
    raw_modules = {name for name, *_ in _importtime(raw_stderr)}
    by_package: dict[str, int] = {}
    own: dict[str, int] = {}
    done: list[tuple[int, int]] = []  # (depth, extra us of its subtree), completion order
    for name, self_us, _cumulative_us, depth in _importtime(ours_stderr):
        extra = 0 if name in raw_modules else self_us
        if extra:
            top = name.split(".")[0]
            by_package[top] = by_package.get(top, 0) + self_us
        while done and done[-1][0] > depth:  # its imports finished before it did
            child_depth, child_extra = done.pop()
            extra += child_extra if child_depth == depth + 1 else 0
        done.append((depth, extra))
        if name.startswith("shopify_sessions.") and name.count(".") >= 2:
            own[name] = max(own.get(name, 0), extra)
    packages = sorted(by_package.items(), key=lambda kv: -kv[1])[:10]
    heavy = sorted(own.items(), key=lambda kv: -kv[1])[:8]
    return (
        [ImportCost(name, us / 1000.0) for name, us in packages],
        [ImportCost(name, us / 1000.0) for name, us in heavy],
    )


def bench_cold_start(
    dynalite: str,
    proxy: Counting,
    runs: int = 10,
    log: Callable[[str], None] = lambda message: None,
) -> ColdStart:
    """Seed one session in a fresh table, then ``runs`` fresh processes per side."""
    from .floor import Floor

    table = f"cold_{os.getpid()}_{int(time.time())}"
    shop = shop_name("cold-start")
    floor = Floor(dynalite, table, INDEX)
    floor.client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for _ in range(200):  # dynalite makes even an instant table ACTIVE a moment later
        if floor.client.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    floor.put(dynamo_item(shop, 1))
    args = [proxy.endpoint, table, INDEX, session_id(shop, 1)]
    result = ColdStart()
    pycache = tempfile.mkdtemp(prefix="bench-pycache-")
    try:
        for i in range(-1, runs):  # the first: warms the OS file cache and writes bytecode
            for side in SIDES:
                proxy.reset()
                answer, wall_ms, _ = _run_child(side, args, pycache)
                if i < 0:
                    continue
                result.runs[side].append(
                    ColdRun(
                        answer["import_ms"],
                        answer["client_ms"],
                        answer["first_ms"],
                        answer["cpu_ms"],
                        answer["gc_ms"],
                        answer["full_gcs"],
                        wall_ms,
                        answer["modules"],
                        answer["heavy"],
                        dict(proxy.counts),
                    )
                )
        log(
            f"cold start: ours {result.median('ours', 'total_ms'):.0f} ms, raw "
            f"{result.median('raw', 'total_ms'):.0f} ms ({result.ratio:.2f}x); heavy modules "
            f"{result.heavy('ours') or 'none'}"
        )
        if result.ratio > TARGET:
            ours_err = _run_child("ours", args, pycache, importtime=True)[2]
            raw_err = _run_child("raw", args, pycache, importtime=True)[2]
            result.extra_packages, result.heavy_imports = attribute(ours_err, raw_err)
            log(
                "cold start: ours imports beyond raw botocore: "
                + ", ".join(f"{c.name} {c.ms:.1f} ms" for c in result.extra_packages)
            )
    finally:
        shutil.rmtree(pycache, ignore_errors=True)
        floor.client.delete_table(TableName=table)
        floor.close()
    return result
