"""Lambda's Invocations and Errors metrics published by one worker, not a thread kept per invocation.

LocalStack's Lambda publishes each invocation's metrics from a thread of its own, started with
``start_thread``, which also appends the thread to ``TMP_THREADS`` (threads to stop at
shutdown) and never removes it. Every invocation so leaves a finished thread behind, with its
future, its event and its condition: measured, 840 of them after 840 API requests, the
engine's memory and the heap that garbage collection and the forked save walk growing with
every invocation the engine ever served (about 30 KB of RSS per request with the rest).

Here version_manager's ``start_thread`` hands the metric threads' work to one long-lived
worker, in order, and starts every other thread (the provisioned-concurrency scaler) as
LocalStack does. That work counts the invocation (and its error) for a publication with the
others of the same second (gathered_metrics.py): LocalStack made a PutMetricData for each
through the whole gateway, one or two per invocation, a tenth of the engine's CPU time for
an invocation of a function that does nothing. The datapoints are LocalStack's: AWS/Lambda,
dimension FunctionName, no unit, an error counted in Invocations and in Errors.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from localstack.runtime import hooks

from localstack_nodocker import seam
from localstack_nodocker.gathered_metrics import GatheredMetrics

LOG = logging.getLogger(__name__)

METRIC_THREAD = "record-cloudwatch-metric-"

_PUBLISHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda-metrics")


def _publish(method, name: str) -> None:
    try:
        method()
    except Exception:  # LocalStack's own publisher logs its failures; anything else is reported here
        LOG.exception("publishing the Lambda metric %s failed", name)


class _Counted:
    metrics: GatheredMetrics | None = None


def _count_invocation(function_name: str, account_id: str, region_name: str) -> None:
    _Counted.metrics.add(account_id, region_name, function_name, "Invocations")


def _count_error(function_name: str, account_id: str, region_name: str) -> None:
    _count_invocation(function_name, account_id, region_name)
    _Counted.metrics.add(account_id, region_name, function_name, "Errors")


@hooks.on_infra_start()
def publish_lambda_metrics_from_one_worker():
    from localstack.utils.bootstrap import is_api_enabled

    if is_api_enabled("cloudwatch"):  # else LocalStack's own publish nothing either
        _Counted.metrics = GatheredMetrics("AWS/Lambda", "FunctionName", "lambda-metrics-publisher")
        seam.replace(seam.RECORD_INVOCATION_METRIC, _count_invocation)
        seam.replace(seam.RECORD_ERROR_METRIC, _count_error)
    start_thread = seam.original(seam.VERSION_MANAGER_START_THREAD)

    def start_or_queue(method, *args, name: str | None = None, **kwargs):
        if name and name.startswith(METRIC_THREAD) and not args and not kwargs:
            return _PUBLISHER.submit(_publish, method, name)
        return start_thread(method, *args, name=name, **kwargs)

    seam.replace(seam.VERSION_MANAGER_START_THREAD, start_or_queue)


@hooks.on_infra_shutdown()
def publish_what_was_counted():
    if _Counted.metrics is not None:
        _PUBLISHER.shutdown(wait=True)  # the last invocations' counts are in
        _Counted.metrics.stop()
