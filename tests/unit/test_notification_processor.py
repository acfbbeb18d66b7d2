import json

import pytest

import notification_processor
from roxs_common import scan_items
from tests.unit.conftest import HISTORY_TABLE


@pytest.fixture
def published(aws):
    """Messages SNS delivered (through an SQS subscription), read back as SNS envelopes."""
    url = aws.sqs.create_queue(QueueName="sns-tap")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.sns.subscribe(TopicArn=aws.topic_arn, Protocol="sqs", Endpoint=arn)

    def read():
        messages = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return read


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
    return list(scan_items(aws.ddb, TableName=HISTORY_TABLE))


API_BODY = {
    "notification_id": "4a7c1f0e-0000-4000-8000-000000000001",
    "created_at_ms": 1_700_000_000_500,
    "type": "api",
    "recipient": "api-user@roxs.com",
    "title": "Deploy finished",
    "message": "All green",
    "priority": "HIGH",
}


def test_partial_batch_failure_reports_only_the_bad_records(aws, context, published):
    event = {
        "Records": [
            sqs_record("m-good", API_BODY),
            sqs_record("m-not-json", "{not json"),
            sqs_record("m-not-object", [1, 2, 3]),
            sqs_record("m-bad-priority", {**API_BODY, "notification_id": "other", "priority": "urgent"}),
        ]
    }
    result = notification_processor.lambda_handler(event, context)

    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "m-not-json"},
            {"itemIdentifier": "m-not-object"},
            {"itemIdentifier": "m-bad-priority"},
        ]
    }
    (row,) = history(aws)
    assert row["NotificationId"] == API_BODY["notification_id"] and row["CreatedAt"] == API_BODY["created_at_ms"]
    assert row["Status"] == "sent" and row["Source"] == "sqs" and row["Priority"] == "high"
    assert row["Title"] == "Deploy finished" and row["SNSMessageId"]
    (envelope,) = published()
    assert envelope["Subject"] == "[HIGH] Deploy finished"
    assert envelope["MessageAttributes"]["priority"]["Value"] == "high"
    assert envelope["MessageAttributes"]["notification_type"]["Value"] == "api"
    message = json.loads(envelope["Message"])
    assert message["notification_id"] == API_BODY["notification_id"] and message["recipient"] == "api-user@roxs.com"
    assert message["created_at"].startswith("2023-11-14T22:13:20.5")


def test_redelivered_record_is_published_and_stored_once(aws, context, published):
    record = sqs_record("m-1", {k: v for k, v in API_BODY.items() if k not in ("notification_id", "created_at_ms")})
    for _ in range(2):
        assert notification_processor.lambda_handler({"Records": [record]}, context) == {"batchItemFailures": []}
    (row,) = history(aws)
    assert row["CreatedAt"] == 1_700_000_000_000  # from SentTimestamp, stable across deliveries
    assert len(published()) == 1


def test_sns_failure_reports_the_record_and_stores_nothing(aws, context, monkeypatch):
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:no-such-topic")
    result = notification_processor.lambda_handler({"Records": [sqs_record("m-1", API_BODY)]}, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert history(aws) == []


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
        ({"Records": [{"eventSource": "aws:s3"}]}, "SQS records"),
    ],
)
def test_invalid_direct_payload_raises(aws, context, payload, expected):
    with pytest.raises(ValueError, match=expected):
        notification_processor.lambda_handler(payload, context)


def test_subject_is_single_line_and_short_enough():
    notification = notification_processor.parse_notification(
        {"title": "line one\nline two\t" + "y" * 200, "priority": "Critical"}, default_id="n", default_created_at_ms=0
    )
    subject = notification_processor.subject_for(notification)
    assert subject.startswith("[CRITICAL] line one line two ")
    assert len(subject) < 100 and "\n" not in subject and "\t" not in subject
