"""Token refresh storm: 16 workers in 4 processes meet one expiring offline session at once.

A fake Shopify token endpoint (``FakeShopify``, answering after ``latency`` seconds) and one
dynalite table, no proxy. Each storm gets a fresh install of a new shop, its token expiring in a
minute, stored with ``store_session``; then every worker thread asks for the session at the same
moment (``tests.support.storm``). Modes, interleaved (fleet, unguarded, fleet, ...):

- ``"fleet"``: ``storage.load_fresh_session`` (single flight, DynamoDB lease, newest pair wins);
- ``"unguarded"``: the Node adapter's ``ensureOfflineTokenIsNotExpired`` logic (load; when the
  token expires within 5 minutes, refresh and store with a plain PutItem), run in Python.

Per storm: refresh calls the endpoint received, whether the stored token is the shop's active
one afterwards, workers left holding a revoked token, errors, and every worker's wait.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from statistics import median

from shopify_sessions import DynamoDBSessionStorage
from shopify_sessions.testing import FakeShopify
from shopify_sessions.tokens.lease_protocol import FIRST_PAUSE, MAX_PAUSE
from tests.support.storm import FleetConfig, Outcome, fleet
from tests.support.tokens import installed

from .sessions import shop_name

MODES = ("fleet", "unguarded")
PROCESSES = 4
THREADS = 4
EXPIRES_IN = timedelta(minutes=1)
LEASE_S = 10.0
REFRESH_TIMEOUT_S = 5.0
WARM_UP_STORMS = 1  # per mode, not recorded: first-use code paths and connections
P99_SLACK_MS = 200.0  # target: p99 wait <= endpoint latency + this


class TokenBenchError(RuntimeError):
    """A storm did not return one outcome per worker."""


@dataclass
class StormResult:
    """One storm of one mode."""

    mode: str
    shop: str
    calls: int  # refresh_token grants the endpoint received during the storm
    stored_active: bool  # the stored token afterwards is the shop's active token
    revoked: int  # workers that ended up with a token other than the active one
    errors: list[str]  # error type names, one per failed worker
    waits_ms: list[float]  # every worker's wait, from the common start to its token


@dataclass
class TokenSection:
    storms_per_mode: int
    latency_s: float
    processes: int = PROCESSES
    threads: int = THREADS
    lease_s: float = LEASE_S
    expires_in_s: float = EXPIRES_IN.total_seconds()
    warm_up_storms: int = WARM_UP_STORMS
    storms: list[StormResult] = field(default_factory=list)
    elapsed_s: float = 0.0
    date: str = ""
    git: str = ""

    @property
    def workers(self) -> int:
        return self.processes * self.threads

    @property
    def p99_target_ms(self) -> float:
        return self.latency_s * 1000.0 + P99_SLACK_MS

    def of(self, mode: str) -> list[StormResult]:
        return [s for s in self.storms if s.mode == mode]


@dataclass
class ModeSummary:
    mode: str
    storms: int
    calls_min: int
    calls_median: float
    calls_max: int
    stored_active: int
    revoked: int
    waits: int
    errors: int
    p50_ms: float
    p99_ms: float


def percentile(values: list[float], q: float) -> float:
    """The value below which a share ``q`` of ``values`` lies (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(section: TokenSection, mode: str) -> ModeSummary:
    storms = section.of(mode)
    calls = [s.calls for s in storms]
    waits = [ms for s in storms for ms in s.waits_ms]
    return ModeSummary(
        mode=mode,
        storms=len(storms),
        calls_min=min(calls),
        calls_median=median(calls),
        calls_max=max(calls),
        stored_active=sum(s.stored_active for s in storms),
        revoked=sum(s.revoked for s in storms),
        waits=len(waits),
        errors=sum(len(s.errors) for s in storms),
        p50_ms=percentile(waits, 0.5),
        p99_ms=percentile(waits, 0.99),
    )


def _judge(
    fake: FakeShopify,
    storage: DynamoDBSessionStorage,
    mode: str,
    shop: str,
    session_id: str,
    calls_before: int,
    outcomes: list[Outcome],
) -> StormResult:
    active = fake.active_token(shop)
    stored = storage.load_session(session_id)
    tokens = [o.token for o in outcomes if o.error is None]
    return StormResult(
        mode=mode,
        shop=shop,
        calls=fake.call_count(shop=shop, grant="refresh_token") - calls_before,
        stored_active=stored is not None and active is not None and stored.access_token == active,
        revoked=sum(token != active for token in tokens),
        errors=[o.error for o in outcomes if o.error is not None],
        waits_ms=[o.seconds * 1000.0 for o in outcomes],
    )


def bench_tokens(
    endpoint: str,
    storms: int = 20,
    latency: float = 0.3,
    log: Callable[[str], None] = lambda message: None,
) -> TokenSection:
    """Run ``storms`` storms per mode, interleaved, against dynalite at ``endpoint``."""
    started = time.monotonic()
    section = TokenSection(storms_per_mode=storms, latency_s=latency)
    table = f"tokens_{uuid.uuid4().hex[:10]}"
    storage = DynamoDBSessionStorage(table, host=endpoint)
    storage.create_table()
    run_id = uuid.uuid4().hex[:6]
    with FakeShopify(latency=latency) as fake:
        config = FleetConfig(
            endpoint,
            table,
            fake.url,
            fake.client_id,
            fake.client_secret,
            threads=THREADS,
            timeout=REFRESH_TIMEOUT_S,
            lease=LEASE_S,
        )
        with fleet(config, processes=PROCESSES) as running:
            rounds = [(i, mode) for i in range(-WARM_UP_STORMS, storms) for mode in MODES]
            for i, mode in rounds:
                shop = shop_name(f"storm-{run_id}-{mode}-{i + WARM_UP_STORMS}")
                session = installed(fake, shop, expires_in=EXPIRES_IN)
                storage.store_session(session)
                before = fake.call_count(shop=shop, grant="refresh_token")
                outcomes = running.storm(mode, session.id)
                if len(outcomes) != section.workers:
                    raise TokenBenchError(f"{mode} storm: {len(outcomes)} outcomes")
                if i < 0:
                    continue
                result = _judge(fake, storage, mode, shop, session.id, before, outcomes)
                section.storms.append(result)
                if i + 1 == storms or (i + 1) % 10 == 0:
                    log(f"tokens {mode:9} storm {i + 1}/{storms}: {result.calls} calls")
    section.elapsed_s = time.monotonic() - started
    for mode in MODES:
        s = summarize(section, mode)
        log(
            f"tokens {mode:9} calls {s.calls_min}/{s.calls_median:g}/{s.calls_max}, "
            f"stored active {s.stored_active}/{s.storms}, revoked {s.revoked}, "
            f"errors {s.errors}, p50 {s.p50_ms:.0f} ms, p99 {s.p99_ms:.0f} ms"
        )
    return section


# --- report ---------------------------------------------------------------------------------

TOKENS_HEADING = "## token refresh storm"
_LABELS = {"fleet": "fleet (ours)", "unguarded": "unguarded (Node logic)"}


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def tokens_markdown(section: TokenSection) -> list[str]:
    """The section's lines, from its ``##`` heading to a trailing blank line."""
    fleet_, unguarded = summarize(section, "fleet"), summarize(section, "unguarded")
    n, latency_ms = section.storms_per_mode, section.latency_s * 1000.0
    target_ms = section.p99_target_ms

    def calls(s: ModeSummary) -> str:
        return f"{s.calls_min} / {s.calls_median:g} / {s.calls_max}"

    rows = [
        (
            "refresh calls per storm (min / median / max)",
            calls(fleet_),
            calls(unguarded),
            "1 per expiry",
            fleet_.calls_min == fleet_.calls_max == 1,
        ),
        (
            "stored token active after the storm",
            f"{fleet_.stored_active} of {n}",
            f"{unguarded.stored_active} of {n}",
            f"{n} of {n}",
            fleet_.stored_active == n,
        ),
        (
            f"workers holding a revoked token (of {fleet_.waits})",
            str(fleet_.revoked),
            str(unguarded.revoked),
            "-",
            None,
        ),
        ("errors", str(fleet_.errors), str(unguarded.errors), "-", None),
        ("p50 wait ms", f"{fleet_.p50_ms:.0f}", f"{unguarded.p50_ms:.0f}", "-", None),
        (
            "p99 wait ms",
            f"{fleet_.p99_ms:.0f}",
            f"{unguarded.p99_ms:.0f}",
            f"<= {target_ms:.0f} (latency {latency_ms:.0f} + {P99_SLACK_MS:.0f})",
            fleet_.p99_ms <= target_ms,
        ),
    ]
    lines = [
        f"{TOKENS_HEADING} ({section.workers} workers, {n} storms per mode)",
        "",
        f"Run {section.date} · git {section.git} · {section.elapsed_s:.0f} s.",
        "",
        "| measure | fleet (ours) | unguarded (Node logic) | target | fleet meets target |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for label, ours, theirs, target, ok in rows:
        met = "-" if ok is None else _met(ok)
        lines.append(f"| {label} | {ours} | {theirs} | {target} | {met} |")
    lines += [
        "",
        f"One dynalite (in memory, no proxy) and a fake Shopify token endpoint on loopback that "
        f"answers after {latency_ms:.0f} ms. {section.processes} worker processes with "
        f"{section.threads} threads each (every process its own storage and httpx client, as "
        "separate hosts) ask for one offline session at the same moment; its token expires in "
        f"{section.expires_in_s / 60:.0f} min. Before each storm a new shop is installed and "
        "its session stored. Storms are interleaved fleet, unguarded, fleet, ...; "
        f"{section.warm_up_storms} warm-up storm per mode is not counted. "
        "fleet: `load_fresh_session` (single flight per process, DynamoDB lease "
        f"{section.lease_s:.0f} s, newest pair wins). unguarded: the Node adapter's "
        "`ensureOfflineTokenIsNotExpired` logic, run in Python on the same storage (load; when "
        "the token expires within 5 min, refresh and `store_session`). Calls: refresh_token "
        "grants the endpoint received per storm. Stored token active: "
        "`load_session(id).access_token` is the shop's one active token after the storm. "
        "Revoked: workers whose token is not the active one at the end, summed over storms. "
        f"Wait: per worker, from the common start to its token; p50 / p99 over all "
        f"{fleet_.waits} waits of a mode. A fleet worker in a process other than the lease "
        f"holder's re-reads the item after pauses of {FIRST_PAUSE * 1000:.0f} ms, doubling up "
        f"to {MAX_PAUSE * 1000:.0f} ms (`shopify_sessions/tokens/lease_protocol.py`), "
        "so a read that lands just before the new pair is stored sees it up to that much later.",
        "",
    ]
    return lines
