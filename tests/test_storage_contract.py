"""The storage contract, run against every storage: blocking and async, each on every backend
(memory, moto in process, moto over HTTP, dynalite; the async ones over HTTP only).

Cases 1-8 are the Node adapter's own battery (see shared/reference/node-adapter.md); the rest
are what we promise beyond it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from shopify_sessions import AsyncSessionStorage, Session, SessionStorage
from tests.conftest import ALL_BACKENDS, ASYNC_BACKENDS, Backend, _backend
from tests.support.factories import SHOP, now, offline, online


@pytest.fixture(params=ALL_BACKENDS + ASYNC_BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Every storage on every backend (the async ones driven through ``Blocking``)."""
    yield from _backend(request.param, request)


def test_storage_satisfies_protocol(storage: Any, backend: Backend) -> None:
    if backend.is_async:
        assert isinstance(storage.wrapped, AsyncSessionStorage)
    else:
        assert isinstance(storage, SessionStorage)


# --- Node battery ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expires",
    [
        pytest.param("absent", id="no-expiry"),
        pytest.param("hour-ahead", id="hour-ahead-ms-zeroed"),
        pytest.param(None, id="expires-null"),
    ],
)
def test_node_1_offline_store_load_delete(storage: Any, expires: Any) -> None:
    fields: dict[str, Any] = {}
    if expires == "hour-ahead":
        fields["expires"] = (now() + timedelta(hours=1)).replace(microsecond=0)
    elif expires is None:
        fields["expires"] = None
    session = offline(**fields)

    assert storage.store_session(session) is True
    loaded = storage.load_session(session.id)
    assert loaded == session
    assert loaded.is_active(["test_scope"])
    assert storage.delete_session(session.id) is True
    assert storage.load_session(session.id) is None
    assert storage.delete_session(session.id) is True


def test_node_2_unexpected_extra_field_is_ignored(storage: Any) -> None:
    session = offline()
    session.someOtherField = "value"  # type: ignore[attr-defined]
    storage.store_session(session)
    assert storage.load_session(session.id) == session


def test_node_3_online_session_with_full_user_info(storage: Any) -> None:
    session = online()
    storage.store_session(session)
    loaded = storage.load_session(session.id)
    assert loaded == session
    assert loaded.online_access_info == session.online_access_info
    assert loaded.is_active(["test_scope"])


def test_node_4_loading_unknown_id_gives_none(storage: Any) -> None:
    assert storage.load_session("not_stored") is None


def _four_sessions_three_shops() -> list[Session]:
    return [
        offline("shop1.myshopify.com"),
        online("shop1.myshopify.com", 1),
        offline("shop2.myshopify.com"),
        offline("shop3.myshopify.com"),
    ]


def test_node_5_find_by_shop_returns_exactly_its_sessions(storage: Any) -> None:
    sessions = _four_sessions_three_shops()
    for session in sessions:
        storage.store_session(session)
    found = storage.find_sessions_by_shop("shop1.myshopify.com")
    assert sorted(s.id for s in found) == ["offline_shop1.myshopify.com", "shop1.myshopify.com_1"]
    expected = {s.id: s for s in sessions}
    for session in found:
        assert session == expected[session.id]


def test_node_6_delete_found_sessions_leaves_other_shops(storage: Any) -> None:
    for session in _four_sessions_three_shops():
        storage.store_session(session)
    ids = [s.id for s in storage.find_sessions_by_shop("shop1.myshopify.com")]
    assert storage.delete_sessions(ids) is True
    assert storage.find_sessions_by_shop("shop1.myshopify.com") == []
    assert len(storage.find_sessions_by_shop("shop2.myshopify.com")) == 1
    assert len(storage.find_sessions_by_shop("shop3.myshopify.com")) == 1


def test_node_7_long_scope_round_trips(storage: Any) -> None:
    scope = ",".join(f"write_scope_number_{i}" for i in range(40))
    assert len(scope) > 255
    session = offline(scope=scope)
    storage.store_session(session)
    assert storage.load_session(session.id).scope == scope


def test_node_8_refresh_tokens(storage: Any) -> None:
    session = offline(refresh_token="shprt_refresh", expires=now() + timedelta(hours=1))
    storage.store_session(session)
    loaded = storage.load_session(session.id)
    assert loaded == session
    assert loaded.refresh_token_expires is None

    session.refresh_token_expires = now() + timedelta(days=30)
    storage.store_session(session)
    loaded = storage.load_session(session.id)
    assert loaded == session
    assert loaded.refresh_token_expires == session.refresh_token_expires


# --- beyond the Node battery ---------------------------------------------------------------


def test_store_is_a_full_replace(storage: Any) -> None:
    session = online(refresh_token="shprt_one")
    storage.store_session(session)
    replacement = offline(id=session.id, scope=None, access_token=None)
    storage.store_session(replacement)
    loaded = storage.load_session(session.id)
    assert loaded == replacement
    assert loaded.refresh_token is None and loaded.online_access_info is None


def test_mutating_after_store_or_load_changes_nothing_stored(storage: Any) -> None:
    session = online()
    storage.store_session(session)
    session.access_token = "changed"
    assert session.online_access_info and session.online_access_info.associated_user
    session.online_access_info.associated_user.email = "changed@b.c"
    loaded = storage.load_session(session.id)
    assert loaded.access_token == "shpua_token_online"
    assert loaded.online_access_info.associated_user.email == "a@b.c"
    loaded.scope = "other"
    assert storage.load_session(session.id).scope == "test_scope"


def test_empty_id_loads_none(storage: Any) -> None:
    assert storage.load_session("") is None


def test_delete_sessions_with_duplicates_and_missing_ids(storage: Any) -> None:
    storage.store_session(offline())
    assert storage.delete_sessions([offline().id, offline().id, "never_stored"]) is True
    assert storage.load_session(offline().id) is None


def test_delete_sessions_of_nothing(storage: Any) -> None:
    assert storage.delete_sessions([]) is True


def test_find_unknown_shop_is_empty(storage: Any) -> None:
    storage.store_session(offline())
    assert storage.find_sessions_by_shop("other.myshopify.com") == []


def test_find_many_sessions_of_one_shop(storage: Any) -> None:
    sessions = [online(SHOP, user_id) for user_id in range(30)] + [offline()]
    for session in sessions:
        storage.store_session(session)
    found = storage.find_sessions_by_shop(SHOP)
    assert sorted(found, key=lambda s: s.id) == sorted(sessions, key=lambda s: s.id)


def test_minimal_online_session_round_trips(storage: Any) -> None:
    session = Session(id="s_1", shop=SHOP, state="", is_online=True)
    storage.store_session(session)
    assert storage.load_session("s_1") == session


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.store_session({"id": "x"}), TypeError),
        (lambda s: s.store_session(offline(id="")), ValueError),
        (lambda s: s.store_session(offline(shop="")), ValueError),
        (lambda s: s.load_session(None), TypeError),
        (lambda s: s.delete_session(""), ValueError),
        (lambda s: s.delete_sessions("offline_x"), TypeError),
        (lambda s: s.find_sessions_by_shop(""), ValueError),
    ],
)
def test_bad_input_is_refused_alike(storage: Any, call: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        call(storage)
