"""The floor: the requests an ideal client would send, with raw botocore and nothing else.

find: Query on the shop index following LastEvaluatedKey, then BatchGetItem (ConsistentRead) in
chunks of 100 sent concurrently; delete: BatchWriteItem DeleteRequests in chunks of 25 sent
concurrently. Unprocessed keys and items are retried (bounded, with a short backoff).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import botocore.session
from botocore.config import Config

GET_CHUNK = 100
WRITE_CHUNK = 25
MAX_PAGES = 10_000
MAX_ROUNDS = 30

T = TypeVar("T")
R = TypeVar("R")


def raw_client(endpoint: str, max_pool_connections: int = 10) -> Any:
    """A plain botocore DynamoDB client for ``endpoint`` (fake credentials from the env)."""
    session = botocore.session.get_session()
    return session.create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=endpoint,
        config=Config(max_pool_connections=max_pool_connections),
    )


def chunks(values: Sequence[T], size: int) -> list[Sequence[T]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _backoff(round_no: int) -> None:
    time.sleep(min(0.01 * 2**round_no, 0.5))


class Floor:
    """Raw botocore requests on one table; chunks go through one long-lived thread pool."""

    def __init__(self, endpoint: str, table: str, index: str, workers: int = 10) -> None:
        self.client = raw_client(endpoint, max_pool_connections=workers)
        self.table = table
        self.index = index
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="floor")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _map(self, fn: Callable[[T], R], parts: Sequence[T]) -> list[R]:
        if len(parts) <= 1:
            return [fn(part) for part in parts]
        return list(self._pool.map(fn, parts))

    # --- find ---------------------------------------------------------------------------

    def query_ids(self, shop: str) -> list[str]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": self.index,
            "KeyConditionExpression": "shop = :shop",
            "ExpressionAttributeValues": {":shop": {"S": shop}},
        }
        ids: list[str] = []
        for _ in range(MAX_PAGES):
            page = self.client.query(**kwargs)
            ids.extend(item["id"]["S"] for item in page["Items"])
            last = page.get("LastEvaluatedKey")
            if not last:
                return ids
            kwargs["ExclusiveStartKey"] = last
        raise RuntimeError(f"more than {MAX_PAGES} index pages for {shop!r}")

    def _get_chunk(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = [{"id": {"S": id}} for id in ids]
        items: list[dict[str, Any]] = []
        for round_no in range(MAX_ROUNDS):
            response = self.client.batch_get_item(
                RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}}
            )
            items.extend(response["Responses"].get(self.table, []))
            keys = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
            if not keys:
                return items
            _backoff(round_no)
        raise RuntimeError(f"{len(keys)} keys still unprocessed after {MAX_ROUNDS} rounds")

    def find(self, shop: str) -> list[dict[str, Any]]:
        parts = self._map(self._get_chunk, chunks(self.query_ids(shop), GET_CHUNK))
        return [item for part in parts for item in part]

    # --- writes -------------------------------------------------------------------------

    def _write_chunk(self, writes: Sequence[dict[str, Any]]) -> None:
        pending = list(writes)
        for round_no in range(MAX_ROUNDS):
            response = self.client.batch_write_item(RequestItems={self.table: pending})
            pending = response.get("UnprocessedItems", {}).get(self.table, [])
            if not pending:
                return
            _backoff(round_no)
        raise RuntimeError(f"{len(pending)} writes still unprocessed after {MAX_ROUNDS} rounds")

    def delete(self, ids: Sequence[str]) -> None:
        writes = [{"DeleteRequest": {"Key": {"id": {"S": id}}}} for id in dict.fromkeys(ids)]
        self._map(self._write_chunk, chunks(writes, WRITE_CHUNK))

    def put_many(self, items: Sequence[dict[str, Any]]) -> None:
        writes = [{"PutRequest": {"Item": item}} for item in items]
        self._map(self._write_chunk, chunks(writes, WRITE_CHUNK))

    # --- single items -------------------------------------------------------------------

    def put(self, item: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table, Item=item)

    def get(self, id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key={"id": {"S": id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def count_shop(self, shop: str) -> int:
        """Index entries of ``shop`` (for checks, not timed)."""
        return len(self.query_ids(shop))
