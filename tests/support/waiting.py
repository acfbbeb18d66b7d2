"""Waiting for asynchronous results without fixed sleeps: tools/waiting.py's ``wait_for``
(the one polling loop, shared with the tools), and reading a table whole once it is there."""

from tools.waiting import wait_for

__all__ = ["scan_all", "wait_for"]


def scan_all(dynamodb, table: str, **kwargs) -> list[dict]:
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, **kwargs):
        items.extend(page["Items"])
    return items
