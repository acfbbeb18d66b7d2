"""SQS publishes ApproximateAgeOfOldestMessage (engine/localstack_nodocker/sqs.py): the age of
the oldest message that counts, as AWS defines it, beside LocalStack's other queue metrics."""

import datetime as dt
import subprocess
import uuid

import boto3
import pytest

from tests.support.cloudwatch import cloudwatch_client
from tests.support.engine import ENGINE_PYTHON
from tests.support.waiting import wait_for

# Runs in the engine's interpreter, on LocalStack's own queue classes under a clock the script
# moves: random sends (some delayed), receives (some leaving the message visible, which makes
# poison pills after three), deletes (some with expired handles) and the queue worker's
# requeueing, against the age's definition kept apart from the queue: the oldest message
# neither deleted nor delayed, in a standard queue received fewer than three times.
COMPARE = r"""
import random, sys, types
from localstack.services.sqs import models
from localstack_nodocker.sqs import oldest_arrival

rng = random.Random(int(sys.argv[1]))


class Clock:  # moves a microsecond at each reading, as time does, and as far as the script says
    now = 1_000_000.0

    def time(self):
        self.now += 1e-6
        return self.now


clock = models.time = Clock()
compared = 0
for fifo in (False, True) * 5:
    queue = (models.FifoQueue if fifo else models.StandardQueue)(
        f"q{compared}" + (".fifo" if fifo else ""), "us-east-1", "000000000000")
    arrival, delayed_until, receives, deleted, handles = {}, {}, {}, set(), []
    for step in range(300):
        action = rng.random()
        if action < 0.35:
            clock.now += rng.choice([0, 0.5, 3])
            body = {"MessageId": f"m{step}", "Body": "b", "Attributes": {}}
            if fifo:
                message = queue.put(body, message_deduplication_id=f"d{step}", message_group_id=rng.choice("abc"))
            else:
                message = queue.put(body, delay_seconds=rng.choice([0, 0, 0, 5]))
            arrival[message.message_id], receives[message.message_id] = message.created, 0
            if message.delay_seconds:
                delayed_until[message.message_id] = message.created + message.delay_seconds
        elif action < 0.65:
            result = queue.receive(rng.randint(1, 3), visibility_timeout=rng.choice([0, 0, 10]))
            for message in result.successful:
                receives[message.message_id] += 1
            handles += zip(result.receipt_handles, (m.message_id for m in result.successful))
        elif action < 0.8 and handles:
            handle, message_id = handles.pop(rng.randrange(len(handles)))
            try:
                queue.remove(handle)
                deleted.add(message_id)
            except Exception:  # an expired handle of a FIFO queue: the message stays
                pass
        else:  # time passes; the queue worker requeues what became visible and enqueues delayed messages
            clock.now += rng.choice([1, 6, 11])
            ended = [message_id for message_id, until in delayed_until.items() if clock.now > until]
            queue.requeue_inflight_messages()
            queue.enqueue_delayed_messages()
            for message_id in ended:
                del delayed_until[message_id]
        counting = [
            arrival[message_id] for message_id in arrival
            if message_id not in deleted and message_id not in delayed_until and (fifo or receives[message_id] < 3)
        ]
        assert oldest_arrival(queue) == min(counting, default=None), (fifo, step, arrival, receives, deleted)
        compared += 1
print(compared)
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_age_follows_sends_receives_and_deletes(seed):
    result = subprocess.run(
        [str(ENGINE_PYTHON), "-c", COMPARE, str(seed)], capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout) == 10 * 300


@pytest.fixture(scope="module")
def queues(engine):
    """A queue holding one message, one with a message in flight, one with a poison pill (a
    message received three times, not deleted), an empty one and a FIFO queue whose only
    message was received three times (a FIFO queue keeps its order: it still counts)."""
    sqs, run = boto3.client("sqs"), uuid.uuid4().hex[:8]
    names = {role: f"age-{role}-{run}" for role in ("waiting", "in-flight", "poison", "empty")}
    names["fifo"] = f"age-fifo-{run}.fifo"
    urls = {
        role: sqs.create_queue(
            QueueName=name,
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"} if role == "fifo" else {},
        )["QueueUrl"]
        for role, name in names.items()
    }
    for role in ("waiting", "in-flight", "poison", "fifo"):
        sqs.send_message(QueueUrl=urls[role], MessageBody=role, **({"MessageGroupId": "g"} if role == "fifo" else {}))
    assert len(sqs.receive_message(QueueUrl=urls["in-flight"], VisibilityTimeout=900)["Messages"]) == 1
    for role in ("poison", "fifo"):
        for _ in range(3):
            assert len(sqs.receive_message(QueueUrl=urls[role], VisibilityTimeout=0)["Messages"]) == 1
    yield names, dt.datetime.now(dt.UTC)
    for url in urls.values():
        sqs.delete_queue(QueueUrl=url)


def ages(cloudwatch, names: dict[str, str], since: dt.datetime) -> dict[str, list[float]]:
    """Each queue's published ages since `since`, oldest first (one per publication)."""
    queries = [
        {
            "Id": f"q{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": name}],
                },
                "Period": 1,
                "Stat": "Maximum",
                "Unit": "Seconds",
            },
        }
        for index, name in enumerate(names.values())
    ]
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=since,
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
        ScanBy="TimestampAscending",
    )
    values = {result["Id"]: result["Values"] for result in answer["MetricDataResults"]}
    return {role: values[f"q{index}"] for index, role in enumerate(names)}


def test_a_message_left_in_a_queue_shows_its_age_in_cloudwatch(queues):
    """Published every minute with the other queue metrics: waited for, not timed."""
    names, since = queues
    cloudwatch = cloudwatch_client()
    published = wait_for(
        # 5 s and more: the other queues' messages, sent within a second after, are then above 0 too
        lambda: (found := ages(cloudwatch, names, since))["waiting"] and found["waiting"][-1] >= 5 and found,
        timeout=150,
        interval=5,
        what="an ApproximateAgeOfOldestMessage datapoint of 5 s or more for the queue holding a message",
    )
    # every queue is published by the same round: the newest datapoint of each is from it
    assert published["in-flight"][-1] > 0  # a message in flight counts
    assert published["fifo"][-1] > 0  # a FIFO queue's message counts whatever its receive count
    assert published["poison"] and set(published["poison"]) == {0.0}  # the poison pill does not
    assert published["empty"] and set(published["empty"]) == {0.0}
    answer = cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": names["waiting"]}],
        StartTime=since - dt.timedelta(minutes=1),
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )
    assert max(point["Maximum"] for point in answer["Datapoints"]) > 0
    assert {point["Unit"] for point in answer["Datapoints"]} == {"Seconds"}
