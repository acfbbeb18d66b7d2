import io
import json
import logging
from decimal import Decimal

import pytest

from roxs_common import (
    BatchWriteError,
    batch_write,
    count_items,
    dumps,
    get_logger,
    inject_lambda_context,
    query_items,
    scan_items,
    to_item,
    to_plain,
)
from tests.unit.conftest import LOG_INDEX_TABLE


class StubDynamo:
    """batch_write_item that leaves the last item of each request unprocessed `stubborn` times."""

    def __init__(self, stubborn: int):
        self.stubborn = stubborn
        self.requests: list[list] = []
        self.stored: list[dict] = []

    def batch_write_item(self, RequestItems):
        ((table, requests),) = RequestItems.items()
        self.requests.append(requests)
        if self.stubborn > 0:
            self.stubborn -= 1
            self.stored.extend(r["PutRequest"]["Item"] for r in requests[:-1])
            return {"UnprocessedItems": {table: requests[-1:]}}
        self.stored.extend(r["PutRequest"]["Item"] for r in requests)
        return {"UnprocessedItems": {}}


def items(n):
    return [{"pk": f"item-{i}", "n": i} for i in range(n)]


def test_batch_write_chunks_of_25():
    stub = StubDynamo(stubborn=0)
    assert batch_write(stub, "T", items(60), sleep=lambda s: None) == 60
    assert sorted(len(r) for r in stub.requests) == [10, 25, 25]  # chunks are sent concurrently
    assert {i["pk"]["S"] for i in stub.stored} == {f"item-{i}" for i in range(60)}


def test_batch_write_retries_unprocessed_items_with_growing_jittered_backoff():
    stub = StubDynamo(stubborn=2)
    delays = []
    assert batch_write(stub, "T", items(3), sleep=delays.append, base_delay_s=0.1) == 3
    # 1 request + 2 retries that each resend only the unprocessed item
    assert [len(r) for r in stub.requests] == [3, 1, 1]
    assert len(stub.stored) == 3
    assert len(delays) == 2
    assert 0 <= delays[0] <= 0.1 and 0 <= delays[1] <= 0.2


def test_batch_write_fails_loudly_after_max_attempts_with_count():
    stub = StubDynamo(stubborn=100)
    with pytest.raises(BatchWriteError) as raised:
        batch_write(stub, "T", items(60), max_attempts=3, sleep=lambda s: None)
    # every chunk is tried; each keeps its last item unprocessed after 3 attempts
    assert raised.value.unstored == 3
    assert raised.value.total == 60
    assert "3 of 60 items could not be stored in T" in str(raised.value)
    assert len(stub.requests) == 9
    assert len(stub.stored) == 57


def test_dumps_and_to_plain_handle_decimal():
    value = {"a": Decimal("3"), "b": Decimal("1.5"), "c": [Decimal("10")]}
    assert json.loads(dumps(value)) == {"a": 3, "b": 1.5, "c": [10]}
    plain = to_plain(value)
    assert plain == {"a": 3, "b": 1.5, "c": [10]} and type(plain["a"]) is int
    json.dumps(plain)  # the Lambda runtime's plain json must accept it


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


def test_scan_query_and_count_follow_last_evaluated_key(aws):
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
    assert count_items(aws.ddb, TableName=LOG_INDEX_TABLE, Limit=2) == 7
    assert (
        count_items(
            aws.ddb,
            "query",
            TableName=LOG_INDEX_TABLE,
            KeyConditionExpression="LogLevel = :l",
            ExpressionAttributeValues={":l": {"S": "INFO"}},
            Limit=3,
        )
        == 7
    )


def test_batch_write_against_moto(aws):
    rows = [{"LogLevel": "DEBUG", "Timestamp": Decimal(f"1.{i:03d}"), "Message": "x"} for i in range(60)]
    assert batch_write(aws.ddb, LOG_INDEX_TABLE, rows) == 60
    assert count_items(aws.ddb, TableName=LOG_INDEX_TABLE) == 60


def test_pagination_stops_loudly_when_a_backend_repeats_its_last_key():
    from roxs_common.dynamo import count_items

    class Looping:
        def scan(self, **kwargs):
            return {"Count": 1, "Items": [], "LastEvaluatedKey": {"pk": {"S": "same"}}}

    with pytest.raises(RuntimeError, match="same LastEvaluatedKey"):
        count_items(Looping(), TableName="T")
