"""Coalescing: single-item requests issued in one event-loop turn, sent as batches.

An asyncio app loads and stores sessions from many tasks at once (one per web request). Plain
GetItem, PutItem and DeleteItem requests that meet in one loop turn go out together: the gets
as BatchGetItem (100 keys, strongly consistent), the writes as BatchWriteItem (25), through
the very plans of :class:`~.table_requests.TableRequests` (retries, unprocessed parts, the IAM
fallback). Each caller gets exactly its own answer, or its own error. Writes to one id keep
their order: a second write to an id waits for the next round. Conditional writes are never
coalesced; a lone request goes out as it is.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from shopify_sessions.errors import AccessDeniedError

from .batch import chunked
from .ops import Plan, Send
from .table_requests import BATCH_GET_SIZE, BATCH_WRITE_SIZE, TableRequests, Write

__all__ = ["Coalescer", "coalescable"]

_PLAIN_REQUESTS = {  # the single-item requests that may be coalesced: exactly these fields
    "GetItem": frozenset({"TableName", "Key", "ConsistentRead"}),
    "PutItem": frozenset({"TableName", "Item"}),
    "DeleteItem": frozenset({"TableName", "Key"}),
}
_BATCH_OF = {"GetItem": "BatchGetItem", "PutItem": "BatchWriteItem", "DeleteItem": "BatchWriteItem"}

Answer = asyncio.Future[dict[str, Any]]


def coalescable(op: Send, requests: TableRequests) -> bool:
    """A plain single-item request to this table, whose batch action IAM has not refused."""
    fields = _PLAIN_REQUESTS.get(op.action)
    return (
        fields is not None
        and op.request.keys() == fields
        and op.request["TableName"] == requests.table_name
        and _BATCH_OF[op.action] not in requests.denied_batch_actions
    )


class Coalescer:
    """Collects coalescable requests of one event loop and sends them at the end of the turn.

    ``run_alone`` runs a plan without coalescing (the batches and lone requests it sends).
    """

    def __init__(
        self,
        requests: TableRequests,
        run_alone: Callable[[Plan[Any]], Awaitable[Any]],
        connections: int,
    ) -> None:
        self.requests = requests
        self.run_alone = run_alone
        # a full round of batches: what the connections can carry at once
        self.full_round = (connections * BATCH_GET_SIZE, connections * BATCH_WRITE_SIZE)
        self._gets: dict[str, list[Answer]] = {}
        self._writes: list[tuple[Write, Answer]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    def full(self) -> bool:
        """A round of batches already waits for the end of this turn."""
        return len(self._gets) >= self.full_round[0] or len(self._writes) >= self.full_round[1]

    async def room(self) -> None:
        """Wait while a full round of batches is already waiting for the end of this turn.
        A thousand stores then do not all encode their items before the first batch leaves:
        later callers prepare theirs while the first batches are on the wire, and no loop turn
        runs more than a round's worth of callers. Waiters queue in order and each is woken
        once, when a round leaves (polling each turn woke them three times as often)."""
        while self.full():
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            await waiter

    async def send(self, op: Send) -> dict[str, Any]:
        """The response ``op`` would have had on its own (or its error, typed)."""
        loop = asyncio.get_running_loop()
        answer: Answer = loop.create_future()
        id = _id_of(op)
        if op.action == "GetItem":
            self._gets.setdefault(id, []).append(answer)
        else:
            self._writes.append(((id, op.request.get("Item")), answer))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await answer

    def _flush(self) -> None:
        """End of the loop turn: send what was collected."""
        gets, self._gets = self._gets, {}
        writes, self._writes = self._writes, []
        self._scheduled = False
        for _ in range(max(self.full_round)):  # up to a round of gets, in order
            while self._waiting and self._waiting[0].done():
                self._waiting.popleft()  # cancelled meanwhile
            if not self._waiting:
                break
            self._waiting.popleft().set_result(None)
        if gets:
            self._spawn(self._send_gets(gets), [a for answers in gets.values() for a in answers])
        if writes:
            self._spawn(self._send_writes(writes), [answer for _, answer in writes])

    def _spawn(self, work: Coroutine[Any, Any, None], answers: list[Answer]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # held until done: the loop keeps only weak references

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            failure = None if task.cancelled() else task.exception()
            _fail(answers, failure or RuntimeError("the batch carrying this call was cancelled"))

        task.add_done_callback(done)  # no caller is left waiting, whatever happened

    # --- gets ------------------------------------------------------------------------------------

    async def _send_gets(self, gets: dict[str, list[Answer]]) -> None:
        ids = list(gets)
        if len(ids) == 1:
            await self._alone(self.requests.get_item_request(ids[0]), gets[ids[0]])
            return
        await asyncio.gather(
            *(self._get_chunk(chunk, gets) for chunk in chunked(ids, BATCH_GET_SIZE))
        )

    async def _get_chunk(self, ids: list[str], gets: dict[str, list[Answer]]) -> None:
        try:
            found, left = await self.run_alone(self.requests.get_chunk(ids, _raw))
        except AccessDeniedError as error:
            self.requests.note_denied(error)
            await asyncio.gather(
                *(self._alone(self.requests.get_item_request(id), gets[id]) for id in ids)
            )
            return
        except Exception as error:
            _fail([answer for id in ids for answer in gets[id]], error)
            return
        items = {item["id"]["S"]: item for item in found}
        if left:
            _fail(
                [answer for id in left for answer in gets[id]],
                self.requests.unfinished("BatchGetItem", "unread", left),
            )
        for id in ids:
            if id not in left:
                _settle(gets[id], {"Item": items[id]} if id in items else {})

    # --- writes ----------------------------------------------------------------------------------

    async def _send_writes(self, writes: list[tuple[Write, Answer]]) -> None:
        """Round by round: the n-th write to each id goes in round n, after round n - 1."""
        rounds: list[dict[str, tuple[Write, Answer]]] = []
        earlier: dict[str, int] = {}  # writes to each id so far
        for write, answer in writes:
            n = earlier[write[0]] = earlier.get(write[0], -1) + 1
            if n == len(rounds):
                rounds.append({})
            rounds[n][write[0]] = (write, answer)
        for round in rounds:
            entries = list(round.values())
            if len(entries) == 1:
                ((write, answer),) = entries
                await self._alone(self.requests.write_request(write), [answer])
                continue
            await asyncio.gather(
                *(self._write_chunk(chunk) for chunk in chunked(entries, BATCH_WRITE_SIZE))
            )

    async def _write_chunk(self, entries: list[tuple[Write, Answer]]) -> None:
        answers = {write[0]: answer for write, answer in entries}
        try:
            left = await self.run_alone(self.requests.write_chunk([w for w, _ in entries]))
        except AccessDeniedError as error:
            self.requests.note_denied(error)
            await asyncio.gather(
                *(self._alone(self.requests.write_request(w), [a]) for w, a in entries)
            )
            return
        except Exception as error:
            _fail(list(answers.values()), error)
            return
        if left:
            _fail(
                [answers[id] for id in left],
                self.requests.unfinished("BatchWriteItem", "unwritten", left),
            )
        _settle([answers[id] for id in answers if id not in left], {})

    # --- one request alone -----------------------------------------------------------------------

    async def _alone(self, op: Send, answers: list[Answer]) -> None:
        """Send ``op`` by itself (retried like any request) and give every asker its answer."""
        try:
            response = await self.run_alone(self.requests.call(op.action, op.request))
        except Exception as error:
            _fail(answers, error)
        else:
            _settle(answers, response)


def _id_of(op: Send) -> str:
    key = op.request["Item"] if op.action == "PutItem" else op.request["Key"]
    return str(key["id"]["S"])


def _raw(item: dict[str, Any]) -> dict[str, Any]:
    return item


def _settle(answers: list[Answer], response: dict[str, Any]) -> None:
    for answer in answers:
        if not answer.done():  # its caller may have been cancelled meanwhile
            answer.set_result(response)


def _fail(answers: list[Answer], error: BaseException) -> None:
    for answer in answers:
        if not answer.done():
            answer.set_exception(_own(error))


def _own(error: BaseException) -> BaseException:
    """A copy of ``error`` for one caller: raised in many tasks, one object would collect
    every task's traceback."""
    clone = type(error).__new__(type(error), *error.args)
    clone.__dict__.update(error.__dict__)
    clone.args = error.args
    return clone
