"""Optional encryption at rest of session tokens (access and refresh tokens).

A DynamoDB table is read by backups, exports and anyone with ``dynamodb:GetItem``; an offline
access token there is a standing credential for the shop. ``TokenCipher`` encrypts each token
with AES-GCM under a key the application holds, so the table alone gives nothing away.

Stored format: ``ssenc:v2:{key_id}:{urlsafe_b64(nonce + ciphertext + tag)}`` (no padding).

* The key id travels with the value, so keys can be rotated: a cipher holding old and new keys
  reads both and writes with the active one; ``needs_reencryption`` finds what is left to move.
* The associated data binds the table, the session id and the field name (v2), so a value
  copied into another table, onto another session, or from ``accessToken`` to
  ``refreshToken`` fails authentication. ``ssenc:v1`` values (bound to session and field only,
  written by earlier versions) are still read, and ``needs_reencryption`` reports them.
* Values without the ``ssenc:`` marker are plaintext and pass through ``decrypt`` unchanged,
  so items written before encryption was enabled still load; ``require_encrypted=True``
  refuses them instead, once every item has been re-encrypted.

Error messages and ``repr`` name key ids, session ids and fields, never tokens or key bytes;
while a key list is being parsed, entries are named by position only (a key pasted where an
id belongs must not be echoed).
Requires the ``cryptography`` package.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from shopify_sessions.domain.session import Session
from shopify_sessions.errors import CorruptSessionError

if TYPE_CHECKING:  # cryptography is imported when a cipher is made: storages without one
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # do not pay for it

__all__ = [
    "ACTIVE_KEY_ID_ENV",
    "REQUIRE_ENCRYPTED_ENV",
    "TOKEN_FIELDS",
    "TOKEN_KEYS_ENV",
    "TokenCipher",
    "TokenDecryptionError",
    "UnknownKeyError",
    "encode_key",
    "is_encrypted",
    "key_id_of",
    "open_tokens",
]

TOKEN_KEYS_ENV = "SHOPIFY_SESSIONS_TOKEN_KEYS"
ACTIVE_KEY_ID_ENV = "SHOPIFY_SESSIONS_ACTIVE_KEY_ID"
REQUIRE_ENCRYPTED_ENV = "SHOPIFY_SESSIONS_REQUIRE_ENCRYPTED"

_MARKER = "ssenc:"  # any value starting with this is ours; an unknown version is an error
_VERSION = "v2"  # what is written: bound to the table too
_VERSIONS = ("v1", "v2")
_NONCE_BYTES = 12  # 96 bits, the size GCM is designed for
_TAG_BYTES = 16
_KEY_SIZES = (16, 24, 32)
# ASCII only: it is part of the stored text. At most 32 characters, which also means a key
# pasted where its id belongs (43+ characters of base64) is rejected without being echoed.
_KEY_ID = r"[A-Za-z0-9_-]{1,32}"  # patterns: compiled at first use
_KEY_ID_RULE = "1-32 ASCII letters, digits, '-' or '_'"
_BASE64 = r"[A-Za-z0-9+/_-]*"


class UnknownKeyError(CorruptSessionError):
    """A token was encrypted under a key id this cipher does not hold (a key was dropped
    before every value was re-encrypted, or the app runs with an old key list).

    A kind of unreadable item: finds and scans skip it with a warning (``strict`` raises)."""

    def __init__(self, session_id: str, field: str, key_id: str, held: list[str]) -> None:
        self.key_id = key_id
        where = (
            f"which this TokenCipher does not hold (it holds {held})"
            if held
            else f"and no TokenCipher is configured: set {TOKEN_KEYS_ENV} (or pass "
            f"token_cipher=) with that key"
        )
        super().__init__(session_id, field, f"is encrypted with key {key_id!r}, {where}")
        self.field = field


class TokenDecryptionError(CorruptSessionError):
    """An encrypted token cannot be decrypted: tampered, copied from another table, session
    or field, wrong key material under a known id, or a malformed ``ssenc:`` value; or a
    plaintext token under ``require_encrypted``."""

    def __init__(self, session_id: str, field: str, reason: str) -> None:
        super().__init__(session_id, field, f"cannot be decrypted: {reason}")
        self.field = field


def encode_key(key: bytes) -> str:
    """URL-safe base64 of a key, the form ``SHOPIFY_SESSIONS_TOKEN_KEYS`` expects."""
    return base64.urlsafe_b64encode(key).decode("ascii")


def _b64decode(text: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not; ``ValueError`` on anything else
    (``urlsafe_b64decode`` alone silently drops stray characters)."""
    text = text.rstrip("=")
    if not re.fullmatch(_BASE64, text):
        raise ValueError("not base64")
    padded = text.translate(str.maketrans("-_", "+/")) + "=" * (-len(text) % 4)
    return base64.b64decode(padded, validate=True)


def _valid_key_id(key_id: object) -> bool:
    return isinstance(key_id, str) and re.fullmatch(_KEY_ID, key_id) is not None


def _associated_data(version: str, session_id: str, field: str, table: str | None) -> bytes:
    """What a value is bound to: v1 the session and field, v2 also the table."""
    if "\x00" in field or (table is not None and "\x00" in table):  # the separator
        raise ValueError("field and table must not contain NUL")
    if version == "v1":
        return f"{session_id}\x00{field}".encode()
    if table is None:
        raise ValueError("a v2 value is bound to its table: pass table=")
    return f"v2\x00{table}\x00{field}\x00{session_id}".encode()


def is_encrypted(value: str) -> bool:
    """Whether ``value`` carries the ``ssenc:`` marker (malformed ones included)."""
    return value.startswith(_MARKER)


def key_id_of(value: str) -> str | None:
    """The key id of a well-formed ``ssenc:`` value; ``None`` for plaintext or malformed."""
    parsed = _parse(value)
    return parsed[1] if parsed else None


def _parse(value: str) -> tuple[str, str, str] | None:
    """``(version, key_id, payload)`` of a well-formed ``ssenc:`` value, else ``None``."""
    parts = value.split(":", 3)
    if len(parts) != 4 or f"{parts[0]}:" != _MARKER or parts[1] not in _VERSIONS:
        return None
    return (parts[1], parts[2], parts[3]) if re.fullmatch(_KEY_ID, parts[2]) else None


class TokenCipher:
    """Encrypts with the active key, decrypts with any held key. Immutable after
    construction, so one instance can be shared between threads."""

    def __init__(
        self, keys: Mapping[str, bytes], active_key_id: str, *, require_encrypted: bool = False
    ) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        aeads: dict[str, AESGCM] = {}
        for position, (key_id, key) in enumerate(keys.items(), start=1):
            # Ids are never echoed here: a key pasted where its id belongs would be.
            if not _valid_key_id(key_id):
                raise ValueError(f"key id number {position} is invalid: use {_KEY_ID_RULE}")
            if not isinstance(key, bytes) or len(key) not in _KEY_SIZES:
                raise ValueError(
                    f"key number {position} must be 16, 24 or 32 bytes (AES-128/192/256); "
                    f"generate one with TokenCipher.generate_key()"
                )
            aeads[key_id] = AESGCM(key)
        if active_key_id not in aeads:
            raise ValueError(
                f"the active key id is not one of the {len(aeads)} key ids given "
                f"(a key id, not a key, names the active key)"
            )
        self._aeads = aeads
        self._active_key_id = active_key_id
        self.require_encrypted = require_encrypted

    @staticmethod
    def generate_key() -> bytes:
        """A fresh random 256-bit key; print it with :func:`encode_key`."""
        return os.urandom(32)  # what AESGCM.generate_key(bit_length=256) does

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TokenCipher | None:
        """Build from ``SHOPIFY_SESSIONS_TOKEN_KEYS`` (``id:base64key,id:base64key``) and
        ``SHOPIFY_SESSIONS_ACTIVE_KEY_ID`` (default: the last listed key, so rotating is
        "append the new key"). ``None`` when no keys are configured: encryption is opt-in."""
        raw = environ.get(TOKEN_KEYS_ENV, "").strip()
        if not raw:
            return None
        keys: dict[str, bytes] = {}
        positions: dict[str, int] = {}
        for position, entry in enumerate(raw.split(","), start=1):
            key_id, sep, encoded = (part.strip() for part in entry.partition(":"))
            where = f"{TOKEN_KEYS_ENV}: entry {position}"  # never an id: it may be a key
            if not sep or not key_id or not encoded:  # the entry itself may be a bare key
                raise ValueError(f"{where} is not of the form key_id:base64key")
            if not _valid_key_id(key_id):
                raise ValueError(f"{where} has an invalid key id: use {_KEY_ID_RULE}")
            if key_id in keys:
                raise ValueError(f"{where} repeats the key id of entry {positions[key_id]}")
            try:
                key = _b64decode(encoded)
            except ValueError:  # binascii.Error included
                raise ValueError(f"{where}: the key is not valid base64") from None
            if len(key) not in _KEY_SIZES:
                raise ValueError(
                    f"{where}: the key must be 16, 24 or 32 bytes (AES-128/192/256) once "
                    f"base64-decoded; is the entry key_id:base64key, in that order?"
                )
            keys[key_id], positions[key_id] = key, position
        active = environ.get(ACTIVE_KEY_ID_ENV, "").strip() or list(keys)[-1]
        if active not in keys:
            raise ValueError(
                f"{ACTIVE_KEY_ID_ENV} is not one of the key ids in {TOKEN_KEYS_ENV} "
                f"(it takes a key id, not a key)"
            )
        strict = environ.get(REQUIRE_ENCRYPTED_ENV, "").strip().lower() in ("1", "true", "yes")
        return cls(keys, active, require_encrypted=strict)

    @property
    def active_key_id(self) -> str:
        return self._active_key_id

    @property
    def key_ids(self) -> list[str]:
        return list(self._aeads)

    def __repr__(self) -> str:
        strict = ", require_encrypted=True" if self.require_encrypted else ""
        return f"TokenCipher(key_ids={self.key_ids}, active_key_id={self._active_key_id!r}{strict})"

    def encrypt(
        self, plaintext: str, *, session_id: str, field: str, table: str | None = None
    ) -> str:
        """Encrypt under the active key with a fresh random nonce (never reused: a repeated
        GCM nonce under one key leaks the authentication key). Storages pass ``table``
        (a v2 value); without it the value is v1, bound to session and field only."""
        version = _VERSION if table is not None else "v1"
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[self._active_key_id].encrypt(
            nonce, plaintext.encode(), _associated_data(version, session_id, field, table)
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{_MARKER}{version}:{self._active_key_id}:{payload}"

    def decrypt(self, value: str, *, session_id: str, field: str, table: str | None = None) -> str:
        """The plaintext of ``value``; a value without the ``ssenc:`` marker is returned as is
        (refused under ``require_encrypted``)."""
        if not is_encrypted(value):
            if self.require_encrypted and value:
                raise TokenDecryptionError(
                    session_id,
                    field,
                    "it is plaintext, and this TokenCipher requires "
                    "encrypted tokens (re-encrypt the table, or turn require_encrypted off)",
                )
            return value
        parsed = _parse(value)
        if parsed is None:
            raise TokenDecryptionError(session_id, field, f"not a valid {_MARKER} value")
        version, key_id, payload = parsed
        try:
            aad = _associated_data(version, session_id, field, table)
        except ValueError as error:
            raise TokenDecryptionError(session_id, field, str(error)) from None
        aead = self._aeads.get(key_id)
        if aead is None:
            raise UnknownKeyError(session_id, field, key_id, self.key_ids)
        try:
            blob = _b64decode(payload)
        except ValueError:  # binascii.Error included
            raise TokenDecryptionError(session_id, field, "payload is not base64") from None
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise TokenDecryptionError(session_id, field, "payload is too short")
        from cryptography.exceptions import InvalidTag

        try:
            plain = aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise TokenDecryptionError(
                session_id,
                field,
                f"authentication failed under key {key_id!r} (tampered value, value from "
                f"another table, session or field, or different key material under that id)",
            ) from None
        return plain.decode()

    # also reachable from an instance
    is_encrypted = staticmethod(is_encrypted)
    key_id_of = staticmethod(key_id_of)

    def needs_reencryption(self, value: str) -> bool:
        """True for plaintext, for v1 values and for values not under the active key (what a
        re-encrypt pass should rewrite after enabling encryption or rotating keys)."""
        parsed = _parse(value)
        return parsed is None or parsed[0] != _VERSION or parsed[1] != self._active_key_id


TOKEN_FIELDS = (("access_token", "accessToken"), ("refresh_token", "refreshToken"))


def open_tokens(session: Session, cipher: TokenCipher | None, *, table: str) -> Session:
    """Decrypt ``session``'s encrypted tokens in place (plaintext ones stay, unless the cipher
    requires encryption); ``UnknownKeyError`` naming the key when no cipher holds it."""
    for name, stored in TOKEN_FIELDS:
        value = getattr(session, name)
        if value is None:
            continue
        if cipher is None:
            if is_encrypted(value):
                raise UnknownKeyError(session.id, stored, key_id_of(value) or "?", held=[])
            continue
        opened = cipher.decrypt(value, session_id=session.id, field=stored, table=table)
        setattr(session, name, opened)
    return session
