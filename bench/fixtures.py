"""Functions and tables several groups deploy for their measurements: a function that reports
each record's latency to a queue, a table keyed as the stack's log table."""

import io
import json
import time
import uuid
import zipfile

STREAM_LATENCY_RECORDER = """
import json, os, time
import boto3
sqs = boto3.client("sqs")
def handler(event, context):
    now_ms = time.time() * 1000
    source, latencies, ids = "", [], []
    for record in event["Records"]:
        if "dynamodb" in record:
            source, written_ms = "stream", float(record["dynamodb"]["NewImage"]["t"]["N"])
        else:
            source, written_ms = "sqs", json.loads(record["body"])["t"]
        latencies.append(now_ms - written_ms)
        ids.append(record.get("messageId") or record["eventID"])
    sqs.send_message(
        QueueUrl=os.environ["RESULTS"], MessageBody=json.dumps({"source": source, "ms": latencies, "ids": ids})
    )
"""


def latency_recorder(lam, name: str, results: str) -> None:
    """The function `name` running STREAM_LATENCY_RECORDER, reporting to the queue `results`."""
    python_function(lam, name, "recorder", STREAM_LATENCY_RECORDER, timeout=30, variables={"RESULTS": results})


def python_function(lam, name: str, module: str, source: str, timeout: int, variables: dict) -> None:
    """A Python function `name` of one module (its `handler`), created and active."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{module}.py", source)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler=f"{module}.handler",
        Timeout=timeout,
        Role="arn:aws:iam::000000000000:role/bench",
        Code={"ZipFile": buffer.getvalue()},
        Environment={"Variables": variables},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)


def recorded(sqs, results: str, wanted: int, timeout: float) -> list[dict]:
    """The recorder's reports from `results` until they hold `wanted` records or `timeout` s."""
    reports: list[dict] = []
    deadline = time.monotonic() + timeout
    while sum(len(report["ids"]) for report in reports) < wanted and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=results, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            reports.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=results, ReceiptHandle=message["ReceiptHandle"])
    return reports


def create_log_table(dynamodb, prefix: str) -> str:
    """A table of the bench's own, keyed as the stack's log table; its name."""
    table = f"{prefix}-{uuid.uuid4().hex[:6]}"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "LogLevel", "KeyType": "HASH"},
            {"AttributeName": "Timestamp", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "LogLevel", "AttributeType": "S"},
            {"AttributeName": "Timestamp", "AttributeType": "N"},
        ],
    )
    return table
