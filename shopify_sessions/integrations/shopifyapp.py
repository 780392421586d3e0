"""``Session`` <-> ``TokenExchangeAccessToken`` of Shopify's ``shopifyapp`` package.

``shopifyapp`` (import name ``shopify_app``) performs token exchange and token refresh but
stores nothing; this module turns its result into a :class:`~shopify_sessions.Session` to store,
and a stored session back into the token its refresh function takes::

    from shopify_sessions.integrations.shopifyapp import (
        session_from_shopifyapp,
        session_to_shopifyapp,
    )

    result = app.exchange_using_token_exchange("offline", id_token=verified.id_token)
    if result.ok and result.access_token is not None:
        storage.store_session(session_from_shopifyapp(result.access_token))

    session = storage.load_session("offline_example.myshopify.com")
    refreshed = app.refresh_token_exchanged_access_token(session_to_shopifyapp(session))

What ``shopifyapp`` 1.0.2 puts in a ``TokenExchangeAccessToken`` (read from its source):

- ``shop`` is the bare shop name, without ``.myshopify.com``: token exchange strips the scheme
  and the suffix from the ID token's ``dest`` claim (``exchange/token_exchange.py``, lines
  119-124), and refresh builds its URL as ``https://{shop}.myshopify.com``
  (``exchange/refresh_token.py``, line 335), so it must get the bare name back. Its docs are
  not consistent about this, hence :func:`normalize_shop` on the way in.
- ``expires`` / ``refresh_token_expires`` are ``now + expires_in`` formatted with
  ``"%Y-%m-%dT%H:%M:%SZ"`` (UTC, whole seconds, ``Z``; ``exchange/token_exchange.py`` lines
  545-558, ``exchange/refresh_token.py`` lines 372-377), or ``None`` when Shopify sent no
  ``expires_in`` (non-expiring offline tokens). Refresh reads them back with
  ``datetime.fromisoformat(value.replace("Z", "+00:00"))`` (``exchange/refresh_token.py``
  lines 259-260 and 301).
- ``user`` is set for online tokens only; every field has a default when Shopify leaves it
  out: ``id`` 0, strings ``""``, booleans ``False`` (``exchange/token_exchange.py`` lines
  561-573). ``user.scope`` is the response's ``associated_user_scope``.

Needs the ``shopifyapp`` extra: ``pip install 'shopify-sessions[shopifyapp]'``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

try:
    from shopify_app.types import TokenExchangeAccessToken, User
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "shopify_sessions.integrations.shopifyapp needs Shopify's shopifyapp package: "
        "pip install 'shopify-sessions[shopifyapp]'"
    ) from exc

from shopify_sessions.domain.session import (
    AssociatedUser,
    OnlineAccessInfo,
    Session,
    normalize_datetime,
    offline_session_id,
    online_session_id,
)
from shopify_sessions.dynamodb.attributes import parse_iso_datetime

__all__ = [
    "SHOPIFYAPP_EXTRA_HINT",
    "normalize_shop",
    "session_from_shopifyapp",
    "session_to_shopifyapp",
]

SHOPIFYAPP_EXTRA_HINT = "pip install 'shopify-sessions[shopifyapp]'"

_SUFFIX = ".myshopify.com"
_SCHEMES = ("https://", "http://")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_USER_STR_FIELDS = ("first_name", "last_name", "email", "locale")
_USER_BOOL_FIELDS = ("account_owner", "collaborator", "email_verified")
_TOKEN = "TokenExchangeAccessToken"


# --- shop domains ---------------------------------------------------------------------------


def normalize_shop(shop: str) -> str:
    """The shop's ``{name}.myshopify.com`` domain, lower case.

    Accepts ``name``, ``name.myshopify.com`` and ``https://name.myshopify.com/`` (or
    ``http://``), in any case, with surrounding whitespace. The name must be what ``shopifyapp``
    accepts in an ID token's ``dest``: a letter or digit, then letters, digits and hyphens.

    Raises ``TypeError`` for a non-string and ``ValueError`` saying what is wrong for anything
    else; neither message contains the value (it might be a token passed by mistake).
    """
    if not isinstance(shop, str):
        raise TypeError(f"shop must be a str, got {type(shop).__name__}")
    return _normalize_shop(shop, "shop")


def _normalize_shop(value: str, what: str) -> str:
    host = value.strip().lower()
    if not host:
        raise ValueError(f"{what} is empty")
    for scheme in _SCHEMES:
        if host.startswith(scheme):
            host = host[len(scheme) :]
            break
    else:
        if "://" in host:
            raise ValueError(f"{what} is a URL whose scheme is neither https nor http")
    host = host.rstrip("/")
    if any(c in host for c in "/?#@:"):
        raise ValueError(
            f"{what} has a path, query, port or user part; expected only a shop domain "
            "such as 'name.myshopify.com'"
        )
    if host.endswith(_SUFFIX):
        name = host[: -len(_SUFFIX)]
    elif "." in host:
        raise ValueError(f"{what} is not a .myshopify.com domain")
    else:
        name = host
    if not name:
        raise ValueError(f"{what} has no shop name before .myshopify.com")
    if name[0] == "-" or not set(name) <= _NAME_CHARS:
        raise ValueError(
            f"{what} is not a shop domain: the shop name must start with a letter or digit "
            "and contain only letters, digits and hyphens"
        )
    return name + _SUFFIX


def _bare_shop_name(domain: str) -> str:
    """``name`` from a normalised ``name.myshopify.com``: the form ``shopifyapp`` uses."""
    return domain[: -len(_SUFFIX)]


# --- dates ----------------------------------------------------------------------------------


def _parse_date(value: object, what: str) -> datetime | None:
    if value is None or value == "":  # shopifyapp's refresh also treats "" as absent
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be an ISO 8601 str or None, got {type(value).__name__}")
    try:
        return parse_iso_datetime(value)
    except (ValueError, OverflowError):
        raise ValueError(
            f"{what} is not an ISO 8601 date-time (shopifyapp writes YYYY-MM-DDTHH:MM:SSZ)"
        ) from None


def _format_date(value: datetime | None) -> str | None:
    """``shopifyapp``'s ``%Y-%m-%dT%H:%M:%SZ``, plus ``.mmm`` only when there are milliseconds.

    Whole seconds give exactly what ``shopifyapp`` writes. A fraction keeps the session's
    milliseconds, which ``datetime.fromisoformat`` (what ``shopifyapp``'s refresh uses to read
    the date back) accepts on every Python version ``shopifyapp`` supports.
    """
    if value is None:
        return None
    v = normalize_datetime(value)
    text = f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if v.microsecond:
        text += f".{v.microsecond // 1000:03d}"
    return text + "Z"


# --- TokenExchangeAccessToken -> Session ----------------------------------------------------


def _optional_str(value: object, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what} must be a str, got {type(value).__name__}")
    return value


def _optional_bool(value: object, what: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{what} must be a bool, got {type(value).__name__}")
    return value


def _associated_user(user: object) -> tuple[AssociatedUser, str | None]:
    if not isinstance(user, User):
        raise ValueError(
            f"{_TOKEN}.user must be a shopify_app.types.User for an online token, "
            f"got {type(user).__name__}"
        )
    user_id = user.id
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise ValueError(f"{_TOKEN}.user.id must be an int, got {type(user_id).__name__}")
    if user_id <= 0:
        # shopifyapp puts 0 there when Shopify's response has no user id; such a session's
        # id ("{shop}_0") would be shared by every user it happens to.
        raise ValueError(f"{_TOKEN}.user.id must be a positive Shopify user id")
    fields: dict[str, Any] = {"id": user_id}
    for name in _USER_STR_FIELDS:
        fields[name] = _optional_str(getattr(user, name), f"{_TOKEN}.user.{name}")
    for name in _USER_BOOL_FIELDS:
        fields[name] = _optional_bool(getattr(user, name), f"{_TOKEN}.user.{name}")
    scope = _optional_str(user.scope, f"{_TOKEN}.user.scope")
    return AssociatedUser(**fields), scope


def session_from_shopifyapp(token: TokenExchangeAccessToken, *, state: str = "") -> Session:
    """The session Shopify's Node library would create for the token ``shopifyapp`` returned.

    - ``shop`` becomes ``{name}.myshopify.com`` (lower case) whether ``token.shop`` has the
      suffix or not (see :func:`normalize_shop`).
    - Offline: id ``offline_{shop}``, no ``online_access_info``. Online: id
      ``{shop}_{user.id}``, ``online_access_info`` built from ``token.user``, with
      ``user.scope`` as ``associated_user_scope`` and the user's fields copied as they are
      (``shopifyapp``'s ``""``/``False`` placeholders for fields Shopify left out cannot be
      told from real values, so they stay ``""``/``False``; a ``None`` stays ``None``).
    - ``online_access_info.expires_in`` is always ``None``: the token carries only the absolute
      ``expires`` that ``shopifyapp`` computed as "now + expires_in" when it received the
      response, and "now" is not in the token, so the original value cannot be recovered;
      ``expires - now`` at conversion time would be an invented number. Use ``expires``.
    - ``expires`` / ``refresh_token_expires`` are parsed from ISO 8601 with ``Z`` or any offset
      (no offset: UTC, as elsewhere in this package), ``None`` or ``""`` meaning "never".
    - ``scope``, ``token`` and ``refresh_token`` become ``scope``, ``access_token`` and
      ``refresh_token``; empty strings become ``None`` as in every ``Session``.
    - ``state`` is ``""``, as in Node's ``createSession`` after token exchange.

    Raises ``TypeError`` if ``token`` is not a ``TokenExchangeAccessToken`` and ``ValueError``
    naming the field for a bad value: a shop that is not a shop domain, an unparsable date, an
    ``access_mode`` other than ``"online"``/``"offline"``, an online token without a ``user``
    (or with a ``user.id`` that is not a positive int), an offline token with a ``user``, or a
    field of the wrong type. Messages never contain a token.
    """
    if not isinstance(token, TokenExchangeAccessToken):
        raise TypeError(
            f"expected a shopify_app.types.TokenExchangeAccessToken, got {type(token).__name__}"
        )
    if not isinstance(state, str):
        raise TypeError(f"state must be a str, got {type(state).__name__}")

    mode: object = token.access_mode
    if mode not in ("online", "offline"):
        raise ValueError(f"{_TOKEN}.access_mode must be 'online' or 'offline'")
    if not isinstance(token.shop, str):
        raise ValueError(f"{_TOKEN}.shop must be a str, got {type(token.shop).__name__}")
    shop = _normalize_shop(token.shop, f"{_TOKEN}.shop")
    access_token = _optional_str(token.token, f"{_TOKEN}.token")
    scope = _optional_str(token.scope, f"{_TOKEN}.scope")
    refresh_token = _optional_str(token.refresh_token, f"{_TOKEN}.refresh_token")
    expires = _parse_date(token.expires, f"{_TOKEN}.expires")
    refresh_token_expires = _parse_date(
        token.refresh_token_expires, f"{_TOKEN}.refresh_token_expires"
    )

    online_access_info: OnlineAccessInfo | None = None
    if mode == "online":
        if token.user is None:
            raise ValueError(f"{_TOKEN}.user is None, but an online token needs its user")
        user, user_scope = _associated_user(token.user)
        session_id = online_session_id(shop, user.id)
        online_access_info = OnlineAccessInfo(
            expires_in=None, associated_user_scope=user_scope, associated_user=user
        )
    else:
        if token.user is not None:
            raise ValueError(f"{_TOKEN}.user must be None for an offline token")
        session_id = offline_session_id(shop)

    return Session(
        id=session_id,
        shop=shop,
        state=state,
        is_online=mode == "online",
        scope=scope,
        expires=expires,
        access_token=access_token,
        refresh_token=refresh_token,
        refresh_token_expires=refresh_token_expires,
        online_access_info=online_access_info,
    )


# --- Session -> TokenExchangeAccessToken ----------------------------------------------------


def _user_from_session(session: Session) -> User:
    info = session.online_access_info
    if info is None or info.associated_user is None:
        raise ValueError(
            "Session.online_access_info.associated_user is missing, but shopifyapp needs the "
            "user of an online token"
        )
    u = info.associated_user
    # shopifyapp's User has no optional fields: None becomes the default shopifyapp itself
    # uses when Shopify leaves a field out ("" or False).
    return User(
        id=u.id,
        first_name=u.first_name if u.first_name is not None else "",
        last_name=u.last_name if u.last_name is not None else "",
        scope=info.associated_user_scope if info.associated_user_scope is not None else "",
        email=u.email if u.email is not None else "",
        account_owner=bool(u.account_owner),
        locale=u.locale if u.locale is not None else "",
        collaborator=bool(u.collaborator),
        email_verified=bool(u.email_verified),
    )


def session_to_shopifyapp(session: Session) -> TokenExchangeAccessToken:
    """The ``TokenExchangeAccessToken`` ``shopifyapp`` would hold for ``session``.

    What ``refresh_token_exchanged_access_token`` and friends take. ``shop`` is the bare shop
    name (``shopifyapp``'s form, see the module docstring); dates are
    ``YYYY-MM-DDTHH:MM:SSZ`` like ``shopifyapp``'s, with ``.mmm`` added only when the date has
    milliseconds (so nothing is lost); missing ``scope``/``access_token`` become ``""``.

    Not carried, because the token has no place for them: ``id`` and ``state`` (rebuilt as the
    canonical id and ``""`` on the way back) and ``online_access_info.expires_in`` (comes back
    ``None``). ``shopifyapp``'s ``User`` fields are not optional: a ``None`` user field or
    ``associated_user_scope`` becomes ``""`` (strings) or ``False`` (booleans), the defaults
    ``shopifyapp`` itself fills in, and comes back as that value, not ``None``.

    So ``session_from_shopifyapp(session_to_shopifyapp(s)) == s`` exactly when ``s.id`` is
    the canonical id (``offline_{shop}`` / ``{shop}_{user id}``), ``s.shop`` is already
    normalised (lower-case ``name.myshopify.com``), ``s.state == ""`` (or is passed as
    ``state=``), ``expires_in`` is ``None`` and an online session's user fields and
    ``associated_user_scope`` are not ``None``.

    Raises ``ValueError`` naming the field when the session cannot be represented: ``shop``
    is not a shop domain, an online session has no associated user, or an offline session
    has ``online_access_info`` (``shopifyapp`` has no user for offline tokens).
    """
    if not isinstance(session, Session):
        raise TypeError(f"expected a Session, got {type(session).__name__}")
    shop = _bare_shop_name(_normalize_shop(session.shop, "Session.shop"))
    access_mode: Literal["online", "offline"]
    user: User | None
    if session.is_online:
        access_mode = "online"
        user = _user_from_session(session)
    else:
        if session.online_access_info is not None:
            raise ValueError(
                "Session.online_access_info is set on an offline session; shopifyapp has no "
                "user for offline tokens"
            )
        access_mode = "offline"
        user = None
    return TokenExchangeAccessToken(
        shop=shop,
        token=session.access_token or "",
        expires=_format_date(session.expires),
        scope=session.scope or "",
        access_mode=access_mode,
        refresh_token=session.refresh_token,
        refresh_token_expires=_format_date(session.refresh_token_expires),
        user=user,
    )
