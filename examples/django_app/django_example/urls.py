"""The routes: App Home, its patch page, the Admin API call, webhooks."""

from django.urls import path
from shops import views

from shopify_sessions.integrations.embedded_app import PATCH_ID_TOKEN_PATH

urlpatterns = [
    path("", views.home),
    path(PATCH_ID_TOKEN_PATH.lstrip("/"), views.patch_id_token),
    path("api/shop", views.shop_api),
    path("webhooks", views.webhooks),
]
