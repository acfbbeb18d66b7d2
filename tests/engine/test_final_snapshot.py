"""`down` while requests keep coming: what the engine acknowledged is in the snapshot, what it
did not take it refused (503), and the work it owed (S3 events through EventBridge to a
function) is done before or after the restart. On a second engine (own port and state
folder); everything is checked over HTTP."""

import json
import threading
import uuid

import pytest

from tests.support.second_engine import client, create_function, second_engine_at, started
from tests.support.traffic import Refused, Traffic
from tests.support.waiting import scan_all, wait_for

# Writes its id as an item and as an object (a request answered only after both).
WRITER = (
    "import os, boto3\n\n"
    "def handler(event, context):\n"
    "    boto3.client('dynamodb').put_item(TableName=os.environ['TABLE'], Item={'pk': {'S': event['id']}})\n"
    "    boto3.client('s3').put_object(Bucket=os.environ['BUCKET'], Key=event['id'], Body=event['id'].encode())\n"
    "    return {'id': event['id']}\n"
)
# Records each uploaded object (an EventBridge "Object Created" event) as a row.
INDEXER = (
    "import os, boto3\n\n"
    "def handler(event, context):\n"
    "    key = event['detail']['object']['key']\n"
    "    boto3.client('dynamodb').put_item(TableName=os.environ['TABLE'], Item={'pk': {'S': 'row#' + key}})\n"
)
# How much traffic each writer has had acknowledged before `down` starts.
ACKNOWLEDGED_BEFORE_DOWN = 10
# Failures a refused request may show: the engine's 503, or no engine any more.
REFUSALS = {503, "EndpointConnectionError", "ConnectionClosedError"}


@pytest.fixture
def second_engine(tmp_path, engine):
    with second_engine_at(tmp_path / "state") as run:
        yield run


def test_what_was_acknowledged_while_down_ran_is_there_after_up(second_engine):
    started(second_engine("up"))
    token = uuid.uuid4().hex[:8]
    table, uploads, written = f"acks-{token}", f"uploads-{token}", f"written-{token}"
    dynamodb, s3, events = client("dynamodb"), client("s3"), client("events")
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    for bucket in (uploads, written):
        s3.create_bucket(Bucket=bucket)
    environment = {"Variables": {"TABLE": table, "BUCKET": written}}
    create_function(f"writer-{token}", "python3.11", "index.handler", {"index.py": WRITER}, Environment=environment)
    indexer = create_function(
        f"indexer-{token}", "python3.11", "index.handler", {"index.py": INDEXER}, Environment=environment
    )
    s3.put_bucket_notification_configuration(Bucket=uploads, NotificationConfiguration={"EventBridgeConfiguration": {}})
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [uploads]}}}
    events.put_rule(Name=f"uploads-{token}", EventPattern=json.dumps(pattern))
    events.put_targets(Rule=f"uploads-{token}", Targets=[{"Id": "indexer", "Arn": indexer}])

    def upload():
        s3 = client("s3", attempts=1)
        return lambda key: s3.put_object(Bucket=uploads, Key=key, Body=key.encode())

    def put_item():
        dynamodb = client("dynamodb", attempts=1)
        return lambda key: dynamodb.put_item(TableName=table, Item={"pk": {"S": key}})

    def invoke():
        lambda_ = client("lambda", attempts=1)

        def call(key):
            response = lambda_.invoke(FunctionName=f"writer-{token}", Payload=json.dumps({"id": key}))
            if "FunctionError" in response:
                raise Refused(f"function error: {response['Payload'].read()[:300]}")

        return call

    with Traffic({"upload": upload, "item": put_item, "invoke": invoke}) as traffic:
        traffic.wait_for_each(ACKNOWLEDGED_BEFORE_DOWN)
        stopped = second_engine("down")
    started(stopped)
    assert "requests refused from now on" in stopped.stdout and "state saved" in stopped.stdout, stopped.stdout
    assert set(traffic.refused) <= REFUSALS, traffic.refused

    started(second_engine("up"))
    items = {item["pk"]["S"] for item in scan_all(client("dynamodb"), table)}
    lost_items = set(traffic.acknowledged["item"] + traffic.acknowledged["invoke"]) - items
    assert not lost_items, f"{len(lost_items)} acknowledged items lost: {sorted(lost_items)[:5]}"
    for bucket, writer in ((uploads, "upload"), (written, "invoke")):
        lost = set(traffic.acknowledged[writer]) - object_keys(bucket)
        assert not lost, f"{len(lost)} acknowledged objects lost from {bucket}: {sorted(lost)[:5]}"
    # Every upload the engine kept gets its row (before the final snapshot, or queued in it
    # and indexed after the restart), and no row is without its upload.
    uploaded = object_keys(uploads)
    wait_for(lambda: row_keys(table) >= uploaded, timeout=120, what="a row for every upload")
    assert row_keys(table) == uploaded


def object_keys(bucket: str) -> set[str]:
    pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def row_keys(table: str) -> set[str]:
    pks = {item["pk"]["S"] for item in scan_all(client("dynamodb"), table)}
    return {pk.removeprefix("row#") for pk in pks if pk.startswith("row#")}


# Fails until the bucket holds an object named `allow`; tells the queue RESULTS either way.
FAILS_UNTIL_ALLOWED = (
    "import os, boto3\n\n"
    "def handler(event, context):\n"
    "    listed = boto3.client('s3').list_objects_v2(Bucket=os.environ['BUCKET'], Prefix='allow')\n"
    "    outcome = 'succeeded' if listed.get('KeyCount') else 'failed'\n"
    "    boto3.client('sqs').send_message(QueueUrl=os.environ['RESULTS'], MessageBody=f\"{outcome} {event['id']}\")\n"
    "    if outcome == 'failed':\n"
    "        raise RuntimeError('not allowed yet')\n"
)


# Lambda's first retry of a failed asynchronous invocation comes after this base delay
# (LocalStack's LAMBDA_RETRY_BASE_DELAY_SECONDS, a minute by default), the second after twice it.
RETRY_BASE_DELAY_S = 20


def test_an_asynchronous_invocation_waiting_for_its_retry_survives_down_and_up(tmp_path, engine):
    """Lambda retries a failed asynchronous invocation after a delay; its event queue is in
    memory only, so the retry waiting at `down` is saved with the snapshot. The function may
    succeed only once the engine is up again, so a success is a retry run after `up` (if the
    first retry came before `down`, the second was the one waiting)."""
    retry_delay = {"LAMBDA_RETRY_BASE_DELAY_SECONDS": str(RETRY_BASE_DELAY_S)}
    with second_engine_at(tmp_path / "state", **retry_delay) as second_engine:
        started(second_engine("up"))
        token = uuid.uuid4().hex[:8]
        sqs, s3 = client("sqs"), client("s3")
        results = sqs.create_queue(QueueName=f"results-{token}")["QueueUrl"]
        s3.create_bucket(Bucket=f"switch-{token}")
        environment = {"Variables": {"BUCKET": f"switch-{token}", "RESULTS": results}}
        create_function(
            f"retried-{token}",
            "python3.11",
            "index.handler",
            {"index.py": FAILS_UNTIL_ALLOWED},
            Environment=environment,
        )
        client("lambda").invoke(
            FunctionName=f"retried-{token}", InvocationType="Event", Payload=json.dumps({"id": token})
        )
        assert next_result(results) == f"failed {token}"

        started(second_engine("down"))
        started(second_engine("up"))
        client("s3").put_object(Bucket=f"switch-{token}", Key="allow", Body=b"")

        outcomes = []
        while not outcomes or outcomes[-1] != f"succeeded {token}":
            outcomes.append(next_result(client("sqs").get_queue_url(QueueName=f"results-{token}")["QueueUrl"]))
        assert set(outcomes) <= {f"failed {token}", f"succeeded {token}"} and len(outcomes) <= 2, outcomes


def next_result(queue_url: str) -> str:
    """The next message's body (a retry comes one or two retry delays after its failure)."""
    sqs = client("sqs")

    def probe():
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages and messages[0]["Body"]

    return wait_for(probe, timeout=180, interval=0, what=f"a result on {queue_url}")


# Says it started, takes a while, then writes its id as an item: an invocation in flight when
# intake stops, whose own calls must still be let in.
SLOW_WRITER = (
    "import os, time, boto3\n\n"
    "def handler(event, context):\n"
    "    boto3.client('sqs').send_message(QueueUrl=os.environ['STARTED'], MessageBody=event['id'])\n"
    "    time.sleep(3)\n"
    "    boto3.client('dynamodb').put_item(TableName=os.environ['TABLE'], Item={'pk': {'S': event['id']}})\n"
    "    return {'id': event['id']}\n"
)


def test_an_invocation_in_flight_when_down_starts_finishes_and_is_kept(second_engine):
    started(second_engine("up"))
    token = uuid.uuid4().hex[:8]
    client("dynamodb").create_table(
        TableName=f"slow-{token}",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    started_url = client("sqs").create_queue(QueueName=f"started-{token}")["QueueUrl"]
    environment = {"Variables": {"TABLE": f"slow-{token}", "STARTED": started_url}}
    create_function(f"slow-{token}", "python3.11", "index.handler", {"index.py": SLOW_WRITER}, Environment=environment)
    answers = []

    def invoke():
        response = client("lambda", attempts=1).invoke(FunctionName=f"slow-{token}", Payload=json.dumps({"id": token}))
        answers.append((response.get("FunctionError"), json.loads(response["Payload"].read())))

    caller = threading.Thread(target=invoke)
    caller.start()
    wait_for(
        lambda: client("sqs").receive_message(QueueUrl=started_url, WaitTimeSeconds=1).get("Messages"),
        timeout=60,
        interval=0,
        what="the invocation to start",
    )
    stopped = second_engine("down")
    caller.join()

    started(stopped)
    assert answers == [(None, {"id": token})]
    started(second_engine("up"))
    assert client("dynamodb").get_item(TableName=f"slow-{token}", Key={"pk": {"S": token}}).get("Item")
