"""REST API behind API Gateway (proxy integration): health, images, logs, notifications, files, stats, dashboard.

Client mistakes get 4xx with a reason; anything unexpected is logged with its stack trace
and answered 500 with the request id only.
"""

import datetime as dt
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from http_router import HttpError, Reply, Request, Router, Text, decode_token, encode_token
from roxs_common import (
    LOG_LEVELS,
    NOTIFICATION_PRIORITIES,
    client,
    count_items,
    dumps,
    from_item,
    get_logger,
    inject_lambda_context,
    newest_logs,
    query_items,
    require_env,
    to_plain,
)

logger = get_logger(__name__)

router = Router(allow_origin=lambda: require_env("CORS_ALLOW_ORIGIN"))

PAGE_LIMITS = {"default": 50, "minimum": 1, "maximum": 100}
LOG_LIMITS = {"default": 20, "minimum": 1, "maximum": 100}
TITLE_MAX_CHARS = 200
MESSAGE_MAX_CHARS = 4000
SHORT_FIELD_MAX_CHARS = 256
NOTIFICATION_ID_MAX_CHARS = 256


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


# --- GET /health ------------------------------------------------------------------------------


@router.route("GET", "/health")
def health(request: Request) -> Reply:
    return Reply(200, {"status": "healthy", "timestamp": _now_iso()})


# --- GET /images ------------------------------------------------------------------------------


def _image_start_key(token: str) -> dict[str, Any]:
    key = decode_token(token, "images")
    valid = (
        isinstance(key, dict)
        and set(key) == {"ImageId", "UploadTimestamp"}
        and isinstance(key["ImageId"], dict)
        and isinstance(key["ImageId"].get("S"), str)
        and isinstance(key["UploadTimestamp"], dict)
        and isinstance(key["UploadTimestamp"].get("N"), str)
        and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", key["UploadTimestamp"]["N"]) is not None
    )
    if not valid:
        raise HttpError(400, "next_token is not valid for this endpoint")
    return key


def image_summary(row: dict[str, Any]) -> dict[str, Any]:
    summary = {
        "id": row.get("ImageId"),
        "filename": row.get("OriginalKey"),
        "status": row.get("Status", "unknown"),
        "processed_at": row.get("ProcessedAt"),
        "upload_timestamp": row.get("UploadTimestamp"),
        "size": row.get("OriginalSize"),
        "content_type": row.get("ContentType"),
        "format": row.get("Format"),
        "width": row.get("Width"),
        "height": row.get("Height"),
        "processed_key": row.get("ProcessedKey"),
        "thumbnail_key": row.get("ThumbnailKey"),
    }
    if "ErrorMessage" in row:
        summary["error"] = row["ErrorMessage"]
    return to_plain(summary)


@router.route("GET", "/images")
def list_images(request: Request) -> Reply:
    limit = request.int_param("limit", **PAGE_LIMITS)
    scan: dict[str, Any] = {"TableName": require_env("METADATA_TABLE"), "Limit": limit}
    if request.query.get("next_token"):
        scan["ExclusiveStartKey"] = _image_start_key(request.query["next_token"])
    # One page per request: the caller follows next_token for the rest.
    page = client("dynamodb").scan(**scan)
    images = [image_summary(from_item(item)) for item in page.get("Items", [])]
    body: dict[str, Any] = {"images": images, "count": len(images)}
    if page.get("LastEvaluatedKey"):
        body["next_token"] = encode_token("images", page["LastEvaluatedKey"])
    return Reply(200, body)


# --- GET /logs --------------------------------------------------------------------------------


def log_summary(row: dict[str, Any]) -> dict[str, Any]:
    return to_plain(
        {
            "level": row.get("LogLevel"),
            "timestamp": row.get("TimestampMs", int(row["Timestamp"])),
            "message": row.get("Message"),
            "service": row.get("Service"),
            "user_id": row.get("UserId"),
            "log_id": row.get("LogId"),
            "batch_id": row.get("BatchId"),
        }
    )


@router.route("GET", "/logs")
def list_logs(request: Request) -> Reply:
    limit = request.int_param("limit", **LOG_LIMITS)
    level = request.query.get("level")
    if level:
        if level.upper() not in LOG_LEVELS:
            raise HttpError(400, f"level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        levels: tuple[str, ...] = (level.upper(),)
    else:
        levels = LOG_LEVELS
    logs = [log_summary(row) for row in newest_logs(require_env("LOG_INDEX_TABLE"), levels, limit)]
    return Reply(200, {"logs": logs, "count": len(logs), "levels": list(levels)})


# --- POST /notifications, GET /notifications/{id} ---------------------------------------------


def _text_field(data: dict[str, Any], name: str, *, default: str | None, max_chars: int) -> str:
    value = data.get(name, default)
    if value is None:
        raise HttpError(400, f"{name} is required")
    if not isinstance(value, str) or not value.strip():
        raise HttpError(400, f"{name} must be a non-empty string")
    if len(value) > max_chars:
        raise HttpError(400, f"{name} is {len(value)} characters, the maximum is {max_chars}")
    return value


def notification_from_body(data: dict[str, Any]) -> dict[str, Any]:
    """The validated notification fields of a POST body (HttpError 400 naming the field)."""
    priority = data.get("priority", "normal")
    if not isinstance(priority, str) or priority.lower() not in NOTIFICATION_PRIORITIES:
        raise HttpError(400, f"priority must be one of {', '.join(NOTIFICATION_PRIORITIES)}, got {priority!r}")
    return {
        "title": _text_field(data, "title", default=None, max_chars=TITLE_MAX_CHARS),
        "message": _text_field(data, "message", default=None, max_chars=MESSAGE_MAX_CHARS),
        "priority": priority.lower(),
        "type": _text_field(data, "type", default="api", max_chars=SHORT_FIELD_MAX_CHARS),
        "recipient": _text_field(data, "recipient", default="api-user@roxs.com", max_chars=SHORT_FIELD_MAX_CHARS),
    }


@router.route("POST", "/notifications")
def create_notification(request: Request) -> Reply:
    fields = notification_from_body(request.json_object())
    notification_id = str(uuid.uuid4())
    # Id and creation time travel in the message so every redelivery maps to the same history row.
    message = {"notification_id": notification_id, "created_at_ms": time.time_ns() // 1_000_000, **fields}
    sent = client("sqs").send_message(QueueUrl=require_env("NOTIFICATIONS_QUEUE_URL"), MessageBody=dumps(message))
    logger.info("notification queued", extra={"notification_id": notification_id, "sqs_message_id": sent["MessageId"]})
    location = f"/notifications/{notification_id}"
    return Reply(
        202,
        {
            "notification_id": notification_id,
            "status": "queued",
            "sqs_message_id": sent["MessageId"],
            "links": {"self": location},
        },
        {"Location": location},
    )


@router.route("GET", "/notifications/{id}")
def get_notification(request: Request) -> Reply:
    notification_id = request.path_params["id"]
    if len(notification_id) > NOTIFICATION_ID_MAX_CHARS:
        raise HttpError(400, f"notification id is longer than {NOTIFICATION_ID_MAX_CHARS} characters")
    rows = query_items(
        client("dynamodb"),
        TableName=require_env("HISTORY_TABLE"),
        KeyConditionExpression="NotificationId = :id",
        ExpressionAttributeValues={":id": {"S": notification_id}},
        ScanIndexForward=False,
    )
    row = next(rows, None)
    if row is None:
        raise HttpError(404, f"notification {notification_id} not found (it may still be queued)")
    return Reply(200, to_plain(row))


# --- GET /files -------------------------------------------------------------------------------


@router.route("GET", "/files")
def list_files(request: Request) -> Reply:
    limit = request.int_param("limit", **PAGE_LIMITS)
    bucket = require_env("ORIGINALS_BUCKET")
    listing: dict[str, Any] = {"Bucket": bucket, "MaxKeys": limit}
    token = request.query.get("next_token")
    if token:
        continuation = decode_token(token, "files")
        if not isinstance(continuation, str) or not continuation:
            raise HttpError(400, "next_token is not valid for this endpoint")
        listing["ContinuationToken"] = continuation
    try:
        page = client("s3").list_objects_v2(**listing)
    except ClientError as exc:
        if token and exc.response.get("Error", {}).get("Code") == "InvalidArgument":
            raise HttpError(400, "next_token is not valid (S3 rejected the continuation token)") from exc
        raise
    files = [
        {
            "key": obj["Key"],
            "size": obj["Size"],
            "last_modified": obj["LastModified"].isoformat(),
            "uri": f"s3://{bucket}/{obj['Key']}",
        }
        for obj in page.get("Contents", [])
    ]
    body: dict[str, Any] = {"bucket": bucket, "files": files, "count": len(files)}
    if page.get("IsTruncated") and page.get("NextContinuationToken"):
        body["next_token"] = encode_token("files", page["NextContinuationToken"])
    return Reply(200, body)


# --- GET /stats -------------------------------------------------------------------------------


def count_objects(bucket: str) -> int:
    pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sum(page.get("KeyCount", 0) for page in pages)


@router.route("GET", "/stats")
def stats(request: Request) -> Reply:
    ddb = client("dynamodb")
    return Reply(
        200,
        {
            "total_images": count_items(ddb, TableName=require_env("METADATA_TABLE")),
            "total_logs": count_items(ddb, TableName=require_env("LOG_INDEX_TABLE")),
            "total_notifications": count_items(ddb, TableName=require_env("HISTORY_TABLE")),
            "total_files": count_objects(require_env("ORIGINALS_BUCKET")),
            "generated_at": _now_iso(),
        },
    )


# --- GET /dashboard, GET /dashboard/data -----------------------------------------------------

# One self-contained file (inline CSS, JS and SVG; no external asset), read once per environment.
# It fetches "dashboard/data" relative to its own URL, so any stage prefix works.
DASHBOARD_PAGE = Text(
    (Path(__file__).parent / "dashboard.html").read_text(encoding="utf-8"), "text/html; charset=utf-8"
)


@router.route("GET", "/dashboard")
def dashboard_page(request: Request) -> Reply:
    return Reply(200, DASHBOARD_PAGE, {"Cache-Control": "no-cache"})


@router.route("GET", "/dashboard/data")
def dashboard_data(request: Request) -> Reply:
    response = client("lambda").invoke(FunctionName=require_env("DASHBOARD_FUNCTION_NAME"), Payload=b"{}")
    raw = response["Payload"].read()
    try:
        payload = json.loads(raw)
    except ValueError:
        return Reply(
            502, {"error": "dashboard function returned invalid JSON", "reason": raw[:200].decode("utf-8", "replace")}
        )
    if response.get("FunctionError"):
        reason = payload.get("errorMessage", str(payload)) if isinstance(payload, dict) else str(payload)
        logger.error("dashboard function failed", extra={"reason": reason, "function_error": response["FunctionError"]})
        return Reply(502, {"error": "dashboard function failed", "reason": reason})
    return Reply(200, payload)


# --- entry point ------------------------------------------------------------------------------


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    # Checked before anything else: every response, the 500 included, needs this header, so
    # a deployment without it fails loudly here instead of inside the error path.
    require_env("CORS_ALLOW_ORIGIN")
    try:
        request = Request.from_event(event)
        logger.info(
            "request", extra={"method": request.method, "path": request.path, "api_request_id": request.request_id}
        )
        return router.dispatch(request)
    except HttpError as exc:
        return router.respond(Reply(exc.status, {"error": exc.message}))
    except Exception:
        logger.exception("unhandled error")
        return router.respond(Reply(500, {"error": "internal server error", "request_id": request_id}))
