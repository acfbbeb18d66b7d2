"""Lambda's Invocations and Errors metrics counted in the invocation's thread and published once
a second with the others, not from a thread kept per invocation.

LocalStack's Lambda publishes each invocation's metrics from a thread of its own, started with
``start_thread``, which also appends the thread to ``TMP_THREADS`` (threads to stop at
shutdown) and never removes it. Every invocation so leaves a finished thread behind, with its
future, its event and its condition: measured, 840 of them after 840 API requests, the
engine's memory and the heap that garbage collection and the forked save walk growing with
every invocation the engine ever served (about 30 KB of RSS per request with the rest). Each
of those threads made a PutMetricData through the whole gateway, one or two per invocation:
about 30% of the engine's CPU time for an invocation of a function that does nothing.

Here version_manager's ``start_thread`` runs the metric threads' work where it is asked for,
and starts every other thread (the provisioned-concurrency scaler) as LocalStack does; that
work only counts the invocation (and its error) for the next publication
(gathered_metrics.py). The datapoints are LocalStack's: AWS/Lambda, dimension FunctionName, no
unit, an error counted in Invocations and in Errors.
"""

import logging

from localstack.runtime import hooks

from localstack_nodocker import seam
from localstack_nodocker.gathered_metrics import GatheredMetrics

LOG = logging.getLogger(__name__)

METRIC_THREAD = "record-cloudwatch-metric-"


class _Counted:
    metrics: GatheredMetrics | None = None


def _count_invocation(function_name: str, account_id: str, region_name: str) -> None:
    _Counted.metrics.add(account_id, region_name, function_name, "Invocations")


def _count_error(function_name: str, account_id: str, region_name: str) -> None:
    _count_invocation(function_name, account_id, region_name)
    _Counted.metrics.add(account_id, region_name, function_name, "Errors")


@hooks.on_infra_start()
def gather_lambda_metrics():
    from localstack.utils.bootstrap import is_api_enabled

    if is_api_enabled("cloudwatch"):  # else LocalStack's own publish nothing either
        _Counted.metrics = GatheredMetrics("AWS/Lambda", "FunctionName", "lambda-metrics-publisher")
        seam.replace(seam.RECORD_INVOCATION_METRIC, _count_invocation)
        seam.replace(seam.RECORD_ERROR_METRIC, _count_error)
    start_thread = seam.original(seam.VERSION_MANAGER_START_THREAD)

    def start_or_count(method, *args, name: str | None = None, **kwargs):
        if not (name and name.startswith(METRIC_THREAD) and not args and not kwargs):
            return start_thread(method, *args, name=name, **kwargs)
        try:
            method()
        except Exception:  # LocalStack's own functions log their failures; anything else is reported here
            LOG.exception("counting the Lambda metric %s failed", name)
        return None

    seam.replace(seam.VERSION_MANAGER_START_THREAD, start_or_count)
