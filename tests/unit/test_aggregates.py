"""roxs_common.aggregates: counter deltas merged per item, applied atomically with rows."""

import pytest
from botocore.exceptions import ClientError

from roxs_common import aggregates
from tests.unit.conftest import STATS_TABLE

MINUTE_MS = 1_764_369_660_000  # 2025-11-28T22:41:00Z


def test_deltas_for_one_counter_are_merged_into_one_update():
    deltas = aggregates.Deltas().add("logs", Total=2, ERROR=1).add("logs", Total=3, INFO=3)
    assert deltas.as_dict() == {"logs": {"Total": 5, "ERROR": 1, "INFO": 3}}
    [update] = deltas.updates(STATS_TABLE)
    assert update["Update"]["Key"] == {"Counter": {"S": "logs"}}
    assert update["Update"]["UpdateExpression"].startswith("ADD ")


def test_zero_deltas_write_nothing():
    assert aggregates.Deltas().add("images", Total=1).add("images", Total=-1).updates(STATS_TABLE) == []


def test_activity_goes_to_the_utc_minute_with_a_ttl():
    deltas = aggregates.Deltas().add_activity(MINUTE_MS + 59_999, logs_ERROR=1)
    [update] = deltas.updates(STATS_TABLE)
    assert update["Update"]["Key"]["Counter"]["S"] == "minute#2025-11-28T22:41"
    ttl = int(update["Update"]["ExpressionAttributeValues"][":ttl"]["N"])
    assert ttl == MINUTE_MS // 1000 + aggregates.ACTIVITY_RETENTION_S


def test_counters_and_row_commit_together_and_a_duplicate_counts_once(aws):
    row_put = {
        "Put": {
            "TableName": "RoxsNotificationHistory",
            "Item": {"NotificationId": {"S": "n-1"}, "CreatedAt": {"N": "1"}},
            "ConditionExpression": "attribute_not_exists(NotificationId)",
        }
    }
    deltas = (
        aggregates.Deltas().add("notifications", Total=1, priority_high=1).add_activity(MINUTE_MS, notifications_sent=1)
    )
    aws.ddb.transact_write_items(TransactItems=[row_put, *deltas.updates(STATS_TABLE)])
    with pytest.raises(ClientError) as duplicate:
        aws.ddb.transact_write_items(TransactItems=[row_put, *deltas.updates(STATS_TABLE)])
    assert duplicate.value.response["Error"]["Code"] == "TransactionCanceledException"

    counters = aggregates.read_counters(aws.ddb, STATS_TABLE, ["notifications", "minute#2025-11-28T22:41", "absent"])
    assert counters == {
        "notifications": {"Total": 1, "priority_high": 1},
        "minute#2025-11-28T22:41": {"notifications_sent": 1},
        "absent": {},
    }


def test_negated_deltas_restore_the_counters(aws):
    deltas = aggregates.Deltas().add(aggregates.bucket_counter("b"), Objects=2, Bytes=300)
    aws.ddb.transact_write_items(TransactItems=deltas.updates(STATS_TABLE))
    aws.ddb.transact_write_items(TransactItems=deltas.negated().updates(STATS_TABLE))
    assert aggregates.read_counters(aws.ddb, STATS_TABLE, ["bucket#b"]) == {"bucket#b": {"Objects": 0, "Bytes": 0}}


def test_reading_more_than_one_batch_of_counters(aws):
    names = [f"bucket#b{index}" for index in range(150)]
    counters = aggregates.read_counters(aws.ddb, STATS_TABLE, names)
    assert len(counters) == 150 and all(value == {} for value in counters.values())
