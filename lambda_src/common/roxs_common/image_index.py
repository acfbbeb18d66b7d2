"""The image listing (newest first, optionally by status) and the image counters.

Key design of the metadata table (HASH ImageId, RANGE UploadTimestamp):
- every row carries `ListMonth` (`YYYY-MM`, the UTC month of its UploadTimestamp) and
  `StatusMonth` (`<status>#YYYY-MM`);
- GSI `ByMonth` (HASH ListMonth, RANGE UploadTimestamp) and GSI `ByStatusMonth` (HASH
  StatusMonth, RANGE UploadTimestamp), projection ALL, so a page is read from the indexes
  alone, newest first, one month partition after the other;
- the stats item `images#months` has one attribute per partition holding its row count
  (`all#YYYY-MM`, `<status>#YYYY-MM`), ADDed in the writer's transaction beside the row. A
  walk reads it once (one GetItem) and queries only months that hold rows: empty months cost
  nothing, and a page costs at most one Query per month it returns rows from, plus one.

The position (`after`) is {"month", "image_id", "upload_timestamp"}: the month partition
and the table key of the last row returned.
"""

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from typing import Any

from roxs_common.aggregates import IMAGES, Deltas, read_counters
from roxs_common.aws import client
from roxs_common.clock import LATEST_MS
from roxs_common.config import require_env
from roxs_common.dynamo import projection, scan_items, to_item
from roxs_common.paging import check_page_limit, newest_first_page

STATUSES: tuple[str, ...] = ("completed", "error", "rejected")
# Row Status -> attribute of the `images` counter item.
STATUS_COUNTERS = {"completed": "Completed", "error": "Error", "rejected": "Rejected"}
BY_MONTH = "ByMonth"
BY_STATUS_MONTH = "ByStatusMonth"
MONTHS_COUNTER = "images#months"
ALL = "all"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_IMAGE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Upper bound of UploadTimestamp (epoch seconds) a position may carry.
_MAX_TIMESTAMP = LATEST_MS // 1000


def image_id_for(bucket: str, key: str, etag: str, last_modified: str) -> str:
    """The row id of one upload: the same upload (ETag and LastModified, as HEAD reports
    them) always gets the same id; a new upload of the key (even of the same bytes) a new
    one, so its derived objects never collide with a superseded row's."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{bucket}/{key}@{etag}@{last_modified}"))


def month_of(upload_timestamp: int) -> str:
    return dt.datetime.fromtimestamp(int(upload_timestamp), dt.UTC).strftime("%Y-%m")


def partition_attributes(status: str, upload_timestamp: int) -> dict[str, str]:
    """The GSI keys a row with this status and upload time carries."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    month = month_of(upload_timestamp)
    return {"ListMonth": month, "StatusMonth": f"{status}#{month}"}


def row_counters(row: dict[str, Any]) -> Deltas:
    """What one row adds to the counters (`images` and the month directory); negate it for a
    row that is removed."""
    status, month = row["Status"], row["ListMonth"]
    return (
        Deltas()
        .add(
            IMAGES,
            Total=1,
            OriginalBytes=int(row["OriginalSize"]),
            **{STATUS_COUNTERS[status]: 1},
        )
        .add(MONTHS_COUNTER, **{f"{ALL}#{month}": 1, f"{status}#{month}": 1})
    )


def check_image_position(after: Any) -> None:
    """ValueError with the reason when `after` is not a position list_images returned."""
    if not isinstance(after, dict):
        raise ValueError("position must be an object")
    expected = {"month", "image_id", "upload_timestamp"}
    if set(after) != expected:
        raise ValueError(f"position must have exactly the fields {', '.join(sorted(expected))}")
    if not isinstance(after["month"], str) or not _MONTH.match(after["month"]):
        raise ValueError("position month must be YYYY-MM")
    if not isinstance(after["image_id"], str) or not _IMAGE_ID.match(after["image_id"]):
        raise ValueError("position image_id must be a lowercase UUID")
    timestamp = after["upload_timestamp"]
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise ValueError("position upload_timestamp must be an integer number of epoch seconds")
    if month_of(timestamp) != after["month"]:
        raise ValueError("position upload_timestamp is not in its month")


def _months_with_rows(ddb: Any, stats_table: str, partition: str) -> list[str]:
    """Months whose `partition` (`all` or a status) holds rows, newest first."""
    counts = read_counters(ddb, stats_table, [MONTHS_COUNTER])[MONTHS_COUNTER]
    prefix = f"{partition}#"
    return sorted(
        (name.removeprefix(prefix) for name, count in counts.items() if name.startswith(prefix) and count > 0),
        reverse=True,
    )


def list_images(
    status: str | None,
    limit: int,
    after: dict | None,
    *,
    table: str | None = None,
    stats_table: str | None = None,
) -> tuple[list[dict[str, Any]], dict | None]:
    """Up to `limit` current image rows, newest UploadTimestamp first, only `status` when
    given, resuming after `after`; and the position to continue from (None at the end).
    Queries only: one GetItem of the month directory and one Query per month read."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    check_page_limit(limit)
    if after is not None:
        check_image_position(after)
    ddb = client("dynamodb")
    table = table or require_env("METADATA_TABLE")
    stats_table = stats_table or require_env("STATS_TABLE")
    index, attribute = (BY_STATUS_MONTH, "StatusMonth") if status else (BY_MONTH, "ListMonth")
    months = _months_with_rows(ddb, stats_table, status or ALL)
    if after is not None:
        months = [month for month in months if month <= after["month"]]

    def partition_of(month: str) -> str:
        return f"{status}#{month}" if status else month

    partitions = {partition_of(month): month for month in months}  # GSI hash key -> month, newest first
    start = None
    if after is not None:
        partition = partition_of(after["month"])
        key = {attribute: partition, "ImageId": after["image_id"], "UploadTimestamp": after["upload_timestamp"]}
        start = (partition, to_item(key))
    page = newest_first_page(
        ddb, table=table, index=index, attribute=attribute, partitions=partitions, limit=limit, start=start
    )
    oldest = next(reversed(partitions), None)
    if len(page.rows) < limit or (not page.partition_more and page.partition == oldest):
        return page.rows, None  # the end, or the oldest partition ended exactly with this page
    last = page.rows[-1]
    return page.rows, {
        "month": partitions[page.partition],
        "image_id": last["ImageId"],
        "upload_timestamp": int(last["UploadTimestamp"]),
    }


def recount_images(ddb: Any, table: str) -> dict[str, dict[str, int]]:
    """The true values of the `images` and `images#months` counter items, from the rows
    (a Scan: for `make recount`, never a request path). Activity minutes are not
    recomputed: they count events, and expire after ACTIVITY_RETENTION_S."""
    totals = Deltas()
    rows: Iterable[dict[str, Any]] = scan_items(
        ddb, TableName=table, **projection("Status", "OriginalSize", "ListMonth")
    )
    for row in rows:
        totals.merge(row_counters(row))
    found = totals.as_dict()
    images = {
        "Total": 0,
        "OriginalBytes": 0,
        **{name: 0 for name in STATUS_COUNTERS.values()},
    }
    images.update(found.get(IMAGES, {}))
    return {IMAGES: images, MONTHS_COUNTER: found.get(MONTHS_COUNTER, {})}
