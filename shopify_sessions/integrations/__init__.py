"""Bridges between ``Session`` and other Shopify libraries' types.

Each submodule needs its library (an extra of this package) and is imported only on demand:

- :mod:`shopify_sessions.integrations.shopifyapp`: ``Session`` <-> the
  ``TokenExchangeAccessToken`` of Shopify's ``shopifyapp`` package
  (``pip install 'shopify-sessions[shopifyapp]'``).
- :mod:`shopify_sessions.integrations.shopifyapi`: ``Session`` <-> ``shopify.Session`` of
  Shopify's older ``ShopifyAPI`` package (``pip install 'shopify-sessions[shopifyapi]'``).
- :mod:`shopify_sessions.integrations.django`: a Django app, one storage per process from
  ``settings.SHOPIFY_SESSIONS`` and a table check (``pip install 'shopify-sessions[django]'``).
"""
