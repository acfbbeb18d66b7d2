"""The engine's state survives `down`/`up` and a crash, on a second engine (own port and state
folder) so the session's engine is left alone. Everything is checked over HTTP."""

import itertools
import json
import os
import shutil
import signal
import threading
import time
import urllib.request
import uuid

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.support.engine import health
from tests.support.second_engine import (
    STATE_ROUTE,
    URL,
    answer,
    client,
    create_function,
    get_json,
    second_engine_at,
    started,
    state_document,
    stream_table,
    zipped,
)
from tests.support.waiting import wait_for
from tools.waiting import TimedOut


@pytest.fixture
def second_engine(tmp_path, engine):
    """ctl.py bound to the second engine's port and a private state folder, saving every second."""
    with second_engine_at(tmp_path / "state", SNAPSHOT_FLUSH_INTERVAL="1") as run:
        yield run


def handler_zip(answer: str) -> bytes:
    source = (
        "import json\n"
        "def handler(event, context):\n"
        f"    body = {{'answer': {answer!r}, 'path': event.get('path')}}\n"
        "    return {'statusCode': 200, 'body': json.dumps(body)} if 'httpMethod' in event else body\n"
    )
    return zipped({"probe.py": source})


def deploy_function_behind_api(name: str, answer: str) -> str:
    """A function and a REST API proxying to it; returns the API's URL."""
    role = client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_ = client("lambda")
    arn = lambda_.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="probe.handler",
        Role=role,
        Code={"ZipFile": handler_zip(answer)},
    )["FunctionArn"]
    lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
    apigateway = client("apigateway")
    api = apigateway.create_rest_api(name=name)["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    resource = apigateway.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    apigateway.put_method(restApiId=api, resourceId=resource, httpMethod="ANY", authorizationType="NONE")
    apigateway.put_integration(
        restApiId=api,
        resourceId=resource,
        httpMethod="ANY",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations",
    )
    apigateway.create_deployment(restApiId=api, stageName="test")
    return f"{URL}/_aws/execute-api/{api}/test/hello"


def save_now() -> dict:
    """The engine's account of the save (`make save`)."""
    with urllib.request.urlopen(urllib.request.Request(f"{URL}{STATE_ROUTE}", method="POST"), timeout=120) as response:
        return json.loads(response.read())


def snapshot(bucket, table, queue_url, function, api_url) -> dict:
    """What must be the same after a restart."""
    sqs = client("sqs")
    unread = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    answer = json.loads(client("lambda").invoke(FunctionName=function)["Payload"].read())
    return {
        "object": client("s3").get_object(Bucket=bucket, Key="data/blob.bin")["Body"].read(),
        "items": sorted(json.dumps(item, sort_keys=True) for item in client("dynamodb").scan(TableName=table)["Items"]),
        "unread": unread["Attributes"]["ApproximateNumberOfMessages"],
        "function": answer,
        "api": get_json(api_url),
    }


def test_down_and_up_keep_objects_items_messages_functions_and_the_api(second_engine, tmp_path):
    started(second_engine("up"))
    first = save_now()  # no snapshot yet: every service is written, changed or not
    assert first["written"] == first["services"], first
    token = uuid.uuid4().hex
    bucket, table, function = f"keep-{token[:8]}", f"Keep{token[:8]}", f"keep-{token[:8]}"
    client("s3").create_bucket(Bucket=bucket)
    client("s3").put_object(Bucket=bucket, Key="data/blob.bin", Body=os.urandom(200_000))
    client("s3").create_bucket(Bucket=f"{bucket}-empty")
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for number in range(5):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"{token}-{number}"}, "n": {"N": f"{number}.25"}})
    queue_url = client("sqs").create_queue(QueueName=f"keep-{token[:8]}")["QueueUrl"]
    for body in ("first", "second"):
        client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)
    api_url = deploy_function_behind_api(function, token)
    before = snapshot(bucket, table, queue_url, function, api_url)
    assert before["function"]["answer"] == token and before["api"]["answer"] == token and before["unread"] == "2"
    # A save writes what changed since the previous one and carries the rest over from it:
    # the restart below finds the object and the items a later save did not write.
    save_now()
    client("sqs").send_message(QueueUrl=queue_url, MessageBody="third")
    written = save_now()["written"]
    assert "sqs" in written and not {"s3", "dynamodb"} & set(written), written
    before["unread"] = "3"

    stopped = second_engine("down")
    assert "state saved" in stopped.stdout, stopped.stdout + stopped.stderr
    assert health(URL) is None
    # the engine's temporary folder may be gone (cleaned, another machine): S3's folders are made again
    shutil.rmtree(tmp_path / "state" / "tmp" / "s3-storage")
    restarted = second_engine("up")
    started(restarted)
    assert "loaded" in restarted.stdout

    assert snapshot(bucket, table, queue_url, function, api_url) == before
    large = os.urandom(1024 * 1024)  # over 512 KiB: S3 writes it into its bucket's folder
    client("s3").put_object(Bucket=f"{bucket}-empty", Key="large.bin", Body=large)
    assert client("s3").get_object(Bucket=f"{bucket}-empty", Key="large.bin")["Body"].read() == large


def held_messages(sqs, queue_url: str) -> list[tuple[str, int]]:
    """(body, receive count) of every message the queue lets a receive take now."""
    held = []
    while found := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    ).get("Messages"):
        held += [(message["Body"], int(message["Attributes"]["ApproximateReceiveCount"])) for message in found]
    return sorted(held)


def write_kinds(token: str) -> dict:
    """One way to write per service the journal writes record by record, and SQS (whole):
    kind -> (write(key), keys found after the restart)."""
    s3, dynamodb, sqs, logs = client("s3", attempts=1), client("dynamodb", attempts=1), client("sqs"), client("logs")
    bucket = table = group = f"crash-{token}"
    s3.create_bucket(Bucket=bucket)
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = sqs.create_queue(QueueName=f"crash-{token}")["QueueUrl"]
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="writes")
    unretried_sqs, unretried_logs = client("sqs", attempts=1), client("logs", attempts=1)

    def messages() -> set[str]:
        return {body for body, _ in held_messages(client("sqs"), queue_url)}

    return {
        "object": (
            lambda key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * 100),
            lambda: {
                item["Key"]
                for item in client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])
                if client("s3").get_object(Bucket=bucket, Key=item["Key"])["Body"].read() == item["Key"].encode() * 100
            },
        ),
        "item": (
            lambda key: dynamodb.put_item(TableName=table, Item={"pk": {"S": key}, "body": {"S": key * 3}}),
            lambda: {
                item["pk"]["S"]
                for item in client("dynamodb").scan(TableName=table)["Items"]
                if item["body"]["S"] == item["pk"]["S"] * 3
            },
        ),
        "message": (lambda key: unretried_sqs.send_message(QueueUrl=queue_url, MessageBody=key), messages),
        "log event": (
            lambda key: unretried_logs.put_log_events(
                logGroupName=group,
                logStreamName="writes",
                logEvents=[{"timestamp": int(time.time() * 1000), "message": key}],
            ),
            lambda: {
                event["message"]
                for event in client("logs").get_log_events(logGroupName=group, logStreamName="writes")["events"]
            },
        ),
    }


def in_flight(acknowledged: list, kinds: dict) -> set:
    """The write the writer had sent, not yet acknowledged, when the engine was killed: the
    next key of the sequence (it may or may not have been kept)."""
    number = len(acknowledged)
    kind = sorted(kinds)[number % len(kinds)]
    return {(kind, f"{kind[0]}{number:05d}")}


def test_a_crash_loses_no_write_acknowledged_before_the_last_journal_write(second_engine, tmp_path):
    """`kill -9` while writes go on: every write the engine acknowledged before its last
    journal write (one each SNAPSHOT_FLUSH_INTERVAL, here 1 s) is there after `up`, of each
    kind; what it acknowledged after may be lost, never half there."""
    started(second_engine("up"))
    kinds = write_kinds(uuid.uuid4().hex[:8])
    acknowledged: list[tuple[float, str, str]] = []  # (when, kind, key)
    stop = threading.Event()

    def write_until_stopped():
        for number in itertools.count():
            kind = sorted(kinds)[number % len(kinds)]
            key = f"{kind[0]}{number:05d}"
            try:
                kinds[kind][0](key)
            except (BotoCoreError, ClientError):  # the engine is gone
                return
            acknowledged.append((time.time(), kind, key))
            if stop.is_set():
                return

    writer = threading.Thread(target=write_until_stopped)
    writer.start()
    try:
        # some writes of each kind covered by a journal write, then a kill among further writes
        enough = wait_for(lambda: len(acknowledged) > 40 and acknowledged[40][0], timeout=120, what="40 writes")
        through = wait_for(
            lambda: (through := state_document()["journal"]["written_through"]) > enough and through,
            timeout=30,
            interval=0.05,
            what="a journal write after them",
        )
        os.killpg(int((tmp_path / "state" / "localstack.pid").read_text()), signal.SIGKILL)
    finally:
        stop.set()
        writer.join()
    wait_for(lambda: health(URL) is None, timeout=10, interval=0.1, what="the engine to be gone")

    restarted = second_engine("up")

    started(restarted)
    durable = [(kind, key) for when, kind, key in acknowledged if when < through]
    assert len({kind for kind, _ in durable}) == len(kinds), durable
    found = {kind: read() for kind, (_, read) in kinds.items()}
    assert [(kind, key) for kind, key in durable if key not in found[kind]] == []
    written = {(kind, key) for _, kind, key in acknowledged}
    assert {(kind, key) for kind, keys in found.items() for key in keys} <= written | in_flight(acknowledged, kinds)


def test_a_crash_keeps_each_messages_place_in_its_queue(second_engine, tmp_path):
    """SQS is journaled message by message: after `kill -9` a standard queue still has its
    waiting message (with its receive count), its message in flight (hidden until its
    visibility ends) and its delayed one, and not the deleted one; a message moved to a
    dead-letter queue is there once; a FIFO group with a message in flight stays blocked, a
    later message of it whose visibility ended included, and a message given back (visibility
    0) is receivable."""
    started(second_engine("up"))
    sqs, token = client("sqs"), uuid.uuid4().hex[:8]
    standard = sqs.create_queue(QueueName=f"standard-{token}")["QueueUrl"]
    for body in ("waiting", "in flight", "deleted"):
        sqs.send_message(QueueUrl=standard, MessageBody=body)
    sqs.send_message(QueueUrl=standard, MessageBody="delayed", DelaySeconds=900)
    taken = {}
    while len(taken) < 3:
        for message in sqs.receive_message(QueueUrl=standard, MaxNumberOfMessages=10, VisibilityTimeout=900)[
            "Messages"
        ]:
            taken[message["Body"]] = message["ReceiptHandle"]
    sqs.delete_message(QueueUrl=standard, ReceiptHandle=taken["deleted"])
    sqs.change_message_visibility(QueueUrl=standard, ReceiptHandle=taken["waiting"], VisibilityTimeout=0)

    dead = sqs.create_queue(QueueName=f"dead-{token}")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redriven = sqs.create_queue(
        QueueName=f"redriven-{token}",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "1"})},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=redriven, MessageBody="poison")
    assert len(sqs.receive_message(QueueUrl=redriven, VisibilityTimeout=0)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=redriven)  # its second receive moved it

    fifo = sqs.create_queue(
        QueueName=f"fifo-{token}.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("b2", "b"), ("b3", "b")):
        sqs.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId=group)
    first = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=2, VisibilityTimeout=900)["Messages"]
    assert [message["Body"] for message in first] == ["a1", "a2"]
    # a2's visibility ends while a1's does not: SQS keeps a2 back, behind a1, and group a blocked
    sqs.change_message_visibility(QueueUrl=fifo, ReceiptHandle=first[1]["ReceiptHandle"], VisibilityTimeout=1)
    time.sleep(2)
    others = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, VisibilityTimeout=900)["Messages"]
    assert [message["Body"] for message in others] == ["b1", "b2", "b3"]
    # c1, received and given back at once (visibility 0), is receivable whatever is in flight
    sqs.send_message(QueueUrl=fifo, MessageBody="c1", MessageGroupId="c")
    given_back = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, VisibilityTimeout=900)["Messages"]
    assert [message["Body"] for message in given_back] == ["c1"]
    sqs.change_message_visibility(QueueUrl=fifo, ReceiptHandle=given_back[0]["ReceiptHandle"], VisibilityTimeout=0)
    # a receive alone is not a write (at worst a message received before a crash is received
    # again); a send after it is, and the journal write that follows has every message as it is
    sqs.send_message(QueueUrl=dead, MessageBody="marker")
    since = time.time()
    # two journal writes: a message gone from its queue is written as gone at the second
    wait_for(lambda: state_document()["journal"]["written_through"] > since + 1.5, timeout=30, what="journal writes")
    os.killpg(int((tmp_path / "state" / "localstack.pid").read_text()), signal.SIGKILL)
    wait_for(lambda: health(URL) is None, timeout=10, interval=0.1, what="the engine to be gone")

    started(second_engine("up"))

    counts = sqs.get_queue_attributes(QueueUrl=standard, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessagesNotVisible"], counts["ApproximateNumberOfMessagesDelayed"]) == ("1", "1")
    assert held_messages(sqs, standard) == [("waiting", 2)]
    assert held_messages(sqs, redriven) == []
    assert [body for body, _ in held_messages(sqs, dead)] == ["marker", "poison"]  # once
    time.sleep(1.5)  # SQS's worker has looked at the messages in flight since the start
    received = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in received] == ["c1"]  # a blocked, b in flight


def test_a_journal_write_costs_what_changed_not_what_the_queues_hold(second_engine):
    """One message sent to a queue beside one holding 3,000: the journal write that follows
    is a few kilobytes, as it is beside an empty one (it was the whole of SQS's state)."""
    started(second_engine("up"))
    sqs, token = client("sqs"), uuid.uuid4().hex[:8]
    full, other = (sqs.create_queue(QueueName=f"{name}-{token}")["QueueUrl"] for name in ("full", "other"))

    def bytes_of_one_send() -> int:
        save_now()  # the journal starts again after a snapshot
        since = time.time()
        sqs.send_message(QueueUrl=other, MessageBody="one more")
        return wait_for(
            lambda: (
                (journal := state_document()["journal"])["written_through"] > since and journal["bytes_since_snapshot"]
            ),
            timeout=30,
            what="the journal write of the send",
        )

    beside_empty = bytes_of_one_send()
    for start in range(0, 3000, 10):
        sqs.send_message_batch(
            QueueUrl=full, Entries=[{"Id": str(n), "MessageBody": f"{start + n:04d}" * 50} for n in range(10)]
        )
    beside_full = bytes_of_one_send()
    assert beside_full < beside_empty + 4096, (beside_empty, beside_full)


# Stamps of snapshots other engines wrote: LocalStack 4.8 on Python 3.11 (the engine before
# 2026.3.0 recorded moto's own version), and one moto-ext release apart from this engine's.
FOREIGN_STAMPS = {
    "localstack 4.8": (
        {"format": 1, "localstack": "4.8.0", "moto": "5.1.12.dev", "python": "3.11"},
        ["localstack 4.8.0 (this engine: 2026.3.0)", "python 3.11 (this engine: 3.1"],
    ),
    "another moto-ext": (
        {"format": 1, "localstack": "2026.3.0", "moto-ext": "5.1.22", "python": "3.13"},
        ["moto-ext 5.1.22 (this engine: "],
    ),
}


@pytest.mark.parametrize("engine_kind", sorted(FOREIGN_STAMPS))
def test_a_state_written_by_another_engine_version_is_refused(engine_kind, second_engine, tmp_path):
    folder = tmp_path / "state" / "snapshot"
    folder.mkdir(parents=True)
    written_by, named = FOREIGN_STAMPS[engine_kind]
    stamp = json.dumps({**written_by, "services": ["s3"]})
    (folder / "engine.json").write_text(stamp)

    result = second_engine("up")

    assert result.returncode == 1
    assert "another engine version" in result.stderr and all(part in result.stderr for part in named), result.stderr
    assert "make reset" in result.stderr and "Traceback" not in result.stderr
    assert health(URL) is None, "the engine must not serve a state it refused"
    assert (folder / "engine.json").read_text() == stamp, "a refused state must be left untouched"


LAYERED_HANDLER = "import shared\n\ndef handler(event, context):\n    return {'answer': shared.ANSWER}\n"
NODE_HANDLER = (
    "exports.handler = async () => ({ answer: process.env.ANSWER, node: process.versions.node.split('.')[0] });\n"
)
RECORDER = (
    "import json, os, boto3\n\n"
    "def handler(event, context):\n"
    "    keys = [record['dynamodb']['Keys']['pk']['S'] for record in event['Records']]\n"
    "    boto3.client('sqs').send_message(QueueUrl=os.environ['QUEUE_URL'], MessageBody=json.dumps(keys))\n"
)


def delivered_keys(queue_url: str, until: str, timeout: float = 60) -> list[str]:
    """Stream keys the recorder delivered, in order, up to and including `until`."""
    keys = []

    def delivered() -> bool:
        for message in (
            client("sqs")
            .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            .get("Messages", [])
        ):
            keys.extend(json.loads(message["Body"]))
            client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return until in keys

    try:
        wait_for(delivered, timeout=timeout, interval=0, what=f"{until!r} to reach the function")
    except TimedOut as exc:
        raise TimedOut(f"{exc}; delivered: {keys}") from None
    return keys


def test_down_and_up_keep_layers_node_functions_and_a_stream_mapping(second_engine):
    """The features built apart, together: a layer's code, a Node function and a DynamoDB
    stream's event source mapping come back with the state."""
    started(second_engine("up"))
    token = uuid.uuid4().hex[:8]
    layer = client("lambda").publish_layer_version(
        LayerName=f"keep-{token}",
        Content={"ZipFile": zipped({"python/shared.py": f"ANSWER = {token!r}\n"})},
        CompatibleRuntimes=["python3.11"],
    )["LayerVersionArn"]
    create_function(
        f"keep-layered-{token}", "python3.11", "index.handler", {"index.py": LAYERED_HANDLER}, Layers=[layer]
    )
    create_function(
        f"keep-node-{token}",
        "nodejs20.x",
        "index.handler",
        {"index.js": NODE_HANDLER},
        Environment={"Variables": {"ANSWER": token}},
    )
    table = stream_table(f"keep-stream-{token}")
    queue_url = client("sqs").create_queue(QueueName=f"keep-stream-{token}")["QueueUrl"]
    create_function(
        f"keep-recorder-{token}",
        "python3.11",
        "index.handler",
        {"index.py": RECORDER},
        Environment={"Variables": {"QUEUE_URL": queue_url}},
    )
    client("dynamodb").put_item(TableName=table["TableName"], Item={"pk": {"S": "before"}})
    mapping = client("lambda").create_event_source_mapping(
        FunctionName=f"keep-recorder-{token}",
        EventSourceArn=table["LatestStreamArn"],
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
    )["UUID"]
    assert delivered_keys(queue_url, "before") == ["before"]
    assert answer(f"keep-layered-{token}") == {"answer": token}
    assert answer(f"keep-node-{token}") == {"answer": token, "node": "20"}

    stopped = second_engine("down")
    assert "state saved" in stopped.stdout, stopped.stdout + stopped.stderr
    started(second_engine("up"))

    assert answer(f"keep-layered-{token}") == {"answer": token}
    assert answer(f"keep-node-{token}") == {"answer": token, "node": "20"}
    assert client("lambda").get_event_source_mapping(UUID=mapping)["State"] == "Enabled"
    client("dynamodb").put_item(TableName=table["TableName"], Item={"pk": {"S": "after"}})
    assert delivered_keys(queue_url, "after") == ["after"]


# Tells RESULTS which stream keys it got and whether it may take them (the bucket holds an
# object named `allow`); fails when it may not.
FAILS_UNTIL_ALLOWED = (
    "import json, os, boto3\n\n"
    "def handler(event, context):\n"
    "    allowed = bool(boto3.client('s3').list_objects_v2(Bucket=os.environ['BUCKET'], Prefix='allow').get('KeyCount'))\n"
    "    keys = [record['dynamodb']['Keys']['pk']['S'] for record in event['Records']]\n"
    "    message = json.dumps({'allowed': allowed, 'keys': keys})\n"
    "    boto3.client('sqs').send_message(QueueUrl=os.environ['RESULTS'], MessageBody=message)\n"
    "    if not allowed:\n"
    "        raise RuntimeError('not allowed yet')\n"
)


def next_delivery(queue_url: str, allowed: bool) -> list[str]:
    """The keys of the next delivery the function reports as `allowed` (others are skipped)."""
    sqs = client("sqs")

    def probe():
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if (body := json.loads(message["Body"]))["allowed"] == allowed:
                return body["keys"]
        return None

    return wait_for(probe, timeout=90, interval=0, what=f"a delivery with allowed={allowed}")


def test_a_stream_batch_failing_when_the_state_is_saved_is_delivered_after_a_crash(second_engine, tmp_path):
    """LocalStack's poller moves past a batch before delivering it; the snapshot keeps the
    batch's first record as the position while it is being delivered (retried here)."""
    started(second_engine("up"))
    token = uuid.uuid4().hex[:8]
    client("s3").create_bucket(Bucket=f"switch-{token}")
    results = client("sqs").create_queue(QueueName=f"results-{token}")["QueueUrl"]
    stream = stream_table(f"retried-{token}")["LatestStreamArn"]
    environment = {"Variables": {"BUCKET": f"switch-{token}", "RESULTS": results}}
    create_function(
        f"retried-{token}", "python3.11", "index.handler", {"index.py": FAILS_UNTIL_ALLOWED}, Environment=environment
    )
    client("dynamodb").put_item(TableName=f"retried-{token}", Item={"pk": {"S": "failing"}})
    client("lambda").create_event_source_mapping(
        FunctionName=f"retried-{token}", EventSourceArn=stream, StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    assert next_delivery(results, allowed=False) == ["failing"]  # and retried from now on
    failing_since = time.time()
    wait_for(lambda: state_document()["journal"]["written_through"] > failing_since, timeout=20, what="a journal write")
    os.killpg(int((tmp_path / "state" / "localstack.pid").read_text()), signal.SIGKILL)
    wait_for(lambda: health(URL) is None, timeout=10, interval=0.1, what="the engine to be gone")

    started(second_engine("up"))
    client("s3").put_object(Bucket=f"switch-{token}", Key="allow", Body=b"")

    assert next_delivery(results, allowed=True) == ["failing"]
