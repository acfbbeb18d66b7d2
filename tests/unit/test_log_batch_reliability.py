"""Log batches are stored whole or not at all: throttling is retried with backoff through the
SDK's own retry machinery, and a batch that still cannot be indexed fails loudly and leaves
nothing behind (so sending it again duplicates nothing).

DynamoDB's throttling is injected at the HTTP layer of the handler's real client (botocore's
before-send event), under moto: the retries, the backoff and the error parsing are botocore's.
"""

import json
import threading
import types

import botocore.endpoint
import pytest
from moto.core.botocore_stubber import MockRawResponse
from botocore.awsrequest import AWSResponse

import log_processor
from roxs_common import client, count_items
from tests.unit.conftest import LOG_INDEX_TABLE, LOGS

THROTTLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "The level of configured provisioned throughput for the table was exceeded.",
}


class Throttler:
    """Answers BatchWriteItem put requests with HTTP 400 ProvisionedThroughputExceeded
    while `should_throttle(call_number)` says so; every other request goes to moto."""

    def __init__(self, should_throttle):
        self.should_throttle = should_throttle
        self.put_calls = 0
        self.throttled = 0
        self._lock = threading.Lock()  # batch_write sends chunks from several threads

    def __call__(self, request, **kwargs):
        if b"PutRequest" not in (request.body or b""):
            return None  # deletes (the clean-up) and everything else reach moto
        with self._lock:
            self.put_calls += 1
            if not self.should_throttle(self.put_calls):
                return None
            self.throttled += 1
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
    ddb.meta.events.register_first("before-send.dynamodb.BatchWriteItem", throttler)
    return ddb


def thousand_logs(level="ERROR"):
    return {"logs": [{"level": level, "message": f"reliability {i}", "service": "unit"} for i in range(1000)]}


def test_the_sdk_is_configured_to_retry_throttling_with_backoff():
    retries = client("dynamodb").meta.config.retries
    # Config(max_attempts=5) means 5 retries: 6 attempts in all.
    assert retries == {"mode": "standard", "total_max_attempts": 6}


def test_throttled_requests_are_retried_with_backoff_and_nothing_is_lost(aws, context, sdk_sleeps):
    # The first 3 put requests are throttled (each retried), then DynamoDB recovers.
    throttler = Throttler(lambda call: call <= 3)
    install(throttler)

    answer = log_processor.lambda_handler(thousand_logs(), context)

    assert json.loads(answer["body"])["logs_indexed"] == 1000
    assert count_items(aws.ddb, TableName=LOG_INDEX_TABLE) == 1000
    assert throttler.throttled == 3 and throttler.put_calls == 40 + 3  # 40 chunks of 25, 3 resent
    assert len(sdk_sleeps) == 3 and all(0 <= delay <= 20 for delay in sdk_sleeps)


def test_a_batch_that_cannot_be_indexed_fails_loudly_and_leaves_nothing(aws, context, sdk_sleeps):
    # The first 10 put requests succeed, every later one is throttled on every attempt.
    throttler = Throttler(lambda call: call > 10)
    install(throttler)

    with pytest.raises(log_processor.BatchNotStored) as raised:
        log_processor.lambda_handler(thousand_logs(), context)

    message = str(raised.value)
    assert "of 1000 logs was not stored" in message and "ProvisionedThroughputExceeded" in message
    assert "nothing was kept; the same batch can be sent again" in message
    # Some chunks had been written before the failure: the clean-up removed them and the archive.
    assert count_items(aws.ddb, TableName=LOG_INDEX_TABLE) == 0
    assert aws.s3.list_objects_v2(Bucket=LOGS)["KeyCount"] == 0
    assert len(sdk_sleeps) >= 4  # the SDK backed off before giving up on a chunk


def test_the_same_batch_sent_again_after_a_failure_is_stored_exactly_once(aws, context, sdk_sleeps):
    throttler = Throttler(lambda call: call > 10)
    install(throttler)
    with pytest.raises(log_processor.BatchNotStored):
        log_processor.lambda_handler(thousand_logs(), context)

    throttler.should_throttle = lambda call: False  # DynamoDB recovered; the caller retries
    answer = log_processor.lambda_handler(thousand_logs(), context)

    assert json.loads(answer["body"])["logs_indexed"] == 1000
    assert count_items(aws.ddb, TableName=LOG_INDEX_TABLE) == 1000
    assert aws.s3.list_objects_v2(Bucket=LOGS)["KeyCount"] == 1


def test_a_failed_clean_up_says_exactly_what_was_left_behind(aws, context, sdk_sleeps, monkeypatch):
    throttler = Throttler(lambda call: call > 2)
    install(throttler)

    def deletes_fail(*args, **kwargs):
        raise RuntimeError("DynamoDB unreachable")

    monkeypatch.setattr(log_processor, "_delete_rows", deletes_fail)
    with pytest.raises(log_processor.BatchNotStored) as raised:
        log_processor.lambda_handler(thousand_logs(), context)

    message = str(raised.value)
    assert "clean-up failed, left behind: up to 1000 index rows in RoxsLogIndex" in message
    assert "the archive s3://roxs-logs-storage/logs/" in message
    # The archive is kept because index rows may still point at it.
    assert aws.s3.list_objects_v2(Bucket=LOGS)["KeyCount"] == 1
