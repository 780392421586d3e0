"""Count the DynamoDB requests a storage sends (each HTTP attempt, per operation).

Storages with the same connection settings share one botocore client, so a counter keeps
only the requests that name its storage's table.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any


class RequestCounter:
    """Counts ``before-send`` events on a storage's botocore client, by operation name."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        self.by_operation: Counter[str] = Counter()
        self._client: Any = None

    @classmethod
    def attach(cls, storage: Any) -> RequestCounter:
        counter = cls(storage.table_name)
        counter._client = storage.model._get_connection().connection.client
        # register_first: moto in process answers from its own before-send handler
        counter._client.meta.events.register_first("before-send.dynamodb", counter._count)
        return counter

    def detach(self) -> None:
        if self._client is not None:
            self._client.meta.events.unregister("before-send.dynamodb", self._count)
            self._client = None

    def _count(self, request: Any, **_: Any) -> None:
        if not self._names_table(request.body):
            return
        target = request.headers.get("X-Amz-Target", b"")
        if isinstance(target, bytes):
            target = target.decode()
        self.by_operation[target.rsplit(".", 1)[-1]] += 1

    def _names_table(self, body: Any) -> bool:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return False
        tables = {payload.get("TableName")} | set(payload.get("RequestItems", {}))
        return self.table_name in tables

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def reset(self) -> None:
        self.by_operation.clear()
