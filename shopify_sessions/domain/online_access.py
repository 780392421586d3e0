"""Who an online session belongs to: ``OnlineAccessInfo`` and its ``AssociatedUser``.

Separate from ``session.py`` so that the row format (``formats.property_array``) can build
them while ``Session`` uses that format, without an import circle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._js import MAX_SAFE_INTEGER

__all__ = ["AssociatedUser", "OnlineAccessInfo", "check_json_value", "normalize_datetime"]


def normalize_datetime(value: datetime) -> datetime:
    """UTC, millisecond precision: the form a date has after a round trip through storage.

    Naive datetimes are taken as UTC.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    else:
        value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass
class AssociatedUser:
    """The Shopify staff member an online session belongs to.

    ``extra`` keeps what a stored ``associated_user`` map held beyond these fields (keys
    Shopify added later, NULL values) so re-storing a session loses nothing a Node app wrote.
    """

    id: int
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    email_verified: bool | None = None
    account_owner: bool | None = None
    locale: str | None = None
    collaborator: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, _checked_nested(self, name, value))


@dataclass
class OnlineAccessInfo:
    """Extra data Shopify returns with an online (per-user) access token.

    ``extra`` keeps the stored map's other keys and NULL values, and an empty
    ``associated_user`` map (what Node's ``fromPropertyArray`` builds without a user id).
    """

    expires_in: int | None = None
    associated_user_scope: str | None = None
    associated_user: AssociatedUser | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, _checked_nested(self, name, value))


_NESTED_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "expires_in": (int,),
    "first_name": (str,),
    "last_name": (str,),
    "email": (str,),
    "locale": (str,),
    "associated_user_scope": (str,),
    "email_verified": (bool,),
    "account_owner": (bool,),
    "collaborator": (bool,),
    "associated_user": (AssociatedUser,),
}


def check_json_value(where: str, value: Any) -> None:
    """What Node's marshall stores: str-keyed dicts, lists, str, bool, None, int, and floats
    that are finite and within 2**53 (it refuses others; exact big ints pass as BigInt)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} keys must be str, got {type(key).__name__}")
            check_json_value(f"{where}[{key!r}]", inner)
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            check_json_value(f"{where}[{position}]", inner)
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"{where} must be a finite number within 2**53")
    elif value is not None and not isinstance(value, (str, bool, int)):
        raise TypeError(f"{where} must hold JSON values, got {type(value).__name__}")


def _checked_nested(obj: AssociatedUser | OnlineAccessInfo, name: str, value: Any) -> Any:
    """Type-check one AssociatedUser / OnlineAccessInfo field, naming it (values never shown)."""
    if name == "extra":
        return _checked_extra(obj, f"{type(obj).__name__}.{name}", value)
    kinds = _NESTED_TYPES[name]
    if value is None and name != "id":
        return None
    is_int = kinds == (int,)
    if not isinstance(value, kinds) or (is_int and isinstance(value, bool)):
        expected = kinds[0].__name__ + ("" if name == "id" else " or None")
        raise TypeError(
            f"{type(obj).__name__}.{name} must be {expected}, got {type(value).__name__}"
        )
    if is_int and isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(
            f"{type(obj).__name__}.{name} is beyond 2**53 - 1, which JavaScript cannot hold exactly"
        )
    extra = obj.__dict__.get("extra")
    if extra:
        extra.pop(name, None)  # a set field replaces a stored NULL marker
    return value


def _checked_extra(obj: AssociatedUser | OnlineAccessInfo, where: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise TypeError(f"{where} must be a dict, got {type(value).__name__}")
    check_json_value(where, value)
    for key, inner in value.items():
        if key not in _NESTED_TYPES or key not in obj.__dataclass_fields__:
            continue
        empty_user = key == "associated_user" and inner == {}
        if (inner is not None and not empty_user) or getattr(obj, key) is not None:
            raise ValueError(
                f"{where}[{key!r}] may only mark {key} as stored NULL (or, for "
                f"associated_user, as an empty map) while the field itself is None"
            )
    return value
