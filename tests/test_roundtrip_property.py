"""Property: any Session survives Session -> DynamoDB item -> Session unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from shopify_sessions import AssociatedUser, OnlineAccessInfo, Session
from shopify_sessions.dynamodb.codec import item_to_session, session_to_item, session_to_model
from shopify_sessions.dynamodb.session_model import SessionModel

text = st.text(max_size=40)
non_empty = st.text(min_size=1, max_size=40)
optional_text = st.none() | text
optional_bool = st.none() | st.booleans()
zones = st.sampled_from(
    [None, timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
)
dates = st.none() | st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30), timezones=zones
)
user_ids = st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1) | st.just(2**40)

users = st.builds(
    AssociatedUser,
    id=user_ids,
    first_name=optional_text,
    last_name=optional_text,
    email=optional_text,
    email_verified=optional_bool,
    account_owner=optional_bool,
    locale=optional_text,
    collaborator=optional_bool,
)
infos = st.builds(
    OnlineAccessInfo,
    expires_in=st.none() | st.integers(min_value=0, max_value=10**9),
    associated_user_scope=optional_text,
    associated_user=st.none() | users,
)
sessions = st.builds(
    Session,
    id=non_empty,
    shop=non_empty,
    state=text,
    is_online=st.booleans(),
    scope=optional_text,
    expires=dates,
    access_token=optional_text,
    refresh_token=optional_text,
    refresh_token_expires=dates,
    online_access_info=st.none() | infos,
)


@settings(max_examples=300, deadline=None)
@given(sessions)
def test_any_session_survives_the_item_format(session: Session) -> None:
    item = session_to_item(session)
    assert all(
        value not in ({"NULL": True}, {"S": ""})
        for key, value in item.items()
        if key not in ("state",)
    ), item
    assert item_to_session(item) == session


@settings(max_examples=200, deadline=None)
@given(sessions, st.none() | st.integers(min_value=0, max_value=2**40))
def test_the_items_fast_path_is_what_the_model_serializes(
    session: Session, ttl: int | None
) -> None:
    """``session_to_item`` skips building the model instance; it must give the same item."""
    instance = session_to_model(session, SessionModel)
    instance.ttl = ttl
    assert session_to_item(session, SessionModel, ttl=ttl) == instance.serialize()
