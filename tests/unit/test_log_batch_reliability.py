"""Log batches are stored whole or not at all: throttling is retried with backoff through the
SDK's own retry machinery, and a batch that still cannot be indexed fails loudly and leaves
nothing behind, counters included (so sending it again duplicates nothing).

DynamoDB's throttling is injected at the HTTP layer of the handler's real client (botocore's
before-send event), under moto: the retries, the backoff and the error parsing are botocore's.
"""

import json
import threading
import types

import botocore.endpoint
import log_processor
import pytest
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse

from roxs_common import client, scan_items
from roxs_common.aggregates import read_counters
from roxs_common.log_index import list_logs
from tests.unit.conftest import LOG_INDEX_TABLE, LOGS, STATS_TABLE

THROTTLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "The level of configured provisioned throughput for the table was exceeded.",
}


class Throttler:
    """Answers the TransactWriteItems that put rows with HTTP 400 ProvisionedThroughputExceeded
    while `should_throttle(call_number)` says so; every other request (the undo) goes to moto."""

    def __init__(self, should_throttle):
        self.should_throttle = should_throttle
        self.put_calls = 0
        self.throttled = 0
        self._lock = threading.Lock()

    def __call__(self, request, **kwargs):
        if b'"Put"' not in (request.body or b""):
            return None  # deletes (the clean-up) and everything else reach moto
        with self._lock:
            self.put_calls += 1
            if not self.should_throttle(self.put_calls):
                return None
            self.throttled += 1
        # botocore hands the request to every before-send handler, moto's too, and uses the first
        # answer: an emptied transaction keeps moto from applying what "DynamoDB" refused.
        request.body = json.dumps({"TransactItems": []}).encode()
        body = json.dumps(THROTTLED).encode()
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, MockRawResponse(body))


@pytest.fixture
def sdk_sleeps(monkeypatch):
    """The delays botocore's retry handler waits between attempts (recorded, not slept)."""
    delays = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=delays.append))
    return delays


def install(throttler):
    ddb = client("dynamodb")  # the handler's cached client: the one it will use
    ddb.meta.events.register_first("before-send.dynamodb.TransactWriteItems", throttler)
    return ddb


# 3 transactions (89 + 89 + 22 rows): enough to fail half-way, small enough for moto,
# which copies a table for every operation of a transaction.
BATCH = 200
CHUNKS = 3


def a_batch():
    levels = ("ERROR", "INFO", "WARN")
    return {"logs": [{"level": levels[i % 3], "message": f"reliability {i}", "service": "unit"} for i in range(BATCH)]}


def logs_counters(aws):
    counters = read_counters(aws.ddb, STATS_TABLE, ["logs"])["logs"]
    return {name: value for name, value in counters.items() if value}  # an undone count is 0, as before


def test_the_sdk_is_configured_to_retry_throttling_with_backoff():
    retries = client("dynamodb").meta.config.retries
    # Config(max_attempts=5) means 5 retries: 6 attempts in all.
    assert retries == {"mode": "standard", "total_max_attempts": 6}


def test_throttled_requests_are_retried_with_backoff_and_nothing_is_lost(aws, context, sdk_sleeps):
    # The first 3 put requests are throttled (each retried), then DynamoDB recovers.
    throttler = Throttler(lambda call: call <= 3)
    install(throttler)

    answer = log_processor.lambda_handler(a_batch(), context)

    assert json.loads(answer["body"])["logs_indexed"] == BATCH
    assert len(list(scan_items(aws.ddb, TableName=LOG_INDEX_TABLE))) == BATCH
    assert throttler.throttled == 3 and throttler.put_calls == CHUNKS + 3
    assert len(sdk_sleeps) == 3 and all(0 <= delay <= 20 for delay in sdk_sleeps)
    assert logs_counters(aws) == {"Total": BATCH, "ERROR": 67, "INFO": 67, "WARN": 66}


def test_a_batch_that_cannot_be_indexed_fails_loudly_and_leaves_nothing(aws, context, sdk_sleeps):
    log_processor.lambda_handler({"logs": [{"level": "ERROR", "message": "before"}]}, context)
    before = logs_counters(aws)
    # The first 2 transactions succeed, every later one is throttled on every attempt.
    throttler = Throttler(lambda call: call > 2)
    install(throttler)

    with pytest.raises(log_processor.BatchNotStored) as raised:
        log_processor.lambda_handler(a_batch(), context)

    message = str(raised.value)
    assert f"of {BATCH} logs was not stored" in message and "ProvisionedThroughputExceeded" in message
    assert "nothing was kept; the same batch can be sent again" in message
    # Two transactions had been committed: their exact inverses removed the rows and the counts.
    assert len(list(scan_items(aws.ddb, TableName=LOG_INDEX_TABLE))) == 1
    assert logs_counters(aws) == before == {"Total": 1, "ERROR": 1}
    assert aws.s3.list_objects_v2(Bucket=LOGS)["KeyCount"] == 1  # the first batch's archive only
    assert len(sdk_sleeps) >= 4  # the SDK backed off before giving up on a transaction
    rows, _ = list_logs(None, 100, None)  # the hour's directory entry is back to the one row
    assert [row["Message"] for row in rows] == ["before"]


def test_the_same_batch_sent_again_after_a_failure_is_stored_exactly_once(aws, context, sdk_sleeps):
    throttler = Throttler(lambda call: call > 2)
    install(throttler)
    with pytest.raises(log_processor.BatchNotStored):
        log_processor.lambda_handler(a_batch(), context)

    throttler.should_throttle = lambda call: False  # DynamoDB recovered; the caller retries
    answer = log_processor.lambda_handler(a_batch(), context)

    assert json.loads(answer["body"])["logs_indexed"] == BATCH
    assert len(list(scan_items(aws.ddb, TableName=LOG_INDEX_TABLE))) == BATCH
    assert aws.s3.list_objects_v2(Bucket=LOGS)["KeyCount"] == 1
    assert logs_counters(aws) == {"Total": BATCH, "ERROR": 67, "INFO": 67, "WARN": 66}


def test_a_failed_clean_up_says_exactly_what_was_left_behind(aws, context, sdk_sleeps, monkeypatch):
    throttler = Throttler(lambda call: call > 2)
    install(throttler)

    def undo_fails(*args, **kwargs):
        raise RuntimeError("DynamoDB unreachable")

    monkeypatch.setattr(log_processor, "undo_chunk", undo_fails)
    with pytest.raises(log_processor.BatchNotStored) as raised:
        log_processor.lambda_handler(a_batch(), context)

    message = str(raised.value)
    assert "clean-up failed, left behind: up to 89 index rows in RoxsLogIndex and their counts" in message
    assert "the archive s3://roxs-logs-storage/logs/" in message
    # The archive is kept because index rows may still point at it.
    assert aws.s3.list_objects_v2(Bucket=LOGS)["KeyCount"] == 1
