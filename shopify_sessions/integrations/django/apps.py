"""The app config: registers the table check and follows changes of the setting."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.core.signals import setting_changed

from . import SETTING, reset_storage
from .checks import check_table

__all__ = ["ShopifySessionsConfig"]


def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING:
        reset_storage()


class ShopifySessionsConfig(AppConfig):  # type: ignore[misc]  # Django ships no types
    name = "shopify_sessions.integrations.django"
    label = "shopify_sessions"
    verbose_name = "Shopify sessions"

    def ready(self) -> None:
        checks.register(check_table, "shopify_sessions")
        setting_changed.connect(_setting_changed, dispatch_uid="shopify_sessions.setting")
