"""The embedded engine runs Lambda without Docker: every path the stack relies on, proven
with one small probe function against the real engine over HTTP."""

import base64
import contextlib
import io
import json
import os
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.support.engine import ROOT, RUNTIME_INSTALL_TIMEOUT_S
from tests.support.waiting import function_logged, wait_for

PROBE_SOURCE = """
import json, os, time
import boto3

sqs = boto3.client("sqs")


def report(event):
    sqs.send_message(QueueUrl=os.environ["RESULTS_QUEUE_URL"], MessageBody=json.dumps(event))


def handler(event, context):
    print("probe got", json.dumps(event)[:200])
    if "httpMethod" in event:
        body = {"path": event["path"], "query": event.get("queryStringParameters"), "method": event["httpMethod"]}
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
    if "Records" in event:
        for record in event["Records"]:
            if record.get("body") == "poison":
                raise RuntimeError("poison message")
        report(event)
        return {"records": len(event["Records"])}
    action = event.get("action")
    if action == "fail":
        raise ValueError("the probe was asked to fail")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "report":
        report(event)
    if action == "imports":
        found = {}
        for name in ("boto3", "localstack", "plux", "moto"):
            try:
                __import__(name)
                found[name] = True
            except ImportError:
                found[name] = False
        return found
    if action == "aws":
        table = os.environ["TABLE"]
        boto3.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": event["key"]}})
        item = boto3.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": event["key"]}})["Item"]
        boto3.client("s3").put_object(Bucket=os.environ["BUCKET"], Key=event["key"], Body=b"from lambda")
        return {"item": item["pk"]["S"], "object": boto3.client("s3").get_object(
            Bucket=os.environ["BUCKET"], Key=event["key"])["Body"].read().decode()}
    return {
        "pid": os.getpid(),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": int(context.memory_limit_in_mb),
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "custom": os.environ.get("CUSTOM"),
    }
"""


def zipped(source: str, name: str = "probe.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def wait_active(lam, name: str) -> dict:
    """The function's configuration once it left Pending. The first function of a runtime
    waits while the engine installs that runtime (bounded by its install timeout)."""

    def settled():
        config = lam.get_function_configuration(FunctionName=name)
        return config if config["State"] != "Pending" else None

    return wait_for(settled, timeout=RUNTIME_INSTALL_TIMEOUT_S + 30, interval=0.1, what=f"{name} to leave Pending")


@contextlib.contextmanager
def recorder_function(lam, prefix: str, source: str, timeout: int = 10):
    """A Python 3.11 function `<prefix>-<random>` whose module `recorder` is `source`, active
    for the block, then deleted."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="recorder.handler",
        Timeout=timeout,
        Role="arn:aws:iam::000000000000:role/recorder",
        Code={"ZipFile": zipped(source, "recorder.py")},
    )
    assert wait_active(lam, name)["State"] == "Active"
    try:
        yield name
    finally:
        lam.delete_function(FunctionName=name)


def receive(sqs, queue_url: str, predicate, timeout: float = 30) -> dict:
    """First message on the queue for which predicate(body) holds."""

    def matching():
        for message in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if predicate(json.loads(message["Body"])):
                return message
        return None

    return wait_for(matching, timeout=timeout, interval=0, what=f"a matching message on {queue_url}")


@pytest.fixture(scope="module")
def aws(engine):
    return {name: boto3.client(name) for name in ("lambda", "sqs", "sns", "s3", "dynamodb", "logs", "apigateway")}


@pytest.fixture(scope="module")
def probe(aws):
    """The probe function, its results queue, a table and a bucket it may use."""
    suffix = uuid.uuid4().hex[:8]
    name = f"probe-{suffix}"
    results = aws["sqs"].create_queue(QueueName=f"probe-results-{suffix}")["QueueUrl"]
    table, bucket = f"probe-{suffix}", f"probe-{suffix}"
    aws["dynamodb"].create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    aws["s3"].create_bucket(Bucket=bucket)
    config = aws["lambda"].create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="probe.handler",
        Timeout=3,
        MemorySize=256,
        Role="arn:aws:iam::000000000000:role/probe",
        Code={"ZipFile": zipped(PROBE_SOURCE)},
        Environment={"Variables": {"RESULTS_QUEUE_URL": results, "TABLE": table, "BUCKET": bucket, "CUSTOM": "yes"}},
    )
    assert wait_active(aws["lambda"], name)["State"] == "Active"
    yield {"name": name, "arn": config["FunctionArn"], "results": results, "table": table, "bucket": bucket}
    aws["lambda"].delete_function(FunctionName=name)


def invoke(aws, probe, payload: dict, **kwargs) -> tuple[dict, dict]:
    response = aws["lambda"].invoke(FunctionName=probe["name"], Payload=json.dumps(payload), **kwargs)
    return response, json.loads(response["Payload"].read() or b"null")


def test_sync_invoke_gives_a_real_context_and_the_functions_environment(aws, probe):
    response, result = invoke(aws, probe, {})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert result["function_name"] == probe["name"]
    assert result["function_version"] == "$LATEST"
    assert result["invoked_function_arn"] == probe["arn"]
    assert result["memory_limit_in_mb"] == 256
    assert uuid.UUID(result["aws_request_id"])
    assert result["log_group_name"] == f"/aws/lambda/{probe['name']}"
    assert probe["name"] in result["log_stream_name"] or result["log_stream_name"]
    assert 0 < result["remaining_ms"] <= 3000
    assert result["endpoint"].startswith("http://") and result["custom"] == "yes"


def test_warm_invokes_reuse_the_worker_process(aws, probe):
    pids = {invoke(aws, probe, {})[1]["pid"] for _ in range(5)}
    assert len(pids) == 1


def test_event_invoke_runs_asynchronously(aws, probe):
    marker = uuid.uuid4().hex
    response = aws["lambda"].invoke(
        FunctionName=probe["name"], InvocationType="Event", Payload=json.dumps({"action": "report", "marker": marker})
    )
    assert response["StatusCode"] == 202
    receive(aws["sqs"], probe["results"], lambda body: body.get("marker") == marker)


def test_errors_have_the_aws_shape_without_executor_frames(aws, probe):
    response, error = invoke(aws, probe, {"action": "fail"})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "the probe was asked to fail"
    assert any("probe.py" in frame for frame in error["stackTrace"])
    assert not any("localstack_nodocker" in frame for frame in error["stackTrace"])


def test_timeout_kills_the_handler_and_the_next_invoke_works(aws, probe):
    started = time.monotonic()
    response, error = invoke(aws, probe, {"action": "sleep", "seconds": 30}, LogType="Tail")
    assert time.monotonic() - started < 10
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 3.00 seconds" in error["errorMessage"]
    assert "Task timed out" in base64.b64decode(response["LogResult"]).decode()
    response, result = invoke(aws, probe, {})
    assert "FunctionError" not in response and result["function_name"] == probe["name"]


def test_a_function_that_cannot_start_is_named_in_the_engines_log(aws):
    """Through API Gateway its caller sees only a 502: the engine's log (make logs) names the
    function, the error and where its traceback is."""
    engine_log = Path(os.environ.get("LOCALSTACK_STATE_DIR", ROOT / ".localstack")) / "logs" / "localstack.log"
    if not engine_log.exists():
        pytest.skip(f"no engine log at {engine_log}: the engine was not started from this checkout")
    broken = "def handler(event, context)\n    return 1\n"
    with recorder_function(aws["lambda"], "probe-broken", broken) as name:
        response = aws["lambda"].invoke(FunctionName=name, Payload=b"{}")
        assert json.loads(response["Payload"].read())["errorType"] == "Runtime.UserCodeSyntaxError"

        def logged_line():
            return next((line for line in engine_log.open() if name in line and "UserCodeSyntaxError" in line), None)

        line = wait_for(logged_line, timeout=10, interval=0.2, what=f"a line about {name} in {engine_log}")
        assert f"/aws/lambda/{name}" in line and "recorder.py, line 1" in line


def test_logs_reach_tail_and_the_functions_log_group(aws, probe):
    marker = uuid.uuid4().hex
    response, _ = invoke(aws, probe, {"marker": marker}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert marker in tail and "START RequestId" in tail and "REPORT RequestId" in tail
    function_logged(aws["logs"], probe["name"], marker, what="the handler's output to reach CloudWatch Logs")


def test_handler_calls_dynamodb_and_s3_back_through_boto3(aws, probe):
    _, result = invoke(aws, probe, {"action": "aws", "key": "round-trip"})
    assert result == {"item": "round-trip", "object": "from lambda"}


def test_handlers_get_boto3_but_not_the_engines_packages(aws, probe):
    _, found = invoke(aws, probe, {"action": "imports"})
    assert found == {"boto3": True, "localstack": False, "plux": False, "moto": False}


def test_s3_object_created_triggers_the_function(aws, probe):
    aws["lambda"].add_permission(
        FunctionName=probe["name"], StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com"
    )
    aws["s3"].put_bucket_notification_configuration(
        Bucket=probe["bucket"],
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": probe["arn"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                }
            ]
        },
    )
    aws["s3"].put_object(Bucket=probe["bucket"], Key="uploads/photo 1.jpg", Body=b"x")
    message = receive(aws["sqs"], probe["results"], lambda body: "Records" in body and "s3" in body["Records"][0])
    record = json.loads(message["Body"])["Records"][0]
    assert record["eventName"].startswith("ObjectCreated")
    # URL-encoded as in AWS (LocalStack writes %20 where AWS writes +; unquote_plus reads both)
    assert urllib.parse.unquote_plus(record["s3"]["object"]["key"]) == "uploads/photo 1.jpg"


def test_sqs_mapping_delivers_and_dead_letters_a_failing_message(aws, probe):
    sqs = aws["sqs"]
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"probe-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = sqs.create_queue(
        QueueName=f"probe-source-{suffix}",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = aws["lambda"].create_event_source_mapping(
        FunctionName=probe["name"], EventSourceArn=source_arn, BatchSize=1
    )["UUID"]
    try:
        sqs.send_message(QueueUrl=source, MessageBody="good")
        sqs.send_message(QueueUrl=source, MessageBody="poison")
        receive(sqs, probe["results"], lambda body: body.get("Records", [{}])[0].get("body") == "good")
        dead = wait_for(
            lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, AttributeNames=["All"]).get("Messages"),
            timeout=60,
            interval=0,
            what="the poison message to reach the dead-letter queue",
        )[0]
        assert dead["Body"] == "poison"
        assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 2
    finally:
        aws["lambda"].delete_event_source_mapping(UUID=mapping)


def test_sns_delivers_to_lambda_and_to_sqs_with_message_attributes(aws, probe):
    sns, sqs = aws["sns"], aws["sqs"]
    suffix = uuid.uuid4().hex[:8]
    topic = sns.create_topic(Name=f"probe-topic-{suffix}")["TopicArn"]
    aws["lambda"].add_permission(
        FunctionName=probe["name"],
        StatementId=f"sns-{suffix}",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=probe["arn"])
    subscriber = sqs.create_queue(QueueName=f"probe-subscriber-{suffix}")["QueueUrl"]
    subscriber_arn = sqs.get_queue_attributes(QueueUrl=subscriber, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=subscriber_arn)
    sns.publish(
        TopicArn=topic,
        Message="hello",
        Subject="[HIGH] probe",
        MessageAttributes={"priority": {"DataType": "String", "StringValue": "high"}},
    )
    via_lambda = receive(
        sqs, probe["results"], lambda body: body.get("Records", [{}])[0].get("EventSource") == "aws:sns"
    )
    sns_record = json.loads(via_lambda["Body"])["Records"][0]["Sns"]
    assert sns_record["Subject"] == "[HIGH] probe"
    assert sns_record["MessageAttributes"]["priority"]["Value"] == "high"
    envelope = json.loads(receive(sqs, subscriber, lambda body: True)["Body"])
    assert envelope["Message"] == "hello" and envelope["Subject"] == "[HIGH] probe"
    assert envelope["MessageAttributes"]["priority"]["Value"] == "high"


def create_proxy_api(apigw, function_arn: str) -> str:
    """A REST API whose every path goes to the function (Lambda proxy integration), deployed
    as stage "test"; its id."""
    api = apigw.create_rest_api(name=f"probe-api-{uuid.uuid4().hex[:6]}")["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/")
    proxy = apigw.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    apigw.put_method(restApiId=api, resourceId=proxy, httpMethod="ANY", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api,
        resourceId=proxy,
        httpMethod="ANY",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations",
    )
    apigw.create_deployment(restApiId=api, stageName="test")
    return api


def test_api_gateway_proxy_reaches_the_function(aws, probe, engine):
    apigw = aws["apigateway"]
    api = create_proxy_api(apigw, probe["arn"])
    # the current path form, and the deprecated one that older projects still use
    for base in (f"{engine}/_aws/execute-api/{api}/test", f"{engine}/restapis/{api}/test/_user_request_"):
        with urllib.request.urlopen(f"{base}/hello/world?x=1", timeout=30) as response:
            body = json.loads(response.read())
        assert body == {"path": "/hello/world", "query": {"x": "1"}, "method": "GET"}, base
    apigw.delete_rest_api(restApiId=api)


def test_a_runtime_the_engine_cannot_run_fails_with_a_clear_reason(aws):
    name = f"probe-ruby-{uuid.uuid4().hex[:6]}"
    aws["lambda"].create_function(
        FunctionName=name,
        Runtime="ruby3.3",
        Handler="index.handler",
        Role="arn:aws:iam::000000000000:role/probe",
        Code={"ZipFile": zipped("def handler; end", "index.rb")},
    )
    try:
        config = wait_active(aws["lambda"], name)
        assert config["State"] == "Failed"
        assert "ruby3.3" in config["StateReason"] and "nodejs20.x" in config["StateReason"]
        assert "Docker" in config["StateReason"]
    finally:
        # a function whose creation failed can be deleted, at the first attempt
        no_retries = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))
        no_retries.delete_function(FunctionName=name)
        with pytest.raises(no_retries.exceptions.ResourceNotFoundException):
            no_retries.get_function(FunctionName=name)
