"""The DynamoDB layer, top down: the storages (``storage``, ``storage_async``), the request
plans they run (``table_requests``), the item codec (``codec``), the PynamoDB model
(``model``, ``attributes``), and what the item carries besides (``cipher``, ``ttl``)."""
