"""SQS event source mappings (engine/localstack_nodocker/sqs_mapping.py): whatever a message
body holds, the function gets every message of the batch, each body byte for byte as sent,
and a mapping's filter drops only what it does not match."""

import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest

from tests.engine.test_lambda_paths import recorder_function
from tests.support.engine import ROOT
from tests.support.waiting import wait_for

ENGINE_PYTHON = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack")) / "venv" / "bin" / "python"

# Each invocation's payload size and its messages (id, MD5 of the body the function got), to
# a queue named after the source queue (+ "-seen").
RECORDER_SOURCE = """
import hashlib
import json
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    records = event["Records"]
    source = records[0]["eventSourceARN"].split(":")[-1]
    seen = [{"id": r["messageId"], "md5": hashlib.md5(r["body"].encode()).hexdigest(), "chars": len(r["body"])}
            for r in records]
    invocation = {"payload_bytes": len(json.dumps(event)), "records": seen}
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=source + "-seen")["QueueUrl"],
                     MessageBody=json.dumps(invocation))
    return {"batchItemFailures": []}
"""

# Bodies Python's json cannot read (recursion and integer-digit limits), and JSON bodies
# that a parse-and-dump round trip would change.
POISON = {
    "deep-open-lists": "[" * 3000,
    "deep-closed-lists": "[" * 50_000 + "]" * 50_000,
    "deep-objects": '{"a":' * 3000 + "1" + "}" * 3000,
    "huge-integer": "9" * 5000,
    "huge-integer-in-object": '{"title": ' + "7" * 4301 + "}",
}
ROUND_TRIP_CHANGES = {
    "compact": '{"a":1,"b":[true,null]}',
    "non-ascii": '{"title":"Ñandú \\u00e9 ✓"}',
    "overflowing-float": "[1e400]",
    "duplicate-names": '{"a":1,"a":2}',
    "padded": '  {"padded": true}\n',
}


@pytest.fixture(scope="module")
def aws(engine):
    return {name: boto3.client(name) for name in ("lambda", "sqs")}


@pytest.fixture(scope="module")
def recorder(aws):
    with recorder_function(aws["lambda"], "sqs-recorder", RECORDER_SOURCE) as name:
        yield name


class QueueMapping:
    """A queue, its dead-letter queue and the queue its function reports to (`url`, `dlq`,
    `seen_queue`), and its mapping (`mapping`), set by a subclass."""

    aws: dict
    url: str
    dlq: str
    seen_queue: str
    mapping: str

    def depth(self, url: str) -> int:
        attributes = self.aws["sqs"].get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def close(self):
        self.aws["lambda"].delete_event_source_mapping(UUID=self.mapping)
        for url in (self.url, self.dlq, self.seen_queue):
            self.aws["sqs"].delete_queue(QueueUrl=url)


class MappedQueue(QueueMapping):
    """A queue (one receive, then its dead-letter queue) mapped to the recorder."""

    def __init__(self, aws, recorder, **mapping):
        self.aws, name = aws, f"sqs-mapped-{uuid.uuid4().hex[:8]}"
        sqs = aws["sqs"]
        self.dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=self.dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.url = sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": "60",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}),
            },
        )["QueueUrl"]
        self.seen_queue = sqs.create_queue(QueueName=f"{name}-seen")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.mapping = aws["lambda"].create_event_source_mapping(
            FunctionName=recorder,
            EventSourceArn=arn,
            BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            **mapping,
        )["UUID"]
        wait_for(
            lambda: aws["lambda"].get_event_source_mapping(UUID=self.mapping)["State"] == "Enabled",
            timeout=30,
            what="the mapping to be enabled",
        )
        self.seen: dict[str, dict] = {}
        self.payload_sizes: list[int] = []

    def send(self, bodies: dict[str, str]) -> dict[str, dict]:
        """SendMessageBatch of {entry id: body}; {entry id: the successful entry}."""
        sent = self.aws["sqs"].send_message_batch(
            QueueUrl=self.url, Entries=[{"Id": entry, "MessageBody": body} for entry, body in bodies.items()]
        )
        assert not sent.get("Failed"), sent["Failed"]
        return {entry["Id"]: entry for entry in sent["Successful"]}

    def collect(self) -> dict[str, dict]:
        sqs = self.aws["sqs"]
        for message in sqs.receive_message(QueueUrl=self.seen_queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            invocation = json.loads(message["Body"])
            self.payload_sizes.append(invocation["payload_bytes"])
            self.seen.update((record["id"], record) for record in invocation["records"])
            sqs.delete_message(QueueUrl=self.seen_queue, ReceiptHandle=message["ReceiptHandle"])
        return self.seen


@pytest.fixture
def mapped(aws, recorder):
    made = []

    def make(**mapping) -> MappedQueue:
        made.append(MappedQueue(aws, recorder, **mapping))
        return made[-1]

    yield make
    for queue in made:
        queue.close()


@pytest.mark.parametrize("poison", sorted(POISON))
def test_a_body_python_cannot_parse_does_not_keep_the_batch_from_the_function(mapped, poison):
    queue = mapped()
    bodies = {poison: POISON[poison], **{f"valid{i}": json.dumps({"title": f"valid {i}"}) for i in range(9)}}
    sent = queue.send(bodies)
    wanted = {entry["MessageId"] for entry in sent.values()}
    seen = wait_for(lambda: wanted <= set(queue.collect()) and queue.seen, timeout=30, what="all 10 messages")
    for entry_id, entry in sent.items():
        assert seen[entry["MessageId"]]["md5"] == entry["MD5OfMessageBody"], entry_id
    wait_for(lambda: queue.depth(queue.url) == 0, timeout=30, what="the batch deleted")
    assert queue.depth(queue.dlq) == 0


def test_the_function_gets_each_body_byte_for_byte(mapped):
    queue = mapped()
    sent = queue.send(ROUND_TRIP_CHANGES)
    wanted = {entry["MessageId"] for entry in sent.values()}
    seen = wait_for(lambda: wanted <= set(queue.collect()) and queue.seen, timeout=30, what="every message")
    for entry_id, body in ROUND_TRIP_CHANGES.items():
        record = seen[sent[entry_id]["MessageId"]]
        assert (record["md5"], record["chars"]) == (hashlib.md5(body.encode()).hexdigest(), len(body)), entry_id
    wait_for(lambda: queue.depth(queue.url) == 0, timeout=30, what="the batch deleted")


def test_a_filter_drops_what_it_does_not_match_and_nothing_else(mapped):
    """A JSON body pattern: bodies that are not JSON Python can read do not match (as AWS
    matches a body that is not JSON), nor does a value nested too deep to match; both are
    deleted like any filtered-out message. The matching one arrives unchanged."""
    queue = mapped(FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["wanted"]}})}]})
    bodies = {
        "wanted": '{"kind":"wanted","n":1}',
        "other": '{"kind":"other"}',
        "text": "kind wanted",
        **POISON,
        "deep-under-the-filtered-name": '{"kind":' + "[" * 900 + '"other"' + "]" * 900 + "}",
    }
    sent = queue.send(bodies)
    wanted_id = sent["wanted"]["MessageId"]
    seen = wait_for(lambda: wanted_id in queue.collect() and queue.seen, timeout=30, what="the matching message")
    assert seen[wanted_id]["md5"] == sent["wanted"]["MD5OfMessageBody"]
    wait_for(lambda: queue.depth(queue.url) == 0, timeout=30, what="the filtered-out messages deleted")
    assert set(queue.collect()) == {wanted_id} and queue.depth(queue.dlq) == 0


def test_a_batch_over_lambdas_payload_limit_is_split_and_every_message_arrives(mapped):
    """Ten messages of 900 KB of 'é' (SQS takes 1 MiB), each 2.7 MB once JSON escapes it in
    the event: 27 MB in one batch of ten. Every invocation stays within 6 MB, every body
    arrives intact, and the queue is emptied."""
    queue = mapped(MaximumBatchingWindowInSeconds=10)  # the ten are received as one batch
    sent = {}
    for i in range(10):
        body = str(i) + "é" * 450_000
        entry = queue.aws["sqs"].send_message(QueueUrl=queue.url, MessageBody=body)
        sent[entry["MessageId"]] = entry["MD5OfMessageBody"]
    seen = wait_for(lambda: set(sent) <= set(queue.collect()) and queue.seen, timeout=90, what="all 10 messages")
    assert {message_id: seen[message_id]["md5"] for message_id in sent} == sent
    assert len(queue.payload_sizes) > 1 and max(queue.payload_sizes) <= 6 * 1024 * 1024, queue.payload_sizes
    wait_for(lambda: queue.depth(queue.url) == 0, timeout=30, what="the batch deleted")
    assert queue.depth(queue.dlq) == 0


# LocalStack with one thing the replacement relies on changed: (the change, the seam target it
# breaks, the feature named).
_ESM = "localstack.services.lambda_.event_source_mapping"
BODIES = "by sqs_mapping.py for: SQS event source mappings delivering bodies as sent"
POLLING = "for: event source mappings polling as Lambda does"
CHANGED_UPSTREAM = {
    "the worker's loop": (
        "esm_worker.EsmWorker.poller_loop = lambda self: None",
        f"{_ESM}.esm_worker:EsmWorker.poller_loop",
        POLLING,
    ),
    "the provider's put": (
        "del SqsProvider._put_message",
        "localstack.services.sqs.provider:SqsProvider._put_message",
        POLLING,
    ),
    "the module's event transform": (
        "del sqs_poller.transform_into_events",
        f"{_ESM}.pollers.sqs_poller:transform_into_events",
        BODIES,
    ),
    "the factory's poller": (
        "esm_worker_factory.SqsPoller = type('OtherPoller', (), {})",
        f"{_ESM}.esm_worker_factory:SqsPoller",
        BODIES,
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGED_UPSTREAM))
def test_the_engine_refuses_to_start_when_the_replaced_poller_changed(change):
    """The seam's check, as the engine's first start hook runs it, over the targets of these
    features (the whole check is tests/engine/test_seam.py's)."""
    edit, broken, feature = CHANGED_UPSTREAM[change]
    script = f"""
import json
from localstack.services.lambda_.event_source_mapping import esm_worker, esm_worker_factory
from localstack.services.lambda_.event_source_mapping.pollers import sqs_poller
from localstack.services.sqs.provider import SqsProvider
from localstack_nodocker import seam
{edit}
features = (seam.SQS_BODIES, seam.MAPPING_POLLING)
print(json.dumps(seam.check([target for target in seam.TARGETS if any(f in target.feature for f in features)])))
"""
    result = subprocess.run([str(ENGINE_PYTHON), "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    problems = json.loads(result.stdout.splitlines()[-1])
    assert len(problems) == 1 and problems[0].startswith(f"{broken} "), problems
    assert feature in problems[0]
