"""Soak: many threads share one ``DynamoDBSessionStorage`` on moto's server, checking everything.

``python -m bench.soak [--seconds 30] [--threads 16] [--sessions-per-thread 20] [--shops 4]
[--seed N] [--out bench/results/soak.md]``. Each thread owns its session ids, so it keeps an
exact model of what must be stored and checks every load and find against it; conditional
stores can never conflict. At the end a fresh storage re-reads every session. Exits 1 when
there was any error, lost or resurrected session.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from shopify_sessions import DynamoDBSessionStorage, Session

from .sessions import session as bench_session
from .sessions import shop_name

OPS = ("store", "cond_store", "load", "find", "delete", "delete_many")
WEIGHTS = (25, 20, 25, 10, 10, 10)
TABLE = "soak_sessions"
MAX_MESSAGES = 5


class Mismatch(AssertionError):
    """Storage returned something other than what the thread's model says."""


class Errors:
    """Errors of all threads: counts by type and the first few messages."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.messages: list[str] = []

    def add(self, where: str, error: BaseException) -> None:
        with self.lock:  # Counter updates are not atomic
            self.counts[type(error).__name__] += 1
            if len(self.messages) < MAX_MESSAGES:
                self.messages.append(f"{where}: {type(error).__name__}: {error}")


class Worker:
    """One thread's sessions, its model of them (``None``: must be absent) and its timings."""

    def __init__(self, index: int, shops: list[str], per_thread: int, seed: int, errors: Errors):
        self.index, self.errors = index, errors
        self.rng = random.Random(f"{seed}-{index}")
        self.base: dict[str, Session] = {}
        self.by_shop: dict[str, list[str]] = {shop: [] for shop in shops}
        for n in range(per_thread):
            shop = shops[n % len(shops)]
            session = bench_session(shop, index * 1000 + n)  # id: f"{shop}_{user}"
            self.base[session.id] = session
            self.by_shop[shop].append(session.id)
        self.model: dict[str, Session | None] = dict.fromkeys(self.base)
        self.uncertain: set[str] = set()  # a write failed: the stored state is unknown
        self.latencies: dict[str, list[float]] = {op: [] for op in OPS}
        self.version = 0

    def run(self, storage: DynamoDBSessionStorage, deadline: float, max_ops: int) -> None:
        for _ in range(max_ops):  # the hard cap; the deadline normally ends the loop first
            if time.perf_counter() >= deadline:
                return
            ids = [id for id in self.base if id not in self.uncertain]
            if not ids:
                return
            op = self.rng.choices(OPS, WEIGHTS)[0]
            present = [id for id in ids if self.model[id] is not None]
            if op == "cond_store" and not present:
                op = "store"
            if op == "delete_many":
                chosen = self.rng.sample(ids, min(len(ids), self.rng.randint(2, 4)))
            elif op == "find":
                chosen = self.rng.choice([own for own in self.by_shop.values() if own])
            else:
                chosen = [self.rng.choice(present if op == "cond_store" else ids)]
            started = time.perf_counter()
            try:
                self.apply(storage, op, chosen)
            except Exception as error:
                self.errors.add(f"thread {self.index} {op} {chosen[:4]}", error)
                if op not in ("load", "find"):
                    self.uncertain.update(chosen)
                continue
            self.latencies[op].append(time.perf_counter() - started)

    def apply(self, storage: DynamoDBSessionStorage, op: str, ids: list[str]) -> None:
        id = ids[0]
        if op == "store":
            new = self.fresh(id)
            storage.store_session(new)
            self.model[id] = new
        elif op == "cond_store":
            loaded = self.check(id, storage.load_session(id), "load before conditional store")
            assert loaded is not None  # check() raised when the model says stored
            new = self.fresh(id)
            storage.store_session(new, expected=loaded)
            self.model[id] = new
        elif op == "load":
            self.check(id, storage.load_session(id), "load")
        elif op == "find":
            shop = self.base[id].shop
            found = {s.id: s for s in storage.find_sessions_by_shop(shop)}
            if any(s.shop != shop for s in found.values()):
                raise Mismatch(f"find({shop!r}) returned another shop's session")
            for own in ids:
                if own not in self.uncertain:
                    self.check(own, found.get(own), f"find({shop!r})")
        elif op == "delete":
            storage.delete_session(id)
            self.model[id] = None
        else:
            storage.delete_sessions(ids)
            self.model.update(dict.fromkeys(ids))

    def fresh(self, id: str) -> Session:
        """The thread's template session for ``id`` with new, never used tokens."""
        self.version += 1
        tag = f"{self.index}_{self.version}"
        return replace(self.base[id], access_token=f"shpua_{tag}", refresh_token=f"shprt_{tag}")

    def check(self, id: str, got: Session | None, where: str) -> Session | None:
        want = self.model[id]
        if got != want:
            state = "missing" if got is None else "back after delete" if want is None else "stale"
            raise Mismatch(f"{where}: {id} is {state}")
        return got


def verify(workers: list[Worker], endpoint: str, errors: Errors) -> tuple[int, set[str], set[str]]:
    """Re-read everything with a fresh storage: (sessions checked, lost ids, resurrected ids)."""
    fresh = DynamoDBSessionStorage(TABLE, host=endpoint)
    model = {id: s for w in workers for id, s in w.model.items() if id not in w.uncertain}
    lost: set[str] = set()
    resurrected: set[str] = set()
    for id, want in model.items():
        try:
            got = fresh.load_session(id)
        except Exception as error:
            errors.add(f"final load {id}", error)
            continue
        if want is not None and got != want:
            lost.add(id)  # missing, or an older write came back: the last write is lost
        elif want is None and got is not None:
            resurrected.add(id)
    for shop in {shop for worker in workers for shop in worker.by_shop}:  # and the shop index
        want_ids = {id for id, s in model.items() if s is not None and s.shop == shop}
        try:
            found = {s.id for s in fresh.find_sessions_by_shop(shop)} & model.keys()
        except Exception as error:
            errors.add(f"final find({shop!r})", error)
            continue
        lost |= want_ids - found
        resurrected |= found - want_ids
    return len(model), lost, resurrected


def _ms(values: list[float], quantile: float) -> str:
    ordered = sorted(values)  # nearest-rank quantile
    return f"{ordered[math.ceil(quantile * len(ordered)) - 1] * 1000:.1f}" if ordered else "-"


def report(
    args: argparse.Namespace,
    workers: list[Worker],
    duration: float,
    errors: Errors,
    checked: int,
    lost: set[str],
    resurrected: set[str],
) -> str:
    per_op = {op: [t for w in workers for t in w.latencies[op]] for op in OPS}
    total = sum(len(values) for values in per_op.values())
    results = {
        "duration": f"{duration:.1f} s",
        "threads": f"{args.threads} ({args.sessions_per_thread} sessions each, {args.shops} shops)",
        "total ops": f"{total} ({total / duration:.0f} ops/s)",
        "errors": sum(errors.counts.values()),
        "lost sessions": len(lost),
        "resurrected sessions": len(resurrected),
        "sessions verified at the end": checked,
    }
    lines = [
        "# Soak: threads sharing one DynamoDBSessionStorage on moto's server",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} CPUs · Python "
        f"{platform.python_version()} · `python -m bench.soak --seconds {args.seconds:g} "
        f"--threads {args.threads} --sessions-per-thread {args.sessions_per_thread} "
        f"--shops {args.shops} --seed {args.seed}`",
        "",
        "| result | value |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in results.items()),
        "",
        "| operation | count | ops/s | median ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {op} | {len(v)} | {len(v) / duration:.0f} | {_ms(v, 0.5)} | {_ms(v, 0.99)} |"
            for op, v in per_op.items()
        ),
        "",
        "cond_store is load + `store_session(new, expected=loaded)`; find checks the thread's "
        "own sessions of one shop; delete_many deletes 2-4 ids. Successful operations only.",
    ]
    if errors.counts or lost or resurrected:
        lines += ["", "## Problems", ""]
        lines += [f"- {name}: {count}" for name, count in errors.counts.most_common()]
        lines += [f"- {message}" for message in errors.messages]
        lines += [f"- lost: {sorted(lost)[:10]}", f"- resurrected: {sorted(resurrected)[:10]}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--sessions-per-thread", type=int, default=20)
    parser.add_argument("--shops", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-ops", type=int, default=100_000, help="hard cap per thread")
    parser.add_argument("--out", type=Path, default=Path("bench/results/soak.md"))
    args = parser.parse_args(argv)
    if not 1 <= args.sessions_per_thread <= 1000 or args.shops < 1 or args.threads < 1:
        parser.error("need threads >= 1, shops >= 1 and 1 <= sessions-per-thread <= 1000")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # throwaway, if none are set
        os.environ.setdefault(name, "testing")

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        storage = DynamoDBSessionStorage(TABLE, host=endpoint)
        storage.create_table()
        shops = [shop_name(f"soak{i}") for i in range(args.shops)]
        errors = Errors()
        workers = [
            Worker(i, shops, args.sessions_per_thread, args.seed, errors)
            for i in range(args.threads)
        ]
        started = time.perf_counter()
        deadline = started + args.seconds
        threads = [
            threading.Thread(target=w.run, args=(storage, deadline, args.max_ops), daemon=True)
            for w in workers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.perf_counter()) + 120)
            if thread.is_alive():
                errors.add(thread.name, TimeoutError("still running 120 s after the deadline"))
        duration = time.perf_counter() - started
        storage.close()
        checked, lost, resurrected = verify(workers, endpoint, errors)
    finally:
        server.stop()
    text = report(args, workers, duration, errors, checked, lost, resurrected)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 1 if errors.counts or lost or resurrected else 0


if __name__ == "__main__":
    sys.exit(main())
