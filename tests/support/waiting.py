"""Waiting for asynchronous results without fixed sleeps."""

import time


def wait_for(probe, timeout: float = 30, interval: float = 0.3, what: str = "condition"):
    """Call probe() until it returns something truthy; that value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def scan_all(dynamodb, table: str, **kwargs) -> list[dict]:
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, **kwargs):
        items.extend(page["Items"])
    return items
