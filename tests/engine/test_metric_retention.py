"""CloudWatch metric storage on the engine (engine/localstack_nodocker/cloudwatch.py): statistics
read from the per-minute summaries equal the datapoints', to the second of a query's end and per
unit; datapoints older than AWS's 15-month retention are not answered."""

import datetime as dt
import uuid

import pytest

from tests.support.cloudwatch import cloudwatch_client

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def cloudwatch(engine):
    return cloudwatch_client()


def statistics(cloudwatch, namespace: str, start, end, period: int, unit: str | None = None) -> list[tuple]:
    kwargs = {"Unit": unit} if unit else {}
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="m",
        StartTime=start,
        EndTime=end,
        Period=period,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"],
        **kwargs,
    )["Datapoints"]
    return sorted(
        (
            point["Unit"],
            point["Timestamp"],
            point["SampleCount"],
            point["Sum"],
            point["Minimum"],
            point["Maximum"],
            point["Average"],
        )
        for point in points
    )


def test_summaries_by_minute_equal_the_datapoints_to_the_second(cloudwatch):
    namespace = f"Test/Minutes/{uuid.uuid4().hex[:8]}"
    origin = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    offsets = {5: 1.0, 50: 4.0, 65: 2.0, 125: 8.0, 126: 3.0, 200: 5.0}  # seconds after origin: value
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "m", "Timestamp": origin + dt.timedelta(seconds=offset), "Value": value, "Unit": "Count"}
            for offset, value in offsets.items()
        ]
        + [{"MetricName": "m", "Timestamp": origin + dt.timedelta(seconds=10), "Value": 100.0}],  # no unit
    )
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "m",
                "Timestamp": origin + dt.timedelta(seconds=70),
                "StatisticValues": {"SampleCount": 3, "Sum": 9, "Minimum": 1, "Maximum": 6},
                "Unit": "Count",
            }
        ],
    )
    at = lambda seconds: origin + dt.timedelta(seconds=seconds)  # noqa: E731

    def expected(end: int, period: int, units: tuple = ("Count", "None")) -> list[tuple]:
        """Each unit's periods (AWS answers a datapoint per unit when no unit is asked)."""
        points = [("Count", offset, 1, value, value, value) for offset, value in offsets.items()]
        points += [("Count", 70, 3, 9.0, 1.0, 6.0), ("None", 10, 1, 100.0, 100.0, 100.0)]
        periods: dict = {}
        for unit, offset, count, total, low, high in points:
            if offset < end and unit in units:
                found = periods.setdefault((unit, offset // period * period), [0, 0.0, low, high])
                found[0] += count
                found[1] += total
                found[2], found[3] = min(found[2], low), max(found[3], high)
        return sorted(
            (unit, at(start), float(count), total, low, high, total / count)
            for (unit, start), (count, total, low, high) in periods.items()
        )

    for end, period in ((126, 60), (130, 60), (3600, 60), (3600, 120), (201, 3600), (59, 60)):
        assert statistics(cloudwatch, namespace, origin, at(end), period) == expected(end, period), (end, period)
    assert statistics(cloudwatch, namespace, origin, at(3600), 60, unit="Count") == expected(3600, 60, ("Count",))


def test_datapoints_older_than_fifteen_months_are_not_answered(cloudwatch):
    namespace = f"Test/Retention/{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    ages = {500: 1.0, 400: 2.0, 1: 3.0}  # days old: value
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "m", "Timestamp": now - age * DAY, "Value": value} for age, value in ages.items()],
    )
    found = statistics(cloudwatch, namespace, now - 600 * DAY, now, 86_400)
    assert sorted(point[3] for point in found) == [2.0, 3.0]
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": "m"}, "Period": 86_400, "Stat": "p50"},
            }
        ],
        StartTime=now - 600 * DAY,
        EndTime=now,
    )
    assert sorted(answer["MetricDataResults"][0]["Values"]) == [2.0, 3.0]
