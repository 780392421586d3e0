"""examples/django_app driven by Django's test client (the scenarios shared with the Flask
example), and the Django integration it uses: ``get_storage()`` from ``SHOPIFY_SESSIONS`` and
the table check of ``manage.py check``. Django is configured once, with the example's settings.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("django")

import django

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "django_app"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))
os.environ["DJANGO_SETTINGS_MODULE"] = "django_example.settings"
django.setup()
del os.environ["DJANGO_SETTINGS_MODULE"]  # read once; subprocesses of other tests stay clean

from django.core import checks  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from shops import services  # noqa: E402

from shopify_sessions import (  # noqa: E402
    AccessDeniedError,
    DynamoDBSessionStorage,
    MemorySessionStorage,
    RetryPolicy,
)
from shopify_sessions.integrations.django import get_storage, reset_storage  # noqa: E402
from shopify_sessions.testing import FakeShopify  # noqa: E402
from tests.conftest import raw_dynamodb_client  # noqa: E402
from tests.support.example_apps import (  # noqa: E402
    SCENARIOS,
    Answer,
    Scenario,
    fake_shopify,
    moto_table,
    scenario_id,
)


def sessions_setting(endpoint: str, table: str, **options: Any) -> dict[str, Any]:
    return {"OPTIONS": {"session_table_name": table, "host": endpoint, **options}}


class DjangoDriver:
    """The Django example with our settings; its storage is the integration's."""

    def __init__(self, shopify: FakeShopify, stack: contextlib.ExitStack) -> None:
        self.shopify, self._stack = shopify, stack

    @property
    def storage(self) -> Any:
        return get_storage()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self._answer(Client().get(path, headers=headers))

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        response = Client().post(path, body, content_type="application/json", headers=headers)
        return self._answer(response)

    def run_job(self, concurrency: int) -> list[str]:
        out = io.StringIO()
        call_command("check_shops", concurrency=concurrency, stdout=out)
        return out.getvalue().splitlines()

    def online(self) -> DjangoDriver:
        self._stack.enter_context(override_settings(SHOPIFY_ONLINE_TOKENS=True))
        services.backend.cache_clear()
        return self

    @staticmethod
    def _answer(response: Any) -> Answer:
        return Answer(response.status_code, response.headers, response.content)


@pytest.fixture
def app(moto_server_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DjangoDriver]:
    with contextlib.ExitStack() as stack:
        shopify = stack.enter_context(fake_shopify())
        table = stack.enter_context(moto_table(moto_server_endpoint, "django"))
        http: httpx.Client = stack.enter_context(shopify.client())
        monkeypatch.setattr(services, "http_client", lambda: http)
        stack.enter_context(
            override_settings(
                ALLOWED_HOSTS=["testserver"],
                SHOPIFY_API_KEY=shopify.client_id,
                SHOPIFY_API_SECRET=shopify.client_secret,
                SHOPIFY_ONLINE_TOKENS=False,
                SHOPIFY_SESSIONS=sessions_setting(moto_server_endpoint, table.table_name),
            )
        )
        stack.callback(services.backend.cache_clear)
        services.backend.cache_clear()
        yield DjangoDriver(shopify, stack)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_django_example(
    app: DjangoDriver, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario(app, monkeypatch)


# --- the integration: get_storage() ------------------------------------------------------------

MEMORY = {"BACKEND": "shopify_sessions.MemorySessionStorage"}


def test_get_storage_is_one_per_process_and_follows_the_setting() -> None:
    with override_settings(SHOPIFY_SESSIONS=MEMORY):
        first = get_storage()
        assert isinstance(first, MemorySessionStorage) and get_storage() is first
        with override_settings(SHOPIFY_SESSIONS=dict(MEMORY)):  # a test's own storage
            assert get_storage() is not first
        assert get_storage() is not first  # rebuilt from the restored setting too


def test_no_setting_means_dynamodb_configured_by_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOPIFY_SESSIONS_TABLE", "from_env")
    from django.conf import settings

    with override_settings():
        del settings.SHOPIFY_SESSIONS
        reset_storage()
        storage = get_storage()
        assert isinstance(storage, DynamoDBSessionStorage)
        assert storage.table_name == "from_env"
    reset_storage()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("not a dict", "must be a dict"),
        ({"TABLE": "x"}, "unknown keys ['TABLE']"),
        ({"BACKEND": "no.such.Storage"}, "cannot import 'no.such.Storage'"),
        ({"BACKEND": "collections.OrderedDict"}, "is not a session storage"),
        ({"OPTIONS": {"sesion_table_name": "x"}}, "sesion_table_name"),
        ({"OPTIONS": {"host": "127.0.0.1:8000"}}, "http://"),
        ({"CHECK_TABLE": "yes"}, "True or False"),
    ],
)
def test_bad_settings_are_improperly_configured(setting: Any, message: str) -> None:
    with override_settings(SHOPIFY_SESSIONS=setting), pytest.raises(ImproperlyConfigured) as e:
        get_storage()
    assert message in str(e.value)


def test_a_bad_option_never_echoes_a_value() -> None:
    options = {"aws_secret_access_key": "s3cr3t-value", "bogus": "other-s3cr3t"}
    with override_settings(SHOPIFY_SESSIONS={"OPTIONS": options}):
        with pytest.raises(ImproperlyConfigured) as e:
            get_storage()
        assert "bogus" in str(e.value) and "s3cr3t" not in str(e.value)
        [error] = checks.run_checks(tags=["shopify_sessions"])
    assert error.id == "shopify_sessions.E001" and "s3cr3t" not in error.msg


# --- the integration: the table check -----------------------------------------------------------


def run_check(setting: dict[str, Any]) -> list[Any]:
    with override_settings(SHOPIFY_SESSIONS=setting):
        return list(checks.run_checks(tags=["shopify_sessions"]))


def test_check_passes_on_a_good_table(moto_server_endpoint: str) -> None:
    with moto_table(moto_server_endpoint, "check") as table:
        setting = sessions_setting(moto_server_endpoint, table.table_name)
        assert run_check(setting) == []
        with override_settings(SHOPIFY_SESSIONS=setting):
            out = io.StringIO()
            call_command("check", stdout=out)
        assert "no issues" in out.getvalue()


def test_check_reports_a_missing_table(moto_server_endpoint: str) -> None:
    [error] = run_check(sessions_setting(moto_server_endpoint, "no_such_table"))

    assert error.id == "shopify_sessions.E002" and error.is_serious()
    assert "'no_such_table' does not exist" in error.msg and "create-table" in error.msg


def test_check_reports_a_table_unlike_the_schema(moto_server_endpoint: str) -> None:
    client = raw_dynamodb_client(moto_server_endpoint)
    client.create_table(
        TableName="wrong_schema",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        [error] = run_check(sessions_setting(moto_server_endpoint, "wrong_schema"))
    finally:
        client.delete_table(TableName="wrong_schema")

    assert error.id == "shopify_sessions.E003" and "does not match" in error.msg


def test_check_warns_when_the_endpoint_is_unreachable() -> None:
    setting = sessions_setting("http://127.0.0.1:9", "t", retry=RetryPolicy(attempts=1))
    [warning] = run_check(setting)

    assert warning.id == "shopify_sessions.W002" and not warning.is_serious()
    assert "CHECK_TABLE" in warning.hint


def test_check_warns_when_describe_table_is_not_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(self: Any) -> None:
        raise AccessDeniedError("DescribeTable", "t")

    monkeypatch.setattr(DynamoDBSessionStorage, "verify_table", denied)
    [warning] = run_check({"OPTIONS": {"session_table_name": "t"}})

    assert warning.id == "shopify_sessions.W001"
    assert "allow dynamodb:DescribeTable" in warning.hint


def test_check_can_be_turned_off_and_memory_needs_none() -> None:
    assert run_check({"CHECK_TABLE": False, "OPTIONS": {"host": "http://127.0.0.1:9"}}) == []
    assert run_check(MEMORY) == []


def test_manage_py_check_fails_on_a_missing_table(moto_server_endpoint: str) -> None:
    """The real command line: settings from the environment, as a deploy step runs it."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_server_endpoint,
        "SHOPIFY_SESSIONS_TABLE": "table_nobody_created",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent)]),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "shopify_sessions.E002" in result.stderr
    assert "'table_nobody_created' does not exist" in result.stderr


def test_missing_django_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    name = "shopify_sessions.integrations.django"
    monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "django.conf", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'shopify-sessions\[django\]'"):
        importlib.import_module(name)
