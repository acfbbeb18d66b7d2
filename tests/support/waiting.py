"""Waiting for asynchronous results without fixed sleeps: tools/waiting.py's ``wait_for``
(the one polling loop, shared with the tools), and reading a table whole once it is there."""

from tools.waiting import wait_for

__all__ = ["function_logged", "scan_all", "wait_for"]


def scan_all(dynamodb, table: str, **kwargs) -> list[dict]:
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, **kwargs):
        items.extend(page["Items"])
    return items


def function_logged(logs, function_name: str, pattern: str, what: str, timeout: float = 15) -> list[dict]:
    """The events of the function's log group matching ``pattern``, once there are some. The
    engine ships a function's logs after its invocation answers and creates the log group with
    the first batch, so until then FilterLogEvents answers ResourceNotFoundException."""

    def logged():
        try:
            return logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}", filterPattern=pattern)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None

    return wait_for(logged, timeout=timeout, interval=0.5, what=what)
