"""Notification processor: SQS records or a direct payload -> SNS publish -> history row.

SQS batches use the partial batch response: only failed records are returned in
batchItemFailures, so they alone are redelivered (and end in the DLQ after
maxReceiveCount). The event source mapping must enable ReportBatchItemFailures. A copy of a
message that another invocation is delivering right now (SQS delivers at least once) is
reported too, and made visible again when that delivery's claim expires rather than after the
queue's visibility timeout.

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

A body is parsed as I-JSON (roxs_common.untrusted.parse_json): whatever it holds (nesting,
huge numbers, NaN, lone surrogates, duplicate names, not JSON at all) it is either a
notification or answered by its `rejected` row, never an error that fails the record.

Deadlines: a batch starts a record only while more than RECORD_RESERVE_MS remains (a quarter
of a shorter invocation); the records it did not start are reported in batchItemFailures,
so SQS delivers them again. An invocation that still ends between claim and final status (killed at its timeout, out of
memory) leaves a claim that expires. The next delivery of an SQS message takes it over; a
direct invoke has none, so the claim sweep (a schedule, modules/notifications) finishes every
expired claim: it delivers the notification again (published again if it had been; the
duplicate is dropped by notification_id) and marks it sent, or leaves it to the next sweep.
"""

import datetime as dt
import functools
import math
import re
import time
import uuid
from collections.abc import Callable, Iterator
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
from roxs_common.dynamo import cancellation_codes, from_item, query_items, transact_write
from roxs_common.notifications import (
    IN_PROGRESS,
    REJECTED,
    SENT,
    Notification,
    check_created_at_ms,
    check_notification_id,
    final_updates,
    history_row,
    list_keys,
    parse_notification,
)
from roxs_common.storable import check_item_size, check_text
from roxs_common.untrusted import parse_json

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
# A record is started only while more than this remains of the invocation: one record is a
# few calls (well under a second here); the rest covers the SDK's retries of a slow one. A
# short invocation keeps a quarter of its time instead, so it still gets work done.
RECORD_RESERVE_MS = 3_000
RESERVE_SHARE = 4
# The sparse GSI of rows being delivered (Status in_progress, by ClaimExpiresMs), read by the sweep.
CLAIM_INDEX = "ByClaimExpiry"
SWEEP_PAGE = 25
_DIGITS = re.compile(r"[0-9]{1,16}")
# SQS's longest visibility timeout (12 hours).
MAX_VISIBILITY_S = 43_200


class ClaimHeld(RuntimeError):
    """Another delivery of the same notification is in progress: retry later (once its claim
    has expired, at the latest)."""

    def __init__(self, message: str, expires_ms: int):
        super().__init__(message)
        self.expires_ms = expires_ms


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
            expires_ms = int(existing.get("ClaimExpiresMs", 0))
            raise ClaimHeld(
                f"notification {notification.notification_id} is being delivered by another invocation "
                f"(claim expires at {expires_ms} ms)",
                expires_ms,
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


def deliver(
    notification: Notification, source: str, remaining_ms: Callable[[], int], *, release_on_failure: bool = True
) -> str:
    """Publish and record `notification` once; returns the SNS message id. A failed publish
    gives the claim back (`release_on_failure`), unless the row is all that is left of the
    notification (the sweep's redelivery): then the claim expires and the next sweep retries."""
    log_data = {"notification_id": notification.notification_id, "source": source}
    held = claim(notification, source, remaining_ms())
    if not isinstance(held, Claim):
        logger.info("notification already handled, not publishing again", extra={**log_data, "status": held["Status"]})
        return held.get("SNSMessageId", "")
    try:
        message_id = publish(notification)
    except Exception:
        if release_on_failure:
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


def _storable(text: str) -> str:
    """`text` as DynamoDB can store it: lone surrogates (which UTF-8 cannot encode) as \\uXXXX."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def record_rejected(record: dict[str, Any], reason: str) -> None:
    """A `rejected` history row for an SQS message that can never be delivered, under its own
    notification_id when that is valid (GET /notifications/{id} answers the sender), else
    under the id derived from the SQS message. An existing row of that key stands."""
    body_text = record["body"]
    try:
        body = parse_json(body_text)
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
        "ErrorMessage": _storable(reason[:1000]),
        "Body": _storable(body_text[:REJECTED_BODY_MAX_CHARS]),
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
    found = history_row(notification_id, "CreatedAt")
    return int(found["CreatedAt"]) if found else fallback_ms


def _sqs_record_notification(record: dict[str, Any]) -> Notification:
    try:
        body = parse_json(record["body"])
    except ValueError as exc:
        raise ValueError(f"body is not I-JSON (RFC 7493): {exc}") from exc
    # Defaults that are stable across redeliveries of the same SQS message.
    return parse_notification(
        body, default_id=_stable_id(record), default_created_at_ms=_created_at_ms(body, _sent_ms(record))
    )


def _remaining_ms(context: Any) -> Callable[[], int]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining if callable(remaining) else lambda: DEFAULT_REMAINING_MS


def time_left(remaining_ms: Callable[[], int]) -> Callable[[], bool]:
    """Whether another record may be started: more than the reserve (of this invocation's
    time when it starts) remains."""
    reserve = min(RECORD_RESERVE_MS, remaining_ms() // RESERVE_SHARE)
    return lambda: remaining_ms() > reserve


def check_sqs_records(records: Any) -> list[dict[str, Any]]:
    """`records` if every one is an SQS record this handler can answer; ValueError naming the first that is not."""
    if not isinstance(records, list):
        raise ValueError("Records must be a list of SQS records (eventSource aws:sqs)")
    for index, record in enumerate(records):
        if not isinstance(record, dict) or record.get("eventSource") != "aws:sqs":
            raise ValueError("Records must be a list of SQS records (eventSource aws:sqs)")
        message_id = record.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            raise ValueError(f"record {index} messageId must be a non-empty string")
        check_text(message_id, f"record {index} messageId")
        if not isinstance(record.get("body"), str):
            raise ValueError(f"record {index} body must be a string")
        attributes = record.get("attributes")
        sent = attributes.get("SentTimestamp") if isinstance(attributes, dict) else None
        if not isinstance(sent, str) or not _DIGITS.fullmatch(sent):
            raise ValueError(f"record {index} attributes.SentTimestamp must be epoch milliseconds")
    return records


def handle_sqs(records: list[dict[str, Any]], remaining_ms: Callable[[], int]) -> dict[str, list[dict[str, str]]]:
    failures, may_start = [], time_left(remaining_ms)
    for index, record in enumerate(records):
        message_id = record["messageId"]
        if not may_start():
            # Not started: SQS delivers these again (a direct caller sees them listed).
            failures += [{"itemIdentifier": left["messageId"]} for left in records[index:]]
            logger.warning("deadline near: records left for redelivery", extra={"records_left": len(records) - index})
            break
        try:
            try:
                notification = _sqs_record_notification(record)
            except ValueError as exc:
                # Deterministic: a retry fails the same way. Answered by a rejected row, not retried.
                logger.warning("notification rejected", extra={"sqs_message_id": message_id, "reason": str(exc)})
                record_rejected(record, str(exc))
                continue
            deliver(notification, "sqs", remaining_ms)
        except ClaimHeld as held:
            # Another copy of this message (SQS delivers at least once) is being delivered now.
            logger.info("notification held by another delivery", extra={"sqs_message_id": message_id})
            failures.append({"itemIdentifier": message_id})
            return_when_claim_expires(record, held.expires_ms)
        except Exception:
            # Reported, not swallowed: the record goes back to the queue (and to the DLQ
            # after maxReceiveCount) while the rest of the batch is deleted.
            logger.exception("notification record failed", extra={"sqs_message_id": message_id})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def return_when_claim_expires(record: dict[str, Any], expires_ms: int) -> None:
    """Make a record held by another delivery's claim visible again when that claim expires,
    if that is sooner than the queue's visibility timeout (six function timeouts in the stack)
    would: it then finds the row sent and is deleted, or takes over a claim its holder left.
    Never later than the queue would bring it back."""
    sqs = client("sqs")
    try:
        queue_url = _queue_url(record["eventSourceARN"])
        # Read each time (a rare path): the queue's setting can change while the function is warm.
        visibility = int(
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"][
                "VisibilityTimeout"
            ]
        )
        seconds = max(1, math.ceil((expires_ms - now_ms()) / 1000))
        if seconds < min(visibility, MAX_VISIBILITY_S):
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=seconds
            )
    except Exception:  # the queue's own visibility timeout then brings the record back
        logger.warning("could not shorten a held record's visibility", extra={"sqs_message_id": record["messageId"]})


@functools.cache
def _queue_url(queue_arn: str) -> str:
    *_, account, name = queue_arn.split(":")
    return client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


def handle_direct(payload: Any, remaining_ms: Callable[[], int]) -> dict[str, Any]:
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


# --- expired claims -----------------------------------------------------------------------------


def is_claim_sweep(event: Any) -> bool:
    """The schedule's event (EventBridge's Scheduled Event) asks for a sweep."""
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    )


def expired_claims(now: int) -> Iterator[dict[str, Any]]:
    """Rows still `in_progress` whose claim expired before `now`, oldest expiry first. Only
    rows being delivered are in the index (a final row has no ClaimExpiresMs), so the read
    grows with stuck deliveries, never with the history."""
    return query_items(
        client("dynamodb"),
        TableName=require_env("HISTORY_TABLE"),
        IndexName=CLAIM_INDEX,
        KeyConditionExpression="#s = :claimed AND #exp < :now",
        ExpressionAttributeNames={"#s": "Status", "#exp": "ClaimExpiresMs"},
        ExpressionAttributeValues={":claimed": {"S": IN_PROGRESS}, ":now": {"N": str(now)}},
        Limit=SWEEP_PAGE,
    )


def _row_notification(row: dict[str, Any]) -> Notification:
    fields = {"type": "Type", "recipient": "Recipient", "title": "Title", "message": "Message", "priority": "Priority"}
    return parse_notification(
        {
            "notification_id": row["NotificationId"],
            "created_at_ms": int(row["CreatedAt"]),
            **{name: row.get(attribute) for name, attribute in fields.items()},
        },
        default_id=row["NotificationId"],
        default_created_at_ms=int(row["CreatedAt"]),
    )


def sweep_expired_claims(remaining_ms: Callable[[], int]) -> dict[str, int]:
    """Deliver again every notification whose claim expired (see the module docstring)."""
    outcome, may_start = {"finished": 0, "failed": 0}, time_left(remaining_ms)
    for row in expired_claims(now_ms()):
        if not may_start():
            logger.warning("sweep stopped at its deadline; the next one continues", extra=outcome)
            break
        log_data = {"notification_id": row["NotificationId"], "claim_expired_ms": int(row["ClaimExpiresMs"])}
        try:
            deliver(_row_notification(row), row.get("Source", "sweep"), remaining_ms, release_on_failure=False)
        except ClaimHeld:
            continue  # another delivery took it over meanwhile and finishes it
        except Exception:
            logger.exception("expired claim not finished; the next sweep retries it", extra=log_data)
            outcome["failed"] += 1
            continue
        logger.info("expired claim finished", extra=log_data)
        outcome["finished"] += 1
    return outcome


@inject_lambda_context
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    remaining_ms = _remaining_ms(context)
    if is_claim_sweep(event):
        return sweep_expired_claims(remaining_ms)
    if isinstance(event, dict) and "Records" in event:
        return handle_sqs(check_sqs_records(event["Records"]), remaining_ms)
    return handle_direct(event, remaining_ms)
