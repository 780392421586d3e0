"""Count the DynamoDB requests a storage sends (each HTTP attempt, per operation)."""

from __future__ import annotations

from collections import Counter
from typing import Any


class RequestCounter:
    """Counts ``before-send`` events on a storage's botocore client, by operation name."""

    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()

    @classmethod
    def attach(cls, storage: Any) -> RequestCounter:
        counter = cls()
        client = storage.model._get_connection().connection.client
        # register_first: moto in process answers from its own before-send handler
        client.meta.events.register_first("before-send.dynamodb", counter._count)
        return counter

    def _count(self, request: Any, **_: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        if isinstance(target, bytes):
            target = target.decode()
        self.by_operation[target.rsplit(".", 1)[-1]] += 1

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def reset(self) -> None:
        self.by_operation.clear()
