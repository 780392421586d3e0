"""Settings of the example: no database (sessions are in DynamoDB), the environment decides."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")

INSTALLED_APPS = [
    "shopify_sessions.integrations.django",  # get_storage(), and the table check
    "shops",
]
# No session, auth or CSRF middleware: nothing uses cookies. App Home requests carry a signed
# session token, webhooks an HMAC; shopifyapp verifies both. No XFrameOptionsMiddleware: the
# app is framed by the Shopify admin (shopifyapp's CSP frame-ancestors says by whom).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "django_example.urls"
WSGI_APPLICATION = "django_example.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

SHOPIFY_API_KEY = os.environ.get("SHOPIFY_API_KEY", "")
SHOPIFY_API_SECRET = os.environ.get("SHOPIFY_API_SECRET", "")
SHOPIFY_ONLINE_TOKENS = os.environ.get("SHOPIFY_ONLINE_TOKENS") == "1"

# DynamoDBSessionStorage's keyword arguments; left out, the environment decides as anywhere
# (SHOPIFY_SESSIONS_TABLE, AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB for a local endpoint).
SHOPIFY_SESSIONS = {
    "BACKEND": "shopify_sessions.DynamoDBSessionStorage",
    "OPTIONS": {},
    "CHECK_TABLE": True,  # manage.py check verifies the table
}
