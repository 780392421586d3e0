"""Token health (``classify``), the segmented scan that feeds it, and the fleet rate limit."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopify_sessions import Session
from shopify_sessions.cli._fleet import RateLimit
from shopify_sessions.dynamodb._avjson import json_to_attribute_value
from shopify_sessions.dynamodb.health import CATEGORIES, PROBLEMS, classify, days_until_deadline
from shopify_sessions.dynamodb.parallel_scan import scan_segments
from shopify_sessions.formats.node_json import session_to_node_json
from shopify_sessions.tokens.lease_protocol import DEAD_REFRESH_TOKEN, fingerprint
from tests.conftest import Backend

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
SHOP = "health.myshopify.com"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def item_of(session: Session, **extra: Any) -> dict[str, Any]:
    """The session as the raw item the Node adapter writes, plus raw ``extra`` attributes."""
    item = {k: json_to_attribute_value(v) for k, v in session_to_node_json(session).items()}
    return {**item, **extra}


def offline(**fields: Any) -> Session:
    return Session(f"offline_{SHOP}", SHOP, "", False, "read_orders", **fields)


def category(item: dict[str, Any], days: int = 14) -> str:
    return classify(item, now=NOW, days=days).category


EXAMPLES = [
    ("online_active", Session(f"{SHOP}_1", SHOP, "", True, None, NOW + HOUR, "t")),
    ("online_expired", Session(f"{SHOP}_1", SHOP, "", True, None, NOW - HOUR, "t")),
    ("dead", offline(expires=NOW + HOUR, access_token="t", refresh_token="r",
                     refresh_token_expires=NOW - DAY)),
    ("missing_expiry", offline(access_token="t", refresh_token="r",
                               refresh_token_expires=NOW + 80 * DAY)),
    ("refresh_due", offline(expires=NOW + HOUR, access_token="t", refresh_token="r",
                            refresh_token_expires=NOW + 13 * DAY)),
    ("unrefreshable", offline(expires=NOW + HOUR, access_token="t")),
    ("non_expiring", offline(access_token="t")),
    ("expiring_ok", offline(expires=NOW + HOUR, access_token="t", refresh_token="r",
                            refresh_token_expires=NOW + 80 * DAY)),
    ("expiring_ok", offline(expires=NOW - HOUR, access_token="t", refresh_token="r")),
]  # fmt: skip


@pytest.mark.parametrize(("expected", "session"), EXAMPLES)
def test_each_category_by_example(expected: str, session: Session) -> None:
    checked = classify(item_of(session), now=NOW, days=14)
    assert checked == (session.id, SHOP, expected)


def test_the_recorded_invalid_grant_is_dead_only_for_the_token_it_names() -> None:
    session = offline(expires=None, access_token="t", refresh_token="r")
    marked = item_of(session, **{DEAD_REFRESH_TOKEN: {"S": fingerprint("r")}})
    assert category(marked) == "dead"  # first match: before missing_expiry
    stale = item_of(session, **{DEAD_REFRESH_TOKEN: {"S": fingerprint("older")}})
    assert category(stale) == "missing_expiry"


def test_days_moves_the_refresh_due_line_and_unreadable_names_the_id_only() -> None:
    due = offline(expires=NOW + HOUR, access_token="t", refresh_token="r",
                  refresh_token_expires=NOW + 20 * DAY)  # fmt: skip
    assert category(item_of(due), days=14) == "expiring_ok"
    assert category(item_of(due), days=21) == "refresh_due"
    broken = {"id": {"S": "offline_x"}, "shop": {"S": SHOP}, "accessToken": {"S": "secret"}}
    checked = classify({**broken, "isOnline": {"L": []}}, now=NOW, days=14)
    assert checked == ("offline_x", SHOP, "unreadable") and "secret" not in repr(checked)
    assert classify({}, now=NOW, days=14).category == "unreadable"
    assert days_until_deadline(NOW) == 25 and days_until_deadline(NOW + 60 * DAY) == 0


dates = st.one_of(st.none(), st.integers(-200, 200).map(lambda d: NOW + timedelta(days=d)))
tokens = st.one_of(st.none(), st.just("tok"))


@settings(max_examples=300, deadline=None)
@given(
    online=st.booleans(),
    expires=dates,
    access=tokens,
    refresh=tokens,
    refresh_expires=dates,
    dead=st.booleans(),
    days=st.integers(1, 90),
)
def test_every_session_gets_the_first_category_that_matches(
    online: bool,
    expires: datetime | None,
    access: str | None,
    refresh: str | None,
    refresh_expires: datetime | None,
    dead: bool,
    days: int,
) -> None:
    session = Session("id1", SHOP, "", online, None, expires, access, refresh, refresh_expires)
    mark = {DEAD_REFRESH_TOKEN: {"S": fingerprint("tok")}} if dead else {}
    got = classify(item_of(session, **mark), now=NOW, days=days).category
    rules = [  # the list, literally, in its order
        ("online_active", online and (expires is None or expires > NOW)),
        ("online_expired", online),
        ("dead", bool(refresh) and (dead or (refresh_expires is not None
                                             and refresh_expires <= NOW))),
        ("missing_expiry", bool(refresh) and expires is None),
        ("refresh_due", bool(refresh) and refresh_expires is not None
                        and refresh_expires <= NOW + timedelta(days=days)),
        ("unrefreshable", not refresh and expires is not None),
        ("non_expiring", bool(access) and expires is None and not refresh),
        ("expiring_ok", True),
    ]  # fmt: skip
    assert got == next(name for name, matches in rules if matches)
    assert got in CATEGORIES and (got in PROBLEMS) == (got not in ("online_active",
        "online_expired", "expiring_ok"))  # fmt: skip


attribute_values = st.recursive(
    st.one_of(
        st.builds(lambda v: {"S": v}, st.text(max_size=30)),
        st.builds(lambda v: {"N": v}, st.sampled_from(["0", "1e3", "x", "1700000000000"])),
        st.builds(lambda v: {"BOOL": v}, st.booleans()),
        st.just({"NULL": True}),
    ),
    lambda inner: st.builds(lambda m: {"M": m}, st.dictionaries(st.text(max_size=8), inner)),
    max_leaves=5,
)
names = st.sampled_from(
    ["id", "shop", "state", "isOnline", "expires", "accessToken", "refreshToken",
     "refreshTokenExpires", "onlineAccessInfo", DEAD_REFRESH_TOKEN, "other"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(names, attribute_values))
def test_any_item_gets_exactly_one_category_and_never_raises(item: dict[str, Any]) -> None:
    checked = classify(item, now=NOW, days=14)
    assert checked.category in CATEGORIES
    assert isinstance(checked.id, str)


# --- the segmented scan, on moto, moto's server and dynalite ------------------------------------


def _fill(backend: Backend, n: int) -> tuple[Any, set[str]]:
    storage = backend.storage(f"segments_{uuid.uuid4().hex[:8]}")
    ids = {f"offline_s{i}.myshopify.com" for i in range(n)}
    client = backend.raw_client()
    batch = [{"PutRequest": {"Item": {"id": {"S": id}, "shop": {"S": "s"}}}} for id in ids]
    for start in range(0, len(batch), 25):
        client.batch_write_item(RequestItems={storage.table_name: batch[start : start + 25]})
    return storage, ids


@pytest.mark.parametrize("total", [1, 3, 8])
def test_segments_of_one_total_cover_every_item_exactly_once(dynamo: Backend, total: int) -> None:
    storage, ids = _fill(dynamo, 60)
    seen: list[str] = []
    for segment in range(total):
        for page in storage.scan_pages(segment, total, 7):  # small pages: several per segment
            seen += [item["id"]["S"] for item in page]
    assert len(seen) == len(set(seen)) and set(seen) == ids
    together = [
        item["id"]["S"]
        for page in scan_segments(storage, range(total), total, concurrency=3, page_size=7)
        for item in page
    ]
    assert sorted(together) == sorted(seen)


def test_a_reader_error_is_raised_and_an_early_stop_ends_the_readers(
    moto_server_endpoint: str,
) -> None:
    backend = Backend("moto_server", moto_server_endpoint)
    storage, _ = _fill(backend, 40)
    pages = scan_segments(storage, range(4), 4, concurrency=4, page_size=2)
    next(pages)
    pages.close()  # the consumer went away: every reader stops
    assert not [t for t in threading.enumerate() if t.name.startswith("shopify_sessions-scan")]
    missing = backend.storage(create=False)
    with pytest.raises(Exception, match="does not exist"):
        list(scan_segments(missing, range(4), 4, concurrency=2))
    with pytest.raises(ValueError, match="segment must be 0 to 3"):
        list(scan_segments(storage, [4], 4))
    backend.drop_tables()


def test_rate_limit_spaces_starts_and_a_retry_after_pauses_them() -> None:
    clock = [0.0]
    starts: list[float] = []

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    limit = RateLimit(4.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        limit.wait()
        starts.append(clock[0])
    limit.pause(2.0)
    limit.wait()
    starts.append(clock[0])
    assert starts == [0.0, 0.25, 0.5, 2.5]
    assert limit.paused_for == pytest.approx(1.75)


def test_the_async_storage_reads_one_segment_a_page_at_a_time(moto_server_endpoint: str) -> None:
    pytest.importorskip("aiobotocore", reason="the async storage needs the [async] extra")
    from shopify_sessions import AsyncDynamoDBSessionStorage

    backend = Backend("moto_server", moto_server_endpoint)
    storage, ids = _fill(backend, 30)

    async def read() -> list[str]:
        seen: list[str] = []
        async with AsyncDynamoDBSessionStorage(storage.table_name, host=moto_server_endpoint) as s:
            for segment in range(3):
                async for page in s.scan_pages(segment, 3, 4):
                    assert len(page) <= 4
                    seen += [item["id"]["S"] for item in page]
        return seen

    seen = asyncio.run(read())
    assert sorted(seen) == sorted(ids)
    backend.drop_tables()
