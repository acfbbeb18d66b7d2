"""The image listing: newest first across month partitions, by status, resumable, and the
positions it accepts (moto)."""

import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roxs_common.aggregates import read_counters
from roxs_common.dynamo import to_item
from roxs_common.image_index import (
    MONTHS_COUNTER,
    check_image_position,
    list_images,
    partition_attributes,
    row_counters,
)
from tests.unit.conftest import METADATA_TABLE, STATS_TABLE

STATUSES = ("completed", "error", "rejected")


def epoch(year, month, day, second=0) -> int:
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp()) + second


def write_rows(ddb, timestamps_and_statuses):
    """Rows as the processor writes them: row and counters in one transaction."""
    written = []
    for index, (timestamp, status) in enumerate(timestamps_and_statuses):
        row = {
            "ImageId": str(uuid.UUID(int=index + 1)),
            "UploadTimestamp": timestamp,
            "Status": status,
            "OriginalSize": 10,
            **partition_attributes(status, timestamp),
        }
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": METADATA_TABLE,
                        "Item": to_item(row),
                        "ConditionExpression": "attribute_not_exists(ImageId)",
                    }
                },
                *row_counters(row).updates(STATS_TABLE),
            ]
        )
        written.append(row)
    return written


def walk(status, limit):
    """Every page until the position is None, checking each position."""
    found, after, pages = [], None, 0
    while True:
        page, after = list_images(status, limit, after)
        found += page
        pages += 1
        assert pages < 100
        if after is None:
            return found
        check_image_position(after)


def newest_first(rows):
    return [row["ImageId"] for row in sorted(rows, key=lambda r: (-r["UploadTimestamp"], r["ImageId"]))]


def test_walk_skips_empty_months_and_reads_only_months_with_rows(aws, monkeypatch):
    rows = write_rows(
        aws.ddb,
        [
            (epoch(2024, 1, 5), "completed"),
            (epoch(2024, 1, 6), "error"),
            (epoch(2025, 7, 1), "completed"),  # 17 empty months between
            (epoch(2026, 11, 2), "rejected"),
            (epoch(2026, 11, 3), "completed"),
        ],
    )
    queried = []
    real_query = aws.ddb.query

    def counting_query(**kwargs):
        queried.append(kwargs["ExpressionAttributeValues"][":p"]["S"])
        return real_query(**kwargs)

    from roxs_common import image_index

    monkeypatch.setattr(
        image_index,
        "client",
        lambda name: type(
            "C",
            (),
            {
                "query": staticmethod(counting_query),
                "batch_get_item": staticmethod(aws.ddb.batch_get_item),
            },
        )(),
    )
    page, after = list_images(None, 10, None)
    assert [row["ImageId"] for row in page] == newest_first(rows) and after is None
    assert queried == ["2026-11", "2025-07", "2024-01"]  # never an empty month


def test_pages_resume_across_months_and_by_status(aws):
    rows = write_rows(
        aws.ddb,
        [(epoch(2026, month, day), STATUSES[(month + day) % 3]) for month in (1, 3, 4) for day in range(1, 6)],
    )
    assert [row["ImageId"] for row in walk(None, 4)] == newest_first(rows)
    for status in STATUSES:
        assert [row["ImageId"] for row in walk(status, 2)] == newest_first([r for r in rows if r["Status"] == status])


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    spec=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(STATUSES)),
        min_size=0,
        max_size=25,
    ),
    limit=st.integers(1, 7),
    status=st.sampled_from((None, *STATUSES)),
)
def test_any_page_size_lists_every_row_once_newest_first(aws, spec, limit, status):
    aws.ddb.delete_item(TableName=STATS_TABLE, Key={"Counter": {"S": MONTHS_COUNTER}})
    for item in aws.ddb.scan(TableName=METADATA_TABLE)["Items"]:
        aws.ddb.delete_item(
            TableName=METADATA_TABLE,
            Key={
                "ImageId": item["ImageId"],
                "UploadTimestamp": item["UploadTimestamp"],
            },
        )
    # months spread over three years (every 40 days), several rows sharing a month
    rows = write_rows(
        aws.ddb,
        [(epoch(2024, 1, 1) + days * 40 * 86400 + index, state) for index, (days, state) in enumerate(spec)],
    )
    wanted = [row for row in rows if status is None or row["Status"] == status]
    assert [row["ImageId"] for row in walk(status, limit)] == newest_first(wanted)


@pytest.mark.parametrize(
    "position, reason",
    [
        ("2026-11", "must be an object"),
        ({"month": "2026-11", "image_id": str(uuid.UUID(int=1))}, "exactly the fields"),
        (
            {
                "month": "2026-13",
                "image_id": str(uuid.UUID(int=1)),
                "upload_timestamp": 0,
            },
            "YYYY-MM",
        ),
        (
            {
                "month": "2026-11",
                "image_id": "x" * 36,
                "upload_timestamp": epoch(2026, 11, 1),
            },
            "UUID",
        ),
        (
            {
                "month": "2026-11",
                "image_id": str(uuid.UUID(int=1)),
                "upload_timestamp": "1",
            },
            "integer",
        ),
        (
            {
                "month": "2026-11",
                "image_id": str(uuid.UUID(int=1)),
                "upload_timestamp": True,
            },
            "integer",
        ),
        (
            {
                "month": "2026-11",
                "image_id": str(uuid.UUID(int=1)),
                "upload_timestamp": 10**20,
            },
            "integer",
        ),
        (
            {
                "month": "2026-10",
                "image_id": str(uuid.UUID(int=1)),
                "upload_timestamp": epoch(2026, 11, 1),
            },
            "not in its month",
        ),
    ],
)
def test_malformed_positions_are_refused_with_a_reason(position, reason):
    with pytest.raises(ValueError, match=reason):
        check_image_position(position)


def test_bad_filters_are_refused(aws):
    with pytest.raises(ValueError, match="status"):
        list_images("deleted", 5, None)
    with pytest.raises(ValueError, match="limit"):
        list_images(None, 0, None)
    assert read_counters(aws.ddb, STATS_TABLE, [MONTHS_COUNTER]) == {MONTHS_COUNTER: {}}
