"""The botocore clients: their arguments (for both drivers) and one blocking client per settings.

Both drivers configure their client alike: the settings' endpoint, region, credentials,
timeouts and pool; botocore's own retries off (the plans retry); no parameter validation (the
plans build every request; validating a batch of 25 items costs more CPU than sending it);
DynamoDB's service data found without botocore's scan of every service
(:mod:`.service_data`); plain attribute values passed through (:mod:`.wire`). The blocking
client is made here, not by PynamoDB, so that a storage that only loads and stores never
imports PynamoDB; models bound to the same settings are handed the same client.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .service_data import use_dynamodb_loader
from .settings import ConnectionSettings
from .wire import speed_up

__all__ = ["client_arguments", "shared_client"]

_clients: dict[ConnectionSettings, Any] = {}
_lock = threading.Lock()


def client_arguments(settings: ConnectionSettings, config_class: type) -> dict[str, Any]:
    """``create_client`` keyword arguments for ``settings``; ``config_class``: botocore's
    ``Config`` or aiobotocore's ``AioConfig``."""
    config: dict[str, Any] = {
        "connect_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "retries": {"total_max_attempts": 1, "mode": "standard"},
        "parameter_validation": False,
    }
    if settings.max_pool_connections is not None:
        config["max_pool_connections"] = settings.max_pool_connections
    return {
        "region_name": settings.region,
        "endpoint_url": settings.host,
        "aws_access_key_id": settings.aws_access_key_id,
        "aws_secret_access_key": settings.aws_secret_access_key,
        "aws_session_token": settings.aws_session_token,
        "config": config_class(**config),
    }


def shared_client(settings: ConnectionSettings) -> Any:
    """The process's blocking botocore client for ``settings`` (made at the first call).

    One client per settings, whatever the table: each would otherwise hold its own copy of
    the service model and endpoint data (about 10 MB).
    """
    with _lock:
        client = _clients.get(settings)
        if client is None:
            from botocore.config import Config
            from botocore.session import get_session

            session = get_session()  # its own, as PynamoDB made one: it takes the event
            use_dynamodb_loader(session)  # handlers of its time (moto's, once imported)
            arguments = client_arguments(settings, Config)
            client = _clients[settings] = session.create_client("dynamodb", **arguments)
            speed_up(client)
        return client


def _forget_clients_after_fork() -> None:
    """A forked child must not share its parent's sockets: new clients, made on first use."""
    global _lock
    _clients.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_clients_after_fork)
