"""What goes over the wire: exact Node items, tables, paging, names and errors.

Items are read back with raw botocore, never through our own code, and compared with the two
items the Node adapter wrote (shared/reference/node-adapter.md).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from shopify_sessions import (
    AssociatedUser,
    CorruptSessionError,
    DynamoDBSessionStorage,
    OnlineAccessInfo,
    RetryPolicy,
    Session,
    SessionModel,
    SessionStorageError,
    TableNotFoundError,
)
from tests.conftest import Backend
from tests.support.factories import SHOP, offline, online

NODE_ONLINE_ITEM: dict[str, Any] = {
    "id": {"S": "shop1.myshopify.com_123"},
    "shop": {"S": "shop1.myshopify.com"},
    "state": {"S": "st"},
    "isOnline": {"BOOL": True},
    "scope": {"S": "write_products,read_orders"},
    "expires": {"S": "2026-11-22T02:26:44.888Z"},
    "accessToken": {"S": "tok"},
    "refreshToken": {"S": "rt"},
    "refreshTokenExpires": {"S": "2026-11-23T01:26:44.888Z"},
    "onlineAccessInfo": {
        "M": {
            "expires_in": {"N": "3600"},
            "associated_user_scope": {"S": "write_products"},
            "associated_user": {
                "M": {
                    "id": {"N": "123"},
                    "first_name": {"S": "A"},
                    "last_name": {"S": "B"},
                    "email": {"S": "a@b.c"},
                    "email_verified": {"BOOL": True},
                    "account_owner": {"BOOL": True},
                    "locale": {"S": "en"},
                    "collaborator": {"BOOL": False},
                }
            },
        }
    },
}
NODE_OFFLINE_ITEM: dict[str, Any] = {
    "id": {"S": "offline_shop1.myshopify.com"},
    "shop": {"S": "shop1.myshopify.com"},
    "state": {"S": "st"},
    "isOnline": {"BOOL": False},
    "scope": {"S": "read_orders"},
    "accessToken": {"S": "tok2"},
}
NODE_ONLINE_SESSION = Session(
    id="shop1.myshopify.com_123",
    shop="shop1.myshopify.com",
    state="st",
    is_online=True,
    scope="write_products,read_orders",
    expires=datetime(2026, 11, 22, 2, 26, 44, 888000, tzinfo=timezone.utc),
    access_token="tok",
    refresh_token="rt",
    refresh_token_expires=datetime(2026, 11, 23, 1, 26, 44, 888000, tzinfo=timezone.utc),
    online_access_info=OnlineAccessInfo(
        expires_in=3600,
        associated_user_scope="write_products",
        associated_user=AssociatedUser(
            id=123,
            first_name="A",
            last_name="B",
            email="a@b.c",
            email_verified=True,
            account_owner=True,
            locale="en",
            collaborator=False,
        ),
    ),
)
NODE_OFFLINE_SESSION = Session(
    id="offline_shop1.myshopify.com",
    shop="shop1.myshopify.com",
    state="st",
    is_online=False,
    scope="read_orders",
    access_token="tok2",
)
EXAMPLES = [
    pytest.param(NODE_ONLINE_SESSION, NODE_ONLINE_ITEM, id="online"),
    pytest.param(NODE_OFFLINE_SESSION, NODE_OFFLINE_ITEM, id="offline"),
]


@pytest.mark.parametrize(("session", "item"), EXAMPLES)
def test_python_writes_exactly_the_node_item(dynamo: Backend, session: Session, item: Any) -> None:
    storage = dynamo.storage(ttl_grace=None)
    storage.store_session(session)
    assert dynamo.raw_item(storage, session.id) == item


@pytest.mark.parametrize(("session", "item"), EXAMPLES)
def test_by_default_only_a_ttl_is_added(dynamo: Backend, session: Session, item: Any) -> None:
    storage = dynamo.storage()
    storage.store_session(session)
    stored = dynamo.raw_item(storage, session.id)
    ttl = stored.pop("ttl", None)
    assert stored == item
    if session.is_online:  # refresh token: its expiry plus 7 days
        assert ttl == {"N": str(int(session.refresh_token_expires.timestamp()) + 7 * 86400)}
    else:  # an offline session that never expires: no TTL
        assert ttl is None


@pytest.mark.parametrize(("session", "item"), EXAMPLES)
def test_node_written_item_loads(dynamo: Backend, session: Session, item: Any) -> None:
    storage = dynamo.storage()
    dynamo.raw_client().put_item(TableName=storage.table_name, Item=item)
    assert storage.load_session(session.id) == session
    assert [s.id for s in storage.find_sessions_by_shop("shop1.myshopify.com")] == [session.id]


def test_absent_fields_are_not_written(dynamo: Backend) -> None:
    storage = dynamo.storage()
    storage.store_session(Session(id="bare", shop=SHOP, state="", is_online=False, scope=""))
    assert dynamo.raw_item(storage, "bare") == {
        "id": {"S": "bare"},
        "shop": {"S": SHOP},
        "state": {"S": ""},
        "isOnline": {"BOOL": False},
    }


def test_partial_associated_user_writes_only_given_keys(dynamo: Backend) -> None:
    storage = dynamo.storage()
    session = Session(
        id=f"{SHOP}_1099511627776",
        shop=SHOP,
        state="s",
        is_online=True,
        online_access_info=OnlineAccessInfo(
            associated_user=AssociatedUser(id=2**40, email="é@b.c")
        ),
    )
    storage.store_session(session)
    assert dynamo.raw_item(storage, session.id)["onlineAccessInfo"] == {
        "M": {"associated_user": {"M": {"id": {"N": "1099511627776"}, "email": {"S": "é@b.c"}}}}
    }
    assert storage.load_session(session.id) == session


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-11-22T02:26:44.888Z", datetime(2026, 11, 22, 2, 26, 44, 888000, timezone.utc)),
        ("2026-11-22T02:26:44Z", datetime(2026, 11, 22, 2, 26, 44, tzinfo=timezone.utc)),
        ("2026-11-22T04:26:44.888+02:00", datetime(2026, 11, 22, 2, 26, 44, 888000, timezone.utc)),
        (
            "2026-11-22T02:26:44.888123+0000",
            datetime(2026, 11, 22, 2, 26, 44, 888000, timezone.utc),
        ),
        ("2026-11-22T02:26:44.8", datetime(2026, 11, 22, 2, 26, 44, 800000, timezone.utc)),
    ],
)
def test_dates_in_any_iso_form_load(dynamo: Backend, stored: str, expected: datetime) -> None:
    storage = dynamo.storage()
    item = dict(NODE_OFFLINE_ITEM, expires={"S": stored}, refreshTokenExpires={"S": stored})
    dynamo.raw_client().put_item(TableName=storage.table_name, Item=item)
    loaded = storage.load_session(NODE_OFFLINE_SESSION.id)
    assert loaded.expires == expected
    assert loaded.refresh_token_expires == expected


def test_unknown_attributes_on_an_item_are_ignored(dynamo: Backend) -> None:
    storage = dynamo.storage()
    item = dict(NODE_OFFLINE_ITEM, someOtherField={"S": "x"}, ttl={"N": "123"})
    item["onlineAccessInfo"] = {"M": {"unknown_key": {"S": "x"}}}
    dynamo.raw_client().put_item(TableName=storage.table_name, Item=item)
    loaded = storage.load_session(NODE_OFFLINE_SESSION.id)
    assert loaded is not None and loaded.access_token == "tok2"
    # inside onlineAccessInfo, unknown keys are kept and written back, as Node does
    assert loaded.online_access_info == OnlineAccessInfo(extra={"unknown_key": "x"})
    storage.store_session(loaded)
    stored = dynamo.raw_item(storage, loaded.id)
    assert stored["onlineAccessInfo"] == item["onlineAccessInfo"]
    assert "someOtherField" not in stored


# --- tables ----------------------------------------------------------------------------------


def test_create_table_on_demand_with_keys_only_shop_index(dynamo: Backend) -> None:
    storage = dynamo.storage()
    table = dynamo.raw_client().describe_table(TableName=storage.table_name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "id", "AttributeType": "S"},
        {"AttributeName": "shop", "AttributeType": "S"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "shop_index"
    assert index["KeySchema"] == [{"AttributeName": "shop", "KeyType": "HASH"}]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert index["IndexStatus"] == "ACTIVE"


def test_create_table_provisioned_like_the_node_readme(dynamo: Backend) -> None:
    storage = dynamo.storage(create=False)
    storage.create_table(read_capacity_units=1, write_capacity_units=1)
    dynamo.tables.append(storage.table_name)
    table = dynamo.raw_client().describe_table(TableName=storage.table_name)["Table"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 1
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 1
    assert table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") == "PROVISIONED"
    [index] = table["GlobalSecondaryIndexes"]
    assert index["ProvisionedThroughput"]["ReadCapacityUnits"] == 1
    assert index["ProvisionedThroughput"]["WriteCapacityUnits"] == 1


def test_create_table_twice_is_fine(dynamo: Backend) -> None:
    storage = dynamo.storage()
    storage.create_table()
    storage.store_session(offline())
    assert storage.load_session(offline().id) == offline()


def test_create_table_needs_both_capacities(dynamo: Backend) -> None:
    with pytest.raises(ValueError, match="both"):
        dynamo.storage(create=False).create_table(read_capacity_units=1)


def test_default_session_model_creates_the_default_table() -> None:
    """Admin-script use; on moto in process only, as the default model's endpoint is fixed."""
    from moto import mock_aws

    with mock_aws():
        _default_session_model_creates_the_default_table(Backend("moto"))


def _default_session_model_creates_the_default_table(dynamo: Backend) -> None:
    from shopify_sessions.dynamodb.codec import model_to_session

    SessionModel.create_table()
    table = dynamo.raw_client().describe_table(TableName="shopify_sessions")["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "shop_index"
    SessionModel(id="offline_a", shop="a", state="s", is_online=False).save()
    assert [key.id for key in SessionModel.shop_index.query("a")] == ["offline_a"]
    DynamoDBSessionStorage(region="us-east-1").store_session(NODE_ONLINE_SESSION)
    scanned = {model.id: model_to_session(model) for model in SessionModel.scan()}
    assert scanned["offline_a"] == Session(id="offline_a", shop="a", state="s", is_online=False)
    assert scanned[NODE_ONLINE_SESSION.id] == NODE_ONLINE_SESSION


# --- custom names and isolation ----------------------------------------------------------------


def test_custom_table_and_index_names(dynamo: Backend) -> None:
    storage = dynamo.storage(table="custom_sessions_x", index="custom_shop_index")
    storage.store_session(offline())
    table = dynamo.raw_client().describe_table(TableName="custom_sessions_x")["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "custom_shop_index"
    assert storage.model.shop_index.Meta.index_name == "custom_shop_index"
    assert [s.id for s in storage.find_sessions_by_shop(SHOP)] == [offline().id]


def test_two_storages_on_different_tables_do_not_interfere(dynamo: Backend) -> None:
    first, second = dynamo.storage(), dynamo.storage(index="other_index")
    first.store_session(offline())
    second.store_session(online())
    assert first.load_session(online().id) is None
    assert second.load_session(offline().id) is None
    assert [s.id for s in first.find_sessions_by_shop(SHOP)] == [offline().id]
    assert [s.id for s in second.find_sessions_by_shop(SHOP)] == [online().id]
    assert SessionModel.Meta.table_name == "shopify_sessions"
    assert SessionModel.shop_index.Meta.index_name == "shop_index"
    assert first.model is not second.model
    default_connection = SessionModel._connection
    assert default_connection is None or default_connection.table_name == "shopify_sessions"


def test_same_settings_share_one_bound_model(dynamo: Backend) -> None:
    first = dynamo.storage()
    second = DynamoDBSessionStorage(first.table_name, host=dynamo.endpoint)
    assert second.model is first.model


# --- paging and request counts ----------------------------------------------------------------


def test_find_follows_every_index_page(dynamo: Backend, count_requests: Any) -> None:
    storage = dynamo.storage(page_size=3)
    sessions = [online(SHOP, user_id) for user_id in range(10)]
    for session in sessions:
        storage.store_session(session)
    counter = count_requests(storage)
    found = storage.find_sessions_by_shop(SHOP)
    assert sorted(s.id for s in found) == sorted(s.id for s in sessions)
    assert counter.by_operation["Query"] >= 4  # 10 keys at 3 a page: at least 4 pages


def test_load_of_empty_id_sends_nothing(dynamo: Backend, count_requests: Any) -> None:
    storage = dynamo.storage()
    counter = count_requests(storage)
    assert storage.load_session("") is None
    assert counter.total == 0


def test_each_single_operation_is_one_request(dynamo: Backend, count_requests: Any) -> None:
    storage = dynamo.storage()
    counter = count_requests(storage)
    storage.store_session(offline())
    storage.load_session(offline().id)
    storage.delete_session(offline().id)
    storage.delete_session("missing")
    assert dict(counter.by_operation) == {"PutItem": 1, "GetItem": 1, "DeleteItem": 2}


# --- errors ---------------------------------------------------------------------------------------


def test_missing_table_is_a_clear_error(dynamo: Backend) -> None:
    storage = dynamo.storage(table="no_such_table", create=False)
    for call in (
        lambda: storage.store_session(offline()),
        lambda: storage.load_session("x"),
        lambda: storage.delete_session("x"),
        lambda: storage.find_sessions_by_shop(SHOP),
    ):
        with pytest.raises(TableNotFoundError, match=r"'no_such_table'.*create_table"):
            call()


@pytest.mark.parametrize(
    ("attribute", "bad"),
    [
        ("isOnline", {"M": {}}),
        ("expires", {"S": "next tuesday"}),
        ("expires", {"S": "9999-12-31T23:59:59.000-05:00"}),
        ("refreshTokenExpires", {"S": "0001-01-01T00:00:00.000+05:00"}),
        ("shop", None),
        ("state", None),
        ("onlineAccessInfo", {"M": {"associated_user": {"M": {"first_name": {"S": "x"}}}}}),
        ("onlineAccessInfo", {"S": "not a map"}),
    ],
)
def test_corrupt_item_names_session_and_attribute(
    dynamo: Backend, attribute: str, bad: Any
) -> None:
    storage = dynamo.storage()
    item = dict(NODE_OFFLINE_ITEM)
    if bad is None:
        del item[attribute]
    else:
        item[attribute] = bad
    dynamo.raw_client().put_item(TableName=storage.table_name, Item=item)
    with pytest.raises(CorruptSessionError) as raised:
        storage.load_session(NODE_OFFLINE_SESSION.id)
    assert raised.value.session_id == NODE_OFFLINE_SESSION.id
    assert raised.value.attribute.startswith(attribute)
    assert "tok2" not in str(raised.value)


def test_unreachable_endpoint_is_a_storage_error() -> None:
    # every attempt the default policy makes, without its backoff (~1 s of sleeping)
    fast = RetryPolicy(base_delay=0.001, max_delay=0.01)
    storage = DynamoDBSessionStorage("t", host="http://127.0.0.1:9", region="us-east-1", retry=fast)
    with pytest.raises(SessionStorageError, match="GetItem on table 't' failed"):
        storage.load_session("x")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.store_session({"id": "x"}), TypeError),
        (
            lambda s: s.store_session(Session(id="", shop=SHOP, state="", is_online=False)),
            ValueError,
        ),
        (
            lambda s: s.store_session(Session(id="x", shop="", state="", is_online=False)),
            ValueError,
        ),
        (lambda s: s.load_session(None), TypeError),
        (lambda s: s.delete_session(""), ValueError),
        (lambda s: s.delete_sessions("offline_x"), TypeError),
        (lambda s: s.delete_sessions(["ok", 3]), TypeError),
        (lambda s: s.find_sessions_by_shop(""), ValueError),
    ],
)
def test_bad_input_is_refused_before_any_request(
    dynamo: Backend, count_requests: Any, call: Any, error: type[Exception]
) -> None:
    storage = dynamo.storage()
    counter = count_requests(storage)
    with pytest.raises(error):
        call(storage)
    assert counter.total == 0
