"""An embedded DynamoDB-compatible endpoint on 127.0.0.1, for development with no AWS account.

It runs moto's threaded server (the ``local`` extra: ``pip install 'shopify-sessions[local]'``)
with the sessions table created, and can keep its sessions in a JSON Lines file between runs
(the format of ``shopify-sessions export``)::

    with LocalEndpoint(port=8000, data=Path("sessions.jsonl")) as endpoint:
        storage = endpoint.storage()        # or point any client at endpoint.url
        ...
    # sessions saved to sessions.jsonl on exit, loaded again by the next start

The sessions table is saved in that file; the ``ttl`` attribute is recomputed when sessions are
loaded. What the file has no place for is saved beside it (``sessions.tables.jsonl``, see
:mod:`.extras`): what session items carry besides the session (the refresh lease's dead-grant
mark, so a dead grant stays known across restarts), items that are not readable sessions, and
every table a client created. Items are saved as stored: tokens encrypted by an app's
``TokenCipher`` stay encrypted in the file.

The port accepts connections only once the table is created and the data loaded (they are
done through a private port first): a client that waits for the port finds everything there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from shopify_sessions.domain.session import Session
from shopify_sessions.dynamodb.clients import shared_client
from shopify_sessions.dynamodb.codec import item_to_session
from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
from shopify_sessions.dynamodb.settings import (
    LOCAL_CREDENTIALS,
    Credentials,
    aws_credentials_configured,
    is_local_endpoint,
    local_credentials,
)
from shopify_sessions.errors import CorruptSessionError
from shopify_sessions.formats.node_json import parse_node_json_lines, session_to_node_json_line

from .extras import Extras, read_extras, session_item_records, table_records, write_extras
from .server import GuardedServer

__all__ = [
    "LOCAL_CREDENTIALS",
    "LOCAL_EXTRA_HINT",
    "Credentials",
    "LocalEndpoint",
    "MissingExtraError",
    "aws_credentials_configured",
    "is_local_endpoint",
    "local_credentials",
    "write_private_text",
]

LOCAL_EXTRA_HINT = "pip install 'shopify-sessions[local]'"
SAVE_DELAY = 1.0  # seconds from a change to its save in the --data file


logger = logging.getLogger("shopify_sessions")


class MissingExtraError(RuntimeError):
    """An optional dependency is not installed; the message says what to install."""


def _check_moto_server() -> None:
    try:
        import moto.moto_server.werkzeug_app  # noqa: F401 - only whether it imports
    except ImportError:
        raise MissingExtraError(
            f"the embedded DynamoDB endpoint needs moto's server: {LOCAL_EXTRA_HINT}"
        ) from None


def write_private_text(path: Path, text: str | Iterable[str]) -> None:
    """Write ``text`` (or its pieces, as they come) to ``path`` atomically, readable by the
    owner only (it holds tokens): the file appears whole, or not at all."""
    directory = path.resolve().parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:  # mkstemp's file is 0600 already
            file.writelines([text] if isinstance(text, str) else text)
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the name points at it
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # and the rename itself survives a power cut
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)


class LocalEndpoint:
    """moto's DynamoDB-compatible server on 127.0.0.1 with the sessions table created.

    moto keeps its tables per process, so run one endpoint per process. Only DynamoDB API
    calls from programs on this machine are served (see ``local_server``): web pages cannot
    read or reset it.

    ``port=0`` picks a free port. With ``data``, sessions are loaded from that JSON Lines file
    at :meth:`start` (when it exists), saved to it within ``SAVE_DELAY`` seconds of every
    change (atomically, fsynced), and at :meth:`stop`: a crash loses at most the changes of
    the last second or so.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        session_table_name: str | None = None,
        shop_index_name: str | None = None,
        region: str | None = None,
        data: Path | str | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port}")
        self.port = port
        self.session_table_name = session_table_name
        self.shop_index_name = shop_index_name
        self.region = region
        self.data = Path(data) if data is not None else None
        self.loaded = 0
        self._server: GuardedServer | None = None
        self._url: str | None = None
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._saver: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the endpoint is not started")
        return self._url

    @property
    def running(self) -> bool:
        return self._server is not None

    def storage(self) -> DynamoDBSessionStorage:
        """A storage on this endpoint's sessions table (dummy credentials, no token cipher)."""
        return self._storage_at(self.url)

    def _storage_at(self, url: str) -> DynamoDBSessionStorage:
        return DynamoDBSessionStorage(
            self.session_table_name,
            self.shop_index_name,
            region=self.region,
            host=url,
            **LOCAL_CREDENTIALS,
        )

    def start(self) -> str:
        """Create the table and load ``data``, then serve; returns the endpoint URL."""
        if self._server is not None:
            return self.url
        _check_moto_server()
        # Read the data files before starting anything: a bad file fails fast and cleanly.
        sessions: list[Session] = []
        extras = Extras([])
        if self.data is not None:
            if not self.data.resolve().parent.is_dir():
                raise OSError(f"cannot save sessions to {self.data}: its directory does not exist")
            sessions = self._read(self.data) if self.data.exists() else []
            extras = read_extras(self.data)

        def prepare(url: str) -> None:  # before the port accepts anyone
            storage = self._storage_at(url)
            storage.create_table()
            client = shared_client(storage.connection)
            extras.load(client, storage.table_name)
            for session in sessions:
                storage.store_session(session)
            extras.add_to_sessions(client)

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = GuardedServer(self.port, on_write=self._dirty.set)
        host, port = server.start(prepare)
        self._server = server
        self.port = port
        self._url = f"http://{host}:{port}"
        self.loaded = len(sessions)
        if self.data is not None:
            self._stopping.clear()
            self._saver = threading.Thread(
                target=self._save_changes, name="shopify-sessions-saver", daemon=True
            )
            self._saver.start()
        return self.url

    def _save_changes(self) -> None:
        """Save to ``data`` shortly after each change, until stopped."""
        while not self._stopping.is_set():
            if not self._dirty.wait(0.2):
                continue
            self._stopping.wait(SAVE_DELAY)  # one save for a burst of writes
            self._dirty.clear()
            try:
                self.save()
            except Exception as error:  # keep serving; the next change or the exit retries
                logger.warning("could not save sessions to %s: %s", self.data, error)
                self._dirty.set()

    def load(self, path: Path | str) -> int:
        """Store every session of a JSON Lines file (validated first); returns how many."""
        sessions = self._read(Path(path))
        storage = self.storage()
        for session in sessions:
            storage.store_session(session)
        return len(sessions)

    def sessions(self) -> Iterator[Session]:
        """Every session of the table as stored (tokens as they are, encrypted or not)."""
        for item in self.storage().iter_items():
            try:
                yield item_to_session(item)
            except CorruptSessionError as error:
                logger.warning("not saved, corrupt: %s", error)

    def save(self, path: Path | str | None = None) -> int:
        """Write every session to ``path`` (default: ``data``) as JSON Lines, and what that
        form has no place for beside it (:mod:`.extras`); returns how many sessions."""
        target = Path(path) if path is not None else self.data
        if target is None:
            raise ValueError("no file to save to: pass a path or data=")
        storage = self.storage()
        sessions: list[Session] = []
        records: list[dict[str, Any]] = []
        for item in storage.iter_items():
            try:
                session = item_to_session(item)
            except CorruptSessionError as error:
                logger.warning("saved as it is, not a readable session: %s", error)
                records.extend(session_item_records(storage.table_name, item, readable=False))
            else:
                sessions.append(session)
                records.extend(session_item_records(storage.table_name, item, readable=True))
        records.extend(table_records(shared_client(storage.connection), skip=storage.table_name))
        sessions.sort(key=lambda session: (session.shop, session.id))
        lines = [session_to_node_json_line(session) for session in sessions]
        # the extras first: after a crash between the two, an added attribute whose session is
        # not in the older file is not applied (and a dead-grant mark names its refresh token)
        write_extras(target, records, write_private_text)
        write_private_text(target, "".join(line + "\n" for line in lines))
        return len(lines)

    def stop(self, *, save: bool = True) -> int | None:
        """Save to ``data`` (if set and ``save``), then stop; returns how many were saved."""
        if self._server is None:
            return None
        self._stopping.set()
        if self._saver is not None:
            self._saver.join(timeout=30)  # no save of its own may race the last one
            self._saver = None
        try:
            return self.save() if save and self.data is not None else None
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self._stopping.set()
        if self._saver is not None:
            self._saver.join(timeout=30)
            self._saver = None
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    @staticmethod
    def _read(path: Path) -> list[Session]:
        with path.open(encoding="utf-8") as file:
            return parse_node_json_lines(file, source=str(path))

    def __enter__(self) -> LocalEndpoint:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
