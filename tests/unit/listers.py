"""Stand-ins for the table owners' listings (their contract is in docs/interfaces.md), for the API's own tests:

    list_*(*filters, limit, after) -> (rows newest first, position or None)
    check_*_position(after[, filter]) -> None, ValueError with the reason when malformed

with the filters in the owners' order: images (status), logs (level), notifications
(priority, status), and the statuses a filter may name.

Rows are held in memory; a position is {"index": <next row>}. The calls are recorded, so a
test sees exactly what the API asked for.
"""

import sys
import types
from typing import Any

# (module, list function, check function, filters, constants) of each listing the API uses.
LISTINGS = {
    "images": (
        "roxs_common.image_index",
        "list_images",
        "check_image_position",
        ("status",),
        {"STATUSES": ("completed", "error", "rejected")},
    ),
    "logs": ("roxs_common.log_index", "list_logs", "check_log_position", ("level",), {}),
    "notifications": (
        "roxs_common.notifications",
        "list_notifications",
        "check_notification_position",
        ("priority", "status"),
        {"FINAL_STATUSES": ("sent", "rejected")},
    ),
}


class StandIn:
    def __init__(self, filter_names: tuple[str, ...]) -> None:
        self.filter_names = filter_names
        self.rows: list[dict[str, Any]] = []
        self.filter_fields: dict[str, str] = {}  # filter name -> row attribute
        self.calls: list[dict[str, Any]] = []

    def check(self, after: Any, *filters: Any) -> None:
        # The filters a real check takes (a log position's level) do not shape these positions.
        if not isinstance(after, dict) or set(after) != {"index"}:
            raise ValueError("a position is {'index': n}")
        if not isinstance(after["index"], int) or isinstance(after["index"], bool) or after["index"] < 1:
            raise ValueError("index must be a positive integer")

    def list(self, *arguments: Any):
        *values, limit, after = arguments
        filters = dict(zip(self.filter_names, values, strict=True))
        if after is not None:
            self.check(after)
        self.calls.append({"limit": limit, "after": after, **filters})
        rows = [
            row
            for row in self.rows
            if all(value is None or row.get(self.filter_fields[name]) == value for name, value in filters.items())
        ]
        start = after["index"] if after else 0
        page = rows[start : start + limit]
        return page, ({"index": start + limit} if start + limit < len(rows) else None)


def install(monkeypatch) -> dict[str, StandIn]:
    """A StandIn per listing, put where the API imports the real ones from."""
    stand_ins = {}
    for name, (module_name, list_name, check_name, filter_names, constants) in LISTINGS.items():
        stand_in = StandIn(filter_names)
        module = types.ModuleType(module_name)
        setattr(module, list_name, stand_in.list)
        setattr(module, check_name, stand_in.check)
        for constant, value in constants.items():
            setattr(module, constant, value)
        monkeypatch.setitem(sys.modules, module_name, module)
        stand_ins[name] = stand_in
    return stand_ins
