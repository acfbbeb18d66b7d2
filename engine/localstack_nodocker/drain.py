"""Work the engine accepted and still owes, finished before it writes the last of its state (`make down`).

Once intake stops (intake.py), what the engine accepted may still be under way inside it:
- requests let in and not answered yet (intake counts them);
- S3 event notifications: S3 acknowledges a PUT, then sends its events from a thread pool;
- asynchronous Lambda invocations (an S3 event through EventBridge to the image processor,
  InvocationType=Event): queued in Lambda's event queues, then run;
- event source mapping batches being delivered;
- function logs on their way to CloudWatch Logs;
- metrics gathered for their next publication (gathered_metrics.py).

``settle`` stops the event source mappings' pollers (what they did not take stays where it is
saved: SQS messages in their queue, stream records after the saved position), waits until
nothing above is under way for a moment or until its deadline, then stops Lambda's event
pollers so that nothing runs while the state is written.

Lambda's event queues live in memory only (LocalStack makes new ones at every start). What is
still in them - an invocation waiting for its retry delay, or anything left at the deadline -
is saved with the state (``queued_invocations``, journaled) and queued again after loading
(``requeue``): AWS too keeps an accepted asynchronous invocation across its own restarts.
"""

import logging
import math
import threading
import time

from localstack.services.plugins import SERVICE_PLUGINS

from localstack_nodocker import gathered_metrics, seam
from localstack_nodocker.intake import INTAKE

LOG = logging.getLogger(__name__)

# Nothing under way at this many checks in a row, this far apart: settled. (One check could
# fall between a request that ends and the S3 notification it queued being counted.)
QUIET_CHECKS = 3
CHECK_INTERVAL_S = 0.1
# A stopped event poller ends its current ReceiveMessage (2 s long poll) before exiting.
EVENT_POLLER_STOP_S = 5
# SQS's longest DelaySeconds: a saved retry waits at most this long after loading.
MAX_DELAY_S = 900
# How long loading waits for a function version to start before queuing its invocations.
VERSION_START_S = 30


class _Count:
    def __init__(self):
        self.value = 0
        self._lock = threading.Lock()

    def add(self, delta: int) -> None:
        with self._lock:
            self.value += delta


_S3_NOTIFICATIONS = _Count()


class _CountedNotifier:
    """A notifier whose sending is counted until it ends, however it ends."""

    def __init__(self, notifier):
        self._notifier = notifier

    def notify(self, ctx, config):
        try:
            return self._notifier.notify(ctx, config)
        finally:
            _S3_NOTIFICATIONS.add(-1)


def count_s3_notifications() -> None:
    """Count S3's notifications from queued to sent. LocalStack queues every one of them in
    NotificationDispatcher._submit_notification (kept apart upstream so it can be patched), a
    seam.py target: if it is gone, the start fails rather than `down` cutting notifications short."""
    submit = seam.original(seam.S3_SUBMIT_NOTIFICATION)

    def submit_counted(self, notifier, ctx, config):
        _S3_NOTIFICATIONS.add(1)
        try:
            submit(self, _CountedNotifier(notifier), ctx, config)
        except BaseException:
            _S3_NOTIFICATIONS.add(-1)
            raise

    seam.replace(seam.S3_SUBMIT_NOTIFICATION, submit_counted)


def _lambda_provider():
    if not SERVICE_PLUGINS.is_running("lambda"):
        return None
    return SERVICE_PLUGINS.get_service("lambda").lifecycle_hook


def _event_queues(provider):
    """(qualified function ARN, event manager, its queue) of every started function version."""
    from localstack.services.lambda_.invocation.internal_sqs_queue import get_fake_sqs_client

    queues = get_fake_sqs_client().queue_manager.queues
    for arn, manager in list(provider.lambda_service.event_managers.items()):
        if manager.event_queue_url in queues:
            yield arn, manager, queues[manager.event_queue_url]


def under_way() -> dict[str, int]:
    """What is still under way, by kind; empty when nothing is."""
    counts = {
        "requests being answered": INTAKE.in_flight(),
        "S3 notifications being sent": _S3_NOTIFICATIONS.value,
    }
    provider = _lambda_provider()
    if provider is not None:
        counts["asynchronous invocations queued or running"] = sum(
            queue.approximate_number_of_messages + len(queue.inflight) for _, _, queue in _event_queues(provider)
        )
        counts["event source mapping batches being delivered"] = sum(
            1
            for worker in list(provider.esm_workers.values())
            if worker._poller_thread and worker._poller_thread.is_alive()
        )
        counts["function logs being shipped"] = sum(
            manager.log_handler.log_queue.qsize()
            for manager in list(provider.lambda_service.lambda_running_versions.values())
        )
    return {kind: count for kind, count in counts.items() if count}


def settle(deadline: float) -> dict[str, int]:
    """Finish what was accepted (intake must be refusing already), by `deadline` (monotonic).
    Returns what was still under way at the deadline: empty when everything finished."""
    provider = _lambda_provider()
    if provider is not None:
        for worker in list(provider.esm_workers.values()):
            worker.stop_for_shutdown()  # its batch in progress is delivered, no next one is taken
    quiet = 0
    while True:
        left = under_way()
        quiet = 0 if left else quiet + 1
        if quiet >= QUIET_CHECKS or time.monotonic() >= deadline:
            break
        time.sleep(CHECK_INTERVAL_S)
    if provider is not None:
        _stop_event_pollers(provider)
    gathered_metrics.publish_all()  # the last second's metrics, into the state about to be written
    if left:
        LOG.warning("still under way when the wait for it ended: %s", left)
    return left


def _stop_event_pollers(provider) -> None:
    managers = [manager for _, manager, _ in _event_queues(provider) if manager.poller is not None]
    for manager in managers:
        manager.poller.stop()
    # after its ReceiveMessage a poller keeps what it received in flight, untouched: wait for
    # that, so every message is in one place when the queues are read
    stop_by = time.monotonic() + EVENT_POLLER_STOP_S
    for manager in managers:
        if manager.poller_thread is not None:
            manager.poller_thread.join(timeout=max(0.0, stop_by - time.monotonic()))


def queued_invocations() -> list[dict]:
    """Every asynchronous invocation still in Lambda's event queues, to save:
    {"function": qualified ARN, "body": the queued invocation, "delay_s": its wait left}."""
    provider = _lambda_provider()
    if provider is None:
        return []
    now, saved = time.time(), []
    for arn, _, queue in _event_queues(provider):
        for message in [*list(queue.visible.queue), *list(queue.inflight), *list(queue.delayed)]:
            if message.deleted:
                continue
            wait_s = (message.created + (message.delay_seconds or 0)) - now
            saved.append(
                {
                    "function": arn,
                    "body": message.message["Body"],
                    "delay_s": min(MAX_DELAY_S, max(0, math.ceil(wait_s))),
                }
            )
    return saved


def requeue(saved: list[dict], report) -> None:
    """Queue the saved invocations again, each for its function version once it has started;
    `report(resource, reason)` for those whose version did not start."""
    from localstack.services.lambda_.invocation.internal_sqs_queue import get_fake_sqs_client

    provider = _lambda_provider()
    by_function: dict[str, list[dict]] = {}
    for entry in saved:
        by_function.setdefault(entry["function"], []).append(entry)
    for arn, entries in by_function.items():
        manager = _started_event_manager(provider, arn) if provider is not None else None
        if manager is None:
            report(
                f"{len(entries)} queued asynchronous invocation(s) of {arn}",
                "the function version did not start after loading (deleted, or failed: see its State)",
            )
            continue
        for entry in entries:
            get_fake_sqs_client().send_message(
                QueueUrl=manager.event_queue_url, MessageBody=entry["body"], DelaySeconds=entry["delay_s"]
            )
        LOG.info("queued %d asynchronous invocation(s) of %s again", len(entries), arn)


def _started_event_manager(provider, arn: str):
    """The event manager of `arn` once its version is active; None if it fails or never starts."""
    from localstack.aws.api.lambda_ import State
    from localstack.services.lambda_.provider_utils import get_function_version_from_arn

    give_up = time.monotonic() + VERSION_START_S
    while time.monotonic() < give_up:
        manager = provider.lambda_service.event_managers.get(arn)
        if manager is not None and manager.event_queue_url:
            return manager
        try:
            if get_function_version_from_arn(arn).config.state.state == State.Failed:
                return None
        except Exception:  # the version is gone from the store
            return None
        time.sleep(CHECK_INTERVAL_S)
    return None
