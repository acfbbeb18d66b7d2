"""SQS event source mappings poll as Lambda does (engine/localstack_nodocker/sqs_mapping.py,
event_concurrency.py): every message delivered once, FIFO order per message group, the
dead-letter queue after maxReceiveCount, never more invocations at once than
ScalingConfig.MaximumConcurrency or the function's reserved concurrency allow, an idle queue
answered, a disabled mapping taking nothing, and ScalingConfig checked as Lambda checks it."""

import json
import subprocess
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.engine.test_lambda_paths import recorder_function
from tests.engine.test_sqs_mapping import ENGINE_PYTHON, QueueMapping
from tests.support.waiting import wait_for

# Each invocation reports when it ran and what it got to a queue named after its source queue
# (+ "-seen"). A body {"sleep": s} makes it last s seconds; {"fail": true} reports the message
# as failed (ReportBatchItemFailures), {"raise": true} fails the invocation; {"fail_first":
# true} fails the invocation on the message's first receive only.
RECORDER_SOURCE = """
import json
import time
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    started = time.time()
    records = event["Records"]
    bodies = [json.loads(record["body"]) for record in records]
    time.sleep(max(body.get("sleep", 0) for body in bodies))
    receives = [int(record["attributes"]["ApproximateReceiveCount"]) for record in records]
    raised = any(body.get("raise") or (body.get("fail_first") and count == 1) for body, count in zip(bodies, receives))
    report = {
        "started": started,
        "ended": time.time(),
        "raised": raised,
        "records": [
            {"id": record["messageId"], "body": body, "receives": count, "failed": bool(body.get("fail")),
             "group": record["attributes"].get("MessageGroupId")}
            for record, body, count in zip(records, bodies, receives)
        ],
    }
    source = records[0]["eventSourceARN"].split(":")[-1]
    seen = source.removesuffix(".fifo") + "-seen"
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=seen)["QueueUrl"], MessageBody=json.dumps(report))
    if raised:
        raise RuntimeError("this batch fails")
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r, b in zip(records, bodies) if b.get("fail")]}
"""


@pytest.fixture(scope="module")
def aws(engine):
    return {name: boto3.client(name) for name in ("lambda", "sqs", "dynamodb")}


@pytest.fixture(scope="module")
def recorder(aws):
    with recorder_function(aws["lambda"], "sqs-polled", RECORDER_SOURCE) as name:
        yield name


class Mapped(QueueMapping):
    """A queue (FIFO if asked) with a dead-letter queue, mapped to a function; what it delivered
    (its depth and its removal are QueueMapping's)."""

    def __init__(self, aws, function, fifo=False, max_receives=1, visibility_s=30, **mapping):
        self.aws, self.fifo = aws, fifo
        name = f"sqs-polled-{uuid.uuid4().hex[:8]}"
        sqs, suffix = aws["sqs"], ".fifo" if fifo else ""
        fifo_attributes = {"FifoQueue": "true"} if fifo else {}
        self.dlq = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=fifo_attributes)["QueueUrl"]
        self.url = sqs.create_queue(
            QueueName=name + suffix,
            Attributes={
                **fifo_attributes,
                "VisibilityTimeout": str(visibility_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": self.arn(self.dlq), "maxReceiveCount": max_receives}
                ),
            },
        )["QueueUrl"]
        self.seen_queue = sqs.create_queue(QueueName=f"{name}-seen")["QueueUrl"]
        self.mapping = aws["lambda"].create_event_source_mapping(
            FunctionName=function, EventSourceArn=self.arn(self.url), **mapping
        )["UUID"]
        wait_for(lambda: self.state() == "Enabled", timeout=30, what="the mapping to be enabled")
        self.reports: list[dict] = []

    def arn(self, url: str) -> str:
        return self.aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def state(self) -> str:
        return self.aws["lambda"].get_event_source_mapping(UUID=self.mapping)["State"]

    def send(self, bodies: list[dict], group=None) -> list[str]:
        """The bodies in order (in batches of ten), in message group `group` (FIFO); their message ids."""
        ids = []
        for start in range(0, len(bodies), 10):
            entries = []
            for n, body in enumerate(bodies[start : start + 10], start):
                entry = {"Id": str(n), "MessageBody": json.dumps(body)}
                if self.fifo:
                    entry.update(MessageGroupId=group, MessageDeduplicationId=uuid.uuid4().hex)
                entries.append(entry)
            sent = self.aws["sqs"].send_message_batch(QueueUrl=self.url, Entries=entries)
            assert not sent.get("Failed"), sent["Failed"]
            ids += [entry["MessageId"] for entry in sorted(sent["Successful"], key=lambda entry: int(entry["Id"]))]
        return ids

    def collect(self) -> list[dict]:
        """Every invocation's report so far, in the order the function sent them."""
        sqs = self.aws["sqs"]
        for message in sqs.receive_message(QueueUrl=self.seen_queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            self.reports.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=self.seen_queue, ReceiptHandle=message["ReceiptHandle"])
        return self.reports

    def delivered(self) -> list[str]:
        """The ids of the messages delivered successfully, as often as they were."""
        return [
            record["id"]
            for report in self.collect()
            if not report["raised"]
            for record in report["records"]
            if not record["failed"]
        ]

    def wait_delivered(self, ids: list[str], timeout: float = 60) -> list[str]:
        return wait_for(lambda: set(ids) <= set(self.delivered()) and self.delivered(), timeout, what="every message")

    def dead_letters(self, count: int) -> list[dict]:
        """The bodies of the `count` messages in the dead-letter queue, once they are there."""
        wait_for(lambda: self.depth(self.dlq) >= count, timeout=60, what=f"{count} messages in the dead-letter queue")
        sqs, found = self.aws["sqs"], []
        while messages := sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        ):
            found += [json.loads(message["Body"]) for message in messages]
        return found

    def most_at_once(self) -> int:
        """The most invocations that ran at the same time, from their start and end."""
        edges = sorted(
            [(report["started"], 1) for report in self.reports] + [(report["ended"], -1) for report in self.reports]
        )
        running = most = 0
        for _, change in edges:  # at equal times an end sorts before a start: touching is not overlapping
            running += change
            most = max(most, running)
        return most


@pytest.fixture
def mapped(aws, recorder):
    made = []

    def make(function=recorder, **options) -> Mapped:
        made.append(Mapped(aws, function, **options))
        return made[-1]

    yield make
    for queue in made:
        queue.close()


@pytest.mark.parametrize(
    "mapping",
    [{"BatchSize": 10}, {"BatchSize": 3}, {"BatchSize": 50, "MaximumBatchingWindowInSeconds": 1}],
    ids=["batch-10", "batch-3", "batch-50-window"],
)
def test_every_message_of_a_backlog_is_delivered_once(mapped, mapping):
    """120 messages at once (more batches than the engine's bound); maxReceiveCount 1, so a
    message received twice would also end in the dead-letter queue."""
    queue = mapped(**mapping)
    ids = queue.send([{"n": n} for n in range(120)])
    delivered = queue.wait_delivered(ids)
    assert sorted(delivered) == sorted(ids)
    assert max(len(report["records"]) for report in queue.reports) <= mapping["BatchSize"]
    wait_for(lambda: queue.depth(queue.url) == 0, timeout=30, what="the queue emptied")
    assert queue.depth(queue.dlq) == 0


@pytest.mark.parametrize("batch_size", [pytest.param(1, marks=pytest.mark.exhaustive), 4])
def test_a_fifo_queue_is_delivered_in_order_per_message_group(mapped, batch_size):
    """Four groups of 15, one message of each group failing its first delivery (the batch
    comes back after the visibility timeout): every group arrives whole, once, in order."""
    # a visibility timeout longer than cold starts under load: only the failed batch comes back
    queue = mapped(fifo=True, max_receives=3, visibility_s=10, BatchSize=batch_size)
    sent = {
        group: queue.send([{"group": group, "n": n, "fail_first": n == 7} for n in range(15)], group=group)
        for group in ("a", "b", "c", "d")
    }
    every = [message_id for ids in sent.values() for message_id in ids]
    queue.wait_delivered(every, timeout=90)
    for group in sent:
        got = [
            record["body"]["n"]
            for report in queue.reports
            if not report["raised"]
            for record in report["records"]
            if record["group"] == group
        ]
        assert got == list(range(15)), group
    assert queue.depth(queue.dlq) == 0


@pytest.mark.parametrize(
    "report_failures, max_receives",
    [(True, 2), (False, 3)],
    ids=["batch-item-failures", "failed-invocations"],
)
def test_a_message_that_keeps_failing_moves_to_the_dead_letter_queue_after_max_receive_count(
    mapped, report_failures, max_receives
):
    mapping = {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 10} if report_failures else {}
    # a visibility timeout longer than a cold start: only the failing messages come back
    queue = mapped(max_receives=max_receives, visibility_s=3, **(mapping or {"BatchSize": 1}))
    failing = {"fail": True} if report_failures else {"raise": True}
    good = queue.send([{"n": n} for n in range(5)])
    bad = queue.send([{"poison": n, **failing} for n in range(2)])
    queue.wait_delivered(good)
    assert sorted(body["poison"] for body in queue.dead_letters(2)) == [0, 1]
    attempts = [record for report in queue.collect() for record in report["records"] if record["id"] in bad]
    assert sorted(record["receives"] for record in attempts) == sorted(list(range(1, max_receives + 1)) * 2)
    assert set(queue.delivered()) == set(good)  # the failing ones never delivered
    assert queue.depth(queue.url) == 0


@pytest.mark.parametrize("maximum", [2, 3])
def test_no_more_batches_run_at_once_than_maximum_concurrency(mapped, maximum):
    """A backlog of 30 batches of 0.3 s: the mapping scales up to its MaximumConcurrency, never past it."""
    queue = mapped(BatchSize=1, ScalingConfig={"MaximumConcurrency": maximum})
    ids = queue.send([{"n": n, "sleep": 0.3} for n in range(30)])
    queue.wait_delivered(ids, timeout=90)
    assert queue.most_at_once() == maximum


@pytest.fixture(scope="module")
def reserved_recorder(aws):
    """A recorder with reserved concurrency 1 (a function setting: its own function)."""
    with recorder_function(aws["lambda"], "sqs-reserved", RECORDER_SOURCE) as name:
        aws["lambda"].put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
        yield name


def test_a_functions_reserved_concurrency_bounds_its_mappings(mapped, reserved_recorder):
    """Reserved concurrency 1, a mapping without ScalingConfig: one batch at a time, and none
    throttled (a throttled batch would be received again, and maxReceiveCount 1 would move it
    to the dead-letter queue)."""
    queue = mapped(function=reserved_recorder, BatchSize=1)
    ids = queue.send([{"n": n, "sleep": 0.2} for n in range(15)])
    delivered = queue.wait_delivered(ids, timeout=90)
    assert sorted(delivered) == sorted(ids)
    assert queue.most_at_once() == 1
    assert queue.depth(queue.dlq) == 0


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_a_message_on_a_queue_idle_for_a_while_is_delivered(mapped, fifo):
    """The poller's waits end empty, one after another, before the message comes."""
    queue = mapped(fifo=fifo, BatchSize=10)
    time.sleep(3)  # the scenario, not a wait for a result: idle through a few of the poller's waits
    ids = queue.send([{"after": "idle"}], group="idle")
    assert queue.wait_delivered(ids) == ids


def test_a_disabled_mapping_takes_nothing_and_delivers_once_enabled(aws, mapped):
    queue = mapped(BatchSize=10)
    aws["lambda"].update_event_source_mapping(UUID=queue.mapping, Enabled=False)
    wait_for(lambda: queue.state() == "Disabled", timeout=30, what="the mapping to be disabled")
    ids = queue.send([{"while": "disabled"}])
    time.sleep(3)  # the scenario: a poller still running would have taken it by now
    assert queue.collect() == [] and queue.depth(queue.url) == 1
    aws["lambda"].update_event_source_mapping(UUID=queue.mapping, Enabled=True)
    assert queue.wait_delivered(ids) == ids


def queue_arn(aws) -> str:
    url = aws["sqs"].create_queue(QueueName=f"sqs-scaling-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


@pytest.mark.parametrize(
    "maximum, reason",
    [(1, "greater than or equal to 2"), (0, "greater than or equal to 2"), (1001, "less than or equal to 1000")],
)
def test_maximum_concurrency_outside_lambdas_range_is_refused(aws, recorder, maximum, reason):
    lam = boto3.client("lambda", config=Config(parameter_validation=False))  # the engine's answer, not botocore's
    source = queue_arn(aws)
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(
            FunctionName=recorder, EventSourceArn=source, ScalingConfig={"MaximumConcurrency": maximum}
        )
    error = refused.value.response["Error"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "ValidationException" and reason in error["Message"], error
    mapping = lam.create_event_source_mapping(FunctionName=recorder, EventSourceArn=source)["UUID"]
    try:
        with pytest.raises(ClientError) as refused:
            lam.update_event_source_mapping(UUID=mapping, ScalingConfig={"MaximumConcurrency": maximum})
        assert reason in refused.value.response["Error"]["Message"]
    finally:
        lam.delete_event_source_mapping(UUID=mapping)


def test_scaling_config_on_a_stream_mapping_is_refused(aws, recorder):
    table = aws["dynamodb"].create_table(
        TableName=f"sqs-scaling-{uuid.uuid4().hex[:8]}",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]
    try:
        with pytest.raises(ClientError) as refused:
            aws["lambda"].create_event_source_mapping(
                FunctionName=recorder,
                EventSourceArn=table["LatestStreamArn"],
                StartingPosition="LATEST",
                ScalingConfig={"MaximumConcurrency": 5},
            )
        error = refused.value.response["Error"]
        assert error["Code"] == "InvalidParameterValueException" and "ScalingConfig" in error["Message"], error
    finally:
        aws["dynamodb"].delete_table(TableName=table["TableName"])


BAD_BOUNDS = ["0", "-2", "eight", "2.5"]


def test_the_engine_refuses_to_start_with_a_bad_bound():
    """The start hook, as the engine runs it, in the engine's interpreter (one run for all the
    values: each import of LocalStack costs seconds)."""
    script = """
import json, os, sys
from localstack.runtime.exceptions import LocalstackExit
from localstack_nodocker import plugins
refusals = {}
for value in sys.argv[1:]:
    os.environ["NODOCKER_EVENT_CONCURRENCY"] = value
    try:
        plugins.bound_event_concurrency()
    except LocalstackExit as exit:
        refusals[value] = str(exit)
print(json.dumps(refusals))
"""
    result = subprocess.run(
        [str(ENGINE_PYTHON), "-c", script, *BAD_BOUNDS], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    refusals = json.loads(result.stdout.splitlines()[-1])
    assert sorted(refusals) == sorted(BAD_BOUNDS)
    for value, reason in refusals.items():
        assert "NODOCKER_EVENT_CONCURRENCY must be a whole number of at least 1" in reason
        assert repr(value) in reason
