import base64
import collections
import datetime as dt
import io
import itertools
import json
import zipfile

import boto3
import dashboard
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import roxs_common.aws
from roxs_common import LOG_LEVELS, NOTIFICATION_PRIORITIES, image_index, log_index, to_item
from roxs_common.aggregates import Deltas, bucket_counter, minute_of
from tests.support.read_counter import ReadCounter
from tests.unit.conftest import (
    LOG_HOURS_TABLE,
    LOG_INDEX_TABLE,
    LOGS,
    METADATA_TABLE,
    ORIGINALS,
    REGION,
    STATS_TABLE,
    THUMBNAILS,
)


def add_counters(aws, deltas: Deltas) -> None:
    aws.ddb.transact_write_items(TransactItems=deltas.updates(STATS_TABLE))


def image_row(i: int, status: str = "completed", thumbnail: bool = True) -> dict:
    row = {
        "ImageId": f"img-{i}",
        "UploadTimestamp": 1_700_000_000 + i,
        "OriginalKey": f"{i}.jpg",
        "OriginalSize": 1000,
        "ProcessedAt": f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}+00:00",
        "Status": status,
        "Width": 640,
        "Height": 480,
    }
    if thumbnail:
        row["ThumbnailKey"] = f"thumbnails/img-{i}.jpg"
    return {**row, **image_index.partition_attributes(status, row["UploadTimestamp"])}


def list_image_rows(aws, rows: list[dict]) -> None:
    """The month directory that list_images reads, as the image processor's transactions keep it."""
    directory = Deltas()
    for row in rows:
        directory.merge(image_index.row_counters(row))
    aws.ddb.put_item(
        TableName=STATS_TABLE,
        Item=to_item({"Counter": image_index.MONTHS_COUNTER, **directory.as_dict()[image_index.MONTHS_COUNTER]}),
    )


def put_rows(table: str, rows: list[dict]) -> None:
    with boto3.resource("dynamodb", region_name=REGION).Table(table).batch_writer() as writer:
        for row in rows:
            writer.put_item(Item=row)


def log_rows(aws, entries: list[tuple[str, int]]) -> None:
    """Index rows (level, ms) with their hour keys, and the directory of hours that
    list_logs reads, as the log processor's transactions keep them."""
    put_rows(
        LOG_INDEX_TABLE,
        [
            {
                "LogLevel": level,
                "Timestamp": ms,
                "TimestampMs": ms,
                "Message": f"{level}-{ms}",
                "Service": "svc",
                **log_index.list_keys(level, ms),
            }
            for level, ms in entries
        ],
    )
    hours = collections.Counter(
        (scope, log_index.hour_of(ms)) for level, ms in entries for scope in (level, log_index.ALL_LEVELS)
    )
    put_rows(LOG_HOURS_TABLE, [{"Scope": scope, "Bucket": hour, "Rows": rows} for (scope, hour), rows in hours.items()])


def seed_rows(aws, images: int, logs: int) -> None:
    """`images` completed image rows and `logs` log rows (half of them errors): even 10 rows
    fill every bounded list (6 latest images, 5 recent errors)."""
    rows = [image_row(i, thumbnail=False) for i in range(images)]
    put_rows(METADATA_TABLE, rows)
    list_image_rows(aws, rows)
    levels = ("INFO", "ERROR")
    log_rows(aws, [(levels[i % 2], i) for i in range(logs)])


def create_functions(*names):
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return {}\n")
    lam = boto3.client("lambda", region_name=REGION)
    for name in names:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler="handler.lambda_handler",
            Code={"ZipFile": code.getvalue()},
        )


@pytest.fixture(autouse=True)
def fresh_environment(monkeypatch):
    """An execution environment that has cached nothing yet."""
    monkeypatch.setattr(dashboard, "_functions_cache", None)
    monkeypatch.setattr(dashboard, "_thumbnails", {})


@pytest.fixture
def dlqs(aws, monkeypatch):
    """The two dead-letter queues, their URLs in the dashboard's environment."""
    urls = {
        name: aws.sqs.create_queue(QueueName=name)["QueueUrl"]
        for name in ("roxs-notifications-dlq", "roxs-image-processor-dlq")
    }
    monkeypatch.setenv("NOTIFICATIONS_DLQ_URL", urls["roxs-notifications-dlq"])
    monkeypatch.setenv("IMAGES_DLQ_URL", urls["roxs-image-processor-dlq"])
    return urls


def test_dashboard_reports_every_section(aws, context, dlqs, monkeypatch):
    monkeypatch.setenv("BUCKETS", f"{ORIGINALS},{LOGS}")
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    deltas = Deltas().add("images", Total=9, Completed=7, Error=2, OriginalBytes=9000)
    deltas.add("logs", Total=9, INFO=2, ERROR=4, CRITICAL=1, FATAL=1, WARN=1)
    deltas.add(
        "notifications", Total=4, priority_high=2, priority_low=1, priority_normal=1, status_sent=3, status_error=1
    )
    deltas.add(bucket_counter(ORIGINALS), Objects=2, Bytes=8)
    deltas.add_activity(now_ms, images_completed=3, logs_ERROR=2)
    deltas.add_activity(now_ms - 5 * 60_000, images_error=1, notifications_sent=4)
    deltas.add_activity(now_ms - 61 * 60_000, images_completed=100)  # older than the hour: not drawn
    add_counters(aws, deltas)
    list_image_rows(aws, [image_row(i) for i in range(7)])
    for i in range(7):
        aws.ddb.put_item(TableName=METADATA_TABLE, Item=to_item(image_row(i)))
        if i != 6:  # the newest image lost its thumbnail object
            aws.s3.put_object(
                Bucket=THUMBNAILS, Key=f"thumbnails/img-{i}.jpg", Body=f"thumb-{i}".encode(), ContentType="image/jpeg"
            )
    log_rows(
        aws,
        [
            ("INFO", 10),
            ("ERROR", 12),
            ("CRITICAL", 13),
            ("ERROR", 14),
            ("FATAL", 15),
            ("ERROR", 16),
            ("ERROR", 17),
            ("WARN", 18),
        ],
    )
    create_functions("roxs-api-handler", "roxs-dashboard", "someone-else")
    aws.sqs.send_message(QueueUrl=dlqs["roxs-notifications-dlq"], MessageBody="poison")
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="waiting", DelaySeconds=60)

    data = dashboard.lambda_handler({}, context)

    json.dumps(data)  # plain JSON for the runtime: no Decimal left
    images = data["images"]
    assert {k: images[k] for k in ("total", "successful", "failed", "rejected", "avg_size")} == {
        "total": 9,
        "successful": 7,
        "failed": 2,
        "rejected": 0,
        "avg_size": 1000.0,
    }
    assert [image["id"] for image in images["latest"]] == [f"img-{i}" for i in (6, 5, 4, 3, 2, 1)]
    newest, second = images["latest"][:2]
    assert newest["thumbnail"] is None
    assert second["thumbnail"] == "data:image/jpeg;base64," + base64.b64encode(b"thumb-5").decode()
    logs = data["logs"]
    assert (logs["total"], logs["by_level"]) == (9, {"INFO": 2, "WARN": 1, "ERROR": 4, "CRITICAL": 1, "FATAL": 1})
    assert [(e["level"], e["timestamp"]) for e in logs["recent_errors"]] == [
        ("ERROR", 17),
        ("ERROR", 16),
        ("FATAL", 15),
        ("ERROR", 14),
        ("CRITICAL", 13),
    ]
    assert data["notifications"] == {"total": 4, "by_priority": {"high": 2, "low": 1, "normal": 1}, "successful": 3}
    assert data["storage"] == {
        ORIGINALS: {"objects": 2, "total_size_bytes": 8},
        LOGS: {"objects": 0, "total_size_bytes": 0},
    }
    assert (data["functions"]["total"], data["functions"]["names"]) == (2, ["roxs-api-handler", "roxs-dashboard"])
    assert set(data["functions"]["metrics"]) == {"roxs-api-handler", "roxs-dashboard"}

    queues = {queue["role"]: queue for queue in data["queues"]}
    assert queues["notifications"] == {
        "role": "notifications",
        "name": "roxs-notifications-queue",
        "dead_letter": False,
        "visible": 0,
        "in_flight": 0,
        "delayed": 1,
        "oldest_age_s": None,
    }
    assert (queues["notifications-dlq"]["visible"], queues["notifications-dlq"]["redrive"]) == (
        1,
        "make redrive QUEUE=notifications",
    )
    assert queues["images-dlq"]["visible"] == 0 and queues["images-dlq"]["redrive"] == "make redrive QUEUE=images"
    assert data["alerts"] == [
        {
            "queue": "roxs-notifications-dlq",
            "messages": 1,
            "message": "roxs-notifications-dlq holds dead letters",
            "redrive": "make redrive QUEUE=notifications",
        }
    ]

    activity = data["activity"]
    assert len(activity["minutes"]) == 60 and activity["minutes"][-1].endswith("Z")
    series = activity["series"]
    assert all(len(values) == 60 for values in series.values())
    # Found by label: the handler's hour may have moved on by a minute since the seeding.
    seeded = activity["minutes"].index(f"{minute_of(now_ms):%Y-%m-%dT%H:%MZ}")
    assert series["images_completed"][seeded] == 3 and sum(series["images_completed"]) == 3
    assert series["logs_ERROR"][seeded] == 2
    assert series["images_error"][seeded - 5] == 1 and series["notifications_sent"][seeded - 5] == 4
    assert data["metadata"]["generated_at"]


def test_thumbnails_are_read_once_per_environment(aws):
    aws.s3.put_object(Bucket=THUMBNAILS, Key="thumbnails/a.jpg", Body=b"a", ContentType="image/jpeg")
    with ReadCounter([roxs_common.aws.client("s3")]) as reads:
        first = dashboard.inline_thumbnail(THUMBNAILS, "thumbnails/a.jpg")
        assert dashboard.inline_thumbnail(THUMBNAILS, "thumbnails/a.jpg") == first
        assert first == {"thumbnail": "data:image/jpeg;base64,YQ=="}
        assert dashboard.inline_thumbnail(THUMBNAILS, "thumbnails/missing.jpg") == {"thumbnail": None}
        assert dashboard.inline_thumbnail(THUMBNAILS, "thumbnails/missing.jpg") == {"thumbnail": None}  # not kept
    assert reads.requests == {"s3.GetObject": 3}
    for i in range(dashboard.THUMBNAIL_CACHE_SIZE + 5):  # bounded: the oldest go first
        aws.s3.put_object(Bucket=THUMBNAILS, Key=f"thumbnails/{i}.jpg", Body=b"b", ContentType="image/jpeg")
        dashboard.inline_thumbnail(THUMBNAILS, f"thumbnails/{i}.jpg")
    assert len(dashboard._thumbnails) == dashboard.THUMBNAIL_CACHE_SIZE
    assert (THUMBNAILS, "thumbnails/a.jpg") not in dashboard._thumbnails


INLINE_MAX = dashboard.THUMBNAIL_INLINE_MAX_BYTES


@pytest.mark.parametrize("size", [1, INLINE_MAX - 1, INLINE_MAX, INLINE_MAX + 1, 5 * 2**20, 12 * 2**20])
def test_a_thumbnail_over_the_inline_limit_is_left_out_with_its_reason(aws, size):
    """Inlined up to the limit; over it, left out with its size, after reading no more than
    one byte past the limit (a 12 MB thumbnail is not downloaded)."""
    aws.s3.put_object(Bucket=THUMBNAILS, Key="thumbnails/t.png", Body=b"\x89" * size, ContentType="image/png")
    read = []
    body_read = dashboard.client("s3").get_object
    with pytest.MonkeyPatch.context() as patch:

        def recording_get_object(**kwargs):
            answer = body_read(**kwargs)
            read.append(answer["ContentLength"])
            return answer

        patch.setattr(dashboard.client("s3"), "get_object", recording_get_object)
        found = dashboard.inline_thumbnail(THUMBNAILS, "thumbnails/t.png")
    assert read == [min(size, INLINE_MAX + 1)]
    if size <= INLINE_MAX:
        assert found == {"thumbnail": "data:image/png;base64," + base64.b64encode(b"\x89" * size).decode()}
    else:
        assert found == {
            "thumbnail": None,
            "thumbnail_omitted": f"thumbnail is {size} bytes, over the {INLINE_MAX} the dashboard inlines",
        }


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "x" * 2000])
def test_a_thumbnail_of_another_type_is_not_inlined(aws, content_type):
    aws.s3.put_object(Bucket=THUMBNAILS, Key="thumbnails/t", Body=b"<svg/>", ContentType=content_type)
    found = dashboard.inline_thumbnail(THUMBNAILS, "thumbnails/t")
    assert found["thumbnail"] is None and "is not shown inline" in found["thumbnail_omitted"]
    assert len(found["thumbnail_omitted"]) < 200


# Keys S3 accepts that JSON escapes the most: 6 characters a byte (\u0001), 12 per 4 bytes.
WORST_KEYS = ["\x01" * 1024, "\U0010ffff" * 256, "\u2028" * 341 + "a"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.sampled_from([INLINE_MAX, INLINE_MAX + 1, 3 * 2**20]), min_size=6, max_size=6),
    keys=st.lists(st.sampled_from(WORST_KEYS), min_size=6, max_size=6),
)
def test_the_latest_images_section_has_a_fixed_ceiling(aws, context, sizes, keys):
    """Six newest images with the longest keys and thumbnails at and over the limit: the whole
    answer stays far below Lambda's 6 MB response limit (the sections besides the images are
    small and bounded on their own)."""
    dashboard._thumbnails.clear()
    rows = []
    for i, (size, key) in enumerate(zip(sizes, keys, strict=True)):
        row = {**image_row(i), "OriginalKey": key, "ThumbnailKey": f"thumbnails/img-{i}-{size}.png"}
        rows.append(row)
        aws.ddb.put_item(TableName=METADATA_TABLE, Item=to_item(row))
        aws.s3.put_object(Bucket=THUMBNAILS, Key=row["ThumbnailKey"], Body=b"\0" * size, ContentType="image/png")
    list_image_rows(aws, rows)

    answer = json.dumps(dashboard.lambda_handler({}, context))

    assert len(answer) < 2_300_000
    latest = json.loads(answer)["images"]["latest"]
    assert [image["filename"] for image in latest] == [row["OriginalKey"] for row in reversed(rows)]
    assert [image["thumbnail"] is not None for image in latest] == [size <= INLINE_MAX for size in reversed(sizes)]


def test_dashboard_on_an_empty_system(aws, context):
    data = dashboard.lambda_handler({}, context)
    assert data["images"] == {"total": 0, "successful": 0, "failed": 0, "rejected": 0, "avg_size": 0, "latest": []}
    assert data["logs"] == {"total": 0, "by_level": {}, "recent_errors": []}
    assert data["notifications"] == {"total": 0, "by_priority": {}, "successful": 0}
    assert {k: data["functions"][k] for k in ("total", "names", "metrics")} == {"total": 0, "names": [], "metrics": {}}
    assert data["alerts"] == []
    assert all(set(values) == {0} for values in data["activity"]["series"].values())
    # The page orders and charts by the one list of levels and priorities, which come with the data.
    metadata = data["metadata"]
    assert metadata["log_levels"] == list(LOG_LEVELS) and metadata["notification_priorities"] == list(
        NOTIFICATION_PRIORITIES
    )
    assert set(metadata["charted_levels"]) <= set(LOG_LEVELS) and metadata["charted_levels"]
    charted = {name.removeprefix("logs_") for name in data["activity"]["series"] if name.startswith("logs_")}
    assert charted == set(metadata["charted_levels"])


# --- a fixed number of reads ---------------------------------------------------------------------


def read_profile(aws, context, rows: int) -> dict:
    seed_rows(aws, images=rows, logs=rows)
    for counter in ("images", "logs"):  # set, not added: the second call replaces the first's
        aws.ddb.put_item(TableName=STATS_TABLE, Item=to_item({"Counter": counter, "Total": rows, "Completed": rows}))
    dashboard._functions_cache = None  # each look as from a fresh environment (monkeypatched back after)
    clients = [roxs_common.aws.client(name) for name in ("dynamodb", "s3", "sqs", "lambda", "cloudwatch")]
    with ReadCounter(clients) as reads:
        data = dashboard.lambda_handler({}, context)
    assert data["images"]["total"] == rows and len(data["images"]["latest"]) == min(rows, dashboard.LATEST_IMAGES)
    return reads.profile()


@pytest.mark.slow  # 10,000 rows
def test_the_same_reads_at_10_and_at_10000_rows(aws, context, dlqs):
    small = read_profile(aws, context, 10)
    # Same tables, now 10,000 rows each (the 10 above are overwritten, not added).
    large = read_profile(aws, context, 10_000)
    assert small == large


def test_the_counter_and_queue_reads_are_fixed(aws, context, dlqs):
    """Whatever else the handler reads, its counters cost one BatchGetItem of 67 keys
    (3 totals, 4 buckets, 60 minutes) and the image listing one more (its month directory),
    its queues one GetQueueAttributes each, its functions one ListFunctions page and one
    GetMetricData request; the lists a bounded number of Queries (a directory page and at
    most one hour partition per row shown, for each error level; a month per image)."""
    profile = read_profile(aws, context, 10)
    assert profile["requests"]["dynamodb.BatchGetItem"] == 2
    assert profile["items"]["dynamodb.BatchGetItem"] <= 3 + 4 + 60 + 1
    assert profile["requests"]["sqs.GetQueueAttributes"] == 3
    assert profile["requests"]["lambda.ListFunctions"] == 1
    assert profile["requests"]["cloudwatch.GetMetricData"] == 1  # no namespace here: no percentile request
    assert profile["requests"]["dynamodb.Query"] <= (
        len(dashboard.ERROR_LEVELS) * (1 + dashboard.RECENT_ERRORS) + dashboard.LATEST_IMAGES
    )


def test_cloudwatch_is_asked_again_only_after_the_ttl(aws, context, dlqs, monkeypatch):
    clients = [roxs_common.aws.client(name) for name in ("lambda", "cloudwatch", "sqs")]
    with ReadCounter(clients) as reads:
        first = dashboard.lambda_handler({}, context)
        second = dashboard.lambda_handler({}, context)
    assert reads.requests["cloudwatch.GetMetricData"] == 1 and reads.requests["lambda.ListFunctions"] == 1
    assert reads.requests["sqs.GetQueueAttributes"] == 2 * 3  # queue depths stay live
    assert second["functions"]["as_of"] == first["functions"]["as_of"]
    cached_at = dashboard._functions_cache[0]
    monkeypatch.setattr(
        dashboard, "_functions_cache", (cached_at - dashboard.METRICS_TTL_S, *dashboard._functions_cache[1:])
    )
    with ReadCounter(clients) as reads:
        dashboard.lambda_handler({}, context)
    assert reads.requests["cloudwatch.GetMetricData"] == 1


# --- per-minute series ---------------------------------------------------------------------------


def test_activity_minutes_are_the_last_60_utc_minutes_oldest_first():
    berlin = dt.timezone(dt.timedelta(hours=1))
    now = dt.datetime(2026, 1, 1, 0, 30, 45, tzinfo=berlin)  # 2025-12-31T23:30:45Z
    minutes = dashboard.activity_minutes(now)
    assert len(minutes) == 60 and all(minute.tzinfo == dt.UTC for minute in minutes)
    assert minutes[-1] == dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC)
    assert minutes[0] == dt.datetime(2025, 12, 31, 22, 31, tzinfo=dt.UTC)
    assert all(b - a == dt.timedelta(minutes=1) for a, b in itertools.pairwise(minutes))


def test_activity_fills_the_gaps_with_zeros():
    minutes = dashboard.activity_minutes(dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC), count=4)
    counters = {
        "minute#2026-01-01T11:57": {"images_completed": 2},
        "minute#2026-01-01T12:00": {"images_completed": 1, "logs_DEBUG": 5},
        "minute#2026-01-01T11:00": {"images_completed": 99},  # not one of the minutes asked for
    }
    activity = dashboard.activity(counters, minutes)
    assert activity["minutes"] == ["2026-01-01T11:57Z", "2026-01-01T11:58Z", "2026-01-01T11:59Z", "2026-01-01T12:00Z"]
    assert activity["series"]["images_completed"] == [2, 0, 0, 1]
    assert activity["series"]["logs_DEBUG"] == [0, 0, 0, 5]  # a series the data brings
    assert activity["series"]["notifications_sent"] == [0, 0, 0, 0]  # always drawn


# --- CloudWatch metric queries --------------------------------------------------------------------


def test_metric_queries_name_each_function_and_queue():
    queries = dashboard.metric_queries(["roxs-api", "roxs-dashboard"], ["roxs-notifications-dlq"], "Roxs/Functions")
    by_id = {query["Id"]: query["MetricStat"] for query in queries}
    assert by_id["f0_invocations"]["Metric"] == {
        "Namespace": "AWS/Lambda",
        "MetricName": "Invocations",
        "Dimensions": [{"Name": "FunctionName", "Value": "roxs-api"}],
    }
    assert (by_id["f1_errors"]["Stat"], by_id["f1_errors"]["Period"]) == ("Sum", 3600)
    assert by_id["f1_max"]["Metric"]["Namespace"] == "Roxs/Functions" and by_id["f1_max"]["Stat"] == "Maximum"
    assert by_id["q0_age"]["Metric"]["Dimensions"] == [{"Name": "QueueName", "Value": "roxs-notifications-dlq"}]
    assert by_id["q0_age"]["Metric"]["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert len(queries) == 2 * 5 + 1
    # Without the functions' own namespace, no duration queries.
    assert {q["Id"] for q in dashboard.metric_queries(["roxs-api"], [], "")} == {"f0_invocations", "f0_errors"}
    stats = [q["MetricStat"]["Stat"] for q in dashboard.percentile_queries(["roxs-api"], "Roxs/Functions")]
    assert stats == ["p50", "p95"]


@pytest.fixture
def percentiles_refused(monkeypatch):
    """CloudWatch refusing p50/p95 as an engine without percentiles does (LocalStack's own
    CloudWatch answers InternalError; the engine's computes them; moto cannot)."""
    real = dashboard.fetch_metrics

    def refusing(queries, start, end):
        if any(query["MetricStat"]["Stat"] in dashboard.PERCENTILES for query in queries):
            raise dashboard.ClientError({"Error": {"Code": "InternalError", "Message": "'p50'"}}, "GetMetricData")
        return real(queries, start, end)

    monkeypatch.setattr(dashboard, "fetch_metrics", refusing)
    monkeypatch.setattr(dashboard, "_percentiles_refused", None)
    yield
    assert dashboard._percentiles_refused  # remembered: not asked again in this environment


def test_function_metrics_from_cloudwatch(aws, monkeypatch, percentiles_refused):
    monkeypatch.setenv("METRICS_NAMESPACE", "Roxs/Functions")
    cloudwatch = roxs_common.aws.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    dimension = [{"Name": "FunctionName", "Value": "roxs-api"}]
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": dimension,
                "Value": 1,
                "Timestamp": now - dt.timedelta(minutes=m),
            }
            for m in (1, 2, 3)
        ]
        + [
            {"MetricName": "Errors", "Dimensions": dimension, "Value": 1, "Timestamp": now - dt.timedelta(minutes=2)},
            {
                "MetricName": "Invocations",
                "Dimensions": dimension,
                "Value": 1,
                "Timestamp": now - dt.timedelta(hours=2),
            },
        ],
    )
    cloudwatch.put_metric_data(
        Namespace="Roxs/Functions",
        MetricData=[
            {
                "MetricName": "Duration",
                "Dimensions": dimension,
                "Value": value,
                "Unit": "Milliseconds",
                "Timestamp": now - dt.timedelta(minutes=1),
            }
            for value in (10.0, 20.0, 60.0)
        ],
    )
    per_function, ages = dashboard.metrics(["roxs-api", "roxs-idle"], ["roxs-notifications-queue"], now)
    api = per_function["roxs-api"]
    assert (api["invocations"], api["errors"]) == (3, 1)  # the one two hours ago is outside the window
    duration = api["duration"]
    assert (duration["count"], duration["avg_ms"], duration["max_ms"]) == (3, 30.0, 60.0)
    idle = per_function["roxs-idle"]
    assert (idle["invocations"], idle["errors"], idle["duration"]["count"], idle["duration"]["max_ms"]) == (
        0,
        0,
        0,
        None,
    )
    assert ages == {"roxs-notifications-queue": None}  # no datapoint: shown as unknown, not as 0


def test_percentiles_refused_by_cloudwatch_are_reported_with_the_reason(aws, monkeypatch, percentiles_refused):
    """An engine without percentiles answers InternalError for p50/p95: the figures are null, with the reason."""
    monkeypatch.setenv("METRICS_NAMESPACE", "Roxs/Functions")
    per_function, _ = dashboard.metrics(["roxs-api"], [], dt.datetime.now(dt.UTC))
    duration = per_function["roxs-api"]["duration"]
    assert (duration["p50_ms"], duration["p95_ms"]) == (None, None)
    assert duration["percentiles_unavailable"] == "CloudWatch did not compute p50/p95: InternalError: 'p50'"
    asked = []
    monkeypatch.setattr(dashboard, "fetch_metrics", lambda queries, start, end: asked.extend(queries) or {})
    again = dashboard.metrics(["roxs-api"], [], dt.datetime.now(dt.UTC))[0]["roxs-api"]["duration"]
    assert again["percentiles_unavailable"] == duration["percentiles_unavailable"]
    assert not [q for q in asked if q["MetricStat"]["Stat"] in dashboard.PERCENTILES]  # not asked twice


def test_percentiles_are_read_when_cloudwatch_computes_them(aws, monkeypatch):
    monkeypatch.setenv("METRICS_NAMESPACE", "Roxs/Functions")
    monkeypatch.setattr(dashboard, "_percentiles_refused", None)
    answers = {"f0_p50": [12.04], "f0_p95": [48.96]}
    monkeypatch.setattr(
        dashboard,
        "fetch_metrics",
        lambda queries, start, end: {query["Id"]: answers.get(query["Id"], []) for query in queries},
    )
    duration = dashboard.metrics(["roxs-api"], [], dt.datetime.now(dt.UTC))[0]["roxs-api"]["duration"]
    assert (duration["p50_ms"], duration["p95_ms"]) == (12.0, 49.0)
    assert "percentiles_unavailable" not in duration


def test_a_function_without_percentiles_in_the_window_shows_none_without_a_refusal(aws, monkeypatch):
    """CloudWatch computes percentiles but leaves a period out (its datapoints were StatisticSets
    without raw values): no figure, and no claim that percentiles are unavailable."""
    monkeypatch.setenv("METRICS_NAMESPACE", "Roxs/Functions")
    monkeypatch.setattr(dashboard, "_percentiles_refused", None)
    answers = {"f0_count": [4.0], "f0_avg": [20.0], "f0_max": [35.0]}
    monkeypatch.setattr(
        dashboard,
        "fetch_metrics",
        lambda queries, start, end: {query["Id"]: answers.get(query["Id"], []) for query in queries},
    )
    duration = dashboard.metrics(["roxs-api"], [], dt.datetime.now(dt.UTC))[0]["roxs-api"]["duration"]
    assert (duration["count"], duration["p50_ms"], duration["p95_ms"]) == (4, None, None)
    assert "percentiles_unavailable" not in duration


def test_queue_ages_are_the_newest_published_maximum(aws):
    """SQS publishes ApproximateAgeOfOldestMessage every minute: the newest five minutes' largest."""
    now = dt.datetime.now(dt.UTC)
    roxs_common.aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": "roxs-notifications-dlq"}],
                "Value": age,
                "Unit": "Seconds",
                "Timestamp": now - dt.timedelta(minutes=minutes_ago),
            }
            for minutes_ago, age in ((1, 95.0), (2, 40.0), (20, 900.0))
        ],
    )
    _, ages = dashboard.metrics([], ["roxs-notifications-dlq", "roxs-notifications-queue"], now)
    assert ages == {"roxs-notifications-dlq": 95.0, "roxs-notifications-queue": None}


def test_alerts_only_for_dead_letter_queues_with_messages():
    queues = [
        {"name": "q", "dead_letter": False, "visible": 5, "in_flight": 0, "delayed": 0},
        {"name": "dlq-empty", "dead_letter": True, "visible": 0, "in_flight": 0, "delayed": 0, "redrive": "r1"},
        {"name": "dlq-busy", "dead_letter": True, "visible": 0, "in_flight": 2, "delayed": 1, "redrive": "r2"},
    ]
    assert dashboard.alerts(queues) == [
        {"queue": "dlq-busy", "messages": 3, "message": "dlq-busy holds dead letters", "redrive": "r2"}
    ]
