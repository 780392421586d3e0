"""Session <-> SessionModel <-> DynamoDB item: the one place the two shapes meet.

Absent optional fields are left out of the item (never NULL or ""), as the Node adapter does.
Reading accepts what the Node adapter's ``deserializeSession`` reads (dates as any string
``new Date()`` parses or as epoch-ms numbers, ``""`` dates as absent, ``isOnline`` as a string
or number) and keeps what ``onlineAccessInfo`` holds beyond this package's fields (unknown
keys, NULLs) so a re-store writes it back. Anything else turns into a ``CorruptSessionError``
naming the session and the attribute.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

from shopify_sessions.domain._js import MAX_SAFE_INTEGER, js_lower
from shopify_sessions.domain._jsdate import DateRangeError, date_from_epoch_ms, parse_js_date
from shopify_sessions.domain.session import AssociatedUser, OnlineAccessInfo, Session
from shopify_sessions.errors import CorruptSessionError

from ._avjson import attribute_value_to_json, json_to_attribute_value

if TYPE_CHECKING:  # the model is imported where an item is encoded: loading needs no PynamoDB
    from .session_model import OnlineAccessInfoMap, SessionModel

__all__ = ["item_to_session", "model_to_session", "session_to_item", "session_to_model"]

M = TypeVar("M", bound="SessionModel")
_MAP = "M"  # PynamoDB's attr_type of every MapAttribute

_STRINGS = (
    ("id", "id"),
    ("shop", "shop"),
    ("state", "state"),
    ("scope", "scope"),
    ("accessToken", "access_token"),
    ("refreshToken", "refresh_token"),
)
_DATES = (("expires", "expires"), ("refreshTokenExpires", "refresh_token_expires"))
_REQUIRED = (("id", "id"), ("shop", "shop"), ("state", "state"), ("isOnline", "is_online"))
_INFO_TYPES = {"expires_in": "N", "associated_user_scope": "S", "associated_user": "M"}
_USER_TYPES = {
    "id": "N",
    "first_name": "S",
    "last_name": "S",
    "email": "S",
    "email_verified": "BOOL",
    "account_owner": "BOOL",
    "locale": "S",
    "collaborator": "BOOL",
}


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


def session_to_item(
    session: Session,
    model: type[SessionModel] | None = None,
    *,
    ttl: int | None = None,
    stored_tokens: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The DynamoDB item (attribute-value JSON) the Node adapter would write for ``session``.

    What ``session_to_model(session, model).serialize()`` gives (a test holds them equal), each
    field serialized by the model's own attribute, without building the model instance first:
    half the cost, on the path of every store. ``ttl`` and ``stored_tokens`` (the token fields
    as stored, e.g. sealed) replace the session's.
    """
    values: dict[str, Any] = {
        "id": session.id,
        "shop": session.shop,
        "state": session.state,
        "is_online": session.is_online,
        "scope": session.scope,
        "expires": session.expires,
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "refresh_token_expires": session.refresh_token_expires,
        "online_access_info": session.online_access_info,
        "ttl": ttl,
        **(stored_tokens or {}),
    }
    if model is None:
        from .session_model import SessionModel

        model = SessionModel
    return _encoded(_fields_of(model), values.__getitem__)


# per attribute: its Python name, stored name, type, serializer, and its own fields if a map
_Field = tuple[str, str, str, Callable[[Any], Any], "list[Any] | None"]
_fields: dict[Any, list[_Field]] = {}


def _fields_of(container: Any) -> list[_Field]:
    """The attributes of a model (or map attribute class), in their order, read from PynamoDB
    once: its accessors (``attr_name`` is a property) cost more than the encoding itself."""
    key = container if isinstance(container, type) else type(container)
    fields = _fields.get(key)
    if fields is None:
        fields = [
            (
                name,
                attribute.attr_name,
                attribute.attr_type,
                attribute.serialize,
                _fields_of(attribute) if attribute.attr_type == _MAP else None,
            )
            for name, attribute in container.get_attributes().items()
        ]
        _fields[key] = fields
    return fields


def _encoded(fields: list[_Field], value_of: Callable[[str], Any]) -> dict[str, Any]:
    """Attribute values by stored name, each serialized by its own attribute; a map's from
    the domain object it holds (``OnlineAccessInfo``, ``AssociatedUser``): building PynamoDB
    map instances first cost two thirds of a store's encoding."""
    container: dict[str, Any] = {}
    for name, stored, kind, serialize, inner in fields:
        value = value_of(name)
        if value is None:
            continue
        if inner is not None:
            container[stored] = {_MAP: _map_values(inner, value)}
            continue
        serialized = serialize(value)
        if serialized is not None:
            container[stored] = {kind: serialized}
    return container


def _map_values(fields: list[_Field], source: Any) -> dict[str, Any]:
    """What the map attribute's ``serialize()`` gives for the map built from ``source``,
    with its ``extra`` (stored keys beyond the fields) written back."""
    container = _encoded(fields, functools.partial(getattr, source))
    if source.extra:
        for key, value in _raw_extra(source).items():
            container.setdefault(key, value)
    return container


def model_to_session(instance: SessionModel) -> Session:
    """A ``Session`` from a model instance (e.g. from ``SessionModel.scan()`` in a script)."""
    return item_to_session(instance.serialize(null_check=False))


def item_to_session(item: dict[str, Any], model: type[SessionModel] | None = None) -> Session:
    """A ``Session`` from a raw DynamoDB item (attribute-value JSON).

    ``model`` is accepted for symmetry: bound models differ only in table and connection.
    Decoding is plain code over the item, without model instances: that container machinery
    cost two thirds of decoding time, which matters when a find returns thousands of sessions.
    """
    raw_id = item.get("id")
    session_id = raw_id.get("S", "<no id>") if isinstance(raw_id, dict) else "<no id>"
    reader = _ItemReader(session_id)
    values: dict[str, Any] = {}
    for stored, name in _STRINGS:
        value = reader.present(item, stored)
        if value is not None:
            values[name] = reader.typed(value, stored, "S")
    online = reader.present(item, "isOnline")
    if online is not None:
        values["is_online"] = reader.boolean(online)
    for stored, name in _DATES:
        value = reader.present(item, stored)
        date = reader.date(value, stored) if value is not None else None
        if date is not None:
            values[name] = date
    info = reader.present(item, "onlineAccessInfo")
    if info is not None:
        values["online_access_info"] = reader.info(reader.typed(info, "onlineAccessInfo", "M"))
    for stored, name in _REQUIRED:
        if name not in values:
            raise CorruptSessionError(session_id, stored, "is missing")
    return Session(**values)


class _ItemReader:
    """Reads one item's attributes; every failure is a ``CorruptSessionError`` naming them."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id

    def fail(self, where: str, reason: str) -> CorruptSessionError:
        return CorruptSessionError(self.session_id, where, reason)

    def present(self, raw: dict[str, Any], key: str) -> dict[str, Any] | None:
        """The attribute value, or ``None`` when absent or NULL (Node treats both as absent)."""
        value = raw.get(key)
        if not value or "NULL" in value:
            return None
        if not isinstance(value, dict):
            raise self.fail(key, "is not a DynamoDB attribute value")
        return value

    def typed(self, value: dict[str, Any], where: str, kind: str) -> Any:
        if kind not in value:
            raise self.fail(where, f"is {'/'.join(value)}, expected {kind}")
        return value[kind]

    def boolean(self, value: dict[str, Any]) -> bool:
        """``isOnline``: BOOL; a string or number the way ``fromPropertyArray`` reads one."""
        if "S" in value:
            return js_lower(value["S"]) == "true"
        if "N" in value:
            return self.number(value, "isOnline") != 0
        return bool(self.typed(value, "isOnline", "BOOL"))

    def number(self, value: dict[str, Any], where: str) -> Decimal:
        try:
            return Decimal(str(self.typed(value, where, "N")))
        except InvalidOperation:
            raise self.fail(where, "is not a number") from None

    def date(self, value: dict[str, Any], where: str) -> Any:
        """``new Date(value)`` for a string or epoch-ms number; ``""`` and ``0`` are absent."""
        try:
            if "S" in value:
                return parse_js_date(value["S"]) if value["S"] else None
            number = self.number(value, where)
            return date_from_epoch_ms(float(number)) if number else None
        except DateRangeError as error:
            raise self.fail(where, str(error)) from None
        except ValueError as error:
            raise self.fail(where, f"cannot be read ({error})") from None

    def info(self, raw: dict[str, Any]) -> OnlineAccessInfo:
        known, extra = self.map(raw, "onlineAccessInfo", _INFO_TYPES)
        user = known.pop("associated_user", None)
        if user == {}:
            extra["associated_user"] = {}  # Node's fromPropertyArray shape: no user known
        elif user is not None:
            where = "onlineAccessInfo.associated_user"
            user_known, user_extra = self.map(user, where, _USER_TYPES)
            if "id" not in user_known:
                raise self.fail(f"{where}.id", "is missing")
            known["associated_user"] = AssociatedUser(**user_known, extra=user_extra)
        return OnlineAccessInfo(**known, extra=extra)

    def map(
        self, raw: dict[str, Any], path: str, types: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Known keys decoded by type, and the rest (unknown keys, NULLs) as JSON values."""
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            where = f"{path}.{key}"
            if key not in types or (isinstance(value, dict) and "NULL" in value):
                try:
                    _check_readable_by_node(value)
                    extra[key] = attribute_value_to_json(value)
                except ValueError as error:
                    raise self.fail(where, f"cannot be kept ({error})") from None
                continue
            data = self.typed(value, where, types[key])
            if types[key] == "N":
                known[key] = self.integer(value, where)
            elif types[key] == "M":
                known[key] = data
            else:
                known[key] = data if types[key] == "S" else bool(data)
        return known, extra

    def integer(self, value: dict[str, Any], where: str) -> int:
        number = self.number(value, where)
        if number != number.to_integral_value() or abs(number) > MAX_SAFE_INTEGER:
            raise self.fail(where, "is not an integer JavaScript holds exactly")
        return int(number)


_BIGINT = re.compile(r"\s*[+-]?\d+\s*")


def _check_readable_by_node(value: Any) -> None:
    """Node's unmarshall reads a number beyond 2**53 only as a BigInt (an integer literal):
    refuse what it cannot read, as it does, rather than store what Node then cannot load."""
    if not isinstance(value, dict):
        return
    if "N" in value and not _BIGINT.fullmatch(str(value["N"])):
        try:
            number = Decimal(str(value["N"]))
        except InvalidOperation:
            raise ValueError("not a number") from None
        if not number.is_finite() or abs(number) > MAX_SAFE_INTEGER:
            raise ValueError("a number beyond 2**53 that is not an integer literal")
    for inner in (value.get("M") or {}).values():
        _check_readable_by_node(inner)
    for inner in value.get("L") or []:
        _check_readable_by_node(inner)


def _info_to_map(info: OnlineAccessInfo) -> OnlineAccessInfoMap:
    from .session_model import AssociatedUserMap, OnlineAccessInfoMap

    user = info.associated_user
    user_map = None
    if user is not None:
        user_map = AssociatedUserMap(  # type: ignore[no-untyped-call]
            id=user.id,
            first_name=user.first_name,
            last_name=user.last_name,
            email=user.email,
            email_verified=user.email_verified,
            account_owner=user.account_owner,
            locale=user.locale,
            collaborator=user.collaborator,
        )
        user_map.extra_values = _raw_extra(user)
    info_map = OnlineAccessInfoMap(  # type: ignore[no-untyped-call]
        expires_in=info.expires_in,
        associated_user_scope=info.associated_user_scope,
        associated_user=user_map,
    )
    info_map.extra_values = _raw_extra(info)
    return info_map


def _raw_extra(obj: AssociatedUser | OnlineAccessInfo) -> dict[str, dict[str, Any]]:
    """``obj.extra`` as attribute values; a key whose field is set is the field's."""
    if not obj.extra:
        return {}
    names = {f.name for f in fields(obj)} - {"extra"}
    return {
        key: json_to_attribute_value(value)
        for key, value in obj.extra.items()
        if key not in names or getattr(obj, key) is None
    }
