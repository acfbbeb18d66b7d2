"""Dashboard: metrics of the whole system as one plain dict (the API serves it at GET /dashboard/data).

Every read is paginated, so the numbers are exact however large the tables and buckets grow.
"""

import base64
import datetime as dt
import os
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

from roxs_common import (
    LOG_LEVELS,
    client,
    count_items,
    get_logger,
    inject_lambda_context,
    newest_logs,
    projection,
    require_env,
    scan_items,
    to_plain,
)

logger = get_logger(__name__)

LATEST_IMAGES = 6
RECENT_ERRORS = 5
ERROR_LEVELS = ("ERROR", "CRITICAL", "FATAL")


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def summarize_images(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals and the latest completed images (without thumbnails) from metadata rows."""
    sizes = [row["OriginalSize"] for row in rows if "OriginalSize" in row]
    completed = [row for row in rows if row.get("Status") == "completed"]
    completed.sort(key=lambda row: row.get("ProcessedAt", ""), reverse=True)
    return {
        "total": len(rows),
        "successful": len(completed),
        "failed": sum(1 for row in rows if row.get("Status") == "error"),
        "avg_size": round(float(sum(sizes)) / len(sizes), 1) if sizes else 0,
        "latest": [
            {
                "id": row["ImageId"],
                "filename": row.get("OriginalKey"),
                "processed_at": row.get("ProcessedAt"),
                "width": row.get("Width"),
                "height": row.get("Height"),
                "thumbnail_key": row.get("ThumbnailKey"),
            }
            for row in completed[:LATEST_IMAGES]
        ],
    }


def thumbnail_data_uri(bucket: str, key: str | None) -> str | None:
    """The thumbnail as a data: URI, or None when the row has none or the object is gone."""
    if not key:
        return None
    try:
        obj = client("s3").get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _error_code(exc) not in ("NoSuchKey", "404"):
            raise
        # An image without its thumbnail still belongs on the dashboard.
        logger.warning("thumbnail missing", extra={"bucket": bucket, "key": key})
        return None
    content_type = obj.get("ContentType") or "application/octet-stream"
    return f"data:{content_type};base64,{base64.b64encode(obj['Body'].read()).decode('ascii')}"


def image_metrics() -> dict[str, Any]:
    rows = list(
        scan_items(
            client("dynamodb"),
            TableName=require_env("METADATA_TABLE"),
            **projection(
                "ImageId", "OriginalKey", "OriginalSize", "ProcessedAt", "Status", "Width", "Height", "ThumbnailKey"
            ),
        )
    )
    summary = summarize_images(rows)
    bucket = require_env("THUMBNAILS_BUCKET")
    for image in summary["latest"]:
        image["thumbnail"] = thumbnail_data_uri(bucket, image.pop("thumbnail_key"))
    return summary


def log_metrics() -> dict[str, Any]:
    table = require_env("LOG_INDEX_TABLE")
    ddb = client("dynamodb")
    by_level = {
        level: count_items(
            ddb,
            "query",
            TableName=table,
            KeyConditionExpression="LogLevel = :level",
            ExpressionAttributeValues={":level": {"S": level}},
        )
        for level in LOG_LEVELS
    }
    recent_errors = [
        {
            "level": row["LogLevel"],
            "timestamp": row.get("TimestampMs", int(row["Timestamp"])),
            "message": row.get("Message"),
            "service": row.get("Service"),
            "user_id": row.get("UserId"),
            "log_id": row.get("LogId"),
        }
        for row in newest_logs(table, ERROR_LEVELS, RECENT_ERRORS)
    ]
    return {
        "total": count_items(ddb, TableName=table),
        "by_level": {level: count for level, count in by_level.items() if count},
        "recent_errors": recent_errors,
    }


def notification_metrics() -> dict[str, Any]:
    rows = scan_items(
        client("dynamodb"),
        TableName=require_env("HISTORY_TABLE"),
        **projection("Priority", "Status"),
    )
    total, successful, by_priority = 0, 0, Counter()
    for row in rows:
        total += 1
        successful += row.get("Status") == "sent"
        by_priority[row.get("Priority", "unknown")] += 1
    return {"total": total, "by_priority": dict(by_priority), "successful": successful}


def bucket_metrics(bucket: str) -> dict[str, Any]:
    objects, total_size = 0, 0
    try:
        for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                objects += 1
                total_size += obj["Size"]
    except ClientError as exc:
        if _error_code(exc) != "NoSuchBucket":
            raise
        # Reported in the data rather than failing the whole dashboard over one bucket.
        return {"objects": 0, "total_size_bytes": 0, "error": "bucket not found"}
    return {"objects": objects, "total_size_bytes": total_size}


def function_metrics(prefix: str) -> dict[str, Any]:
    names = sorted(
        function["FunctionName"]
        for page in client("lambda").get_paginator("list_functions").paginate()
        for function in page.get("Functions", [])
        if function["FunctionName"].startswith(prefix)
    )
    return {"total": len(names), "names": names}


def _buckets() -> list[str]:
    return [name.strip() for name in require_env("BUCKETS").split(",") if name.strip()]


@inject_lambda_context
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    data = {
        "images": image_metrics(),
        "logs": log_metrics(),
        "notifications": notification_metrics(),
        "storage": {bucket: bucket_metrics(bucket) for bucket in _buckets()},
        "functions": function_metrics(os.environ.get("FUNCTION_PREFIX", "")),
        "metadata": {"generated_at": dt.datetime.now(dt.UTC).isoformat()},
    }
    logger.info("dashboard generated", extra={"images": data["images"]["total"], "logs": data["logs"]["total"]})
    # The runtime serialises the return value with plain json, which rejects Decimal.
    return to_plain(data)
