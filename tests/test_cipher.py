"""TokenCipher: round trips, nonces, AAD binding, tampering, rotation, secrecy, configuration."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopify_sessions.dynamodb.cipher import (
    TokenCipher,
    TokenDecryptionError,
    UnknownKeyError,
    encode_key,
    is_encrypted,
    key_id_of,
)
from shopify_sessions.errors import SessionStorageError

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
SID = "offline_example.myshopify.com"
TOKEN = "shpat_fake-test-token+with/punctuation="
ACCESS = "accessToken"
REFRESH = "refreshToken"


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher({"k1": K1}, "k1")


def _flip(value: str, index: int) -> str:
    """``value`` with one byte of its decoded payload flipped, re-encoded."""
    head, payload = value.rsplit(":", 1)
    blob = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    blob[index] ^= 0x01
    return f"{head}:{base64.urlsafe_b64encode(bytes(blob)).decode().rstrip('=')}"


def _assert_secret_free(text: str) -> None:
    for secret in (K1, K2):
        assert encode_key(secret) not in text
        assert encode_key(secret).rstrip("=") not in text
        assert base64.b64encode(secret).decode() not in text
        assert secret.hex() not in text
        assert repr(secret) not in text
    assert TOKEN not in text


# --- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plaintext",
    [TOKEN, "", "ünïcødé ✓ 🔑 токен", "x" * 10_000, "a+b/c=d==", "ssenc:v1:k1:not-really"],
)
def test_round_trip(cipher: TokenCipher, plaintext: str) -> None:
    stored = cipher.encrypt(plaintext, session_id=SID, field=ACCESS)
    assert stored.startswith("ssenc:v1:k1:")
    assert is_encrypted(stored) and key_id_of(stored) == "k1"
    assert cipher.decrypt(stored, session_id=SID, field=ACCESS) == plaintext


def test_payload_is_unpadded_urlsafe_base64_of_nonce_ciphertext_tag(cipher: TokenCipher) -> None:
    payload = cipher.encrypt("abc", session_id=SID, field=ACCESS).split(":")[3]
    assert set(payload) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert len(blob) == 12 + 3 + 16


def test_fresh_nonce_each_time(cipher: TokenCipher) -> None:
    values = {cipher.encrypt(TOKEN, session_id=SID, field=ACCESS) for _ in range(50)}
    assert len(values) == 50
    nonces = {base64.urlsafe_b64decode(v.split(":")[3] + "==")[:12] for v in values}
    assert len(nonces) == 50


def test_plaintext_passes_through(cipher: TokenCipher) -> None:
    for value in (TOKEN, "", "shpua_refresh", "ssenc"):
        assert cipher.decrypt(value, session_id=SID, field=ACCESS) == value
        assert not is_encrypted(value) and key_id_of(value) is None


# --- binding and tampering --------------------------------------------------------------------


def test_other_session_id_fails(cipher: TokenCipher) -> None:
    stored = cipher.encrypt(TOKEN, session_id=SID, field=ACCESS)
    with pytest.raises(TokenDecryptionError, match=re.escape("offline_other.myshopify.com")):
        cipher.decrypt(stored, session_id="offline_other.myshopify.com", field=ACCESS)


def test_other_field_fails(cipher: TokenCipher) -> None:
    stored = cipher.encrypt(TOKEN, session_id=SID, field=ACCESS)
    with pytest.raises(TokenDecryptionError, match=REFRESH):
        cipher.decrypt(stored, session_id=SID, field=REFRESH)


def test_session_and_field_boundary_is_bound(cipher: TokenCipher) -> None:
    stored = cipher.encrypt(TOKEN, session_id="a", field="bc")
    with pytest.raises(TokenDecryptionError):
        cipher.decrypt(stored, session_id="ab", field="c")
    with pytest.raises(ValueError, match="NUL"):
        cipher.encrypt(TOKEN, session_id=SID, field="a\x00b")


@pytest.mark.parametrize("index", [0, 11, 12, 20, -1])  # nonce, ciphertext, tag
def test_flipped_byte_fails(cipher: TokenCipher, index: int) -> None:
    stored = cipher.encrypt(TOKEN, session_id=SID, field=ACCESS)
    with pytest.raises(TokenDecryptionError, match="authentication failed"):
        cipher.decrypt(_flip(stored, index), session_id=SID, field=ACCESS)


def test_same_id_other_key_material_fails(cipher: TokenCipher) -> None:
    stored = cipher.encrypt(TOKEN, session_id=SID, field=ACCESS)
    with pytest.raises(TokenDecryptionError):
        TokenCipher({"k1": K2}, "k1").decrypt(stored, session_id=SID, field=ACCESS)


@pytest.mark.parametrize(
    "value",
    [
        "ssenc:",
        "ssenc:v1",
        "ssenc:v1:k1",
        "ssenc:v9:k1:AAAA",
        "ssenc:v1::AAAA",
        "ssenc:v1:k 1:AAAA",
        "ssenc:v1:k1:not base64!",
        "ssenc:v1:k1:A",
        "ssenc:v1:k1:AAAA",  # too short for nonce + tag
        "ssenc:v1:k1:",
    ],
)
def test_malformed_values_fail(cipher: TokenCipher, value: str) -> None:
    assert is_encrypted(value)
    with pytest.raises(TokenDecryptionError, match=re.escape(SID)):
        cipher.decrypt(value, session_id=SID, field=ACCESS)


def test_padded_and_standard_alphabet_payloads_still_decode(cipher: TokenCipher) -> None:
    stored = cipher.encrypt("abcd" * 7, session_id=SID, field=ACCESS)
    head, payload = stored.rsplit(":", 1)
    padded = payload + "=" * (-len(payload) % 4)
    standard = padded.replace("-", "+").replace("_", "/")
    for variant in (padded, standard):
        assert cipher.decrypt(f"{head}:{variant}", session_id=SID, field=ACCESS) == "abcd" * 7


# --- rotation ---------------------------------------------------------------------------------


def test_rotation() -> None:
    old = TokenCipher({"k1": K1}, "k1")
    stored_k1 = old.encrypt(TOKEN, session_id=SID, field=ACCESS)

    both = TokenCipher({"k1": K1, "k2": K2}, "k2")
    assert both.decrypt(stored_k1, session_id=SID, field=ACCESS) == TOKEN
    assert both.needs_reencryption(stored_k1)
    stored_k2 = both.encrypt(TOKEN, session_id=SID, field=ACCESS, table="t")
    assert key_id_of(stored_k2) == "k2" and not both.needs_reencryption(stored_k2)
    assert both.needs_reencryption(TOKEN)
    assert both.needs_reencryption(both.encrypt(TOKEN, session_id=SID, field=ACCESS))  # v1

    only_k2 = TokenCipher({"k2": K2}, "k2")
    assert only_k2.decrypt(stored_k2, session_id=SID, field=ACCESS, table="t") == TOKEN
    with pytest.raises(UnknownKeyError, match="'k1'") as caught:
        only_k2.decrypt(stored_k1, session_id=SID, field=ACCESS)
    assert SID in str(caught.value) and caught.value.key_id == "k1"
    assert isinstance(caught.value, SessionStorageError)


def test_error_classes_are_storage_errors() -> None:
    assert issubclass(UnknownKeyError, SessionStorageError)
    assert issubclass(TokenDecryptionError, SessionStorageError)


# --- secrecy ----------------------------------------------------------------------------------


def test_errors_and_repr_never_show_token_or_key() -> None:
    cipher = TokenCipher({"k1": K1, "k2": K2}, "k1")
    assert repr(cipher) == "TokenCipher(key_ids=['k1', 'k2'], active_key_id='k1')"
    _assert_secret_free(repr(cipher))

    stored = cipher.encrypt(TOKEN, session_id=SID, field=ACCESS)
    attempts: list[Callable[[], object]] = [
        lambda: cipher.decrypt(stored, session_id="other", field=ACCESS),
        lambda: cipher.decrypt(_flip(stored, 20), session_id=SID, field=ACCESS),
        lambda: TokenCipher({"k2": K2}, "k2").decrypt(stored, session_id=SID, field=ACCESS),
        lambda: TokenCipher({"k1": K2}, "k1").decrypt(stored, session_id=SID, field=ACCESS),
        lambda: TokenCipher({"k1": K1[:31]}, "k1"),
        lambda: TokenCipher({"k1": K1}, encode_key(K1)),
        lambda: TokenCipher({encode_key(K1): K1}, "k1"),
        lambda: TokenCipher.from_env({"SHOPIFY_SESSIONS_TOKEN_KEYS": encode_key(K1)}),
        lambda: TokenCipher.from_env({"SHOPIFY_SESSIONS_TOKEN_KEYS": f"{encode_key(K1)}:k1"}),
        lambda: TokenCipher.from_env({"SHOPIFY_SESSIONS_TOKEN_KEYS": f"k1:{encode_key(K1)}!"}),
    ]
    for attempt in attempts:
        with pytest.raises((SessionStorageError, ValueError)) as caught:
            attempt()
        _assert_secret_free(str(caught.value))
        _assert_secret_free(repr(caught.value))
        assert caught.value.__cause__ is None
        assert stored.split(":")[3] not in str(caught.value)


# --- construction and configuration -----------------------------------------------------------


@pytest.mark.parametrize("size", [16, 24, 32])
def test_accepted_key_sizes(size: int) -> None:
    cipher = TokenCipher({"k": bytes(size)}, "k")
    assert (
        cipher.decrypt(
            cipher.encrypt("t", session_id=SID, field=ACCESS), session_id=SID, field=ACCESS
        )
        == "t"
    )


@pytest.mark.parametrize("size", [0, 15, 31, 33, 64])
def test_bad_key_size_names_the_key_by_position(size: int) -> None:
    with pytest.raises(ValueError, match="key number 2 must be"):
        TokenCipher({"good": K1, "bad-key": bytes(size)}, "good")


@pytest.mark.parametrize("key_id", ["", "k 1", "k:1", "k1\n", "kä", "x" * 33, "k/1"])
def test_bad_key_ids_rejected(key_id: str) -> None:
    with pytest.raises(ValueError, match="key id number 1 is invalid"):
        TokenCipher({key_id: K1}, key_id)


def test_active_key_must_be_held() -> None:
    with pytest.raises(ValueError, match="active key id is not one of the 2 key ids") as caught:
        TokenCipher({"k1": K1, "k2": K2}, "k3")
    assert "k3" not in str(caught.value)  # it might have been a key
    with pytest.raises(ValueError, match="active key id"):
        TokenCipher({}, "k1")


def test_generate_key_and_encode_key() -> None:
    key = TokenCipher.generate_key()
    assert len(key) == 32 and key != TokenCipher.generate_key()
    assert base64.urlsafe_b64decode(encode_key(key)) == key


def test_from_env_unset_or_empty_is_none() -> None:
    assert TokenCipher.from_env({}) is None
    assert TokenCipher.from_env({"SHOPIFY_SESSIONS_TOKEN_KEYS": "  "}) is None


def test_from_env_parses_and_defaults_to_last_key() -> None:
    keys = f" k1:{encode_key(K1)} , k2:{base64.b64encode(K2).decode().rstrip('=')}"
    cipher = TokenCipher.from_env({"SHOPIFY_SESSIONS_TOKEN_KEYS": keys})
    assert cipher is not None
    assert cipher.key_ids == ["k1", "k2"] and cipher.active_key_id == "k2"
    stored = TokenCipher({"k1": K1}, "k1").encrypt(TOKEN, session_id=SID, field=ACCESS)
    assert cipher.decrypt(stored, session_id=SID, field=ACCESS) == TOKEN

    env = {"SHOPIFY_SESSIONS_TOKEN_KEYS": keys, "SHOPIFY_SESSIONS_ACTIVE_KEY_ID": "k1"}
    chosen = TokenCipher.from_env(env)
    assert chosen is not None and chosen.active_key_id == "k1"


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOPIFY_SESSIONS_TOKEN_KEYS", raising=False)
    assert TokenCipher.from_env() is None
    monkeypatch.setenv("SHOPIFY_SESSIONS_TOKEN_KEYS", f"k1:{encode_key(K1)}")
    monkeypatch.delenv("SHOPIFY_SESSIONS_ACTIVE_KEY_ID", raising=False)
    assert repr(TokenCipher.from_env()) == "TokenCipher(key_ids=['k1'], active_key_id='k1')"


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        (f"k1{encode_key(K1)}", "", "entry 1 is not of the form"),
        (f"k1:{encode_key(K1)},", "", "entry 2 is not of the form"),
        (f"k1:{encode_key(K1)},k2:", "", "entry 2 is not of the form"),
        (f"k 1:{encode_key(K1)}", "", "entry 1 has an invalid key id"),
        (f"k1:{encode_key(K1)},k1:{encode_key(K2)}", "", "entry 2 repeats the key id of entry 1"),
        (f"k1:{encode_key(K1)[:-2]}*", "", "entry 1: the key is not valid base64"),
        (f"k1:{encode_key(K1[:20])}", "", "entry 1: the key must be 16, 24 or 32 bytes"),
        (f"k1:{encode_key(K1)}", "k2", "SHOPIFY_SESSIONS_ACTIVE_KEY_ID is not one of"),
    ],
)
def test_from_env_rejects_bad_values(keys: str, active: str, message: str) -> None:
    env = {"SHOPIFY_SESSIONS_TOKEN_KEYS": keys, "SHOPIFY_SESSIONS_ACTIVE_KEY_ID": active}
    with pytest.raises(ValueError, match=message) as caught:
        TokenCipher.from_env(env)
    _assert_secret_free(str(caught.value))


# --- concurrency and properties ---------------------------------------------------------------


def test_shared_between_threads(cipher: TokenCipher) -> None:
    failures: list[str] = []

    def work(n: int) -> None:
        for i in range(200):
            token, sid = f"tok-{n}-{i}", f"s{n}"
            stored = cipher.encrypt(token, session_id=sid, field=ACCESS)
            if cipher.decrypt(stored, session_id=sid, field=ACCESS) != token:
                failures.append(token)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@given(
    plaintext=st.text(),
    session_id=st.text(),
    field=st.text().filter(lambda f: "\x00" not in f),
    table=st.text().filter(lambda t: "\x00" not in t),
)
def test_round_trip_property(plaintext: str, session_id: str, field: str, table: str) -> None:
    cipher = TokenCipher({"k1": K1, "k2": K2}, "k2")
    stored = cipher.encrypt(plaintext, session_id=session_id, field=field, table=table)
    assert is_encrypted(stored) and key_id_of(stored) == "k2"
    assert not cipher.needs_reencryption(stored)
    assert cipher.decrypt(stored, session_id=session_id, field=field, table=table) == plaintext
