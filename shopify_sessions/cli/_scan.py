"""The table scan every whole-table command shares: ``--segment``, ``--total-segments``,
``--scan-concurrency``, pages streamed (never the table held), progress on stderr.

``--segment I --total-segments N`` reads one segment of DynamoDB's parallel Scan, so N hosts,
Lambda invocations or job indexes each take one part and together read every item once;
``--scan-concurrency K`` reads K segments at once in this process (of N, or of K when no N).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import click

from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.dynamodb.parallel_scan import scan_segments
from shopify_sessions.dynamodb.table_plans import MAX_TOTAL_SEGMENTS

from ._app import fail, progress

__all__ = ["SCAN_PAGE_ITEMS", "ScanPart", "scan_items", "scan_options"]

F = TypeVar("F", bound=Callable[..., Any])

SCAN_PAGE_ITEMS = 1000  # items per Scan page: bounds the memory a page takes once parsed
MAX_SCAN_CONCURRENCY = 10  # botocore's connection pool holds 10


@dataclass(frozen=True)
class ScanPart:
    """Which segments of which parallel Scan this process reads, and how many at once."""

    segments: tuple[int, ...]
    total_segments: int
    concurrency: int

    @classmethod
    def from_options(cls, segment: int | None, total: int | None, concurrency: int) -> ScanPart:
        if segment is not None:
            if total is None:
                fail("--segment needs --total-segments (how many parts the table is split in)")
            assert total is not None
            if segment >= total:
                fail(f"--segment {segment} is not below --total-segments {total} (zero-based)")
            if concurrency > 1:
                fail(
                    "--scan-concurrency reads several segments, but --segment names one: "
                    "split the table in more segments instead (a larger --total-segments)"
                )
            return cls((segment,), total, 1)
        total = total if total is not None else concurrency
        return cls(tuple(range(total)), total, concurrency)

    @property
    def whole_table(self) -> bool:
        return len(self.segments) == self.total_segments

    def describe(self) -> str:
        """For messages: empty for the whole table, else which segment was read."""
        if self.whole_table:
            return ""
        return f" (segment {self.segments[0]} of {self.total_segments})"

    def as_json(self) -> dict[str, Any]:
        return {
            "segments": list(self.segments) if not self.whole_table else "all",
            "total_segments": self.total_segments,
        }


def scan_options(command: F) -> F:
    """``--segment``, ``--total-segments`` and ``--scan-concurrency``, handed to the command
    as one ``scan: ScanPart`` argument (checked before anything is read)."""

    @functools.wraps(command)
    def with_part(
        *args: Any,
        segment: int | None,
        total_segments: int | None,
        scan_concurrency: int,
        **kwargs: Any,
    ) -> Any:
        part = ScanPart.from_options(segment, total_segments, scan_concurrency)
        return command(*args, scan=part, **kwargs)

    options = [
        click.option(
            "--segment",
            type=click.IntRange(0, MAX_TOTAL_SEGMENTS - 1),
            metavar="I",
            help="Read only segment I (0-based) of --total-segments: one of N hosts, "
            "Lambda invocations or job indexes.",
        ),
        click.option(
            "--total-segments",
            type=click.IntRange(1, MAX_TOTAL_SEGMENTS),
            metavar="N",
            help="Split the table in N segments (DynamoDB parallel Scan).",
        ),
        click.option(
            "--scan-concurrency",
            type=click.IntRange(1, MAX_SCAN_CONCURRENCY),
            default=1,
            show_default=True,
            metavar="K",
            help="Read K segments at once in this process.",
        ),
    ]
    decorated: Any = with_part
    for option in reversed(options):
        decorated = option(decorated)
    return cast("F", decorated)


def scan_items(
    storage: DynamoDBSessionStorage, part: ScanPart, *, label: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every raw item of the part, page by page, with a progress count on a terminal."""
    description = label or f"scanning {storage.table_name!r}{part.describe()}"
    with progress(description) as advance:
        pages = scan_segments(
            storage,
            part.segments,
            part.total_segments,
            concurrency=part.concurrency,
            page_size=SCAN_PAGE_ITEMS,
        )
        for page in pages:
            yield from page
            advance(len(page))
