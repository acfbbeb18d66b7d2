import gzip
import json
import re
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

import log_processor
from roxs_common import LOG_LEVELS, count_items, scan_items
from tests.unit.conftest import LOG_INDEX_TABLE, LOGS


def entries(n, level="INFO"):
    return log_processor.parse_logs({"logs": [{"level": level, "message": f"m{i}"} for i in range(n)]})


def batch_rows(n, nonce, ms=1_700_000_000_123):
    _, rows = log_processor.build_batch(entries(n), batch_id="b", received_ms=ms, nonce=nonce, processed_at="t")
    return rows


def test_thousand_same_level_logs_in_one_millisecond_get_distinct_keys():
    rows = batch_rows(1000, nonce=42)
    timestamps = {row["Timestamp"] for row in rows}  # Decimal: compares numerically
    assert len(timestamps) == 1000
    assert {int(ts) for ts in timestamps} == {1_700_000_000_123}
    assert all(row["TimestampMs"] == 1_700_000_000_123 for row in rows)
    # Batch order is key order.
    assert [row["Timestamp"] for row in rows] == sorted(row["Timestamp"] for row in rows)


def test_concurrent_batches_in_the_same_millisecond_do_not_collide():
    first, second = batch_rows(500, nonce=7), batch_rows(500, nonce=8)
    assert len({row["Timestamp"] for row in first + second}) == 1000


@given(
    ms=st.integers(min_value=0, max_value=10**13 - 1),
    a=st.tuples(st.integers(0, 10**9 - 1), st.integers(0, log_processor.MAX_LOGS_PER_BATCH - 1)),
    b=st.tuples(st.integers(0, 10**9 - 1), st.integers(0, log_processor.MAX_LOGS_PER_BATCH - 1)),
)
def test_index_timestamp_is_injective_and_keeps_the_millisecond(ms, a, b):
    ts_a, ts_b = (Decimal(log_processor.index_timestamp(ms, *x)) for x in (a, b))
    assert (ts_a == ts_b) == (a == b)
    assert int(ts_a) == ms
    assert len(ts_a.as_tuple().digits) <= 38  # DynamoDB number precision


def test_handler_archives_then_indexes_a_batch(aws, context):
    long_message = "x" * 250
    event = {
        "logs": [
            {"level": "error", "message": long_message, "service": "api", "user_id": 42},
            *({"level": "info", "message": f"m{i}"} for i in range(29)),
        ]
    }
    answer = log_processor.lambda_handler(event, context)

    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["logs_indexed"] == 30
    match = re.fullmatch(
        rf"s3://{LOGS}/(logs/\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/{body['batch_id']}\.json\.gz)", body["storage_location"]
    )
    assert match, body["storage_location"]

    obj = aws.s3.get_object(Bucket=LOGS, Key=match.group(1))
    assert obj["ContentType"] == "application/json" and obj["ContentEncoding"] == "gzip"
    assert obj["Metadata"]["log-count"] == "30" and obj["Metadata"]["batch-id"] == body["batch_id"]
    assert "processed-at" in obj["Metadata"]
    archived = json.loads(gzip.decompress(obj["Body"].read()))
    assert len(archived) == 30 and archived[0]["message"] == long_message and archived[0]["user_id"] == "42"

    rows = list(scan_items(aws.ddb, TableName=LOG_INDEX_TABLE))
    assert len(rows) == 30
    (error_row,) = [row for row in rows if row["LogLevel"] == "ERROR"]
    assert error_row["Message"] == "x" * 100
    assert error_row["Service"] == "api" and error_row["UserId"] == "42" and error_row["BatchId"] == body["batch_id"]
    assert {"LogId", "TimestampMs", "Timestamp"} <= set(error_row)
    infos = [row for row in rows if row["LogLevel"] == "INFO"]
    assert infos[0]["Service"] == "unknown" and infos[0]["UserId"] == "anonymous"


def test_thousand_logs_of_one_level_are_all_stored(aws, context):
    log_processor.lambda_handler({"logs": [{"message": f"m{i}"} for i in range(1000)]}, context)
    assert count_items(aws.ddb, TableName=LOG_INDEX_TABLE) == 1000


def test_single_log_object(aws, context):
    answer = log_processor.lambda_handler({"level": "warn", "message": "disk almost full"}, context)
    assert json.loads(answer["body"])["logs_indexed"] == 1
    (row,) = scan_items(aws.ddb, TableName=LOG_INDEX_TABLE)
    assert row["LogLevel"] == "WARN"


def test_archive_is_written_before_the_index(aws, context, monkeypatch):
    monkeypatch.setenv("LOG_INDEX_TABLE", "TableThatDoesNotExist")
    with pytest.raises(log_processor.BatchNotStored, match="left behind: .*the archive s3://") as raised:
        log_processor.lambda_handler({"message": "kept"}, context)
    assert isinstance(raised.value.__cause__, ClientError)
    # The rows could not be checked, so the archive they might point at is kept.
    assert aws.s3.list_objects_v2(Bucket=LOGS)["KeyCount"] == 1


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"logs": []}, "non-empty list"),
        ({"logs": "nope"}, "non-empty list"),
        ({"logs": [{"message": "m"}] * 10_001}, "maximum is 10000"),
        ({"logs": [{"message": "ok"}, "text"]}, r"logs\[1\] must be an object"),
        ({"logs": [{"message": "ok"}, {"level": "LOUD", "message": "m"}]}, r"logs\[1\]\.level must be one of"),
        ({"logs": [{"level": "INFO", "message": 5}]}, r"logs\[0\]\.message must be a string"),
        ({"logs": [{"level": "INFO"}]}, r"logs\[0\]\.message must be a string"),
        ({"logs": [{"message": "m", "service": ["a"]}]}, r"logs\[0\]\.service must be a string"),
        ([1, 2], "event must be an object"),
    ],
)
def test_invalid_input_names_index_and_field(event, expected):
    with pytest.raises(ValueError, match=expected):
        log_processor.parse_logs(event)


def test_every_accepted_level_is_a_known_partition():
    levels = {
        entry.level
        for entry in log_processor.parse_logs({"logs": [{"level": lv.lower(), "message": ""} for lv in LOG_LEVELS]})
    }
    assert levels == set(LOG_LEVELS)
