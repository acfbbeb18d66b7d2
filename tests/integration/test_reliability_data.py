"""Nothing lost, nothing duplicated: the three pipelines under duplicates, poison and failure,
on the deployed stack.

Runs before test_system_story (files run in name order): every attribute or setting changed
here is restored, so the story's second `tflocal plan` still shows no changes.
"""

import contextlib
import gzip
import io
import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote_plus

import pytest
from PIL import Image

from tests.support.waiting import scan_all, wait_for

RUN = uuid.uuid4().hex[:8]
REPORT: dict[str, str] = {}  # figures for the closing note, printed at the end of the module


@pytest.fixture(scope="module", autouse=True)
def report():
    yield REPORT
    print("\n[reliability] " + "\n[reliability] ".join(f"{case}: {figure}" for case, figure in REPORT.items()))


def invoke(aws, function: str, payload, **kwargs) -> dict:
    """Synchronous invoke; the decoded answer (AssertionError with the reason on a function error)."""
    response = aws["lambda"].invoke(FunctionName=function, Payload=json.dumps(payload), **kwargs)
    answer = json.loads(response["Payload"].read() or b"null")
    assert "FunctionError" not in response, answer
    return answer


# --- logs ---------------------------------------------------------------------------------------


def rows_of_batch(aws, deployed, batch_id: str) -> list[dict]:
    return scan_all(
        aws["dynamodb"],
        deployed["tables"]["logs"],
        FilterExpression="BatchId = :b",
        ExpressionAttributeValues={":b": {"S": batch_id}},
    )


def archived_records(aws, location: str) -> tuple[list[dict], dict]:
    bucket, key = location.removeprefix("s3://").split("/", 1)
    archive = aws["s3"].get_object(Bucket=bucket, Key=key)
    return json.loads(gzip.decompress(archive["Body"].read())), archive["Metadata"]


def send_logs(aws, deployed, level: str, n: int, tag: str) -> dict:
    logs = [{"level": level, "message": f"{tag} #{i}", "service": "reliability", "user_id": RUN} for i in range(n)]
    answer = invoke(aws, deployed["functions"]["log_processor"], {"logs": logs})
    return json.loads(answer["body"])


def assert_batch_stored_exactly(aws, deployed, answer: dict, level: str, n: int, tag: str) -> None:
    assert answer["logs_indexed"] == n
    rows = rows_of_batch(aws, deployed, answer["batch_id"])
    assert len(rows) == n, f"{len(rows)} index rows for {n} logs"
    assert {row["LogLevel"]["S"] for row in rows} == {level}
    assert len({row["Timestamp"]["N"] for row in rows}) == n  # n distinct keys: nothing overwritten
    assert sorted(row["Message"]["S"] for row in rows) == sorted(f"{tag} #{i}" for i in range(n))
    records, metadata = archived_records(aws, answer["storage_location"])
    assert len(records) == n and metadata["log-count"] == str(n) and metadata["batch-id"] == answer["batch_id"]
    assert sorted(record["message"] for record in records) == sorted(f"{tag} #{i}" for i in range(n))


def test_a_thousand_logs_of_one_level_in_one_batch_are_all_indexed_and_archived(aws, deployed):
    before = counters(aws, deployed, "logs")
    started = time.monotonic()
    answer = send_logs(aws, deployed, "DEBUG", 1000, f"{RUN}-single")
    took = time.monotonic() - started
    assert_batch_stored_exactly(aws, deployed, answer, "DEBUG", 1000, f"{RUN}-single")
    assert counter_change(before, counters(aws, deployed, "logs")) == {"Total": 1000, "DEBUG": 1000}
    REPORT["logs, 1 batch of 1,000 DEBUG"] = f"1000 index rows, 1000 archived records, counters +1000, {took:.1f} s"


def test_two_batches_of_one_level_sent_concurrently_are_both_stored_whole(aws, deployed):
    tags = [f"{RUN}-concurrent-a", f"{RUN}-concurrent-b"]
    spans = {}

    def send(tag):
        started = time.monotonic()
        answer = send_logs(aws, deployed, "WARN", 1000, tag)
        spans[tag] = (started, time.monotonic())
        return answer

    before = counters(aws, deployed, "logs")
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(send, tags))
    assert counter_change(before, counters(aws, deployed, "logs")) == {"Total": 2000, "WARN": 2000}

    assert answers[0]["batch_id"] != answers[1]["batch_id"]
    for answer, tag in zip(answers, tags, strict=True):
        assert_batch_stored_exactly(aws, deployed, answer, "WARN", 1000, tag)
    (a_start, a_end), (b_start, b_end) = spans[tags[0]], spans[tags[1]]
    overlap = max(0.0, min(a_end, b_end) - max(a_start, b_start))
    REPORT["logs, 2 concurrent batches of 1,000 WARN"] = (
        f"2000 index rows, 2 archives of 1000, invocations overlapped {overlap:.1f} s"
    )


# --- notifications ---------------------------------------------------------------------------------


@contextlib.contextmanager
def queue_attribute(aws, queue_url: str, name: str, value: str):
    """Set one attribute of a queue for the duration of the block, then put the old one back."""
    old = aws["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=[name])["Attributes"][name]
    aws["sqs"].set_queue_attributes(QueueUrl=queue_url, Attributes={name: value})
    try:
        yield
    finally:
        aws["sqs"].set_queue_attributes(QueueUrl=queue_url, Attributes={name: old})
        restored = aws["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=[name])["Attributes"][name]
        assert restored == old, f"{name} of {queue_url} not restored"


@pytest.fixture(scope="module")
def fast_redelivery(aws, deployed):
    """The queue's visibility timeout (6 x the function timeout = 180 s) cut to 3 s while
    this module runs, so a failed message is redelivered within seconds; restored after.
    The function is warmed first, so no delivery outlasts the short timeout by a cold start."""
    assert invoke(aws, deployed["functions"]["notification_processor"], {"Records": []}) == {"batchItemFailures": []}
    with queue_attribute(aws, deployed["notifications_queue_url"], "VisibilityTimeout", "3"):
        yield


@pytest.fixture(scope="module")
def max_receive_count(aws, deployed) -> int:
    policy = aws["sqs"].get_queue_attributes(
        QueueUrl=deployed["notifications_queue_url"], AttributeNames=["RedrivePolicy"]
    )["Attributes"]["RedrivePolicy"]
    return int(json.loads(policy)["maxReceiveCount"])


def history_rows(aws, deployed, notification_id: str) -> list[dict]:
    return aws["dynamodb"].query(
        TableName=deployed["tables"]["notifications"],
        KeyConditionExpression="NotificationId = :id",
        ExpressionAttributeValues={":id": {"S": notification_id}},
        ConsistentRead=True,
    )["Items"]


def final_rows(aws, deployed, notification_id: str) -> list[dict]:
    """The history rows of a notification once none is still being delivered (in_progress)."""
    rows = history_rows(aws, deployed, notification_id)
    return rows if rows and all(row["Status"]["S"] != "in_progress" for row in rows) else []


class Subscriber:
    """What SNS delivered to the topic's subscriber queue, counted by notification id."""

    def __init__(self, aws, queue_url: str):
        self.aws, self.queue_url, self.counts = aws, queue_url, {}

    def drain(self) -> dict[str, int]:
        while True:
            messages = (
                self.aws["sqs"]
                .receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                .get("Messages", [])
            )
            if not messages:
                return self.counts
            for message in messages:
                notification_id = json.loads(json.loads(message["Body"])["Message"])["notification_id"]
                self.counts[notification_id] = self.counts.get(notification_id, 0) + 1
                self.aws["sqs"].delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def subscriber(aws, deployed):
    return Subscriber(aws, deployed["notifications_subscriber_queue_url"])


def dead_letters(aws, deployed, wanted: set[str], timeout: float = 90) -> dict[str, dict]:
    """Wait until the messages whose SQS ids are `wanted` are in the dead-letter queue; take
    them out (received and deleted, so the queue is left as it was) and return them by id."""
    found: dict[str, dict] = {}
    dlq = deployed["notifications_dlq_url"]
    deadline = time.monotonic() + timeout
    while not wanted <= set(found):
        assert time.monotonic() < deadline, f"not in the dead-letter queue after {timeout} s: {wanted - set(found)}"
        for message in (
            aws["sqs"]
            .receive_message(
                QueueUrl=dlq,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                VisibilityTimeout=30,
            )
            .get("Messages", [])
        ):
            if message["MessageId"] in wanted:
                found[message["MessageId"]] = message
                aws["sqs"].delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
            else:  # not ours: back to the queue at once
                aws["sqs"].change_message_visibility(
                    QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
    return found


def queue_is_empty(aws, queue_url: str) -> bool:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return all(value == "0" for value in attributes.values())


def failures_logged(aws, deployed, sqs_message_id: str, since_ms: int) -> int:
    """How many times the processor reported this SQS message as failed (one per delivery)."""
    return logged(aws, deployed, "notification record failed", sqs_message_id, since_ms)


def notification(notification_id: str, **fields) -> dict:
    return {
        "notification_id": notification_id,
        "created_at_ms": int(time.time() * 1000),
        "type": "reliability",
        "recipient": "ops@roxs.com",
        "title": f"Reliability {notification_id}",
        "message": "check",
        "priority": "normal",
        **fields,
    }


def counters(aws, deployed, name: str) -> dict[str, int]:
    item = (
        aws["dynamodb"]
        .get_item(TableName=deployed["stats_table"], Key={"Counter": {"S": name}}, ConsistentRead=True)
        .get("Item", {})
    )
    return {key: int(value["N"]) for key, value in item.items() if key != "Counter" and "N" in value}


def counter_change(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        key: after.get(key, 0) - before.get(key, 0)
        for key in set(before) | set(after)
        if after.get(key, 0) != before.get(key, 0)
    }


def logged(aws, deployed, message: str, sqs_message_id: str, since_ms: int) -> int:
    """How many times the processor logged `message` for this SQS message (one per delivery)."""
    group = f"/aws/lambda/{deployed['functions']['notification_processor']}"
    count, token = 0, None
    while True:
        kwargs = {"logGroupName": group, "startTime": since_ms, **({"nextToken": token} if token else {})}
        page = aws["logs"].filter_log_events(**kwargs)
        for event in page["events"]:
            for line in event["message"].splitlines():
                if line.startswith("{") and sqs_message_id in line:
                    entry = json.loads(line)
                    count += entry.get("message") == message and entry.get("sqs_message_id") == sqs_message_id
        token = page.get("nextToken")
        if not token or not page["events"]:
            return count


def test_a_batch_of_ten_with_two_poison_messages(aws, deployed, fast_redelivery, subscriber):
    """8 good messages are sent once; the 2 poison ones can never succeed, so they are answered
    at once with a `rejected` history row (the reason, the body) and not retried; all 10 are
    accounted for, in the rows and in the counters."""
    since_ms = int(time.time() * 1000) - 1000
    before = counters(aws, deployed, "notifications")
    good = [f"{RUN}-batch-{i}" for i in range(8)]
    entries = [{"Id": f"good{i}", "MessageBody": json.dumps(notification(nid))} for i, nid in enumerate(good)]
    entries.insert(3, {"Id": "poisonjson", "MessageBody": "{this is not JSON"})
    entries.insert(
        7, {"Id": "poisonfield", "MessageBody": json.dumps(notification(f"{RUN}-poison", priority="urgent!!"))}
    )
    sent = aws["sqs"].send_message_batch(QueueUrl=deployed["notifications_queue_url"], Entries=entries)
    assert len(sent["Successful"]) == 10 and not sent.get("Failed")
    poison = {entry["Id"]: entry["MessageId"] for entry in sent["Successful"] if entry["Id"].startswith("poison")}

    started = time.monotonic()
    wait_for(lambda: all(final_rows(aws, deployed, nid) for nid in good), timeout=60, what="8 history rows")
    derived = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sqs-message:{poison['poisonjson']}"))
    [bad_json] = wait_for(lambda: history_rows(aws, deployed, derived), timeout=60, what="the not-JSON message's row")
    [bad_field] = wait_for(lambda: history_rows(aws, deployed, f"{RUN}-poison"), timeout=60, what="the bad field's row")
    wait_for(lambda: queue_is_empty(aws, deployed["notifications_queue_url"]), timeout=30, what="an empty queue")
    took = time.monotonic() - started

    for nid in good:
        [row] = history_rows(aws, deployed, nid)
        assert row["Status"]["S"] == "sent"
    assert bad_json["Status"]["S"] == "rejected" and "body is not I-JSON" in bad_json["ErrorMessage"]["S"]
    assert bad_json["Body"]["S"] == entries[3]["MessageBody"]
    assert bad_field["Status"]["S"] == "rejected" and "priority must be one of" in bad_field["ErrorMessage"]["S"]
    published = wait_for(
        lambda: (counts := subscriber.drain()) and all(n in counts for n in good) and counts,
        timeout=30,
        what="8 SNS deliveries",
    )
    assert {nid: published[nid] for nid in good} == dict.fromkeys(good, 1)  # processed once each
    assert f"{RUN}-poison" not in published
    for message_id in poison.values():  # answered on the first delivery, never retried
        assert logged(aws, deployed, "notification rejected", message_id, since_ms) == 1
        assert logged(aws, deployed, "notification record failed", message_id, since_ms) == 0
    assert not dead_letters_present(aws, deployed, set(poison.values()))
    change = counter_change(before, counters(aws, deployed, "notifications"))
    assert change == {"Total": 10, "status_sent": 8, "status_rejected": 2, "priority_normal": 9}, change
    REPORT["notifications, batch of 10 with 2 poison"] = (
        f"8 sent (1 SNS message each) + 2 rejected rows with reasons on the first delivery, none retried or "
        f"dead-lettered, counters +10 (8 sent, 2 rejected), queue empty, 0 lost ({took:.1f} s)"
    )


def dead_letters_present(aws, deployed, wanted: set[str]) -> bool:
    """Whether any of these SQS message ids is in the dead-letter queue (looked at, left there)."""
    messages = (
        aws["sqs"]
        .receive_message(
            QueueUrl=deployed["notifications_dlq_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=0
        )
        .get("Messages", [])
    )
    return any(message["MessageId"] in wanted for message in messages)


def test_the_same_message_delivered_twice_gives_one_history_row(aws, deployed, fast_redelivery, subscriber):
    """Idempotency key: notification_id (the API sets it; else derived from the SQS message id)."""
    # 1. A producer retry: two SQS messages with the same notification. The mapping may hand
    # them to two invocations at once: the second then finds the first's live claim, is
    # reported failed and comes back after the queue's visibility timeout (cut to 3 s here;
    # 180 s in the stack), to find the notification sent.
    duplicate = f"{RUN}-dup-producer"
    body = json.dumps(notification(duplicate))
    for _ in range(2):
        aws["sqs"].send_message(QueueUrl=deployed["notifications_queue_url"], MessageBody=body)
    # 2. SQS at-least-once: the very same message (same messageId) handed to the function twice.
    record = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "redelivered",
        "eventSource": "aws:sqs",
        "body": json.dumps({"title": "Redelivered", "message": "same SQS message twice", "type": "reliability"}),
        "attributes": {"SentTimestamp": str(int(time.time() * 1000)), "ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:queue",
        "awsRegion": "us-east-1",
    }
    for _ in range(2):
        answer = invoke(aws, deployed["functions"]["notification_processor"], {"Records": [record]})
        assert answer == {"batchItemFailures": []}
    derived = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sqs-message:{record['messageId']}"))

    wait_for(lambda: final_rows(aws, deployed, duplicate), timeout=60, what="the duplicate's history row")
    wait_for(lambda: queue_is_empty(aws, deployed["notifications_queue_url"]), timeout=30, what="an empty queue")
    assert len(history_rows(aws, deployed, duplicate)) == 1
    assert len(history_rows(aws, deployed, derived)) == 1
    published = wait_for(
        lambda: (c := subscriber.drain()) and duplicate in c and derived in c and c,
        timeout=30,
        what="the SNS deliveries",
    )
    assert (published[duplicate], published[derived]) == (1, 1)
    REPORT["notifications, same message twice"] = (
        "2 identical SQS messages -> 1 history row, 1 SNS message; 1 SQS record invoked twice -> 1 row, 1 SNS message"
    )


class SlowSns:
    """A test-only SNS endpoint in front of the engine: forwards every request unchanged, but
    holds the first Publish of the notification `marker` names until `release` is set, so a
    delivery can be kept inside its publish while another one runs. Counts only the
    publishes of that notification: while the function uses this endpoint it may also
    deliver other tests' messages from its queue."""

    def __init__(self, upstream: str, marker: str):
        self.upstream, self.marker, self.publishes = upstream, marker.encode(), 0
        self.first_inside, self.release = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(outer):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if b"Action=Publish" in body and outer.marker in body:
                    with outer._lock:
                        outer.publishes += 1
                        first = outer.publishes == 1
                    if first:
                        outer.first_inside.set()
                        outer.release.wait(60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(outer.upstream + self.path, data=body, method="POST", headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, data, reply_headers = response.status, response.read(), response.headers
                except urllib.error.HTTPError as error:
                    status, data, reply_headers = error.code, error.read(), error.headers
                self.send_response(status)
                for key, value in reply_headers.items():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_two_deliveries_of_one_message_started_together_publish_once(aws, deployed, subscriber):
    """Claim first, on the engine: the first delivery is held inside its SNS publish (the
    function's SNS endpoint is a slow test proxy) while the same record is delivered again.
    The second finds the live claim and is reported failed (SQS retries it later); only one
    message is published, and the retry finds it sent."""
    function = deployed["functions"]["notification_processor"]
    nid = f"{RUN}-overlap"
    record = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "overlap",
        "eventSource": "aws:sqs",
        "body": json.dumps(notification(nid)),
        "attributes": {"SentTimestamp": str(int(time.time() * 1000)), "ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:queue",
        "awsRegion": "us-east-1",
    }
    before = counters(aws, deployed, "notifications")
    proxy = SlowSns(os.environ["AWS_ENDPOINT_URL"], marker=nid)
    try:
        with function_environment(aws, function, AWS_ENDPOINT_URL_SNS=proxy.url):
            with ThreadPoolExecutor(max_workers=2) as pool:
                first = pool.submit(invoke, aws, function, {"Records": [record]})
                assert proxy.first_inside.wait(60), "the first delivery never reached SNS"
                second = pool.submit(invoke, aws, function, {"Records": [record]})
                try:
                    second_answer = second.result(timeout=45)
                finally:
                    proxy.release.set()
                first_answer = first.result(timeout=60)
    finally:
        proxy.close()

    assert first_answer == {"batchItemFailures": []}
    assert second_answer == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert proxy.publishes == 1
    [row] = history_rows(aws, deployed, nid)
    assert row["Status"]["S"] == "sent"
    # SQS's retry of the second delivery: nothing published again.
    assert invoke(aws, function, {"Records": [record]}) == {"batchItemFailures": []}
    published = wait_for(lambda: (c := subscriber.drain()) and nid in c and c, timeout=30, what="the SNS delivery")
    assert published[nid] == 1
    assert counter_change(before, counters(aws, deployed, "notifications")) == {
        "Total": 1,
        "status_sent": 1,
        "priority_normal": 1,
    }
    REPORT["notifications, 2 overlapping deliveries of one record"] = (
        "first held inside SNS publish; second refused by the live claim (retried by SQS), retry finds it sent: "
        "1 SNS message, 1 row, counters +1"
    )


@contextlib.contextmanager
def function_environment(aws, function: str, **changes):
    """Change a function's environment variables for the block, then restore them exactly."""
    lam = aws["lambda"]
    original = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": {**original, **changes}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=function)
    try:
        yield
    finally:
        lam.update_function_configuration(FunctionName=function, Environment={"Variables": original})
        lam.get_waiter("function_updated_v2").wait(FunctionName=function)
        assert lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"] == original


def test_an_sns_failure_keeps_the_message_until_it_can_be_delivered(
    aws, deployed, fast_redelivery, max_receive_count, subscriber
):
    """Publishing fails (the topic is unreachable): the message is not deleted. It is retried,
    then kept in the dead-letter queue; replayed once SNS works again, it is delivered once."""
    function = deployed["functions"]["notification_processor"]
    missing_topic = deployed["topic_arn"] + "-unreachable"
    nid = f"{RUN}-sns-down"
    since_ms = int(time.time() * 1000) - 1000
    started = time.monotonic()
    with function_environment(aws, function, TOPIC_ARN=missing_topic):
        sent = aws["sqs"].send_message(
            QueueUrl=deployed["notifications_queue_url"], MessageBody=json.dumps(notification(nid))
        )
        [kept] = dead_letters(aws, deployed, {sent["MessageId"]}).values()
        assert not history_rows(aws, deployed, nid)  # nothing recorded as sent
    assert failures_logged(aws, deployed, sent["MessageId"], since_ms) == max_receive_count

    # SNS is back: replay the dead letter (what an operator's redrive does).
    aws["sqs"].send_message(QueueUrl=deployed["notifications_queue_url"], MessageBody=kept["Body"])
    [row] = wait_for(lambda: final_rows(aws, deployed, nid), timeout=60, what="the replayed notification")
    assert row["Status"]["S"] == "sent"
    published = wait_for(lambda: (c := subscriber.drain()) and nid in c and c, timeout=30, what="the SNS delivery")
    assert published[nid] == 1
    REPORT["notifications, SNS publish failing"] = (
        f"message not deleted: {max_receive_count} deliveries, then in the DLQ with its body; "
        f"replayed after recovery -> 1 row, 1 SNS message ({time.monotonic() - started:.1f} s)"
    )


# --- images ---------------------------------------------------------------------------------------


def jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 140, 60)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def forty_megapixel_jpeg() -> bytes:
    image = Image.linear_gradient("L").resize((7300, 5480)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def image_rows(aws, deployed, key: str) -> list[dict]:
    return scan_all(
        aws["dynamodb"],
        deployed["tables"]["images"],
        FilterExpression="OriginalKey = :key",
        ExpressionAttributeValues={":key": {"S": key}},
    )


def keys_ending_with(aws, bucket: str, prefix: str, suffix: str) -> list[str]:
    keys = []
    for page in aws["s3"].get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [obj["Key"] for obj in page.get("Contents", []) if obj["Key"].endswith(suffix)]
    return keys


def s3_event(bucket: str, keys: list[str]) -> dict:
    """An ObjectCreated notification as S3 sends it (keys URL-encoded, '+' for spaces)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key)},
                },
            }
            for key in keys
        ]
    }


IMAGE_CASES = {
    # name: (key, expected status, reason in ErrorMessage)
    "0-byte object": ("empty.jpg", "error", "empty"),
    "truncated JPEG": ("truncated.jpg", "error", "could not be decoded"),
    "text file named .jpg": ("notes.jpg", "error", "not a recognised image"),
    "40-megapixel JPEG": ("forty-megapixels.jpg", "completed", None),
    "key with spaces and unicode": ("fotos del año/café ☕ 北京 + más.jpg", "completed", None),
}


@pytest.fixture(scope="module")
def image_uploads(aws, deployed):
    bucket = deployed["buckets"]["original"]
    bodies = {
        "0-byte object": b"",
        "truncated JPEG": jpeg(640, 480)[:2000],
        "text file named .jpg": b"this is a shopping list, not a picture\n",
        "40-megapixel JPEG": forty_megapixel_jpeg(),
        "key with spaces and unicode": jpeg(320, 200),
    }
    keys = {case: f"reliability/{RUN}/{key}" for case, (key, _, _) in IMAGE_CASES.items()}
    started = time.monotonic()
    for case, key in keys.items():
        aws["s3"].put_object(Bucket=bucket, Key=key, Body=bodies[case], ContentType="image/jpeg")
    rows = {
        case: wait_for(lambda key=key: image_rows(aws, deployed, key), timeout=90, what=f"the row of {case}")
        for case, key in keys.items()
    }
    return keys, bodies, rows, time.monotonic() - started


@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_each_awkward_object_gets_a_completed_or_a_clear_error_row(aws, deployed, image_uploads, case):
    keys, bodies, rows, _ = image_uploads
    _, status, reason = IMAGE_CASES[case]
    [row] = rows[case]
    assert row["Status"]["S"] == status, row
    assert int(row["OriginalSize"]["N"]) == len(bodies[case])
    if status == "error":
        assert reason in row["ErrorMessage"]["S"]
        assert "ProcessedKey" not in row
    else:
        assert aws["s3"].head_object(Bucket=deployed["buckets"]["processed"], Key=row["ProcessedKey"]["S"])
        assert aws["s3"].head_object(Bucket=deployed["buckets"]["thumbnails"], Key=row["ThumbnailKey"]["S"])
    if case == "40-megapixel JPEG":
        assert (int(row["Width"]["N"]), int(row["Height"]["N"])) == (7300, 5480)


def test_the_same_object_created_event_twice_gives_one_row_and_one_set_of_outputs(aws, deployed, image_uploads):
    """The real S3 notification, then the same event delivered twice more, synchronously:
    ImageId = uuid5(bucket, key, ETag), so every delivery rewrites the same row and outputs."""
    keys, _, rows, upload_seconds = image_uploads
    function = deployed["functions"]["image_processor"]
    timeout = aws["lambda"].get_function_configuration(FunctionName=function)["Timeout"]
    event = s3_event(deployed["buckets"]["original"], list(keys.values()))
    durations = []
    for _ in range(2):
        started = time.monotonic()
        summary = invoke(aws, function, event)  # no FunctionError: the function did not crash
        durations.append(time.monotonic() - started)
        assert durations[-1] < timeout
        by_key = {item["key"]: item for item in summary["processed"] + summary["failed"]}
        for case, key in keys.items():
            assert by_key[key]["image_id"] == rows[case][0]["ImageId"]["S"]  # the same deterministic id
        assert len(summary["processed"]) == 2 and len(summary["failed"]) == 3

    for case, key in keys.items():
        assert len(image_rows(aws, deployed, key)) == 1, case
        outputs = 1 if IMAGE_CASES[case][1] == "completed" else 0
        assert len(keys_ending_with(aws, deployed["buckets"]["processed"], "processed/", key)) == outputs, case
        assert len(keys_ending_with(aws, deployed["buckets"]["thumbnails"], "thumbnails/", key)) == outputs, case
    REPORT["images, same event 3 times (S3 + 2 replays)"] = (
        f"1 row and 1 set of outputs per object; replays of all 5 objects took "
        f"{', '.join(f'{d:.1f} s' for d in durations)} (timeout {timeout} s)"
    )
    REPORT["images, 5 awkward objects"] = (
        "0-byte, truncated JPEG, text .jpg -> error rows with reasons; 40 MP JPEG and unicode key -> completed; "
        f"all rows within {upload_seconds:.1f} s of upload"
    )


def test_no_image_event_failed_or_timed_out(aws, deployed, image_uploads):
    """Nothing reached the image processor's dead-letter queue (no invocation failed after its
    retries), and its log has no timeout and no unhandled error."""
    dlq = deployed["image_processor_dlq_url"]
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    group = f"/aws/lambda/{deployed['functions']['image_processor']}"
    events, token = [], None
    while True:
        page = aws["logs"].filter_log_events(logGroupName=group, **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token or not page["events"]:
            break
    bad = [e["message"] for e in events if "Task timed out" in e["message"] or "[ERROR]" in e["message"]]
    assert not bad, bad[:3]
