"""A parallel Scan in one process: several segments at once, pages handed on as they come.

Each segment is read by :meth:`~.dynamodb_storage.DynamoDBSessionStorage.scan_pages` in a thread of
its own (with one segment at a time too: the next page is then read while the consumer works
on this one); pages go through a queue holding at most one page per thread, so a slow consumer
stops the readers instead of letting pages pile up: memory depends on the page size and the
concurrency, never on the table's size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from .dynamodb_storage import DynamoDBSessionStorage
from .table_plans import check_segment

__all__ = ["scan_segments"]

Page = list[dict[str, Any]]
_DONE = object()  # a reader thread's last message
_POLL_S = 0.1  # how often a blocked reader checks whether the consumer went away


def scan_segments(
    storage: DynamoDBSessionStorage,
    segments: Iterable[int],
    total_segments: int,
    *,
    concurrency: int = 1,
    page_size: int | None = None,
) -> Iterator[Page]:
    """The pages of ``segments`` (of ``total_segments``), ``concurrency`` segments at once.

    Pages arrive in no fixed order. The first error of any reader stops the others and is
    raised here; closing the iterator early stops them too.
    """
    wanted = list(segments)
    for segment in wanted:
        check_segment(segment, total_segments)
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if wanted:  # even one reader runs in a thread: the next page is read while this is used
        readers = min(concurrency, len(wanted))
        yield from _threaded(storage, wanted, total_segments, readers, page_size)


def _threaded(
    storage: DynamoDBSessionStorage,
    segments: list[int],
    total_segments: int,
    readers: int,
    page_size: int | None,
) -> Iterator[Page]:
    pages: queue.Queue[Any] = queue.Queue(maxsize=readers)
    todo = iter(segments)
    todo_lock = threading.Lock()
    stop = threading.Event()

    def put(message: Any) -> bool:
        """Hand a message on; ``False`` once the consumer has gone."""
        while not stop.is_set():
            try:
                pages.put(message, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            while not stop.is_set():
                with todo_lock:
                    segment = next(todo, None)
                if segment is None:
                    break
                for page in storage.scan_pages(segment, total_segments, page_size):
                    if not put(page):
                        return
        except BaseException as error:  # handed to the consumer, raised there
            put(error)
        finally:
            put(_DONE)

    threads = [
        threading.Thread(target=read, name=f"shopify_sessions-scan-{n}", daemon=True)
        for n in range(readers)
    ]
    for thread in threads:
        thread.start()
    running = readers
    try:
        while running:
            message = pages.get()
            if message is _DONE:
                running -= 1
            elif isinstance(message, BaseException):
                raise message
            else:
                yield message
    finally:
        stop.set()
        for thread in threads:
            thread.join()
