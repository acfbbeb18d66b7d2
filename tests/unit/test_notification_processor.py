import json
import threading
from concurrent.futures import ThreadPoolExecutor

import notification_processor
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roxs_common import client, scan_items
from roxs_common.aggregates import read_counters
from roxs_common.notifications import NOTIFICATION_ID_MAX_CHARS, recount_notifications
from tests.unit.conftest import HISTORY_TABLE, STATS_TABLE


def sqs_record(message_id, body, sent_ms=1_700_000_000_000):
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"SentTimestamp": str(sent_ms), "ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:roxs-notifications-queue",
        "awsRegion": "us-east-1",
    }


def history(aws):
    return sorted(scan_items(aws.ddb, TableName=HISTORY_TABLE), key=lambda row: row["NotificationId"])


def counters(aws):
    return read_counters(aws.ddb, STATS_TABLE, ["notifications"])["notifications"]


API_BODY = {
    "notification_id": "4a7c1f0e-0000-4000-8000-000000000001",
    "created_at_ms": 1_700_000_000_500,
    "type": "api",
    "recipient": "api-user@roxs.com",
    "title": "Deploy finished",
    "message": "All green",
    "priority": "HIGH",
}


def test_good_records_are_sent_and_bad_ones_rejected_once_without_retry(aws, context, published):
    event = {
        "Records": [
            sqs_record("m-good", API_BODY),
            sqs_record("m-not-json", "{not json"),
            sqs_record("m-not-object", [1, 2, 3]),
            sqs_record("m-bad-priority", {**API_BODY, "notification_id": "other", "priority": "urgent"}),
        ]
    }
    # Deterministic failures are answered by a rejected row; retrying them could not help.
    assert notification_processor.lambda_handler(event, context) == {"batchItemFailures": []}

    rows = {row["NotificationId"]: row for row in history(aws)}
    sent = rows.pop(API_BODY["notification_id"])
    assert sent["CreatedAt"] == API_BODY["created_at_ms"] and sent["Status"] == "sent" and sent["Source"] == "sqs"
    assert sent["Priority"] == "high" and sent["Title"] == "Deploy finished" and sent["SNSMessageId"]
    assert "ClaimToken" not in sent and "ClaimExpiresMs" not in sent
    assert sent["Day"] == "2023-11-14" and sent["PriorityDay"] == "high#2023-11-14"
    assert sent["StatusDay"] == "sent#2023-11-14"
    other = rows.pop("other")  # its own valid id: GET /notifications/other answers the sender
    assert other["Status"] == "rejected" and "priority must be one of" in other["ErrorMessage"]
    assert "Priority" not in other and json.loads(other["Body"])["priority"] == "urgent"
    # The rest have no usable id: rows under the id derived from the SQS message.
    assert {row["ErrorMessage"].split(":")[0] for row in rows.values()} == {
        "body is not I-JSON (RFC 7493)",
        "notification must be a JSON object, got list",
    }
    assert {row["SQSMessageId"] for row in rows.values()} == {"m-not-json", "m-not-object"}

    (envelope,) = published()
    assert envelope["Subject"] == "[HIGH] Deploy finished"
    attributes = {name: value["Value"] for name, value in envelope["MessageAttributes"].items()}
    assert attributes == {
        "priority": "high",
        "notification_type": "api",
        "notification_id": API_BODY["notification_id"],
    }
    message = json.loads(envelope["Message"])
    assert message["notification_id"] == API_BODY["notification_id"] and message["recipient"] == "api-user@roxs.com"
    assert message["created_at"].startswith("2023-11-14T22:13:20.5")

    # A body without a priority has the default one; an invalid priority is not counted as one.
    assert counters(aws) == {
        "Total": 4,
        "status_sent": 1,
        "status_rejected": 3,
        "priority_high": 1,
        "priority_normal": 2,
    }
    assert recount_notifications() == counters(aws)

    # The same batch again: nothing published, nothing counted twice.
    assert notification_processor.lambda_handler(event, context) == {"batchItemFailures": []}
    assert published() == [] and counters(aws)["Total"] == 4 and len(history(aws)) == 4


def test_redelivered_record_is_published_and_stored_once(aws, context, published):
    record = sqs_record("m-1", {k: v for k, v in API_BODY.items() if k not in ("notification_id", "created_at_ms")})
    for _ in range(2):
        assert notification_processor.lambda_handler({"Records": [record]}, context) == {"batchItemFailures": []}
    (row,) = history(aws)
    assert row["CreatedAt"] == 1_700_000_000_000  # from SentTimestamp, stable across deliveries
    assert len(published()) == 1
    assert counters(aws)["Total"] == 1


def test_an_id_sent_twice_without_its_time_is_recorded_and_published_once(aws, context, published):
    body = {"notification_id": "own-id", "title": "t"}
    for message_id, sent_ms in (("m-1", 1_700_000_000_000), ("m-2", 1_700_000_009_000)):
        record = sqs_record(message_id, body, sent_ms=sent_ms)
        assert notification_processor.lambda_handler({"Records": [record]}, context) == {"batchItemFailures": []}
    (row,) = history(aws)
    assert row["CreatedAt"] == 1_700_000_000_000 and len(published()) == 1


def test_sns_failure_reports_the_record_and_releases_the_claim(aws, context, monkeypatch, published):
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:no-such-topic")
    result = notification_processor.lambda_handler({"Records": [sqs_record("m-1", API_BODY)]}, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert history(aws) == []  # released: the retry need not wait for the claim to expire
    assert counters(aws) == {}

    monkeypatch.setenv("TOPIC_ARN", aws.topic_arn)
    assert notification_processor.lambda_handler({"Records": [sqs_record("m-1", API_BODY)]}, context) == {
        "batchItemFailures": []
    }
    assert len(published()) == 1 and history(aws)[0]["Status"] == "sent"


def test_two_deliveries_started_together_publish_once(aws, context, published):
    """The first delivery is held inside its SNS publish (a hook on the real client) until the
    second has finished: the overlap is certain, and the second finds the live claim."""
    inside_publish, second_done = threading.Event(), threading.Event()
    calls = []

    def hold_first_publish(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            inside_publish.set()
            assert second_done.wait(10), "the second delivery never finished"

    client("sns").meta.events.register_first("before-send.sns.Publish", hold_first_publish)
    event = {"Records": [sqs_record("m-dup", API_BODY)]}

    def second():
        assert inside_publish.wait(10)
        try:
            return notification_processor.lambda_handler(event, context)
        finally:
            second_done.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first_result, second_result = (
            pool.submit(notification_processor.lambda_handler, event, context),
            pool.submit(second),
        )
        first_result, second_result = first_result.result(), second_result.result()

    assert first_result == {"batchItemFailures": []}
    assert second_result == {"batchItemFailures": [{"itemIdentifier": "m-dup"}]}  # retried later by SQS
    assert len(calls) == 1 and len(published()) == 1
    # The retry of the second finds the notification sent: still one message, one count.
    assert notification_processor.lambda_handler(event, context) == {"batchItemFailures": []}
    assert len(calls) == 1 and published() == [] and counters(aws)["Total"] == 1


def received_record(aws, visibility_timeout: int) -> dict:
    """An API notification sent to the queue (its visibility timeout set first) and received
    from it, as the SQS event record the mapping would hand the function."""
    aws.sqs.set_queue_attributes(QueueUrl=aws.queue_url, Attributes={"VisibilityTimeout": str(visibility_timeout)})
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(API_BODY))
    (message,) = aws.sqs.receive_message(QueueUrl=aws.queue_url)["Messages"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return {
        **sqs_record(message["MessageId"], message["Body"]),
        "receiptHandle": message["ReceiptHandle"],
        "eventSourceARN": queue_arn["QueueArn"],
    }


def test_a_copy_held_by_another_delivery_comes_back_when_that_claim_expires(aws, context, monkeypatch):
    """SQS can hand two invocations the same message at once. The one that finds the other's
    live claim reports its record and makes it visible again when that claim expires (here in
    about a second), not after the queue's visibility timeout (here ten minutes)."""
    record = received_record(aws, visibility_timeout=600)
    # The other delivery's claim, made so that it expires a second from now.
    real_now = notification_processor.now_ms
    monkeypatch.setattr(
        notification_processor, "now_ms", lambda: real_now() - notification_processor.CLAIM_MARGIN_MS + 1_000
    )
    notification = notification_processor._sqs_record_notification(record)
    assert isinstance(notification_processor.claim(notification, "sqs", 0), notification_processor.Claim)
    monkeypatch.setattr(notification_processor, "now_ms", real_now)

    assert notification_processor.lambda_handler({"Records": [record]}, context) == {
        "batchItemFailures": [{"itemIdentifier": record["messageId"]}]
    }
    assert "Messages" not in aws.sqs.receive_message(QueueUrl=aws.queue_url)  # held until the claim expires
    (again,) = aws.sqs.receive_message(QueueUrl=aws.queue_url, WaitTimeSeconds=5)["Messages"]
    assert again["MessageId"] == record["messageId"]


def test_a_held_copy_is_never_kept_longer_than_the_queues_visibility_timeout(aws, context):
    """A claim that outlives the queue's visibility timeout (here a minute against one second)
    does not hold the record longer than the queue itself would."""
    record = received_record(aws, visibility_timeout=1)
    notification = notification_processor._sqs_record_notification(record)
    assert isinstance(notification_processor.claim(notification, "sqs", 60_000), notification_processor.Claim)

    assert notification_processor.lambda_handler({"Records": [record]}, context) == {
        "batchItemFailures": [{"itemIdentifier": record["messageId"]}]
    }
    (again,) = aws.sqs.receive_message(QueueUrl=aws.queue_url, WaitTimeSeconds=5)["Messages"]
    assert again["MessageId"] == record["messageId"]


def test_a_held_copy_whose_visibility_cannot_be_changed_is_still_reported(aws, context, monkeypatch):
    """A receipt handle SQS no longer knows (or no permission): the queue's own visibility
    timeout brings the record back; the failure is reported as before."""
    real_now = notification_processor.now_ms
    monkeypatch.setattr(notification_processor, "now_ms", lambda: real_now() + 60_000)
    record = sqs_record("m-held", API_BODY)
    notification_processor.claim(notification_processor._sqs_record_notification(record), "sqs", 0)
    monkeypatch.setattr(notification_processor, "now_ms", real_now)
    assert notification_processor.lambda_handler({"Records": [record]}, context) == {
        "batchItemFailures": [{"itemIdentifier": "m-held"}]
    }


class SimulatedCrash(BaseException):
    """Not an Exception: like a killed process, no handler of the function runs."""


def test_a_crash_after_the_claim_is_retried_after_expiry_and_publishes_once(aws, context, published, monkeypatch):
    def crash(**kwargs):
        raise SimulatedCrash

    client("sns").meta.events.register_first("before-send.sns.Publish", crash)
    event = {"Records": [sqs_record("m-crash", API_BODY)]}
    with pytest.raises(SimulatedCrash):
        notification_processor.lambda_handler(event, context)
    (row,) = history(aws)
    assert row["Status"] == "in_progress" and counters(aws) == {}
    client("sns").meta.events.unregister("before-send.sns.Publish", crash)

    # Redelivered while the claim is live (cannot happen with the queue's visibility timeout,
    # six function timeouts, but a direct call can): refused, the record is retried.
    assert notification_processor.lambda_handler(event, context) == {
        "batchItemFailures": [{"itemIdentifier": "m-crash"}]
    }
    assert published() == []

    later = int(row["ClaimExpiresMs"]) + 1
    monkeypatch.setattr(notification_processor, "now_ms", lambda: later)
    assert notification_processor.lambda_handler(event, context) == {"batchItemFailures": []}
    (row,) = history(aws)
    assert row["Status"] == "sent" and len(published()) == 1
    assert counters(aws) == {"Total": 1, "status_sent": 1, "priority_high": 1}


def test_an_id_longer_than_the_key_limit_is_rejected_before_publishing(aws, context, published):
    body = {**API_BODY, "notification_id": "x" * 3000}
    assert notification_processor.lambda_handler({"Records": [sqs_record("m-long", body)]}, context) == {
        "batchItemFailures": []
    }
    (row,) = history(aws)
    assert row["Status"] == "rejected" and "notification_id is 3000 characters" in row["ErrorMessage"]
    assert row["NotificationId"] != body["notification_id"] and row["SQSMessageId"] == "m-long"
    assert published() == []


def test_direct_payload_uses_the_seed_defaults(aws, context, published):
    answer = notification_processor.lambda_handler({}, context)
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["recipient"] == "admin@roxs.com" and body["type"] == "general" and body["sns_message_id"]
    (row,) = history(aws)
    assert row["NotificationId"] == body["notification_id"]
    assert row["Title"] == "Notificación de Sistema" and row["Message"] == "Mensaje de notificación"
    assert row["Priority"] == "normal" and row["Source"] == "direct"
    (envelope,) = published()
    assert envelope["Subject"] == "[NORMAL] Notificación de Sistema"


@pytest.mark.parametrize(
    "payload, expected",
    [
        ("just text", "must be a JSON object"),
        ({"title": 5}, "title must be a non-empty string"),
        ({"priority": "urgent"}, "priority must be one of"),
        ({"recipient": ""}, "recipient must be a non-empty string"),
        ({"created_at_ms": "yesterday"}, "created_at_ms"),
        ({"title": "t" * 201}, "title is 201 characters, the maximum is 200"),
        ({"message": "bad \ud800 surrogate"}, r"message contains U\+D800 \(a lone surrogate\)"),
        ({"title": "no \uffff here"}, r"title contains U\+FFFF \(a Unicode non-character\)"),
        ({"recipient": "a\x07b@roxs.com"}, r"recipient contains U\+0007 \(a control character\)"),
        ({"Records": [{"eventSource": "aws:s3"}]}, "SQS records"),
    ],
)
def test_invalid_direct_payload_raises_and_stores_nothing(aws, context, payload, expected, published):
    with pytest.raises(ValueError, match=expected):
        notification_processor.lambda_handler(payload, context)
    assert history(aws) == [] and published() == []


REFUSED = st.sampled_from(["\x00", "\x08", "\x1b", "\ud800", "\udfff", "\ufdd0", "\ufffe", "\uffff", "\U0010ffff"])


@given(prefix=st.text(max_size=20), refused=REFUSED, field=st.sampled_from(["title", "message", "type", "recipient"]))
def test_any_refused_character_in_any_field_is_a_value_error(prefix, refused, field):
    with pytest.raises(ValueError, match=f"{field} contains U\\+"):
        notification_processor.parse_notification(
            {field: prefix.replace("\x00", "") + refused + "tail"}, default_id="n", default_created_at_ms=0
        )


@given(
    length=st.integers(min_value=1, max_value=3 * NOTIFICATION_ID_MAX_CHARS),
    char=st.sampled_from("a\u00e9\u4e2d\U0001f600"),
)
def test_notification_ids_within_the_cap_are_accepted_and_longer_ones_refused(length, char):
    payload = {"notification_id": char * length, "created_at_ms": 1}
    if length <= NOTIFICATION_ID_MAX_CHARS:
        assert notification_processor.parse_notification(payload, default_id="n", default_created_at_ms=0)
    else:
        with pytest.raises(ValueError, match="notification_id is"):
            notification_processor.parse_notification(payload, default_id="n", default_created_at_ms=0)


def test_subject_is_single_line_and_short_enough():
    notification = notification_processor.parse_notification(
        {"title": "line one\nline two\t\x85" + "y" * 150, "priority": "Critical"},
        default_id="n",
        default_created_at_ms=0,
    )
    subject = notification_processor.subject_for(notification)
    assert subject.startswith("[CRITICAL] line one line two ")
    assert len(subject) < 100 and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in subject)


def test_a_claim_taken_over_after_expiry_is_counted_once(aws, context, published, monkeypatch):
    """A holder that outlives its claim (impossible within the function timeout, possible with
    a skewed clock): the delivery that took the claim over records it; the late holder's mark
    is refused, so the row and the counters hold one delivery (SNS has two messages, dropped by
    subscribers on notification_id)."""
    event = {"Records": [sqs_record("m-late", API_BODY)]}
    clock = {"now": 1_800_000_000_000}
    monkeypatch.setattr(notification_processor, "now_ms", lambda: clock["now"])
    took_over = []

    def late_publish(**kwargs):
        if not took_over:  # the first holder's publish: meanwhile its claim expires and is taken over
            took_over.append(1)
            clock["now"] += notification_processor.DEFAULT_REMAINING_MS + notification_processor.CLAIM_MARGIN_MS + 1
            assert notification_processor.lambda_handler(event, context) == {"batchItemFailures": []}

    client("sns").meta.events.register_first("before-send.sns.Publish", late_publish)
    assert notification_processor.lambda_handler(event, context) == {"batchItemFailures": []}
    (row,) = history(aws)
    assert row["Status"] == "sent" and len(published()) == 2
    assert counters(aws) == {"Total": 1, "status_sent": 1, "priority_high": 1}
