"""Shopify app OAuth sessions in DynamoDB, item for item compatible with Shopify's Node adapter.

from shopify_sessions import DynamoDBSessionStorage, Session

storage = DynamoDBSessionStorage()          # table "shopify_sessions", index "shop_index"
storage.store_session(session)
storage.load_session("offline_example.myshopify.com")
"""

from .dynamodb import DynamoDBSessionStorage
from .errors import CorruptSessionError, SessionStorageError, TableNotFoundError
from .memory import MemorySessionStorage
from .model import SessionModel, ShopIndex
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
    "AssociatedUser",
    "AuthScopes",
    "CorruptSessionError",
    "DynamoDBSessionStorage",
    "MemorySessionStorage",
    "OnlineAccessInfo",
    "Session",
    "SessionModel",
    "SessionStorage",
    "SessionStorageError",
    "ShopIndex",
    "TableNotFoundError",
    "offline_session_id",
    "online_session_id",
]

__version__ = "0.1.0"
