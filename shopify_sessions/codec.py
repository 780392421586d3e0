"""Session <-> SessionModel <-> DynamoDB item: the one place the two shapes meet.

Absent optional fields are left out of the item (never NULL or ""), as the Node adapter does.
Reading checks what PynamoDB does not (required attributes present) and turns any bad
attribute into a ``CorruptSessionError`` naming the session and the attribute.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from .errors import CorruptSessionError
from .model import AssociatedUserMap, OnlineAccessInfoMap, SessionModel
from .session import AssociatedUser, OnlineAccessInfo, Session

__all__ = ["item_to_session", "model_to_session", "session_to_item", "session_to_model"]

M = TypeVar("M", bound=SessionModel)

_ATTRIBUTE_IN_MESSAGE = re.compile(r"'([^']+)' attribute")


def session_to_model(session: Session, model: type[M]) -> M:
    """A model instance holding exactly the session's persisted fields."""
    info = session.online_access_info
    return model(
        id=session.id,
        shop=session.shop,
        state=session.state,
        is_online=session.is_online,
        scope=session.scope,
        expires=session.expires,
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        refresh_token_expires=session.refresh_token_expires,
        online_access_info=_info_to_map(info) if info is not None else None,
    )


def session_to_item(session: Session, model: type[SessionModel] = SessionModel) -> dict[str, Any]:
    """The DynamoDB item (attribute-value JSON) the Node adapter would write for ``session``."""
    return session_to_model(session, model).serialize()


def model_to_session(instance: SessionModel) -> Session:
    """A ``Session`` from a loaded model; missing or mistyped attributes are corrupt."""
    session_id = instance.id if isinstance(instance.id, str) else "<no id>"
    for name, stored in (
        ("id", "id"),
        ("shop", "shop"),
        ("state", "state"),
        ("is_online", "isOnline"),
    ):
        if getattr(instance, name) is None:
            raise CorruptSessionError(session_id, stored, "is missing")
    try:
        return Session(
            id=instance.id,
            shop=instance.shop,
            state=instance.state,
            is_online=instance.is_online,
            scope=instance.scope,
            expires=instance.expires,
            access_token=instance.access_token,
            refresh_token=instance.refresh_token,
            refresh_token_expires=instance.refresh_token_expires,
            online_access_info=_map_to_info(session_id, instance.online_access_info),
        )
    except TypeError as error:
        raise CorruptSessionError(session_id, _field_in(str(error)), "has the wrong type") from None


def item_to_session(item: dict[str, Any], model: type[SessionModel] = SessionModel) -> Session:
    """A ``Session`` from a raw DynamoDB item (attribute-value JSON)."""
    session_id = (
        item.get("id", {}).get("S", "<no id>") if isinstance(item.get("id"), dict) else "<no id>"
    )
    try:
        instance = model.from_raw_data(item)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        match = _ATTRIBUTE_IN_MESSAGE.search(str(error))
        attribute = match.group(1) if match else "?"
        raise CorruptSessionError(session_id, attribute, f"cannot be read ({error})") from None
    return model_to_session(instance)


def _info_to_map(info: OnlineAccessInfo) -> OnlineAccessInfoMap:
    user = info.associated_user
    return OnlineAccessInfoMap(  # type: ignore[no-untyped-call]
        expires_in=info.expires_in,
        associated_user_scope=info.associated_user_scope,
        associated_user=(
            AssociatedUserMap(  # type: ignore[no-untyped-call]
                id=user.id,
                first_name=user.first_name,
                last_name=user.last_name,
                email=user.email,
                email_verified=user.email_verified,
                account_owner=user.account_owner,
                locale=user.locale,
                collaborator=user.collaborator,
            )
            if user is not None
            else None
        ),
    )


def _map_to_info(session_id: str, info: OnlineAccessInfoMap | None) -> OnlineAccessInfo | None:
    if info is None:
        return None
    user = info.associated_user
    if user is not None and user.id is None:
        raise CorruptSessionError(session_id, "onlineAccessInfo.associated_user.id", "is missing")
    expires_in: Any = info.expires_in
    if isinstance(expires_in, float) and expires_in.is_integer():
        expires_in = int(expires_in)  # NumberAttribute's type says float; Shopify sends ints
    return OnlineAccessInfo(
        expires_in=expires_in,
        associated_user_scope=info.associated_user_scope,
        associated_user=(
            AssociatedUser(
                id=int(user.id),
                first_name=user.first_name,
                last_name=user.last_name,
                email=user.email,
                email_verified=user.email_verified,
                account_owner=user.account_owner,
                locale=user.locale,
                collaborator=user.collaborator,
            )
            if user is not None
            else None
        ),
    )


_STORED_NAMES = {name: attr.attr_name for name, attr in SessionModel.get_attributes().items()}


def _field_in(message: str) -> str:
    """The stored attribute name behind a Session/AssociatedUser TypeError message."""
    match = re.search(r"Session\.(\w+)|AssociatedUser\.(\w+)", message)
    if match is None:
        return "?"
    if match.group(1):
        return _STORED_NAMES.get(match.group(1), match.group(1))
    return f"onlineAccessInfo.associated_user.{match.group(2)}"
