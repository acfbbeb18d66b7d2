"""Asynchronous invocations (``Invoke`` with ``Event``, S3 and EventBridge targets) run
concurrently within the engine's bound, each exactly once, with AWS's retry and age rules.

LocalStack queues each asynchronous invocation in an internal queue per function version,
and a ``Poller`` per queue receives up to ten at a time (whatever it can run or not), hands
them to a thread pool of ``min(32, cores + 4)`` threads per function and receives again.
Three gaps follow:

- nothing bounds the engine as a whole: every function with a backlog runs its own pool,
  each invocation a worker process on the host;
- a backlog waits in the pool's queue while its messages' visibility timeout (the function's
  timeout + 60 s) runs: past it the same invocation is received, and run, a second time;
- an event older than ``MaximumEventAgeInSeconds`` is still run (the age is only checked
  before a retry), and where no invocation ran (the age or ``ZeroReservedConcurrency``) the
  dead-letter queue gets nothing: the upstream call reads the error message off ``None``.

Here the poller waits for an invocation holding nothing, then takes a slot of the engine's
bound for it (event_concurrency.py, ``NODOCKER_EVENT_CONCURRENCY``, shared with the event
source mappings; the function's reserved concurrency counts too), and as many more
invocations as slots are free at that moment. A received invocation is started, or given
back to the queue untouched when the poller stops; it stays invisible meanwhile, so it is
never received, and run, twice. Before an invocation runs its age is checked against
``MaximumEventAgeInSeconds`` (six hours by default); an expired event goes to the on-failure
destination and the dead-letter queue with the reason. Throttles and service errors are retried with AWS's backoff (1 s, doubling, at
most 5 minutes; upstream never doubles). Function errors keep LocalStack's handling:
``MaximumRetryAttempts`` (2 by default) retries after 1 and then 2 minutes
(``LAMBDA_RETRY_BASE_DELAY_SECONDS``), then the destination and the dead-letter queue.

The replacement is installed where LocalStack builds pollers (``event_manager.Poller``); what
it overrides and reads are targets in seam.py.
"""

import datetime
import logging

from localstack.runtime import hooks

from localstack_nodocker import seam
from localstack_nodocker.event_concurrency import SLOTS, delivery_limits

LOG = logging.getLogger(__name__)

# SQS's largest receive: at most this many invocations are taken from a queue at once.
MAX_RECEIVE = 10
# How long an idle poller waits for an invocation (or for a slot) before looking again.
POLL_WAIT_S = 1
# A received invocation is always run and deleted, or given back: it must not become visible
# again meanwhile, however long it waits for its slot (SQS's largest visibility timeout).
RECEIVED_VISIBILITY_S = 12 * 60 * 60
# AWS's default MaximumEventAgeInSeconds and its backoff for throttles and service errors.
DEFAULT_MAX_EVENT_AGE_S = 6 * 60 * 60
MAX_EXCEPTION_RETRY_DELAY_S = 5 * 60
FAILURE_MESSAGES = {
    "EventAgeExceeded": "The event was older than the function's MaximumEventAgeInSeconds",
    "ZeroReservedConcurrency": "The function's reserved concurrency is 0",
    "RetriesExhausted": "The function failed on every attempt",
}


def event_age_exceeded(invoke_time: datetime.datetime, now: datetime.datetime, max_age_s: int | None) -> bool:
    """Whether an event queued at `invoke_time` is past its maximum age at `now`."""
    return (now - invoke_time).total_seconds() >= (DEFAULT_MAX_EVENT_AGE_S if max_age_s is None else max_age_s)


def exception_retry_delay_s(retries_so_far: int) -> int:
    """AWS's wait before the next attempt after a throttle or a service error."""
    return min(2**retries_so_far, MAX_EXCEPTION_RETRY_DELAY_S)


def _bounded_poller(event_manager, analytics):
    from concurrent.futures import ThreadPoolExecutor

    class BoundedPoller(event_manager.Poller):
        def __init__(self, version_manager, event_queue_url):
            super().__init__(version_manager, event_queue_url)
            function_id = version_manager.function_version.id
            # every submitted invocation holds a slot, so the pool never queues one
            self.invoker_pool = ThreadPoolExecutor(
                max_workers=SLOTS.bound,
                thread_name_prefix=f"lambda-invoker-{function_id.function_name}:{function_id.qualifier}",
            )
            # the function's reserved concurrency; 0 bounds nothing here: every invocation
            # then fails as AWS's do (ZeroReservedConcurrency), it does not wait
            self._limits = {
                key: (lambda limit_of=limit_of: limit_of() or None)
                for key, limit_of in delivery_limits(function_id.unqualified_arn()).items()
            }

        def run(self, *args, **kwargs):
            sqs = event_manager.get_sqs_client(self.version_manager.function_version)
            while not self._shutdown_event.is_set():
                try:
                    # wait for an invocation holding no slot (an idle function must not keep
                    # one from the others), then take as many more as slots are free now
                    messages = self._receive(sqs, 1, POLL_WAIT_S)
                    if not messages:
                        continue
                    slots = [self._slot()]
                    if slots[0] is None:  # stopping
                        self._give_back(messages[0])
                        return
                    while len(slots) < MAX_RECEIVE and (slot := SLOTS.take(self._limits, timeout=0)):
                        slots.append(slot)
                    if len(slots) > 1:
                        messages += self._receive(sqs, len(slots) - 1, 0)
                    for slot in slots[len(messages) :]:
                        slot.give_back()
                    for message, slot in zip(messages, slots, strict=False):
                        self._start(message, slot)
                except Exception as exc:
                    if self._shutdown_event.is_set():
                        return
                    LOG.error(
                        "asynchronous invocations of %s: polling failed: %s",
                        self.version_manager.function_version.qualified_arn,
                        exc,
                        exc_info=LOG.isEnabledFor(logging.DEBUG),
                    )
                    self._shutdown_event.wait(POLL_WAIT_S)

        def _receive(self, sqs, count: int, wait_s: int) -> list[dict]:
            return (
                sqs.receive_message(
                    QueueUrl=self.event_queue_url,
                    MaxNumberOfMessages=count,
                    WaitTimeSeconds=wait_s,
                    VisibilityTimeout=RECEIVED_VISIBILITY_S,
                ).get("Messages")
                or []
            )

        def _slot(self):
            """A slot for a received invocation, once one is free; None if the poller stops first."""
            while not self._shutdown_event.is_set():
                slot = SLOTS.take(self._limits, timeout=POLL_WAIT_S)
                if slot is not None:
                    return slot
            return None

        def _start(self, message: dict, slot) -> None:
            try:
                future = self.invoker_pool.submit(self._run, message, slot)
            except RuntimeError:  # the pool was shut down: the poller stopped meanwhile
                slot.give_back()
                self._give_back(message)
                return
            future.add_done_callback(lambda done: self._cancelled(done, message, slot))

        def _run(self, message: dict, slot) -> None:
            try:
                self.handle_message(message)
            finally:
                slot.give_back()

        def _cancelled(self, future, message: dict, slot) -> None:
            """The pool was shut down before this invocation started: its slot back, and it
            back in the queue."""
            if future.cancelled():
                slot.give_back()
                self._give_back(message)

        def _give_back(self, message: dict) -> None:
            """A received invocation that will not run here, back in the queue as it was."""
            sqs = event_manager.get_sqs_client(self.version_manager.function_version)
            sqs.send_message(QueueUrl=self.event_queue_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=self.event_queue_url, ReceiptHandle=message["ReceiptHandle"])

        def handle_message(self, message: dict) -> None:
            try:
                sqs_invocation = event_manager.SQSInvocation.decode(message["Body"])
            except Exception:  # upstream reports an unreadable one and deletes it
                return super().handle_message(message)
            qualifier = self.version_manager.function_version.id.qualifier
            invoke_config = self.version_manager.function.event_invoke_configs.get(qualifier)
            max_age_s = invoke_config.maximum_event_age_in_seconds if invoke_config else None
            if not event_age_exceeded(sqs_invocation.invocation.invoke_time, datetime.datetime.now(), max_age_s):
                return super().handle_message(message)
            LOG.warning(
                "asynchronous invocation %s of %s dropped: older than its maximum event age (%s s)",
                sqs_invocation.invocation.request_id,
                self.version_manager.function_version.qualified_arn,
                max_age_s or DEFAULT_MAX_EVENT_AGE_S,
            )
            try:
                self.process_failure_destination(sqs_invocation, None, invoke_config, "EventAgeExceeded")
                self.process_dead_letter_queue(sqs_invocation, None)
            finally:
                event_manager.get_sqs_client(self.version_manager.function_version).delete_message(
                    QueueUrl=self.event_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

        def process_failure_destination(self, sqs_invocation, response_payload, event_invoke_config, failure_cause):
            # the dead-letter queue, written next, says why when no invocation answered
            sqs_invocation.failure_cause = failure_cause
            super().process_failure_destination(sqs_invocation, response_payload, event_invoke_config, failure_cause)

        def process_dead_letter_queue(self, sqs_invocation, response_payload):
            answered = response_payload if isinstance(response_payload, dict) else {}
            cause = getattr(sqs_invocation, "failure_cause", "RetriesExhausted")
            error = answered.get("errorMessage") or FAILURE_MESSAGES.get(cause, cause)
            super().process_dead_letter_queue(sqs_invocation, {**answered, "errorMessage": str(error)})

        def process_throttles_and_system_errors(self, sqs_invocation, error):
            throttled = isinstance(error, self.lambda_client.exceptions.TooManyRequestsException)
            delay_s = exception_retry_delay_s(sqs_invocation.exception_retries)
            sqs_invocation.exception_retries += 1
            LOG.debug(
                "asynchronous invocation of %s: %s; again in %d s", self.version_manager.function_arn, error, delay_s
            )
            event_manager.get_sqs_client(self.version_manager.function_version).send_message(
                QueueUrl=self.event_queue_url, MessageBody=sqs_invocation.encode(), DelaySeconds=delay_s
            )
            status = analytics.FunctionStatus
            return status.throttle_error if throttled else status.system_error

    return BoundedPoller


@hooks.on_infra_start()
def run_async_invocations_concurrently() -> None:
    # Imported here, as the other hooks do: LocalStack's modules load with the services.
    from localstack.services.lambda_ import analytics
    from localstack.services.lambda_.invocation import event_manager

    seam.replace(seam.EVENT_POLLER, _bounded_poller(event_manager, analytics))
