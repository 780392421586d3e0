"""Bridges between ``Session`` and other Shopify libraries' types.

Each submodule needs its library (an extra of this package) and is imported only on demand:

- :mod:`shopify_sessions.integrations.shopifyapp`: ``Session`` <-> the
  ``TokenExchangeAccessToken`` of Shopify's ``shopifyapp`` package
  (``pip install 'shopify-sessions[shopifyapp]'``).
"""
