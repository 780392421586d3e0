"""What a ``--data`` file has no place for, kept in a file next to it.

The ``--data`` file stays the sessions in ``export``'s form (so ``import`` reads it). Whatever
else the endpoint holds would be lost at a restart, so it goes to ``<stem>.tables.jsonl``
beside it (``sessions.jsonl`` -> ``sessions.tables.jsonl``), one JSON object a line:

``{"table": {...}, "ttl": NAME}``
    a table a client created: its CreateTable request (keys, indexes, billing) and the
    attribute its TTL is on (or ``null``);
``{"put": TABLE, "item": {...}}``
    an item of such a table, or a sessions-table item that is not a readable session;
``{"add": TABLE, "item": {...}}``
    what a session item carries besides the session, with its ``id``: the refresh lease's
    attributes, the dead-grant mark among them (``tokens.lease_protocol``), or another program's.

Items are DynamoDB JSON as on the wire (binary base64-encoded). The file is written only when
there is something to keep, and removed when there is nothing.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from shopify_sessions.dynamodb.ttl import TTL_ATTRIBUTE
from shopify_sessions.formats.node_json import NODE_JSON_KEYS, SessionFileError

__all__ = [
    "Extras",
    "extras_path",
    "read_extras",
    "session_item_records",
    "table_records",
    "write_extras",
]

Record = dict[str, Any]
_KINDS = ("table", "put", "add")


def extras_path(data: Path) -> Path:
    """``sessions.jsonl`` -> ``sessions.tables.jsonl``; ``data`` -> ``data.tables.jsonl``."""
    stem = data.name[: -len(".jsonl")] if data.name.endswith(".jsonl") else data.name
    return data.with_name(f"{stem}.tables.jsonl")


class Extras:
    """The records of one extras file, read and checked before anything is served."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records

    def load(self, client: Any, sessions_table: str) -> None:
        """Create the saved tables and put their items (before the sessions are stored)."""
        for record in self.records:
            if "table" in record and record["table"]["TableName"] != sessions_table:
                client.create_table(**record["table"])
                if record.get("ttl"):
                    client.update_time_to_live(
                        TableName=record["table"]["TableName"],
                        TimeToLiveSpecification={"Enabled": True, "AttributeName": record["ttl"]},
                    )
            elif "put" in record:
                client.put_item(TableName=record["put"], Item=_from_json(record["item"]))

    def add_to_sessions(self, client: Any) -> None:
        """Give the stored sessions back what their items carried (after they are stored);
        an item no longer there is not recreated."""
        for record in self.records:
            if "add" not in record:
                continue
            item = _from_json(record["item"])
            key = {"id": item.pop("id")}
            names = {f"#a{n}": name for n, name in enumerate(item)}
            values = {f":v{n}": value for n, value in enumerate(item.values())}
            with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
                client.update_item(
                    TableName=record["add"],
                    Key=key,
                    UpdateExpression="SET " + ", ".join(f"#a{n} = :v{n}" for n in range(len(item))),
                    ConditionExpression="attribute_exists(id)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )


def read_extras(data: Path) -> Extras:
    """The extras file beside ``data`` (none: nothing to add); ``SessionFileError`` names the
    first bad line."""
    path = extras_path(data)
    if not path.exists():
        return Extras([])
    records: list[Record] = []
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise SessionFileError(
                    str(path), number, f"is not valid JSON ({error.msg})"
                ) from None
            if not isinstance(record, dict) or not any(kind in record for kind in _KINDS):
                raise SessionFileError(str(path), number, f"has none of the keys {_KINDS}")
            if "table" not in record and not isinstance(record.get("item"), dict):
                raise SessionFileError(str(path), number, "has no 'item' object")
            records.append(record)
    return Extras(records)


def session_item_records(table: str, item: dict[str, Any], readable: bool) -> Iterator[Record]:
    """What the sessions file loses of one sessions-table item: all of it when it is not a
    readable session, else the attributes a session has no field for (``ttl`` is recomputed)."""
    if not readable:
        yield {"put": table, "item": _to_json(item)}
        return
    extra = {k: v for k, v in item.items() if k not in NODE_JSON_KEYS and k != TTL_ATTRIBUTE}
    if extra:
        yield {"add": table, "item": _to_json({"id": item["id"], **extra})}


def table_records(client: Any, skip: str) -> Iterator[Record]:
    """Every table but ``skip`` (the sessions table): its definition, TTL and items."""
    for name in _table_names(client):
        if name == skip:
            continue
        table = client.describe_table(TableName=name)["Table"]
        ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        enabled = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        yield {
            "table": _create_request(table),
            "ttl": ttl.get("AttributeName") if enabled else None,
        }
        for item in _scan(client, name):
            yield {"put": name, "item": _to_json(item)}


def write_extras(data: Path, records: Iterable[Record], write: Any) -> None:
    """Write the records beside ``data`` with ``write(path, text)``, or remove a stale file."""
    lines = [json.dumps(record, ensure_ascii=False, separators=(",", ":")) for record in records]
    path = extras_path(data)
    if lines:
        write(path, "".join(line + "\n" for line in lines))
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _table_names(client: Any) -> Iterator[str]:
    return _paged(
        client.list_tables, {}, "TableNames", "LastEvaluatedTableName", "ExclusiveStartTableName"
    )


def _scan(client: Any, name: str) -> Iterator[dict[str, Any]]:
    request = {"TableName": name, "ConsistentRead": True}
    return _paged(client.scan, request, "Items", "LastEvaluatedKey", "ExclusiveStartKey")


def _paged(
    call: Callable[..., Any], request: dict[str, Any], items: str, last: str, start: str
) -> Iterator[Any]:
    """Every entry of a paginated listing: ``call`` again from each page's ``last``."""
    while True:
        page = call(**request)
        yield from page.get(items, [])
        if last not in page:
            return
        request = {**request, start: page[last]}


def _create_request(table: dict[str, Any]) -> dict[str, Any]:
    """DescribeTable's answer as the CreateTable request that makes the same table."""
    billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    request: dict[str, Any] = {
        "TableName": table["TableName"],
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": table["AttributeDefinitions"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = _capacity(table["ProvisionedThroughput"])
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = []
        for index in table.get(kind, []):
            wanted = {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
            if kind == "GlobalSecondaryIndexes" and billing == "PROVISIONED":
                wanted["ProvisionedThroughput"] = _capacity(index["ProvisionedThroughput"])
            indexes.append(wanted)
        if indexes:
            request[kind] = indexes
    stream = table.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        request["StreamSpecification"] = stream
    return request


def _capacity(throughput: dict[str, Any]) -> dict[str, int]:
    return {k: int(throughput[k]) for k in ("ReadCapacityUnits", "WriteCapacityUnits")}


def _to_json(item: dict[str, Any]) -> dict[str, Any]:
    """An item from botocore as JSON: binary base64-encoded, as on the wire."""
    return _values(item, lambda data: base64.b64encode(data).decode())


def _from_json(item: dict[str, Any]) -> dict[str, Any]:
    """The reverse of :func:`_to_json`: the item as botocore sends it."""
    return _values(item, base64.b64decode)


def _values(item: dict[str, Any], binary: Callable[[Any], Any]) -> dict[str, Any]:
    return {name: _value(value, binary) for name, value in item.items()}


def _value(value: dict[str, Any], binary: Callable[[Any], Any]) -> dict[str, Any]:
    """One attribute value with ``binary`` applied to its binary parts, however deep."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": binary(inner)}
    if kind == "BS":
        return {"BS": [binary(each) for each in inner]}
    if kind == "M":
        return {"M": _values(inner, binary)}
    if kind == "L":
        return {"L": [_value(each, binary) for each in inner]}
    return value
