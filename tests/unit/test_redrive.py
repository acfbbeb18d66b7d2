"""tools/redrive.py against moto: every dead letter moved once, nothing left behind, nothing doubled."""

import json

import pytest

from tools import redrive


class FakeLambda:
    """Accepts asynchronous invocations and keeps their payloads."""

    def __init__(self, status: int = 202):
        self.status, self.payloads = status, []

    def invoke(self, FunctionName, InvocationType, Payload):
        assert InvocationType == "Event"
        self.payloads.append((FunctionName, Payload))
        return {"StatusCode": self.status, "ResponseMetadata": {"RequestId": f"req-{len(self.payloads)}"}}


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
    assert moved.count == 23 and len(moved.lines) == 23
    assert redrive.depth(aws.sqs, queues["dlq"]) == 0
    assert sorted(bodies(aws.sqs, queues["queue"])) == sorted(sent)


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
    assert bodies(aws.sqs, queues["queue"]) == ["kept"] and redrive.depth(aws.sqs, queues["dlq"]) == 0


def unsupported(sqs, source_arn, destination_arn):
    raise redrive.ClientError(
        {"Error": {"Code": "UnsupportedOperation", "Message": "no move tasks"}}, "StartMessageMoveTask"
    )


def test_images_are_handed_back_to_the_processor_and_then_deleted(aws):
    dlq = aws.sqs.create_queue(QueueName="roxs-image-processor-dlq")["QueueUrl"]
    events = [json.dumps({"Records": [{"s3": {"object": {"key": f"k{i}.jpg"}}}]}) for i in range(3)]
    for event in events:
        aws.sqs.send_message(QueueUrl=dlq, MessageBody=event)
    lam = FakeLambda()
    moved = redrive.reinvoke(aws.sqs, lam, dlq, "roxs-image-processor")
    assert moved.count == 3 and redrive.depth(aws.sqs, dlq) == 0
    assert sorted(payload.decode() for _, payload in lam.payloads) == sorted(events)


def test_an_event_the_processor_does_not_accept_stays_in_the_queue(aws):
    dlq = aws.sqs.create_queue(QueueName="roxs-image-processor-dlq")["QueueUrl"]
    aws.sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    with pytest.raises(RuntimeError, match="did not accept"):
        redrive.reinvoke(aws.sqs, FakeLambda(status=500), dlq, "roxs-image-processor")
    # Received (invisible for VISIBILITY_S), not deleted: it comes back for the next run.
    attributes = aws.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_an_unknown_queue_is_refused(capsys):
    assert redrive.main(["everything"]) == 2
    assert "usage: make redrive QUEUE=notifications|images" in capsys.readouterr().err
