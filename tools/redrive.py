"""Move dead letters back to where they are processed, and print what happened to each.

    python -m tools.redrive notifications   (make redrive QUEUE=notifications)
    python -m tools.redrive images          (make redrive QUEUE=images)

notifications: the notifications queue's dead-letter queue -> the notifications queue, with
SQS StartMessageMoveTask (SQS moves the messages itself; nothing is received here). Where the
engine does not offer the operation, receive-and-send: each message is sent to the queue on
its own (a batch would be refused whole above SQS's 256 KiB per request) and only then
deleted from the dead-letter queue. Every body can go back: the processor answers any body,
a notification or its `rejected` row.

images: the image processor's dead-letter queue holds the events of asynchronous invocations
that failed every attempt. There is no source queue to move them to (SQS refuses a move task
for a queue that is no queue's dead-letter queue), so each event is handed back to the image
processor as an asynchronous invocation, and only then deleted. A body that is no event the
processor takes (not JSON, not an S3 event or {bucket, key} payload) can never succeed: it is
kept in the dead-letter queue, with the reason printed, for a person to look at.

Each message is handled on its own: one that cannot be redriven or fails never stops the
others. What a run did not delete is made visible again when it ends. Exit status: 0 when
every message was moved back or kept with its reason; 1 when one could not be handled now
(refused, not deleted, an AWS error): running again retries it.

Nothing is lost: a message leaves the dead-letter queue only after its copy was accepted.
A crash between the two steps leaves the message in the dead-letter queue as well (it is
visible again after VISIBILITY_S), so a second run would deliver it again. Both consumers
absorb that repeat: the notification history row is a conditional put keyed by the
notification id, and the image processor derives the image id from bucket, key and ETag.
"""

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from tools import waiting
from tools.stack import StackError, outputs

# The processor's own reading of an event (objects_from_event) decides what can go back.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda_src" / "common"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda_src" / "image_processor"))

from image_processor import objects_from_event

from roxs_common.untrusted import parse_json

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
# The parts of a received message attribute that SendMessage takes back.
ATTRIBUTE_PARTS = ("DataType", "StringValue", "BinaryValue")


@dataclass
class Redrive:
    """What one run did with the messages of a dead-letter queue."""

    method: str
    moved: int = 0
    kept: int = 0  # can never be redriven: left in the dead-letter queue, with the reason
    failed: int = 0  # could not be handled now: left in the dead-letter queue for the next run
    stopped: str = ""  # why the run ended before the queue was empty (the dead-letter queue failed)
    lines: list[str] = field(default_factory=list)

    def move(self, line: str) -> None:
        self.moved += 1
        self.lines.append(line)

    def keep(self, message: dict, reason: str) -> None:
        self.kept += 1
        self.lines.append(f"KEPT in the dead-letter queue, cannot be redriven: {message['MessageId']}: {reason}")

    def fail(self, message: dict, reason: str) -> None:
        self.failed += 1
        self.lines.append(f"FAILED, left in the dead-letter queue for the next run: {message['MessageId']}: {reason}")

    @property
    def complete(self) -> bool:
        """Every message was moved back or kept with its reason."""
        return not self.failed and not self.stopped

    def summary(self, queue: str) -> str:
        return (
            f"{queue}: {self.moved} message(s) moved back ({self.method}), {self.kept} kept as not redrivable, "
            f"{self.failed} failed" + (f"; stopped early: {self.stopped}" if self.stopped else "")
        )


def queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def move_task(sqs, source_arn: str, destination_arn: str) -> Redrive:
    """StartMessageMoveTask, waited for; ClientError with UNSUPPORTED codes when the engine lacks it."""
    handle = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)["TaskHandle"]
    task: dict = {}

    def completed() -> bool:
        nonlocal task
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10)["Results"]
        task = next((listed for listed in tasks if listed.get("TaskHandle") == handle), tasks[0] if tasks else {})
        if task.get("Status") in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"message move task {task['Status']}: {task.get('FailureReason', 'no reason given')}")
        return task.get("Status") == "COMPLETED"

    try:
        waiting.wait_for(completed, timeout=MOVE_TASK_TIMEOUT_S, interval=0.5, what="the message move task")
    except waiting.TimedOut:
        raise RuntimeError(f"message move task still {task.get('Status')} after {MOVE_TASK_TIMEOUT_S} s") from None
    done = Redrive("StartMessageMoveTask")
    done.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
    done.lines.append(f"{done.moved} message(s) moved by SQS ({handle[:24]}…)")
    return done


def received(sqs, url: str, left: dict[str, str]) -> Iterator[dict]:
    """Each message of the queue once, until it answers empty or only with messages this run
    already left (they return after VISIBILITY_S on a long run). `left`: MessageId ->
    receipt handle of the messages the caller did not delete, for release()."""
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=VISIBILITY_S,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        new = [message for message in messages if message["MessageId"] not in seen]
        for message in messages:
            if message["MessageId"] in left:
                left[message["MessageId"]] = message["ReceiptHandle"]  # the latest receive's handle
        if not new:
            return
        for message in new:
            seen.add(message["MessageId"])
            left[message["MessageId"]] = message["ReceiptHandle"]
            yield message


class NotRedrivable(ValueError):
    """The message can never succeed where it would go back: it stays, with this reason."""


class CopyRefused(RuntimeError):
    """Where the message goes back did not accept it now: the next run tries again."""


def release(sqs, url: str, left: dict[str, str], done: Redrive) -> None:
    """Make the messages this run left in the queue visible again at once."""
    for message_id, handle in left.items():
        try:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        except (ClientError, BotoCoreError) as exc:
            done.lines.append(f"{message_id} stays invisible for up to {VISIBILITY_S} s ({exc})")


def redrive_each(sqs, dlq_url: str, done: Redrive, hand_back: Callable[[dict], str]) -> Redrive:
    """Each message of the dead-letter queue on its own: `hand_back` copies it to where it is
    processed (a line saying where) or raises NotRedrivable / CopyRefused; the message is
    deleted only after its copy was accepted. What is left is visible again at the end."""
    left: dict[str, str] = {}
    try:
        for message in received(sqs, dlq_url, left):
            try:
                line = hand_back(message)
            except NotRedrivable as exc:
                done.keep(message, str(exc))
                continue
            except CopyRefused as exc:
                done.fail(message, str(exc))
                continue
            try:
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            except (ClientError, BotoCoreError) as exc:
                done.fail(
                    message, f"copied, but not deleted ({exc}); a later run copies it again, which the consumer absorbs"
                )
                continue
            del left[message["MessageId"]]
            done.move(line)
    except (ClientError, BotoCoreError) as exc:
        done.stopped = f"receiving from the dead-letter queue failed: {exc}"
    finally:
        release(sqs, dlq_url, left, done)
    return done


def receive_and_send(sqs, dlq_url: str, queue_url: str) -> Redrive:
    def send(message: dict) -> str:
        attributes = {
            name: {part: value[part] for part in ATTRIBUTE_PARTS if part in value}
            for name, value in message.get("MessageAttributes", {}).items()
        }
        try:
            sent = sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=message["Body"],
                **({"MessageAttributes": attributes} if attributes else {}),
            )
        except (ClientError, BotoCoreError) as exc:
            raise CopyRefused(f"the queue did not accept it: {exc}") from exc
        return f"{message['MessageId']} -> {sent['MessageId']} ({len(message['Body'])} characters)"

    return redrive_each(sqs, dlq_url, Redrive("receive-and-send"), send)


def image_event_problem(body: str) -> str | None:
    """Why `body` is no event the image processor can take (its own objects_from_event
    decides), or None."""
    try:
        event = parse_json(body)
    except ValueError as exc:
        return f"body is not I-JSON (RFC 7493): {exc}"
    try:
        objects, _ = objects_from_event(event)
    except ValueError as exc:
        return str(exc)
    if not objects:
        return "an S3 event without records"
    for bucket, key in objects:
        if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
            return f"an S3 record without a bucket name or object key: {bucket!r}, {key!r}"
    return None


def reinvoke(sqs, lam, dlq_url: str, function: str) -> Redrive:
    def invoke(message: dict) -> str:
        problem = image_event_problem(message["Body"])
        if problem:
            raise NotRedrivable(problem)
        try:
            answer = lam.invoke(FunctionName=function, InvocationType="Event", Payload=message["Body"].encode())
        except (ClientError, BotoCoreError) as exc:
            raise CopyRefused(f"{function} did not accept it: {exc}") from exc
        if answer["StatusCode"] != 202:
            raise CopyRefused(f"{function} did not accept it: HTTP {answer['StatusCode']}")
        return f"{message['MessageId']} -> {function} (request {answer['ResponseMetadata']['RequestId']})"

    return redrive_each(sqs, dlq_url, Redrive(f"asynchronous Invoke of {function}"), invoke)


def redrive(queue: str) -> Redrive:
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
        done = redrive(argv[0])
    except (StackError, ClientError, BotoCoreError, RuntimeError) as exc:
        print(f"[redrive] {argv[0]}: {exc}", file=sys.stderr)
        return 1
    for line in done.lines:
        print(f"[redrive] {line}")
    print(f"[redrive] {done.summary(argv[0])}")
    return 0 if done.complete else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
