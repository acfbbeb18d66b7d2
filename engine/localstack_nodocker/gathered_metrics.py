"""Metrics the engine's services publish per request or per invocation, gathered and published
together every ``FLUSH_INTERVAL`` seconds: one PutMetricData per account and region, each value
with how often it occurred (``Values``/``Counts``: CloudWatch's store keeps the same
datapoints). LocalStack made one PutMetricData per datapoint through the whole gateway (a
botocore client, the handler chain, a SQLite insert): three quarters of the engine's CPU time
for an SQS SendMessage, about 30% of it for a Lambda invocation of a function that does
nothing. AWS aggregates these metrics per minute; a datapoint here is at most
``FLUSH_INTERVAL`` later than what it counts, and what is gathered when the engine writes the
last of its state (`make down`) is published before it (``publish_all``, from drain.py).
"""

import logging
import threading
import weakref
from collections import Counter, defaultdict
from datetime import UTC, datetime

from localstack.aws.connect import connect_to

LOG = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0
# PutMetricData's limits: data per request, values per datum
DATA_PER_REQUEST = 1000
VALUES_PER_DATUM = 150


_ALL: "weakref.WeakSet[GatheredMetrics]" = weakref.WeakSet()


def publish_all() -> None:
    """What every gatherer holds, published now."""
    for metrics in list(_ALL):
        metrics.publish()


def _chunks(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class GatheredMetrics:
    """The datapoints of one namespace, each for one resource (``dimension``: QueueName,
    FunctionName), gathered until the next publication."""

    def __init__(self, namespace: str, dimension: str, publisher_name: str):
        self.namespace, self.dimension = namespace, dimension
        self._lock = threading.Lock()
        # (account, region) -> (resource, metric, unit) -> value -> occurrences
        self._gathered: dict = defaultdict(lambda: defaultdict(Counter))
        self._stopped = threading.Event()
        self._publisher = threading.Thread(target=self._publish_regularly, name=publisher_name, daemon=True)
        self._publisher.start()
        _ALL.add(self)

    def add(self, account_id: str, region: str, resource: str, metric: str, value=1, unit: str | None = None) -> None:
        with self._lock:
            self._gathered[(account_id, region)][(resource, metric, unit)][value] += 1

    def _publish_regularly(self) -> None:
        while not self._stopped.wait(FLUSH_INTERVAL):
            self.publish()

    def publish(self) -> None:
        """What was gathered, as PutMetricData requests; what fails is logged, as LocalStack does."""
        with self._lock:
            gathered, self._gathered = self._gathered, defaultdict(lambda: defaultdict(Counter))
        timestamp = datetime.now(UTC)
        for (account_id, region), series in gathered.items():
            data = [
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": self.dimension, "Value": resource}],
                    **({"Unit": unit} if unit else {}),
                    "Timestamp": timestamp,
                    "Values": [value for value, _ in chunk],
                    "Counts": [count for _, count in chunk],
                }
                for (resource, metric, unit), occurrences in series.items()
                for chunk in _chunks(list(occurrences.items()), VALUES_PER_DATUM)
            ]
            cloudwatch = connect_to(region_name=region, aws_access_key_id=account_id).cloudwatch
            for request in _chunks(data, DATA_PER_REQUEST):
                try:
                    cloudwatch.put_metric_data(Namespace=self.namespace, MetricData=request)
                except Exception as exc:  # as LocalStack's publishers: a metric lost is logged, not raised
                    LOG.info("Unable to put metric data for %s metrics to CloudWatch: %s", self.namespace, exc)

    def stop(self) -> None:
        """No more publications on the interval; what the last one gathered is published now."""
        self._stopped.set()
        self._publisher.join(timeout=5)
        self.publish()
