"""Objects and bytes per bucket, exact across creates, overwrites, deletes, replays and
out-of-order events (moto)."""

from urllib.parse import quote

import pytest
import storage_counter

from roxs_common.aggregates import read_counters
from roxs_common.storage import recount_buckets
from tests.unit.conftest import LOGS, ORIGINALS, PROCESSED, STATS_TABLE, THUMBNAILS

BUCKETS = [ORIGINALS, PROCESSED, THUMBNAILS, LOGS]


def event(bucket, key, detail_type="Object Created"):
    return {
        "source": "aws.s3",
        "detail-type": detail_type,
        "detail": {"bucket": {"name": bucket}, "object": {"key": quote(key)}},
    }


def counted(aws, bucket):
    return read_counters(aws.ddb, STATS_TABLE, [f"bucket#{bucket}"])[f"bucket#{bucket}"]


def test_create_overwrite_delete_keep_the_counter_exact(aws, context):
    key = "logs/2026/a b+c é.json.gz"
    aws.s3.put_object(Bucket=LOGS, Key=key, Body=b"x" * 100)
    created = event(LOGS, key)
    storage_counter.lambda_handler(created, context)
    assert counted(aws, LOGS) == {"Objects": 1, "Bytes": 100}

    aws.s3.put_object(Bucket=LOGS, Key=key, Body=b"y" * 30)
    storage_counter.lambda_handler(event(LOGS, key), context)
    assert counted(aws, LOGS) == {
        "Objects": 1,
        "Bytes": 30,
    }  # the previous size taken back

    storage_counter.lambda_handler(created, context)  # a late replay of the first create
    assert counted(aws, LOGS) == {"Objects": 1, "Bytes": 30}

    aws.s3.delete_object(Bucket=LOGS, Key=key)
    deleted = event(LOGS, key, "Object Deleted")
    for _ in range(2):
        storage_counter.lambda_handler(deleted, context)
    storage_counter.lambda_handler(created, context)  # create delivered after the delete
    assert counted(aws, LOGS) == {"Objects": 0, "Bytes": 0}


def test_counters_equal_a_recount_after_mixed_traffic(aws, context):
    for index in range(6):
        bucket = BUCKETS[index % 4]
        aws.s3.put_object(Bucket=bucket, Key=f"k{index}", Body=b"z" * (index * 7 + 1))
        storage_counter.lambda_handler(event(bucket, f"k{index}"), context)
    aws.s3.put_object(Bucket=ORIGINALS, Key="k0", Body=b"longer body")
    aws.s3.delete_object(Bucket=PROCESSED, Key="k1")
    for bucket, key in ((ORIGINALS, "k0"), (PROCESSED, "k1")):
        storage_counter.lambda_handler(event(bucket, key), context)
    counted_now = read_counters(aws.ddb, STATS_TABLE, [f"bucket#{bucket}" for bucket in BUCKETS])
    truth = recount_buckets(BUCKETS)  # read before: recount itself would repair a difference
    assert {
        name: {"Objects": v.get("Objects", 0), "Bytes": v.get("Bytes", 0)} for name, v in counted_now.items()
    } == truth
    assert truth[f"bucket#{ORIGINALS}"] == {
        "Objects": 2,
        "Bytes": len(b"longer body") + 29,
    }


def test_recount_repairs_sizes_missed_while_no_event_arrived(aws, context):
    aws.s3.put_object(Bucket=THUMBNAILS, Key="missed", Body=b"12345")  # no event delivered
    assert recount_buckets(BUCKETS)[f"bucket#{THUMBNAILS}"] == {
        "Objects": 1,
        "Bytes": 5,
    }
    assert counted(aws, THUMBNAILS) == {
        "Objects": 1,
        "Bytes": 5,
    }  # size item and counter repaired together
    storage_counter.lambda_handler(event(THUMBNAILS, "missed"), context)
    assert counted(aws, THUMBNAILS) == {"Objects": 1, "Bytes": 5}


def test_events_for_other_buckets_or_without_keys_are_refused(aws, context):
    with pytest.raises(ValueError, match="not one of the counted buckets"):
        storage_counter.lambda_handler(event("someone-elses-bucket", "k"), context)
    with pytest.raises(ValueError, match="object key"):
        storage_counter.lambda_handler({"source": "aws.s3", "detail": {"bucket": {"name": LOGS}}}, context)
    with pytest.raises(ValueError, match="neither"):
        storage_counter.lambda_handler({"hello": 1}, context)
