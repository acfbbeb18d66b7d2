"""Stand-ins for the table owners' listings (APP.md's contract), for the API's own tests:

    list_*(table, **filters, limit, after) -> (rows newest first, position or None)
    check_*_position(after) -> None, ValueError with the reason when malformed

Rows are held in memory; a position is {"index": <next row>}. The calls are recorded, so a
test sees exactly what the API asked for.
"""

import sys
import types
from typing import Any

# (module, list function, check function) of each listing the API uses.
LISTINGS = {
    "images": ("roxs_common.image_index", "list_images", "check_image_position"),
    "logs": ("roxs_common.log_index", "list_logs", "check_log_position"),
    "notifications": ("roxs_common.notifications", "list_notifications", "check_notification_position"),
}


class StandIn:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.filter_fields: dict[str, str] = {}  # filter name -> row attribute
        self.calls: list[dict[str, Any]] = []

    def check(self, after: Any) -> None:
        if not isinstance(after, dict) or set(after) != {"index"}:
            raise ValueError("a position is {'index': n}")
        if not isinstance(after["index"], int) or isinstance(after["index"], bool) or after["index"] < 1:
            raise ValueError("index must be a positive integer")

    def list(self, table: str, *, limit: int, after: dict | None, **filters: Any):
        if after is not None:
            self.check(after)
        self.calls.append({"table": table, "limit": limit, "after": after, **filters})
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
    for name, (module_name, list_name, check_name) in LISTINGS.items():
        stand_in = StandIn()
        module = types.ModuleType(module_name)
        setattr(module, list_name, stand_in.list)
        setattr(module, check_name, stand_in.check)
        monkeypatch.setitem(sys.modules, module_name, module)
        stand_ins[name] = stand_in
    return stand_ins
