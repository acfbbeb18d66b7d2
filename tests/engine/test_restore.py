"""`up` on a saved state: requests wait until it is loaded, and one resource that cannot be
restored (a dangling reference) is reported while the rest
starts. On a second engine (own port and state folder); everything is checked over HTTP."""

import json
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.support.second_engine import (
    client,
    create_function,
    second_engine_at,
    started,
    state_document,
    stream_table,
    zipped,
)
from tests.support.waiting import wait_for

# Sends every event it gets to the queue RESULTS names.
RECORDER = (
    "import json, os, boto3\n\n"
    "def handler(event, context):\n"
    "    boto3.client('sqs').send_message(QueueUrl=os.environ['RESULTS'], MessageBody=json.dumps(event))\n"
)
LAYERED = "import shared\n\ndef handler(event, context):\n    return {'answer': shared.ANSWER}\n"


@pytest.fixture
def second_engine(tmp_path, engine):
    with second_engine_at(tmp_path / "state") as run:
        yield run


def queue(name: str) -> tuple[str, str]:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def received(queue_url: str, token: str, timeout: float = 60) -> str:
    """The first message body on the queue that contains `token`."""

    def probe():
        messages = client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return next((m["Body"] for m in messages.get("Messages", []) if token in m["Body"]), None)

    return wait_for(probe, timeout=timeout, interval=0, what=f"{token} on {queue_url}")


def recorder(name: str, results_url: str) -> str:
    return create_function(
        name,
        "python3.11",
        "index.handler",
        {"index.py": RECORDER},
        Environment={"Variables": {"RESULTS": results_url}},
    )


def test_dangling_references_of_every_kind_leave_the_rest_restored(second_engine):
    started(second_engine("up"))
    token = uuid.uuid4().hex[:8]
    lambda_, sns, events = client("lambda"), client("sns"), client("events")
    results_url, results_arn = queue(f"results-{token}")
    keeper = f"keeper-{token}"
    keeper_arn = recorder(keeper, results_url)

    # event source mappings whose function is deleted (DeleteFunction leaves them), from an
    # SQS queue and from a DynamoDB stream, and one whose queue is deleted: LocalStack cannot
    # start them again; one that stays whole
    doomed = {}
    for kind, source_arn in (
        ("sqs", queue(f"orphan-{token}")[1]),
        ("stream", stream_table(f"orphan-{token}")["LatestStreamArn"]),
    ):
        name = f"doomed-{kind}-{token}"
        recorder(name, results_url)
        options = {"StartingPosition": "TRIM_HORIZON"} if kind == "stream" else {}
        doomed[kind] = lambda_.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn, **options)[
            "UUID"
        ]
        lambda_.delete_function(FunctionName=name)
    gone_url, gone_arn = queue(f"gone-{token}")
    doomed["queue"] = lambda_.create_event_source_mapping(FunctionName=keeper, EventSourceArn=gone_arn)["UUID"]
    client("sqs").delete_queue(QueueUrl=gone_url)
    kept_url, kept_arn = queue(f"kept-{token}")
    kept_mapping = lambda_.create_event_source_mapping(FunctionName=keeper, EventSourceArn=kept_arn, BatchSize=1)[
        "UUID"
    ]

    # a permission naming a rule that is deleted
    events.put_rule(Name=f"gone-{token}", EventPattern=json.dumps({"source": [f"gone.{token}"]}))
    rule_arn = events.describe_rule(Name=f"gone-{token}")["Arn"]
    lambda_.add_permission(
        FunctionName=keeper,
        StatementId=f"from-gone-{token}",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    events.delete_rule(Name=f"gone-{token}")

    # subscriptions to a deleted queue and a deleted function, beside a live one
    topic = sns.create_topic(Name=f"topic-{token}")["TopicArn"]
    sub_gone_url, sub_gone_arn = queue(f"sub-gone-{token}")
    sub_kept_url, sub_kept_arn = queue(f"sub-kept-{token}")
    doomed_sns_arn = recorder(f"doomed-sns-{token}", results_url)
    for protocol, endpoint in (("sqs", sub_gone_arn), ("lambda", doomed_sns_arn), ("sqs", sub_kept_arn)):
        sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint)
    client("sqs").delete_queue(QueueUrl=sub_gone_url)
    lambda_.delete_function(FunctionName=f"doomed-sns-{token}")

    # a rule whose targets are a deleted function and a live queue
    rule_kept_url, rule_kept_arn = queue(f"rule-kept-{token}")
    doomed_rule_arn = recorder(f"doomed-rule-{token}", results_url)
    events.put_rule(Name=f"rule-{token}", EventPattern=json.dumps({"source": [f"test.{token}"]}))
    events.put_targets(
        Rule=f"rule-{token}", Targets=[{"Id": "gone", "Arn": doomed_rule_arn}, {"Id": "kept", "Arn": rule_kept_arn}]
    )
    lambda_.delete_function(FunctionName=f"doomed-rule-{token}")

    # a function using a layer version that is deleted (AWS keeps the code with the function)
    layer = lambda_.publish_layer_version(
        LayerName=f"layer-{token}",
        Content={"ZipFile": zipped({"python/shared.py": f"ANSWER = {token!r}\n"})},
        CompatibleRuntimes=["python3.11"],
    )
    layered = f"layered-{token}"
    create_function(layered, "python3.11", "index.handler", {"index.py": LAYERED}, Layers=[layer["LayerVersionArn"]])
    lambda_.delete_layer_version(LayerName=f"layer-{token}", VersionNumber=layer["Version"])

    started(second_engine("down"))
    restarted = second_engine("up")

    started(restarted)
    problems = {problem["resource"].split()[3]: problem["reason"] for problem in state_document()["not_restored"]}
    assert set(problems) == set(doomed.values()), problems
    assert "Function not found" in problems[doomed["sqs"]] and "Function not found" in problems[doomed["stream"]]
    assert "queue does not exist" in problems[doomed["queue"]]
    for uuid_ in doomed.values():
        assert uuid_ in restarted.stdout, restarted.stdout
    assert "could not be restored" in restarted.stdout
    assert all(uuid_ in second_engine("status").stdout for uuid_ in doomed.values())
    mappings = {mapping["UUID"] for mapping in lambda_.list_event_source_mappings()["EventSourceMappings"]}
    assert not set(doomed.values()) & mappings and kept_mapping in mappings

    client("sqs").send_message(QueueUrl=kept_url, MessageBody=f"mapped {token}")
    received(results_url, f"mapped {token}")
    sns.publish(TopicArn=topic, Message=f"published {token}")
    received(sub_kept_url, f"published {token}")
    assert len(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 3
    events.put_events(Entries=[{"Source": f"test.{token}", "DetailType": "probe", "Detail": json.dumps({"n": token})}])
    received(rule_kept_url, token)
    assert json.loads(lambda_.invoke(FunctionName=layered)["Payload"].read()) == {"answer": token}
    statements = json.loads(lambda_.get_policy(FunctionName=keeper)["Policy"])["Statement"]
    assert [statement["Sid"] for statement in statements] == [f"from-gone-{token}"]

    # the dropped mappings were not saved again: the next restart restores everything
    started(second_engine("down"))
    started(again := second_engine("up"))
    assert state_document()["not_restored"] == [] and "could not be restored" not in again.stdout
    assert keeper_arn in {f["FunctionArn"] for f in lambda_.list_functions()["Functions"]}


def test_requests_wait_until_the_saved_state_is_loaded(second_engine):
    """During `up`, an object of the saved state is either refused (503, Retry-After) or
    there: never missing, as it was while the engine still loaded."""
    started(second_engine("up"))
    bucket = f"loading-{uuid.uuid4().hex[:8]}"
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="saved", Body=b"saved")
    client("sqs").create_queue(QueueName=bucket)  # more services to load: a longer window
    create_function(bucket, "python3.11", "index.handler", {"index.py": "def handler(e, c):\n    return 1\n"})
    started(second_engine("down"))

    answers, stop = [], threading.Event()

    def read_while_starting():
        reader = client("s3", attempts=1)
        while not stop.is_set():
            try:
                answers.append(("ok", reader.get_object(Bucket=bucket, Key="saved")["Body"].read()))
            except EndpointConnectionError:
                time.sleep(0.01)  # not listening yet
            except ClientError as exc:
                answers.append((exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response))

    reader = threading.Thread(target=read_while_starting)
    reader.start()
    try:
        started(second_engine("up"))
    finally:
        stop.set()
        reader.join()

    refused = [response for status, response in answers if status == 503]
    assert refused, f"no answer while the state loaded: {answers[:3]}"
    assert all(response["ResponseMetadata"]["HTTPHeaders"].get("retry-after") for response in refused)
    assert all(answer == ("ok", b"saved") for answer in answers if answer[0] != 503), answers
