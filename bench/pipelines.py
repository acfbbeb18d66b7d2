"""Group pipelines: the stack's pipelines end to end (stream records, image uploads,
notifications, log batches), the API after them, and the engine's memory."""

import concurrent.futures
import io
import json
import os
import time
import uuid

import boto3

from bench.api import bench_api
from bench.fixtures import create_log_table, latency_recorder, python_function
from bench.harness import (
    engine_pid,
    percentile,
    process_rss_mb,
    row,
    timed,
    worker_rss_mb,
)
from tools import stack
from tools.http import call


def bench_streams(lam, writes: int = int(os.environ.get("BENCH_STREAM_WRITES", "1000"))) -> None:
    """DynamoDB stream record → function latency, against SQS message → function, interleaved."""
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    run = uuid.uuid4().hex[:6]
    table = dynamodb.create_table(
        TableName=f"bench-stream-{run}",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]
    source = sqs.create_queue(QueueName=f"bench-stream-source-{run}")["QueueUrl"]
    results = sqs.create_queue(QueueName=f"bench-stream-results-{run}")["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = f"bench-stream-{run}"
    latency_recorder(lam, name, results)
    mappings = [
        lam.create_event_source_mapping(
            FunctionName=name, EventSourceArn=table["LatestStreamArn"], StartingPosition="TRIM_HORIZON", BatchSize=100
        )["UUID"],
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn, BatchSize=10)["UUID"],
    ]
    latencies: dict[str, list[float]] = {"stream": [], "sqs": []}

    def collect(wanted: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while min(map(len, latencies.values())) < wanted and time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=results, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            ):
                body = json.loads(message["Body"])
                latencies[body["source"]].extend(body["ms"])
                sqs.delete_message(QueueUrl=results, ReceiptHandle=message["ReceiptHandle"])

    def write(key: str) -> None:
        now_ms = time.time() * 1000
        dynamodb.put_item(TableName=table["TableName"], Item={"pk": {"S": key}, "t": {"N": f"{now_ms:.3f}"}})
        sqs.send_message(QueueUrl=source, MessageBody=json.dumps({"t": time.time() * 1000}))

    write("warm-up")  # both pollers running and the worker warm before measuring
    collect(1, 60)
    latencies = {"stream": [], "sqs": []}
    for n in range(writes):
        write(str(n))
    collect(writes, 120)
    for mapping in mappings:
        lam.delete_event_source_mapping(UUID=mapping)
    lam.delete_function(FunctionName=name)
    dynamodb.delete_table(TableName=table["TableName"])
    for queue in (source, results):
        sqs.delete_queue(QueueUrl=queue)
    stream, queue = latencies["stream"], latencies["sqs"]
    if not stream or not queue:
        row(
            f"stream record → function ({writes} writes)",
            f"{len(stream)}/{writes} records arrived",
            "",
            "p50 < 1 s",
            False,
        )
        return
    p50 = percentile(stream, 0.5)
    row(
        f"stream record → function ({writes} writes)",
        f"p50 {p50:.0f} ms, p99 {percentile(stream, 0.99):.0f} ms ({len(stream)}/{writes} arrived)",
        f"SQS → function p50 {percentile(queue, 0.5):.0f} ms, p99 {percentile(queue, 0.99):.0f} ms",
        "p50 < 1 s",
        p50 < 1000 and len(stream) == writes,
        p50_ms=p50,
        p99_ms=percentile(stream, 0.99),
        sqs_p50_ms=percentile(queue, 0.5),
        sqs_p99_ms=percentile(queue, 0.99),
    )


def bench_images(outputs, uploads: int, target_s: float | None) -> None:
    """`uploads` JPEGs put at concurrency 10 until each has its row; baseline: the same Pillow
    work in this process. Rows are counted by their key items (RoxsImageKeys: the row's id is
    written there in the row's own transaction): a Scan of the metadata table per poll would
    cost the engine more with every row, and slow what it measures."""
    from PIL import Image

    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    run = uuid.uuid4().hex[:6]
    bodies = []
    for n in range(uploads):
        buffer = io.BytesIO()
        Image.new("RGB", (800, 600), (n % 256, 100, 200)).save(buffer, "JPEG", quality=85)
        bodies.append(buffer.getvalue())

    # baseline: the same Pillow work in this process (decode, transpose, re-encode, thumbnail)
    def pillow_work(body: bytes) -> None:
        from PIL import ImageOps

        image = ImageOps.exif_transpose(Image.open(io.BytesIO(body)))
        image.save(io.BytesIO(), "JPEG", quality=85)
        image.thumbnail((128, 128))
        image.save(io.BytesIO(), "JPEG")

    baseline, _ = timed(lambda: [pillow_work(body) for body in bodies])
    bucket, keys_table = outputs["buckets"]["original"], outputs["state_tables"]["image_keys"]
    waiting = [{"ObjectRef": {"S": f"image#{bucket}/bench/{run}/{n}.jpg"}} for n in range(uploads)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        list(
            pool.map(
                lambda n: s3.put_object(
                    Bucket=bucket, Key=f"bench/{run}/{n}.jpg", Body=bodies[n], ContentType="image/jpeg"
                ),
                range(uploads),
            )
        )

    def still_waiting(keys: list[dict]) -> list[dict]:
        left = []
        for start in range(0, len(keys), 100):
            request = {keys_table: {"Keys": keys[start : start + 100], "ProjectionExpression": "ObjectRef, ImageId"}}
            while request:
                answer = dynamodb.batch_get_item(RequestItems=request)
                done = {item["ObjectRef"]["S"] for item in answer["Responses"][keys_table] if "ImageId" in item}
                left += [key for key in request[keys_table]["Keys"] if key["ObjectRef"]["S"] not in done]
                request = answer.get("UnprocessedKeys") or None
                if request:
                    left = [key for key in left if key not in request[keys_table]["Keys"]]
        return left

    while waiting and time.perf_counter() - started < 60 + uploads * 0.5:
        waiting = still_waiting(waiting)
        time.sleep(0.25)
    elapsed = time.perf_counter() - started
    done = uploads - len(waiting)
    row(
        f"image pipeline ({uploads:,} uploads)",
        f"{done:,}/{uploads:,} rows in {elapsed:.1f} s",
        f"same Pillow work in-process {baseline:.1f} s",
        "report" if target_s is None else f"≤ {target_s:g} s",
        None if target_s is None else done == uploads and elapsed <= target_s,
        uploads_per_s=done / elapsed,
    )


def bench_notifications(outputs, requests: int = 1_000) -> None:
    """API POST /notifications → history row `sent`, at concurrency 10: each latency from the
    POST's start to the row's ProcessedAt (written when the row becomes `sent`); every SNS
    message the subscriber queue got, counted per notification. Baseline: the POST's own answer."""
    import datetime

    url, history = outputs.api_url, outputs["tables"]["notifications"]
    sqs, dynamodb = boto3.client("sqs"), boto3.client("dynamodb")
    subscriber = outputs["notifications_subscriber_queue_url"]
    body = {"type": "info", "title": "bench", "message": "bench notification", "recipient": "bench@example.com"}

    def post(_) -> tuple[float, float, str | None]:
        started = time.time()
        reply = call(url, "POST", "/notifications", body)
        ok = reply.status == 202 and isinstance(reply.body, dict)
        return started, time.time() - started, reply.body.get("notification_id") if ok else None

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        posted = list(pool.map(post, range(requests)))
    started_at = {nid: at for at, _, nid in posted if nid}
    answers = [seconds * 1000 for _, seconds, _ in posted]
    # Each notification's SNS message on the subscriber queue says its row is about to be
    # `sent`: only those rows are read (a read per notification, not per poll).
    sent_at: dict[str, float] = {}
    published: dict[str, int] = {}

    def receive() -> int:
        messages = sqs.receive_message(QueueUrl=subscriber, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for message in messages:
            nid = json.loads(json.loads(message["Body"])["Message"]).get("notification_id")
            if nid in started_at:
                published[nid] = published.get(nid, 0) + 1
            sqs.delete_message(QueueUrl=subscriber, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def read_sent(nid: str) -> None:
        items = dynamodb.query(
            TableName=history,
            KeyConditionExpression="NotificationId = :n",
            ExpressionAttributeValues={":n": {"S": nid}},
        )["Items"]
        if items and items[0].get("Status", {}).get("S") == "sent":
            sent_at[nid] = datetime.datetime.fromisoformat(items[0]["ProcessedAt"]["S"]).timestamp()

    deadline = time.monotonic() + 120 + requests * 0.2
    while len(sent_at) < len(started_at) and time.monotonic() < deadline:
        receive()
        for nid in [nid for nid in published if nid not in sent_at]:
            read_sent(nid)
    quiet = 0
    while quiet < 3:  # a second publication would arrive with the others
        quiet = 0 if receive() else quiet + 1
    latencies = [(sent_at[nid] - started_at[nid]) * 1000 for nid in sent_at]
    lost = requests - len(sent_at)
    twice = sum(count > 1 for count in published.values())
    p50, p99 = (percentile(latencies, 0.5), percentile(latencies, 0.99)) if latencies else (0, 0)
    row(
        f"notification pipeline ({requests:,} POSTs, conc. 10)",
        f"POST → sent p50 {p50:.0f} ms, p99 {p99:.0f} ms; {lost} lost, {twice} published twice, "
        f"{len(published)} published",
        f"POST answered p50 {percentile(answers, 0.5):.0f} ms, p99 {percentile(answers, 0.99):.0f} ms",
        "p99 < 3 s, none lost or twice",
        bool(latencies) and p99 < 3000 and lost == 0 and twice == 0 and len(published) == requests,
    )


SEED_LOG_PROCESSOR = """
import os, time, uuid
import boto3
dynamodb = boto3.client("dynamodb")
def handler(event, context):
    # the tutorial's approach: one put_item per log, with the tutorial's item (nanosecond
    # timestamps here so that no row overwrites another and both sides store every record)
    batch_id = str(uuid.uuid4())
    for entry in event["logs"]:
        dynamodb.put_item(TableName=os.environ["TABLE"], Item={
            "LogLevel": {"S": entry["level"].upper()}, "Timestamp": {"N": str(time.time_ns())},
            "LogId": {"S": str(uuid.uuid4())}, "Message": {"S": entry["message"][:100]},
            "Service": {"S": entry["service"]}, "UserId": {"S": entry["user_id"]}, "BatchId": {"S": batch_id}})
    return {"count": len(event["logs"])}
"""


def bench_logs(lam, outputs) -> None:
    logs = [
        {"level": "INFO", "message": f"bench record {n}", "service": "bench", "user_id": "bench"} for n in range(10_000)
    ]
    ours, response = timed(
        lam.invoke, FunctionName=outputs["functions"]["log_processor"], Payload=json.dumps({"logs": logs}).encode()
    )
    ok = "FunctionError" not in response
    response["Payload"].read()
    # the baseline writes into a table of its own, so the stack's data stays the stack's
    dynamodb = boto3.client("dynamodb")
    table = create_log_table(dynamodb, "bench-seed")
    name = f"bench-seed-logs-{uuid.uuid4().hex[:6]}"
    python_function(lam, name, "seed", SEED_LOG_PROCESSOR, timeout=300, variables={"TABLE": table})
    seed_count = 1_000  # one request per record: enough for a rate, without minutes of waiting
    seed, _ = timed(lam.invoke, FunctionName=name, Payload=json.dumps({"logs": logs[:seed_count]}).encode())
    lam.delete_function(FunctionName=name)
    dynamodb.delete_table(TableName=table)
    our_rate, seed_rate = len(logs) / ours, seed_count / seed
    row(
        "log ingestion (10,000 records)",
        f"{ours:.1f} s = {our_rate:,.0f} records/s" + ("" if ok else " (FAILED)"),
        f"put_item per log {seed_rate:,.0f} records/s",
        "≥ 10× baseline",
        ok and our_rate >= 10 * seed_rate,
        speedup=our_rate / seed_rate,
    )


def bench_memory(idle_rss: float | None) -> None:
    pid = engine_pid()
    if not pid:
        return
    workers = worker_rss_mb(pid)
    engine_rss = process_rss_mb(pid)
    row(
        "memory after the run",
        f"engine {engine_rss:.0f} MB, largest worker {max(workers, default=0):.0f} MB ({len(workers)} workers)",
        f"idle engine {idle_rss:.0f} MB" if idle_rss else "-",
        "engine < 400 MB",
        engine_rss < 400,
    )


def group(context: dict, args) -> None:
    lam, outputs = boto3.client("lambda"), stack.outputs()
    bench_streams(lam)
    bench_images(outputs, 100, target_s=6)
    bench_images(outputs, 1_000, target_s=None)
    bench_notifications(outputs)
    bench_logs(lam, outputs)
    bench_api(outputs, "after 10,000 logs")
    bench_memory(context.get("idle_rss_mb"))
