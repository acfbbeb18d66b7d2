"""roxs_common.log_index: the newest-first list over hour-bucketed GSIs and its positions."""

import json

import log_processor
import pytest

from roxs_common.aggregates import read_counters
from roxs_common.log_index import (
    check_log_position,
    list_logs,
    log_summary,
    recount_logs,
)
from tests.unit.conftest import LOG_INDEX_TABLE, STATS_TABLE

HOUR_MS = 3_600_000
START = 1_700_000_000_000


def index(received_ms, logs, nonce=7):
    entries = log_processor.parse_logs({"logs": logs})
    _, rows = log_processor.build_batch(
        entries, batch_id=f"b{received_ms}", received_ms=received_ms, nonce=nonce, processed_at="t"
    )
    log_processor.index_batch(LOG_INDEX_TABLE, rows, received_ms, f"b{received_ms}")


@pytest.fixture
def logs(aws):
    """Logs in hours 0, 1 and 500 (long empty stretches between), several per hour."""
    index(START, [{"level": "INFO", "message": "h0-a"}, {"level": "ERROR", "message": "h0-b"}])
    index(START + HOUR_MS, [{"level": "ERROR", "message": f"h1-{i}"} for i in range(5)])
    index(START + 500 * HOUR_MS, [{"level": "WARN", "message": "h500-a"}, {"level": "ERROR", "message": "h500-b"}])


def walk(level, limit):
    pages, after = [], None
    while True:
        rows, after = list_logs(level, limit, after)
        pages.append([row["Message"] for row in rows])
        if after is None:
            return pages
        json.dumps(after)
        check_log_position(after)


def test_all_levels_newest_first_in_pages_across_empty_hours(logs):
    pages = walk(None, 3)
    assert [m for page in pages for m in page] == [
        "h500-b",
        "h500-a",
        "h1-4",
        "h1-3",
        "h1-2",
        "h1-1",
        "h1-0",
        "h0-b",
        "h0-a",
    ]
    # A page that ends exactly at the last row still gives a position; the next page is empty.
    assert [len(page) for page in pages] == [3, 3, 3, 0]


def test_one_level(logs):
    assert [m for page in walk("ERROR", 2) for m in page] == ["h500-b", "h1-4", "h1-3", "h1-2", "h1-1", "h1-0", "h0-b"]
    assert list_logs("DEBUG", 10, None) == ([], None)


def test_counters_and_recount_agree_with_the_rows(logs, aws):
    counters = read_counters(aws.ddb, STATS_TABLE, ["logs"])["logs"]
    assert counters == {"Total": 9, "INFO": 1, "ERROR": 7, "WARN": 1} == recount_logs()


def test_log_summary_is_what_the_api_and_dashboard_show(logs):
    (row,), _ = list_logs("WARN", 1, None)
    summary = log_summary(row)
    assert summary["level"] == "WARN" and summary["message"] == "h500-a"
    assert summary["timestamp"] == START + 500 * HOUR_MS and summary["batch_id"] == f"b{START + 500 * HOUR_MS}"


@pytest.mark.parametrize(
    "after, reason",
    [
        ("abc", "exactly"),
        ({"hour": "2023-11-14T22", "timestamp": "1700000000000.000000007000001"}, "exactly"),
        ({"hour": "2023-11-14 22", "timestamp": "1700000000000.000000007000001", "level": "INFO"}, "YYYY-MM-DDTHH"),
        ({"hour": "2023-11-14T22", "timestamp": "1700000000000.7", "level": "INFO"}, "15 digits"),
        ({"hour": "2023-11-14T22", "timestamp": 1700000000000, "level": "INFO"}, "15 digits"),
        ({"hour": "2023-11-14T22", "timestamp": "1700000000000.000000007000001", "level": "LOUD"}, "level must be"),
        ({"hour": "2023-11-15T22", "timestamp": "1700000000000.000000007000001", "level": "INFO"}, "does not match"),
        ({"hour": "2023-11-15T22", "timestamp": "999999999999999.000000007000001", "level": "INFO"}, "year 9999"),
    ],
)
def test_malformed_positions_are_refused_with_a_reason(after, reason):
    with pytest.raises(ValueError, match=reason):
        check_log_position(after)


def test_a_position_of_another_level_is_refused(logs):
    _, after = list_logs("ERROR", 1, None)
    with pytest.raises(ValueError, match="position is of level ERROR, the list of level WARN"):
        check_log_position(after, "WARN")
    with pytest.raises(ValueError, match="position is of level ERROR, the list of level WARN"):
        list_logs("WARN", 1, after)
    check_log_position(after, "ERROR")
    check_log_position(after, None)  # the list of all levels resumes after a row of any level
