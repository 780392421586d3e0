"""``Session`` <-> ``shopify.Session`` of Shopify's older ``ShopifyAPI`` package.

For apps still on ``ShopifyAPI`` (import name ``shopify``: REST resources, its GraphQL client)
that keep their sessions here. Load the session so that its token is usable (refreshed once for
the fleet when due), then hand it to ``ShopifyAPI``::

    import shopify
    from shopify_sessions.integrations.shopifyapi import to_shopify_session

    session = storage.load_fresh_session(offline_session_id(shop), refresher)
    shopify.ShopifyResource.activate_session(to_shopify_session(session, "2025-01"))
    shopify.GraphQL().execute("{ shop { name } }")

What ``ShopifyAPI`` 12.7 takes (read from its source, ``shopify/session.py``): the shop URL,
reduced to the part before the first dot plus ``Session.myshopify_domain``; an API version,
which must be a known one or ``YYYY-MM`` (``None`` fails inside ``ShopifyAPI``), or
``"unstable"``; the token; and scopes, parsed by ``ApiAccess``, which refuses names outside
``[unauthenticated_](read|write)_*`` (such as the Customer Account API's ``customer_read_*``).
It has no expiry, refresh token or user: an expired token simply gets 401 answers, so
:func:`to_shopify_session` refuses one.

Needs the ``shopifyapi`` extra: ``pip install 'shopify-sessions[shopifyapi]'``.
"""

from __future__ import annotations

from datetime import timedelta

try:
    import shopify
    from shopify.api_access import ApiAccessError
    from shopify.api_version import InvalidVersionError, VersionNotFoundError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "shopify_sessions.integrations.shopifyapi needs Shopify's ShopifyAPI package: "
        "pip install 'shopify-sessions[shopifyapi]'"
    ) from exc

from shopify_sessions.domain.session import Session, offline_session_id

__all__ = ["session_from_shopify_session", "to_shopify_session"]


def to_shopify_session(
    session: Session, api_version: str, *, with_scopes: bool = True
) -> shopify.Session:
    """A ``shopify.Session`` for ``session``'s shop and token, on ``api_version``.

    ``with_scopes=False`` leaves ``access_scopes`` unset, for scopes ``ShopifyAPI``'s
    ``ApiAccess`` refuses. Raises ``TypeError`` for wrong types and ``ValueError`` when the
    session has no access token, when it has expired (load it with
    ``storage.load_fresh_session(id, refresher)``), for a version ``ShopifyAPI`` does not
    accept, or for a refused scope. Messages never contain the token.
    """
    if not isinstance(session, Session):
        raise TypeError(f"expected a Session, got {type(session).__name__}")
    if not isinstance(api_version, str):
        raise TypeError(f"api_version must be a str, got {type(api_version).__name__}")
    if not session.access_token:
        raise ValueError(f"session {session.id!r} has no access token")
    if session.is_expired(timedelta(0)):
        raise ValueError(
            f"session {session.id!r}: its access token expired at "
            f"{session.expires.isoformat() if session.expires else '?'}; load the session with "
            "storage.load_fresh_session(id, refresher) to get a refreshed one"
        )
    try:
        converted = shopify.Session(session.shop, api_version, session.access_token)
    except (VersionNotFoundError, InvalidVersionError):
        raise ValueError(
            f"api_version {api_version!r} is not a version ShopifyAPI accepts "
            "(YYYY-MM, such as '2025-01', or 'unstable')"
        ) from None
    if converted.url is None:
        raise ValueError(f"session {session.id!r}: shop {session.shop!r} is not a shop domain")
    if with_scopes and session.scope:
        try:
            converted.access_scopes = session.scope
        except ApiAccessError as error:
            raise ValueError(
                f"session {session.id!r}: ShopifyAPI refuses its scopes ({error}); "
                "pass with_scopes=False to leave access_scopes unset"
            ) from None
    return converted


def session_from_shopify_session(shopify_session: shopify.Session, *, state: str = "") -> Session:
    """The offline ``Session`` to store for a token ``ShopifyAPI`` obtained (its OAuth
    ``request_token``): id ``offline_{shop}``, no expiry (``ShopifyAPI`` has none).

    ``ShopifyAPI`` keeps no user, so an online token cannot be told apart: use this for
    offline tokens only. Scopes are stored as ``ApiAccess`` keeps them: sorted, without the
    ``read_X`` implied by ``write_X``. Raises ``ValueError`` when there is no shop or token.
    """
    if not isinstance(shopify_session, shopify.Session):
        raise TypeError(f"expected a shopify.Session, got {type(shopify_session).__name__}")
    if not isinstance(state, str):
        raise TypeError(f"state must be a str, got {type(state).__name__}")
    url = shopify_session.url
    if not url:
        raise ValueError("the shopify.Session has no shop URL")
    if not shopify_session.token:
        raise ValueError(f"the shopify.Session of {url!r} has no token")
    shop = str(url).split(":", 1)[0].lower()  # ShopifyAPI appends Session.port when set
    scopes = shopify_session.access_scopes
    return Session(
        id=offline_session_id(shop),
        shop=shop,
        state=state,
        is_online=False,
        scope=",".join(sorted(scopes)) if scopes is not None else None,
        access_token=str(shopify_session.token),
    )
