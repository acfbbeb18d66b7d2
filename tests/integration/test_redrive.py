"""`make redrive QUEUE=notifications`: a message that failed until it reached the dead-letter
queue is moved back once the fault is gone, and is then processed exactly once.

The fault is real: the notification processor is pointed at a topic that does not exist, so
every delivery fails and SQS moves the message to the dead-letter queue after maxReceiveCount
receives. The topic is restored, `make redrive` runs as an operator would run it, and the
history and the topic's subscriber queue show one row and one delivery.
"""

import json
import subprocess
import time
import uuid

from tests.integration.test_reliability_data import (  # noqa: F401  (fixtures)
    dead_letters,
    fast_redelivery,
    function_environment,
    history_rows,
    max_receive_count,
    notification,
    subscriber,
)
from tests.support.waiting import wait_for
from tools.stack import ROOT

RUN = uuid.uuid4().hex[:8]


def make_redrive(queue: str) -> subprocess.CompletedProcess:
    """`make redrive QUEUE=<queue>` as an operator runs it."""
    return subprocess.run(
        ["make", "--no-print-directory", "redrive", f"QUEUE={queue}"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )


def in_dead_letter_queue(aws, deployed, message_id: str) -> bool:
    """Is the message in the DLQ? (received, then made visible again at once)."""
    dlq = deployed["notifications_dlq_url"]
    found = False
    for message in (
        aws["sqs"]
        .receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=10)
        .get("Messages", [])
    ):
        found |= message["MessageId"] == message_id
        aws["sqs"].change_message_visibility(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return found


def test_a_dead_letter_is_redriven_and_processed_once(aws, deployed, fast_redelivery, subscriber):  # noqa: F811
    function = deployed["functions"]["notification_processor"]
    nid = f"{RUN}-redrive"
    with function_environment(aws, function, TOPIC_ARN=deployed["topic_arn"] + "-unreachable"):
        sent = aws["sqs"].send_message(
            QueueUrl=deployed["notifications_queue_url"], MessageBody=json.dumps(notification(nid))
        )
        wait_for(
            lambda: in_dead_letter_queue(aws, deployed, sent["MessageId"]),
            timeout=90,
            what="the poison message in the dead-letter queue",
        )
        assert not history_rows(aws, deployed, nid)
    # The fault is gone (the topic restored); the operator's command:
    started = time.monotonic()
    result = make_redrive("notifications")
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"\n{result.stdout}")
    assert "[redrive] notifications:" in result.stdout and "moved back" in result.stdout
    # The row is claimed (in_progress) before the publish and marked sent just after it.
    [row] = wait_for(
        lambda: (rows := history_rows(aws, deployed, nid)) and rows[0]["Status"]["S"] != "in_progress" and rows,
        timeout=60,
        what="the redriven notification, past its claim",
    )
    assert row["Status"]["S"] == "sent"
    wait_for(lambda: nid in subscriber.drain(), timeout=30, what="the SNS delivery")
    time.sleep(3)  # a second delivery, if the message were doubled, would arrive by now
    assert subscriber.drain()[nid] == 1  # the subscriber's counts are cumulative
    assert len(history_rows(aws, deployed, nid)) == 1
    assert not in_dead_letter_queue(aws, deployed, sent["MessageId"])
    print(f"[redrive] processed once, {time.monotonic() - started:.1f} s after `make redrive`")


def test_redrive_refuses_an_unknown_queue():
    result = make_redrive("everything")
    assert result.returncode != 0 and "usage: make redrive QUEUE=notifications|images" in result.stderr


def dead_letters_of(aws, dlq: str) -> dict[str, dict]:
    """The messages of a dead-letter queue by id (looked at, visible again)."""
    found = {}
    while messages := (
        aws["sqs"]
        .receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=30)
        .get("Messages", [])
    ):
        found.update((message["MessageId"], message) for message in messages)
    for message in found.values():
        aws["sqs"].change_message_visibility(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return found


def test_images_redrive_keeps_what_cannot_go_back_and_moves_the_rest(aws, deployed):
    """Dead letters of the image processor, a good event between bodies no processor can take:
    `make redrive QUEUE=images` hands the good one back and deletes it, keeps each bad one in
    the dead-letter queue with its reason, and exits 0 (every message handled)."""
    dlq = deployed["image_processor_dlq_url"]
    good = json.dumps({"bucket": deployed["buckets"]["original"], "key": f"{RUN}-redriven.jpg"})
    bad = {"not json": "Expecting value", "[" * 3000: "nested more than 32 levels", '{"Records": "all"}': "Records"}
    ids = {}
    for body in [*list(bad)[:2], good, *list(bad)[2:]]:
        ids[body] = aws["sqs"].send_message(QueueUrl=dlq, MessageBody=body)["MessageId"]
    result = make_redrive("images")
    print(f"\n{result.stdout}{result.stderr}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{ids[good]} -> {deployed['functions']['image_processor']}" in result.stdout
    for body, reason in bad.items():
        [line] = [line for line in result.stdout.splitlines() if ids[body] in line]
        assert "KEPT in the dead-letter queue" in line and reason in line
    left = dead_letters_of(aws, dlq)
    assert ids[good] not in left and all(ids[body] in left for body in bad)
    for body in bad:  # leave the queue as it was
        aws["sqs"].delete_message(QueueUrl=dlq, ReceiptHandle=left[ids[body]]["ReceiptHandle"])
