"""Whatever an SQS message body holds, the notification processor answers it: a notification
is sent, anything else gets its `rejected` row, and no body fails the record or the batch."""

import json
import uuid

import notification_processor
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roxs_common import from_item
from tests.unit.conftest import HISTORY_TABLE
from tests.unit.test_notification_processor import API_BODY, counters, sqs_record

# Bodies no notification can come from, one strategy per kind.
DEEP = st.one_of(
    st.integers(1, 20_000).map(lambda depth: "[" * depth),  # never closed
    st.integers(33, 5_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(33, 3_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(33, 200).map(lambda depth: '{"title": ' + "[" * depth + '"t"' + "]" * depth + "}"),
)
HUGE_NUMBERS = st.one_of(
    st.integers(17, 6_000).map(lambda digits: "9" * digits),  # past 2**53, past Python's 4,300-digit limit
    st.integers(17, 6_000).map(lambda digits: '{"title": "t", "created_at_ms": ' + "1" * digits + "}"),
    st.integers(309, 2_000).map(lambda exponent: f'{{"title": "t", "n": 1e{exponent}}}'),
)
NOT_NUMBERS = st.sampled_from(["NaN", "Infinity", "-Infinity", '{"title": NaN}', '{"title": "t", "n": -Infinity}'])
NOT_TEXT = st.one_of(
    # Lone surrogates, escaped (json makes them) or raw (a direct invoke's record can carry them).
    st.sampled_from(["\\ud800", "\\udfff", "a\\ud83d", "\\ude00b"]).map(lambda escape: f'{{"title": "{escape}"}}'),
    st.sampled_from(["\ud800", "\udc80", "\udfff"]).map(lambda raw: f'{{"title": "x{raw}"}}'),
    st.sampled_from(["\ufdd0", "\ufffe", "\U0010ffff"]).map(lambda char: json.dumps({"message": char})),
)
NOT_OBJECTS = st.one_of(
    st.integers(-(2**53) + 1, 2**53 - 1), st.text(max_size=50), st.lists(st.integers(), max_size=5), st.booleans()
).map(json.dumps) | st.just("null")
NOT_JSON = st.text(max_size=200).map(lambda text: "not JSON " + text) | st.sampled_from(["", " ", "{", "[1,]", "'a'"])
INVALID_FIELDS = st.one_of(
    st.integers(201, 70_000).map(lambda chars: json.dumps({"title": "x" * chars})),
    st.just('{"title": "a", "title": "b"}'),  # a member name twice (I-JSON)
    st.sampled_from(["urgent", "", 5, None]).map(lambda priority: json.dumps({"priority": priority})),
)
BAD_BODIES = st.one_of(DEEP, HUGE_NUMBERS, NOT_NUMBERS, NOT_TEXT, NOT_OBJECTS, NOT_JSON, INVALID_FIELDS)


def derived_id(message_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sqs-message:{message_id}"))


def row(aws, notification_id: str) -> dict:
    items = aws.ddb.query(
        TableName=HISTORY_TABLE,
        KeyConditionExpression="NotificationId = :id",
        ExpressionAttributeValues={":id": {"S": notification_id}},
        ConsistentRead=True,
    )["Items"]
    assert len(items) == 1, items
    return from_item(items[0])


def stored_as(body: str) -> str:
    """The body as a rejected row keeps it: at most 64,000 characters, lone surrogates escaped."""
    return body[: notification_processor.REJECTED_BODY_MAX_CHARS].encode("utf-8", "backslashreplace").decode()


def valid(notification_id: str) -> str:
    return json.dumps({**API_BODY, "notification_id": notification_id})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.lists(BAD_BODIES, min_size=1, max_size=4))
def test_every_bad_body_gets_its_rejected_row_and_the_valid_ones_are_sent(aws, context, bad):
    batch = uuid.uuid4().hex[:8]
    good = [f"{batch}-good-{i}" for i in range(2)]
    records = [sqs_record(f"{batch}-m{i}", body) for i, body in enumerate([valid(good[0]), *bad, valid(good[1])])]
    before = counters(aws)

    assert notification_processor.lambda_handler({"Records": records}, context) == {"batchItemFailures": []}

    for notification_id in good:
        assert row(aws, notification_id)["Status"] == "sent"
    for record in records[1:-1]:
        rejected = row(aws, derived_id(record["messageId"]))
        assert rejected["Status"] == "rejected" and rejected["SQSMessageId"] == record["messageId"]
        assert rejected["ErrorMessage"] and rejected["Body"] == stored_as(record["body"])
    after = counters(aws)
    assert after["status_sent"] - before.get("status_sent", 0) == 2
    assert after["status_rejected"] - before.get("status_rejected", 0) == len(bad)


@pytest.mark.parametrize(
    "poison, reason",
    [
        ("[" * 3000, "nested more than 32 levels"),
        ("9" * 5000, "the integer 99999999999999999999... (5000 characters) is outside"),
        ('{"title": "t", "title": "u"}', "member name 'title' appears more than once"),
        ("NaN", "NaN is not a JSON number"),
        ('{"title": "\\ud800"}', "U+D800 (a lone surrogate)"),
    ],
)
def test_one_poison_body_among_nine_valid_ones(aws, context, published, poison, reason):
    """The issue's batch: SendMessageBatch of nine notifications and one body no parser
    should be trusted with. Nine sent (one SNS message each), one rejected with the reason."""
    good = [f"nine-{i}" for i in range(9)]
    records = [sqs_record(f"m{i}", valid(nid)) for i, nid in enumerate(good)]
    records.insert(4, sqs_record("m-poison", poison))

    assert notification_processor.lambda_handler({"Records": records}, context) == {"batchItemFailures": []}

    assert [row(aws, nid)["Status"] for nid in good] == ["sent"] * 9
    rejected = row(aws, derived_id("m-poison"))
    assert rejected["Status"] == "rejected" and reason in rejected["ErrorMessage"]
    assert sorted(json.loads(envelope["Message"])["notification_id"] for envelope in published()) == good
    assert counters(aws) == {
        "Total": 10,
        "status_sent": 9,
        "status_rejected": 1,
        "priority_high": 9,
        "priority_normal": 1,
    }


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"messageId": None}, "record 0 messageId must be a non-empty string"),
        ({"messageId": ""}, "record 0 messageId must be a non-empty string"),
        ({"messageId": "m\ud800"}, r"record 0 messageId contains U\+D800"),
        ({"body": {"title": "an object, not a string"}}, "record 0 body must be a string"),
        ({"attributes": {}}, "record 0 attributes.SentTimestamp must be epoch milliseconds"),
        ({"attributes": {"SentTimestamp": "١٧٠٠"}}, "SentTimestamp must be epoch milliseconds"),
        ({"attributes": "none"}, "SentTimestamp must be epoch milliseconds"),
        ({"eventSource": "aws:kinesis"}, "SQS records"),
    ],
)
def test_a_direct_invoke_with_records_that_are_not_sqs_records_is_refused_whole(aws, context, change, expected):
    records = [{**sqs_record("m-0", API_BODY), **change}, sqs_record("m-1", API_BODY)]
    with pytest.raises(ValueError, match=expected):
        notification_processor.lambda_handler({"Records": records}, context)
    assert aws.ddb.scan(TableName=HISTORY_TABLE)["Count"] == 0
