"""The version of a stored item a conditional store was decided on: its pair, byte for byte.

A decision DynamoDB cannot take in a condition (comparing an ``expires`` that may be a number,
an ISO string with an offset or Node's format) is taken in Python on a strongly consistent
read; the write is then conditioned on the item still holding exactly what was read, whatever
type and spelling it has, so a pair stored in between is never overwritten unseen.
"""

from __future__ import annotations

from typing import Any

__all__ = ["VERSION_ATTRIBUTES", "unchanged_condition"]

VERSION_ATTRIBUTES = ("expires", "accessToken", "refreshToken")


def unchanged_condition(item: dict[str, Any] | None) -> dict[str, Any]:
    """A PutItem's condition fields: the item is still ``item``'s version (``None``: absent)."""
    if item is None:
        return {
            "ConditionExpression": "attribute_not_exists(#id)",
            "ExpressionAttributeNames": {"#id": "id"},
        }
    names: dict[str, str] = {"#id": "id"}
    values: dict[str, Any] = {}
    terms = ["attribute_exists(#id)"]
    for number, attribute in enumerate(VERSION_ATTRIBUTES):
        name, value = f"#v{number}", f":v{number}"
        names[name] = attribute
        stored = item.get(attribute)
        if stored is None:
            terms.append(f"attribute_not_exists({name})")
        elif "NULL" in stored:  # NULL compares to nothing: its type is the whole value
            terms.append(f"attribute_type({name}, {value})")
            values[value] = {"S": "NULL"}
        else:
            terms.append(f"{name} = {value}")
            values[value] = stored
    fields: dict[str, Any] = {
        "ConditionExpression": " AND ".join(terms),
        "ExpressionAttributeNames": names,
    }
    if values:
        fields["ExpressionAttributeValues"] = values
    return fields
