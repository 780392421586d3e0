"""An embedded Shopify app's backend on Flask, its sessions in DynamoDB (see README.md here).

    flask --app app run --port 3000        # Flask finds create_app()
    flask --app app check-shops            # the Admin call for every installed shop (cron)

The Shopify logic is in ``shopify_sessions.integrations.embedded_app``; this file is the Flask
glue: one backend per process in ``app.extensions``, shopifyapp's request and response shapes,
and the routes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
import httpx
from flask import Blueprint, Flask, Response, current_app, request
from flask.cli import with_appcontext
from flask.typing import ResponseReturnValue
from shopify_app.types import RequestInput, Res

from shopify_sessions import DynamoDBSessionStorage, SessionStorage, TokenRefreshError
from shopify_sessions.integrations.embedded_app import (
    PATCH_ID_TOKEN_PATH,
    Backend,
    ShopifyRefused,
    Verified,
    app_home_page,
    shop_of,
)

routes = Blueprint("shopify", __name__)


def create_app(
    *, storage: SessionStorage | None = None, http_client: httpx.Client | None = None, **config: Any
) -> Flask:
    """The app, its backend made once. Defaults: DynamoDB as the environment says
    (SHOPIFY_SESSIONS_TABLE, AWS_ENDPOINT_URL_DYNAMODB, ...) and a plain ``httpx.Client``."""
    app = Flask(__name__)
    app.config.update(
        SHOPIFY_API_KEY=os.environ.get("SHOPIFY_API_KEY", ""),
        SHOPIFY_API_SECRET=os.environ.get("SHOPIFY_API_SECRET", ""),
        SHOPIFY_ONLINE_TOKENS=os.environ.get("SHOPIFY_ONLINE_TOKENS") == "1",
    )
    app.config.update(config)
    app.extensions["shopify"] = Backend.create(
        app.config["SHOPIFY_API_KEY"],
        app.config["SHOPIFY_API_SECRET"],
        storage=storage or DynamoDBSessionStorage(),
        http=http_client,
        online_tokens=app.config["SHOPIFY_ONLINE_TOKENS"],
    )
    app.register_blueprint(routes)
    app.cli.add_command(check_shops)
    return app


def backend() -> Backend:
    return current_app.extensions["shopify"]  # type: ignore[no-any-return]


def shopify_request() -> RequestInput:
    """The request as shopifyapp needs it: method, headers, full URL and body, unchanged."""
    return {
        "method": request.method,
        "headers": dict(request.headers),
        "url": request.url,
        "body": request.get_data(as_text=True),
    }


def to_response(res: Res) -> Response:
    return Response(res.body, status=res.status, headers=res.headers)


@routes.errorhandler(ShopifyRefused)
def refused(error: ShopifyRefused) -> Response:
    return to_response(error.response)  # verbatim: it carries Shopify's retry headers


@routes.errorhandler(TokenRefreshError)
def refresh_failed(error: TokenRefreshError) -> ResponseReturnValue:
    return "Shopify did not answer the token refresh; try again", 503


def app_home(view: Callable[[Verified], ResponseReturnValue]) -> Callable[[], ResponseReturnValue]:
    """Runs ``view`` with the verified App Home request; shopifyapp's answer otherwise."""

    @wraps(view)
    def verified_view() -> ResponseReturnValue:
        return view(backend().verify_app_home(shopify_request()))

    return verified_view


@routes.get("/")
@app_home
def home(verified: Verified) -> ResponseReturnValue:
    session = backend().install(verified)  # token exchange on first open, then stored
    page = app_home_page(current_app.config["SHOPIFY_API_KEY"], session.shop)
    return Response(page, headers=verified.response.headers)  # CSP frame-ancestors


@routes.get(PATCH_ID_TOKEN_PATH)
def patch_id_token() -> Response:
    return to_response(backend().shopify.app_home_patch_id_token(shopify_request()).response)


@routes.get("/api/shop")
@app_home
def shop_api(verified: Verified) -> ResponseReturnValue:
    result = backend().admin_call(shop_of(verified), verified)
    assert result is not None  # in a request, a missing session is exchanged
    if not result.ok:
        return to_response(result.response)  # a second 401: App Bridge's retry answer
    return {"shop": (result.data or {}).get("shop")}


@routes.post("/webhooks")
def webhooks() -> Response:
    """HMAC checked; uninstall and privacy topics answered without a token (docs/guides)."""
    topic = request.headers.get("X-Shopify-Topic")
    return to_response(backend().webhook(shopify_request(), topic))


@click.command("check-shops")
@click.option("--concurrency", default=8, show_default=True, help="Shops called at once.")
@with_appcontext
def check_shops(concurrency: int) -> None:
    """Call the Admin API for every installed shop (run it from cron)."""
    for shop, outcome in backend().check_all_shops(concurrency).items():
        click.echo(f"{shop}: {outcome}")
