"""Sessions in the other forms Shopify's Node libraries use: the Node adapter's plain JSON
(exports, imports) and the ``(key, value)`` rows of the SQL-backed storages."""
