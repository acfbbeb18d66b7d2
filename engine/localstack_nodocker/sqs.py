"""The engine's SQS provider: LocalStack's, with the age of the oldest message published, and
event source mapping pollers woken by what they can receive.

SQS publishes ApproximateAgeOfOldestMessage with the queue metrics it sends every minute.

LocalStack 4.8's SQS publishes ApproximateNumberOfMessagesVisible, ...NotVisible and
...Delayed (AWS/SQS, dimension QueueName) every SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL
seconds from its CloudwatchPublishWorker, and leaves ApproximateAgeOfOldestMessage out (a
TODO in its code). This provider (``sqs:nodocker``, chosen by engine/ctl.py) is LocalStack's
own with a worker that also publishes the age, in whole seconds (Unit Seconds), for every
queue, as AWS defines it:

- the oldest message waiting or in flight counts, from when it entered this queue: a
  message moved to a dead-letter queue counts from the move (AWS: "the DLQ's metric
  reflects the time the message was moved"); a delayed message counts once its delay ends,
  from when it was sent;
- in a standard queue a message received three times or more and not deleted no longer
  counts (AWS moves it to the back of the queue and excludes such poison pills); a FIFO
  queue keeps its order, so its oldest message counts whatever its receive count;
- an empty queue publishes 0.

Cost, once a minute on the publisher's thread: a standard queue's waiting messages are a
heap ordered by arrival, read from its top (one step, and one more per poison pill on top);
a FIFO queue's, one step per message group; in-flight messages are an unordered set, read
whole (AWS caps them at 120,000 per queue).

Wake-ups: every message sent (SendMessage, SendMessageBatch, and so SNS, EventBridge and S3
deliveries) counts for its queue and wakes the event source mapping pollers waiting on it
(``wait_until_receivable``, sqs_mapping.py), as a long poll returns when a message arrives;
a mapping's poller also counts a batch it finished (a FIFO group is receivable again). An
idle poller receives only when the queue holds messages (``may_have_messages``, read in
memory at most once a second: those whose visibility timeout or delay ended, which SQS's
own worker makes visible every second): an idle mapping costs no requests.
Waiting here rather than in a ReceiveMessage long poll, a poller whose mapping is disabled
or deleted ends its wait and takes nothing more (a long poll cannot be interrupted: it would
take and deliver a message sent after the mapping reported Disabled).

The per-request metrics (NumberOfMessagesSent, SentMessageSize, NumberOfMessagesReceived,
NumberOfEmptyReceives, NumberOfMessagesDeleted) are gathered and published together once a
second (gathered_metrics.py). LocalStack made a PutMetricData for each, through the whole
gateway: two per SendMessage and one per receive, the pollers' empty receives included.
"""

import heapq
import logging
import threading
import time
from collections import Counter

from localstack.services.plugins import Service, aws_provider
from localstack.services.sqs.models import FifoQueue, SqsMessage, SqsQueue, sqs_stores
from localstack.services.sqs.provider import CloudwatchDispatcher, CloudwatchPublishWorker, SqsProvider
from localstack.utils.cloudwatch.cloudwatch_util import SqsMetricBatchData, publish_sqs_metric_batch

from localstack_nodocker.gathered_metrics import GatheredMetrics

LOG = logging.getLogger(__name__)
AGE_METRIC = "ApproximateAgeOfOldestMessage"
# Messages made receivable per queue ARN since the start (one number per queue), and the wake-up.
_RECEIVABLE: Counter = Counter()
_RECEIVABLE_CHANGED = threading.Condition()
# AWS: a message received this many times and not deleted leaves a standard queue's age.
POISON_PILL_RECEIVES = 3


def receivable(queue_arn: str) -> int:
    """How many times the queue has had something new to receive (compare with a later count)."""
    with _RECEIVABLE_CHANGED:
        return _RECEIVABLE[queue_arn]


def made_receivable(queue_arn: str) -> None:
    with _RECEIVABLE_CHANGED:
        _RECEIVABLE[queue_arn] += 1
        _RECEIVABLE_CHANGED.notify_all()


def may_have_messages(queue_arn: str) -> bool:
    """Whether the queue holds messages to receive (in a FIFO queue, also those of groups in
    flight), read in memory; True for a queue not found, so that the receive reports it."""
    _, _, _, region, account, name = queue_arn.split(":", 5)
    queue = sqs_stores[account][region].queues.get(name)
    return queue is None or queue.approximate_number_of_messages > 0


def wait_until_receivable(queue_arn: str, seen: int, timeout: float) -> None:
    """Until the queue has had something new since `seen` (from receivable), or `timeout`."""
    with _RECEIVABLE_CHANGED:
        _RECEIVABLE_CHANGED.wait_for(lambda: _RECEIVABLE[queue_arn] != seen, timeout)


def _oldest_in_heap(heap: list[SqsMessage], counts) -> SqsMessage | None:
    """The first message in heap order (arrival) that `counts`: the heap's nodes visited
    smallest first from the root, so only the messages above the answer are looked at."""
    frontier = [(heap[0].priority, 0)] if heap else []
    while frontier:
        _, index = heapq.heappop(frontier)
        if counts(heap[index]):
            return heap[index]
        for child in (2 * index + 1, 2 * index + 2):
            if child < len(heap):
                heapq.heappush(frontier, (heap[child].priority, child))
    return None


def oldest_arrival(queue: SqsQueue) -> float | None:
    """When the oldest message that counts for the age entered `queue` (epoch seconds), None if none does."""
    fifo = isinstance(queue, FifoQueue)

    def counts(message: SqsMessage) -> bool:
        return not message.deleted and (fifo or message.receive_count < POISON_PILL_RECEIVES)

    # The queue's lock, then (standard queue) its heap's: the order LocalStack takes them in.
    with queue.mutex:
        if fifo:
            waiting = [_oldest_in_heap(group.messages, counts) for group in list(queue.message_groups.values())]
        else:
            with queue.visible.mutex:
                waiting = [_oldest_in_heap(queue.visible.queue, counts)]
        in_flight = [message for message in list(queue.inflight) if counts(message)]
    return min((message.created for message in waiting + in_flight if message), default=None)


def age_of_oldest_message(queue: SqsQueue, now: float) -> int:
    arrival = oldest_arrival(queue)
    return 0 if arrival is None else max(0, int(now - arrival))


class QueueMetricsPublishWorker(CloudwatchPublishWorker):
    """LocalStack's publisher of the queue metrics, with the age of the oldest message."""

    def publish_approximate_cloudwatch_metrics(self):
        super().publish_approximate_cloudwatch_metrics()
        now = time.time()
        for account_id, region, store in sqs_stores.iter_stores():
            ages = [
                SqsMetricBatchData(
                    QueueName=queue.name, MetricName=AGE_METRIC, Value=age_of_oldest_message(queue, now), Unit="Seconds"
                )
                for queue in list(store.queues.values())
            ]
            if ages:
                publish_sqs_metric_batch(account_id=account_id, region=region, sqs_metric_batch_data=ages)


class GatheringMetricsDispatcher(CloudwatchDispatcher):
    """LocalStack's dispatcher of the per-request metrics, gathering them for one publication
    per account and region every FLUSH_INTERVAL seconds (gathered_metrics.py)."""

    def __init__(self):
        super().__init__()
        self._metrics = GatheredMetrics("AWS/SQS", "QueueName", "sqs-metrics-publisher")

    def dispatch_sqs_metric(self, account_id, region, queue_name, metric, value=1, unit="Count"):
        if self.running:
            self._metrics.add(account_id, region, queue_name, metric, value, unit)

    def shutdown(self):
        super().shutdown()
        self._metrics.stop()  # what the last interval gathered is published


class NodockerSqsProvider(SqsProvider):
    # LocalStack's internals, which its __init__ calls and whose worker it starts, and which
    # SendMessage and SendMessageBatch put each message with (seam.py targets)
    def _init_cloudwatch_metrics_reporting(self):
        super()._init_cloudwatch_metrics_reporting()
        if not self.cloudwatch_disabled:
            self._cloudwatch_publish_worker = QueueMetricsPublishWorker()
            self._cloudwatch_dispatcher = GatheringMetricsDispatcher()

    def _put_message(self, queue: SqsQueue, context, *args, **kwargs) -> SqsMessage:
        message = super()._put_message(queue, context, *args, **kwargs)
        made_receivable(queue.arn)
        return message


@aws_provider(api="sqs", name="nodocker")
def sqs_nodocker():
    return Service.for_provider(NodockerSqsProvider())
