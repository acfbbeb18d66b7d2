"""Lambda's Invocations and Errors metrics published by one worker, not a thread kept per invocation.

LocalStack's Lambda publishes each invocation's metrics from a thread of its own, started with
``start_thread``, which also appends the thread to ``TMP_THREADS`` (threads to stop at
shutdown) and never removes it. Every invocation so leaves a finished thread behind, with its
future, its event and its condition: measured, 840 of them after 840 API requests, the
engine's memory and the heap that garbage collection and the forked save walk growing with
every invocation the engine ever served (about 30 KB of RSS per request with the rest).

Here version_manager's ``start_thread`` hands the metric threads' work to one long-lived
worker, in order, and starts every other thread (the provisioned-concurrency scaler) as
LocalStack does. The metric is published as before (LocalStack's own functions), moments
after the invocation.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from localstack.runtime import hooks

from localstack_nodocker import seam

LOG = logging.getLogger(__name__)

METRIC_THREAD = "record-cloudwatch-metric-"

_PUBLISHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda-metrics")


def _publish(method, name: str) -> None:
    try:
        method()
    except Exception:  # LocalStack's own publisher logs its failures; anything else is reported here
        LOG.exception("publishing the Lambda metric %s failed", name)


@hooks.on_infra_start()
def publish_lambda_metrics_from_one_worker():
    start_thread = seam.original(seam.VERSION_MANAGER_START_THREAD)

    def start_or_queue(method, *args, name: str | None = None, **kwargs):
        if name and name.startswith(METRIC_THREAD) and not args and not kwargs:
            return _PUBLISHER.submit(_publish, method, name)
        return start_thread(method, *args, name=name, **kwargs)

    seam.replace(seam.VERSION_MANAGER_START_THREAD, start_or_queue)
