"""Test helpers for apps using shopify_sessions: a fake Shopify token endpoint on loopback.

Names are imported on first use, so enabling the pytest plugin costs nothing until a test asks
for the fake (httpx and the server load then).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fake_shopify import (
        AsyncLoopbackTransport,
        Call,
        FakeShopify,
        Grant,
        LoopbackTransport,
    )

__all__ = ["AsyncLoopbackTransport", "Call", "FakeShopify", "Grant", "LoopbackTransport"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from . import fake_shopify

        return getattr(fake_shopify, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
