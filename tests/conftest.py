"""Shared fixtures: the storage backends every contract test runs against.

Backends: ``memory``; ``moto`` (moto in process); ``moto_server`` (moto's threaded HTTP server
on 127.0.0.1); ``dynalite`` (an independent DynamoDB on Node, see tests/interop) when Node is
available; with ``CI=true`` a missing Node is a failure, not a skip.
"""

from __future__ import annotations

from tests.support.fake_aws import use_fake_aws_environment

use_fake_aws_environment()  # before anything imports botocore or shopify_sessions

import contextlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402

from shopify_sessions import DynamoDBSessionStorage, MemorySessionStorage  # noqa: E402
from tests.support.blocking import Blocking  # noqa: E402
from tests.support.requests import RequestCounter  # noqa: E402

pytest_plugins = ["shopify_sessions.testing.pytest_plugin"]  # fake_shopify, fake_shopify_client

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


_RAW_CLIENTS: dict[str | None, Any] = {}
_RAW_SESSIONS: dict[bool, Any] = {}


def raw_dynamodb_client(endpoint: str | None) -> Any:
    """A plain boto3 DynamoDB client (never our code) for ``endpoint``; None: moto in process.

    One per endpoint for the whole run: a new client costs ~0.1 s, all of it again after each
    moto test (mock_aws resets boto3's default session, whose parsed models go with it). The
    clients of endpoints share one boto3 session (each keeps ~9 MB of parsed models); moto's
    has its own, made during a moto test: a session takes botocore's handlers when it is made,
    and moto adds its own to them when it is imported. Clients are thread-safe and the tests
    change none of their events.
    """
    client = _RAW_CLIENTS.get(endpoint)
    if client is None:
        in_process = endpoint is None
        if in_process not in _RAW_SESSIONS:
            _RAW_SESSIONS[in_process] = boto3.session.Session()
        session = _RAW_SESSIONS[in_process]
        client = session.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        _RAW_CLIENTS[endpoint] = client
    return client


@dataclass
class Backend:
    """A place sessions can live: makes storages and, for DynamoDB ones, a raw client."""

    name: str
    endpoint: str | None = None  # None: moto in process (or memory)
    tables: list[str] = field(default_factory=list)
    portal: Any = None  # async backends: the loop their storages run on (see Blocking)

    @property
    def is_dynamodb(self) -> bool:
        return not self.name.endswith("memory")

    @property
    def is_async(self) -> bool:
        return self.portal is not None

    def raw_client(self) -> Any:
        return raw_dynamodb_client(self.endpoint)

    def raw_item(self, storage: Any, id: str) -> dict[str, Any]:
        """The item stored under ``id``, read with raw botocore (never our code); {} if none."""
        response = self.raw_client().get_item(
            TableName=storage.table_name, Key={"id": {"S": id}}, ConsistentRead=True
        )
        item: dict[str, Any] = response.get("Item", {})
        return item

    def storage(
        self,
        table: str | None = None,
        index: str = "shop_index",
        create: bool = True,
        **kwargs: Any,
    ) -> Any:
        if not self.is_dynamodb:
            if self.is_async:
                from shopify_sessions import AsyncMemorySessionStorage

                return Blocking(AsyncMemorySessionStorage(), self.portal)
            return MemorySessionStorage()
        table = table or f"sessions_{uuid.uuid4().hex[:12]}"
        if self.is_async:
            from shopify_sessions import AsyncDynamoDBSessionStorage

            made = AsyncDynamoDBSessionStorage(table, index, host=self.endpoint, **kwargs)
            storage: Any = Blocking(made, self.portal)
        else:
            storage = DynamoDBSessionStorage(table, index, host=self.endpoint, **kwargs)
        if create:
            storage.create_table()
            self.tables.append(table)
        return storage

    def drop_tables(self) -> None:
        client = self.raw_client()
        for table in self.tables:
            with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                client.delete_table(TableName=table)
        self.tables.clear()


@pytest.fixture(scope="session")
def moto_server_endpoint() -> Iterator[str]:
    """moto's threaded server on a free loopback port, for the whole test session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def proxy(moto_server_endpoint: str) -> Iterator[Any]:
    """A counting, fault-injecting loopback proxy in front of moto's server
    (tests/support/proxy.py)."""
    from tests.support.proxy import DynamoProxy

    with DynamoProxy(moto_server_endpoint) as running:
        yield running


@pytest.fixture
def truth(moto_server_endpoint: str) -> Iterator[DynamoDBSessionStorage]:
    """A blocking storage straight on moto's server, on a new table: what is really stored."""
    backend = Backend("moto_server", moto_server_endpoint)
    yield backend.storage()
    backend.drop_tables()


@pytest.fixture(scope="session")
def dynalite_endpoint() -> Iterator[str]:
    """dynalite (npm) on a free loopback port; skipped locally without Node, failed in CI."""
    from tests.support.dynalite import run_dynalite
    from tests.support.node_adapter import node_available

    reason = node_available()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true but the dynalite backend cannot run: {reason}")
        pytest.skip(f"dynalite backend needs Node: {reason}")
    with run_dynalite() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def async_portal() -> Iterator[Any]:
    """One event loop in a thread of its own, for the async storages of blocking tests."""
    from anyio.from_thread import start_blocking_portal

    with start_blocking_portal("asyncio") as portal:
        yield portal


def _backend(name: str, request: pytest.FixtureRequest) -> Iterator[Backend]:
    if name.startswith("async_"):
        if name != "async_memory":  # the lowest-versions job installs no [async] extra
            pytest.importorskip("aiobotocore", reason="the async storage needs the [async] extra")
        portal = request.getfixturevalue("async_portal")
        for backend in _backend(name.removeprefix("async_"), request):
            backend.name, backend.portal = name, portal
            yield backend
    elif name == "memory":
        yield Backend("memory")
    elif name == "moto":
        from moto import mock_aws

        with mock_aws():
            yield Backend("moto")
    elif name == "moto_server":
        backend = Backend("moto_server", request.getfixturevalue("moto_server_endpoint"))
        yield backend
        backend.drop_tables()
    elif name == "dynalite":
        backend = Backend("dynalite", request.getfixturevalue("dynalite_endpoint"))
        yield backend
        backend.drop_tables()
    else:  # pragma: no cover
        raise ValueError(name)


ALL_BACKENDS = ["memory", "moto", "moto_server", "dynalite"]
DYNAMODB_BACKENDS = ["moto", "moto_server", "dynalite"]
# the async storages over real HTTP (moto in process patches only blocking botocore)
ASYNC_BACKENDS = ["async_memory", "async_moto_server", "async_dynalite"]
ASYNC_DYNAMODB_BACKENDS = ["async_moto_server", "async_dynalite"]


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Every backend, memory included: for the storage contract."""
    yield from _backend(request.param, request)


@pytest.fixture(params=DYNAMODB_BACKENDS)
def dynamo(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Every DynamoDB backend: for wire format, tables, paging and errors."""
    yield from _backend(request.param, request)


@pytest.fixture
def storage(backend: Backend) -> Any:
    """A fresh, empty storage on its own table."""
    return backend.storage()


@pytest.fixture
def count_requests() -> Iterator[Callable[[DynamoDBSessionStorage], RequestCounter]]:
    """``count_requests(storage)`` -> a counter of DynamoDB requests that storage sends."""
    counters: list[RequestCounter] = []

    def attach(storage: DynamoDBSessionStorage) -> RequestCounter:
        counters.append(RequestCounter.attach(storage))
        return counters[-1]

    yield attach
    for counter in counters:
        counter.detach()
