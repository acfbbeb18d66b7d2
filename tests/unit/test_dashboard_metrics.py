"""roxs_common.metrics: each handler's duration reaches CloudWatch, buffered, never failing the handler."""

import datetime as dt

import pytest

from roxs_common import inject_lambda_context, metrics
from roxs_common.aws import new_client
from tests.unit.conftest import FakeContext

NAMESPACE = "Roxs/Functions"


@pytest.fixture
def fresh(monkeypatch):
    """An execution environment that has published nothing yet."""
    monkeypatch.setattr(metrics, "_pending", metrics.defaultdict(metrics.Counter))
    monkeypatch.setattr(metrics, "_last_flush", float("-inf"))
    metrics._cloudwatch.cache_clear()
    yield
    metrics._cloudwatch.cache_clear()


def durations(function_name: str) -> tuple[int, float]:
    """(SampleCount, Maximum) of the function's Duration over the last hour, from CloudWatch."""
    now = dt.datetime.now(dt.UTC)
    stat = {
        "Metric": {
            "Namespace": NAMESPACE,
            "MetricName": "Duration",
            "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
        },
        "Period": 3600,
    }
    answer = new_client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {"Id": "n", "MetricStat": {**stat, "Stat": "SampleCount"}},
            {"Id": "m", "MetricStat": {**stat, "Stat": "Maximum"}},
        ],
        StartTime=now - dt.timedelta(hours=1),
        EndTime=now + dt.timedelta(minutes=1),
    )
    values = {result["Id"]: result["Values"] for result in answer["MetricDataResults"]}
    return int(sum(values["n"])), max(values["m"], default=0.0)


def test_the_first_invocation_publishes_then_a_burst_is_buffered(aws, fresh, monkeypatch):
    monkeypatch.setenv("METRICS_NAMESPACE", NAMESPACE)
    handler = inject_lambda_context(lambda event, context: "done")
    assert handler({}, FakeContext()) == "done"
    assert durations(FakeContext.function_name)[0] == 1  # published at once
    for _ in range(4):
        handler({}, FakeContext())
    assert durations(FakeContext.function_name)[0] == 1  # within the flush interval: buffered
    monkeypatch.setattr(metrics, "_last_flush", metrics._last_flush - metrics._flush_interval)
    metrics.publish_duration(FakeContext.function_name, 250.0)
    assert durations(FakeContext.function_name) == (6, 250.0)  # the buffer and this one, in one request


def test_nothing_is_published_without_a_namespace(aws, fresh, monkeypatch):
    monkeypatch.delenv("METRICS_NAMESPACE", raising=False)
    inject_lambda_context(lambda event, context: None)({}, FakeContext())
    assert not metrics._pending and durations(FakeContext.function_name)[0] == 0


def test_a_failed_publication_does_not_fail_the_handler(fresh, monkeypatch):
    """No AWS at all here (no moto): PutMetricData fails, the handler's answer still goes out."""
    monkeypatch.setenv("METRICS_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    assert inject_lambda_context(lambda event, context: 42)({}, FakeContext()) == 42
    assert not metrics._pending  # taken out of the buffer, reported as lost
