"""Notification processor: SQS records or a direct payload -> SNS publish -> history row.

SQS batches use the partial batch response: only failed records are returned in
batchItemFailures, so they alone are redelivered (and end in the DLQ after
maxReceiveCount). The event source mapping must enable ReportBatchItemFailures.

Claim first (the pattern of Powertools' idempotency utility, written here because the claim
must be the history row itself and its final status must share a transaction with the
counters). Every delivery of a notification (key: notification_id + created_at_ms, which the
API puts in the message; else derived from the SQS message) goes through:

1. validate everything that will be stored or published (roxs_common.notifications);
   a message that can never be valid is recorded once as `rejected` and not retried;
2. claim: a conditional put of the row with Status `in_progress` and a claim expiry (the
   invocation's remaining time plus a margin). It succeeds only if there is no row yet or the
   previous claim expired (its holder crashed); a live claim or a final row stops here;
3. publish to SNS (notification_id in the message and as a message attribute);
4. mark `sent`, conditional on still holding the claim, in one TransactWriteItems with the
   counters and the list directory.

A failure before the publish releases the claim at once; a crash leaves it to expire. The
one window left: a crash between 3 and 4 publishes again after the claim expires;
subscribers drop the duplicate by notification_id.
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
    client,
    dumps,
    get_logger,
    inject_lambda_context,
    require_env,
    to_item,
)
from roxs_common.aws import error_code
from roxs_common.clock import now_iso
from roxs_common.constants import NOTIFICATION_PRIORITIES
from roxs_common.dynamo import cancellation_codes, from_item, transact_write
from roxs_common.notifications import (
    IN_PROGRESS,
    REJECTED,
    SENT,
    Notification,
    check_created_at_ms,
    check_notification_id,
    final_updates,
    list_keys,
    parse_notification,
)
from roxs_common.storable import check_item_size

logger = get_logger(__name__)

# SNS documents subjects as "less than 100 characters" without line breaks or control characters.
SUBJECT_MAX_CHARS = 99
_SUBJECT_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Used when the context cannot say how long the invocation may still run (direct calls in tests).
DEFAULT_REMAINING_MS = 60_000
# A claim outlives its invocation by this much, so a live holder never loses it.
CLAIM_MARGIN_MS = 10_000
# The raw body kept in a rejected row (SQS allows 256 KiB; a row at most 400 KB).
REJECTED_BODY_MAX_CHARS = 64_000


class ClaimHeld(RuntimeError):
    """Another delivery of the same notification is in progress: retry later."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def subject_for(notification: Notification) -> str:
    subject = _SUBJECT_REFUSED.sub(" ", f"[{notification.priority.upper()}] {notification.title}").strip()
    if len(subject) > SUBJECT_MAX_CHARS:
        subject = subject[: SUBJECT_MAX_CHARS - 3].rstrip() + "..."
    return subject


def sns_message(notification: Notification) -> dict[str, Any]:
    return {
        "notification_id": notification.notification_id,
        "type": notification.type,
        "title": notification.title,
        "message": notification.message,
        "recipient": notification.recipient,
        "priority": notification.priority,
        "created_at": dt.datetime.fromtimestamp(notification.created_at_ms / 1000, dt.UTC).isoformat(),
    }


def _history_key(notification_id: str, created_at_ms: int) -> dict[str, dict[str, str]]:
    return {"NotificationId": {"S": notification_id}, "CreatedAt": {"N": str(created_at_ms)}}


# --- 2. claim -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    token: str


def claim(notification: Notification, source: str, remaining_ms: int) -> Claim | dict[str, Any]:
    """Claim the delivery; or the existing row when the notification reached a final status.
    Raises ClaimHeld while another delivery holds a live claim."""
    token = str(uuid.uuid4())
    now = now_ms()
    row = {
        "NotificationId": notification.notification_id,
        "CreatedAt": notification.created_at_ms,
        "Type": notification.type,
        "Recipient": notification.recipient,
        "Title": notification.title,
        "Message": notification.message,
        "Priority": notification.priority,
        "Status": IN_PROGRESS,
        "ClaimToken": token,
        "ClaimExpiresMs": now + remaining_ms + CLAIM_MARGIN_MS,
        "Source": source,
    }
    check_item_size(
        {
            **row,
            "Status": SENT,
            "SNSMessageId": "x" * 100,
            "ProcessedAt": now_iso(),
            **list_keys(notification.created_at_ms, notification.priority, SENT),
        },
        "the history row",
    )
    try:
        client("dynamodb").put_item(
            TableName=require_env("HISTORY_TABLE"),
            Item=to_item(row),
            ConditionExpression="attribute_not_exists(NotificationId) OR (#s = :claimed AND #exp < :now)",
            ExpressionAttributeNames={"#s": "Status", "#exp": "ClaimExpiresMs"},
            ExpressionAttributeValues={":claimed": {"S": IN_PROGRESS}, ":now": {"N": str(now)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        existing = from_item(exc.response.get("Item", {}))
        if existing.get("Status") == IN_PROGRESS:
            raise ClaimHeld(
                f"notification {notification.notification_id} is being delivered by another invocation "
                f"(claim expires at {int(existing.get('ClaimExpiresMs', 0))} ms)"
            ) from exc
        return existing
    return Claim(token)


def release(notification: Notification, held: Claim) -> None:
    """Give a claim back after a failure before publishing, so a retry need not wait for expiry."""
    try:
        client("dynamodb").delete_item(
            TableName=require_env("HISTORY_TABLE"),
            Key=_history_key(notification.notification_id, notification.created_at_ms),
            ConditionExpression="ClaimToken = :token",
            ExpressionAttributeValues={":token": {"S": held.token}},
        )
    except Exception:  # the claim then expires on its own; the original error is what matters
        logger.exception("could not release a claim", extra={"notification_id": notification.notification_id})


# --- 3. publish ---------------------------------------------------------------------------------


def publish(notification: Notification) -> str:
    published = client("sns").publish(
        TopicArn=require_env("TOPIC_ARN"),
        Message=dumps(sns_message(notification)),
        Subject=subject_for(notification),
        MessageAttributes={
            "notification_type": {"DataType": "String", "StringValue": notification.type},
            "priority": {"DataType": "String", "StringValue": notification.priority},
            # Subscribers drop a repeated delivery by this id (see the module docstring).
            "notification_id": {"DataType": "String", "StringValue": notification.notification_id},
        },
    )
    return published["MessageId"]


# --- 4. mark sent -------------------------------------------------------------------------------


def mark_sent(notification: Notification, held: Claim, message_id: str) -> None:
    processed = now_ms()
    keys = list_keys(notification.created_at_ms, notification.priority, SENT)
    values = {"SNSMessageId": message_id, "ProcessedAt": now_iso(), "Status": SENT, **keys}
    names = {f"#v{index}": name for index, name in enumerate(values)}
    update = {
        "Update": {
            "TableName": require_env("HISTORY_TABLE"),
            "Key": _history_key(notification.notification_id, notification.created_at_ms),
            "UpdateExpression": "SET "
            + ", ".join(f"#v{index} = :v{index}" for index in range(len(values)))
            + " REMOVE #token, #exp",
            "ConditionExpression": "#token = :token",
            "ExpressionAttributeNames": {**names, "#token": "ClaimToken", "#exp": "ClaimExpiresMs"},
            "ExpressionAttributeValues": {
                **{f":v{index}": value for index, value in enumerate(to_item(values).values())},
                ":token": {"S": held.token},
            },
        }
    }
    operations = [update, *final_updates(notification.created_at_ms, notification.priority, SENT, processed)]
    transact_write(client("dynamodb"), operations, token=held.token)


def deliver(notification: Notification, source: str, remaining_ms: int = DEFAULT_REMAINING_MS) -> str:
    """Publish and record `notification` once; returns the SNS message id."""
    log_data = {"notification_id": notification.notification_id, "source": source}
    held = claim(notification, source, remaining_ms)
    if not isinstance(held, Claim):
        logger.info("notification already handled, not publishing again", extra={**log_data, "status": held["Status"]})
        return held.get("SNSMessageId", "")
    try:
        message_id = publish(notification)
    except Exception:
        release(notification, held)
        raise
    try:
        mark_sent(notification, held, message_id)
    except ClientError as exc:
        if "ConditionalCheckFailed" not in cancellation_codes(exc):
            raise  # the claim stays until it expires: a retry then publishes again (documented)
        # Our claim expired and another delivery took it over (this one outlived its margin).
        logger.warning("claim lost before marking sent; the other delivery records it", extra=log_data)
    logger.info(
        "notification sent", extra={**log_data, "sns_message_id": message_id, "priority": notification.priority}
    )
    return message_id


# --- rejected messages --------------------------------------------------------------------------


def record_rejected(record: dict[str, Any], reason: str) -> None:
    """A `rejected` history row for an SQS message that can never be delivered, under its own
    notification_id when that is valid (GET /notifications/{id} answers the sender), else
    under the id derived from the SQS message. An existing row of that key stands."""
    body_text = record.get("body", "")
    try:
        body = json.loads(body_text)
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    notification_id, created_at_ms = _stable_id(record), _sent_ms(record)
    try:
        notification_id = check_notification_id(body["notification_id"])
        created_at_ms = check_created_at_ms(body["created_at_ms"])
    except (KeyError, ValueError):
        pass
    priority = body.get("priority", "normal")
    priority = priority.lower() if isinstance(priority, str) and priority.lower() in NOTIFICATION_PRIORITIES else None
    processed = now_ms()
    row = {
        "NotificationId": notification_id,
        "CreatedAt": created_at_ms,
        "Status": REJECTED,
        "ErrorMessage": reason[:1000],
        "Body": body_text[:REJECTED_BODY_MAX_CHARS],
        "BodyTruncated": len(body_text) > REJECTED_BODY_MAX_CHARS,
        "SQSMessageId": record.get("messageId", ""),
        "Source": "sqs",
        "ProcessedAt": now_iso(),
        **({"Priority": priority} if priority else {}),
        **list_keys(created_at_ms, priority, REJECTED),
    }
    put = {
        "Put": {
            "TableName": require_env("HISTORY_TABLE"),
            "Item": to_item(row),
            "ConditionExpression": "attribute_not_exists(NotificationId)",
        }
    }
    try:
        transact_write(client("dynamodb"), [put, *final_updates(created_at_ms, priority, REJECTED, processed)])
    except ClientError as exc:
        if "ConditionalCheckFailed" not in cancellation_codes(exc):
            raise
        logger.info("rejected message already has a history row", extra={"notification_id": notification_id})


# --- entry points -------------------------------------------------------------------------------


def _stable_id(record: dict[str, Any]) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sqs-message:{record['messageId']}"))


def _sent_ms(record: dict[str, Any]) -> int:
    return int(record["attributes"]["SentTimestamp"])


def _created_at_ms(payload: Any, fallback_ms: int) -> int:
    """The CreatedAt of a payload that names its notification_id but not its created_at_ms:
    the recorded one when this id was handled before (so a second send of it finds its row),
    else `fallback_ms`. (Two such sends delivered at the same instant can still be recorded
    twice; the API always sends both fields.)"""
    if not isinstance(payload, dict) or "created_at_ms" in payload:
        return fallback_ms
    try:
        notification_id = check_notification_id(payload.get("notification_id"))
    except ValueError:
        return fallback_ms  # parse_notification says why
    found = client("dynamodb").query(
        TableName=require_env("HISTORY_TABLE"),
        KeyConditionExpression="NotificationId = :id",
        ExpressionAttributeValues={":id": {"S": notification_id}},
        ProjectionExpression="CreatedAt",
        ConsistentRead=True,
        Limit=1,
    )["Items"]
    return int(found[0]["CreatedAt"]["N"]) if found else fallback_ms


def _sqs_record_notification(record: dict[str, Any]) -> Notification:
    try:
        body = json.loads(record["body"])
    except ValueError as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc
    # Defaults that are stable across redeliveries of the same SQS message.
    return parse_notification(
        body, default_id=_stable_id(record), default_created_at_ms=_created_at_ms(body, _sent_ms(record))
    )


def _remaining_ms(context: Any) -> int:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() if callable(remaining) else DEFAULT_REMAINING_MS


def handle_sqs(records: list[dict[str, Any]], remaining_ms: int) -> dict[str, list[dict[str, str]]]:
    failures = []
    for record in records:
        message_id = record.get("messageId", "")
        try:
            try:
                notification = _sqs_record_notification(record)
            except ValueError as exc:
                # Deterministic: a retry fails the same way. Answered by a rejected row, not retried.
                logger.warning("notification rejected", extra={"sqs_message_id": message_id, "reason": str(exc)})
                record_rejected(record, str(exc))
                continue
            deliver(notification, "sqs", remaining_ms)
        except Exception:
            # Reported, not swallowed: the record goes back to the queue (and to the DLQ
            # after maxReceiveCount) while the rest of the batch is deleted.
            logger.exception("notification record failed", extra={"sqs_message_id": message_id})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def handle_direct(payload: Any, remaining_ms: int) -> dict[str, Any]:
    notification = parse_notification(
        payload, default_id=str(uuid.uuid4()), default_created_at_ms=_created_at_ms(payload, now_ms())
    )
    message_id = deliver(notification, "direct", remaining_ms)
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
        return handle_sqs(records, _remaining_ms(context))
    return handle_direct(event, _remaining_ms(context))
