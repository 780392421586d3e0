"""examples/flask_app driven by Flask's test client, against moto's server and the fake Shopify
over real HTTP: install, expiry under 10 concurrent requests, 401 retry, webhooks, the job
(the scenarios are in tests/support/example_apps.py, shared with the Django example)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from shopify_sessions import DynamoDBSessionStorage
from shopify_sessions.testing import FakeShopify
from tests.support.example_apps import (
    SCENARIOS,
    Answer,
    Scenario,
    fake_shopify,
    moto_table,
    scenario_id,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "flask_app"


def load_example() -> ModuleType:
    """examples/flask_app/app.py as a module, with its directory importable."""
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    spec = importlib.util.spec_from_file_location("flask_example_app", EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = load_example()


class FlaskDriver:
    """The Flask example, made by its own ``create_app`` with our storage and HTTP client."""

    def __init__(
        self,
        shopify: FakeShopify,
        storage: DynamoDBSessionStorage,
        http: httpx.Client,
        **config: Any,
    ) -> None:
        self.shopify, self.storage, self._http = shopify, storage, http
        self.app = example.create_app(
            storage=storage,
            http_client=http,
            SHOPIFY_API_KEY=shopify.client_id,
            SHOPIFY_API_SECRET=shopify.client_secret,
            **config,
        )

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self._answer(self.app.test_client().get(path, headers=headers or {}))

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        return self._answer(self.app.test_client().post(path, data=body, headers=headers))

    def run_job(self, concurrency: int) -> list[str]:
        args = ["check-shops", "--concurrency", str(concurrency)]
        result = self.app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 0, result.output
        lines: list[str] = result.output.splitlines()
        return lines

    def online(self) -> FlaskDriver:
        return FlaskDriver(self.shopify, self.storage, self._http, SHOPIFY_ONLINE_TOKENS=True)

    @staticmethod
    def _answer(response: Any) -> Answer:
        return Answer(response.status_code, response.headers, response.get_data())


@pytest.fixture
def app(moto_server_endpoint: str) -> Iterator[FlaskDriver]:
    with (
        fake_shopify() as shopify,
        moto_table(moto_server_endpoint, "flask") as storage,
        shopify.client() as http,
    ):
        yield FlaskDriver(shopify, storage, http)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_flask_example(
    app: FlaskDriver, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario(app, monkeypatch)


def test_the_examples_own_tests_pass_with_the_pytest_plugin() -> None:
    """examples/flask_app/test_app.py: an app's tests on the plugin's fixtures (memory storage,
    fake Shopify with the app's credentials), as a user runs them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = subprocess.run(
        # -n 0: not on this repository's xdist workers (its pyproject's addopts), as in an app
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", str(EXAMPLE)],
        cwd=EXAMPLE.parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
