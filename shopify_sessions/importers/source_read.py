"""What reading a source gives: sessions, problems by key, and what was skipped on purpose."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from shopify_sessions.domain.session import Session
from shopify_sessions.domain.validation import check_session
from shopify_sessions.dynamodb.codec import session_to_item
from shopify_sessions.dynamodb.item_size import MAX_ITEM_BYTES, item_size
from shopify_sessions.errors import SessionStorageError

__all__ = ["ImportSourceError", "Problem", "SourceRead", "validated"]


class ImportSourceError(ValueError):
    """The source cannot be read at all (bad URL, no sessions table, ambiguous format)."""


@dataclass(frozen=True)
class Problem:
    """A record that cannot become a session: its key (id, Redis key, line) and why.

    ``reason`` never holds a token, and holds no per-record value, so equal reasons group.
    """

    key: str
    reason: str


@dataclass
class SourceRead:
    """Every session of one source, converted and validated, before anything is written."""

    source: str  # the source as shown (password masked)
    format: str  # a --format name
    description: str  # the format in words, units included
    location: str  # the table, key prefix or file read
    sessions: list[Session] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # not sessions, by kind

    def skip(self, kind: str) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1

    def add(self, key: str, convert: Callable[[], Session]) -> None:
        """Run ``convert()``; a failure, or a session DynamoDB cannot take, becomes a problem
        under ``key``."""
        try:
            session = convert()
        except (ValueError, TypeError, KeyError, OverflowError, SessionStorageError) as error:
            self.problems.append(Problem(key, _reason(error)))
            return
        problem = validated(session)
        if problem is not None:
            self.problems.append(Problem(key, problem))
        else:
            self.sessions.append(session)

    def drop_duplicates(self) -> None:
        """One session per id: the one with the later ``expires`` (else the last read) stays;
        each duplicate is a problem, since the source held two sessions under one id."""
        kept: dict[str, Session] = {}
        for session in self.sessions:
            other = kept.get(session.id)
            if other is not None:
                self.problems.append(Problem(session.id, "the id appears twice; kept the newer"))
                if _expires_key(other) > _expires_key(session):
                    continue
            kept[session.id] = session
        self.sessions = list(kept.values())

    def shops(self) -> list[str]:
        return sorted({session.shop for session in self.sessions})


def validated(session: Session) -> str | None:
    """Why ``session`` cannot be stored in DynamoDB, or ``None`` when it can."""
    try:
        check_session(session)
    except (TypeError, SessionStorageError) as error:
        return _reason(error)
    if item_size(session_to_item(session)) > MAX_ITEM_BYTES:
        return f"over DynamoDB's {MAX_ITEM_BYTES}-byte item limit"
    return None


def _expires_key(session: Session) -> tuple[int, float]:
    return (0, 0.0) if session.expires is None else (1, session.expires.timestamp())


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if text.startswith("session ") and ": " in text:  # the key is shown beside it already
        text = text.split(": ", 1)[1]
    return text or type(error).__name__


def group_problems(problems: Iterable[Problem]) -> dict[str, list[str]]:
    """Reason -> the keys that have it, in order."""
    groups: dict[str, list[str]] = {}
    for problem in problems:
        groups.setdefault(problem.reason, []).append(problem.key)
    return groups
