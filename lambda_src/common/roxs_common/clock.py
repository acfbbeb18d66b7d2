"""The one clock format of stored timestamps, and their bound."""

import datetime as dt

# The last millisecond of the year 9999, the latest instant Python's datetime (hence every
# date a row's time is shown as) can hold: the bound of every stored epoch timestamp.
LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds and offset (2026-11-28T22:46:55.123456+00:00)."""
    return dt.datetime.now(dt.UTC).isoformat()
