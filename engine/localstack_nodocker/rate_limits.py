"""The arithmetic of API Gateway's throttling and quotas (standard library only).

Throttling is AWS's token bucket: a bucket holds at most ``burst`` tokens, starts full, and
gains ``rate`` tokens a second; a request takes one token or is refused. A quota counts a
key's requests in the current period of its usage plan (UTC days, weeks or months, shifted by
the plan's ``offset``).
"""

import datetime
import threading
from dataclasses import dataclass

QUOTA_PERIOD_DAYS = {"DAY": 1, "WEEK": 7, "MONTH": 28}  # the offsets AWS accepts: 0 .. days - 1


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "updated")

    def __init__(self, rate: float, burst: int, now: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = float(burst), now

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now

    def reshape(self, rate: float, burst: int) -> None:
        """New limits (the stage or plan was updated): tokens above the new burst are dropped."""
        self.rate, self.burst = rate, burst
        self.tokens = min(self.tokens, burst)


@dataclass
class Quota:
    """A key's requests in its current quota period (in memory: a restart starts them at 0)."""

    limit: int
    period_start: datetime.date | None = None
    used: int = 0


# Buckets and quotas are shared by the engine's request threads; a check is a few arithmetic
# steps, so one lock costs less than one per bucket would.
LOCK = threading.Lock()


def admit(buckets: list[TokenBucket], quota: Quota | None, period_start: datetime.date | None, now: float):
    """Takes a token from every bucket and counts the request in the quota, or does neither:
    None when admitted, else the first empty bucket or, when every bucket had a token, the
    exhausted quota."""
    with LOCK:
        for bucket in buckets:
            bucket.refill(now)
            if bucket.tokens < 1:
                return bucket
        if quota is not None:
            if quota.period_start != period_start:
                quota.period_start, quota.used = period_start, 0
            if quota.used >= quota.limit:
                return quota
            quota.used += 1
        for bucket in buckets:
            bucket.tokens -= 1
    return None


def quota_period_start(period: str, offset: int, now: datetime.datetime) -> datetime.date:
    """First day (UTC) of the quota period holding `now`. `offset` is the day a period starts:
    for WEEK 0 is Sunday, 1 Monday, ...; for MONTH 0 is the 1st, 1 the 2nd, ... (up to 27, so
    every month has that day). Raises ValueError for a period or offset AWS does not accept."""
    days = QUOTA_PERIOD_DAYS.get(period)
    if days is None:
        raise ValueError(f"quota period {period!r} is not DAY, WEEK or MONTH")
    if not 0 <= offset < days:
        raise ValueError(f"quota offset {offset} is outside 0..{days - 1} for period {period}")
    today = now.astimezone(datetime.UTC).date()
    if period == "DAY":
        return today
    if period == "WEEK":
        first_weekday = (offset - 1) % 7  # date.weekday(): Monday is 0, Sunday 6
        return today - datetime.timedelta(days=(today.weekday() - first_weekday) % 7)
    first_day = offset + 1
    if today.day >= first_day:
        return today.replace(day=first_day)
    previous_month = today.replace(day=1) - datetime.timedelta(days=1)
    return previous_month.replace(day=first_day)
