"""Session <-> SessionModel <-> DynamoDB item: the one place the two shapes meet.

Absent optional fields are left out of the item (never NULL or ""), as the Node adapter does.
Reading checks what PynamoDB does not (required attributes present) and turns any bad
attribute into a ``CorruptSessionError`` naming the session and the attribute.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pynamodb.attributes import MapAttribute

from .errors import CorruptSessionError
from .model import AssociatedUserMap, OnlineAccessInfoMap, SessionModel
from .session import AssociatedUser, OnlineAccessInfo, Session

__all__ = ["item_to_session", "model_to_session", "session_to_item", "session_to_model"]

M = TypeVar("M", bound=SessionModel)


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
    """A ``Session`` from a model instance (e.g. from ``SessionModel.scan()`` in a script)."""
    return item_to_session(instance.serialize(null_check=False))


def item_to_session(item: dict[str, Any], model: type[SessionModel] = SessionModel) -> Session:
    """A ``Session`` from a raw DynamoDB item (attribute-value JSON).

    Each value goes through the model's own PynamoDB attribute (``deserialize``), but without
    building a model instance: that container machinery cost two thirds of decoding time,
    which matters when a find returns thousands of sessions.
    """
    raw_id = item.get("id")
    session_id = raw_id.get("S", "<no id>") if isinstance(raw_id, dict) else "<no id>"
    # Bound models only rename the table: SessionModel's attributes decode for all of them,
    # and keep the decoder cache at one entry per attribute container.
    fields = _decode(item, SessionModel, "", session_id)
    for name in ("id", "shop", "state", "is_online"):
        if fields.get(name) is None:
            raise CorruptSessionError(session_id, _STORED_NAMES[name], "is missing")
    fields.pop("ttl", None)  # storage metadata, not part of the session
    info = fields.pop("online_access_info", None)
    try:
        if info is not None:
            user = info.pop("associated_user", None)
            if user is not None:
                if user.get("id") is None:
                    raise CorruptSessionError(
                        session_id, "onlineAccessInfo.associated_user.id", "is missing"
                    )
                user["id"] = _as_int(user["id"])
                info["associated_user"] = AssociatedUser(**user)
            info["expires_in"] = _as_int(info.get("expires_in"))
            fields["online_access_info"] = OnlineAccessInfo(**info)
        return Session(**fields)
    except TypeError as error:
        raise CorruptSessionError(session_id, _field_in(str(error)), "has the wrong type") from None


_Decoder = tuple[str, str, str, Any, bool]  # python name, stored name, type, attribute, is map
_decoders: dict[type[Any], list[_Decoder]] = {}


def _decoders_of(container: type[Any]) -> list[_Decoder]:
    decoders = _decoders.get(container)
    if decoders is None:
        decoders = [
            (
                name,
                attr.attr_name,
                attr.attr_type,
                attr,
                isinstance(attr, MapAttribute) and type(attr) is not MapAttribute,
            )
            for name, attr in container.get_attributes().items()
        ]
        _decoders[container] = decoders
    return decoders


def _decode(
    raw: dict[str, Any], container: type[Any], path: str, session_id: str
) -> dict[str, Any]:
    """Python-named values of one item or typed map; absent and NULL values are left out."""
    fields: dict[str, Any] = {}
    for name, stored, attr_type, attr, is_map in _decoders_of(container):
        value = raw.get(stored)
        if not value or "NULL" in value:
            continue
        where = f"{path}{stored}"
        if attr_type not in value:
            kinds = "/".join(value)
            raise CorruptSessionError(session_id, where, f"is {kinds}, expected {attr_type}")
        if is_map:
            fields[name] = _decode(value[attr_type], type(attr), f"{where}.", session_id)
            continue
        try:
            fields[name] = attr.deserialize(value[attr_type])
        except (TypeError, ValueError) as error:
            raise CorruptSessionError(session_id, where, f"cannot be read ({error})") from None
    return fields


def _as_int(value: Any) -> Any:
    """NumberAttribute yields int or float; Shopify's numbers here are integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


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


_STORED_NAMES = {name: attr.attr_name for name, attr in SessionModel.get_attributes().items()}


def _field_in(message: str) -> str:
    """The stored attribute name behind a Session/AssociatedUser TypeError message."""
    match = re.search(r"Session\.(\w+)|AssociatedUser\.(\w+)", message)
    if match is None:
        return "?"
    if match.group(1):
        return _STORED_NAMES.get(match.group(1), match.group(1))
    return f"onlineAccessInfo.associated_user.{match.group(2)}"
