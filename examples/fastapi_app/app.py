"""An embedded Shopify app's backend on FastAPI, its sessions in DynamoDB (see README.md here).

    uvicorn app:create_app --factory --port 3000      # the app
    python app.py check-shops --concurrency 8          # the Admin call for every shop (cron)

The Shopify logic is ``shopify_sessions.integrations.embedded_app_async.AsyncBackend`` (the
same flows as the Flask and Django examples' backend, awaited); this file is the FastAPI glue:
one backend per app, made in the lifespan and handed to the routes as a dependency,
shopifyapp's request and response shapes, the routes and the job.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from shopify_app.types import RequestInput, Res

from shopify_sessions import (
    AsyncDynamoDBSessionStorage,
    AsyncMemorySessionStorage,
    AsyncSessionStorage,
    TokenRefreshError,
)
from shopify_sessions.integrations.embedded_app_async import AsyncBackend
from shopify_sessions.integrations.embedded_app_flows import (
    PATCH_ID_TOKEN_PATH,
    ShopifyRefused,
    Verified,
    app_home_page,
    shop_of,
)


@dataclass(frozen=True)
class Settings:
    """The app's credentials and options; :meth:`from_env` reads them as ``shopify app dev``
    exports them."""

    api_key: str
    api_secret: str = field(repr=False)
    online_tokens: bool = False  # also keep each user's online token
    sessions: str = "dynamodb"  # or "memory": this process only (a demo, a test)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            api_key=os.environ.get("SHOPIFY_API_KEY", ""),
            api_secret=os.environ.get("SHOPIFY_API_SECRET", ""),
            online_tokens=os.environ.get("SHOPIFY_ONLINE_TOKENS") == "1",
            sessions=os.environ.get("SHOPIFY_SESSIONS_BACKEND", "dynamodb"),
        )


def make_storage(kind: str) -> AsyncSessionStorage:
    """``dynamodb``: table, region and endpoint from the environment, as anywhere
    (SHOPIFY_SESSIONS_TABLE, AWS_ENDPOINT_URL_DYNAMODB, ...); ``memory``: in this process."""
    if kind == "memory":
        return AsyncMemorySessionStorage()
    if kind == "dynamodb":
        return AsyncDynamoDBSessionStorage()
    raise ValueError(f"SHOPIFY_SESSIONS_BACKEND is 'dynamodb' or 'memory', not {kind!r}")


@asynccontextmanager
async def shopify_backend(
    settings: Settings,
    storage: AsyncSessionStorage | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> AsyncIterator[AsyncBackend]:
    """The backend, for the app's lifespan or one run of the job. A storage or HTTP client
    made here is closed at the end; one passed in stays open (its owner closes it)."""
    async with AsyncExitStack() as owned:
        if storage is None:
            storage = await owned.enter_async_context(make_storage(settings.sessions))
        if http_client is None:
            http_client = await owned.enter_async_context(httpx.AsyncClient(timeout=10.0))
        yield AsyncBackend.create(
            settings.api_key,
            settings.api_secret,
            storage=storage,
            http=http_client,
            online_tokens=settings.online_tokens,
        )


def create_app(
    settings: Settings | None = None,
    *,
    storage: AsyncSessionStorage | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> FastAPI:
    """The app; its backend is made when it starts (the lifespan) and closed when it stops."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with shopify_backend(settings, storage, http_client) as backend:
            app.state.shopify = backend
            yield

    app = FastAPI(lifespan=lifespan, openapi_url=None)  # no public schema for an admin app
    app.include_router(routes)
    app.add_exception_handler(ShopifyRefused, refused)
    app.add_exception_handler(TokenRefreshError, refresh_failed)
    return app


# --- dependencies: the backend, the request as shopifyapp takes it, the verified App Home ---


def get_backend(request: Request) -> AsyncBackend:
    backend: AsyncBackend = request.app.state.shopify
    return backend


Backend = Annotated[AsyncBackend, Depends(get_backend)]


async def shopify_request(request: Request) -> RequestInput:
    """The request as shopifyapp needs it: method, headers, full URL and body, unchanged."""
    body = (await request.body()).decode("utf-8", errors="replace")
    headers = dict(request.headers)
    return {"method": request.method, "headers": headers, "url": str(request.url), "body": body}


async def verify_app_home(request: Request, backend: Backend) -> Verified:
    """The verified App Home request; shopifyapp's answer (401, 302) otherwise."""
    return backend.verify_app_home(await shopify_request(request))


AppHome = Annotated[Verified, Depends(verify_app_home)]


def to_response(res: Res) -> Response:
    return Response(res.body, status_code=res.status, headers=res.headers)


async def refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, ShopifyRefused)
    return to_response(error.response)  # verbatim: it carries Shopify's retry headers


async def refresh_failed(request: Request, error: Exception) -> Response:
    return PlainTextResponse("Shopify did not answer the token refresh; try again", 503)


# --- the routes -----------------------------------------------------------------------------

routes = APIRouter()


@routes.get("/")
async def home(verified: AppHome, backend: Backend) -> HTMLResponse:
    session = await backend.install(verified)  # token exchange on first open, then stored
    page = app_home_page(backend.shopify.config["client_id"], session.shop)  # the API key
    return HTMLResponse(page, headers=verified.response.headers)  # CSP frame-ancestors


@routes.get(PATCH_ID_TOKEN_PATH)
async def patch_id_token(request: Request, backend: Backend) -> Response:
    patch_page = backend.shopify.app_home_patch_id_token(await shopify_request(request))
    return to_response(patch_page.response)


@routes.get("/api/shop")
async def shop_api(verified: AppHome, backend: Backend) -> Response:
    result = await backend.admin_call(shop_of(verified), verified)
    assert result is not None  # in a request, a missing session is exchanged
    if not result.ok:
        return to_response(result.response)  # a second 401: App Bridge's retry answer
    return JSONResponse({"shop": (result.data or {}).get("shop")})


@routes.post("/webhooks")
async def webhooks(request: Request, backend: Backend) -> Response:
    """HMAC checked; uninstall and privacy topics answered without a token (docs/guides)."""
    topic = request.headers.get("X-Shopify-Topic")
    return to_response(await backend.webhook(await shopify_request(request), topic))


# --- the job ----------------------------------------------------------------------------------


async def check_shops(
    concurrency: int = 8,
    settings: Settings | None = None,
    *,
    storage: AsyncSessionStorage | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> list[str]:
    """The Admin call for every installed shop, ``concurrency`` at once: a line per shop."""
    async with shopify_backend(settings or Settings.from_env(), storage, http_client) as backend:
        outcomes = await backend.check_all_shops(concurrency)
    return [f"{shop}: {outcome}" for shop, outcome in outcomes.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="app.py")
    commands = parser.add_subparsers(dest="command", required=True)
    job = commands.add_parser("check-shops", help="the Admin call for every installed shop")
    job.add_argument("--concurrency", type=int, default=8, help="shops called at once (8)")
    args = parser.parse_args(argv)
    for line in asyncio.run(check_shops(args.concurrency)):
        print(line)


if __name__ == "__main__":
    main()
