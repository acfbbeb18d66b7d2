import gzip
import json
import re
from decimal import Decimal

import log_processor
import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from roxs_common import LOG_LEVELS, client, dumps, scan_items
from roxs_common.aggregates import read_counters
from roxs_common.log_index import recount_logs
from tests.unit.conftest import LOG_INDEX_TABLE, LOGS, STATS_TABLE


def nested(depth):
    value = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def archive_of(aws, answer_body: dict) -> list[dict]:
    """The archived records, their numbers read exactly."""
    key = answer_body["storage_location"].split("/", 3)[3]
    return json.loads(gzip.decompress(aws.s3.get_object(Bucket=LOGS, Key=key)["Body"].read()), parse_float=Decimal)


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
    assert archived[0]["sent"] == event["logs"][0]  # as sent: user_id still the number 42

    rows = list(scan_items(aws.ddb, TableName=LOG_INDEX_TABLE))
    assert len(rows) == 30
    (error_row,) = [row for row in rows if row["LogLevel"] == "ERROR"]
    assert error_row["Message"] == "x" * 100
    assert error_row["Service"] == "api" and error_row["UserId"] == "42" and error_row["BatchId"] == body["batch_id"]
    assert {"LogId", "TimestampMs", "Timestamp"} <= set(error_row)
    assert error_row["LevelHour"] == f"ERROR#{error_row['Hour']}"
    infos = [row for row in rows if row["LogLevel"] == "INFO"]
    assert infos[0]["Service"] == "unknown" and infos[0]["UserId"] == "anonymous"

    counters = read_counters(aws.ddb, STATS_TABLE, ["logs"])["logs"]
    assert counters == {"Total": 30, "ERROR": 1, "INFO": 29} == recount_logs()


def test_the_archive_keeps_every_field_the_caller_sent(aws, context):
    sent = [
        {
            "level": "warn",
            "message": "a",
            "timestamp": "2026-11-28T10:00:00Z",
            "request_id": "r-1",
            "context": {"attempt": 2, "tags": ["x", None, True], "ratio": Decimal("0.5")},
        },
        {"message": "b", "timestamp": 1_795_860_000_123, "log_id": "the caller's own", "sent": "a field named sent"},
        {"message": "c", "timestamp": "yesterday-ish"},
        {"message": "d", "timestamp": "2026-11-28T10:00:00"},  # no offset: UTC
    ]
    # As JSON text: its numbers (the ratio) are read exactly.
    body = json.loads(log_processor.lambda_handler(dumps({"logs": sent}), context)["body"])
    archived = archive_of(aws, body)

    assert [record["sent"] for record in archived] == sent  # every field, as sent, caller's names kept
    received = archived[0]["received_ms"]
    assert all(record["received_ms"] == received for record in archived)
    assert [record.get("caller_timestamp_ms") for record in archived] == [
        1_795_860_000_000,
        1_795_860_000_123,
        None,
        1_795_860_000_000,
    ]
    assert archived[1]["log_id"] != "the caller's own"  # ours; theirs is in sent
    rows = {row["Message"]: row for row in scan_items(aws.ddb, TableName=LOG_INDEX_TABLE)}
    assert rows["a"]["CallerTimestampMs"] == 1_795_860_000_000 and "CallerTimestampMs" not in rows["c"]


def test_thousand_logs_of_one_level_are_all_stored(aws, context):
    # 200 here (moto copies a table per transaction operation); 1,000 on the engine.
    log_processor.lambda_handler({"logs": [{"message": f"m{i}"} for i in range(200)]}, context)
    assert len(list(scan_items(aws.ddb, TableName=LOG_INDEX_TABLE))) == 200


def test_single_log_object(aws, context):
    answer = log_processor.lambda_handler({"level": "warn", "message": "disk almost full"}, context)
    assert json.loads(answer["body"])["logs_indexed"] == 1
    (row,) = scan_items(aws.ddb, TableName=LOG_INDEX_TABLE)
    assert row["LogLevel"] == "WARN"


def test_archive_is_written_before_the_index_and_removed_when_indexing_fails(aws, context, monkeypatch):
    archives_at_index_time = []
    ddb = client("dynamodb")
    ddb.meta.events.register_first(
        "before-send.dynamodb.TransactWriteItems",
        lambda **kwargs: archives_at_index_time.append(aws.s3.list_objects_v2(Bucket=LOGS)["KeyCount"]),
    )
    monkeypatch.setenv("LOG_INDEX_TABLE", "TableThatDoesNotExist")
    with pytest.raises(log_processor.BatchNotStored, match="nothing was kept") as raised:
        log_processor.lambda_handler({"message": "kept"}, context)
    assert isinstance(raised.value.__cause__, ClientError)
    assert archives_at_index_time == [1]  # the archive existed when the index was written
    # DynamoDB refused the transaction, so no row can point at the archive: it is removed.
    assert aws.s3.list_objects_v2(Bucket=LOGS)["KeyCount"] == 0


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
        ({"logs": [{"message": "a\ud800b"}]}, r"logs\[0\]\.message contains U\+D800 \(a lone surrogate\)"),
        ({"logs": [{"message": "ok"}, {"message": "\uffff"}]}, r"logs\[1\]\.message contains U\+FFFF"),
        ({"logs": [{"message": "m", "service": "a\x00"}]}, r"logs\[0\]\.service contains U\+0000 \(a control"),
        ({"logs": [{"message": "m", "extra": {"k\x01": 1}}]}, r"logs\[0\]\.extra key .* contains U\+0001"),
        (
            {"logs": [{"message": "m", "n": int("1" * 39)}]},
            r"logs\[0\]\.n has 39 significant digits, the maximum is 38",
        ),
        ({"logs": [{"message": "m", "n": 10**126}]}, r"logs\[0\]\.n is outside DynamoDB's number range"),
        ({"logs": [{"message": "m", "n": float("nan")}]}, r"logs\[0\]\.n reached the function as the double nan"),
        ({"logs": [{"message": "m", "deep": nested(33)}]}, r"nested deeper than 32 levels"),
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


@given(
    field=st.sampled_from(["message", "service", "user_id", "request_id"]),
    text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20),
    refused=st.sampled_from(["\x00", "\x0b", "\x1f", "\ud800", "\udbff", "\ufdef", "\ufffe", "\U0001ffff"]),
)
def test_a_character_some_service_refuses_is_a_clear_value_error(field, text, refused):
    # What comes before the refused character is accepted text: no control character and no
    # non-character (U+FDD0..U+FDEF, the last two code points of each plane) of its own.
    clean = "".join(
        ch
        for ch in text
        if (ch >= " " or ch in "\t\n\r") and not 0xFDD0 <= ord(ch) <= 0xFDEF and ord(ch) & 0xFFFE != 0xFFFE
    )
    log = {"message": "m", field: clean + refused}
    with pytest.raises(ValueError, match=rf"logs\[0\]\.{field} contains U\+{ord(refused):04X}"):
        log_processor.parse_logs({"logs": [log]})


@given(depth=st.integers(min_value=0, max_value=40))
def test_nesting_up_to_32_levels_is_archived_deeper_is_refused(depth):
    event = {"logs": [{"message": "m", "context": nested(depth)}]}
    if depth < 32:
        assert log_processor.parse_logs(event)[0].sent["context"] == nested(depth)
    else:
        with pytest.raises(ValueError, match="nested deeper than 32"):
            log_processor.parse_logs(event)


# --- numbers: kept exactly or refused (issue 20) ---------------------------------------------------

# Numbers DynamoDB holds: up to 38 significant digits, magnitudes 1E-130 to 9.99E+125.
storable_numbers = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda number: not number or (len(number.as_tuple().digits) <= 38 and -130 <= number.adjusted() <= 125)
)


@given(number=st.floats(allow_nan=True, allow_infinity=True), where=st.sampled_from(["top", "nested", "list"]))
def test_a_number_the_runtime_decoded_as_a_double_is_refused_not_rounded(number, where):
    log = {"message": "m"}
    if where == "top":
        log["amount"], path = number, r"logs\[0\]\.amount"
    elif where == "nested":
        log["context"], path = {"amount": number}, r"logs\[0\]\.context\.amount"
    else:
        log["amounts"], path = [1, number], r"logs\[0\]\.amounts\[1\]"
    with pytest.raises(ValueError, match=rf"{path} reached the function as the double .*send the event as JSON text"):
        log_processor.parse_logs({"logs": [log]})


def test_a_25_digit_decimal_sent_as_json_text_is_archived_digit_for_digit(aws, context):
    text = '{"logs": [{"message": "m", "amount": 1234567890.123456789012345, "user_id": 12345678901234567890123}]}'
    answer = json.loads(log_processor.lambda_handler(text, context)["body"])
    key = answer["storage_location"].split("/", 3)[3]
    raw = gzip.decompress(aws.s3.get_object(Bucket=LOGS, Key=key)["Body"].read()).decode()
    assert '"amount": 1234567890.123456789012345' in raw
    (record,) = archive_of(aws, answer)
    assert record["sent"]["amount"] == Decimal("1234567890.123456789012345")
    (row,) = scan_items(aws.ddb, TableName=LOG_INDEX_TABLE)
    assert row["UserId"] == record["user_id"] == "12345678901234567890123"  # an integer id, as text, whole


@given(number=storable_numbers)
def test_every_number_dynamodb_holds_is_archived_as_written(number):
    literal = str(number)
    entries = log_processor.parse_logs('{"message": "m", "n": ' + literal + "}")
    archive, _ = log_processor.build_batch(entries, batch_id="b", received_ms=1, nonce=0, processed_at="t")
    assert f'"n": {literal}}}' in dumps(archive)  # what store_archive writes: its own digits, not a double's


@pytest.mark.parametrize(
    "literal, reason",
    [
        ("1." + "1" * 38, "has 39 significant digits, the maximum is 38"),
        ("1" * 39, "has 39 significant digits, the maximum is 38"),
        ("1e126", "is outside DynamoDB's number range"),
        ("-1e-131", "is outside DynamoDB's number range"),
        ("1" + "0" * 126, "is outside"),
        ("9" * 5000, "is outside"),
        ("NaN", "NaN is not a JSON number"),
    ],
)
def test_a_number_dynamodb_cannot_hold_is_refused_with_the_reason(literal, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        log_processor.parse_logs('{"logs": [{"message": "m", "n": ' + literal + "}]}")


@pytest.mark.parametrize(
    "text, reason",
    [
        ("not json", "the event is text but not a JSON batch: Expecting value"),
        ('\ufeff{"message": "m"}', "the event is text but not a JSON batch: it starts with a byte order mark"),
        ('{"message": "m", "message": "n"}', "member name 'message' appears more than once"),
        ('{"message": "\\udc00"}', "contains U+DC00 (a lone surrogate)"),
        ('"a string"', "event must be an object with 'logs', a single log object, or the JSON text of either"),
    ],
)
def test_text_that_is_not_a_json_batch_is_refused_with_the_reason(text, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        log_processor.parse_logs(text)
