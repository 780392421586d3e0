"""The table's own life, as plans: create it, wait until it is usable, turn on TTL.

Shared by the storages (``create_table``) and by ``SessionModel.create_table()`` for admin
scripts, so both create, wait and enable TTL the same way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from shopify_sessions.errors import TableNotFoundError

from .ops import Plan, Sleep
from .table_requests import TableRequests
from .ttl import TTL_ATTRIBUTE

__all__ = [
    "TABLE_WAIT_TIMEOUT_SECONDS",
    "create_table",
    "create_table_request",
    "describe",
    "enable_time_to_live",
    "wait_until_active",
]

TABLE_WAIT_TIMEOUT_SECONDS = 600.0


def create_table_request(
    table_name: str, schema: Mapping[str, Any], provisioned: tuple[int, int] | None = None
) -> dict[str, Any]:
    """The CreateTable request for a PynamoDB model's ``_get_schema()``: on-demand, or
    ``provisioned`` (read, write) capacity for the table and its indexes alike."""
    indexes = []
    for index in schema["global_secondary_indexes"]:
        entry: dict[str, Any] = {
            "IndexName": index["index_name"],
            "KeySchema": index["key_schema"],
            "Projection": index["projection"],
        }
        if provisioned is not None:
            entry["ProvisionedThroughput"] = _throughput(provisioned)
        indexes.append(entry)
    request: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": schema["attribute_definitions"],
        "KeySchema": schema["key_schema"],
        "GlobalSecondaryIndexes": indexes,
        "BillingMode": "PROVISIONED" if provisioned else "PAY_PER_REQUEST",
    }
    if provisioned is not None:
        request["ProvisionedThroughput"] = _throughput(provisioned)
    return request


def _throughput(provisioned: tuple[int, int]) -> dict[str, int]:
    return {"ReadCapacityUnits": provisioned[0], "WriteCapacityUnits": provisioned[1]}


def create_table(
    requests: TableRequests, create_input: dict[str, Any], *, wait: bool, ttl: bool
) -> Plan[None]:
    """CreateTable with ``create_input`` unless the table exists (or appears meanwhile);
    then wait until it and its indexes are ACTIVE if ``wait`` or ``ttl``, and turn TTL on."""
    try:
        yield from describe(requests)
    except TableNotFoundError:
        yield from requests.call("CreateTable", create_input, tolerate={"ResourceInUseException"})
    if wait or ttl:
        yield from wait_until_active(requests)
    if ttl:
        yield from enable_time_to_live(requests)


def describe(requests: TableRequests) -> Plan[dict[str, Any]]:
    """DescribeTable: the ``Table`` part of the answer."""
    response = yield from requests.call("DescribeTable", {"TableName": requests.table_name})
    table: dict[str, Any] = response.get("Table", {})
    return table


def wait_until_active(
    requests: TableRequests, timeout: float = TABLE_WAIT_TIMEOUT_SECONDS
) -> Plan[None]:
    """Poll until the table and every index are ACTIVE (PynamoDB's own wait skips indexes)."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        table = yield from describe(requests)
        statuses = [table.get("TableStatus")] + [
            index.get("IndexStatus") for index in table.get("GlobalSecondaryIndexes", [])
        ]
        if all(status == "ACTIVE" for status in statuses):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"table {requests.table_name!r} not ACTIVE after {timeout:.0f}s: {statuses}"
            )
        yield Sleep(delay)
        delay = min(delay * 2, 2.0)


def enable_time_to_live(requests: TableRequests) -> Plan[bool]:
    """Turn on DynamoDB's TTL on the ``ttl`` attribute; ``False`` if it already was on."""
    table = {"TableName": requests.table_name}
    described = yield from requests.call("DescribeTimeToLive", table)
    status = described.get("TimeToLiveDescription", {}).get("TimeToLiveStatus")
    if status in ("ENABLED", "ENABLING"):
        return False
    turn_on = {"TimeToLiveSpecification": {"Enabled": True, "AttributeName": TTL_ATTRIBUTE}}
    yield from requests.call("UpdateTimeToLive", {**table, **turn_on})
    return True
