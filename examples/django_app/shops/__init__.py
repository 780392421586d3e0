"""The example's Django app: views, the Shopify backend, the check_shops command."""
