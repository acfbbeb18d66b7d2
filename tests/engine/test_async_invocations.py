"""Asynchronous invocations (engine/localstack_nodocker/async_invocations.py): events run
concurrently, never above the engine's bound (NODOCKER_EVENT_CONCURRENCY) nor the
function's reserved concurrency, each exactly once; a failed or expired event reaches the
on-failure destination and the dead-letter queue once, with the reason.

The bound is the one the engine runs with when it was started from this environment (as
`make test` does)."""

import contextlib
import json
import sys
import uuid

import boto3
import pytest

from tests.engine.test_lambda_paths import recorder_function
from tests.support.engine import ROOT
from tests.support.waiting import wait_for

sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker.event_concurrency import engine_bound

# Each run's id and when it ran (host clock: the workers run on this machine).
SLEEPER = """
import time


def handler(event, context):
    started = time.time()
    if event.get("announce"):  # a queue told that this run started
        import boto3

        boto3.client("sqs").send_message(QueueUrl=event["announce"], MessageBody=event["id"])
    if event.get("fail"):
        raise RuntimeError(f"event {event['id']} refused")
    time.sleep(event.get("sleep", 0))
    return {"id": event["id"], "started": started, "ended": time.time()}
"""


@pytest.fixture(scope="module")
def aws(engine):
    return {name: boto3.client(name) for name in ("lambda", "sqs")}


@contextlib.contextmanager
def queues(sqs, *roles: str):
    """{role: (url, arn)} of new queues, deleted after the block."""
    made = {}
    try:
        for role in roles:
            url = sqs.create_queue(QueueName=f"async-{role}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            made[role] = (url, arn)
        yield made
    finally:
        for url, _ in made.values():
            sqs.delete_queue(QueueUrl=url)


def drain(sqs, url: str, expected: int, timeout: float = 120) -> list[dict]:
    """Every message of the queue: at least `expected`, then until three receives find nothing
    more (a duplicate would arrive with the others)."""
    found: list[dict] = []

    def more():
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        found.extend(messages)
        return messages

    wait_for(lambda: (more(), len(found) >= expected)[1], timeout=timeout, interval=0, what=f"{expected} messages")
    quiet = 0
    while quiet < 3:
        quiet = 0 if more() else quiet + 1
    return found


def most_at_once(runs: list[dict]) -> int:
    """The largest number of runs under way at one moment."""
    return max(sum(other["started"] <= run["started"] < other["ended"] for other in runs) for run in runs)


def configure(lam, name: str, dead_letter_arn: str | None = None, reserved: int | None = None, **invoke_config) -> None:
    """The function's dead-letter queue, reserved concurrency and asynchronous invocation settings."""
    if dead_letter_arn:
        lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": dead_letter_arn})
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    if reserved is not None:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    lam.put_function_event_invoke_config(FunctionName=name, **invoke_config)


def send(lam, name: str, events: list[dict]) -> None:
    for event in events:
        answer = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
        assert answer["StatusCode"] == 202


@pytest.mark.parametrize("reserved", [None, 2])
def test_events_run_concurrently_within_the_bound_each_once(aws, reserved):
    lam, sqs = aws["lambda"], aws["sqs"]
    limit = reserved or engine_bound()
    events = [{"id": f"e{n}", "sleep": 1.5} for n in range(limit + 4)]
    with recorder_function(lam, "async-bound", SLEEPER) as name, queues(sqs, "done") as made:
        configure(
            lam,
            name,
            reserved=reserved,
            MaximumRetryAttempts=0,
            DestinationConfig={"OnSuccess": {"Destination": made["done"][1]}},
        )
        send(lam, name, events)
        results = [json.loads(m["Body"]) for m in drain(sqs, made["done"][0], len(events))]
    runs = [result["responsePayload"] for result in results]
    assert sorted(run["id"] for run in runs) == sorted(event["id"] for event in events)  # each once
    assert all(result["requestContext"]["condition"] == "Success" for result in results)
    assert 2 <= most_at_once(runs) <= limit  # concurrent, never above the bound


def test_a_failed_event_reaches_its_destination_and_dead_letter_queue_once(aws):
    lam, sqs = aws["lambda"], aws["sqs"]
    events = [
        {"id": "plain", "fail": True},
        {"id": "ünïcode ✓", "fail": True},
        {"id": "nested", "fail": True, "x": [{"y": None}]},
    ]
    with recorder_function(lam, "async-fail", SLEEPER) as name, queues(sqs, "failed", "dlq") as made:
        configure(
            lam,
            name,
            dead_letter_arn=made["dlq"][1],
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": made["failed"][1]}},
        )
        send(lam, name, events)
        failed = [json.loads(m["Body"]) for m in drain(sqs, made["failed"][0], len(events))]
        dead = drain(sqs, made["dlq"][0], len(events))
    assert sorted(record["requestPayload"]["id"] for record in failed) == sorted(event["id"] for event in events)
    for record in failed:
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 1  # MaximumRetryAttempts 0: one run
        assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert sorted(json.loads(m["Body"])["id"] for m in dead) == sorted(event["id"] for event in events)
    for message in dead:
        event_id = json.loads(message["Body"])["id"]
        assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == f"event {event_id} refused"


@pytest.mark.slow
def test_an_event_older_than_its_maximum_age_is_not_run(aws):
    """AWS's smallest MaximumEventAgeInSeconds is 60: the second event waits behind the first
    (reserved concurrency 1) for longer than that, then goes to the destination and the DLQ."""
    lam, sqs = aws["lambda"], aws["sqs"]
    second = {"id": "second"}
    with (
        recorder_function(lam, "async-age", SLEEPER, timeout=90) as name,
        queues(sqs, "done", "failed", "dlq", "started") as made,
    ):
        configure(
            lam,
            name,
            dead_letter_arn=made["dlq"][1],
            reserved=1,
            MaximumEventAgeInSeconds=60,
            DestinationConfig={
                "OnSuccess": {"Destination": made["done"][1]},
                "OnFailure": {"Destination": made["failed"][1]},
            },
        )
        # the first runs 72 s: the second, sent once the test has seen it start (a few seconds
        # under load), waits behind it for more than 60
        send(lam, name, [{"id": "first", "sleep": 72, "announce": made["started"][0]}])
        drain(sqs, made["started"][0], 1)
        send(lam, name, [second])
        expired = [json.loads(m["Body"]) for m in drain(sqs, made["failed"][0], 1, timeout=150)]
        done = [json.loads(m["Body"]) for m in drain(sqs, made["done"][0], 1)]
        dead = drain(sqs, made["dlq"][0], 1)
    assert [record["requestPayload"]["id"] for record in expired] == ["second"]
    assert expired[0]["requestContext"]["condition"] == "EventAgeExceeded"
    assert [record["responsePayload"]["id"] for record in done] == ["first"]  # the second never ran
    assert [json.loads(message["Body"])["id"] for message in dead] == ["second"]
    assert "MaximumEventAgeInSeconds" in dead[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
