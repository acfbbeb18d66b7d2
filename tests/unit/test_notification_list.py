"""roxs_common.notifications: the shared schema and the newest-first list of the history."""

import json

import notification_processor
import pytest

from roxs_common.notifications import (
    API_DEFAULTS,
    check_notification_position,
    list_notifications,
    notification_fields,
)

DAY_MS = 86_400_000
START = 1_700_000_000_000  # 2023-11-14


@pytest.fixture
def history(aws, context):
    """Nine notifications over 200 days with long empty stretches, plus a rejected one."""
    sent = []
    for index, (day, priority) in enumerate(
        [
            (0, "low"),
            (0, "high"),
            (1, "normal"),
            (40, "high"),
            (40, "low"),
            (41, "critical"),
            (150, "high"),
            (199, "low"),
            (199, "normal"),
        ]
    ):
        payload = {"notification_id": f"n{index}", "created_at_ms": START + day * DAY_MS + index, "priority": priority}
        notification_processor.lambda_handler(payload, context)
        sent.append(payload)
    record = {
        "messageId": "m-bad",
        "body": json.dumps({"notification_id": "bad", "created_at_ms": START + 100 * DAY_MS, "priority": "urgent"}),
        "attributes": {"SentTimestamp": str(START)},
        "eventSource": "aws:sqs",
    }
    assert notification_processor.lambda_handler({"Records": [record]}, context) == {"batchItemFailures": []}
    return sent


def walk(limit, **filters):
    pages, after = [], None
    while True:
        rows, after = list_notifications(filters.get("priority"), filters.get("status"), limit, after)
        pages.append([row["NotificationId"] for row in rows])
        if after is None:
            return pages
        json.dumps(after)  # a position is small and JSON-serialisable
        check_notification_position(after)


def test_every_row_newest_first_in_pages_across_empty_days(history):
    pages = walk(2)
    assert [nid for page in pages for nid in page] == ["n8", "n7", "n6", "bad", "n5", "n4", "n3", "n2", "n1", "n0"]
    assert all(len(page) == 2 for page in pages[:-1])


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"priority": "high"}, ["n6", "n3", "n1"]),
        ({"priority": "low"}, ["n7", "n4", "n0"]),
        ({"status": "sent"}, ["n8", "n7", "n6", "n5", "n4", "n3", "n2", "n1", "n0"]),
        ({"status": "rejected"}, ["bad"]),
    ],
)
def test_filters(history, filters, expected):
    assert [nid for page in walk(1, **filters) for nid in page] == expected
    rows, after = list_notifications(filters.get("priority"), filters.get("status"), 100, None)
    assert [row["NotificationId"] for row in rows] == expected and after is None


def test_an_empty_history_is_an_empty_list(aws):
    assert list_notifications(None, None, 10, None) == ([], None)


@pytest.mark.parametrize(
    "after, reason",
    [
        ("abc", "exactly"),
        ({"day": "2023-11-14", "created_at": 1}, "exactly"),
        ({"day": "14/11/2023", "created_at": 1, "id": "x"}, "YYYY-MM-DD"),
        ({"day": "2023-11-14", "created_at": "1", "id": "x"}, "created_at_ms"),
        ({"day": "2023-11-14", "created_at": START, "id": "x" * 300}, "notification_id is 300"),
        ({"day": "2023-11-14", "created_at": START, "id": "\ud800"}, "lone surrogate"),
        ({"day": "2023-11-15", "created_at": START, "id": "x"}, "does not match"),
    ],
)
def test_malformed_positions_are_refused_with_a_reason(after, reason):
    with pytest.raises(ValueError, match=reason):
        check_notification_position(after)


@pytest.mark.parametrize(
    "args, reason",
    [
        (("high", "sent", 10, None), "not both"),
        (("urgent", None, 10, None), "priority must be one of"),
        ((None, "in_progress", 10, None), "status must be one of"),
        ((None, None, 0, None), "limit"),
        ((None, None, 101, None), "limit"),
    ],
)
def test_bad_list_arguments(args, reason):
    with pytest.raises(ValueError, match=reason):
        list_notifications(*args)


def test_the_api_defaults_require_title_and_message():
    with pytest.raises(ValueError, match="title is required"):
        notification_fields({"message": "m"}, API_DEFAULTS)
    fields = notification_fields({"title": "t", "message": "m", "priority": "LOW"}, API_DEFAULTS)
    assert fields == {"type": "api", "recipient": "api-user@roxs.com", "title": "t", "message": "m", "priority": "low"}
