"""Shopify app OAuth sessions in DynamoDB, item for item compatible with Shopify's Node adapter.

from shopify_sessions import DynamoDBSessionStorage, Session

storage = DynamoDBSessionStorage()          # table "shopify_sessions", index "shop_index"
storage.store_session(session)
storage.load_session("offline_example.myshopify.com")
"""

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

__all__ = [
    "AccessDeniedError",
    "AssociatedUser",
    "AuthScopes",
    "CorruptSessionError",
    "DynamoDBSessionStorage",
    "InvalidSessionError",
    "MemorySessionStorage",
    "OnlineAccessInfo",
    "RetryPolicy",
    "SchemaMismatchError",
    "Session",
    "SessionConflictError",
    "SessionModel",
    "SessionStorage",
    "SessionStorageError",
    "ShopIndex",
    "StorageUnavailableError",
    "TableNotFoundError",
    "TokenCipher",
    "TokenDecryptionError",
    "UnknownKeyError",
    "offline_session_id",
    "online_session_id",
]

__version__ = "0.1.0"
