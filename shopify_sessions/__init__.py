"""Shopify app OAuth sessions in DynamoDB, item for item compatible with Shopify's Node adapter.

from shopify_sessions import DynamoDBSessionStorage, Session

storage = DynamoDBSessionStorage()          # table "shopify_sessions", index "shop_index"
storage.store_session(session)
storage.load_session("offline_example.myshopify.com")
"""

from typing import TYPE_CHECKING, Any

from .cipher import TokenCipher, TokenDecryptionError, UnknownKeyError
from .dynamodb import DynamoDBSessionStorage
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
from .memory import MemorySessionStorage
from .model import SessionModel, ShopIndex
from .retry import RetryPolicy
from .scopes import AuthScopes
from .session import (
    AssociatedUser,
    OnlineAccessInfo,
    Session,
    offline_session_id,
    online_session_id,
)
from .storage import SessionStorage
from .tokens.errors import ReauthorizationRequiredError, TokenRefreshError

if TYPE_CHECKING:
    from .tokens.refresher import ShopifyTokenRefresher

__all__ = [
    "AccessDeniedError",
    "AssociatedUser",
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


def __getattr__(name: str) -> Any:
    """``ShopifyTokenRefresher`` on first use: it brings httpx, which a plain storage
    user (a Lambda reading sessions) should not pay for at import."""
    if name == "ShopifyTokenRefresher":
        from .tokens.refresher import ShopifyTokenRefresher

        return ShopifyTokenRefresher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
