"""Group event-sources: SQS mappings under a backlog and after idling, and `make demo`'s
notification path."""

import concurrent.futures
import json
import statistics
import time
import uuid

import boto3

from bench.fixtures import latency_recorder, recorded
from bench.harness import (
    percentile,
    row,
    timed,
)
from localstack_nodocker import event_concurrency


def mapped_queue(lam, sqs, name: str, function: str, **mapping) -> tuple[str, str]:
    """(queue URL, mapping UUID): a queue `name` mapped to `function`, the mapping enabled."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    uuid_ = lam.create_event_source_mapping(FunctionName=function, EventSourceArn=arn, **mapping)["UUID"]
    deadline = time.monotonic() + 60
    while lam.get_event_source_mapping(UUID=uuid_)["State"] != "Enabled" and time.monotonic() < deadline:
        time.sleep(0.2)
    return url, uuid_


def sqs_record(body: dict) -> dict:
    """An SQS record as a mapping hands it to a function (what the recorder reads of it)."""
    return {"messageId": str(uuid.uuid4()), "body": json.dumps(body), "eventSource": "aws:sqs"}


def bench_sqs_backlog(lam, messages: int = 1000) -> None:
    """`messages` sent at once to a queue mapped (BatchSize 10) to a trivial function: send →
    function latency, each message delivered once; baseline: the same batches, all there at
    once, as direct Invokes, as many at a time as the engine's bound on event deliveries (the
    floor a mapping could reach on this machine)."""
    sqs, run = boto3.client("sqs"), uuid.uuid4().hex[:6]
    results = sqs.create_queue(QueueName=f"bench-backlog-results-{run}")["QueueUrl"]
    name = f"bench-backlog-{run}"
    latency_recorder(lam, name, results)
    source, mapping = mapped_queue(lam, sqs, f"bench-backlog-{run}", name, BatchSize=10)
    sqs.send_message(QueueUrl=source, MessageBody=json.dumps({"t": time.time() * 1000}))
    recorded(sqs, results, 1, 60)  # the poller running and the function warm before measuring
    for start in range(0, messages, 10):
        now_ms = time.time() * 1000
        sqs.send_message_batch(
            QueueUrl=source,
            Entries=[{"Id": str(n), "MessageBody": json.dumps({"t": now_ms})} for n in range(start, start + 10)],
        )
    reports = recorded(sqs, results, messages, 180)
    lam.delete_event_source_mapping(UUID=mapping)
    latencies = [ms for report in reports for ms in report["ms"]]
    ids = [message_id for report in reports for message_id in report["ids"]]

    # the floor: the same batches, all there at once, invoked as fast as the engine's bound allows
    bound = event_concurrency.engine_bound()  # the bench's engine has this shell's environment
    sent_ms = time.time() * 1000
    payloads = [json.dumps({"Records": [sqs_record({"t": sent_ms}) for _ in range(10)]}) for _ in range(messages // 10)]
    with concurrent.futures.ThreadPoolExecutor(bound) as pool:
        list(pool.map(lambda payload: lam.invoke(FunctionName=name, Payload=payload)["Payload"].read(), payloads))
    floor = [ms for report in recorded(sqs, results, messages, 120) for ms in report["ms"]]
    lam.delete_function(FunctionName=name)
    for queue in (source, results):
        sqs.delete_queue(QueueUrl=queue)
    once = len(ids) == len(set(ids)) == messages
    p50, p99 = (percentile(latencies, 0.5), percentile(latencies, 0.99)) if latencies else (float("nan"),) * 2
    row(
        f"SQS → function ({messages} messages at once)",
        f"p50 {p50 / 1000:.2f} s, p99 {p99 / 1000:.2f} s; {len(set(ids))}/{messages} delivered, "
        f"{len(ids) - len(set(ids))} twice",
        f"direct Invokes, {bound} at once: p50 {percentile(floor, 0.5) / 1000:.2f} s, "
        f"p99 {percentile(floor, 0.99) / 1000:.2f} s",
        "p99 < 5 s, all once",
        once and p99 < 5000,
        p50_ms=p50,
        p99_ms=p99,
        delivered=len(set(ids)),
        duplicates=len(ids) - len(set(ids)),
        floor_p50_ms=percentile(floor, 0.5),
        floor_p99_ms=percentile(floor, 0.99),
    )


def bench_idle_queues(lam, queues: int = 20, idle_s: float = 60, before_measuring=lambda: None) -> None:
    """The first message on each of `queues` mapped queues idle for `idle_s` seconds: send →
    function latency; baseline: the same once more at once after (a queue that just delivered).
    `before_measuring` runs when the idle time is over, before the first message."""
    sqs, run = boto3.client("sqs"), uuid.uuid4().hex[:6]
    results = sqs.create_queue(QueueName=f"bench-idle-results-{run}")["QueueUrl"]
    name = f"bench-idle-{run}"
    latency_recorder(lam, name, results)
    mapped = [mapped_queue(lam, sqs, f"bench-idle-{run}-{n}", name, BatchSize=10) for n in range(queues)]

    def first_message_each() -> list[float]:
        latencies = []
        for url, _ in mapped:  # one at a time: each measures its own poller, not the others'
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"t": time.time() * 1000}))
            latencies.extend(ms for report in recorded(sqs, results, 1, 60) for ms in report["ms"])
        return latencies

    first_message_each()  # every poller running and the function warm
    time.sleep(idle_s)
    before_measuring()
    idle = first_message_each()
    busy = first_message_each()
    for url, mapping in mapped:
        lam.delete_event_source_mapping(UUID=mapping)
        sqs.delete_queue(QueueUrl=url)
    lam.delete_function(FunctionName=name)
    sqs.delete_queue(QueueUrl=results)
    p50 = percentile(idle, 0.5) if len(idle) == queues else float("inf")
    row(
        f"first message on a queue idle {idle_s:.0f} s (p50 of {queues})",
        f"p50 {p50:.0f} ms, max {max(idle, default=float('inf')):.0f} ms ({len(idle)}/{queues} arrived)",
        f"queue that just delivered: p50 {percentile(busy, 0.5):.0f} ms",
        "p50 < 500 ms",
        p50 < 500,
        p50_ms=p50,
        busy_p50_ms=percentile(busy, 0.5),
    )


def bench_demo_notification(runs: int = 5) -> None:
    """`make demo`'s notification step (API POST → SQS → function → SNS → subscribed queue, then
    the history row): the demo as `make demo` runs it, then the step `runs - 1` times more.
    Baseline: one API request alone."""
    from tools.demo import Demo

    demo = Demo()
    demo.run()
    notification_steps = [step for step in demo.steps if step.title == "Send a notification through the API"]
    for _ in range(runs - 1):
        demo.step(notification_steps[0].title, demo.send_notification)
        notification_steps.append(demo.steps[-1])
    seconds = [step.seconds for step in notification_steps]
    failed = [step for step in demo.steps if not step.passed]
    api_ms = [timed(demo.api, "GET", "/notifications?limit=1")[0] * 1000 for _ in range(runs)]
    row(
        "make demo's notification step",
        f"in the demo {seconds[0]:.2f} s, again: median {statistics.median(seconds[1:]):.2f} s"
        + (f" ({len(failed)} steps FAILED)" if failed else ""),
        f"one API request alone (the step makes two): median {statistics.median(api_ms):.0f} ms",
        "< 2 s",
        not failed and max(seconds) < 2,
        seconds=seconds,
    )


def group(context: dict, args) -> None:
    lam = boto3.client("lambda")
    bench_sqs_backlog(lam)
    # the stack's notification queue is idle too while the row's queues wait: the demo runs then
    bench_idle_queues(lam, before_measuring=bench_demo_notification)
