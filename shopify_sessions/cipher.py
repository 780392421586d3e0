"""Optional encryption at rest of session tokens (access and refresh tokens).

A DynamoDB table is read by backups, exports and anyone with ``dynamodb:GetItem``; an offline
access token there is a standing credential for the shop. ``TokenCipher`` encrypts each token
with AES-GCM under a key the application holds, so the table alone gives nothing away.

Stored format: ``ssenc:v1:{key_id}:{urlsafe_b64(nonce + ciphertext + tag)}`` (no padding).

* The key id travels with the value, so keys can be rotated: a cipher holding old and new keys
  reads both and writes with the active one; ``needs_reencryption`` finds what is left to move.
* The associated data binds the session id and the field name, so a value copied onto another
  session, or from ``accessToken`` to ``refreshToken``, fails authentication.
* Values without the ``ssenc:`` marker are plaintext and pass through ``decrypt`` unchanged,
  so items written before encryption was enabled still load.

Error messages and ``repr`` name key ids, session ids and fields, never tokens or key bytes.
Requires the ``cryptography`` package.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import SessionStorageError

__all__ = [
    "ACTIVE_KEY_ID_ENV",
    "TOKEN_KEYS_ENV",
    "TokenCipher",
    "TokenDecryptionError",
    "UnknownKeyError",
    "encode_key",
    "is_encrypted",
    "key_id_of",
]

TOKEN_KEYS_ENV = "SHOPIFY_SESSIONS_TOKEN_KEYS"
ACTIVE_KEY_ID_ENV = "SHOPIFY_SESSIONS_ACTIVE_KEY_ID"

_MARKER = "ssenc:"  # any value starting with this is ours; an unknown version is an error
_VERSION = "v1"
_NONCE_BYTES = 12  # 96 bits, the size GCM is designed for
_TAG_BYTES = 16
_KEY_SIZES = (16, 24, 32)
# ASCII only: it is part of the stored text. At most 32 characters, which also means a key
# pasted where its id belongs (43+ characters of base64) is rejected without being echoed.
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_KEY_ID_RULE = "1-32 ASCII letters, digits, '-' or '_'"
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*")


class UnknownKeyError(SessionStorageError):
    """A token was encrypted under a key id this cipher does not hold (a key was dropped
    before every value was re-encrypted, or the app runs with an old key list)."""

    def __init__(self, session_id: str, field: str, key_id: str, held: list[str]) -> None:
        self.session_id = session_id
        self.field = field
        self.key_id = key_id
        super().__init__(
            f"session {session_id!r}: {field!r} is encrypted with key {key_id!r}, "
            f"which this TokenCipher does not hold (it holds {held})"
        )


class TokenDecryptionError(SessionStorageError):
    """An encrypted token cannot be decrypted: tampered, copied from another session or
    field, wrong key material under a known id, or a malformed ``ssenc:`` value."""

    def __init__(self, session_id: str, field: str, reason: str) -> None:
        self.session_id = session_id
        self.field = field
        super().__init__(f"session {session_id!r}: cannot decrypt {field!r}: {reason}")


def encode_key(key: bytes) -> str:
    """URL-safe base64 of a key, the form ``SHOPIFY_SESSIONS_TOKEN_KEYS`` expects."""
    return base64.urlsafe_b64encode(key).decode("ascii")


def _b64decode(text: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not; ``ValueError`` on anything else
    (``urlsafe_b64decode`` alone silently drops stray characters)."""
    text = text.rstrip("=")
    if not _BASE64.fullmatch(text):
        raise ValueError("not base64")
    padded = text.translate(str.maketrans("-_", "+/")) + "=" * (-len(text) % 4)
    return base64.b64decode(padded, validate=True)


def _valid_key_id(key_id: object) -> bool:
    return isinstance(key_id, str) and _KEY_ID.fullmatch(key_id) is not None


def _associated_data(session_id: str, field: str) -> bytes:
    if "\x00" in field:  # the separator: forbidding it in the field keeps the pair unambiguous
        raise ValueError("field must not contain NUL")
    return f"{session_id}\x00{field}".encode()


def is_encrypted(value: str) -> bool:
    """Whether ``value`` carries the ``ssenc:`` marker (malformed ones included)."""
    return value.startswith(_MARKER)


def key_id_of(value: str) -> str | None:
    """The key id of a well-formed ``ssenc:v1`` value; ``None`` for plaintext or malformed."""
    parsed = _parse(value)
    return parsed[0] if parsed else None


def _parse(value: str) -> tuple[str, str] | None:
    """``(key_id, payload)`` of a well-formed ``ssenc:v1`` value, else ``None``."""
    parts = value.split(":", 3)
    if len(parts) != 4 or f"{parts[0]}:" != _MARKER or parts[1] != _VERSION:
        return None
    return (parts[2], parts[3]) if _KEY_ID.fullmatch(parts[2]) else None


class TokenCipher:
    """Encrypts with the active key, decrypts with any held key. Immutable after
    construction, so one instance can be shared between threads."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        aeads: dict[str, AESGCM] = {}
        for position, (key_id, key) in enumerate(keys.items(), start=1):
            if not _valid_key_id(key_id):  # not echoed: it may be key material in the wrong place
                raise ValueError(f"key id number {position} is invalid: use {_KEY_ID_RULE}")
            if not isinstance(key, bytes) or len(key) not in _KEY_SIZES:
                raise ValueError(
                    f"key {key_id!r} must be 16, 24 or 32 bytes (AES-128/192/256); "
                    f"generate one with TokenCipher.generate_key()"
                )
            aeads[key_id] = AESGCM(key)
        if active_key_id not in aeads:
            shown = repr(active_key_id) if _valid_key_id(active_key_id) else "(invalid id)"
            raise ValueError(f"active key id {shown} is not among the key ids {list(aeads)}")
        self._aeads = aeads
        self._active_key_id = active_key_id

    @staticmethod
    def generate_key() -> bytes:
        """A fresh random 256-bit key; print it with :func:`encode_key`."""
        return AESGCM.generate_key(bit_length=256)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TokenCipher | None:
        """Build from ``SHOPIFY_SESSIONS_TOKEN_KEYS`` (``id:base64key,id:base64key``) and
        ``SHOPIFY_SESSIONS_ACTIVE_KEY_ID`` (default: the last listed key, so rotating is
        "append the new key"). ``None`` when no keys are configured: encryption is opt-in."""
        raw = environ.get(TOKEN_KEYS_ENV, "").strip()
        if not raw:
            return None
        keys: dict[str, bytes] = {}
        for position, entry in enumerate(raw.split(","), start=1):
            key_id, sep, encoded = (part.strip() for part in entry.partition(":"))
            if not sep or not key_id or not encoded:  # the entry itself may be a bare key
                raise ValueError(
                    f"{TOKEN_KEYS_ENV}: entry {position} is not of the form key_id:base64key"
                )
            if not _valid_key_id(key_id):
                raise ValueError(
                    f"{TOKEN_KEYS_ENV}: entry {position} has an invalid key id: use {_KEY_ID_RULE}"
                )
            if key_id in keys:
                raise ValueError(f"{TOKEN_KEYS_ENV}: key id {key_id!r} is listed twice")
            try:
                keys[key_id] = _b64decode(encoded)
            except ValueError:  # binascii.Error included
                raise ValueError(f"{TOKEN_KEYS_ENV}: key {key_id!r} is not valid base64") from None
        active = environ.get(ACTIVE_KEY_ID_ENV, "").strip() or list(keys)[-1]
        return cls(keys, active)

    @property
    def active_key_id(self) -> str:
        return self._active_key_id

    @property
    def key_ids(self) -> list[str]:
        return list(self._aeads)

    def __repr__(self) -> str:
        return f"TokenCipher(key_ids={self.key_ids}, active_key_id={self._active_key_id!r})"

    def encrypt(self, plaintext: str, *, session_id: str, field: str) -> str:
        """Encrypt under the active key with a fresh random nonce (never reused: a repeated
        GCM nonce under one key leaks the authentication key)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[self._active_key_id].encrypt(
            nonce, plaintext.encode(), _associated_data(session_id, field)
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{_MARKER}{_VERSION}:{self._active_key_id}:{payload}"

    def decrypt(self, value: str, *, session_id: str, field: str) -> str:
        """The plaintext of ``value``; a value without the ``ssenc:`` marker is returned as is."""
        if not is_encrypted(value):
            return value
        aad = _associated_data(session_id, field)
        parsed = _parse(value)
        if parsed is None:
            raise TokenDecryptionError(session_id, field, f"not a valid {_MARKER}{_VERSION} value")
        key_id, payload = parsed
        aead = self._aeads.get(key_id)
        if aead is None:
            raise UnknownKeyError(session_id, field, key_id, self.key_ids)
        try:
            blob = _b64decode(payload)
        except ValueError:  # binascii.Error included
            raise TokenDecryptionError(session_id, field, "payload is not base64") from None
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise TokenDecryptionError(session_id, field, "payload is too short")
        try:
            plain = aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise TokenDecryptionError(
                session_id,
                field,
                f"authentication failed under key {key_id!r} (tampered value, value from "
                f"another session or field, or different key material under that id)",
            ) from None
        return plain.decode()

    # also reachable from an instance
    is_encrypted = staticmethod(is_encrypted)
    key_id_of = staticmethod(key_id_of)

    def needs_reencryption(self, value: str) -> bool:
        """True for plaintext and for values not under the active key (what a re-encrypt
        pass should rewrite after enabling encryption or rotating keys)."""
        return key_id_of(value) != self._active_key_id
