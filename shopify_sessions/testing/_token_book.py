"""Shopify's token rules, for the fake token endpoint.

Kept apart from the HTTP server so the rules read like Shopify's documentation: one active
offline access token per app and shop, refresh tokens that rotate with a replay window, token
exchange for migrations (retryable for 7 days) and embedded installs. ``TokenBook`` is not
thread-safe by itself: the server holds one lock around every call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_SCOPE",
    "ID_TOKEN_TYPE",
    "OFFLINE_TOKEN_TYPE",
    "ONLINE_TOKEN_TYPE",
    "TOKEN_EXCHANGE_GRANT",
    "Grant",
    "OAuthError",
    "TokenBook",
    "grant_kind",
    "session_token_claims",
]

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
ONLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"
DEFAULT_SCOPE = "read_products,write_products"
ONLINE_TTL = 86400  # Shopify's online tokens live one day, whatever the app's settings
MIGRATION_WINDOW = 7 * 86400  # a migration exchange answers the same pair this long

Answer = dict[str, object]


class OAuthError(Exception):
    """An OAuth error answer. The message is a fixed description: never a token or secret."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> Answer:
        return {"error": self.error, "error_description": self.description}


def _invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def _invalid_grant(description: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", description)


def _invalid_subject(description: str) -> OAuthError:
    # what Shopify answers for a bad subject token (shopify-app-js: InvalidJwtError)
    return OAuthError(400, "invalid_subject_token", description)


@dataclass(frozen=True)
class Grant:
    """What an install hands the app; the tokens stay out of the repr."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int | None
    refresh_token_expires_in: int | None
    scope: str


@dataclass
class _Token:
    value: str = field(repr=False)
    expires_at: float | None  # on TokenBook.now()'s clock; None: never expires

    def alive(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass
class _Migration:
    """A migration exchange Shopify can answer again: the same pair, for the same old token."""

    subject: str = field(repr=False)  # the non-expiring token that was exchanged
    access: _Token
    refresh: _Token
    until: float  # the retry window's end, on TokenBook.now()'s clock


@dataclass
class _Shop:
    """One shop's tokens for this app: the rules act on these fields only."""

    scope: str
    access: _Token | None = None  # the one active offline access token
    current: _Token | None = None  # the refresh token issued last
    previous: _Token | None = None  # replay window: usable until ``current`` is first used
    online: dict[str, _Token] = field(default_factory=dict)
    migration: _Migration | None = None  # open until the pair is refreshed or replaced

    def revoke_all(self) -> None:
        self.access = self.current = self.previous = self.migration = None
        self.online.clear()


def grant_kind(body: object) -> str:
    """``refresh_token``, ``token_exchange`` or ``invalid``: how a request is counted."""
    if isinstance(body, dict):
        grant_type = body.get("grant_type")
        if grant_type == "refresh_token":
            return "refresh_token"
        if grant_type == TOKEN_EXCHANGE_GRANT:
            return "token_exchange"
    return "invalid"


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def session_token_claims(token: str, secret: str) -> dict[str, object] | None:
    """The payload of an HS256 session token signed with ``secret``; None if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_b64url_decode(parts[0]))
        payload = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except ValueError:  # binascii, unicode and JSON errors are all ValueErrors
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return None
    signed = f"{parts[0]}.{parts[1]}".encode()
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature) or not isinstance(payload, dict):
        return None
    return payload


def _new(prefix: str) -> str:
    return f"{prefix}_fake_{secrets.token_hex(16)}"


def _text(body: dict[str, object], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid_request(f"{name} is missing or not a string")
    return value


def _expiring(value: object) -> bool:
    # Shopify's clients send "1"/"0" (form style) or 1/0 (JSON); absent means non-expiring
    if value is None:
        return False
    if value in ("1", 1):
        return True
    if value in ("0", 0):
        return False
    raise _invalid_request("expiring must be 1 or 0")


class TokenBook:
    """Every shop's tokens for one app, and the answers of the token endpoint."""

    def __init__(self, client_id: str, client_secret: str, access_ttl: int, refresh_ttl: int):
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self._shops: dict[str, _Shop] = {}
        self._skipped = 0.0  # seconds ``advance`` moved the clock on

    def now(self) -> float:
        """The book's clock: ``time.monotonic()`` plus every ``advance``."""
        return time.monotonic() + self._skipped

    def advance(self, seconds: float) -> None:
        """As if ``seconds`` passed: tokens age, the migration retry window closes."""
        self._skipped += seconds

    def __repr__(self) -> str:
        return f"TokenBook(client_id={self.client_id!r}, shops={len(self._shops)})"

    # -- what the merchant and the test do -------------------------------------------------

    def install(
        self, shop: str, *, expiring: bool, scope: str, access_token: str | None = None
    ) -> Grant:
        record = self._shops.setdefault(shop, _Shop(scope))
        record.scope = scope
        answer = self._issue_offline(record, expiring=expiring, now=self.now())
        if access_token is not None and record.access is not None:  # a copy's token, adopted
            record.access.value = answer["access_token"] = access_token
        return Grant(
            access_token=str(answer["access_token"]),
            refresh_token=record.current.value if record.current else None,
            expires_in=self.access_ttl if expiring else None,
            refresh_token_expires_in=self.refresh_ttl if expiring else None,
            scope=scope,
        )

    def uninstall(self, shop: str) -> None:
        record = self._shops.get(shop)
        if record is not None:
            record.revoke_all()

    def expire_refresh_token(self, shop: str) -> None:
        # the previous token was issued earlier, so it is past its life too
        record = self._shops.get(shop)
        past = self.now() - 1.0
        for token in (record.current, record.previous) if record else ():
            if token is not None:
                token.expires_at = past

    def active_token(self, shop: str) -> str | None:
        record = self._shops.get(shop)
        if record is None or record.access is None or not record.access.alive(self.now()):
            return None
        return record.access.value

    def is_active(self, shop: str, access_token: str) -> bool:
        """The shop's active offline token, or one of its unexpired online tokens."""
        if access_token and access_token == self.active_token(shop):
            return True
        record = self._shops.get(shop)
        online = record.online.get(access_token) if record else None
        return online is not None and online.alive(self.now())

    # -- the token endpoint -----------------------------------------------------------------

    def answer(self, shop: str, body: object, *, strict: bool) -> Answer:
        """The 200 answer to ``body`` (a parsed JSON body; None if unparsable), or OAuthError."""
        if not isinstance(body, dict):
            raise _invalid_request("the body must be a JSON object")
        kind = grant_kind(body)
        if kind == "invalid":
            raise _invalid_request("grant_type is missing or not supported")
        client_id, client_secret = _text(body, "client_id"), _text(body, "client_secret")
        secret_ok = hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        if client_id != self.client_id or not secret_ok:
            raise OAuthError(401, "invalid_client", "client authentication failed")
        if kind == "refresh_token":
            return self._refresh(shop, body, strict=strict)
        return self._exchange(shop, body)

    def _refresh(self, shop: str, body: dict[str, object], *, strict: bool) -> Answer:
        token = _text(body, "refresh_token")
        record = self._shops.get(shop)
        now = self.now()
        if record is None:
            raise _invalid_grant("the refresh token is invalid, expired or revoked")
        if record.current is not None and token == record.current.value:
            used = record.current
        elif not strict and record.previous is not None and token == record.previous.value:
            used = record.previous  # a replay: the unused current token is replaced
        else:
            raise _invalid_grant("the refresh token is invalid, expired or revoked")
        if not used.alive(now):
            raise _invalid_grant("the refresh token is invalid, expired or revoked")
        if used is record.current:
            # first use of the current token closes the window of the one before it
            record.previous = None if strict else used
        return self._issue_offline(record, expiring=True, now=now, keep_previous=True)

    def _exchange(self, shop: str, body: dict[str, object]) -> Answer:
        subject = _text(body, "subject_token")
        subject_type = _text(body, "subject_token_type")
        requested = _text(body, "requested_token_type")
        if requested not in (OFFLINE_TOKEN_TYPE, ONLINE_TOKEN_TYPE):
            raise _invalid_request("requested_token_type is not supported")
        expiring = _expiring(body.get("expiring"))
        now = self.now()
        if subject_type == OFFLINE_TOKEN_TYPE:  # migrating a non-expiring offline token
            if requested != OFFLINE_TOKEN_TYPE:
                raise _invalid_request("an offline token exchanges only for an offline token")
            record = self._shops.get(shop)
            again = self._migration_again(record, subject, now) if expiring else None
            if again is not None:
                return again
            if record is None or subject != self.active_token(shop):
                raise _invalid_subject("the subject token is not the shop's active token")
            answer = self._issue_offline(record, expiring=expiring, now=now)
            if record.access is not None and record.current is not None:
                window = now + MIGRATION_WINDOW
                record.migration = _Migration(subject, record.access, record.current, window)
            return answer
        if subject_type != ID_TOKEN_TYPE:
            raise _invalid_request("subject_token_type is not supported")
        claims = session_token_claims(subject, self.client_secret)
        if claims is None or claims.get("dest") != f"https://{shop}":
            raise _invalid_subject("the session token is invalid")
        record = self._shops.setdefault(shop, _Shop(DEFAULT_SCOPE))
        if requested == OFFLINE_TOKEN_TYPE:
            return self._issue_offline(record, expiring=expiring, now=now)
        user = claims.get("sub")
        if not isinstance(user, str | int) or isinstance(user, bool) or user == "":
            raise _invalid_subject("the session token has no user")
        return self._issue_online(shop, record, user, now=now)

    def _migration_again(self, record: _Shop | None, subject: str, now: float) -> Answer | None:
        """The pair a migration of ``subject`` already issued, while its window is open.

        Shopify's rule: for up to 7 days, until the pair is first refreshed or a later
        acquisition replaces it; the access token's life is extended, the refresh token's not.
        """
        migration = record.migration if record is not None else None
        if migration is None or record is None or now >= migration.until:
            return None
        if not hmac.compare_digest(subject.encode(), migration.subject.encode()):
            return None
        refresh_left = (migration.refresh.expires_at or now) - now
        if refresh_left < 1:
            return None
        migration.access.expires_at = max(migration.access.expires_at or now, now + self.access_ttl)
        return {
            "access_token": migration.access.value,
            "scope": record.scope,
            "expires_in": int(migration.access.expires_at - now),
            "refresh_token": migration.refresh.value,
            "refresh_token_expires_in": int(refresh_left),
        }

    def _issue_offline(
        self, record: _Shop, *, expiring: bool, now: float, keep_previous: bool = False
    ) -> Answer:
        # one active offline token per app and shop: issuing one revokes every earlier one,
        # and closes the retry window of an earlier migration
        access = _Token(_new("shpat"), now + self.access_ttl if expiring else None)
        record.access = access
        record.migration = None
        if not keep_previous:
            record.previous = None
        if not expiring:
            record.current = None
            return {"access_token": access.value, "scope": record.scope}
        record.current = _Token(_new("shprt"), now + self.refresh_ttl)
        return {
            "access_token": access.value,
            "scope": record.scope,
            "expires_in": self.access_ttl,
            "refresh_token": record.current.value,
            "refresh_token_expires_in": self.refresh_ttl,
        }

    def _issue_online(self, shop: str, record: _Shop, user: str | int, *, now: float) -> Answer:
        token = _Token(_new("shpua"), now + ONLINE_TTL)
        record.online = {k: v for k, v in record.online.items() if v.alive(now)}
        record.online[token.value] = token
        user_id: str | int = int(user) if isinstance(user, str) and user.isdigit() else user
        return {
            "access_token": token.value,
            "scope": record.scope,
            "expires_in": ONLINE_TTL,
            "associated_user_scope": record.scope,
            "associated_user": {
                "id": user_id,
                "first_name": "Fake",
                "last_name": "Merchant",
                "email": f"merchant-{user_id}@{shop}",
                "email_verified": True,
                "account_owner": True,
                "locale": "en",
                "collaborator": False,
            },
        }
