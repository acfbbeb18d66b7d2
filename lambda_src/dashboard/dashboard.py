"""Dashboard: the system's state as one plain dict (the API serves it at GET /dashboard/data).

Every section costs a fixed number of reads, whatever the size of the data:
- totals and the last 60 minutes: one BatchGetItem of counter items (roxs_common.aggregates);
- recent errors: bounded, newest-first queries (one per error level, LIMIT RECENT_ERRORS);
- the latest images: a Scan for now, until the images table's newest-first list
  (roxs_common list_images, app-images) exists; thumbnails: one GetObject each, once per environment,
  inlined up to THUMBNAIL_INLINE_MAX_BYTES each (the answer's size does not grow with uploads);
- queues: one GetQueueAttributes per queue;
- functions: ListFunctions (one page per 50 functions), then two GetMetricData requests.
Nothing else scans a table, and nothing lists a bucket.
"""

import base64
import datetime as dt
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from roxs_common import (
    LOG_LEVELS,
    NOTIFICATION_PRIORITIES,
    client,
    get_logger,
    inject_lambda_context,
    require_env,
    to_plain,
)
from roxs_common.aggregates import (
    IMAGES,
    LOGS,
    NOTIFICATIONS,
    bucket_counter,
    minute_counter,
    read_counters,
)
from roxs_common.aws import error_code, is_not_found
from roxs_common.image_index import list_images
from roxs_common.log_index import list_logs, log_summary
from roxs_common.metrics import DURATION_METRIC, FUNCTION_DIMENSION, metrics_namespace

logger = get_logger(__name__)

LATEST_IMAGES = 6
RECENT_ERRORS = 5
ERROR_LEVELS = ("ERROR", "CRITICAL", "FATAL")
ACTIVITY_MINUTES = 60
# Log levels the page charts even at zero (others appear when counted).
CHARTED_LEVELS = ("INFO", "WARNING", "ERROR", "CRITICAL")
# Drawn even when zero all hour, so every chart has its lines (others appear when counted).
ACTIVITY_SERIES = (
    "images_completed",
    "images_error",
    "images_rejected",
    *(f"logs_{level}" for level in CHARTED_LEVELS),
    "notifications_sent",
)
QUEUE_ATTRIBUTES = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}
# (role, environment variable of its URL, the `make redrive` QUEUE= value for a dead-letter queue)
QUEUES = (
    ("notifications", "NOTIFICATIONS_QUEUE_URL", None),
    ("notifications-dlq", "NOTIFICATIONS_DLQ_URL", "notifications"),
    ("images-dlq", "IMAGES_DLQ_URL", "images"),
)
METRICS_WINDOW = dt.timedelta(hours=1)
# SQS publishes ApproximateAgeOfOldestMessage every minute; an older datapoint is not "now".
QUEUE_AGE_WINDOW_S = 300
PERCENTILES = ("p50", "p95")
SERVICES = ("dynamodb", "s3", "sqs", "lambda", "cloudwatch")
# Why CloudWatch refused percentiles, once it has: an engine that cannot compute them will not
# learn to during this execution environment's life, and each refusal costs the client's retries.
_percentiles_refused: str | None = None


# --- totals (counter items) ---------------------------------------------------------------------


def totals(counters: dict[str, dict[str, int]], buckets: list[str]) -> dict[str, Any]:
    """The images, logs, notifications and storage sections from the counter items."""
    images, logs, notes = counters[IMAGES], counters[LOGS], counters[NOTIFICATIONS]
    total_images = images.get("Total", 0)
    return {
        "images": {
            "total": total_images,
            "successful": images.get("Completed", 0),
            "failed": images.get("Error", 0),
            "rejected": images.get("Rejected", 0),
            "avg_size": round(images.get("OriginalBytes", 0) / total_images, 1) if total_images else 0,
        },
        "logs": {
            "total": logs.get("Total", 0),
            "by_level": {level: logs[level] for level in LOG_LEVELS if logs.get(level)},
        },
        "notifications": {
            "total": notes.get("Total", 0),
            "by_priority": {
                name.removeprefix("priority_"): count
                for name, count in sorted(notes.items())
                if name.startswith("priority_") and count
            },
            "successful": notes.get("status_sent", 0),
        },
        "storage": {
            bucket: {
                "objects": counters[bucket_counter(bucket)].get("Objects", 0),
                "total_size_bytes": counters[bucket_counter(bucket)].get("Bytes", 0),
            }
            for bucket in buckets
        },
    }


def activity_minutes(now: dt.datetime, count: int = ACTIVITY_MINUTES) -> list[dt.datetime]:
    """The `count` UTC minutes up to and including the one of `now`, oldest first."""
    current = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    return [current - dt.timedelta(minutes=back) for back in range(count - 1, -1, -1)]


def activity(counters: dict[str, dict[str, int]], minutes: list[dt.datetime]) -> dict[str, Any]:
    """Per-minute series from the `minute#…` items: one value per minute, 0 where nothing was counted."""
    items = [counters.get(minute_counter(minute), {}) for minute in minutes]
    names = sorted(set(ACTIVITY_SERIES).union(*items))
    return {
        "minutes": [f"{minute:%Y-%m-%dT%H:%MZ}" for minute in minutes],
        "series": {name: [item.get(name, 0) for item in items] for name in names},
    }


# --- lists (bounded, newest first) ---------------------------------------------------------------


# The answer must stay far below Lambda's 6 MB response limit whatever was uploaded: each of
# the LATEST_IMAGES thumbnails is inlined only up to this size (the default 128 px thumbnail is
# at most 64 KiB), so the images section stays under 6 x (256 KiB in base64 + a 1,024-byte key
# escaped) = about 2.1 MB. A larger thumbnail is left out with the reason.
THUMBNAIL_INLINE_MAX_BYTES = 256 * 1024
# The types the page shows inline (the processor writes only these).
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
# Thumbnails found, by (bucket, key), kept by the warm environment: a key names one image
# version (the image id is derived from bucket, key and ETag), so its bytes never change.
_thumbnails: dict[tuple[str, str], dict[str, str | None]] = {}
THUMBNAIL_CACHE_SIZE = 4 * LATEST_IMAGES


def inline_thumbnail(bucket: str, key: str | None) -> dict[str, str | None]:
    """{"thumbnail": a data: URI or None}, and "thumbnail_omitted": the reason when the object
    is over THUMBNAIL_INLINE_MAX_BYTES. None when the row has none or the object is gone."""
    if not key:
        return {"thumbnail": None}
    if (bucket, key) in _thumbnails:
        return _thumbnails[(bucket, key)]
    try:
        # One more byte than inlined: enough to tell a thumbnail over the limit, whatever its size.
        obj = client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{THUMBNAIL_INLINE_MAX_BYTES}")
    except ClientError as exc:
        if not is_not_found(exc) and error_code(exc) != "InvalidRange":
            raise
        # An image without its thumbnail (gone, or empty) still belongs on the dashboard.
        logger.warning("thumbnail missing", extra={"bucket": bucket, "key": key, "reason": error_code(exc)})
        return {"thumbnail": None}
    body, content_type = obj["Body"].read(), obj.get("ContentType")
    if len(body) > THUMBNAIL_INLINE_MAX_BYTES:
        size = obj.get("ContentRange", "").rpartition("/")[2] or f"over {THUMBNAIL_INLINE_MAX_BYTES}"
        omitted = f"thumbnail is {size} bytes, over the {THUMBNAIL_INLINE_MAX_BYTES} the dashboard inlines"
        found = {"thumbnail": None, "thumbnail_omitted": omitted}
    elif content_type not in INLINE_TYPES:
        found = {
            "thumbnail": None,
            "thumbnail_omitted": f"thumbnail type {str(content_type)[:100]!r} is not shown inline",
        }
    else:
        found = {"thumbnail": f"data:{content_type};base64,{base64.b64encode(body).decode('ascii')}"}
    if len(_thumbnails) >= THUMBNAIL_CACHE_SIZE:
        del _thumbnails[next(iter(_thumbnails))]  # the oldest entry
    _thumbnails[(bucket, key)] = found
    return found


def latest_images() -> list[dict[str, Any]]:
    rows, _ = list_images("completed", LATEST_IMAGES, None)
    bucket = require_env("THUMBNAILS_BUCKET")
    return [
        {
            "id": row["ImageId"],
            "filename": row.get("OriginalKey"),
            "processed_at": row.get("ProcessedAt"),
            "width": row.get("Width"),
            "height": row.get("Height"),
            **inline_thumbnail(bucket, row.get("ThumbnailKey")),
        }
        for row in rows
    ]


def recent_errors() -> list[dict[str, Any]]:
    """The newest RECENT_ERRORS rows of the error levels: each level's newest page (bounded
    hour partitions, roxs_common.log_index), merged."""
    rows = [row for level in ERROR_LEVELS for row in list_logs(level, RECENT_ERRORS, None)[0]]
    rows.sort(key=lambda row: row["Timestamp"], reverse=True)
    return [log_summary(row) for row in rows[:RECENT_ERRORS]]


# --- queues ---------------------------------------------------------------------------------------


def queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def queue_state(url: str) -> dict[str, int]:
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=list(QUEUE_ATTRIBUTES.values()))
    return {key: int(attributes["Attributes"].get(name, 0)) for key, name in QUEUE_ATTRIBUTES.items()}


def queues() -> list[dict[str, Any]]:
    """Each configured queue's depth; a dead-letter queue carries its `make redrive` command."""
    found = []
    for role, variable, redrive in QUEUES:
        url = os.environ.get(variable)
        if not url:
            continue  # a deployment without this queue (e.g. the images pipeline left out)
        entry = {"role": role, "name": queue_name(url), "dead_letter": redrive is not None, **queue_state(url)}
        if redrive:
            entry["redrive"] = f"make redrive QUEUE={redrive}"
        found.append(entry)
    return found


def alerts(queue_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One alert per dead-letter queue that holds messages (visible, in flight or delayed)."""
    return [
        {
            "queue": queue["name"],
            "messages": queue["visible"] + queue["in_flight"] + queue["delayed"],
            "message": f"{queue['name']} holds dead letters",
            "redrive": queue["redrive"],
        }
        for queue in queue_list
        if queue["dead_letter"] and queue["visible"] + queue["in_flight"] + queue["delayed"]
    ]


# --- CloudWatch metrics --------------------------------------------------------------------------


def metric_query(
    query_id: str, namespace: str, metric: str, dimension: tuple[str, str], stat: str, period: int
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def metric_queries(functions: list[str], queue_names: list[str], namespace: str) -> list[dict[str, Any]]:
    """Invocations and Errors (AWS/Lambda, published by Lambda), each function's own duration
    count/average/maximum (`namespace`), and each queue's ApproximateAgeOfOldestMessage (AWS/SQS).
    Ids are positional (f<i>_…, q<i>_…): names may hold characters an Id may not."""
    hour = int(METRICS_WINDOW.total_seconds())
    queries = []
    for index, function in enumerate(functions):
        dimension = ("FunctionName", function)
        queries += [
            metric_query(f"f{index}_invocations", "AWS/Lambda", "Invocations", dimension, "Sum", hour),
            metric_query(f"f{index}_errors", "AWS/Lambda", "Errors", dimension, "Sum", hour),
        ]
        if namespace:
            own = (FUNCTION_DIMENSION, function)
            queries += [
                metric_query(f"f{index}_count", namespace, DURATION_METRIC, own, "SampleCount", hour),
                metric_query(f"f{index}_avg", namespace, DURATION_METRIC, own, "Average", hour),
                metric_query(f"f{index}_max", namespace, DURATION_METRIC, own, "Maximum", hour),
            ]
    for index, name in enumerate(queue_names):
        queries.append(
            metric_query(
                f"q{index}_age",
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                ("QueueName", name),
                "Maximum",
                QUEUE_AGE_WINDOW_S,
            )
        )
    return queries


def percentile_queries(functions: list[str], namespace: str) -> list[dict[str, Any]]:
    hour = int(METRICS_WINDOW.total_seconds())
    return [
        metric_query(f"f{index}_{stat}", namespace, DURATION_METRIC, (FUNCTION_DIMENSION, function), stat, hour)
        for index, function in enumerate(functions)
        for stat in PERCENTILES
    ]


def fetch_metrics(queries: list[dict[str, Any]], start: dt.datetime, end: dt.datetime) -> dict[str, list[float]]:
    """Values by query id, newest first (GetMetricData's default order), following NextToken."""
    values: dict[str, list[float]] = {query["Id"]: [] for query in queries}
    kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    while queries:
        page = client("cloudwatch").get_metric_data(**kwargs)
        for result in page["MetricDataResults"]:
            values[result["Id"]].extend(result.get("Values", []))
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return values


def _total(values: list[float]) -> int:
    return int(sum(values))


def _rounded(values: list[float]) -> float | None:
    return round(values[0], 1) if values else None


def function_metrics(
    functions: list[str],
    values: dict[str, list[float]],
    percentiles: dict[str, list[float]] | None,
    percentiles_refused: str | None,
) -> dict[str, dict[str, Any]]:
    """Per function: invocations and errors over the window, and its own duration figures."""
    found = {}
    for index, function in enumerate(functions):
        duration: dict[str, Any] = {
            "count": _total(values.get(f"f{index}_count", [])),
            "avg_ms": _rounded(values.get(f"f{index}_avg", [])),
            "max_ms": _rounded(values.get(f"f{index}_max", [])),
        }
        for stat in PERCENTILES:
            duration[f"{stat}_ms"] = _rounded((percentiles or {}).get(f"f{index}_{stat}", []))
        if percentiles_refused:
            duration["percentiles_unavailable"] = percentiles_refused
        found[function] = {
            "invocations": _total(values.get(f"f{index}_invocations", [])),
            "errors": _total(values.get(f"f{index}_errors", [])),
            "duration": duration,
        }
    return found


def metrics(functions: list[str], queue_names: list[str], now: dt.datetime) -> tuple[dict, dict[str, float | None]]:
    """(per-function metrics, oldest-message age per queue name): two GetMetricData requests
    (fewer pages than 500 queries each) whatever the traffic."""
    global _percentiles_refused
    namespace = metrics_namespace()
    start, end = now - METRICS_WINDOW, now
    values = fetch_metrics(metric_queries(functions, queue_names, namespace), start, end)
    percentiles = None
    if namespace and functions and not _percentiles_refused:
        try:
            percentiles = fetch_metrics(percentile_queries(functions, namespace), start, end)
        except ClientError as exc:
            # An engine without percentiles (LocalStack's own CloudWatch answers InternalError): say so.
            _percentiles_refused = (
                f"CloudWatch did not compute {'/'.join(PERCENTILES)}: {error_code(exc)}: "
                + str(exc.response.get("Error", {}).get("Message", ""))[:200]
            )
            logger.warning("duration percentiles unavailable", extra={"reason": _percentiles_refused})
    refused = _percentiles_refused if namespace else None
    ages = {name: _rounded(values.get(f"q{index}_age", [])) for index, name in enumerate(queue_names)}
    return function_metrics(functions, values, percentiles, refused), ages


def function_names(prefix: str) -> list[str]:
    return sorted(
        function["FunctionName"]
        for page in client("lambda").get_paginator("list_functions").paginate()
        for function in page.get("Functions", [])
        if function["FunctionName"].startswith(prefix)
    )


# --- the handler -----------------------------------------------------------------------------------


def _buckets() -> list[str]:
    return [name.strip() for name in require_env("BUCKETS").split(",") if name.strip()]


def _queue_names() -> list[str]:
    return [queue_name(os.environ[variable]) for _, variable, _ in QUEUES if os.environ.get(variable)]


# The functions panel and the queue ages come from CloudWatch, whose datapoints are a minute
# apart: a warm environment reuses its last answer for METRICS_TTL_S instead of asking the
# (slowest) GetMetricData again for every page refresh. Queue depths stay live.
METRICS_TTL_S = 30
_functions_cache: tuple[float, dict[str, Any], dict[str, float | None]] | None = None


def functions_section(now: dt.datetime) -> tuple[dict[str, Any], dict[str, float | None]]:
    """(functions section, oldest-message age per queue name), at most METRICS_TTL_S old."""
    global _functions_cache
    if _functions_cache and time.monotonic() - _functions_cache[0] < METRICS_TTL_S:
        return _functions_cache[1], _functions_cache[2]
    names = function_names(os.environ.get("FUNCTION_PREFIX", ""))
    per_function, ages = metrics(names, _queue_names(), now)
    section = {"total": len(names), "names": names, "metrics": per_function, "as_of": now.isoformat()}
    _functions_cache = (time.monotonic(), section, ages)
    return section, ages


@inject_lambda_context
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    buckets, minutes = _buckets(), activity_minutes(now)
    counter_names = [IMAGES, LOGS, NOTIFICATIONS, *map(bucket_counter, buckets), *map(minute_counter, minutes)]
    # The sections read different services and wait on the network: side by side, the answer
    # takes as long as the slowest section instead of the sum of all of them. Clients are
    # created here first: creating them from several threads at once is not thread-safe.
    for service in SERVICES:
        client(service)
    with ThreadPoolExecutor(max_workers=5) as pool:
        counters = pool.submit(read_counters, client("dynamodb"), require_env("STATS_TABLE"), counter_names)
        latest, errors = pool.submit(latest_images), pool.submit(recent_errors)
        functions, queue_list = pool.submit(functions_section, now), pool.submit(queues)
        data = totals(counters.result(), buckets)
        data["images"]["latest"], data["logs"]["recent_errors"] = latest.result(), errors.result()
        data["functions"], ages = functions.result()
        data["queues"] = [{**queue, "oldest_age_s": ages.get(queue["name"])} for queue in queue_list.result()]
    data["alerts"] = alerts(data["queues"])
    data["activity"] = activity(counters.result(), minutes)
    data["metadata"] = {
        "generated_at": now.isoformat(),
        "metrics_window_s": int(METRICS_WINDOW.total_seconds()),
        # The page orders and charts by these rather than keeping its own copy.
        "log_levels": list(LOG_LEVELS),
        "charted_levels": list(CHARTED_LEVELS),
        "notification_priorities": list(NOTIFICATION_PRIORITIES),
    }
    logger.info("dashboard generated", extra={"images": data["images"]["total"], "logs": data["logs"]["total"]})
    # The runtime serialises the return value with plain json, which rejects Decimal.
    return to_plain(data)
