"""One backend per process, from settings; the storage is the integration's ``get_storage()``."""

import functools

import httpx
from django.conf import settings

from shopify_sessions.integrations.django import get_storage
from shopify_sessions.integrations.embedded_app import Backend


def http_client() -> httpx.Client:
    """Every call to Shopify goes through this client (tests route it to a fake Shopify)."""
    return httpx.Client(timeout=10.0)


@functools.cache
def backend() -> Backend:
    return Backend.create(
        settings.SHOPIFY_API_KEY,
        settings.SHOPIFY_API_SECRET,
        storage=get_storage(),
        http=http_client(),
        online_tokens=settings.SHOPIFY_ONLINE_TOKENS,
    )
