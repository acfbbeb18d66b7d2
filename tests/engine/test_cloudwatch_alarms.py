"""A CloudWatch alarm on a function's `Errors` metric, set up and read with the current AWS CLI
v1 (awscli 1.46: botocore sends CloudWatch's JSON protocol, the first it supports of the
model's list) and read in smithy-rpc-v2-cbor (what the AWS CLI v2 and the SDKs for JavaScript
v3 and Java v2 send): the function's failed invocations move the alarms whose threshold they
reach to ALARM, which notifies their SNS topic, and a queue subscribed to the topic gets each
notification; an alarm whose threshold they do not reach is evaluated to OK and notifies nothing."""

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest

from tests.engine.test_lambda_paths import recorder_function
from tests.support.cloudwatch import cbor_cloudwatch_client
from tests.support.waiting import wait_for

AWS_CLI = Path(sys.executable).with_name("aws")
FAILING_SOURCE = """
def handler(event, context):
    raise RuntimeError(f"failure {event['attempt']}")
"""
ERRORS = 3
# LocalStack evaluates an alarm when it is put and then every period, over the last ones: the
# errors are recorded first, so that the first evaluation sees them; a minute keeps them in the
# window of the next evaluations too, however late a busy machine runs them.
PERIOD_S = 60
# name -> (statistic, comparison, threshold, state the errors lead to)
ALARMS = {
    "sum-reached": ("Sum", "GreaterThanOrEqualToThreshold", ERRORS, "ALARM"),
    "maximum-reached": ("Maximum", "GreaterThanOrEqualToThreshold", 1, "ALARM"),
    "sum-not-reached": ("Sum", "GreaterThanThreshold", 50, "OK"),
}


def aws_cli(*arguments: str) -> dict:
    """The CLI's answer."""
    done = subprocess.run([str(AWS_CLI), *arguments, "--output", "json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout) if done.stdout.strip() else {}


@pytest.fixture(scope="module")
def aws(engine):
    return {name: boto3.client(name) for name in ("lambda", "sns", "sqs", "cloudwatch")}


@pytest.fixture
def subscribed_queue(aws):
    """A topic and a queue subscribed to it: (topic ARN, queue URL)."""
    name = f"alarms-{uuid.uuid4().hex[:8]}"
    topic = aws["sns"].create_topic(Name=name)["TopicArn"]
    queue = aws["sqs"].create_queue(QueueName=name)["QueueUrl"]
    queue_arn = aws["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    yield topic, queue
    aws["sns"].delete_topic(TopicArn=topic)
    aws["sqs"].delete_queue(QueueUrl=queue)


def errors_recorded(cloudwatch, function: str) -> float:
    """The function's `Errors` over the last periods, as the alarms read them."""
    now = time.time()
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=now - 3 * PERIOD_S,
        EndTime=now + PERIOD_S,
        Period=PERIOD_S,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in points)


def alarm_states(cloudwatch, names: list[str]) -> dict[str, str]:
    found = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    return {alarm["AlarmName"]: alarm["StateValue"] for alarm in found}


def test_errors_of_a_function_raise_its_alarm_and_notify_the_topic(aws, subscribed_queue):
    topic, queue = subscribed_queue
    with recorder_function(aws["lambda"], "alarmed", FAILING_SOURCE) as function:
        for attempt in range(ERRORS):
            response = aws["lambda"].invoke(FunctionName=function, Payload=json.dumps({"attempt": attempt}))
            assert response.get("FunctionError") == "Unhandled"
        wait_for(
            lambda: errors_recorded(aws["cloudwatch"], function) == ERRORS,
            timeout=PERIOD_S,
            what=f"{ERRORS} errors of {function}",
        )

        # The first alarm through the CLI, the others (and the polling) through boto3, the same
        # protocol: each CLI call is a new process, seconds on a busy machine.
        names = {key: f"{function}-{key}" for key in ALARMS}
        for key, (statistic, comparison, threshold, _) in ALARMS.items():
            alarm = {
                "alarm-name": names[key],
                "namespace": "AWS/Lambda",
                "metric-name": "Errors",
                "statistic": statistic,
                "comparison-operator": comparison,
                "threshold": threshold,
                "period": PERIOD_S,
                "evaluation-periods": 1,
                "alarm-actions": [topic],
            }
            if key == "sum-reached":
                options = [
                    f"--{name}={value[0] if isinstance(value, list) else value}" for name, value in alarm.items()
                ]
                aws_cli("cloudwatch", "put-metric-alarm", *options, f"--dimensions=Name=FunctionName,Value={function}")
            else:
                aws["cloudwatch"].put_metric_alarm(
                    **{"".join(part.title() for part in name.split("-")): value for name, value in alarm.items()},
                    Dimensions=[{"Name": "FunctionName", "Value": function}],
                )
        expected = {names[key]: state for key, (*_, state) in ALARMS.items()}
        wait_for(
            lambda: alarm_states(aws["cloudwatch"], list(expected)) == expected,
            timeout=3 * PERIOD_S,
            interval=2,
            what=f"states {expected}",
        )
        read_by_cli = aws_cli("cloudwatch", "describe-alarms", "--alarm-names", *expected)["MetricAlarms"]
        assert {alarm["AlarmName"]: alarm["StateValue"] for alarm in read_by_cli} == expected

        # each alarm that reached ALARM notified the topic once, with what it measured
        raised = {names[key] for key, (*_, state) in ALARMS.items() if state == "ALARM"}
        notified = {}

        def notifications_arrived() -> bool:
            for received in (
                aws["sqs"]
                .receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                .get("Messages", [])
            ):
                message = json.loads(json.loads(received["Body"])["Message"])
                assert message["AlarmName"] in raised, message
                assert message["AlarmName"] not in notified, f"notified twice: {message}"
                notified[message["AlarmName"]] = message
                aws["sqs"].delete_message(QueueUrl=queue, ReceiptHandle=received["ReceiptHandle"])
            return set(notified) == raised

        wait_for(notifications_arrived, timeout=PERIOD_S, interval=0, what=f"a notification of each of {raised}")
        for message in notified.values():
            assert message["NewStateValue"] == "ALARM"
            assert message["Trigger"]["MetricName"] == "Errors"
            assert message["Trigger"]["Namespace"] == "AWS/Lambda"
            assert message["Trigger"]["Dimensions"] == [{"name": "FunctionName", "value": function}]

        # the same alarms and their history read in CBOR
        cbor = cbor_cloudwatch_client()
        found = cbor.describe_alarms(AlarmNames=list(expected))["MetricAlarms"]
        assert {alarm["AlarmName"]: alarm["StateValue"] for alarm in found} == expected
        history = cbor.describe_alarm_history(AlarmName=names["sum-reached"], HistoryItemType="StateUpdate")
        assert any(
            json.loads(item["HistoryData"])["newState"]["stateValue"] == "ALARM"
            for item in history["AlarmHistoryItems"]
        )
        aws["cloudwatch"].delete_alarms(AlarmNames=list(names.values()))
