"""The DynamoDB layer, top down: the storages (``dynamodb_storage``,
``async_dynamodb_storage``, both a ``table_storage``), the plans they run (``table_plans``,
``session_plans``, ``lease_plans``) and their requests (``table_requests``), the item codec
(``codec``), the PynamoDB model (``session_model``, ``attributes``), and what the item
carries besides (``cipher``, ``ttl``)."""
