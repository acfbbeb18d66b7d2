import io
import json
import logging
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roxs_common import (
    dumps,
    get_logger,
    inject_lambda_context,
    query_items,
    scan_items,
    to_item,
    to_plain,
)
from roxs_common.dynamo import transact_write
from tests.unit.conftest import LOG_INDEX_TABLE


class CancelledTwice:
    """transact_write_items cancelled with `codes` for the first `times` calls, then accepted."""

    class exceptions:
        class TransactionCanceledException(Exception):
            def __init__(self, codes):
                self.response = {"CancellationReasons": [{"Code": code} for code in codes]}

    def __init__(self, codes, times=2):
        self.codes, self.times, self.calls = codes, times, []

    def transact_write_items(self, **kwargs):
        self.calls.append(kwargs)
        if len(self.calls) <= self.times:
            raise self.exceptions.TransactionCanceledException(self.codes)


def test_transact_write_retries_conflicts_and_throttling_with_backoff():
    stub, delays = CancelledTwice(["None", "TransactionConflict", "ThrottlingError"]), []
    transact_write(stub, [{"Put": {}}], token="t-1", sleep=delays.append, base_delay_s=0.1)
    assert len(stub.calls) == 3 and all(call["ClientRequestToken"] == "t-1" for call in stub.calls)
    assert len(delays) == 2 and 0 <= delays[0] <= 0.2 and 0 <= delays[1] <= 0.4


def test_transact_write_raises_a_failed_condition_at_once():
    stub = CancelledTwice(["None", "ConditionalCheckFailed"])
    with pytest.raises(CancelledTwice.exceptions.TransactionCanceledException):
        transact_write(stub, [{"Put": {}}], sleep=lambda s: None)
    assert len(stub.calls) == 1


def test_transact_write_gives_up_after_max_attempts():
    stub = CancelledTwice(["TransactionConflict"], times=100)
    with pytest.raises(CancelledTwice.exceptions.TransactionCanceledException):
        transact_write(stub, [{"Put": {}}], max_attempts=3, sleep=lambda s: None)
    assert len(stub.calls) == 3


def test_dumps_and_to_plain_handle_decimal():
    value = {"a": Decimal("3"), "b": Decimal("1.5"), "c": [Decimal("10")]}
    assert json.loads(dumps(value)) == {"a": 3, "b": 1.5, "c": [10]}
    plain = to_plain(value)
    assert plain == {"a": 3, "b": 1.5, "c": [10]} and type(plain["a"]) is int
    json.dumps(plain)  # the Lambda runtime's plain json must accept it


@given(
    numbers=st.lists(st.decimals(allow_nan=False, allow_infinity=False), max_size=5),
    texts=st.lists(st.text(), max_size=3),
)
def test_dumps_writes_each_decimal_digit_for_digit_and_leaves_strings_alone(numbers, texts):
    # Strings shaped like the placeholders dumps uses inside must come out as they went in.
    texts = [*texts, "\x00" + "0" * 16 + "#0", "\x00#1"]
    text = dumps({"numbers": numbers, "texts": texts, "nested": [{"n": number} for number in numbers]})
    parsed = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    assert parsed["texts"] == texts
    assert [str(number) for number in parsed["numbers"]] == [str(number) for number in numbers]
    assert [str(entry["n"]) for entry in parsed["nested"]] == [str(number) for number in numbers]


def test_logger_writes_one_json_object_per_line_with_request_id(context):
    logger = get_logger("unit")
    root = logging.getLogger("roxs")
    # Same formatter as the real stdout handler, writing somewhere the test can read.
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(root.handlers[0].formatter)
    root.addHandler(capture)

    @inject_lambda_context
    def handler(event, ctx):
        logger.info("hello", extra={"batch_id": "b-1", "amount": Decimal("2")})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")

    try:
        handler({}, context)
    finally:
        root.removeHandler(capture)
    lines = [line for line in stream.getvalue().splitlines() if line]
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO" and first["message"] == "hello"
    assert first["request_id"] == "req-0000-unit" and first["function_name"] == "roxs-unit-function"
    assert first["service"] == "roxs-unit-tests" and first["batch_id"] == "b-1" and first["amount"] == 2
    assert second["level"] == "ERROR" and "RuntimeError: boom" in second["exception"]
    assert not logging.getLogger("roxs").propagate


def _put_logs(ddb, n):
    for i in range(n):
        ddb.put_item(TableName=LOG_INDEX_TABLE, Item=to_item({"LogLevel": "INFO", "Timestamp": i, "Message": f"m{i}"}))


def test_scan_and_query_follow_last_evaluated_key(aws):
    _put_logs(aws.ddb, 7)
    # Limit forces one page per 2 items: everything must still come back.
    assert len(list(scan_items(aws.ddb, TableName=LOG_INDEX_TABLE, Limit=2))) == 7
    newest_first = list(
        query_items(
            aws.ddb,
            TableName=LOG_INDEX_TABLE,
            KeyConditionExpression="LogLevel = :l",
            ExpressionAttributeValues={":l": {"S": "INFO"}},
            ScanIndexForward=False,
            Limit=3,
        )
    )
    assert [row["Timestamp"] for row in newest_first] == [6, 5, 4, 3, 2, 1, 0]


def test_pagination_stops_loudly_when_a_backend_repeats_its_last_key(aws):
    from botocore.exceptions import PaginationError

    def same_key_again(parsed, **_):
        parsed["LastEvaluatedKey"] = {"LogLevel": {"S": "INFO"}, "Timestamp": {"N": "1"}}

    aws.ddb.meta.events.register("after-call.dynamodb.Scan", same_key_again)
    with pytest.raises(PaginationError, match="same next token"):
        list(scan_items(aws.ddb, TableName=LOG_INDEX_TABLE))
