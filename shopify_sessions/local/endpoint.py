"""An embedded DynamoDB-compatible endpoint on 127.0.0.1, for development with no AWS account.

It runs moto's threaded server (the ``local`` extra: ``pip install 'shopify-sessions[local]'``)
with the sessions table created, and can keep its sessions in a JSON Lines file between runs
(the format of ``shopify-sessions export``)::

    with LocalEndpoint(port=8000, data=Path("sessions.jsonl")) as endpoint:
        storage = endpoint.storage()        # or point any client at endpoint.url
        ...
    # sessions saved to sessions.jsonl on exit, loaded again by the next start

Only the sessions table is saved; the ``ttl`` attribute is recomputed when sessions are loaded
and attributes this package does not know are dropped. Items are saved as stored: tokens
encrypted by an app's ``TokenCipher`` stay encrypted in the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

from shopify_sessions.domain.session import Session
from shopify_sessions.dynamodb.codec import item_to_session
from shopify_sessions.dynamodb.settings import (
    LOCAL_CREDENTIALS,
    Credentials,
    aws_credentials_configured,
    is_local_endpoint,
    local_credentials,
)
from shopify_sessions.dynamodb.storage import DynamoDBSessionStorage
from shopify_sessions.errors import CorruptSessionError
from shopify_sessions.formats.node_json import parse_node_json_lines, session_to_node_json_line

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


def _check_port_free(port: int) -> None:
    """moto's server would hang in start() on a busy port: check first, as it binds."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise OSError(
                f"port {port} on 127.0.0.1 is not available ({error.strerror}): "
                f"pick another with --port"
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
        return DynamoDBSessionStorage(
            self.session_table_name,
            self.shop_index_name,
            region=self.region,
            host=self.url,
            **LOCAL_CREDENTIALS,
        )

    def start(self) -> str:
        """Start the server, create the table, load ``data``; returns the endpoint URL."""
        if self._server is not None:
            return self.url
        _check_moto_server()
        # Read the data file before starting anything: a bad file fails fast and cleanly.
        sessions = self._read(self.data) if self.data is not None and self.data.exists() else []
        if self.data is not None and not self.data.resolve().parent.is_dir():
            raise OSError(f"cannot save sessions to {self.data}: its directory does not exist")
        _check_port_free(self.port)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = GuardedServer(self.port, on_write=self._dirty.set)
        host, port = self._server.start()
        self.port = port
        self._url = f"http://{host}:{port}"
        try:
            storage = self.storage()
            storage.create_table()
            for session in sessions:
                storage.store_session(session)
            self.loaded = len(sessions)
        except BaseException:
            self._shutdown()
            raise
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
        """Write every session to ``path`` (default: ``data``) as JSON Lines; returns how many."""
        target = Path(path) if path is not None else self.data
        if target is None:
            raise ValueError("no file to save to: pass a path or data=")
        ordered = sorted(self.sessions(), key=lambda session: (session.shop, session.id))
        lines = [session_to_node_json_line(session) for session in ordered]
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
