"""examples/fastapi_app through httpx's ASGI transport, the app in the test's event loop with
``AsyncDynamoDBSessionStorage`` on moto's server and the fake Shopify over real HTTP: the
scenarios shared with the Flask and Django examples (tests/support/example_apps.py: install,
expiry under 10 concurrent requests, 401 retry, webhooks, the job), the command line, and the
example's own tests on the pytest plugin.

The scenarios are blocking code: each runs in a worker thread and reaches the app through a
blocking portal into the test's loop, so 10 threads make 10 concurrent requests there. Their
``app.storage`` is a ``DynamoDBSessionStorage`` on the same table, for their reads and moves.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal

from shopify_sessions import AsyncDynamoDBSessionStorage, AsyncSessionStorage, SessionStorage
from shopify_sessions.testing import FakeShopify
from tests.support import example_apps as shared

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi_app"


def load_example() -> ModuleType:
    """examples/fastapi_app/app.py as the module ``fastapi_example_app``."""
    spec = importlib.util.spec_from_file_location("fastapi_example_app", EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = load_example()


class FastAPIDriver:
    """The FastAPI example made by its own ``create_app`` (its lifespan run), with our async
    storage and ``httpx.AsyncClient``; called from the scenario's thread through ``portal``."""

    def __init__(
        self,
        shopify: FakeShopify,
        storage: SessionStorage,
        app_storage: AsyncSessionStorage,
        http: httpx.AsyncClient,
        portal: BlockingPortal,
        stack: AsyncExitStack,
        online_tokens: bool = False,
    ) -> None:
        self.shopify, self.storage, self.app_storage = shopify, storage, app_storage
        self._http, self._portal, self._stack = http, portal, stack
        self.settings = example.Settings(
            shopify.client_id, shopify.client_secret, online_tokens=online_tokens
        )

    async def start(self) -> FastAPIDriver:
        app = example.create_app(self.settings, storage=self.app_storage, http_client=self._http)
        await self._stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")
        self._client = await self._stack.enter_async_context(client)
        return self

    def get(self, path: str, headers: dict[str, str] | None = None) -> shared.Answer:
        return self._answer(self._portal.call(partial(self._client.get, path, headers=headers)))

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> shared.Answer:
        post = partial(self._client.post, path, content=body, headers=headers)
        return self._answer(self._portal.call(post))

    def run_job(self, concurrency: int) -> list[str]:
        job = partial(
            example.check_shops,
            concurrency,
            self.settings,
            storage=self.app_storage,
            http_client=self._http,
        )
        lines: list[str] = self._portal.call(job)
        return lines

    def online(self) -> FastAPIDriver:
        driver = FastAPIDriver(
            self.shopify,
            self.storage,
            self.app_storage,
            self._http,
            self._portal,
            self._stack,
            online_tokens=True,
        )
        return self._portal.call(driver.start)

    def patch_storage(
        self, mp: pytest.MonkeyPatch, name: str, replacement: Callable[..., Any]
    ) -> None:
        """The scenario's blocking ``replacement`` on the app's async storage, awaited."""

        async def awaited(*args: Any, **kwargs: Any) -> Any:
            return replacement(*args, **kwargs)

        mp.setattr(self.app_storage, name, awaited)

    @staticmethod
    def _answer(response: httpx.Response) -> shared.Answer:
        return shared.Answer(response.status_code, response.headers, response.content)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app(moto_server_endpoint: str) -> AsyncIterator[FastAPIDriver]:
    table = shared.moto_table(moto_server_endpoint, "fastapi")
    with shared.fake_shopify() as shopify, table as storage:
        async with AsyncExitStack() as stack:
            app_storage = await stack.enter_async_context(
                AsyncDynamoDBSessionStorage(storage.table_name, host=moto_server_endpoint)
            )
            transport = shopify.async_transport()
            http = await stack.enter_async_context(httpx.AsyncClient(transport=transport))
            portal = await stack.enter_async_context(BlockingPortal())
            yield await FastAPIDriver(shopify, storage, app_storage, http, portal, stack).start()


@pytest.mark.anyio
@pytest.mark.parametrize("scenario", shared.SCENARIOS, ids=shared.scenario_id)
async def test_fastapi_example(
    app: FastAPIDriver, scenario: shared.Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    await anyio.to_thread.run_sync(scenario, app, monkeypatch)


def test_the_job_runs_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python app.py check-shops``: a fresh memory storage has no shop to call."""
    monkeypatch.setenv("SHOPIFY_SESSIONS_BACKEND", "memory")
    monkeypatch.setenv("SHOPIFY_API_KEY", "example-key")
    monkeypatch.setenv("SHOPIFY_API_SECRET", "example-secret-not-a-secret")

    example.main(["check-shops", "--concurrency", "2"])

    assert capsys.readouterr().out == ""


def test_the_examples_own_tests_pass_with_the_pytest_plugin() -> None:
    """examples/fastapi_app/test_app.py, as a user runs it: the plugin's fake Shopify and
    memory storage, anyio's plugin for the async tests."""
    # -n 0: not on this repository's xdist workers (its pyproject's addopts), as in an app
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0"]
    command.append(str(EXAMPLE))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    run = partial(subprocess.run, capture_output=True, text=True, timeout=120)
    result = run(command, cwd=EXAMPLE.parent.parent, env=environment)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
