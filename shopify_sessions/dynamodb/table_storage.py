"""``TableStorage``: what both DynamoDB storages are made of, from their constructor options.

Names, endpoint, credentials, timeouts and retries resolved once (``settings``); the bound
model, the request plans and the session plans built on them. ``DynamoDBSessionStorage`` and
``AsyncDynamoDBSessionStorage`` add only a driver that carries the plans out.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from botocore.config import Config

from .retry import RetryPolicy
from .settings import local_credentials, resolve_connection, resolve_names
from .table_plans import TablePlans
from .table_requests import DEFAULT_MAX_CONCURRENCY, TableRequests
from .ttl import DEFAULT_TTL_GRACE

if TYPE_CHECKING:
    from .cipher import TokenCipher
    from .lease_plans import LeasePlans
    from .session_model import SessionModel

__all__ = ["TableStorage"]

LeaseStoreT = TypeVar("LeaseStoreT")  # the storage's lease store: blocking or awaited
FlightsT = TypeVar("FlightsT")  # and its single flight


class TableStorage(Generic[LeaseStoreT, FlightsT]):
    """What both DynamoDB storages are made of: their constructor's arguments, resolved once.

    ``DynamoDBSessionStorage`` and ``AsyncDynamoDBSessionStorage`` take these arguments and add
    only a driver that carries the plans out. Reads of whole items are strongly consistent.

    Args:
        session_table_name: The table; default ``SHOPIFY_SESSIONS_TABLE``, then
            ``shopify_sessions``.
        shop_index_name: The index on ``shop``; default ``SHOPIFY_SESSIONS_SHOP_INDEX``, then
            ``shop_index``.
        region: Default ``AWS_REGION``, then ``AWS_DEFAULT_REGION``.
        host: The endpoint URL; default ``AWS_ENDPOINT_URL_DYNAMODB``, then
            ``AWS_ENDPOINT_URL``, then AWS's.
        aws_access_key_id: Default: botocore's usual chain (a loopback endpoint gets
            placeholders: it checks no signature).
        aws_secret_access_key: As ``aws_access_key_id``.
        aws_session_token: For temporary credentials.
        page_size: Keys per index query page (``None``: DynamoDB's 1 MB pages); every page is
            read either way.
        max_concurrency: The most requests one call sends at once (chunks of a large batch,
            per-item fallbacks).
        retry: How failed requests and unprocessed batch parts are retried.
        token_cipher: Encrypts access and refresh tokens at rest (the Node adapter cannot read
            such items); without it, tokens are stored in plaintext exactly as Node stores them.
        cipher_table_name: The name ciphertexts are bound to (default: the table's), so a value
            copied into another table does not decrypt; after copying items to a renamed
            table, pass the old name until ``re_encrypt`` has run.
        ttl_grace: Sessions with a natural end get a ``ttl`` attribute (epoch seconds) this
            long after it, for DynamoDB's TTL to remove them; ``None`` writes no ``ttl``.
        botocore_config: A ``botocore.config.Config`` whose explicitly set
            ``connect_timeout``, ``read_timeout``, ``max_pool_connections`` and ``retries``
            (``total_max_attempts`` or ``max_attempts``, when ``retry`` is not given) apply.
        coalesce: The async storage's: plain loads, stores and deletes issued by concurrent
            tasks in one event-loop turn go out as BatchGetItem / BatchWriteItem, each caller
            getting its own answer; the blocking storage sends each call as it comes.

    Raises:
        ValueError: ``page_size`` is not a positive number.
    """

    def __init__(
        self,
        session_table_name: str | None = None,
        shop_index_name: str | None = None,
        *,
        region: str | None = None,
        host: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        page_size: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        retry: RetryPolicy | None = None,
        token_cipher: TokenCipher | None = None,
        cipher_table_name: str | None = None,
        ttl_grace: timedelta | None = DEFAULT_TTL_GRACE,
        botocore_config: Config | None = None,
        coalesce: bool = True,
    ) -> None:
        given = dict(getattr(botocore_config, "_user_provided_options", {}) or {})
        self.table_name, self.shop_index_name = resolve_names(session_table_name, shop_index_name)
        if aws_access_key_id is None and aws_secret_access_key is None:
            placeholder = local_credentials(resolve_connection(host=host).host)
            aws_access_key_id = placeholder.get("aws_access_key_id")
            aws_secret_access_key = placeholder.get("aws_secret_access_key")
        self.connection = resolve_connection(
            region=region,
            host=host,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            connect_timeout=given.get("connect_timeout"),
            read_timeout=given.get("read_timeout"),
            max_pool_connections=given.get("max_pool_connections"),
        )
        if retry is None and given.get("retries"):
            retry = _retry_from_botocore(given["retries"])
        if page_size is not None and page_size < 1:
            raise ValueError("page_size must be a positive number of keys, or None")
        self.requests = TableRequests(self.table_name, retry or RetryPolicy(), max_concurrency)
        self.plans = TablePlans(
            self._bind_model,
            self.requests,
            shop_index_name=self.shop_index_name,
            page_size=page_size,
            token_cipher=token_cipher,
            cipher_table_name=cipher_table_name or self.table_name,
            ttl_grace=ttl_grace,
        )
        self.coalesce = coalesce
        self._refresh_cache: tuple[LeaseStoreT, FlightsT] | None = None
        self._refresh_cache_lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        """Set up what carries the plans out (the driver): each storage's own part."""
        raise NotImplementedError

    def _refresh_parts(self) -> tuple[LeaseStoreT, FlightsT]:
        """A lease store and a single flight of this storage's kind: each storage's own part."""
        raise NotImplementedError

    def _lease_plans(self) -> LeasePlans:
        from .lease_plans import LeasePlans

        return LeasePlans(self.plans)

    @property
    def _lease_store(self) -> LeaseStoreT:
        """The lease operations (made at the first ``load_fresh_session``)."""
        return self._refreshing()[0]

    def _refreshing(self) -> tuple[LeaseStoreT, FlightsT]:
        """Lease store and single flight, made once (under a lock: two single flights would
        let two callers of this process refresh the same token)."""
        with self._refresh_cache_lock:
            if self._refresh_cache is None:
                self._refresh_cache = self._refresh_parts()
            return self._refresh_cache

    def _bind_model(self) -> type[SessionModel]:
        from .session_model import bind_model

        return bind_model(self.table_name, self.shop_index_name, self.connection)

    @property
    def model(self) -> type[SessionModel]:
        """The ``SessionModel`` subclass bound to this storage's table, index and connection
        (for admin scripts: ``storage.model.scan()``); bound at first use."""
        return self.plans.model

    @property
    def retry(self) -> RetryPolicy:
        return self.requests.retry

    @property
    def page_size(self) -> int | None:
        return self.plans.page_size

    @property
    def token_cipher(self) -> TokenCipher | None:
        return self.plans.token_cipher

    @property
    def cipher_table_name(self) -> str:
        return self.plans.cipher_table_name

    @property
    def ttl_grace(self) -> timedelta | None:
        return self.plans.ttl_grace

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(table={self.table_name!r}, index={self.shop_index_name!r}, "
            f"region={self.connection.region!r}, host={self.connection.host!r})"
        )


def _retry_from_botocore(retries: dict[str, Any]) -> RetryPolicy:
    """botocore's ``retries`` setting as our policy (we own retries; botocore's are off)."""
    if "total_max_attempts" in retries:
        return RetryPolicy(attempts=int(retries["total_max_attempts"]))
    if "max_attempts" in retries:  # botocore counts retries here, not attempts
        return RetryPolicy(attempts=int(retries["max_attempts"]) + 1)
    return RetryPolicy()
