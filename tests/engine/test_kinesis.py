"""Kinesis on the engine: LocalStack's provider forwards to kinesis-mock, installed from the
engine's lock when Kinesis is first used (engine/localstack_nodocker/kinesis.py). Streams take
and give back records, reach Lambda through LocalStack's own event source mapping poller and
outlive `down` and `up`; kinesis-mock ends with a killed engine. That it listens on the
loopback only is checked with the engine's other listeners (test_listening.py)."""

import base64
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest

from tests.engine.test_lambda_paths import recorder_function
from tests.engine.test_listening import command_line, process_tree
from tests.engine.test_streams import FORWARD_BATCH_SOURCE
from tests.support.engine import ENGINE_PYTHON
from tests.support.second_engine import client, second_engine_at, started
from tests.support.waiting import wait_for

RECORDER_SOURCE = FORWARD_BATCH_SOURCE + "\n\ndef handler(event, context):\n    forward(event, context)\n"


@pytest.fixture(scope="module")
def aws(engine):
    return {name: boto3.client(name) for name in ("kinesis", "lambda", "sqs")}


@pytest.fixture
def stream(aws):
    name = f"kinesis-{uuid.uuid4().hex[:8]}"
    aws["kinesis"].create_stream(StreamName=name, ShardCount=1)
    aws["kinesis"].get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    yield aws["kinesis"].describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    aws["kinesis"].delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def read_all(kinesis, name: str) -> list[dict]:
    """The records of the stream's one shard, from its start."""
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def test_a_stream_gives_back_the_records_put_in_order(aws, stream):
    kinesis, name = aws["kinesis"], stream["StreamName"]
    put = kinesis.put_records(
        StreamName=name, Records=[{"Data": f"record {n}".encode(), "PartitionKey": f"key-{n}"} for n in range(5)]
    )
    assert put["FailedRecordCount"] == 0
    records = read_all(kinesis, name)
    assert [(r["Data"], r["PartitionKey"]) for r in records] == [(f"record {n}".encode(), f"key-{n}") for n in range(5)]
    assert [r["SequenceNumber"] for r in records] == [entry["SequenceNumber"] for entry in put["Records"]]


def test_a_missing_stream_is_answered_resource_not_found(aws):
    with pytest.raises(aws["kinesis"].exceptions.ResourceNotFoundException):
        aws["kinesis"].describe_stream(StreamName=f"missing-{uuid.uuid4().hex[:8]}")


def test_records_reach_a_function_through_an_event_source_mapping(aws, stream):
    name, arn = stream["StreamName"], stream["StreamARN"]
    queue = aws["sqs"].create_queue(QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with recorder_function(aws["lambda"], "kinesis-recorder", RECORDER_SOURCE) as function:
        mapping = aws["lambda"].create_event_source_mapping(
            FunctionName=function, EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=10
        )["UUID"]
        try:
            sent = [(f"key-{n}", json.dumps({"n": n})) for n in range(3)]
            for key, data in sent:
                aws["kinesis"].put_record(StreamName=name, Data=data.encode(), PartitionKey=key)
            delivered = []

            def all_delivered():
                for message in aws["sqs"].receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
                    delivered.extend(json.loads(message["Body"]))
                    aws["sqs"].delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                return len(delivered) >= len(sent)

            wait_for(all_delivered, timeout=60, interval=0, what=f"the records of {name} to reach the function")
        finally:
            aws["lambda"].delete_event_source_mapping(UUID=mapping)
            aws["sqs"].delete_queue(QueueUrl=queue)
    assert [(r["kinesis"]["partitionKey"], base64.b64decode(r["kinesis"]["data"]).decode()) for r in delivered] == sent
    assert {(r["eventSource"], r["eventSourceARN"], r["eventName"], r["awsRegion"]) for r in delivered} == {
        ("aws:kinesis", arn, "aws:kinesis:record", "us-east-1")
    }


# Runs in the engine's interpreter: the mapping's poller (stream_mapping.PacedKinesisPoller) on a
# stream of one shard, polled as its worker does (no interval between polls).
PACED_POLLER = r"""
import datetime
import threading
import time
from localstack_nodocker.stream_mapping import PacedKinesisPoller

ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/paced"


class Stream:
    # A Kinesis client of one active shard whose reads return records while `flowing`.

    def __init__(self):
        self.reads, self.flowing, self.sequence = 0, False, 0

    def describe_stream(self, **kwargs):
        return {"StreamDescription": {"StreamStatus": "ACTIVE", "Shards": [{"ShardId": "shard-0"}]}}

    def get_shard_iterator(self, **kwargs):
        return {"ShardIterator": "iterator"}

    def get_records(self, **kwargs):
        self.reads += 1
        records = []
        if self.flowing:
            self.sequence += 1
            records = [{"SequenceNumber": str(self.sequence), "Data": b"x",
                        "PartitionKey": "p", "ApproximateArrivalTimestamp": datetime.datetime.now(datetime.UTC)}]
        return {"Records": records, "NextShardIterator": "iterator"}


class Processor:
    def __init__(self):
        self.batches = 0

    def process_events_batch(self, events):
        self.batches += 1


def reads_in(poller, stream, seconds):
    # What the mapping's worker does (its poll interval is 0): poll until stopped.
    stop, before = threading.Event(), stream.reads
    def loop():
        while not stop.is_set():
            poller.poll_events()
    worker = threading.Thread(target=loop)
    worker.start()
    time.sleep(seconds)
    stop.set()
    return worker, stream.reads - before


stream, processor = Stream(), Processor()
parameters = {"KinesisStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 10, "MaximumBatchingWindowInSeconds": 0}}
poller = PacedKinesisPoller(ARN, parameters, stream, processor, kinesis_namespace=True, esm_uuid="paced")
worker, idle_reads = reads_in(poller, stream, 2.5)
worker.join(5)
assert 1 <= idle_reads <= 4, f"an idle shard read {idle_reads} times in 2.5 s"  # once a second
stream.flowing = True
worker, busy_reads = reads_in(poller, stream, 2.5)
worker.join(5)
assert busy_reads >= 10 and processor.batches >= 10, (busy_reads, processor.batches)  # no pause while records come
stream.flowing = False
stopping = threading.Thread(target=lambda: [poller.poll_events() for _ in range(3)])
stopping.start()
time.sleep(0.2)
poller.close()  # the worker's stop: a waiting poll returns at once
stopping.join(0.5)
assert not stopping.is_alive(), "a stopped poller kept waiting"
print("ok", idle_reads, busy_reads)
"""


def test_an_idle_kinesis_mapping_reads_each_shard_once_a_second_and_a_busy_one_without_pause():
    """AWS's base rate on an idle shard (LocalStack's poller read it without a pause: 395,626 reads
    in 2.5 s), reads one after another while records come, and a stop ends a waiting poll."""
    result = subprocess.run([str(ENGINE_PYTHON), "-c", PACED_POLLER], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("ok")


def test_a_record_put_just_before_down_is_there_after_up(engine, tmp_path):
    """kinesis-mock is stopped so that it writes its streams first (it writes them every
    KINESIS_MOCK_PERSIST_INTERVAL, here longer than the test)."""
    with second_engine_at(tmp_path / "state", KINESIS_MOCK_PERSIST_INTERVAL="600s") as run:
        started(run("up"))
        kinesis = client("kinesis")
        kinesis.create_stream(StreamName="kept", ShardCount=1)
        kinesis.get_waiter("stream_exists").wait(StreamName="kept", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        kinesis.put_record(StreamName="kept", Data=b"just before down", PartitionKey="a")
        started(run("down"))
        started(run("up"))
        assert [record["Data"] for record in read_all(client("kinesis"), "kept")] == [b"just before down"]


def test_kinesis_mock_ends_with_a_killed_engine(engine, tmp_path):
    """LocalStack starts it in a session of its own: without the engine it would run on,
    writing its streams into the data folder the next engine reads."""
    with second_engine_at(tmp_path / "state") as run:
        started(run("up"))
        client("kinesis").create_stream(StreamName="orphaned", ShardCount=1)
        pid = int((tmp_path / "state" / "localstack.pid").read_text())
        mocks = [child for child in process_tree(pid) if b"kinesis-local/main.js" in command_line(child)]
        assert mocks, "kinesis-mock is not running"
        os.kill(pid, signal.SIGKILL)

        def ended():
            return not any(Path(f"/proc/{mock}").exists() and command_line(mock) for mock in mocks)

        wait_for(ended, timeout=30, what="kinesis-mock to end with its engine")


def test_a_host_that_cannot_install_kinesis_mock_answers_why(engine, tmp_path):
    """No registry (here: one that refuses connections, and an empty npm cache): every Kinesis
    call answers InternalFailure with npm's reason and the fix, and the next one tries again."""
    unreachable = {
        "LAMBDA_RUNTIME_LIBRARY": str(tmp_path / "library"),
        "NPM_CONFIG_REGISTRY": "http://127.0.0.1:9/",
        "NPM_CONFIG_CACHE": str(tmp_path / "npm-cache"),
        "NPM_CONFIG_FETCH_RETRIES": "0",
    }
    with second_engine_at(tmp_path / "state", **unreachable) as run:
        started(run("up"))
        for _ in range(2):
            with pytest.raises(client("kinesis").exceptions.ClientError) as refused:
                client("kinesis", attempts=1).create_stream(StreamName="unreachable", ShardCount=1)
            error = refused.value.response
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
            message = error["Error"]["Message"]
            assert "Kinesis needs kinesis-mock, which could not be installed" in message, message
            assert "installing kinesis-mock 0.5.2 for Kinesis (npm kinesis-local, locked) failed" in message, message
            assert "ECONNREFUSED" in message, message
