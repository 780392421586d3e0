"""Coalescing: single-item requests issued in one event-loop turn, sent as batches.

An asyncio app loads and stores sessions from many tasks at once (one per web request). Plain
GetItem, PutItem and DeleteItem requests that meet in one loop turn go out together: the gets
as BatchGetItem (100 keys, strongly consistent), the writes as BatchWriteItem (25), through
the very plans of :class:`~.table_requests.TableRequests` (retries, unprocessed parts, the IAM
fallback). Each caller gets exactly its own answer, or its own error naming its method and
the single-item action it stood for; a batch DynamoDB refuses as invalid is split so that one
bad item fails only its own caller. Conditional writes are never coalesced; a lone request
goes out as it is.

Writes of one id land in call order: while a write of an id is in flight (retries included),
later writes of that id, coalesced or sent as they are, wait their turn (:meth:`Coalescer.turn`).
A caller that is cancelled is dropped from every later round and retry of its batch, so a
write its caller gave up on never lands after one acknowledged later.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from shopify_sessions.errors import AccessDeniedError, SessionStorageError

from .batch import chunked
from .ops import Plan, Send
from .table_requests import (
    BATCH_GET_SIZE,
    BATCH_WRITE_SIZE,
    RefusedAsInvalidError,
    TableRequests,
    Write,
)

__all__ = ["Coalescer", "coalescable", "written_id"]

_PLAIN_REQUESTS = {  # the single-item requests that may be coalesced: exactly these fields
    "GetItem": frozenset({"TableName", "Key", "ConsistentRead"}),
    "PutItem": frozenset({"TableName", "Item"}),
    "DeleteItem": frozenset({"TableName", "Key"}),
}
_BATCH_OF = {"GetItem": "BatchGetItem", "PutItem": "BatchWriteItem", "DeleteItem": "BatchWriteItem"}
_WRITES = frozenset({"PutItem", "DeleteItem", "UpdateItem"})

Answer = asyncio.Future[dict[str, Any]]
Entry = tuple["Write | None", "asyncio.Future[Any]"]  # a write and its answer, or a turn's gate


def coalescable(op: Send, requests: TableRequests) -> bool:
    """A plain single-item request to this table, whose batch action IAM has not refused."""
    fields = _PLAIN_REQUESTS.get(op.action)
    return (
        fields is not None
        and op.request.keys() == fields
        and op.request["TableName"] == requests.table_name
        and _BATCH_OF[op.action] not in requests.denied_batch_actions
    )


def written_id(op: Send, requests: TableRequests) -> str | None:
    """The session id a single-item write to this table writes; ``None`` for anything else."""
    if op.action not in _WRITES or op.request.get("TableName") != requests.table_name:
        return None
    key = op.request.get("Item") or op.request.get("Key") or {}
    value = key.get("id", {}).get("S")
    return value if isinstance(value, str) else None


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
        # ids with a write in flight -> what waits behind it, in call order
        self._busy: dict[str, collections.deque[Entry]] = {}
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    def full(self) -> bool:
        """A round of batches already waits for the end of this turn."""
        return len(self._gets) >= self.full_round[0] or len(self._writes) >= self.full_round[1]

    def pending(self) -> bool:
        """Requests wait for the end of this turn, or batches are in flight."""
        return bool(self._gets or self._writes or self._tasks)

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

    async def send(self, op: Send, method: str) -> dict[str, Any]:
        """The response ``op`` would have had on its own (or its error, typed, naming
        ``method``, the public method it stands for, when it was sent in a batch)."""
        answer: Answer = asyncio.get_running_loop().create_future()
        id = _id_of(op)
        if op.action == "GetItem":
            self._gets.setdefault(id, []).append(answer)
        else:
            entry = ((id, op.request.get("Item")), answer)
            behind = self._busy.get(id)
            if behind is None:  # the common case: no write of this id in flight
                self._busy[id] = collections.deque()
                self._writes.append(entry)
            else:
                behind.append(entry)
        self._schedule()
        try:
            return await answer
        except SessionStorageError as error:
            sent_as = error.__dict__.pop("sent_as", None)
            if sent_as is not None:
                error.args = (f"{method} ({op.action}, sent as {sent_as}): {error}",)
            raise

    async def turn(self, id: str) -> None:
        """Wait until no earlier write of ``id`` is in flight, then hold ``id`` until
        :meth:`release`: for a write sent as it is (a conditional one)."""
        behind = self._busy.get(id)
        if behind is None:
            self._busy[id] = collections.deque()
            return
        gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        behind.append((None, gate))
        try:
            await gate
        except asyncio.CancelledError:
            if gate.done() and not gate.cancelled():
                self.release(id)  # its turn came as it was cancelled: pass it on
            raise

    def release(self, id: str) -> None:
        """The write of ``id`` in flight is over: the next live one waiting takes its turn."""
        behind = self._busy.pop(id)
        while behind:
            write, answer = behind.popleft()
            if answer.done():
                continue  # its caller was cancelled before its turn: dropped
            self._busy[id] = behind
            if write is None:
                answer.set_result(None)  # a write sent as it is goes now
            else:
                self._writes.append((write, answer))
                self._schedule()
            return

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

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
        def wanted(id: str) -> bool:
            return not all(answer.done() for answer in gets[id])

        try:
            found, left = await self.run_alone(self.requests.get_chunk(ids, _raw, wanted))
        except AccessDeniedError as error:
            self.requests.note_denied(error)
            await asyncio.gather(
                *(self._alone(self.requests.get_item_request(id), gets[id]) for id in ids)
            )
            return
        except Exception as error:
            _fail([answer for id in ids for answer in gets[id]], error, "BatchGetItem")
            return
        items = {item["id"]["S"]: item for item in found}
        if left:
            _fail(
                [answer for id in left for answer in gets[id]],
                self.requests.unfinished("BatchGetItem", "unread", left),
                "BatchGetItem",
            )
        for id in ids:
            if id not in left:
                _settle(gets[id], {"Item": items[id]} if id in items else {})

    # --- writes ----------------------------------------------------------------------------------

    async def _send_writes(self, writes: list[tuple[Write, Answer]]) -> None:
        """Writes of distinct ids (a later write of an id waits in ``_busy``)."""
        if len(writes) == 1:
            ((write, answer),) = writes
            try:
                await self._alone(self.requests.write_request(write), [answer])
            finally:
                self.release(write[0])
            return
        await asyncio.gather(
            *(self._write_chunk(chunk) for chunk in chunked(writes, BATCH_WRITE_SIZE))
        )

    async def _write_chunk(self, entries: list[tuple[Write, Answer]]) -> None:
        answers = {write[0]: answer for write, answer in entries}
        released: set[str] = set()

        def wanted(write: Write) -> bool:
            """Still wanted by its caller; a write given up on is released at once."""
            if not answers[write[0]].done():
                return True
            if write[0] not in released:
                released.add(write[0])
                self.release(write[0])
            return False

        try:
            left = await self.run_alone(self.requests.write_chunk([w for w, _ in entries], wanted))
        except (AccessDeniedError, RefusedAsInvalidError) as error:
            if isinstance(error, AccessDeniedError):
                self.requests.note_denied(error)
            # one by one: each caller gets its own outcome
            await asyncio.gather(
                *(self._alone(self.requests.write_request(w), [a]) for w, a in entries)
            )
        except Exception as error:
            _fail(list(answers.values()), error, "BatchWriteItem")
        else:
            if left:
                _fail(
                    [answers[id] for id in left],
                    self.requests.unfinished("BatchWriteItem", "unwritten", left),
                    "BatchWriteItem",
                )
            _settle([answers[id] for id in answers if id not in left], {})
        finally:
            for id in answers:
                if id not in released:
                    self.release(id)

    # --- one request alone -----------------------------------------------------------------------

    async def _alone(self, op: Send, answers: list[Answer]) -> None:
        """Send ``op`` by itself (retried like any request, until its callers are all gone)
        and give every asker its answer."""
        if all(answer.done() for answer in answers):
            return

        def again(request: dict[str, Any]) -> dict[str, Any] | None:
            return None if all(answer.done() for answer in answers) else request

        try:
            response = await self.run_alone(self.requests.call(op.action, op.request, again=again))
        except Exception as error:
            _fail(answers, error)  # it names its own action, as a call sent alone does
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


def _fail(answers: list[Answer], error: BaseException, sent_as: str | None = None) -> None:
    """Each asker gets its own copy of ``error``; ``sent_as``: the batch action that carried
    their requests, for :meth:`Coalescer.send` to name in the message."""
    for answer in answers:
        if not answer.done():
            own = _own(error)
            if sent_as is not None and isinstance(own, SessionStorageError):
                own.sent_as = sent_as  # type: ignore[attr-defined]
            answer.set_exception(own)


def _own(error: BaseException) -> BaseException:
    """A copy of ``error`` for one caller: raised in many tasks, one object would collect
    every task's traceback."""
    clone = type(error).__new__(type(error), *error.args)
    clone.__dict__.update(error.__dict__)
    clone.args = error.args
    return clone
