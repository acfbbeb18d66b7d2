"""Each function's own duration, published to CloudWatch so the dashboard can show p50/p95.

Why PutMetricData (one call per invocation) rather than the two free alternatives:
- CloudWatch embedded metric format (a JSON log line) costs no call on AWS, but LocalStack
  4.8 turns no log line into a metric (its Logs provider applies metric filters only);
- a metric filter on the REPORT lines would need `$duration` as the metric value, and
  LocalStack 4.8's metric filters publish only constant values.
PutMetricData is the one source that gives the same numbers on the laptop and on AWS.

Publishing is off unless METRICS_NAMESPACE is set (Terraform sets it for every function),
and never fails an invocation: a lost datapoint is logged and the answer goes out.
"""

import functools
import logging
import os

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from roxs_common.aws import new_client

DURATION_METRIC = "Duration"
FUNCTION_DIMENSION = "FunctionName"
# A metric must not hold up the answer: one attempt, short timeouts.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1, read_timeout=2)

_logger = logging.getLogger("roxs.metrics")


@functools.cache
def _cloudwatch():
    return new_client("cloudwatch", _CONFIG)


def metrics_namespace() -> str:
    """The namespace of the functions' own metrics ("" when publishing is off)."""
    return os.environ.get("METRICS_NAMESPACE", "")


def publish_duration(function_name: str, duration_ms: float) -> None:
    """One Duration datapoint (milliseconds) for `function_name`, if METRICS_NAMESPACE is set."""
    namespace = metrics_namespace()
    if not namespace or not function_name:
        return
    try:
        _cloudwatch().put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": DURATION_METRIC,
                    "Dimensions": [{"Name": FUNCTION_DIMENSION, "Value": function_name}],
                    "Value": round(duration_ms, 3),
                    "Unit": "Milliseconds",
                }
            ],
        )
    except (BotoCoreError, ClientError) as exc:
        _logger.warning("duration metric not published", extra={"reason": str(exc)})
