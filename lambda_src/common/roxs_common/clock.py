"""The one clock format of stored timestamps."""

import datetime as dt


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds and offset (2026-11-28T22:46:55.123456+00:00)."""
    return dt.datetime.now(dt.UTC).isoformat()
