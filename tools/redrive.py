"""Move dead letters back to where they are processed, and print what moved.

    python -m tools.redrive notifications   (make redrive QUEUE=notifications)
    python -m tools.redrive images          (make redrive QUEUE=images)

notifications: the notifications queue's dead-letter queue -> the notifications queue, with
SQS StartMessageMoveTask (SQS moves the messages itself; nothing is received here). Where the
engine does not offer the operation, receive-and-send: each message is sent to the queue and
only then deleted from the dead-letter queue by its receipt handle.

images: the image processor's dead-letter queue holds the S3 events of asynchronous
invocations that failed every attempt. There is no source queue to move them to (SQS refuses
a move task for a queue that is no queue's dead-letter queue), so each event is handed back
to the image processor as an asynchronous invocation, and only then deleted.

Nothing is lost: a message leaves the dead-letter queue only after its copy was accepted.
A crash between the two steps leaves the message in the dead-letter queue as well (it is
visible again after VISIBILITY_S), so a second run would deliver it again. Both consumers
absorb that repeat: the notification history row is a conditional put keyed by the
notification id, and the image processor derives the image id from bucket, key and ETag.
"""

import json
import sys
import time
from dataclasses import dataclass, field

import boto3
from botocore.exceptions import ClientError

from tools.stack import StackError, outputs

QUEUES = ("notifications", "images")
# Long enough to send or invoke a batch of ten; a crashed run's messages return after this.
VISIBILITY_S = 60
MOVE_TASK_TIMEOUT_S = 120
# What an engine without message move tasks answers (AWS offers them since 2023).
UNSUPPORTED = {
    "UnsupportedOperation",
    "AWS.SimpleQueueService.UnsupportedOperation",
    "InvalidAction",
    "NotImplemented",
    "InternalFailure",
}


@dataclass
class Moved:
    method: str
    count: int = 0
    lines: list[str] = field(default_factory=list)


def queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def move_task(sqs, source_arn: str, destination_arn: str) -> Moved:
    """StartMessageMoveTask, waited for; ClientError with UNSUPPORTED codes when the engine lacks it."""
    handle = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)["TaskHandle"]
    deadline = time.monotonic() + MOVE_TASK_TIMEOUT_S
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10)["Results"]
        task = next((task for task in tasks if task.get("TaskHandle") == handle), tasks[0] if tasks else {})
        status = task.get("Status")
        if status == "COMPLETED":
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            return Moved("StartMessageMoveTask", moved, [f"{moved} message(s) moved by SQS ({handle[:24]}…)"])
        if status in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"message move task {status}: {task.get('FailureReason', 'no reason given')}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"message move task still {status} after {MOVE_TASK_TIMEOUT_S} s")
        time.sleep(0.5)


def receive_batches(sqs, url: str):
    """Batches of received messages until the queue answers empty."""
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=VISIBILITY_S,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        yield messages


def delete(sqs, url: str, messages: list[dict]) -> None:
    if not messages:
        return
    answer = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    )
    if answer.get("Failed"):
        # Sent but still in the DLQ: a later run sends it again, which the consumer absorbs.
        raise RuntimeError(f"sent, but not deleted from the dead-letter queue: {answer['Failed']}")


def receive_and_send(sqs, dlq_url: str, queue_url: str) -> Moved:
    moved = Moved("receive-and-send")
    for messages in receive_batches(sqs, dlq_url):
        entries = [
            {
                "Id": str(i),
                "MessageBody": m["Body"],
                **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {}),
            }
            for i, m in enumerate(messages)
        ]
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        sent = {entry["Id"]: entry["MessageId"] for entry in answer.get("Successful", [])}
        delete(sqs, dlq_url, [m for i, m in enumerate(messages) if str(i) in sent])
        for i, message in enumerate(messages):
            if str(i) in sent:
                moved.count += 1
                moved.lines.append(f"{message['MessageId']} -> {sent[str(i)]} ({len(message['Body'])} bytes)")
        for failure in answer.get("Failed", []):
            moved.lines.append(f"NOT SENT (left in the dead-letter queue): {failure}")
    return moved


def reinvoke(sqs, lam, dlq_url: str, function: str) -> Moved:
    moved = Moved(f"asynchronous Invoke of {function}")
    for messages in receive_batches(sqs, dlq_url):
        done = []
        for message in messages:
            json.loads(message["Body"])  # the failed event; anything else stays in the queue (ValueError)
            answer = lam.invoke(FunctionName=function, InvocationType="Event", Payload=message["Body"].encode())
            if answer["StatusCode"] != 202:
                raise RuntimeError(f"{function} did not accept {message['MessageId']}: HTTP {answer['StatusCode']}")
            done.append(message)
            moved.count += 1
            moved.lines.append(
                f"{message['MessageId']} -> {function} (request {answer['ResponseMetadata']['RequestId']})"
            )
        delete(sqs, dlq_url, done)
    return moved


def redrive(queue: str) -> Moved:
    stack = outputs()
    sqs = boto3.client("sqs")
    if queue == "notifications":
        dlq_url, queue_url = stack["notifications_dlq_url"], stack["notifications_queue_url"]
        try:
            return move_task(sqs, queue_arn(sqs, dlq_url), queue_arn(sqs, queue_url))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in UNSUPPORTED:
                raise
            print(f"[redrive] StartMessageMoveTask not available here ({exc}); receiving and sending instead")
            return receive_and_send(sqs, dlq_url, queue_url)
    return reinvoke(
        sqs, boto3.client("lambda"), stack["image_processor_dlq_url"], stack["functions"]["image_processor"]
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in QUEUES:
        print(f"usage: make redrive QUEUE={'|'.join(QUEUES)}", file=sys.stderr)
        return 2
    try:
        moved = redrive(argv[0])
    except (StackError, ClientError, RuntimeError, ValueError) as exc:
        print(f"[redrive] {argv[0]}: {exc}", file=sys.stderr)
        return 1
    for line in moved.lines:
        print(f"[redrive] {line}")
    print(f"[redrive] {argv[0]}: {moved.count} message(s) moved back ({moved.method})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
