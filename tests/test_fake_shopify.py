"""The fake Shopify token endpoint keeps Shopify's rules, over real HTTP through httpx.

The fixtures come from the shipped pytest plugin, enabled here with ``pytest_plugins`` as a
user's conftest.py would, so these tests are also the plugin's tests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from typing import Any

import httpx
import pytest

from shopify_sessions.testing import (
    AsyncLoopbackTransport,
    FakeShopify,
    LoopbackTransport,
)

pytest_plugins = ["shopify_sessions.testing.pytest_plugin"]  # as a user's conftest.py would

SHOP = "demo.myshopify.com"
TOKEN_URL = f"https://{SHOP}/admin/oauth/access_token"
GRAPHQL_URL = f"https://{SHOP}/admin/api/2025-10/graphql.json"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE = "urn:shopify:params:oauth:token-type:offline-access-token"
ONLINE = "urn:shopify:params:oauth:token-type:online-access-token"
CLIENT = {"client_id": "fake-client-id", "client_secret": "fake-client-secret"}


def refresh(client: httpx.Client, refresh_token: str | None, **extra: Any) -> httpx.Response:
    body = {**CLIENT, "grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return client.post(TOKEN_URL, json=body)


def exchange(
    client: httpx.Client, subject: str, subject_type: str, requested: str, expiring: object
) -> httpx.Response:
    body = {
        **CLIENT,
        "grant_type": EXCHANGE,
        "subject_token": subject,
        "subject_token_type": subject_type,
        "requested_token_type": requested,
        "expiring": expiring,
    }
    return client.post(TOKEN_URL, json=body)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(payload: dict[str, object], secret: str = "fake-client-secret") -> str:
    """An HS256 session token minted by hand, independent of the fake's own helper."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def admin_status(client: httpx.Client, token: str) -> int:
    response = client.post(
        GRAPHQL_URL, headers={"X-Shopify-Access-Token": token}, json={"query": "{shop{name}}"}
    )
    return response.status_code


def error_of(response: httpx.Response) -> str:
    return str(response.json()["error"])


# -- refresh ------------------------------------------------------------------------------


def test_refresh_issues_new_pair_and_revokes_old_access_token(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    grant = fake_shopify.install(SHOP)
    assert grant.access_token.startswith("shpat_fake_")
    assert grant.refresh_token is not None and grant.refresh_token.startswith("shprt_fake_")

    response = refresh(fake_shopify_client, grant.refresh_token)

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {
        "access_token",
        "scope",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
    }
    assert (answer["expires_in"], answer["refresh_token_expires_in"]) == (3600, 7776000)
    assert answer["scope"] == "read_products,write_products"
    assert answer["access_token"] != grant.access_token
    assert answer["refresh_token"] != grant.refresh_token
    assert fake_shopify.active_token(SHOP) == answer["access_token"]
    assert not fake_shopify.is_active(SHOP, grant.access_token)
    assert admin_status(fake_shopify_client, grant.access_token) == 401
    assert admin_status(fake_shopify_client, answer["access_token"]) == 200


def test_previous_refresh_token_replays_until_the_new_one_is_used(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    first = fake_shopify.install(SHOP).refresh_token
    second = refresh(fake_shopify_client, first).json()

    replay = refresh(fake_shopify_client, first)  # the answer to the first was "lost"
    assert replay.status_code == 200
    third = replay.json()
    assert fake_shopify.active_token(SHOP) == third["access_token"]
    assert not fake_shopify.is_active(SHOP, second["access_token"])
    assert error_of(refresh(fake_shopify_client, second["refresh_token"])) == "invalid_grant"

    assert refresh(fake_shopify_client, third["refresh_token"]).status_code == 200
    gone = refresh(fake_shopify_client, first)  # the new token was used: the window closed
    assert (gone.status_code, error_of(gone)) == (400, "invalid_grant")


def test_strict_mode_kills_the_previous_refresh_token_at_once(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    fake_shopify.strict = True
    first = fake_shopify.install(SHOP).refresh_token
    assert refresh(fake_shopify_client, first).status_code == 200

    again = refresh(fake_shopify_client, first)

    assert (again.status_code, error_of(again)) == (400, "invalid_grant")
    fake_shopify.strict = False  # switching back does not resurrect it
    assert refresh(fake_shopify_client, first).status_code == 400


def test_invalid_grant_for_unknown_expired_and_uninstalled(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    assert error_of(refresh(fake_shopify_client, "shprt_fake_unknown")) == "invalid_grant"
    other = "other.myshopify.com"
    grant = fake_shopify.install(SHOP)
    other_grant = fake_shopify.install(other)
    assert error_of(refresh(fake_shopify_client, other_grant.refresh_token)) == "invalid_grant"

    fake_shopify.expire_refresh_token(SHOP)
    expired = refresh(fake_shopify_client, grant.refresh_token)
    assert (expired.status_code, error_of(expired)) == (400, "invalid_grant")
    assert expired.json()["error_description"]

    grant = fake_shopify.install(SHOP)
    fake_shopify.uninstall(SHOP)
    assert error_of(refresh(fake_shopify_client, grant.refresh_token)) == "invalid_grant"
    assert fake_shopify.active_token(SHOP) is None
    assert admin_status(fake_shopify_client, grant.access_token) == 401


def test_invalid_client_and_invalid_request(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    grant = fake_shopify.install(SHOP)

    wrong = refresh(fake_shopify_client, grant.refresh_token, client_secret="not-the-secret")
    assert (wrong.status_code, error_of(wrong)) == (401, "invalid_client")
    assert "fake-client-secret" not in wrong.text and str(grant.refresh_token) not in wrong.text
    unknown_app = refresh(fake_shopify_client, grant.refresh_token, client_id="other-app")
    assert unknown_app.status_code == 401

    not_json = fake_shopify_client.post(TOKEN_URL, content=b"{not json")
    assert (not_json.status_code, error_of(not_json)) == (400, "invalid_request")
    no_grant = fake_shopify_client.post(TOKEN_URL, json=CLIENT)
    assert (no_grant.status_code, error_of(no_grant)) == (400, "invalid_request")
    assert fake_shopify.is_active(SHOP, grant.access_token)  # nothing rotated
    assert [c.grant for c in fake_shopify.calls] == ["refresh_token"] * 2 + ["invalid"] * 2


# -- token exchange -----------------------------------------------------------------------


def test_migration_exchange_revokes_the_non_expiring_token(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    legacy = fake_shopify.install(SHOP, expiring=False)
    assert (legacy.refresh_token, legacy.expires_in) == (None, None)

    response = exchange(fake_shopify_client, legacy.access_token, OFFLINE, OFFLINE, "1")

    assert response.status_code == 200
    answer = response.json()
    assert {"refresh_token", "expires_in", "refresh_token_expires_in"} <= set(answer)
    assert not fake_shopify.is_active(SHOP, legacy.access_token)
    assert fake_shopify.active_token(SHOP) == answer["access_token"]
    assert refresh(fake_shopify_client, answer["refresh_token"]).status_code == 200
    # the first refresh of the pair closes the retry window
    again = exchange(fake_shopify_client, legacy.access_token, OFFLINE, OFFLINE, "1")
    assert (again.status_code, error_of(again)) == (400, "invalid_subject_token")
    assert fake_shopify.call_count(SHOP, "token_exchange") == 2


def test_migration_exchange_is_retryable_for_seven_days(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    legacy = fake_shopify.install(SHOP, expiring=False)
    first = exchange(fake_shopify_client, legacy.access_token, OFFLINE, OFFLINE, "1").json()
    fake_shopify.advance(3 * 86400)  # the access token died long ago, the pair is unused
    assert fake_shopify.active_token(SHOP) is None

    again = exchange(fake_shopify_client, legacy.access_token, OFFLINE, OFFLINE, "1").json()
    pair = ("access_token", "refresh_token")
    assert [again[k] for k in pair] == [first[k] for k in pair]  # the very same pair
    assert again["expires_in"] == 3600  # the access token's life is extended...
    assert fake_shopify.active_token(SHOP) == first["access_token"]
    lost = first["refresh_token_expires_in"] - again["refresh_token_expires_in"]
    assert 3 * 86400 - 2 <= lost <= 3 * 86400 + 60  # ...the refresh token's is not (whole seconds)

    fake_shopify.advance(4 * 86400)  # 7 days after the first exchange: the window is shut
    late = exchange(fake_shopify_client, legacy.access_token, OFFLINE, OFFLINE, "1")
    assert (late.status_code, error_of(late)) == (400, "invalid_subject_token")


def test_a_later_acquisition_closes_the_migration_window(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    legacy = fake_shopify.install(SHOP, expiring=False)
    assert exchange(fake_shopify_client, legacy.access_token, OFFLINE, OFFLINE, "1").is_success
    fake_shopify.install(SHOP)  # the merchant reopened the app: a newer pair
    again = exchange(fake_shopify_client, legacy.access_token, OFFLINE, OFFLINE, "1")
    assert (again.status_code, error_of(again)) == (400, "invalid_subject_token")
    not_a_retry = exchange(fake_shopify_client, "shpat_other", OFFLINE, OFFLINE, "1")
    assert error_of(not_a_retry) == "invalid_subject_token"


def test_id_token_exchange_offline_expiring_and_non_expiring(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    earlier = fake_shopify.install(SHOP)
    token = jwt({"dest": f"https://{SHOP}", "sub": "42", "aud": "fake-client-id"})

    expiring = exchange(fake_shopify_client, token, ID_TOKEN, OFFLINE, 1)
    assert expiring.status_code == 200
    assert expiring.json()["expires_in"] == 3600
    assert not fake_shopify.is_active(SHOP, earlier.access_token)
    assert error_of(refresh(fake_shopify_client, earlier.refresh_token)) == "invalid_grant"

    forever = exchange(fake_shopify_client, token, ID_TOKEN, OFFLINE, 0)
    assert set(forever.json()) == {"access_token", "scope"}
    assert fake_shopify.active_token(SHOP) == forever.json()["access_token"]
    elsewhere = jwt({"dest": "https://other.myshopify.com", "sub": "42"})
    refused = exchange(fake_shopify_client, elsewhere, ID_TOKEN, OFFLINE, "1")
    assert (refused.status_code, error_of(refused)) == (400, "invalid_subject_token")


def test_id_token_exchange_online(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    offline = fake_shopify.install(SHOP)
    token = jwt({"dest": f"https://{SHOP}", "sub": "42"})

    response = exchange(fake_shopify_client, token, ID_TOKEN, ONLINE, "1")

    assert response.status_code == 200
    answer = response.json()
    assert "refresh_token" not in answer and answer["expires_in"] == 86400
    assert answer["associated_user_scope"] == answer["scope"]
    user = answer["associated_user"]
    assert user["id"] == 42
    assert set(user) == {
        "id",
        "first_name",
        "last_name",
        "email",
        "email_verified",
        "account_owner",
        "locale",
        "collaborator",
    }
    assert fake_shopify.is_active(SHOP, offline.access_token)  # online tokens revoke nothing
    assert admin_status(fake_shopify_client, answer["access_token"]) == 200
    helper = exchange(fake_shopify_client, fake_shopify.session_token(SHOP), ID_TOKEN, ONLINE, 1)
    assert helper.status_code == 200


def test_id_token_with_a_bad_signature_is_refused(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    forged = jwt({"dest": f"https://{SHOP}", "sub": "42"}, secret="someone-elses-secret")
    for subject in (forged, "not.a.jwt", forged.rsplit(".", 1)[0]):
        response = exchange(fake_shopify_client, subject, ID_TOKEN, OFFLINE, "1")
        assert (response.status_code, error_of(response)) == (400, "invalid_subject_token")
    assert fake_shopify.active_token(SHOP) is None


# -- faults -------------------------------------------------------------------------------


def test_429_with_retry_after_then_normal(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    grant = fake_shopify.install(SHOP)
    fake_shopify.fail_next(429, retry_after="1")
    fake_shopify.fail_next(500, times=2)

    limited = refresh(fake_shopify_client, grant.refresh_token)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
    statuses = [refresh(fake_shopify_client, grant.refresh_token).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert [c.status for c in fake_shopify.calls] == [429, 500, 500, 200]
    assert fake_shopify.call_count(SHOP, "refresh_token") == 4


def test_fault_body_override_and_reset(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    grant = fake_shopify.install(SHOP)
    fake_shopify.fail_next(400, body={"error": "invalid_grant"})
    fake_shopify.fail_next(502, body="<html>Bad Gateway</html>")

    assert refresh(fake_shopify_client, grant.refresh_token).json() == {"error": "invalid_grant"}
    gateway = refresh(fake_shopify_client, grant.refresh_token)
    assert (gateway.status_code, gateway.text) == (502, "<html>Bad Gateway</html>")
    fake_shopify.fail_next(503, times=5)
    fake_shopify.reset_faults()
    ok = refresh(fake_shopify_client, grant.refresh_token)
    assert ok.status_code == 200
    # every answer, faults included, names itself as Shopify's do, and its Call keeps the name
    sent = [gateway.headers["x-request-id"], ok.headers["x-request-id"]]
    assert sent == [call.request_id for call in fake_shopify.calls[1:]] and len(set(sent)) == 2


def test_dropped_connection_processes_nothing(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    grant = fake_shopify.install(SHOP)
    fake_shopify.fail_next(500, drop=True)

    with pytest.raises(httpx.RemoteProtocolError):
        refresh(fake_shopify_client, grant.refresh_token)

    assert fake_shopify.calls[-1].status == 0
    assert fake_shopify.is_active(SHOP, grant.access_token)
    assert refresh(fake_shopify_client, grant.refresh_token).status_code == 200


def test_omitted_and_replaced_fields_still_rotate(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    grant = fake_shopify.install(SHOP)
    fake_shopify.omit_next("refresh_token", replace={"expires_in": "3600"})

    answer = refresh(fake_shopify_client, grant.refresh_token).json()

    assert "refresh_token" not in answer and answer["expires_in"] == "3600"
    assert fake_shopify.active_token(SHOP) == answer["access_token"]
    assert not fake_shopify.is_active(SHOP, grant.access_token)
    assert "refresh_token" in refresh(fake_shopify_client, grant.refresh_token).json()  # replay


def test_delay_slows_one_answer_and_can_time_out(
    fake_shopify: FakeShopify, fake_shopify_client: httpx.Client
) -> None:
    grant = fake_shopify.install(SHOP)
    fake_shopify.fail_next(200, delay=0.3)  # only slowness: the normal answer, late
    started = time.monotonic()
    assert refresh(fake_shopify_client, grant.refresh_token).status_code == 200
    assert time.monotonic() - started >= 0.3

    fake_shopify.fail_next(503, delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        fake_shopify_client.post(TOKEN_URL, json={}, timeout=0.1)


# -- admin api, concurrency, transports -----------------------------------------------------


def test_admin_api(fake_shopify: FakeShopify, fake_shopify_client: httpx.Client) -> None:
    grant = fake_shopify.install(SHOP)
    response = fake_shopify_client.post(
        GRAPHQL_URL, headers={"X-Shopify-Access-Token": grant.access_token}, json={}
    )
    assert response.json() == {"data": {"shop": {"name": SHOP, "myshopifyDomain": SHOP}}}
    denied = fake_shopify_client.post(GRAPHQL_URL, json={})
    assert denied.status_code == 401 and "Invalid API key" in denied.json()["errors"]
    other = "https://other.myshopify.com/admin/api/2025-10/graphql.json"
    headers = {"X-Shopify-Access-Token": grant.access_token}
    assert fake_shopify_client.post(other, headers=headers).status_code == 401
    assert fake_shopify.call_count(grant="admin_api") == 3


@pytest.mark.parametrize("strict", [False, True])
def test_concurrent_refresh_storm_overlaps(fake_shopify: FakeShopify, strict: bool) -> None:
    grant = fake_shopify.install(SHOP)
    fake_shopify.latency = 2.0
    fake_shopify.strict = strict
    statuses: list[int] = []
    barrier = threading.Barrier(16)

    def worker() -> None:
        with fake_shopify.client(timeout=10) as client:
            barrier.wait()
            statuses.append(refresh(client, grant.refresh_token).status_code)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # served in parallel: about 2 s expected; one at a time would be 16 x 2 s
    assert elapsed < 16
    if strict:  # one winner; the rest used a token that had just been rotated
        assert sorted(statuses) == [200] + [400] * 15
    else:  # the replay window lets every racer through
        assert statuses == [200] * 16
    assert fake_shopify.active_token(SHOP) is not None
    assert fake_shopify.call_count(SHOP, "refresh_token") == 16


def test_transport_from_url_alone_and_async(fake_shopify: FakeShopify) -> None:
    grant = fake_shopify.install(SHOP)
    with httpx.Client(transport=LoopbackTransport(fake_shopify.url)) as client:
        assert admin_status(client, grant.access_token) == 200

    async def call() -> int:
        async with httpx.AsyncClient(transport=AsyncLoopbackTransport(fake_shopify.url)) as c:
            response = await c.post(GRAPHQL_URL, headers={"X-Shopify-Access-Token": "nope"})
            return response.status_code

    assert asyncio.run(call()) == 401
    assert isinstance(fake_shopify.async_transport(), httpx.AsyncBaseTransport)
    assert [c.shop for c in fake_shopify.calls] == [SHOP, SHOP]


def test_secrets_stay_out_of_reprs(fake_shopify: FakeShopify) -> None:
    grant = fake_shopify.install(SHOP)
    shown = repr(grant) + repr(fake_shopify) + repr(fake_shopify.transport())
    assert grant.access_token not in shown and str(grant.refresh_token) not in shown
    assert "fake-client-secret" not in shown


def test_stop_closes_kept_alive_connections() -> None:
    fake = FakeShopify().start()
    client = fake.client()
    grant = fake.install(SHOP)
    assert admin_status(client, grant.access_token) == 200
    fake.stop()
    fake.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        admin_status(client, grant.access_token)
    client.close()
    with pytest.raises(RuntimeError):
        _ = fake.url


def test_the_async_fixtures_share_the_memory_storage_and_reach_the_fake(
    memory_storage: Any,
    async_memory_storage: Any,
    fake_shopify: FakeShopify,
    fake_shopify_async_client: httpx.AsyncClient,
) -> None:
    """``async_memory_storage`` sees what blocking code stored; the async client reaches the
    fake, refresh included (an app's async tests need nothing else)."""
    import asyncio
    from datetime import timedelta

    from shopify_sessions import AsyncShopifyTokenRefresher
    from tests.support.tokens import installed

    session = installed(fake_shopify, expires_in=timedelta(minutes=1))
    memory_storage.store_session(session)

    async def refresh() -> Any:
        refresher = AsyncShopifyTokenRefresher(
            fake_shopify.client_id,
            fake_shopify.client_secret,
            http_client=fake_shopify_async_client,
        )
        try:
            return await async_memory_storage.load_fresh_session(session.id, refresher)
        finally:
            await fake_shopify_async_client.aclose()

    fresh = asyncio.run(refresh())
    assert fresh.access_token == fake_shopify.active_token(session.shop) != session.access_token
    assert memory_storage.load_session(session.id) == fresh
