"""Shopify app OAuth sessions in DynamoDB, item for item compatible with Shopify's Node adapter.

from shopify_sessions import DynamoDBSessionStorage, Session

storage = DynamoDBSessionStorage()          # table "shopify_sessions", index "shop_index"
storage.store_session(session)
storage.load_session("offline_example.myshopify.com")
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from shopify_sessions.domain.scopes import AuthScopes
from shopify_sessions.domain.session import (
    AssociatedUser,
    OnlineAccessInfo,
    Session,
    offline_session_id,
    online_session_id,
)
from shopify_sessions.dynamodb.cipher import TokenCipher, TokenDecryptionError, UnknownKeyError
from shopify_sessions.dynamodb.model import SessionModel, ShopIndex
from shopify_sessions.dynamodb.retry import RetryPolicy
from shopify_sessions.dynamodb.storage import DynamoDBSessionStorage
from shopify_sessions.memory.storage import MemorySessionStorage
from shopify_sessions.tokens.errors import ReauthorizationRequiredError, TokenRefreshError

from .errors import (
    AccessDeniedError,
    CorruptSessionError,
    InvalidSessionError,
    SchemaMismatchError,
    SessionConflictError,
    SessionStorageError,
    StorageUnavailableError,
    TableNotFoundError,
)
from .storage import AsyncSessionStorage, SessionStorage

if TYPE_CHECKING:
    from shopify_sessions.dynamodb.storage_async import AsyncDynamoDBSessionStorage
    from shopify_sessions.memory.storage_async import AsyncMemorySessionStorage
    from shopify_sessions.tokens.refresher import ShopifyTokenRefresher
    from shopify_sessions.tokens.refresher_async import AsyncShopifyTokenRefresher

__all__ = [
    "AccessDeniedError",
    "AssociatedUser",
    "AsyncDynamoDBSessionStorage",
    "AsyncMemorySessionStorage",
    "AsyncSessionStorage",
    "AsyncShopifyTokenRefresher",
    "AuthScopes",
    "CorruptSessionError",
    "DynamoDBSessionStorage",
    "InvalidSessionError",
    "MemorySessionStorage",
    "OnlineAccessInfo",
    "ReauthorizationRequiredError",
    "RetryPolicy",
    "SchemaMismatchError",
    "Session",
    "SessionConflictError",
    "SessionModel",
    "SessionStorage",
    "SessionStorageError",
    "ShopIndex",
    "ShopifyTokenRefresher",
    "StorageUnavailableError",
    "TableNotFoundError",
    "TokenCipher",
    "TokenDecryptionError",
    "TokenRefreshError",
    "UnknownKeyError",
    "offline_session_id",
    "online_session_id",
]

__version__ = "0.1.0"


_LAZY = {  # name: module, imported on first use
    "ShopifyTokenRefresher": ".tokens.refresher",
    "AsyncShopifyTokenRefresher": ".tokens.refresher_async",
    "AsyncMemorySessionStorage": ".memory.storage_async",
    "AsyncDynamoDBSessionStorage": ".dynamodb.storage_async",
}


def __getattr__(name: str) -> Any:
    """The refreshers and the async storage on first use: they bring httpx or asyncio, which a
    plain storage user (a Lambda reading sessions) should not pay for at import."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
