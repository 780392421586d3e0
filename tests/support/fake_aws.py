"""Point botocore at nothing real: fake credentials, no endpoint, no profile.

Call before anything imports botocore or shopify_sessions (both read the environment).
Only the standard library is used here.
"""

from __future__ import annotations

import os

_CLEARED = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_PROFILE",
    "SHOPIFY_SESSIONS_TABLE",
    "SHOPIFY_SESSIONS_SHOP_INDEX",
)


def use_fake_aws_environment() -> None:
    """Fake credentials in us-east-1, and no endpoint, profile or table names from outside."""
    for name in _CLEARED:
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
