"""REST API behind API Gateway (proxy integration): health, images, logs, notifications, files, stats, dashboard.

Client mistakes get 4xx with a reason; anything unexpected is logged with its stack trace
and answered 500 with the request id only. Nothing a client sends reaches a service before
it is checked (roxs_common.untrusted), and every read is bounded: lists are one page of a
Query (or of ListObjectsV2) resumed from an opaque next_token (roxs_common.cursor), and
/stats reads a fixed number of counter items (roxs_common.aggregates).
"""

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from http_router import HttpError, Reply, Request, Router, Text

from roxs_common import (
    LOG_LEVELS,
    NOTIFICATION_PRIORITIES,
    aggregates,
    client,
    cursor,
    dumps,
    get_logger,
    inject_lambda_context,
    require_env,
    to_plain,
)
from roxs_common.clock import now_iso
from roxs_common.log_index import log_summary
from roxs_common.notifications import API_DEFAULTS, check_notification_id, history_row, notification_fields
from roxs_common.paging import check_page_limit
from roxs_common.storable import check_s3_key

logger = get_logger(__name__)

router = Router(allow_origin=lambda: require_env("CORS_ALLOW_ORIGIN"))

PAGE_DEFAULT, LOG_PAGE_DEFAULT = 50, 20


# --- pages ------------------------------------------------------------------------------------


def _page_limit(request: Request, default: int) -> int:
    """The `limit` query parameter as the listers take it (roxs_common.paging), `default` when absent."""
    raw = request.query.get("limit")
    if raw is None:
        return default
    try:
        # An empty value (?limit=) is not a number: a 400 like any other, not the default.
        return check_page_limit(int(raw) if re.fullmatch(r"[0-9]{1,9}", raw) else None)
    except ValueError as exc:
        raise HttpError(400, f"{exc}, got {raw!r}") from exc


def _start_position(
    request: Request, route: str, filters: dict[str, Any], check_position: Callable[[Any], None]
) -> dict[str, Any] | None:
    """Where the page starts: None for the first page, else the position in next_token."""
    token = request.query.get("next_token")
    if token is None:
        return None
    # An empty one is refused, not read as "first page": a client that loses the token
    # would otherwise read the first page forever.
    if not token:
        raise HttpError(400, "next_token is not valid: it is empty (leave it out for the first page)")
    try:
        return cursor.decode(cursor.token_key(), token, route, filters, check_position)
    except cursor.CursorError as exc:
        raise HttpError(400, f"next_token is not valid: {exc}") from exc


def _page(
    route: str, filters: dict[str, Any], name: str, items: list[dict[str, Any]], position: dict[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {name: items, "count": len(items)}
    body.update({filter_name: value for filter_name, value in filters.items() if value is not None})
    if position is not None:
        body["next_token"] = cursor.encode(cursor.token_key(), route, filters, position)
    return body


def _choice(request: Request, name: str, choices: tuple[str, ...], normalise: Callable[[str], str]) -> str | None:
    raw = request.query.get(name)
    if not raw:
        return None
    # ASCII only: str.upper/lower map some other letters onto ASCII ones ("ı".upper() == "I").
    if not raw.isascii() or normalise(raw) not in choices:
        raise HttpError(400, f"{name} must be one of {', '.join(choices)}, got {raw[:40]!r}")
    return normalise(raw)


# --- GET /health ------------------------------------------------------------------------------


@router.route("GET", "/health")
def health(request: Request) -> Reply:
    return Reply(200, {"status": "healthy", "timestamp": now_iso()})


# --- GET /images ------------------------------------------------------------------------------


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
    # The table owner's listing (docs/interfaces.md), imported where it is used.
    from roxs_common.image_index import STATUSES, check_image_position
    from roxs_common.image_index import list_images as list_rows

    route, limit = "GET /images", _page_limit(request, PAGE_DEFAULT)
    filters = {"status": _choice(request, "status", STATUSES, str.lower)}
    after = _start_position(request, route, filters, check_image_position)
    rows, position = list_rows(filters["status"], limit, after)
    return Reply(200, _page(route, filters, "images", [image_summary(row) for row in rows], position))


# --- GET /logs --------------------------------------------------------------------------------


@router.route("GET", "/logs")
def list_logs(request: Request) -> Reply:
    from roxs_common.log_index import check_log_position
    from roxs_common.log_index import list_logs as list_rows

    route, limit = "GET /logs", _page_limit(request, LOG_PAGE_DEFAULT)
    level = _choice(request, "level", LOG_LEVELS, str.upper)
    filters = {"level": level}
    after = _start_position(request, route, filters, lambda position: check_log_position(position, level))
    rows, position = list_rows(level, limit, after)
    body = _page(route, filters, "logs", [log_summary(row) for row in rows], position)
    body["levels"] = [level] if level else list(LOG_LEVELS)
    return Reply(200, body)


# --- POST /notifications, GET /notifications, GET /notifications/{id} -------------------------


@router.route("POST", "/notifications")
def create_notification(request: Request) -> Reply:
    try:
        fields = notification_fields(request.json_object(), API_DEFAULTS)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from exc
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


def notification_summary(row: dict[str, Any]) -> dict[str, Any]:
    """What the list indexes hold of a history row (the message is at /notifications/{id})."""
    summary = {
        "id": row.get("NotificationId"),
        "created_at": row.get("CreatedAt"),
        "status": row.get("Status"),
        "priority": row.get("Priority"),
        "type": row.get("Type"),
        "recipient": row.get("Recipient"),
        "title": row.get("Title"),
        "sns_message_id": row.get("SNSMessageId"),
        "processed_at": row.get("ProcessedAt"),
    }
    if "ErrorMessage" in row:
        summary["error"] = row["ErrorMessage"]
    return to_plain(summary)


@router.route("GET", "/notifications")
def list_notifications(request: Request) -> Reply:
    from roxs_common.notifications import FINAL_STATUSES, check_notification_position
    from roxs_common.notifications import list_notifications as list_rows

    route, limit = "GET /notifications", _page_limit(request, PAGE_DEFAULT)
    filters = {
        "priority": _choice(request, "priority", NOTIFICATION_PRIORITIES, str.lower),
        "status": _choice(request, "status", FINAL_STATUSES, str.lower),
    }
    if filters["priority"] and filters["status"]:
        raise HttpError(400, "give priority or status, not both")
    after = _start_position(request, route, filters, check_notification_position)
    rows, position = list_rows(filters["priority"], filters["status"], limit, after)
    return Reply(200, _page(route, filters, "notifications", [notification_summary(row) for row in rows], position))


@router.route("GET", "/notifications/{id}")
def get_notification(request: Request) -> Reply:
    try:
        notification_id = check_notification_id(request.path_params["id"])
    except ValueError as exc:
        raise HttpError(400, str(exc)) from exc
    row = history_row(notification_id)
    if row is None:
        raise HttpError(404, f"notification {notification_id} not found (it may still be queued)")
    return Reply(200, to_plain(row))


# --- GET /files -------------------------------------------------------------------------------


def file_position_checker(prefix: str) -> Callable[[Any], None]:
    """check_*_position for /files: {"after": the last key listed}, a key S3 can store, under `prefix`."""

    def check(position: Any) -> None:
        if not isinstance(position, dict) or set(position) != {"after"}:
            raise ValueError("a files position is an object with exactly the key 'after'")
        if not check_s3_key(position["after"], "after").startswith(prefix):
            raise ValueError("its key is not under the prefix")

    return check


@router.route("GET", "/files")
def list_files(request: Request) -> Reply:
    route, limit = "GET /files", _page_limit(request, PAGE_DEFAULT)
    try:
        # Any text S3 takes in a key: every key the bucket holds can be listed by its prefix.
        prefix = check_s3_key(request.query.get("prefix", ""), "prefix", empty=True)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from exc
    filters = {"prefix": prefix or None}
    after = _start_position(request, route, filters, file_position_checker(prefix))
    bucket = require_env("ORIGINALS_BUCKET")
    # StartAfter (a key this route checked) rather than S3's own ContinuationToken, which
    # the API could not check before handing it back to S3.
    listing: dict[str, Any] = {"Bucket": bucket, "MaxKeys": limit, "Prefix": prefix}
    if after:
        listing["StartAfter"] = after["after"]
    page = client("s3").list_objects_v2(**listing)
    files = [
        {
            "key": obj["Key"],
            "size": obj["Size"],
            "last_modified": obj["LastModified"].isoformat(),
            "uri": f"s3://{bucket}/{obj['Key']}",
        }
        for obj in page.get("Contents", [])
    ]
    position = {"after": files[-1]["key"]} if page.get("IsTruncated") and files else None
    return Reply(200, {"bucket": bucket, **_page(route, filters, "files", files, position)})


# --- GET /stats -------------------------------------------------------------------------------


def _prefixed(counts: dict[str, int], prefix: str) -> dict[str, int]:
    return {name.removeprefix(prefix): value for name, value in sorted(counts.items()) if name.startswith(prefix)}


@router.route("GET", "/stats")
def stats(request: Request) -> Reply:
    """Counters kept at write time: one BatchGetItem, whatever the size of the tables."""
    bucket = require_env("ORIGINALS_BUCKET")
    bucket_counter = aggregates.bucket_counter(bucket)
    counters = aggregates.read_counters(
        client("dynamodb"),
        require_env("STATS_TABLE"),
        [aggregates.IMAGES, aggregates.LOGS, aggregates.NOTIFICATIONS, bucket_counter],
    )
    images, logs = counters[aggregates.IMAGES], counters[aggregates.LOGS]
    notifications, files = counters[aggregates.NOTIFICATIONS], counters[bucket_counter]
    return Reply(
        200,
        {
            "total_images": images.get("Total", 0),
            "total_logs": logs.get("Total", 0),
            "total_notifications": notifications.get("Total", 0),
            "total_files": files.get("Objects", 0),
            "images": {
                "completed": images.get("Completed", 0),
                "error": images.get("Error", 0),
                "rejected": images.get("Rejected", 0),
                "original_bytes": images.get("OriginalBytes", 0),
            },
            "logs_by_level": {level: logs[level] for level in LOG_LEVELS if level in logs},
            "notifications_by_priority": _prefixed(notifications, "priority_"),
            "notifications_by_status": _prefixed(notifications, "status_"),
            "files": {"bucket": bucket, "objects": files.get("Objects", 0), "bytes": files.get("Bytes", 0)},
            "generated_at": now_iso(),
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
