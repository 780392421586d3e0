"""Safe token rotation (conditional store) and tokens encrypted at rest."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shopify_sessions import (
    DynamoDBSessionStorage,
    SessionConflictError,
    TokenCipher,
    TokenDecryptionError,
    UnknownKeyError,
)
from tests.conftest import DYNAMODB_BACKENDS, Backend, _backend
from tests.support.factories import offline

K1, K2 = TokenCipher.generate_key(), TokenCipher.generate_key()


ROTATING = ["memory"] + [
    f"{kind}-{name}" for name in DYNAMODB_BACKENDS for kind in ("plain", "encrypted")
]


@pytest.fixture(params=ROTATING)
def rotating(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Every storage, DynamoDB ones with and without a token cipher: one rotation contract."""
    kind, _, name = str(request.param).rpartition("-")
    for backend in _backend(name, request):
        cipher = TokenCipher({"k1": K1}, "k1") if kind == "encrypted" else None
        yield backend.storage(token_cipher=cipher) if backend.is_dynamodb else backend.storage()


def _refreshed(session: Any, n: int) -> Any:
    fresh = session.copy()
    fresh.access_token = f"shpat_access_{n}"
    fresh.refresh_token = f"shprt_refresh_{n}"
    return fresh


def test_store_with_expected_writes_when_tokens_unchanged(rotating: Any) -> None:
    rotating.store_session(offline(refresh_token="shprt_refresh_0"))
    loaded = rotating.load_session(offline().id)
    assert rotating.store_session(_refreshed(loaded, 1), expected=loaded) is True
    assert rotating.load_session(offline().id) == _refreshed(loaded, 1)


def test_store_with_stale_expected_conflicts_and_changes_nothing(rotating: Any) -> None:
    rotating.store_session(offline(refresh_token="shprt_refresh_0"))
    stale = rotating.load_session(offline().id)
    rotating.store_session(_refreshed(stale, 1), expected=stale)  # another worker won
    with pytest.raises(SessionConflictError, match="changed since it was loaded"):
        rotating.store_session(_refreshed(stale, 2), expected=stale)
    assert rotating.load_session(offline().id) == _refreshed(stale, 1)


def test_absent_tokens_match_absent(rotating: Any) -> None:
    bare = offline(access_token=None)
    assert rotating.store_session(bare, expected=bare) is True  # nothing stored yet: absent
    assert rotating.store_session(_refreshed(bare, 1), expected=bare) is True
    with pytest.raises(SessionConflictError):
        rotating.store_session(_refreshed(bare, 2), expected=bare)


def test_expected_tokens_on_a_missing_item_conflict(rotating: Any) -> None:
    with pytest.raises(SessionConflictError):
        rotating.store_session(_refreshed(offline(), 1), expected=offline())
    assert rotating.load_session(offline().id) is None


@pytest.fixture(params=["plaintext", "encrypted"])
def rotating_atomic(request: pytest.FixtureRequest) -> Iterator[DynamoDBSessionStorage]:
    """On dynalite only: moto (in process and server) does not make a conditional write atomic
    under concurrent requests (condition check and put race), so it can let two winners in."""
    backend = next(_backend("dynalite", request))
    cipher = TokenCipher({"k1": K1}, "k1") if request.param == "encrypted" else None
    yield backend.storage(token_cipher=cipher)
    backend.drop_tables()


def test_concurrent_refreshes_exactly_one_wins(rotating_atomic: Any) -> None:
    rotating = rotating_atomic
    rotating.store_session(offline(refresh_token="shprt_refresh_0"))
    loaded = [rotating.load_session(offline().id) for _ in range(6)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(loaded))

    def refresh(n: int) -> None:
        barrier.wait()
        try:
            rotating.store_session(_refreshed(loaded[n], n + 1), expected=loaded[n])
            outcomes.append(f"won {n + 1}")
        except SessionConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=refresh, args=(n,)) for n in range(len(loaded))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1 and outcomes.count("conflict") == len(loaded) - 1
    winner = int(winners[0].split()[1])
    assert rotating.load_session(offline().id).refresh_token == f"shprt_refresh_{winner}"


def test_expected_must_be_the_same_session(rotating: Any) -> None:
    with pytest.raises(ValueError, match="expected is session"):
        rotating.store_session(offline(), expected=offline(id="offline_other"))


# --- encryption at rest -------------------------------------------------------------------------


def test_tokens_are_encrypted_at_rest_and_load_decrypted(dynamo: Backend) -> None:
    storage = dynamo.storage(token_cipher=TokenCipher({"k1": K1}, "k1"))
    session = offline(refresh_token="shprt_secret_refresh")
    storage.store_session(session)
    item = dynamo.raw_item(storage, session.id)
    assert item["accessToken"]["S"].startswith("ssenc:v2:k1:")
    assert item["refreshToken"]["S"].startswith("ssenc:v2:k1:")
    assert "shpat_" not in str(item) and "shprt_" not in str(item)
    assert item["shop"] == {"S": session.shop}  # everything else stays Node's format
    assert storage.load_session(session.id) == session
    assert storage.find_sessions_by_shop(session.shop) == [session]


def test_ciphertext_copied_to_another_session_does_not_decrypt(dynamo: Backend) -> None:
    storage = dynamo.storage(token_cipher=TokenCipher({"k1": K1}, "k1"))
    storage.store_session(offline("a.myshopify.com"))
    storage.store_session(offline("b.myshopify.com"))
    stolen = dynamo.raw_item(storage, "offline_a.myshopify.com")["accessToken"]
    victim = dynamo.raw_item(storage, "offline_b.myshopify.com")
    victim["accessToken"] = stolen
    dynamo.raw_client().put_item(TableName=storage.table_name, Item=victim)
    with pytest.raises(TokenDecryptionError, match=r"offline_b\.myshopify\.com"):
        storage.load_session("offline_b.myshopify.com")


def test_key_rotation(dynamo: Backend) -> None:
    old = dynamo.storage(token_cipher=TokenCipher({"k1": K1}, "k1"))
    session = offline()
    old.store_session(session)
    rotated = DynamoDBSessionStorage(
        old.table_name, host=dynamo.endpoint, token_cipher=TokenCipher({"k1": K1, "k2": K2}, "k2")
    )
    assert rotated.load_session(session.id) == session  # old key still decrypts
    rotated.store_session(session)
    assert dynamo.raw_item(old, session.id)["accessToken"]["S"].startswith("ssenc:v2:k2:")
    only_new = DynamoDBSessionStorage(
        old.table_name, host=dynamo.endpoint, token_cipher=TokenCipher({"k2": K2}, "k2")
    )
    assert only_new.load_session(session.id) == session
    with pytest.raises(UnknownKeyError, match="'k2'"):
        old.load_session(session.id)


def test_plaintext_items_still_load_with_a_cipher(dynamo: Backend) -> None:
    plain = dynamo.storage()
    plain.store_session(offline())
    encrypted = DynamoDBSessionStorage(
        plain.table_name, host=dynamo.endpoint, token_cipher=TokenCipher({"k1": K1}, "k1")
    )
    assert encrypted.load_session(offline().id) == offline()


def test_encrypted_items_without_a_cipher_are_an_error_not_a_token(dynamo: Backend) -> None:
    encrypted = dynamo.storage(token_cipher=TokenCipher({"k1": K1}, "k1"))
    encrypted.store_session(offline())
    plain = DynamoDBSessionStorage(encrypted.table_name, host=dynamo.endpoint)
    with pytest.raises(UnknownKeyError, match="'k1'"):
        plain.load_session(offline().id)
