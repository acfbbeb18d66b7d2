"""CloudWatch Logs on the engine (engine/localstack_nodocker/logs.py, filter_patterns.py): filter
patterns match as AWS documents them in FilterLogEvents, TestMetricFilter and metric filters;
patterns AWS refuses are answered InvalidParameterException; a log group's retention drops
its expired events; log groups are described without a copy of every event held."""

import json
import subprocess
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.cloudwatch import cloudwatch_client
from tests.support.engine import ENGINE_PYTHON
from tests.support.waiting import wait_for

TEXT = ["ERROR WARN message", "ERROR message", "WARN message", "[ERROR 400] BAD REQUEST", "Exiting with ERRORCODE: -1"]
JSON_EVENTS = [
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
        "latency": 50,
    },
    {"eventType": "PutEvent", "sourceIPAddress": "123.123.0.7", "latency": 1500, "ThisFlag": False, "user": {"id": 7}},
]
ACCESS = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /index.html HTTP/1.0" 404 5324',
    '10.0.0.9 - anna [10/Oct/2000:13:50:35 -0700] "POST /form.html HTTP/1.0" 403 512',
]
MESSAGES = TEXT + [json.dumps(event) for event in JSON_EVENTS] + ACCESS
J0, J1 = json.dumps(JSON_EVENTS[0]), json.dumps(JSON_EVENTS[1])

# pattern -> the messages it matches (AWS's documented examples, and more of each kind)
CASES = {
    "": MESSAGES,
    "ERROR": [TEXT[0], TEXT[1], TEXT[3], TEXT[4]],
    "?ERROR ?WARN": TEXT[:5],
    "ERROR WARN": [TEXT[0]],
    "ERROR -WARN": [TEXT[1], TEXT[3], TEXT[4]],
    '"ERROR" - "Exiting"': [TEXT[0], TEXT[1], TEXT[3]],
    '"ERROR message"': [TEXT[1]],
    '"BAD REQUEST" ?400 ?401': [TEXT[3]],
    "error": [],
    "%^WARN%": [TEXT[2]],
    "%ERRORCODE:.-[0-9]%": [TEXT[4]],
    '{ $.eventType = "UpdateTrail" }': [J0],
    "{ $.eventType = *Event }": [J1],
    "{ $.eventType = Update* }": [J0],
    "{ $.sourceIPAddress != 123.123.* }": [J0],
    '{ $.arrayKey[0] = "value" }': [J0],
    "{ $.objectList[1].id = 2 }": [J0],
    "{ $.objectList = 2 }": [],
    "{ $.SomeObject IS NULL }": [J0],
    "{ $.SomeOtherObject NOT EXISTS }": [J0, J1],
    "{ $.user NOT EXISTS }": [J0],
    "{ $.ThisFlag IS TRUE }": [J0],
    "{ $.ThisFlag IS FALSE }": [J1],
    "{ $.latency >= 500 }": [J1],
    "{ $.latency < 1e2 }": [J0],
    "{ $.latency != 50 }": [J1],
    "{ $.latency = * }": [J0, J1],
    "{ $.latency > 10 && $.eventType = Put* }": [J1],
    "{ $.user.id = 7 || $.objectList[0].name = a }": [J0, J1],
    "{ ($.latency > 100 || $.ThisFlag IS TRUE) && $.sourceIPAddress = 111.* }": [J0],
    "{ $.eventType = %^Upd.*il$% }": [J0],
    "[ip, user, username, timestamp, request, status_code, bytes]": ACCESS,
    "[ip, user, username, timestamp, request, status_code = 200, bytes]": [ACCESS[0]],
    "[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]": ACCESS[1:],
    "[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]": ACCESS[1:],
    "[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes > 1000]": [ACCESS[1]],
    "[..., status_code, bytes < 1000]": [TEXT[4], ACCESS[2]],
    "[ip = 10.*, ...]": [ACCESS[2]],
    "[..., request = *.html*, status_code = 4*,]": ACCESS[1:],
    "[ip, user, username = %^fr%, ...]": ACCESS[:2],
    "[w1=ERROR, w2]": [TEXT[1]],
    "[w1=ERROR || w1=WARN, w2]": [TEXT[1], TEXT[2]],
    "[w1, w2]": [TEXT[1], TEXT[2]],
}

REFUSED = [
    "{ $.latency = }",
    "{ $.latency > fast }",
    "{ latency = 5 }",
    "{ $.eventType = UpdateTrail",
    "{ $.a IS MAYBE }",
    '"unbalanced',
    "%something!%",
    "%(ERROR)%",
    "%ERRORCODE: -1%",
    "[a, b = 1 && c = 2]",
    "[ip, ... = 4]",
    "{ $.a = %a% || $.b = %b% || $.c = %c% }",
]


@pytest.fixture(scope="module")
def logs(engine):
    return boto3.client("logs")


@pytest.fixture(scope="module")
def group(logs):
    """A log group holding MESSAGES in one stream, in this order."""
    name = f"/test/filters-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    now = int(time.time() * 1000)
    events = [{"timestamp": now + index, "message": message} for index, message in enumerate(MESSAGES)]
    logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=events)
    yield name
    logs.delete_log_group(logGroupName=name)


def filtered(logs, group: str, pattern: str) -> list[str]:
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, filterPattern=pattern)
    return [event["message"] for page in pages for event in page["events"]]


def test_filter_log_events_matches_each_pattern_as_aws_documents(logs, group):
    mismatched = {}
    for pattern, expected in CASES.items():
        found = filtered(logs, group, pattern)
        if found != expected:
            mismatched[pattern] = {"expected": expected, "found": found}
    assert not mismatched, json.dumps(mismatched, indent=1)


def test_test_metric_filter_answers_the_matches_and_their_fields(logs):
    answer = logs.test_metric_filter(
        filterPattern="[ip, user, username, timestamp, request, status_code = 4*, bytes]", logEventMessages=ACCESS
    )
    assert [match["eventNumber"] for match in answer["matches"]] == [2, 3]
    assert answer["matches"][0]["extractedValues"]["$status_code"] == "404"
    assert answer["matches"][0]["extractedValues"]["$request"] == "GET /index.html HTTP/1.0"
    assert answer["matches"][1]["extractedValues"]["$7"] == "512"
    assert (
        logs.test_metric_filter(filterPattern="{ $.latency > 100 }", logEventMessages=MESSAGES)["matches"][0][
            "eventMessage"
        ]
        == J1
    )


@pytest.mark.parametrize("pattern", REFUSED)
def test_a_pattern_aws_refuses_is_answered_with_the_reason(logs, group, pattern):
    for call in (
        lambda: logs.filter_log_events(logGroupName=group, filterPattern=pattern),
        lambda: logs.test_metric_filter(filterPattern=pattern, logEventMessages=["x"]),
        lambda: logs.put_metric_filter(
            logGroupName=group,
            filterName="refused",
            filterPattern=pattern,
            metricTransformations=[{"metricName": "m", "metricNamespace": "Test/Refused", "metricValue": "1"}],
        ),
        lambda: logs.put_subscription_filter(
            logGroupName=group,
            filterName="refused",
            filterPattern=pattern,
            destinationArn="arn:aws:lambda:us-east-1:000000000000:function:refused",
        ),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
        assert "filter pattern" in refused.value.response["Error"]["Message"]
    assert not logs.describe_metric_filters(logGroupName=group, filterNamePrefix="refused")["metricFilters"]
    assert not logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]


def test_a_metric_filter_publishes_its_own_groups_matches_with_the_values_read(logs):
    namespace = f"Test/MetricFilter/{uuid.uuid4().hex[:8]}"
    groups = [f"/test/metric-filter-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in groups:
        logs.create_log_group(logGroupName=name)
        logs.create_log_stream(logGroupName=name, logStreamName="s")
    try:
        logs.put_metric_filter(
            logGroupName=groups[0],
            filterName="slow",
            filterPattern="{ $.latency > 100 }",
            metricTransformations=[
                {
                    "metricName": "Latency",
                    "metricNamespace": namespace,
                    "metricValue": "$.latency",
                    "unit": "Milliseconds",
                    "dimensions": {"EventType": "$.eventType"},
                }
            ],
        )
        # a filter matching none of the events publishes its default value, once per batch
        logs.put_metric_filter(
            logGroupName=groups[1],
            filterName="none",
            filterPattern="{ $.latency > 100000 }",
            metricTransformations=[
                {"metricName": "Unmatched", "metricNamespace": namespace, "metricValue": "1", "defaultValue": 0}
            ],
        )
        now = int(time.time() * 1000)
        events = [{"timestamp": now + index, "message": message} for index, message in enumerate(MESSAGES)]
        for name in groups:  # the same events in both: only the filter's own group counts
            logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=events)
        cloudwatch = cloudwatch_client()

        def published():
            found = cloudwatch.get_metric_statistics(
                Namespace=namespace,
                MetricName="Latency",
                Dimensions=[{"Name": "EventType", "Value": "PutEvent"}],
                StartTime=(now // 1000) - 3600,
                EndTime=(now // 1000) + 3600,
                Period=3600,
                Statistics=["SampleCount", "Sum"],
            )["Datapoints"]
            return found or None

        datapoints = wait_for(published, timeout=10, what="the metric filter's datapoint")
        assert [(point["SampleCount"], point["Sum"], point["Unit"]) for point in datapoints] == [
            (1.0, 1500.0, "Milliseconds")
        ]
        unmatched = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName="Unmatched",
            StartTime=(now // 1000) - 3600,
            EndTime=(now // 1000) + 3600,
            Period=3600,
            Statistics=["SampleCount", "Sum"],
        )["Datapoints"]
        assert [(point["SampleCount"], point["Sum"]) for point in unmatched] == [(1.0, 0.0)]
    finally:
        for name in groups:
            logs.delete_log_group(logGroupName=name)


def test_retention_drops_the_events_older_than_the_groups_retention(logs):
    kept_forever, expiring = (f"/test/retention-{uuid.uuid4().hex[:8]}" for _ in range(2))
    now = int(time.time() * 1000)
    # three requests, the expired event between two others in the stream
    batches = [(now - 43_200_000, "half a day old"), (now - 2 * 86_400_000, "2 days old"), (now, "0 days old")]
    try:
        for name in (kept_forever, expiring):
            logs.create_log_group(logGroupName=name)
            logs.create_log_stream(logGroupName=name, logStreamName="s")
            for stamp, message in batches:
                logs.put_log_events(
                    logGroupName=name, logStreamName="s", logEvents=[{"timestamp": stamp, "message": message}]
                )
        logs.put_retention_policy(logGroupName=expiring, retentionInDays=1)
        assert filtered(logs, kept_forever, "") == ["2 days old", "half a day old", "0 days old"]
        assert filtered(logs, expiring, "") == ["half a day old", "0 days old"]
        events = logs.get_log_events(logGroupName=expiring, logStreamName="s", startFromHead=True)["events"]
        assert [event["message"] for event in events] == ["half a day old", "0 days old"]
        stream = logs.describe_log_streams(logGroupName=expiring)["logStreams"][0]
        assert stream["storedBytes"] == len("half a day old") + len("0 days old")
        described = logs.describe_log_groups(logGroupNamePrefix=expiring)["logGroups"]
        assert [(group["retentionInDays"], group["storedBytes"]) for group in described] == [
            (1, len("half a day old") + len("0 days old"))
        ]
    finally:
        for name in (kept_forever, expiring):
            logs.delete_log_group(logGroupName=name)


def test_log_groups_are_described_and_listed_by_prefix_and_pattern(logs):
    """DescribeLogGroups and ListLogGroups answer as LocalStack's provider does (the engine's
    reads the groups in place: no copy of every event held)."""
    token = uuid.uuid4().hex[:8]
    names = [f"/describe/{token}/api", f"/describe/{token}/worker", f"/other/{token}/api"]
    for name in names:
        logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=names[0], logStreamName="s")
    logs.put_log_events(
        logGroupName=names[0], logStreamName="s", logEvents=[{"timestamp": int(time.time() * 1000), "message": "12345"}]
    )
    try:
        described = logs.describe_log_groups(logGroupNamePrefix=f"/describe/{token}/")["logGroups"]
        assert [(group["logGroupName"], group["storedBytes"], group["logGroupClass"]) for group in described] == [
            (names[0], 5, "STANDARD"),
            (names[1], 0, "STANDARD"),
        ]
        assert described[0]["arn"] == described[0]["logGroupArn"] + ":*"
        by_pattern = logs.describe_log_groups(logGroupNamePattern=f"{token}/api")["logGroups"]
        assert [group["logGroupName"] for group in by_pattern] == [names[0], names[2]]
        listed = logs.list_log_groups(logGroupNamePattern=token)["logGroups"]
        assert [group["logGroupName"] for group in listed] == sorted(names)
        with pytest.raises(ClientError, match="mutually exclusive"):
            logs.describe_log_groups(logGroupNamePrefix="/describe", logGroupNamePattern="api")
    finally:
        for name in names:
            logs.delete_log_group(logGroupName=name)


# Runs in the engine's interpreter: the engine's provider and LocalStack's describe a region
# holding a group, with the provider module's copy.deepcopy refusing; the engine's answers,
# LocalStack's copies.
NO_COPY = r"""
import types
from localstack.aws.api import RequestContext
from localstack.services.logs import provider as upstream
from localstack.services.logs.provider import LogsProvider
from moto.logs.models import logs_backends
from localstack_nodocker import logs as engine_logs, seam

seam.replace(seam.LOG_GROUP_DESCRIBE, engine_logs.describe_group)
backend = logs_backends["000000000000"]["us-east-1"]
backend.create_log_group("/no-copy/group", {})
context = RequestContext(None)
context.account_id, context.region = "000000000000", "us-east-1"


def refuse(*args, **kwargs):
    raise AssertionError("deep copy")


upstream.copy = types.SimpleNamespace(deepcopy=refuse)  # the name LocalStack's provider copies with
provider = engine_logs.NodockerLogsProvider()
assert [g["logGroupName"] for g in provider.describe_log_groups(context, {"logGroupNamePrefix": "/no-copy"})["logGroups"]] == ["/no-copy/group"]
assert [g["logGroupName"] for g in provider.list_log_groups(context, {})["logGroups"]] == ["/no-copy/group"]
for read in (LogsProvider.describe_log_groups, LogsProvider.list_log_groups):
    try:
        read(provider, context, {})
    except AssertionError:
        continue
    raise SystemExit(f"LocalStack's {read.__name__} no longer copies: the override may go")
print("ok")
"""


def test_describing_log_groups_copies_no_group():
    result = subprocess.run([str(ENGINE_PYTHON), "-c", NO_COPY], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr
