"""Shopify app OAuth sessions in DynamoDB, item for item compatible with Shopify's Node adapter.

from shopify_sessions import DynamoDBSessionStorage, Session

storage = DynamoDBSessionStorage()          # table "shopify_sessions", index "shop_index"
storage.store_session(session)
storage.load_session("offline_example.myshopify.com")
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from shopify_sessions.domain.scopes import AuthScopes
    from shopify_sessions.domain.session import (
        AssociatedUser,
        OnlineAccessInfo,
        Session,
        offline_session_id,
        online_session_id,
    )
    from shopify_sessions.dynamodb.async_dynamodb_storage import AsyncDynamoDBSessionStorage
    from shopify_sessions.dynamodb.cipher import (
        TokenCipher,
        TokenDecryptionError,
        UnknownKeyError,
    )
    from shopify_sessions.dynamodb.dynamodb_storage import DynamoDBSessionStorage
    from shopify_sessions.dynamodb.retry import RetryPolicy
    from shopify_sessions.dynamodb.session_model import SessionModel, ShopIndex
    from shopify_sessions.memory.async_memory_storage import AsyncMemorySessionStorage
    from shopify_sessions.memory.memory_storage import MemorySessionStorage
    from shopify_sessions.tokens.refresh_errors import (
        ReauthorizationRequiredError,
        TokenRefreshError,
    )
    from shopify_sessions.tokens.refresher import ShopifyTokenRefresher
    from shopify_sessions.tokens.refresher_async import AsyncShopifyTokenRefresher

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
    from .session_storage import AsyncSessionStorage, SessionStorage

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
    "__version__",
    "offline_session_id",
    "online_session_id",
]


_LAZY = {  # name: module, imported on first use
    "AccessDeniedError": ".errors",
    "AssociatedUser": ".domain.session",
    "AsyncDynamoDBSessionStorage": ".dynamodb.async_dynamodb_storage",
    "AsyncMemorySessionStorage": ".memory.async_memory_storage",
    "AsyncSessionStorage": ".session_storage",
    "AsyncShopifyTokenRefresher": ".tokens.refresher_async",
    "AuthScopes": ".domain.scopes",
    "CorruptSessionError": ".errors",
    "DynamoDBSessionStorage": ".dynamodb.dynamodb_storage",
    "InvalidSessionError": ".errors",
    "MemorySessionStorage": ".memory.memory_storage",
    "OnlineAccessInfo": ".domain.session",
    "ReauthorizationRequiredError": ".tokens.refresh_errors",
    "RetryPolicy": ".dynamodb.retry",
    "SchemaMismatchError": ".errors",
    "Session": ".domain.session",
    "SessionConflictError": ".errors",
    "SessionModel": ".dynamodb.session_model",
    "SessionStorage": ".session_storage",
    "SessionStorageError": ".errors",
    "ShopIndex": ".dynamodb.session_model",
    "ShopifyTokenRefresher": ".tokens.refresher",
    "StorageUnavailableError": ".errors",
    "TableNotFoundError": ".errors",
    "TokenCipher": ".dynamodb.cipher",
    "TokenDecryptionError": ".dynamodb.cipher",
    "TokenRefreshError": ".tokens.refresh_errors",
    "UnknownKeyError": ".dynamodb.cipher",
    "offline_session_id": ".domain.session",
    "online_session_id": ".domain.session",
}


def __getattr__(name: str) -> Any:
    """Every public name is imported on first use: a Lambda that only loads sessions pays
    neither for what it does not use (the token refresh, the memory and async storages, httpx,
    asyncio) nor for the allocations that would tip its cold start into a full collection."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
