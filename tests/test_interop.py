"""Interop with Shopify's real Node adapter, @shopify/shopify-app-session-storage-dynamodb 8.0.0.

Python (``DynamoDBSessionStorage``; ``AsyncDynamoDBSessionStorage`` too, over a few cases, in the
tests that take ``py_kind``) and Node (``NodeAdapter`` driving adapter_cli.mjs) share one
table on dynalite; every session shape a Shopify app produces must cross in both directions.
Each test gets a fresh table, created by our ``create_table()``, that Node reads and writes too
(through one shared Node process and a table-name proxy, or its own Node process: see below).

Sessions cross the pipe as the Node item's plain JSON (``tests.support.node_json``, built from
our own item codec). Expected values are also checked field by field against the Node names
of shared/reference/node-adapter.md, independently of our codec, so a drift in our item format
cannot hide behind a converter that drifted with it.
"""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shopify_sessions import (
    AssociatedUser,
    AsyncDynamoDBSessionStorage,
    DynamoDBSessionStorage,
    OnlineAccessInfo,
    Session,
)
from shopify_sessions.dynamodb import session_model as shopify_model
from shopify_sessions.dynamodb.codec import session_to_item
from tests.conftest import raw_dynamodb_client
from tests.support.node_adapter import NodeAdapter, NodeAdapterError
from tests.support.node_json import node_json_to_session, session_to_node_json
from tests.support.time_limited import time_limited

pytestmark = pytest.mark.interop

UTC = timezone.utc
SHOP = "interop-shop.myshopify.com"
OTHER_SHOP = "other-interop-shop.myshopify.com"
NOT_STORED_ID = "offline_never-stored.myshopify.com"


# --- the session shapes a Shopify app produces ----------------------------------------------


def _offline(**overrides: Any) -> Session:
    values: dict[str, Any] = {
        "id": f"offline_{SHOP}",
        "shop": SHOP,
        "state": "offline-state",
        "is_online": False,
        "scope": "write_products,read_orders",
        "access_token": "shpat_offline_token",
    }
    values.update(overrides)
    return Session(**values)


def _full_user(user_id: int) -> AssociatedUser:
    return AssociatedUser(
        id=user_id,
        first_name="First",
        last_name="Last",
        email="staff@example.com",
        email_verified=True,
        account_owner=False,
        locale="en",
        collaborator=False,
    )


def _online(user: AssociatedUser, info: dict[str, Any] | None = None, **overrides: Any) -> Session:
    info_values: dict[str, Any] = {"expires_in": 86399, "associated_user_scope": "write_products"}
    info_values.update(info or {})
    values: dict[str, Any] = {
        "id": f"{SHOP}_{user.id}",
        "shop": SHOP,
        "state": "online-state",
        "is_online": True,
        "scope": "write_products,read_orders",
        "access_token": "shpua_online_token",
        "expires": datetime(2031, 5, 17, 8, 30, 15, 250000, tzinfo=UTC),
        "online_access_info": OnlineAccessInfo(associated_user=user, **info_values),
    }
    values.update(overrides)
    return Session(**values)


LONG_SCOPE = ",".join(
    f"{verb}_{resource}"
    for resource in (
        "products",
        "orders",
        "customers",
        "inventory",
        "fulfillments",
        "shipping",
        "themes",
        "content",
        "discounts",
        "price_rules",
        "script_tags",
        "draft_orders",
    )
    for verb in ("read", "write")
)

CASES: dict[str, Callable[[], Session]] = {
    "offline": lambda: _offline(),
    "online_full_user": lambda: _online(_full_user(4242)),
    "online_partial_user": lambda: _online(
        AssociatedUser(id=77, first_name="Only", email_verified=False, collaborator=True),
        info={"associated_user_scope": None},
    ),
    "online_user_id_only": lambda: _online(
        AssociatedUser(id=78),
        info={"expires_in": None, "associated_user_scope": None},
        expires=None,
    ),
    "expiring_offline": lambda: _offline(
        expires=datetime(2031, 5, 17, 8, 30, 15, tzinfo=UTC),  # .000
        refresh_token="shprt_refresh_token",
        refresh_token_expires=datetime(2031, 6, 16, 8, 30, 15, 456000, tzinfo=UTC),
    ),
    "millis_001": lambda: _offline(
        expires=datetime(2030, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
        refresh_token="shprt_refresh_001",
        refresh_token_expires=datetime(2030, 12, 31, 23, 59, 59, 1000, tzinfo=UTC),
    ),
    "millis_999": lambda: _online(
        _full_user(999),
        expires=datetime(2030, 1, 1, 23, 59, 59, 999000, tzinfo=UTC),
    ),
    "unicode_names": lambda: _online(
        AssociatedUser(
            id=5150,
            first_name="Zoë 東京 🚀",
            last_name="Ñandú-Ørsted 😀",
            email="zoë@例え.jp",
            email_verified=True,
            account_owner=True,
            locale="ja-JP",
            collaborator=False,
        ),
        state="état-🚀",
    ),
    "user_id_2_pow_40": lambda: _online(_full_user(2**40)),
    "empty_state": lambda: _offline(state=""),
    "scope_over_255": lambda: _offline(scope=LONG_SCOPE),
    "punctuation_tokens": lambda: _offline(
        access_token="shpat_a+b/c=d!@#$%^&*()",
        refresh_token="shprt_~`|\\\"'<>?[]{};:,.=+/",
        state="st+/=!@#$%^&*()",
    ),
}
assert len(LONG_SCOPE) > 255

# The async storage shares the codec and the plans: two shapes show its wire is the same
# (the common online session; non-ASCII text, whose byte length differs from its length).
ASYNC_CASES = ["online_full_user", "unicode_names"]
BOTH_KINDS = pytest.mark.parametrize(
    ("case", "py_kind"),
    [
        *(pytest.param(case, "sync", id=case) for case in CASES),
        *(pytest.param(case, "async", id=f"{case}-async") for case in ASYNC_CASES),
    ],
    indirect=["py_kind"],
)


def _case(name: str) -> Session:
    return CASES[name]()


def _renamed(session: Session, suffix: str, shop: str | None = None) -> Session:
    other = session.copy()
    other.id = f"{session.id}~{suffix}"
    if shop is not None:
        other.shop = shop
    return other


# --- a fresh table per test, seen by both sides ---------------------------------------------
#
# Starting Node costs ~0.45 s of CPU (mostly loading the AWS SDK and @shopify/shopify-api), too
# much for ~80 tests. So one Node process serves the module: it is bound to the table name
# PROXIED_TABLE and talks to dynalite through a small local proxy that rewrites that one name
# to the current test's fresh table (bytes otherwise forwarded as they are; dynalite does not
# check request signatures). A few tests (``direct_sides``) run a Node process bound to their
# table by name with no proxy, as a control that the proxy changes nothing.

PROXIED_TABLE = "interop_proxied_table"


class _TableNameProxy:
    """HTTP proxy to dynalite; points requests for PROXIED_TABLE at ``self.target``."""

    def __init__(self, upstream: str) -> None:
        self.target: str | None = None
        upstream_url = urllib.parse.urlsplit(upstream)
        self._upstream = (upstream_url.hostname or "127.0.0.1", upstream_url.port or 80)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the AWS SDK expects
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def do_POST(self) -> None:
                proxy._forward(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="interop-proxy", daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        name = f'"TableName":"{PROXIED_TABLE}"'.encode()
        if name in body:
            if self.target is None:
                handler.send_error(500, "interop proxy: no current table")
                return
            body = body.replace(name, f'"TableName":"{self.target}"'.encode())
        headers = {
            key: value
            for key, value in handler.headers.items()
            if key.lower() not in ("host", "content-length", "connection")
        }
        headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            connection.request("POST", handler.path, body, headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        handler.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in ("content-length", "connection", "transfer-encoding", "date"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass
class Sides:
    """One fresh table, and the Python and Node storages bound to it."""

    table: str
    py: Any  # a DynamoDBSessionStorage, or an AsyncDynamoDBSessionStorage as a blocking one
    node: NodeAdapter
    raw: Any  # a plain boto3 DynamoDB client

    def raw_item(self, session_id: str) -> dict[str, Any] | None:
        response = self.raw.get_item(
            TableName=self.table, Key={"id": {"S": session_id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item


@pytest.fixture(scope="module")
def raw_client(dynalite_endpoint: str) -> Any:
    """A plain boto3 client on the dynalite, for raw items and dropping tables."""
    return raw_dynamodb_client(dynalite_endpoint)


@pytest.fixture
def py_kind(request: pytest.FixtureRequest) -> str:
    """The Python side's storage: "sync" unless a test parametrizes it (``indirect``)."""
    return str(getattr(request, "param", "sync"))


@contextmanager
def _fresh_table(
    endpoint: str, raw_client: Any, py_kind: str, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A new table, made by our own ``create_table()``, and a storage of ``py_kind`` on it;
    dropped afterwards.

    Made in the test's thread on purpose: preparing tables ahead in a background thread was
    slower (GIL contention with the test's many small I/O calls).
    """
    storage = DynamoDBSessionStorage(f"interop_{uuid.uuid4().hex[:12]}", host=endpoint)
    storage.create_table()
    py: Any = storage
    if py_kind == "async":
        made = AsyncDynamoDBSessionStorage(storage.table_name, host=endpoint)
        py = time_limited(made, request.getfixturevalue("async_portal"))
    try:
        yield py
    finally:
        if py is not storage:
            py.close()
        raw_client.delete_table(TableName=storage.table_name)
        _forget_bound_model(storage)


def _forget_bound_model(storage: DynamoDBSessionStorage) -> None:
    """Let the storage's bound model (and its botocore session) be freed after its test.

    ``bind_model`` caches one model class per table for the life of the process, each with its
    own botocore session (~30k objects): ~80 fresh tables would leave ~2.5M objects behind and
    make every full garbage collection (and pytest's exit) take seconds.
    """
    cache = getattr(shopify_model, "_bound_models", None)
    if not isinstance(cache, dict):
        return
    for key, model in list(cache.items()):
        if model is storage.model:
            del cache[key]


class _ProxiedNode:
    """The module's one Node process, behind a ``_TableNameProxy``; restarted if it dies."""

    def __init__(self, endpoint: str) -> None:
        self.proxy = _TableNameProxy(endpoint)
        self._node: NodeAdapter | None = None

    def pointed_at(self, table: str) -> NodeAdapter:
        self.proxy.target = table
        if self._node is not None:
            try:
                self._node.load("")  # answered by Node itself, no DynamoDB request
            except NodeAdapterError:
                self._node.close()
                self._node = None
        if self._node is None:
            self._node = NodeAdapter(self.proxy.url, PROXIED_TABLE)
        return self._node

    def close(self) -> None:
        if self._node is not None:
            self._node.close()
        self.proxy.close()


@pytest.fixture(scope="module")
def proxied_node(dynalite_endpoint: str) -> Iterator[_ProxiedNode]:
    proxied = _ProxiedNode(dynalite_endpoint)
    yield proxied
    proxied.close()


@pytest.fixture
def sides(
    dynalite_endpoint: str,
    raw_client: Any,
    proxied_node: _ProxiedNode,
    py_kind: str,
    request: pytest.FixtureRequest,
) -> Iterator[Sides]:
    """A fresh table (made by our create_table) and the module's Node process pointed at it."""
    with _fresh_table(dynalite_endpoint, raw_client, py_kind, request) as storage:
        try:
            node = proxied_node.pointed_at(storage.table_name)
            yield Sides(storage.table_name, storage, node, raw_client)
        finally:
            proxied_node.proxy.target = None


@pytest.fixture
def direct_sides(
    dynalite_endpoint: str, raw_client: Any, py_kind: str, request: pytest.FixtureRequest
) -> Iterator[Sides]:
    """A fresh table and a Node process of its own bound to it by name: no proxy."""
    with (
        _fresh_table(dynalite_endpoint, raw_client, py_kind, request) as storage,
        NodeAdapter(dynalite_endpoint, storage.table_name) as node,
    ):
        yield Sides(storage.table_name, storage, node, raw_client)


# --- comparisons ----------------------------------------------------------------------------

_NODE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _strictly_equal(a: Any, b: Any) -> bool:
    """``==`` that also tells ``True`` from ``1`` and ``3600`` from ``3600.0``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_strictly_equal, a, b))
    return bool(a == b)


def assert_sessions_equal(actual: Session | None, expected: Session) -> None:
    """``==`` and every field explicitly, with its type: dates (UTC, ms) and user info too."""
    assert actual is not None, f"{expected.id} not found"
    assert actual == expected
    for f in fields(Session):
        if f.name == "online_access_info":
            continue
        got, want = getattr(actual, f.name), getattr(expected, f.name)
        assert _strictly_equal(got, want), f"{f.name}: {got!r} != {want!r}"
        if isinstance(want, datetime):
            assert got.utcoffset() == timedelta(0), f.name
            assert got.microsecond == want.microsecond, f.name
    got_info, want_info = actual.online_access_info, expected.online_access_info
    if want_info is None:
        assert got_info is None
        return
    assert got_info is not None
    for f in fields(OnlineAccessInfo):
        if f.name == "associated_user":
            continue
        got, want = getattr(got_info, f.name), getattr(want_info, f.name)
        assert _strictly_equal(got, want), f"online_access_info.{f.name}: {got!r} != {want!r}"
    got_user, want_user = got_info.associated_user, want_info.associated_user
    if want_user is None:
        assert got_user is None
        return
    assert got_user is not None
    for f in fields(AssociatedUser):
        got, want = getattr(got_user, f.name), getattr(want_user, f.name)
        assert _strictly_equal(got, want), f"associated_user.{f.name}: {got!r} != {want!r}"


def _node_date(text: Any) -> datetime | None:
    if text is None:
        return None
    assert isinstance(text, str)
    assert _NODE_DATE.match(text), f"not Date.toISOString() form: {text!r}"
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def assert_node_json_is(obj: dict[str, Any] | None, session: Session) -> None:
    """Node's plain JSON of a session, field by field under the names of node-adapter.md.

    Written out by hand on purpose: this must not go through our codec.
    """
    assert obj is not None, f"Node found no {session.id}"
    assert set(obj) <= {
        "id",
        "shop",
        "state",
        "isOnline",
        "scope",
        "expires",
        "accessToken",
        "refreshToken",
        "refreshTokenExpires",
        "onlineAccessInfo",
    }, sorted(obj)
    assert _strictly_equal(obj["id"], session.id)
    assert _strictly_equal(obj["shop"], session.shop)
    assert _strictly_equal(obj["state"], session.state)
    assert _strictly_equal(obj["isOnline"], session.is_online)
    for key, want in (
        ("scope", session.scope),
        ("accessToken", session.access_token),
        ("refreshToken", session.refresh_token),
    ):
        assert _strictly_equal(obj.get(key), want), f"{key}: {obj.get(key)!r} != {want!r}"
        assert (key in obj) == (want is not None), key
    for key, want_date in (
        ("expires", session.expires),
        ("refreshTokenExpires", session.refresh_token_expires),
    ):
        assert _node_date(obj.get(key)) == want_date, f"{key}: {obj.get(key)!r}"
        assert (key in obj) == (want_date is not None), key
    info = session.online_access_info
    if info is None:
        assert "onlineAccessInfo" not in obj
        return
    user = info.associated_user
    expected_info = _present(
        {
            "expires_in": info.expires_in,
            "associated_user_scope": info.associated_user_scope,
            "associated_user": None
            if user is None
            else _present(
                {
                    "id": user.id,
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                    "email": user.email,
                    "email_verified": user.email_verified,
                    "account_owner": user.account_owner,
                    "locale": user.locale,
                    "collaborator": user.collaborator,
                }
            ),
        }
    )
    assert _strictly_equal(obj["onlineAccessInfo"], expected_info), obj["onlineAccessInfo"]


def _store_mix(sides: Sides) -> list[Session]:
    """Every case in SHOP (ids made unique), written alternately by Python and by Node."""
    sessions = [_renamed(_case(name), name) for name in CASES]
    for i, session in enumerate(sessions):
        if i % 2:
            sides.node.store(session_to_node_json(session))
        else:
            sides.py.store_session(session)
    sides.py.store_session(_renamed(_case("offline"), "py-decoy", OTHER_SHOP))
    sides.node.store(session_to_node_json(_renamed(_case("online_full_user"), "node", OTHER_SHOP)))
    return sessions


# --- the converter itself -------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_node_json_converter_round_trips(case: str) -> None:
    session = _case(case)
    obj = session_to_node_json(session)
    assert_node_json_is(obj, session)
    assert_sessions_equal(node_json_to_session(obj), session)


# --- each direction, every shape ------------------------------------------------------------


@BOTH_KINDS
def test_node_writes_python_loads(sides: Sides, case: str) -> None:
    expected = _case(case)
    assert sides.node.store(session_to_node_json(expected)) is True

    assert_sessions_equal(sides.py.load_session(expected.id), expected)
    # What Node wrote is exactly the item we write, and Node reads it back as itself.
    assert sides.raw_item(expected.id) == session_to_item(expected)
    node_view, _ = sides.node.load(expected.id)
    assert_node_json_is(node_view, expected)


@BOTH_KINDS
def test_python_writes_node_loads(sides: Sides, case: str) -> None:
    session = _case(case)
    assert sides.py.store_session(session) is True

    expected_json = session_to_node_json(session)
    result, equals = sides.node.load(session.id, expect=expected_json)
    assert equals is True, result
    # Node's equals() ignores expires_in and associated_user_scope: compare the JSON too.
    assert result is not None
    assert _strictly_equal(result, expected_json), result
    assert_node_json_is(result, session)


@pytest.mark.parametrize("case", list(CASES))
def test_node_restores_python_written_session(sides: Sides, case: str) -> None:
    session = _case(case)
    sides.py.store_session(session)
    written = sides.raw_item(session.id)

    loaded, _ = sides.node.load(session.id)
    assert loaded is not None
    assert sides.node.store(loaded) is True

    assert_sessions_equal(sides.py.load_session(session.id), session)
    # byte for byte what Python wrote, except our ttl attribute, which Node drops (documented)
    assert sides.raw_item(session.id) == {k: v for k, v in written.items() if k != "ttl"}


@BOTH_KINDS
def test_find_by_shop_agrees_over_both_writers(sides: Sides, case: str) -> None:
    from_python = _case(case)
    from_node = _renamed(from_python, "node")
    sides.py.store_session(from_python)
    sides.node.store(session_to_node_json(from_node))
    sides.py.store_session(_renamed(from_python, "py-decoy", OTHER_SHOP))
    sides.node.store(session_to_node_json(_renamed(from_python, "node-decoy", OTHER_SHOP)))

    node_ids = sides.node.find(SHOP)
    python_found = sides.py.find_sessions_by_shop(SHOP)
    assert len(node_ids) == len(set(node_ids)) == 2
    assert set(node_ids) == {s.id for s in python_found} == {from_python.id, from_node.id}
    by_id = {s.id: s for s in python_found}
    for want in (from_python, from_node):
        assert_sessions_equal(by_id[want.id], want)
    assert (
        set(sides.node.find(OTHER_SHOP))
        == {s.id for s in sides.py.find_sessions_by_shop(OTHER_SHOP)}
        == {f"{from_python.id}~py-decoy", f"{from_python.id}~node-decoy"}
    )


def test_find_by_shop_agrees_over_every_shape_mixed(direct_sides: Sides) -> None:
    sides = direct_sides
    sessions = _store_mix(sides)
    expected_ids = {s.id for s in sessions}

    node_ids = sides.node.find(SHOP)
    python_found = sides.py.find_sessions_by_shop(SHOP)
    assert len(node_ids) == len(set(node_ids)) == len(sessions)
    assert set(node_ids) == {s.id for s in python_found} == expected_ids
    by_id = {s.id: s for s in python_found}
    for session in sessions:
        assert_sessions_equal(by_id[session.id], session)


@BOTH_KINDS
def test_node_delete_is_seen_by_python(sides: Sides, case: str) -> None:
    session = _case(case)
    sides.py.store_session(session)
    assert_sessions_equal(sides.py.load_session(session.id), session)

    assert sides.node.delete(session.id) is True
    assert sides.py.load_session(session.id) is None
    assert sides.py.find_sessions_by_shop(session.shop) == []
    assert sides.raw_item(session.id) is None


@BOTH_KINDS
def test_python_delete_is_seen_by_node(sides: Sides, case: str) -> None:
    session = _case(case)
    sides.node.store(session_to_node_json(session))
    assert sides.node.load(session.id)[0] is not None

    assert sides.py.delete_session(session.id) is True
    assert sides.node.load(session.id) == (None, None)
    assert sides.node.find(session.shop) == []


def test_node_delete_many_is_seen_by_python(direct_sides: Sides) -> None:
    sides = direct_sides
    sessions = _store_mix(sides)
    doomed, kept = sessions[::3], [s for i, s in enumerate(sessions) if i % 3]

    assert sides.node.delete_many([s.id for s in doomed] + [NOT_STORED_ID]) is True

    for session in doomed:
        assert sides.py.load_session(session.id) is None
    for session in kept:
        assert_sessions_equal(sides.py.load_session(session.id), session)
    assert {s.id for s in sides.py.find_sessions_by_shop(SHOP)} == {s.id for s in kept}


@pytest.mark.parametrize("py_kind", ["sync", "async"], indirect=True)
def test_python_delete_sessions_is_seen_by_node(direct_sides: Sides) -> None:
    sides = direct_sides
    sessions = _store_mix(sides)
    doomed, kept = sessions[1::3], [s for i, s in enumerate(sessions) if i % 3 != 1]

    assert sides.py.delete_sessions([s.id for s in doomed] + [NOT_STORED_ID]) is True

    for session in doomed:
        assert sides.node.load(session.id) == (None, None)
    for session in kept:
        result, equals = sides.node.load(session.id, expect=session_to_node_json(session))
        assert equals is True
        assert_node_json_is(result, session)
    assert set(sides.node.find(SHOP)) == {s.id for s in kept}


# --- attributes Node does not know ----------------------------------------------------------


def test_unknown_attribute_loads_in_node_and_a_node_restore_drops_it(direct_sides: Sides) -> None:
    sides = direct_sides
    session = _case("online_full_user")
    item = {**session_to_item(session), "ttl": {"N": "1924992000"}}
    sides.raw.put_item(TableName=sides.table, Item=item)

    result, equals = sides.node.load(session.id, expect=session_to_node_json(session))
    assert equals is True
    assert result is not None
    assert_node_json_is(result, session)  # no "ttl" in Node's toObject()
    assert_sessions_equal(sides.py.load_session(session.id), session)

    sides.node.store(result)
    # Node writes back only the fields it knows: the ttl attribute is gone.
    assert sides.raw_item(session.id) == session_to_item(session)
    assert_sessions_equal(sides.py.load_session(session.id), session)


def test_node_never_writes_unknown_session_fields(sides: Sides) -> None:
    session = _case("offline")
    sides.node.store({**session_to_node_json(session), "ttl": 1924992000, "extra": "x"})

    assert sides.raw_item(session.id) == session_to_item(session)
    assert_sessions_equal(sides.py.load_session(session.id), session)
