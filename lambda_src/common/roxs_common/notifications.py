"""The one notification schema (used by the API before queueing and by the processor), the
history table's list keys and counters, and the newest-first list of the history.

History rows (`<TablePrefix>NotificationHistory`, HASH NotificationId, RANGE CreatedAt) get
their list keys when they reach a final status (`sent`, `rejected`): GSIs `ByDay` (HASH
`Day`), `ByPriorityDay` (HASH `PriorityDay` = `<priority>#<day>`) and `ByStatusDay` (HASH
`StatusDay` = `<status>#<day>`), all RANGE `CreatedAt`, where day is the UTC day of CreatedAt.
A row being delivered (`in_progress`) is in none of them, and is not counted yet: lists and
counters agree. The directory (`<TablePrefix>NotificationDays`, see roxs_common.timeline)
has scopes `all`, `priority#<p>` and `status#<s>`.
"""

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from roxs_common.aggregates import NOTIFICATIONS, Deltas
from roxs_common.aws import client
from roxs_common.clock import LATEST_MS
from roxs_common.config import require_env
from roxs_common.constants import NOTIFICATION_PRIORITIES
from roxs_common.dynamo import from_item, projection, scan_items
from roxs_common.paging import check_page_limit
from roxs_common.storable import PARTITION_KEY_MAX_BYTES, check_key, check_text
from roxs_common.timeline import Timeline, directory_update, newest_first

FIELDS = ("type", "recipient", "title", "message", "priority")
MAX_CHARS = {"type": 256, "recipient": 256, "title": 200, "message": 4000}
NOTIFICATION_ID_MAX_CHARS = 256
# The direct invoke's defaults are the tutorial's processor defaults (CONTRACT.md, behaviour 3).
PROCESSOR_DEFAULTS = {
    "type": "general",
    "recipient": "admin@roxs.com",
    "title": "Notificación de Sistema",
    "message": "Mensaje de notificación",
    "priority": "normal",
}
# POST /notifications: title and message are required; the tutorial's API sends type "api"
# and recipient api-user@roxs.com.
API_DEFAULTS = {"type": "api", "recipient": "api-user@roxs.com", "priority": "normal"}

SENT, REJECTED, IN_PROGRESS = "sent", "rejected", "in_progress"
FINAL_STATUSES = (SENT, REJECTED)

BY_DAY, BY_PRIORITY_DAY, BY_STATUS_DAY = "ByDay", "ByPriorityDay", "ByStatusDay"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Notification:
    notification_id: str
    created_at_ms: int
    type: str
    recipient: str
    title: str
    message: str
    priority: str


def notification_fields(data: Mapping[str, Any], defaults: Mapping[str, str] = PROCESSOR_DEFAULTS) -> dict[str, str]:
    """The validated fields (priority lower-cased); ValueError naming the field otherwise."""
    fields = {}
    for name in FIELDS:
        value = data.get(name, defaults.get(name))
        if value is None:
            raise ValueError(f"{name} is required")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string")
        if name in MAX_CHARS and len(value) > MAX_CHARS[name]:
            raise ValueError(f"{name} is {len(value)} characters, the maximum is {MAX_CHARS[name]}")
        check_text(value, name)
        fields[name] = value
    fields["priority"] = fields["priority"].lower()
    if fields["priority"] not in NOTIFICATION_PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(NOTIFICATION_PRIORITIES)}, got {data.get('priority')!r}")
    return fields


def check_notification_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("notification_id must be a non-empty string")
    if len(value) > NOTIFICATION_ID_MAX_CHARS:
        raise ValueError(f"notification_id is {len(value)} characters, the maximum is {NOTIFICATION_ID_MAX_CHARS}")
    check_key(value, "notification_id", PARTITION_KEY_MAX_BYTES)
    return value


def check_created_at_ms(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= LATEST_MS:
        raise ValueError(f"created_at_ms must be an integer from 0 to {LATEST_MS} (epoch milliseconds)")
    return value


def parse_notification(
    payload: Any, *, default_id: str, default_created_at_ms: int, defaults: Mapping[str, str] = PROCESSOR_DEFAULTS
) -> Notification:
    """A Notification whose every stored and published value is valid; ValueError otherwise."""
    if not isinstance(payload, dict):
        raise ValueError(f"notification must be a JSON object, got {type(payload).__name__}")
    return Notification(
        notification_id=check_notification_id(payload.get("notification_id", default_id)),
        created_at_ms=check_created_at_ms(payload.get("created_at_ms", default_created_at_ms)),
        **notification_fields(payload, defaults),
    )


def history_row(notification_id: str, *attributes: str) -> dict[str, Any] | None:
    """The history row of `notification_id` (only `attributes` when named), read
    consistently; the newest should a client have sent the id with two creation times.
    One Query of at most one item."""
    query: dict[str, Any] = {
        "TableName": require_env("HISTORY_TABLE"),
        "KeyConditionExpression": "NotificationId = :id",
        "ExpressionAttributeValues": {":id": {"S": notification_id}},
        "ScanIndexForward": False,
        "ConsistentRead": True,
        "Limit": 1,
        **(projection(*attributes) if attributes else {}),
    }
    items = client("dynamodb").query(**query)["Items"]
    return from_item(items[0]) if items else None


# --- list keys and counters ---------------------------------------------------------------------


def day_of(created_at_ms: int) -> str:
    return f"{dt.datetime.fromtimestamp(created_at_ms // 1000, dt.UTC):%Y-%m-%d}"


def list_keys(created_at_ms: int, priority: str | None, status: str) -> dict[str, str]:
    """The GSI attributes of a row in a final status (no priority: a rejected row whose
    priority was invalid is listed by day and status only)."""
    day = day_of(created_at_ms)
    keys = {"Day": day, "StatusDay": f"{status}#{day}"}
    if priority:
        keys["PriorityDay"] = f"{priority}#{day}"
    return keys


def scopes(priority: str | None, status: str) -> list[str]:
    return ["all", f"status#{status}", *([f"priority#{priority}"] if priority else [])]


def counter_deltas(priority: str | None, status: str, processed_ms: int) -> Deltas:
    counts = {"Total": 1, f"status_{status}": 1, **({f"priority_{priority}": 1} if priority else {})}
    return Deltas().add(NOTIFICATIONS, **counts).add_activity(processed_ms, **{f"notifications_{status}": 1})


def final_updates(created_at_ms: int, priority: str | None, status: str, processed_ms: int) -> list[dict[str, Any]]:
    """The counter and directory Updates that go in the same transaction as a row's final status."""
    directory = require_env("NOTIFICATION_DAYS_TABLE")
    day = day_of(created_at_ms)
    return [
        *counter_deltas(priority, status, processed_ms).updates(require_env("STATS_TABLE")),
        *(directory_update(directory, scope, day, 1) for scope in scopes(priority, status)),
    ]


# --- the newest-first list ----------------------------------------------------------------------

_POSITION_KEYS = {"day", "created_at", "id"}


def check_notification_position(after: Any) -> None:
    """ValueError with the reason when `after` is not a position list_notifications returned."""
    if not isinstance(after, dict) or set(after) != _POSITION_KEYS:
        raise ValueError(f"position must be an object with exactly {sorted(_POSITION_KEYS)}")
    if not isinstance(after["day"], str) or not _DAY.fullmatch(after["day"]):
        raise ValueError("position day must be YYYY-MM-DD")
    check_created_at_ms(after["created_at"])
    check_notification_id(after["id"])
    if day_of(after["created_at"]) != after["day"]:
        raise ValueError("position day does not match its created_at")


def _timeline(priority: str | None, status: str | None) -> tuple[Timeline, str]:
    table, directory = require_env("HISTORY_TABLE"), require_env("NOTIFICATION_DAYS_TABLE")
    if priority and status:
        raise ValueError("filter by priority or by status, not both")
    if priority:
        if priority not in NOTIFICATION_PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(NOTIFICATION_PRIORITIES)}, got {priority!r}")
        return Timeline(
            table, BY_PRIORITY_DAY, "PriorityDay", directory, f"priority#{priority}", lambda day: f"{priority}#{day}"
        ), "PriorityDay"
    if status:
        if status not in FINAL_STATUSES:
            raise ValueError(f"status must be one of {', '.join(FINAL_STATUSES)}, got {status!r}")
        return Timeline(
            table, BY_STATUS_DAY, "StatusDay", directory, f"status#{status}", lambda day: f"{status}#{day}"
        ), "StatusDay"
    return Timeline(table, BY_DAY, "Day", directory, "all", lambda day: day), "Day"


def list_notifications(
    priority: str | None, status: str | None, limit: int, after: dict | None
) -> tuple[list[dict[str, Any]], dict | None]:
    """Up to `limit` history rows in a final status, newest CreatedAt first, optionally of one
    priority or one status; and the position to pass as `after` for the next page (None at
    the end). Rows hold the summary attributes the GSIs project."""
    check_page_limit(limit)
    timeline, attribute = _timeline(priority, status)
    start_key = None
    if after is not None:
        check_notification_position(after)
        start_key = {
            attribute: {"S": timeline.partition_of(after["day"])},
            "CreatedAt": {"N": str(after["created_at"])},
            "NotificationId": {"S": after["id"]},
        }
    rows, more = newest_first(
        client("dynamodb"), timeline, limit, bucket=after["day"] if after else None, start_key=start_key
    )
    if not more or not rows:
        return rows, None
    last = rows[-1]
    return rows, {"day": last["Day"], "created_at": int(last["CreatedAt"]), "id": last["NotificationId"]}


def recount_notifications(history_table: str | None = None) -> dict[str, int]:
    """The true `notifications` counter values, recomputed from the rows (a Scan: for
    `make recount`, never on a request path). Rows still `in_progress` are not counted, as
    the processor counts a row when it reaches its final status."""
    counts: dict[str, int] = {"Total": 0}
    rows: Iterator[dict[str, Any]] = scan_items(
        client("dynamodb"),
        TableName=history_table or require_env("HISTORY_TABLE"),
        ProjectionExpression="#s, #p",
        ExpressionAttributeNames={"#s": "Status", "#p": "Priority"},
    )
    for row in rows:
        status = row.get("Status")
        if status not in FINAL_STATUSES:
            continue
        counts["Total"] += 1
        counts[f"status_{status}"] = counts.get(f"status_{status}", 0) + 1
        if "Priority" in row:  # a rejected row whose priority was invalid has none
            key = f"priority_{row['Priority']}"
            counts[key] = counts.get(key, 0) + 1
    return counts
