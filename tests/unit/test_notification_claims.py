"""Every claim is finished: a batch stops taking records before its deadline (the rest go back
to SQS), and the claim sweep delivers again what an invocation left `in_progress`."""

import json
import uuid

import notification_processor
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roxs_common import client
from roxs_common.notifications import list_notifications, recount_notifications
from tests.unit.test_notification_processor import (
    API_BODY,
    SimulatedCrash,
    counters,
    history,
    sqs_record,
)

SCHEDULED = {
    "version": "0",
    "id": "5b0a2a1e-0000-4000-8000-000000000000",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/roxs-notification-claim-sweep"],
    "detail": {},
}


class ClockedContext:
    """A Lambda context whose remaining time drops by `per_publish_ms` at every SNS publish."""

    function_name = "roxs-unit-function"
    aws_request_id = "req-clocked"

    def __init__(self, budget_ms: int, per_publish_ms: int):
        self.budget_ms, self.per_publish_ms, self.spent_ms = budget_ms, per_publish_ms, 0
        client("sns").meta.events.register("before-send.sns.Publish", self._spend)

    def _spend(self, **kwargs):
        self.spent_ms += self.per_publish_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.budget_ms - self.spent_ms)


def body(notification_id: str) -> dict:
    return {**API_BODY, "notification_id": notification_id}


def reserve_of(budget_ms: int) -> int:
    return min(notification_processor.RECORD_RESERVE_MS, budget_ms // 4)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.integers(1, 12), per_publish_ms=st.integers(1, 5_000), budget_ms=st.integers(0, 30_000))
def test_a_batch_starts_no_record_inside_the_reserve_and_reports_the_rest(aws, records, per_publish_ms, budget_ms):
    """Records are started while more than the reserve (3 s, or a quarter of a shorter
    invocation) remains; started ones end `sent`, exactly the unstarted suffix is reported
    (in order), and no row is left in progress. SQS's redelivery of the rest sends each once."""
    batch = uuid.uuid4().hex  # the examples share the table
    ids = [f"{batch}-{i}" for i in range(records)]
    event = {"Records": [sqs_record(f"{batch}-m{i}", body(nid)) for i, nid in enumerate(ids)]}
    answer = notification_processor.lambda_handler(event, ClockedContext(budget_ms, per_publish_ms))

    reported = [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]
    started = records - len(reported)
    assert reported == [record["messageId"] for record in event["Records"][started:]]
    spare = budget_ms - reserve_of(budget_ms)  # started at budget, budget - per_publish, ... while > reserve
    assert started == (min(records, (spare - 1) // per_publish_ms + 1) if spare > 0 else 0)
    assert started or budget_ms == 0  # any invocation with time left gets work done
    rows = {row["NotificationId"]: row["Status"] for row in history(aws) if row["NotificationId"].startswith(batch)}
    assert rows == dict.fromkeys(ids[:started], "sent")

    redelivered = {"Records": [r for r in event["Records"] if r["messageId"] in reported]}
    assert notification_processor.lambda_handler(redelivered, ClockedContext(60_000, 0)) == {"batchItemFailures": []}
    assert {row["NotificationId"] for row in history(aws) if row["Status"] == "sent"} >= set(ids)


def test_the_issue_case_a_long_direct_batch_returns_before_its_timeout(aws, published):
    """4,000 records in one direct invoke with 30 s: the invocation answers, lists what it did
    not start, and leaves nothing in progress."""
    event = {"Records": [sqs_record(f"m{i}", body(f"n{i:04}")) for i in range(4000)]}
    answer = notification_processor.lambda_handler(event, ClockedContext(30_000, 500))
    reported = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
    rows = history(aws)
    # Started at 30 s, 29.5 s, ... while more than the 3 s reserve remains.
    assert len(rows) == (30_000 - notification_processor.RECORD_RESERVE_MS) // 500
    assert len(rows) + len(reported) == 4000
    assert {row["Status"] for row in rows} == {"sent"} and len(published()) == len(rows)
    assert counters(aws)["Total"] == len(rows) == recount_notifications()["Total"]


def crash_after_publish(**kwargs):
    raise SimulatedCrash  # the message is published; the invocation dies before marking it


@pytest.fixture
def killed_after_publishing(aws, context, published):
    """Direct invokes that publish and then die, like one killed at its timeout: their rows
    stay `in_progress` and no one will deliver them again but the sweep."""
    sns_events = client("sns").meta.events

    def kill(*notification_ids):
        sns_events.register("after-call.sns.Publish", crash_after_publish)
        try:
            for notification_id in notification_ids:
                with pytest.raises(SimulatedCrash):
                    notification_processor.lambda_handler(body(notification_id), context)
        finally:
            sns_events.unregister("after-call.sns.Publish", crash_after_publish)
        assert {row["Status"] for row in history(aws)} == {"in_progress"}
        assert len(published()) == len(notification_ids)
        return max(int(row["ClaimExpiresMs"]) for row in history(aws))

    return kill


def test_the_sweep_finishes_an_expired_claim_once(aws, context, published, killed_after_publishing, monkeypatch):
    expiry = killed_after_publishing("stuck-1")
    assert counters(aws) == {} and list_notifications(None, None, 10, None)[0] == []

    # While the claim is live its holder may still finish: the sweep leaves it.
    assert notification_processor.lambda_handler(SCHEDULED, context) == {"finished": 0, "failed": 0}
    assert history(aws)[0]["Status"] == "in_progress"

    monkeypatch.setattr(notification_processor, "now_ms", lambda: expiry + 1)
    assert notification_processor.lambda_handler(SCHEDULED, context) == {"finished": 1, "failed": 0}
    (row,) = history(aws)
    assert row["Status"] == "sent" and row["Source"] == "direct" and "ClaimExpiresMs" not in row
    assert row["Title"] == API_BODY["title"] and row["Priority"] == "high"
    # Published again (the first publish cannot be told from a crash before it); subscribers
    # drop the second by notification_id.
    assert [json.loads(envelope["Message"])["notification_id"] for envelope in published()] == ["stuck-1"]
    assert counters(aws) == {"Total": 1, "status_sent": 1, "priority_high": 1} and recount_notifications() == counters(
        aws
    )
    assert [listed["NotificationId"] for listed in list_notifications(None, "sent", 10, None)[0]] == ["stuck-1"]

    # Nothing left to sweep; a second sweep changes nothing.
    assert notification_processor.lambda_handler(SCHEDULED, context) == {"finished": 0, "failed": 0}
    assert published() == [] and counters(aws)["Total"] == 1


def test_a_failed_sweep_keeps_the_row_for_the_next_one(
    aws,
    context,
    published,
    killed_after_publishing,
    monkeypatch,
):
    expiry = killed_after_publishing("stuck-2")
    clock = {"now": expiry + 1}
    monkeypatch.setattr(notification_processor, "now_ms", lambda: clock["now"])
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:no-such-topic")
    assert notification_processor.lambda_handler(SCHEDULED, context) == {"finished": 0, "failed": 1}
    (row,) = history(aws)  # not released: the row is all that is left of the notification
    assert row["Status"] == "in_progress" and int(row["ClaimExpiresMs"]) > clock["now"]

    monkeypatch.setenv("TOPIC_ARN", aws.topic_arn)
    assert notification_processor.lambda_handler(SCHEDULED, context) == {"finished": 0, "failed": 0}  # live again
    clock["now"] = int(row["ClaimExpiresMs"]) + 1
    assert notification_processor.lambda_handler(SCHEDULED, context) == {"finished": 1, "failed": 0}
    assert history(aws)[0]["Status"] == "sent" and counters(aws)["Total"] == 1


def test_the_sweep_stops_before_its_deadline_and_the_next_one_continues(
    aws,
    context,
    published,
    killed_after_publishing,
    monkeypatch,
):
    stuck = [f"stuck-many-{i:02}" for i in range(30)]  # more than one page of the index
    expiry = killed_after_publishing(*stuck)
    monkeypatch.setattr(notification_processor, "now_ms", lambda: expiry + 1)
    first = notification_processor.lambda_handler(
        SCHEDULED, ClockedContext(notification_processor.RECORD_RESERVE_MS + 10_000, 1_000)
    )
    # Rows are started while more than the reserve is left: at 10, 9, ... 1 s past it.
    assert first == {"finished": 10, "failed": 0}
    assert [row["Status"] for row in history(aws)].count("sent") == 10
    assert notification_processor.lambda_handler(SCHEDULED, context) == {"finished": 20, "failed": 0}
    assert {row["Status"] for row in history(aws)} == {"sent"} and len(published()) == 30
    assert counters(aws)["Total"] == 30


def test_an_sqs_redelivery_after_the_sweep_publishes_nothing(
    aws,
    context,
    published,
    killed_after_publishing,
    monkeypatch,
):
    """SQS redelivers a message whose invocation died; when the sweep came first, the
    redelivery finds the row sent."""
    record = sqs_record("m-killed", body("stuck-sqs"))
    client("sns").meta.events.register("after-call.sns.Publish", crash_after_publish)
    with pytest.raises(SimulatedCrash):
        notification_processor.lambda_handler({"Records": [record]}, context)
    client("sns").meta.events.unregister("after-call.sns.Publish", crash_after_publish)
    expired = int(history(aws)[0]["ClaimExpiresMs"]) + 1
    monkeypatch.setattr(notification_processor, "now_ms", lambda: expired)
    assert notification_processor.lambda_handler(SCHEDULED, context) == {"finished": 1, "failed": 0}
    assert len(published()) == 2
    assert notification_processor.lambda_handler({"Records": [record]}, context) == {"batchItemFailures": []}
    assert published() == [] and counters(aws)["Total"] == 1 and history(aws)[0]["Source"] == "sqs"
