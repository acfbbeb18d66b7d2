"""A scheduled EventBridge rule keeps firing after `down`/`up` (the notification claim sweep
runs on one), on a second engine so the session's engine is left alone."""

import json
import time
import uuid

from tests.engine.test_persistence import client, second_engine, started  # noqa: F401  (fixture)
from tests.support.waiting import wait_for


def scheduled_events_since(queue_url: str, since_ms: int) -> list[dict]:
    sqs = client("sqs")
    found = []
    for message in sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2, AttributeNames=["SentTimestamp"]
    ).get("Messages", []):
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if int(message["Attributes"]["SentTimestamp"]) >= since_ms:
            found.append(json.loads(message["Body"]))
    return found


def test_a_scheduled_rule_fires_again_after_down_and_up(second_engine):  # noqa: F811
    started(second_engine("up"))
    name = f"every-minute-{uuid.uuid4().hex[:8]}"
    queue_url = client("sqs").create_queue(QueueName=name)["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = client("events")
    rule_arn = events.put_rule(Name=name, ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])

    started(second_engine("down"))
    started(second_engine("up"))
    restarted_ms = int(time.time() * 1000)
    [event, *_] = wait_for(
        lambda: scheduled_events_since(queue_url, restarted_ms), timeout=150, what="a scheduled event after up"
    )
    assert event["detail-type"] == "Scheduled Event" and event["resources"] == [rule_arn]
