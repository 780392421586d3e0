"""The Django glue: shopifyapp's request and response shapes, and the four views.

The Shopify logic is in ``shopify_sessions.integrations.embedded_app`` (shared with the Flask
example).
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from shopify_app.types import RequestInput, Res

from shopify_sessions import TokenRefreshError
from shopify_sessions.integrations.embedded_app import (
    ShopifyRefused,
    Verified,
    app_home_page,
    shop_of,
)

from .services import backend


def shopify_request(request: HttpRequest) -> RequestInput:
    """The request as shopifyapp needs it: method, headers, full URL and body, unchanged."""
    return {
        "method": request.method or "GET",
        "headers": dict(request.headers),
        "url": request.build_absolute_uri(),
        "body": request.body.decode("utf-8", errors="replace"),
    }


def to_response(res: Res) -> HttpResponse:
    return HttpResponse(res.body, status=res.status, headers=res.headers)


def app_home(view: Callable[[HttpRequest, Verified], HttpResponse]) -> Callable[..., HttpResponse]:
    """Runs ``view`` with the verified App Home request; shopifyapp's answer otherwise."""

    @wraps(view)
    def verified_view(request: HttpRequest) -> HttpResponse:
        try:
            return view(request, backend().verify_app_home(shopify_request(request)))
        except ShopifyRefused as refused:
            return to_response(refused.response)  # verbatim: it carries Shopify's retry headers
        except TokenRefreshError:
            return HttpResponse("Shopify did not answer the token refresh; try again", status=503)

    return verified_view


@require_GET
@app_home
def home(request: HttpRequest, verified: Verified) -> HttpResponse:
    session = backend().install(verified)  # token exchange on first open, then stored
    page = app_home_page(settings.SHOPIFY_API_KEY, session.shop)
    return HttpResponse(page, headers=verified.response.headers)  # CSP frame-ancestors


@require_GET
def patch_id_token(request: HttpRequest) -> HttpResponse:
    return to_response(backend().shopify.app_home_patch_id_token(shopify_request(request)).response)


@require_GET
@app_home
def shop_api(request: HttpRequest, verified: Verified) -> HttpResponse:
    result = backend().admin_call(shop_of(verified), verified)
    assert result is not None  # in a request, a missing session is exchanged
    if not result.ok:
        return to_response(result.response)  # a second 401: App Bridge's retry answer
    return JsonResponse({"shop": (result.data or {}).get("shop")})


@csrf_exempt  # signed by Shopify (HMAC), no cookie involved
@require_POST
def webhooks(request: HttpRequest) -> HttpResponse:
    """HMAC checked; uninstall and privacy topics answered without a token (docs/guides)."""
    topic = request.headers.get("X-Shopify-Topic")
    return to_response(backend().webhook(shopify_request(request), topic))
