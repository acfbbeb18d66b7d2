"""tools/redrive.py against moto: every dead letter moved once, nothing left behind, nothing
doubled; a message that cannot go back is kept with its reason and never stops the others."""

import json

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from tools import redrive


class FakeLambda:
    """Accepts asynchronous invocations and keeps their payloads; answers `status`, or raises
    for a payload that contains `refuse`."""

    def __init__(self, status: int = 202, refuse: str | None = None):
        self.status, self.refuse, self.payloads = status, refuse, []

    def invoke(self, FunctionName, InvocationType, Payload):
        assert InvocationType == "Event"
        if self.refuse and self.refuse.encode() in Payload:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke")
        self.payloads.append((FunctionName, Payload))
        return {"StatusCode": self.status, "ResponseMetadata": {"RequestId": f"req-{len(self.payloads)}"}}


class FaultySqs:
    """The SQS client, but SendMessage (`refuse_send`) or DeleteMessage (`fail_delete`) fails
    for the message whose body contains that marker."""

    def __init__(self, sqs, refuse_send: str | None = None, fail_delete: str | None = None):
        self.sqs, self.refuse_send, self.fail_delete, self.undeletable = sqs, refuse_send, fail_delete, set()

    def receive_message(self, **kwargs):
        answer = self.sqs.receive_message(**kwargs)
        marked = [m for m in answer.get("Messages", []) if self.fail_delete and self.fail_delete in m["Body"]]
        self.undeletable |= {message["ReceiptHandle"] for message in marked}
        return answer

    def send_message(self, **kwargs):
        if self.refuse_send and self.refuse_send in kwargs["MessageBody"]:
            raise ClientError({"Error": {"Code": "InvalidParameterValue", "Message": "refused"}}, "SendMessage")
        return self.sqs.send_message(**kwargs)

    def delete_message(self, QueueUrl, ReceiptHandle):
        if ReceiptHandle in self.undeletable:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, "DeleteMessage")
        return self.sqs.delete_message(QueueUrl=QueueUrl, ReceiptHandle=ReceiptHandle)

    def __getattr__(self, name):
        return getattr(self.sqs, name)


@pytest.fixture
def queues(aws):
    dlq = aws.sqs.create_queue(QueueName="roxs-notifications-dlq")["QueueUrl"]
    return {"dlq": dlq, "queue": aws.queue_url}


def bodies(sqs, url: str) -> list[str]:
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages"):
        found += [message["Body"] for message in messages]
    return found


def test_receive_and_send_moves_each_message_once(aws, queues):
    sent = [json.dumps({"notification_id": f"n{i}"}) for i in range(23)]  # more than two batches of ten
    for body in sent:
        aws.sqs.send_message(
            QueueUrl=queues["dlq"],
            MessageBody=body,
            MessageAttributes={"source": {"DataType": "String", "StringValue": "test"}},
        )
    moved = redrive.receive_and_send(aws.sqs, queues["dlq"], queues["queue"])
    assert (moved.moved, moved.failed, len(moved.lines)) == (23, 0, 23)
    assert redrive.depth(aws.sqs, queues["dlq"]) == 0
    assert sorted(bodies(aws.sqs, queues["queue"])) == sorted(sent)


def test_receive_and_send_moves_each_message_on_its_own(aws, queues):
    """Ten messages of 100,000 characters (one batch of them would be over SQS's 256 KiB per
    request), one of which the queue refuses: nine moved, that one failed and left."""
    sent = [json.dumps({"notification_id": f"big{i}", "message": str(i) * 100_000}) for i in range(10)]
    for body in sent:
        aws.sqs.send_message(QueueUrl=queues["dlq"], MessageBody=body)
    done = redrive.receive_and_send(FaultySqs(aws.sqs, refuse_send='"big3"'), queues["dlq"], queues["queue"])
    assert (done.moved, done.failed) == (9, 1)
    assert any("the queue did not accept it" in line and "InvalidParameterValue" in line for line in done.lines)
    assert sorted(bodies(aws.sqs, queues["queue"])) == sorted(sent[:3] + sent[4:])
    assert bodies_left(aws.sqs, queues["dlq"]) == [sent[3]]


def test_a_failed_move_task_is_reported_and_the_exit_status_says_so(aws, queues, monkeypatch, capsys):
    monkeypatch.setattr(
        redrive, "outputs", lambda: {"notifications_dlq_url": queues["dlq"], "notifications_queue_url": queues["queue"]}
    )

    def failed_task(sqs, source_arn, destination_arn):
        raise RuntimeError("message move task FAILED: AWS.SimpleQueueService.NonExistentQueue")

    monkeypatch.setattr(redrive, "move_task", failed_task)
    assert redrive.main(["notifications"]) == 1
    assert "notifications: message move task FAILED" in capsys.readouterr().err


def test_the_move_task_falls_back_to_receive_and_send_where_the_engine_lacks_it(aws, queues, monkeypatch, capsys):
    """moto has no StartMessageMoveTask (like an engine without it): the tool says so and still moves."""
    aws.sqs.send_message(QueueUrl=queues["dlq"], MessageBody="kept")
    monkeypatch.setattr(
        redrive, "outputs", lambda: {"notifications_dlq_url": queues["dlq"], "notifications_queue_url": queues["queue"]}
    )
    monkeypatch.setattr(redrive, "move_task", unsupported)
    assert redrive.main(["notifications"]) == 0
    out = capsys.readouterr().out
    assert "not available here" in out and "notifications: 1 message(s) moved back (receive-and-send)" in out
    assert "0 kept as not redrivable, 0 failed" in out
    assert bodies(aws.sqs, queues["queue"]) == ["kept"] and redrive.depth(aws.sqs, queues["dlq"]) == 0


def unsupported(sqs, source_arn, destination_arn):
    raise redrive.ClientError(
        {"Error": {"Code": "UnsupportedOperation", "Message": "no move tasks"}}, "StartMessageMoveTask"
    )


def test_images_are_handed_back_to_the_processor_and_then_deleted(aws):
    dlq = aws.sqs.create_queue(QueueName="roxs-image-processor-dlq")["QueueUrl"]
    events = [s3_event(f"k{i}.jpg") for i in range(3)]
    for event in events:
        aws.sqs.send_message(QueueUrl=dlq, MessageBody=event)
    lam = FakeLambda()
    moved = redrive.reinvoke(aws.sqs, lam, dlq, "roxs-image-processor")
    assert (moved.moved, moved.kept, moved.failed) == (3, 0, 0) and redrive.depth(aws.sqs, dlq) == 0
    assert sorted(payload.decode() for _, payload in lam.payloads) == sorted(events)


def s3_event(key: str) -> str:
    return json.dumps({"Records": [{"s3": {"bucket": {"name": "roxs-images-original"}, "object": {"key": key}}}]})


GOOD_EVENTS = [
    s3_event("a.jpg"),
    json.dumps(
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": "roxs-images-original"}, "object": {"key": "b+c.png"}},
        }
    ),
    json.dumps({"bucket": "roxs-images-original", "key": "direct.gif"}),
]
# Bodies no image processor can take, each with a word of the reason it gets.
BAD_EVENTS = {
    "not json": "Expecting value",
    "[" * 3000: "nested more than 32 levels",
    "9" * 5000: "is outside +-(2**53 - 1)",
    "[1, 2]": "event must be an S3 event",
    "{}": "direct payload needs",
    '{"Records": "all"}': "Records must be a list",
    '{"Records": []}': "without records",
    '{"Records": [{"s3": {"bucket": {"name": "b"}}}]}': "without bucket name or object key",
    '{"Records": [{"s3": {"bucket": {"name": 5}, "object": {"key": "k"}}}]}': "without a bucket name or object key",
    '{"bucket": "b", "key": NaN}': "NaN is not a JSON number",
    '{"bucket": "b", "key": "\\ud800"}': "U+D800 (a lone surrogate)",
    '{"bucket": "b", "bucket": "c", "key": "k"}': "appears more than once",
}


def visible(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture
def image_dlq(aws, monkeypatch):
    """The image processor's dead-letter queue, and `make redrive QUEUE=images` against it
    with a FakeLambda as the processor."""
    dlq = aws.sqs.create_queue(QueueName="roxs-image-processor-dlq")["QueueUrl"]
    lam = FakeLambda()
    monkeypatch.setattr(
        redrive,
        "outputs",
        lambda: {"image_processor_dlq_url": dlq, "functions": {"image_processor": "roxs-image-processor"}},
    )
    clients = {"sqs": aws.sqs, "lambda": lam}
    monkeypatch.setattr(redrive.boto3, "client", lambda name: clients[name])
    return dlq, lam


def test_bad_images_dead_letters_are_kept_with_their_reason_and_never_stop_the_good_ones(aws, image_dlq, capsys):
    dlq, lam = image_dlq
    bodies = [GOOD_EVENTS[0], *list(BAD_EVENTS)[:6], *GOOD_EVENTS[1:], *list(BAD_EVENTS)[6:]]
    for body in bodies:
        aws.sqs.send_message(QueueUrl=dlq, MessageBody=body)

    assert redrive.main(["images"]) == 0  # everything handled: moved back, or kept with its reason
    out = capsys.readouterr().out
    assert sorted(payload.decode() for _, payload in lam.payloads) == sorted(GOOD_EVENTS)
    assert (
        f"images: 3 message(s) moved back (asynchronous Invoke of roxs-image-processor), {len(BAD_EVENTS)} kept" in out
    )
    kept_lines = [line for line in out.splitlines() if "KEPT in the dead-letter queue" in line]
    assert len(kept_lines) == len(BAD_EVENTS)
    for reason in BAD_EVENTS.values():
        assert any(reason in line for line in kept_lines), reason
    # Only the bad ones are left, visible again at once for a person to look at.
    assert visible(aws.sqs, dlq) == redrive.depth(aws.sqs, dlq) == len(BAD_EVENTS)
    assert sorted(body for body in bodies_left(aws.sqs, dlq)) == sorted(BAD_EVENTS)

    # The next run invokes nothing again and reports the same ones.
    assert redrive.main(["images"]) == 0
    assert len(lam.payloads) == 3 and "0 message(s) moved back" in capsys.readouterr().out


def bodies_left(sqs, url: str) -> list[str]:
    """The bodies of a queue, looked at and left there (visible again)."""
    found, handles = {}, []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages"):
        found.update((message["MessageId"], message["Body"]) for message in messages)
        handles += [message["ReceiptHandle"] for message in messages]
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return list(found.values())


def test_an_event_the_processor_does_not_accept_now_fails_alone_and_stays(aws, image_dlq, capsys):
    dlq, lam = image_dlq
    lam.refuse = "throttled.jpg"
    for key in ("one.jpg", "throttled.jpg", "two.jpg"):
        aws.sqs.send_message(QueueUrl=dlq, MessageBody=s3_event(key))
    assert redrive.main(["images"]) == 1  # could not be handled now: run again
    out = capsys.readouterr().out
    assert "FAILED, left in the dead-letter queue for the next run" in out and "TooManyRequestsException" in out
    assert "images: 2 message(s) moved back" in out and "1 failed" in out
    assert bodies_left(aws.sqs, dlq) == [s3_event("throttled.jpg")]

    lam.refuse, lam.status = None, 500
    assert redrive.main(["images"]) == 1 and "HTTP 500" in capsys.readouterr().out
    lam.status = 202
    assert redrive.main(["images"]) == 0 and redrive.depth(aws.sqs, dlq) == 0
    assert len(lam.payloads) == 4  # 2, then the 500 (not redriven), then the third


def test_a_copy_that_was_accepted_but_not_deleted_is_a_failure_of_that_message_only(aws):
    dlq = aws.sqs.create_queue(QueueName="roxs-image-processor-dlq")["QueueUrl"]
    for key in ("kept.jpg", "stuck.jpg", "moved.jpg"):
        aws.sqs.send_message(QueueUrl=dlq, MessageBody=s3_event(key))
    done = redrive.reinvoke(FaultySqs(aws.sqs, fail_delete="stuck.jpg"), FakeLambda(), dlq, "roxs-image-processor")
    assert (done.moved, done.failed, done.complete) == (2, 1, False)
    assert any("copied, but not deleted" in line and "InternalError" in line for line in done.lines)
    assert bodies_left(aws.sqs, dlq) == [s3_event("stuck.jpg")]


@given(body=st.text(max_size=300) | st.sampled_from(list(BAD_EVENTS)))
def test_no_body_makes_the_image_check_raise(body):
    """Every body gets an answer: a reason, or None for an event the processor takes."""
    problem = redrive.image_event_problem(body)
    assert problem is None or (isinstance(problem, str) and problem)
    if body in BAD_EVENTS:
        assert BAD_EVENTS[body] in problem


@pytest.mark.parametrize("body", GOOD_EVENTS)
def test_the_events_the_processor_takes_go_back(body):
    assert redrive.image_event_problem(body) is None


def test_an_unknown_queue_is_refused(capsys):
    assert redrive.main(["everything"]) == 2
    assert "usage: make redrive QUEUE=notifications|images" in capsys.readouterr().err
