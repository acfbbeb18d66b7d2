"""SQS event source mappings: polled as Lambda polls, every message body delivered as sent.

LocalStack's SQS poller (4.8 and 2026.3.0, ``SqsPoller.handle_messages``) parses every body with
``json.loads`` before filtering and writes it back with ``json.dumps``. It catches only
``JSONDecodeError``, so a body that nests deeper than Python's recursion limit (``"[" * 3000``)
or holds an integer of more than 4,300 digits raises ``RecursionError`` / ``ValueError``
while the batch is prepared: the function never runs, nothing is deleted, and after
maxReceiveCount receives the whole batch is in the dead-letter queue. The round trip also
changes the bodies the function gets (``{"a":1}`` arrives as ``{"a": 1}``, non-ASCII as
``\\u`` escapes, ``1e400`` as ``Infinity``; MD5OfBody no longer matches). Lambda hands
the function each body byte for byte, as SQS stored it.

Here the poller parses a body only to match the mapping's ``FilterCriteria`` (as AWS does:
a body that is not JSON is matched as a plain string, so a JSON body pattern does not match
it), on a copy, with every failure confined to that one message; the function gets the body
untouched. A message whose match cannot be evaluated does not match, with a warning (the
discard upstream's ``filter_events`` TODO names). Deletion and ``ReportBatchItemFailures``
keep LocalStack's behaviour.

Size: SQS takes messages of up to 1 MiB, and JSON escapes can triple a body in the event
(``é`` is ``\\u00e9``), so ten messages can exceed Lambda's 6 MB payload, which AWS's poller
never sends (a batch stops where the next record would pass it; upstream's TODO "implement
invocation payload size quota"). The batch is cut into invocations of at most 6 MB; each
one's outcome deletes its own messages, so one invocation that fails does not hold back
another.

Polling, as Lambda's pollers do. LocalStack's poller asks for one batch (a short poll
unless the mapping has a batching window), invokes, then sleeps
``LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC`` (1 s), and after empty polls backs off up
to 10 s: one batch a second at most, and the first message on a quiet queue waited up to
10 s. Here:

- an idle poller waits as a long poll does, woken by every message sent to its queue
  (sqs.py): a message on an idle queue is received at once. Every ``IDLE_WAIT_S`` it looks
  in memory whether the queue holds messages (those whose visibility timeout or delay
  ended), and receives only then; a disabled or deleted mapping, and ``make down``, stop
  within that;
- the engine runs ``LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC=0`` (engine/ctl.py): as
  long as receives return messages, the next one follows at once;
- batches are delivered concurrently: the poller takes a slot (event_concurrency.py: the
  mapping's ``ScalingConfig.MaximumConcurrency``, the function's reserved concurrency, the
  engine's bound), receives, hands the batch to a delivery thread and receives again. With a
  backlog as many batches run as the limits allow, with one batch one runs, so concurrency
  follows the backlog; messages are only received when a slot is free to deliver them;
- ``MaximumBatchingWindowInSeconds``: after the first message the poller keeps receiving
  until the batch is full (``BatchSize``, or 6 MB of bodies) or the window has passed, as
  AWS does (LocalStack returned whatever the first receive got, up to a 20 s window);
- FIFO queues: a batch is delivered one message group after another, each group in its
  order; SQS hands out no message of a group while an earlier one is in flight, so
  concurrent batches never hold the same group;
- visibility timeouts, the dead-letter queue after ``maxReceiveCount`` and
  ``ReportBatchItemFailures`` stay SQS's and LocalStack's: what is not deleted comes back
  after the visibility timeout.

``ScalingConfig`` is checked as Lambda checks it: ``MaximumConcurrency`` from 2 to 1,000, for
SQS sources only; anything else is refused with the reason (LocalStack stored any value).

The replacement is installed where the mapping factory builds pollers
(``esm_worker_factory.SqsPoller``); the factory hands it its mapping. What it replaces and
reads of LocalStack's poller are targets in seam.py: the engine refuses to start if one of
them moved or changed.
"""

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from localstack.aws.api.lambda_ import InvalidParameterValueException
from localstack.aws.handlers import serve_custom_service_request_handlers
from localstack.runtime import hooks
from localstack.services.lambda_.event_source_mapping.pipe_utils import to_json_str
from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import (
    PartialBatchFailureError,
    SqsPoller,
    parse_batch_item_failures,
    transform_into_events,
)
from localstack.services.lambda_.invocation.lambda_models import ValidationException
from localstack.services.lambda_.invocation.models import lambda_stores
from localstack.utils.event_matcher import matches_event

from localstack_nodocker import event_concurrency, seam, sqs

LOG = logging.getLogger(__name__)
# Lambda's payload limit for a synchronous invocation (bytes of the JSON event).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# The longest an idle poller waits before it receives again (a message sent wakes it at
# once); a stopped mapping's poller ends within this, and so does its wait for a free slot.
IDLE_WAIT_S = 1
# SQS's most messages per ReceiveMessage.
RECEIVE_MAX = 10
# ScalingConfig.MaximumConcurrency, as Lambda accepts it.
MAXIMUM_CONCURRENCY = range(2, 1001)


def _filter_view(body: str):
    """The body as the filter sees it: parsed JSON, or the string itself when it is not JSON
    Python can read (recursion limit, integer digit limit, not JSON at all)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body


def payload_batches(events: list, size_of) -> list:
    """`events` in order, cut so that each `{"Records": [...]}` is at most MAX_PAYLOAD_BYTES
    (`size_of(event)`: the bytes of its JSON); a single larger event goes alone."""
    empty = len('{"Records": []}')
    batches, batch, size = [], [], empty
    for event in events:
        added = size_of(event) + len(", ")
        if batch and size + added > MAX_PAYLOAD_BYTES:
            batches.append(batch)
            batch, size = [], empty
        batch.append(event)
        size += added
    return [*batches, batch] if batch else batches


class SqsMappingPoller(SqsPoller):
    """LocalStack's SQS poller, waking as a long poll does, delivering batches concurrently, bodies as sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits: dict = {}  # set by configure: what a delivery takes its slot under
        self.stopping = threading.Event()  # set by configure: the worker's stop
        # every delivery running holds a slot: the slots bound the threads this starts
        self.deliveries = ThreadPoolExecutor(
            max_workers=event_concurrency.SLOTS.bound, thread_name_prefix="sqs-mapping-delivery"
        )

    def configure(self, mapping: dict, stopping: threading.Event) -> None:
        """The mapping's function and ScalingConfig, and its worker's stop (event_concurrency.py)."""
        maximum = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
        self.limits = event_concurrency.delivery_limits(mapping["FunctionArn"], mapping["UUID"], maximum)
        self.stopping = stopping

    def poll_events(self) -> None:
        slot = event_concurrency.SLOTS.take(self.limits, timeout=IDLE_WAIT_S)
        if slot is None:  # every slot busy: asked again by the worker's loop
            return
        if self.stopping.is_set():  # stopped while waiting for the slot: take nothing more
            slot.give_back()
            return
        seen = sqs.receivable(self.source_arn)
        try:
            messages = self.receive_batch()
        except BaseException:
            slot.give_back()
            raise
        if not messages:
            slot.give_back()
            sqs.wait_until_receivable(self.source_arn, seen, IDLE_WAIT_S)
            return
        LOG.debug("Received %d messages from %s", len(messages), self.source_arn)
        self.deliveries.submit(self.deliver_batch, messages, slot)

    def receive_batch(self) -> list[dict]:
        """One receive; with a batching window, more until the batch is full or the window has
        passed since the first message."""
        batch = self._receive(min(self.batch_size, RECEIVE_MAX))
        if not batch or not self.maximum_batching_window:
            return batch
        window_ends = time.monotonic() + self.maximum_batching_window
        while len(batch) < self.batch_size and sum(len(message["Body"]) for message in batch) < MAX_PAYLOAD_BYTES:
            left = window_ends - time.monotonic()
            if left <= 0:
                break
            seen = sqs.receivable(self.source_arn)
            more = self._receive(min(self.batch_size - len(batch), RECEIVE_MAX))
            if not more:
                sqs.wait_until_receivable(self.source_arn, seen, min(left, IDLE_WAIT_S))
            batch += more
        return batch

    def _receive(self, count: int) -> list[dict]:
        if not sqs.may_have_messages(self.source_arn):  # an idle queue costs no request
            return []
        return self.source_client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=0,  # the poller waits in wait_until_receivable instead, which a stop does not outlast
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])

    def deliver_batch(self, messages: list[dict], slot) -> None:
        try:
            if self.queue_url.endswith(".fifo"):  # SQS requires the suffix of every FIFO queue
                groups: dict[str, list[dict]] = {}
                for message in messages:
                    groups.setdefault(message["Attributes"]["MessageGroupId"], []).append(message)
                for group in groups.values():
                    self.deliver_messages(group)
            else:
                self.deliver_messages(messages)
        except Exception as exc:  # a delivery's failure is logged; what it did not delete comes back
            LOG.warning("Delivering %d messages from %s failed: %s", len(messages), self.source_arn, exc)
        finally:
            slot.give_back()
            sqs.made_receivable(self.source_arn)  # a FIFO group whose batch is done can be received again

    def close(self) -> None:
        """The worker's loop has ended: the batches under way finish before it counts as stopped
        (drain.py waits for the loop's thread)."""
        self.deliveries.shutdown(wait=True)
        super().close()

    def matches_filters(self, event: dict) -> bool:
        if not self.filter_patterns:
            return True
        view = {**event, "body": _filter_view(event["body"])}
        try:
            return any(matches_event(pattern, view) for pattern in self.filter_patterns)
        except Exception as exc:  # one message's content, never the batch's fate
            LOG.warning(
                "SQS message %s from %s cannot be matched against the mapping's filter (%s: %s): "
                "treated as not matching",
                event["messageId"],
                self.source_arn,
                type(exc).__name__,
                exc,
            )
            return False

    def deliver_messages(self, messages: list[dict]) -> None:
        """Messages of one receive (of one group, in a FIFO queue): filtered, invoked in payloads
        of at most 6 MB, the done ones deleted."""
        events = transform_into_events(messages)
        matching = [event for event in events if self.matches_filters(event)]
        matching_ids = {event["messageId"] for event in matching}
        # Discarded by the filter: deleted at once, as Lambda does.
        self.delete_messages(messages, {message["MessageId"] for message in messages} - matching_ids)
        done = set()
        for batch in payload_batches(self.add_source_metadata(matching), lambda event: len(to_json_str(event))):
            ids = {event["messageId"] for event in batch}
            try:
                self.processor.process_events_batch(batch)
                done |= ids
            except PartialBatchFailureError as failure:
                failed = parse_batch_item_failures(failure.partial_failure_payload, ids)
                done |= ids.difference(failed)
            except Exception as exc:  # the function failed: these messages are delivered again
                LOG.warning("SQS batch of %d from %s failed: %s", len(batch), self.source_arn, exc)
        self.delete_messages(messages, done)


def refuse_invalid_scaling(chain, context, response) -> None:
    """Request handler: CreateEventSourceMapping and UpdateEventSourceMapping with a
    ScalingConfig Lambda would refuse are answered 400 with its reason."""
    if context.service is None or context.service.service_name != "lambda" or context.operation is None:
        return
    operation, request = context.operation.name, context.service_request
    if operation not in ("CreateEventSourceMapping", "UpdateEventSourceMapping") or not request.get("ScalingConfig"):
        return
    maximum = request["ScalingConfig"].get("MaximumConcurrency")
    if maximum is not None and maximum not in MAXIMUM_CONCURRENCY:
        if not isinstance(maximum, int):
            constraint = "be a whole number"
        elif maximum < MAXIMUM_CONCURRENCY.start:
            constraint = f"have value greater than or equal to {MAXIMUM_CONCURRENCY.start}"
        else:
            constraint = f"have value less than or equal to {MAXIMUM_CONCURRENCY.stop - 1}"
        raise ValidationException(
            f"1 validation error detected: Value '{maximum}' at 'scalingConfig.maximumConcurrency' "
            f"failed to satisfy constraint: Member must {constraint}"
        )
    source = request.get("EventSourceArn")
    if operation == "UpdateEventSourceMapping":
        mapping = lambda_stores[context.account_id][context.region].event_source_mappings.get(request.get("UUID"))
        source = mapping and mapping.get("EventSourceArn")  # an unknown UUID: Lambda's own answer
    if source and source.split(":")[2] != "sqs":
        raise InvalidParameterValueException(
            "Unsupported ScalingConfig parameter for given event source mapping type.", Type="User"
        )


@hooks.on_infra_start()
def poll_sqs_as_lambda_does() -> None:
    """The mapping factory builds SqsMappingPoller (event_concurrency.py hands it its mapping)."""
    seam.replace(seam.ESM_SQS_POLLER, SqsMappingPoller)
    serve_custom_service_request_handlers.append(refuse_invalid_scaling)
