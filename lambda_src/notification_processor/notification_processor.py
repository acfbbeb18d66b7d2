"""Notification processor: SQS records or a direct payload -> SNS publish -> history row.

SQS batches use the partial batch response: only failed records are returned in
batchItemFailures, so they alone are redelivered (and end in the DLQ after
maxReceiveCount). The event source mapping must enable ReportBatchItemFailures.

Idempotency: a notification keeps its id and CreatedAt across redeliveries (taken from
the body, which the API fills in, or derived from the SQS message). If a `sent` history
row already exists, nothing is published again. Two deliveries processed at the very same
time can still both publish (SQS standard queues are at-least-once); the conditional put
keeps the history to one row either way.
"""

import datetime as dt
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from roxs_common import (
    NOTIFICATION_PRIORITIES,
    client,
    dumps,
    get_logger,
    inject_lambda_context,
    query_items,
    require_env,
    to_item,
)

logger = get_logger(__name__)

DEFAULTS = {
    "type": "general",
    "recipient": "admin@roxs.com",
    "title": "Notificación de Sistema",
    "message": "Mensaje de notificación",
    "priority": "normal",
}
# SNS documents subjects as "less than 100 characters" without line breaks or control characters.
SUBJECT_MAX_CHARS = 99
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Notification:
    notification_id: str
    created_at_ms: int
    type: str
    recipient: str
    title: str
    message: str
    priority: str


def parse_notification(payload: Any, *, default_id: str, default_created_at_ms: int) -> Notification:
    """A validated Notification; ValueError says which field is wrong."""
    if not isinstance(payload, dict):
        raise ValueError(f"notification must be a JSON object, got {type(payload).__name__}")
    fields = {}
    for name, default in DEFAULTS.items():
        value = payload.get(name, default)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string")
        fields[name] = value
    fields["priority"] = fields["priority"].lower()
    if fields["priority"] not in NOTIFICATION_PRIORITIES:
        raise ValueError(
            f"priority must be one of {', '.join(NOTIFICATION_PRIORITIES)}, got {payload.get('priority')!r}"
        )

    notification_id = payload.get("notification_id", default_id)
    if not isinstance(notification_id, str) or not notification_id:
        raise ValueError("notification_id must be a non-empty string")
    created_at_ms = payload.get("created_at_ms", default_created_at_ms)
    if not isinstance(created_at_ms, int) or isinstance(created_at_ms, bool) or created_at_ms < 0:
        raise ValueError("created_at_ms must be a non-negative integer (epoch milliseconds)")
    return Notification(notification_id=notification_id, created_at_ms=created_at_ms, **fields)


def subject_for(notification: Notification) -> str:
    subject = _CONTROL_CHARS.sub(" ", f"[{notification.priority.upper()}] {notification.title}").strip()
    if len(subject) > SUBJECT_MAX_CHARS:
        subject = subject[: SUBJECT_MAX_CHARS - 3].rstrip() + "..."
    return subject


def sns_message(notification: Notification) -> dict[str, Any]:
    created_at = dt.datetime.fromtimestamp(notification.created_at_ms / 1000, dt.UTC)
    return {
        "notification_id": notification.notification_id,
        "type": notification.type,
        "title": notification.title,
        "message": notification.message,
        "recipient": notification.recipient,
        "priority": notification.priority,
        "created_at": created_at.isoformat(),
    }


def _sent_message_id(notification_id: str) -> str | None:
    """The SNSMessageId of an existing `sent` history row for this notification, if any."""
    rows = query_items(
        client("dynamodb"),
        TableName=require_env("HISTORY_TABLE"),
        KeyConditionExpression="NotificationId = :id",
        ExpressionAttributeValues={":id": {"S": notification_id}},
        ConsistentRead=True,
    )
    for row in rows:
        if row.get("Status") == "sent":
            return row.get("SNSMessageId", "")
    return None


def deliver(notification: Notification, source: str) -> str:
    """Publish and record `notification` unless that was already done; returns the SNS message id."""
    log_data = {"notification_id": notification.notification_id, "source": source}
    existing = _sent_message_id(notification.notification_id)
    if existing is not None:
        logger.info("notification already sent, not publishing again", extra=log_data)
        return existing

    published = client("sns").publish(
        TopicArn=require_env("TOPIC_ARN"),
        Message=dumps(sns_message(notification)),
        Subject=subject_for(notification),
        MessageAttributes={
            "notification_type": {"DataType": "String", "StringValue": notification.type},
            "priority": {"DataType": "String", "StringValue": notification.priority},
        },
    )
    message_id = published["MessageId"]
    row = {
        "NotificationId": notification.notification_id,
        "CreatedAt": notification.created_at_ms,
        "Type": notification.type,
        "Recipient": notification.recipient,
        "Title": notification.title,
        "Message": notification.message,
        "Priority": notification.priority,
        "SNSMessageId": message_id,
        "Status": "sent",
        "ProcessedAt": dt.datetime.now(dt.UTC).isoformat(),
        "Source": source,
    }
    try:
        client("dynamodb").put_item(
            TableName=require_env("HISTORY_TABLE"),
            Item=to_item(row),
            ConditionExpression="attribute_not_exists(NotificationId)",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        # A concurrent delivery of the same message recorded it first; its row stands.
        logger.info("history row already written by another delivery", extra=log_data)
    logger.info(
        "notification sent", extra={**log_data, "sns_message_id": message_id, "priority": notification.priority}
    )
    return message_id


def _sqs_record_notification(record: dict[str, Any]) -> Notification:
    body = json.loads(record["body"])
    # Defaults that are stable across redeliveries of the same SQS message.
    return parse_notification(
        body,
        default_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sqs-message:{record['messageId']}")),
        default_created_at_ms=int(record["attributes"]["SentTimestamp"]),
    )


def handle_sqs(records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    failures = []
    for record in records:
        message_id = record.get("messageId", "")
        try:
            deliver(_sqs_record_notification(record), "sqs")
        except Exception:
            # Reported, not swallowed: the record goes back to the queue (and to the DLQ
            # after maxReceiveCount) while the rest of the batch is deleted.
            logger.exception("notification record failed", extra={"sqs_message_id": message_id})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def handle_direct(payload: Any) -> dict[str, Any]:
    notification = parse_notification(
        payload, default_id=str(uuid.uuid4()), default_created_at_ms=time.time_ns() // 1_000_000
    )
    message_id = deliver(notification, "direct")
    return {
        "statusCode": 200,
        "body": dumps(
            {
                "message": "Notification processed",
                "notification_id": notification.notification_id,
                "sns_message_id": message_id,
                "recipient": notification.recipient,
                "type": notification.type,
            }
        ),
    }


@inject_lambda_context
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "Records" in event:
        records = event["Records"]
        if not isinstance(records, list) or not all(
            isinstance(record, dict) and record.get("eventSource") == "aws:sqs" for record in records
        ):
            raise ValueError("Records must be a list of SQS records (eventSource aws:sqs)")
        return handle_sqs(records)
    return handle_direct(event)
