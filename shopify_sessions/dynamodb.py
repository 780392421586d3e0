"""``DynamoDBSessionStorage``: the Node adapter's storage, in Python, on the same table.

Data path: ``Session`` --codec--> bound ``SessionModel`` --PynamoDB--> DynamoDB item, and back.
Every failure leaves here as a ``SessionStorageError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from pynamodb.exceptions import PynamoDBException, TableDoesNotExist

from .codec import item_to_session, session_to_model
from .errors import SessionStorageError, TableNotFoundError
from .model import SessionModel, bind_model
from .session import Session
from .settings import resolve_connection, resolve_names

__all__ = ["DynamoDBSessionStorage"]


class DynamoDBSessionStorage:
    """Sessions in a DynamoDB table shared, item for item, with Shopify's Node adapter.

    Names resolve as: arguments, then ``SHOPIFY_SESSIONS_TABLE`` /
    ``SHOPIFY_SESSIONS_SHOP_INDEX``, then ``shopify_sessions`` / ``shop_index``. Region and
    endpoint: arguments, then ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` and
    ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL``; credentials: arguments, then
    botocore's usual chain.

    ``page_size`` caps the keys per index query page (``None``: DynamoDB's 1 MB pages); every
    page is read either way. Reads of whole items are strongly consistent.
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
    ) -> None:
        self.table_name, self.shop_index_name = resolve_names(session_table_name, shop_index_name)
        self.connection = resolve_connection(
            region=region,
            host=host,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
        )
        if page_size is not None and page_size < 1:
            raise ValueError("page_size must be a positive number of keys, or None")
        self.page_size = page_size
        self.model: type[SessionModel] = bind_model(
            self.table_name, self.shop_index_name, self.connection
        )

    def __repr__(self) -> str:
        return (
            f"DynamoDBSessionStorage(table={self.table_name!r}, index={self.shop_index_name!r}, "
            f"region={self.connection.region!r}, host={self.connection.host!r})"
        )

    # --- table -------------------------------------------------------------------------------

    def create_table(
        self,
        wait: bool = True,
        read_capacity_units: int | None = None,
        write_capacity_units: int | None = None,
    ) -> None:
        """Create the table and shop index if missing (on-demand unless capacity is given)."""
        with self._errors("CreateTable"):
            self.model.create_table(
                wait=wait,
                read_capacity_units=read_capacity_units,
                write_capacity_units=write_capacity_units,
            )

    # --- the SessionStorage contract ---------------------------------------------------------

    def store_session(self, session: Session) -> bool:
        """One PutItem of the whole item: a full replace, as the Node adapter does."""
        _check_session(session)
        instance = session_to_model(session, self.model)
        with self._errors("PutItem"):
            instance.save()
        return True

    def load_session(self, id: str) -> Session | None:
        """One GetItem; an empty id is never stored, so it returns ``None`` with no request."""
        _check_id(id, allow_empty=True)
        if not id:
            return None
        with self._errors("GetItem"):
            response = self.model._get_connection().get_item(id, consistent_read=True)
        item = response.get("Item")
        return item_to_session(item, self.model) if item else None

    def delete_session(self, id: str) -> bool:
        """One DeleteItem; deleting an id that is not stored still returns ``True``."""
        _check_id(id)
        with self._errors("DeleteItem"):
            self.model._get_connection().delete_item(id)
        return True

    def delete_sessions(self, ids: Iterable[str]) -> bool:
        """Delete every id (duplicates once); missing ids are not an error."""
        unique = _unique_ids(ids)
        for id in unique:
            self.delete_session(id)
        return True

    def find_sessions_by_shop(self, shop: str) -> list[Session]:
        """Every session of ``shop``: all index pages, then each item."""
        sessions = []
        for id in self.find_session_ids_by_shop(shop):
            session = self.load_session(id)
            if session is not None:  # deleted since the query: simply not returned
                sessions.append(session)
        return sessions

    def find_session_ids_by_shop(self, shop: str) -> list[str]:
        """The ids the shop index holds for ``shop``, following every page."""
        _check_shop(shop)
        with self._errors("Query"):
            return [key.id for key in self.model.shop_index.query(shop, page_size=self.page_size)]

    # --- errors -------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn PynamoDB and botocore failures into ``SessionStorageError``s."""
        try:
            yield
        except TableDoesNotExist:
            raise TableNotFoundError(self.table_name) from None
        except PynamoDBException as error:
            code = getattr(error, "cause_response_code", None)
            if code == "ResourceNotFoundException":
                raise TableNotFoundError(self.table_name) from None
            raise SessionStorageError(_describe(action, self.table_name, error)) from None
        except (BotoCoreError, ClientError) as error:
            raise SessionStorageError(_describe(action, self.table_name, error)) from None


def _describe(action: str, table: str, error: Exception) -> str:
    """``DynamoDB PutItem on 'table' failed: Code: message`` without echoing request data."""
    cause: Any = getattr(error, "cause", None) or error
    if isinstance(cause, NoRegionError):
        detail = "no AWS region configured: pass region= or set AWS_REGION"
    elif isinstance(cause, ClientError):
        err = cause.response.get("Error", {})
        detail = f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    else:
        detail = f"{type(cause).__name__}: {cause}"
    return f"DynamoDB {action} on table {table!r} failed: {detail}"


def _check_id(id: Any, *, allow_empty: bool = False) -> None:
    if not isinstance(id, str):
        raise TypeError(f"session id must be a str, got {type(id).__name__}")
    if not id and not allow_empty:
        raise ValueError("session id must not be empty")


def _check_shop(shop: Any) -> None:
    if not isinstance(shop, str):
        raise TypeError(f"shop must be a str, got {type(shop).__name__}")
    if not shop:
        raise ValueError("shop must not be empty")


def _check_session(session: Any) -> None:
    if not isinstance(session, Session):
        raise TypeError(f"store_session expects a Session, got {type(session).__name__}")
    if not session.id:
        raise ValueError("session id must not be empty")
    if not session.shop:
        raise ValueError(f"session {session.id!r}: shop must not be empty")


def _unique_ids(ids: Iterable[str]) -> list[str]:
    if isinstance(ids, str):
        raise TypeError("delete_sessions expects an iterable of ids, not a single str")
    unique = list(dict.fromkeys(ids))
    for id in unique:
        _check_id(id)
    return unique
