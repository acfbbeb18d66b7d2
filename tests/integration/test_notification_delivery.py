"""Notifications on the deployed stack: no message body keeps the others from the function
(the engine's SQS poller and the processor), a batch answers before its timeout, and the
claim sweep, on its real schedule, finishes a delivery an invocation left in progress."""

import contextlib
import json
import time
import uuid

import boto3
import pytest

from tests.integration.test_reliability_data import (
    counter_change,
    counters,
    final_rows,
    history_rows,
    invoke,
    notification,
    queue_is_empty,
    subscriber,  # noqa: F401  (fixture)
)
from tests.support.waiting import wait_for

RUN = uuid.uuid4().hex[:8]

# One body of each kind no parser should be trusted with; the reason its rejected row gives.
POISON = {
    "deep-open-lists": ("[" * 3000, "nested more than 32 levels"),
    "deep-objects": ('{"a":' * 3000 + "1" + "}" * 3000, "nested more than 32 levels"),
    "huge-integer": ("9" * 5000, "(5000 characters) is outside +-(2**53 - 1)"),
    "not-a-number": ('{"title": "t", "n": NaN}', "NaN is not a JSON number"),
    "lone-surrogate": ('{"title": "\\ud800"}', "U+D800 (a lone surrogate)"),
    "name-twice": ('{"title": "a", "title": "b"}', "member name 'title' appears more than once"),
}


def in_dead_letter_queue(aws, deployed, message_ids: set[str]) -> set[str]:
    """Which of these messages are in the dead-letter queue (looked at, left there)."""
    found, handles = set(), []
    dlq = deployed["notifications_dlq_url"]
    while messages := (
        aws["sqs"]
        .receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=20)
        .get("Messages", [])
    ):
        found |= {message["MessageId"] for message in messages} & message_ids
        handles += [message["ReceiptHandle"] for message in messages]
    for handle in handles:
        aws["sqs"].change_message_visibility(QueueUrl=dlq, ReceiptHandle=handle, VisibilityTimeout=0)
    return found


@pytest.mark.parametrize("kind", sorted(POISON))
def test_one_poison_message_among_nine_valid_ones(aws, deployed, subscriber, kind):  # noqa: F811
    """The issue's SendMessageBatch: nine notifications and one poison body. The function
    gets all ten (the engine's poller no longer parses bodies it cannot read); nine are sent
    once, the poison one gets its rejected row at once; nothing is retried or dead-lettered."""
    body, reason = POISON[kind]
    before = counters(aws, deployed, "notifications")
    good = [f"{RUN}-{kind}-{i}" for i in range(9)]
    entries = [{"Id": f"good{i}", "MessageBody": json.dumps(notification(nid))} for i, nid in enumerate(good)]
    entries.insert(4, {"Id": "poison", "MessageBody": body})
    sent = aws["sqs"].send_message_batch(QueueUrl=deployed["notifications_queue_url"], Entries=entries)
    assert len(sent["Successful"]) == 10 and not sent.get("Failed")
    poison_id = next(entry["MessageId"] for entry in sent["Successful"] if entry["Id"] == "poison")
    derived = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sqs-message:{poison_id}"))

    wait_for(lambda: all(final_rows(aws, deployed, nid) for nid in good), timeout=90, what="9 history rows")
    [rejected] = wait_for(lambda: history_rows(aws, deployed, derived), timeout=60, what="the poison's row")
    wait_for(lambda: queue_is_empty(aws, deployed["notifications_queue_url"]), timeout=60, what="an empty queue")

    assert [history_rows(aws, deployed, nid)[0]["Status"]["S"] for nid in good] == ["sent"] * 9
    assert rejected["Status"]["S"] == "rejected" and reason in rejected["ErrorMessage"]["S"]
    assert rejected["SQSMessageId"]["S"] == poison_id
    published = wait_for(
        lambda: (counts := subscriber.drain()) and all(nid in counts for nid in good) and counts,
        timeout=30,
        what="9 SNS deliveries",
    )
    assert {nid: published[nid] for nid in good} == dict.fromkeys(good, 1)
    assert not in_dead_letter_queue(aws, deployed, {entry["MessageId"] for entry in sent["Successful"]})
    change = counter_change(before, counters(aws, deployed, "notifications"))
    assert change == {"Total": 10, "status_sent": 9, "status_rejected": 1, "priority_normal": 10}, change


@contextlib.contextmanager
def function_timeout(aws, function: str, seconds: int):
    lam = aws["lambda"]
    original = lam.get_function_configuration(FunctionName=function)["Timeout"]
    lam.update_function_configuration(FunctionName=function, Timeout=seconds)
    lam.get_waiter("function_updated_v2").wait(FunctionName=function)
    try:
        yield
    finally:
        lam.update_function_configuration(FunctionName=function, Timeout=original)
        lam.get_waiter("function_updated_v2").wait(FunctionName=function)


def sqs_record(body: dict) -> dict:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "direct",
        "eventSource": "aws:sqs",
        "body": json.dumps(body),
        "attributes": {"SentTimestamp": str(int(time.time() * 1000)), "ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:direct",
        "awsRegion": "us-east-1",
    }


def test_a_direct_batch_longer_than_the_timeout_answers_with_what_it_did_not_start(aws, deployed):
    """The issue's direct invoke of thousands of records, with a 6 s timeout so the deadline
    comes early: the invocation answers (no timeout), every record it started is sent, the
    rest are listed in batchItemFailures, and no row is left in progress."""
    function = deployed["functions"]["notification_processor"]
    records = [sqs_record(notification(f"{RUN}-long-{i:04}")) for i in range(2000)]
    with function_timeout(aws, function, 6):
        answer = invoke(aws, function, {"Records": records})
    reported = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
    started = [record for record in records if record["messageId"] not in reported]
    assert reported and started, f"{len(started)} started, {len(reported)} reported"
    assert [record["messageId"] for record in records[len(started) :]] == [
        failure["itemIdentifier"] for failure in answer["batchItemFailures"]
    ]
    for record in started:
        [row] = history_rows(aws, deployed, json.loads(record["body"])["notification_id"])
        assert row["Status"]["S"] == "sent"
    for record in records[len(started) : len(started) + 20]:
        assert not history_rows(aws, deployed, json.loads(record["body"])["notification_id"])
    print(f"\n[notifications] 2,000 records, 6 s timeout: {len(started)} sent, {len(reported)} reported")


def sweep_rule(deployed) -> dict:
    """The stack's schedule of the claim sweep: the rule that targets the processor."""
    events, function = boto3.client("events"), deployed["functions"]["notification_processor"]
    arn = boto3.client("lambda").get_function_configuration(FunctionName=function)["FunctionArn"]
    rules = [events.describe_rule(Name=name) for name in events.list_rule_names_by_target(TargetArn=arn)["RuleNames"]]
    [rule] = [rule for rule in rules if rule.get("ScheduleExpression")]
    return rule


def test_the_stack_schedules_the_claim_sweep(deployed):
    rule = sweep_rule(deployed)
    assert rule["State"] == "ENABLED" and rule["ScheduleExpression"] == "rate(5 minutes)"
    policy = json.loads(
        boto3.client("lambda").get_policy(FunctionName=deployed["functions"]["notification_processor"])["Policy"]
    )
    assert any(
        statement["Principal"] == {"Service": "events.amazonaws.com"}
        and statement["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]
        for statement in policy["Statement"]
    )


@contextlib.contextmanager
def every_minute(function: str):
    """A second schedule of the sweep, at rate(1 minute) (the stack's runs every 5), for the
    block: the same Scheduled Event from the engine's EventBridge, sooner."""
    events, lam = boto3.client("events"), boto3.client("lambda")
    name = f"claim-sweep-test-{RUN}"
    arn = lam.get_function_configuration(FunctionName=function)["FunctionArn"]
    rule_arn = events.put_rule(Name=name, ScheduleExpression="rate(1 minute)")["RuleArn"]
    lam.add_permission(
        FunctionName=function,
        StatementId=name,
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    events.put_targets(Rule=name, Targets=[{"Id": "processor", "Arn": arn}])
    try:
        yield
    finally:
        events.remove_targets(Rule=name, Ids=["processor"])
        events.delete_rule(Name=name)
        lam.remove_permission(FunctionName=function, StatementId=name)


def test_the_sweep_finishes_a_delivery_left_in_progress(aws, deployed, subscriber):  # noqa: F811
    """What a direct invoke killed at its timeout leaves: the row claimed `in_progress`, its
    claim expired, no one to deliver it again. A scheduled sweep delivers and records it."""
    nid = f"{RUN}-stuck"
    created_at_ms = int(time.time() * 1000)
    before = counters(aws, deployed, "notifications")
    aws["dynamodb"].put_item(
        TableName=deployed["tables"]["notifications"],
        Item={
            "NotificationId": {"S": nid},
            "CreatedAt": {"N": str(created_at_ms)},
            "Type": {"S": "reliability"},
            "Recipient": {"S": "ops@roxs.com"},
            "Title": {"S": "Left in progress"},
            "Message": {"S": "its invocation timed out after publishing"},
            "Priority": {"S": "high"},
            "Status": {"S": "in_progress"},
            "ClaimToken": {"S": str(uuid.uuid4())},
            "ClaimExpiresMs": {"N": str(created_at_ms - 1)},
            "Source": {"S": "direct"},
        },
    )
    with every_minute(deployed["functions"]["notification_processor"]):
        [row] = wait_for(lambda: final_rows(aws, deployed, nid), timeout=150, what="the sweep to finish the claim")
    assert row["Status"]["S"] == "sent" and row["Source"]["S"] == "direct" and "ClaimExpiresMs" not in row
    assert wait_for(lambda: subscriber.drain().get(nid), timeout=30, what="the SNS delivery") == 1
    change = counter_change(before, counters(aws, deployed, "notifications"))
    assert change.get("status_sent", 0) >= 1 and change.get("priority_high", 0) >= 1  # other tests may add rows
