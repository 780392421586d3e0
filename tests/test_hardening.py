"""Hardening from the red-team pass and the newcomer trial (issue 12): one test per class."""

from __future__ import annotations

from typing import Any

from tests.conftest import Backend
from tests.factories import offline, online


def test_models_from_get_scan_and_query_never_print_tokens(dynamo: Backend) -> None:
    storage = dynamo.storage()
    sessions = [offline(refresh_token="shprt_SECRET_REFRESH"), online()]
    for session in sessions:
        storage.store_session(session)
    model = storage.model
    found: list[Any] = [model.get(sessions[0].id), *model.scan()]
    found += [model.get(key.id) for key in model.shop_index.query(sessions[0].shop)]
    assert len(found) == 5
    for instance in found:
        for shown in (repr(instance), str(instance), f"{instance}", repr([instance])):
            assert "shp" not in shown.replace("shop", ""), shown
            assert "access_token='***'" in shown
