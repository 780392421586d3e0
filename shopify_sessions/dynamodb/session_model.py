"""The PynamoDB model of the sessions table, in the Node adapter's exact item format.

Python attribute names are snake_case; stored names are the Node item's (camelCase, with
``onlineAccessInfo`` a map whose keys stay snake_case). Usable directly in admin scripts::

    SessionModel.create_table()
    for key in SessionModel.shop_index.query("example.myshopify.com"):
        print(key.id)
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, ClassVar

from pynamodb.attributes import BooleanAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.constants import PAY_PER_REQUEST_BILLING_MODE
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from . import lifecycle
from .attributes import NodeDateTimeAttribute
from .clients import shared_client
from .driver import Driver
from .ops import Plan
from .retry import RetryPolicy
from .settings import ConnectionSettings, local_credentials, resolve_connection
from .table_requests import TableRequests

__all__ = [
    "AssociatedUserMap",
    "OnlineAccessInfoMap",
    "SessionModel",
    "ShopIndex",
    "bind_model",
    "schema_differences",
]

DEFAULT_TABLE_NAME = "shopify_sessions"
DEFAULT_SHOP_INDEX_NAME = "shop_index"
_SECRET_ATTRIBUTES = frozenset({"access_token", "refresh_token"})
_MASKED = "'***'"


class _MapKeepingExtra(MapAttribute[str, Any]):
    """A typed map that also carries the stored keys it declares no attribute for.

    ``extra_values`` holds raw attribute values (unknown keys, NULLs) read from an item, or
    set by the codec from ``OnlineAccessInfo.extra``; they are written back as they are, as
    the Node adapter writes back whatever its map held.
    """

    extra_values: dict[str, dict[str, Any]]

    def serialize(self, values: Any, *, null_check: bool = True) -> Any:
        container = super().serialize(values, null_check=null_check)
        for key, value in (getattr(values, "extra_values", None) or {}).items():
            container.setdefault(key, value)
        return container

    def deserialize(self, values: Any) -> Any:
        instance = super().deserialize(values)  # type: ignore[no-untyped-call]
        declared = {attr.attr_name for attr in self.get_attributes().values()}
        instance.extra_values = {
            key: value for key, value in values.items() if key not in declared or "NULL" in value
        }
        return instance


class AssociatedUserMap(_MapKeepingExtra):
    """``onlineAccessInfo.associated_user``: the staff member of an online session."""

    id = NumberAttribute(null=True)  # never absent in a Session; null for Node's {} shape
    first_name = UnicodeAttribute(null=True)
    last_name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    email_verified = BooleanAttribute(null=True)
    account_owner = BooleanAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    collaborator = BooleanAttribute(null=True)


class OnlineAccessInfoMap(_MapKeepingExtra):
    """``onlineAccessInfo``: keys stay snake_case, as Shopify's API returns them."""

    expires_in = NumberAttribute(null=True)
    associated_user_scope = UnicodeAttribute(null=True)
    associated_user = AssociatedUserMap(null=True)  # type: ignore[no-untyped-call]


class ShopIndex(GlobalSecondaryIndex["SessionModel"]):  # type: ignore[no-untyped-call]
    """The ``shop_index`` GSI: hash key ``shop``, KEYS_ONLY (a query yields ``id`` and ``shop``)."""

    class Meta:
        index_name = os.environ.get("SHOPIFY_SESSIONS_SHOP_INDEX") or DEFAULT_SHOP_INDEX_NAME
        projection = KeysOnlyProjection()

    shop = UnicodeAttribute(hash_key=True)


# a loopback endpoint (serve-local, moto, dynalite) gets placeholder credentials, as storages do
_DEFAULT_CONNECTION = resolve_connection(**local_credentials(resolve_connection().host))


class SessionModel(Model):
    """One item of the sessions table. Table and connection come from the environment at import.

    ``DynamoDBSessionStorage`` binds its own subclass (see :func:`bind_model`) instead of
    changing this class.
    """

    class Meta:
        table_name = os.environ.get("SHOPIFY_SESSIONS_TABLE") or DEFAULT_TABLE_NAME
        region = _DEFAULT_CONNECTION.region
        host = _DEFAULT_CONNECTION.host
        aws_access_key_id = _DEFAULT_CONNECTION.aws_access_key_id
        aws_secret_access_key = _DEFAULT_CONNECTION.aws_secret_access_key
        aws_session_token = _DEFAULT_CONNECTION.aws_session_token
        billing_mode = PAY_PER_REQUEST_BILLING_MODE

    id = UnicodeAttribute(hash_key=True)
    shop = UnicodeAttribute()
    state = UnicodeAttribute()
    is_online = BooleanAttribute(attr_name="isOnline")
    scope = UnicodeAttribute(null=True)
    expires = NodeDateTimeAttribute(null=True)
    access_token = UnicodeAttribute(attr_name="accessToken", null=True)
    refresh_token = UnicodeAttribute(attr_name="refreshToken", null=True)
    refresh_token_expires = NodeDateTimeAttribute(attr_name="refreshTokenExpires", null=True)
    online_access_info = OnlineAccessInfoMap(  # type: ignore[no-untyped-call]
        attr_name="onlineAccessInfo", null=True
    )
    # Ours, not Node's: epoch seconds for DynamoDB's TTL (see ttl.py); Node ignores it.
    ttl = NumberAttribute(null=True)

    shop_index: ClassVar[ShopIndex] = ShopIndex()
    _settings: ClassVar[ConnectionSettings | None] = None  # set on models bound by bind_model

    @classmethod
    def _get_connection(cls) -> Any:
        """PynamoDB's connection; a bound model's shares the botocore client of its settings."""
        connection = super()._get_connection()
        if cls._settings is not None:
            _share_client(connection, cls._settings)
        return connection

    def __repr__(self) -> str:
        """PynamoDB's repr, with the tokens masked: admin scripts print and log models."""
        fields = ", ".join(
            f"{name}={_MASKED if name in _SECRET_ATTRIBUTES and value else repr(value)}"
            for name, value in self.attribute_values.items()
        )
        return f"{type(self).__name__}({fields})"

    __str__ = __repr__

    @classmethod
    def create_table(
        cls,
        wait: bool = True,
        read_capacity_units: int | None = None,
        write_capacity_units: int | None = None,
        billing_mode: str | None = None,
        ignore_update_ttl_errors: bool = False,
        *,
        ttl: bool = False,
    ) -> Any:
        """Create the table and its shop index unless it exists; by default wait until usable.

        On-demand billing unless capacity units are given; then the table and the index are
        both provisioned with them, as in the Node adapter's README (1 and 1). ``ttl=True``
        also turns on DynamoDB's TTL on the ``ttl`` attribute (waits for the table first).
        The same plan as the storages' ``create_table``: errors are ``SessionStorageError``.
        """
        if (read_capacity_units is None) != (write_capacity_units is None):
            raise ValueError("give both read_capacity_units and write_capacity_units, or neither")
        provisioned = None
        if read_capacity_units is not None and write_capacity_units is not None:
            provisioned = (read_capacity_units, write_capacity_units)
        schema = cls._get_schema()
        request = lifecycle.create_table_request(cls.Meta.table_name, schema, provisioned)
        if billing_mode is not None:
            request["BillingMode"] = billing_mode
        cls._run(lifecycle.create_table(cls._requests(), request, wait=wait, ttl=ttl))

    @classmethod
    def enable_time_to_live(cls) -> bool:
        """Turn on DynamoDB's TTL on the ``ttl`` attribute; ``False`` if it already was on."""
        enabled: bool = cls._run(lifecycle.enable_time_to_live(cls._requests()))
        return enabled

    @classmethod
    def wait_until_active(cls, timeout: float = lifecycle.TABLE_WAIT_TIMEOUT_SECONDS) -> None:
        """Poll until the table and every index are ACTIVE (PynamoDB's own wait skips indexes)."""
        cls._run(lifecycle.wait_until_active(cls._requests(), timeout))

    @classmethod
    def _requests(cls) -> TableRequests:
        return TableRequests(cls.Meta.table_name, RetryPolicy(), max_concurrency=1)

    @classmethod
    def _run(cls, plan: Plan[Any]) -> Any:
        """A table plan, run blocking with this model's botocore client."""
        return Driver(lambda: cls._get_connection().connection.client, time.sleep).run(plan)


_bound_models: dict[tuple[str, str, ConnectionSettings], type[SessionModel]] = {}
_bound_models_lock = threading.Lock()


def _share_client(connection: Any, settings: ConnectionSettings) -> None:
    """Put the storages' botocore client of ``settings`` into a new PynamoDB connection."""
    base = connection.connection
    if base._client is None:
        base._client = shared_client(settings)


def _forget_clients_after_fork() -> None:
    """A forked child must not share its parent's sockets: new connections, on first use."""
    for model in _bound_models.values():
        model._connection = None


os.register_at_fork(after_in_child=_forget_clients_after_fork)


def bind_model(
    table_name: str, shop_index_name: str, connection: ConnectionSettings
) -> type[SessionModel]:
    """A ``SessionModel`` subclass bound to one table, index and connection (cached).

    The subclass gets its own ``Meta``, its own index class and ``_connection = None``:
    PynamoDB would otherwise reuse a parent's connection that has the same table name.
    """
    key = (table_name, shop_index_name, connection)
    with _bound_models_lock:
        model = _bound_models.get(key)
        if model is None:
            model = _make_bound_model(table_name, shop_index_name, connection)
            _bound_models[key] = model
        return model


def _make_bound_model(
    table_name: str, shop_index_name: str, connection: ConnectionSettings
) -> type[SessionModel]:
    index_meta = type(
        "Meta", (), {"index_name": shop_index_name, "projection": KeysOnlyProjection()}
    )
    index_cls = type("BoundShopIndex", (ShopIndex,), {"Meta": index_meta})
    model_meta = type(
        "Meta",
        (),
        {
            "table_name": table_name,
            "region": connection.region,
            "host": connection.host,
            "aws_access_key_id": connection.aws_access_key_id,
            "aws_secret_access_key": connection.aws_secret_access_key,
            "aws_session_token": connection.aws_session_token,
            "billing_mode": PAY_PER_REQUEST_BILLING_MODE,
            "max_retry_attempts": 0,  # the storage's RetryPolicy is the only retry layer
            **{
                name: value
                for name, value in (
                    ("connect_timeout_seconds", connection.connect_timeout),
                    ("read_timeout_seconds", connection.read_timeout),
                    ("max_pool_connections", connection.max_pool_connections),
                )
                if value is not None
            },
        },
    )
    namespace = {
        "Meta": model_meta,
        "shop_index": index_cls(),
        "_connection": None,
        "_settings": connection,
        "__module__": __name__,
    }
    return type(f"SessionModel_{table_name}", (SessionModel,), namespace)


def schema_differences(table: dict[str, Any], index_name: str) -> list[str]:
    """How a DescribeTable answer differs from the Node adapter's schema (empty: it matches)."""
    differences = []
    key_schema = table.get("KeySchema", [])
    if key_schema != [{"AttributeName": "id", "KeyType": "HASH"}]:
        shown = ", ".join(f"{k['AttributeName']} {k['KeyType']}" for k in key_schema)
        differences.append(f"key schema is [{shown}], expected hash key 'id' alone")
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    for name in ("id", "shop"):
        if name in types and types[name] != "S":
            differences.append(f"attribute {name!r} has type {types[name]}, expected S")
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    index = indexes.get(index_name)
    if index is None:
        found = ", ".join(repr(name) for name in indexes) or "none"
        differences.append(f"global secondary index {index_name!r} is missing (found: {found})")
        return differences
    if index.get("KeySchema") != [{"AttributeName": "shop", "KeyType": "HASH"}]:
        shown = ", ".join(
            f"{k['AttributeName']} {k['KeyType']}" for k in index.get("KeySchema", [])
        )
        differences.append(f"index {index_name!r} key is [{shown}], expected hash key 'shop' alone")
    projection = index.get("Projection", {}).get("ProjectionType")
    if projection != "KEYS_ONLY":
        differences.append(f"index {index_name!r} projects {projection}, expected KEYS_ONLY")
    return differences
