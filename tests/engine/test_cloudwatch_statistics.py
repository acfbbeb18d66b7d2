"""CloudWatch statistics on the engine (engine/localstack_nodocker/cloudwatch.py): percentiles in
GetMetricData and GetMetricStatistics equal the nearest rank over the published values, every
statistic reads the series with exactly the query's dimensions, and what is not computed is
refused with InvalidParameterValue, never InternalError."""

import datetime as dt
import math
import uuid
from fractions import Fraction

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cloudwatch import cloudwatch_client

NAMESPACE = "Test/Statistics"
PERCENTILES = ("p0", "p10", "p50", "p90", "p95", "p99", "p99.9", "p100")


@pytest.fixture(scope="module")
def cloudwatch(engine):
    return cloudwatch_client()


def nearest_rank(values: list[float], statistic: str) -> float:
    """AWS's percentile, written out: the value at rank ceil(p/100 * n) of the sorted values (p0: the first)."""
    ordered = sorted(values)
    rank = math.ceil(Fraction(statistic[1:]) * len(ordered) / 100)
    return ordered[max(rank, 1) - 1]


def hours_ago(hours: int) -> dt.datetime:
    """A whole hour in the past: periods of 60, 300 and 3600 s start on it, however they are aligned."""
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return now - dt.timedelta(hours=hours)


def metric(name: str, dimensions: dict[str, str] | None = None) -> dict:
    found = {"Namespace": NAMESPACE, "MetricName": name}
    found["Dimensions"] = [{"Name": key, "Value": value} for key, value in (dimensions or {}).items()]
    return found


def put(cloudwatch, data: list[dict]) -> None:
    for first in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[first : first + 500])


def metric_data(cloudwatch, target: dict, stats, period: int, start: dt.datetime, end: dt.datetime, **kwargs):
    """{stat: {timestamp: value}} from one GetMetricData request, and its Messages."""
    queries = [
        {"Id": f"q{index}", "MetricStat": {"Metric": target, "Period": period, "Stat": stat}}
        for index, stat in enumerate(stats)
    ]
    answer = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end, **kwargs)
    results = {result["Id"]: result for result in answer["MetricDataResults"]}
    found = {
        stat: dict(zip(results[f"q{i}"]["Timestamps"], results[f"q{i}"]["Values"], strict=True))
        for i, stat in enumerate(stats)
    }
    return found, answer.get("Messages", [])


# Values as the functions publish them (milliseconds, ties common) and spread wide.
VALUES = st.one_of(st.integers(0, 50).map(float), st.floats(0, 1e6, allow_nan=False).map(lambda v: round(v, 3)))
# (period, [(period index, value, count)])
SAMPLES = st.sampled_from([60, 300, 3600]).flatmap(
    lambda period: st.tuples(
        st.just(period),
        st.lists(st.tuples(st.integers(0, 2), VALUES, st.integers(1, 4)), min_size=1, max_size=120),
    )
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(samples=SAMPLES, as_arrays=st.booleans(), extra=st.integers(0, 9999))
def test_percentiles_are_the_nearest_rank_of_the_published_values(cloudwatch, samples, as_arrays, extra):
    period, points = samples
    start = hours_ago(4)
    target = metric(f"latency-{uuid.uuid4().hex[:12]}", {"FunctionName": "api"})
    data, expected = [], {}
    for index, (slot, value, count) in enumerate(points):
        timestamp = start + dt.timedelta(seconds=slot * period + index % period)
        expected.setdefault(start + dt.timedelta(seconds=slot * period), []).extend([value] * count)
        datum = {"MetricName": target["MetricName"], "Dimensions": target["Dimensions"], "Timestamp": timestamp}
        if as_arrays:  # Values with Counts: each value counted Counts times
            datum.update(Values=[value], Counts=[float(count)])
            data.append(datum)
        else:  # one datapoint per value
            data.extend([{**datum, "Value": value}] * count)
    odd = f"p{extra // 100}.{extra % 100:02d}"  # any pNN.NN
    stats = (*PERCENTILES, odd, "SampleCount", "Minimum", "Maximum")
    put(cloudwatch, data)

    found, messages = metric_data(cloudwatch, target, stats, period, start, start + dt.timedelta(hours=3))
    assert not messages
    for stat in (*PERCENTILES, odd):
        assert found[stat] == {slot: nearest_rank(values, stat) for slot, values in expected.items()}, stat
    # p0 and p100 are the Minimum and Maximum; every value counted
    assert found["p0"] == found["Minimum"] and found["p100"] == found["Maximum"]
    assert found["SampleCount"] == {slot: len(values) for slot, values in expected.items()}

    answer = cloudwatch.get_metric_statistics(
        **target,
        StartTime=start,
        EndTime=start + dt.timedelta(hours=3),
        Period=period,
        ExtendedStatistics=["p50", "p95", odd],
    )
    assert {point["Timestamp"]: point["ExtendedStatistics"] for point in answer["Datapoints"]} == {
        slot: {stat: nearest_rank(values, stat) for stat in ("p50", "p95", odd)} for slot, values in expected.items()
    }
    assert all("Average" not in point for point in answer["Datapoints"])  # only what was asked


def test_periods_come_newest_first_unless_asked_otherwise(cloudwatch):
    start, target = hours_ago(3), metric(f"order-{uuid.uuid4().hex[:12]}")
    put(
        cloudwatch,
        [
            {
                "MetricName": target["MetricName"],
                "Value": float(minute),
                "Timestamp": start + dt.timedelta(minutes=minute),
            }
            for minute in (0, 1, 2)
        ],
    )
    end = start + dt.timedelta(minutes=3)
    newest_first, _ = metric_data(cloudwatch, target, ["p50", "P50"], 60, start, end)
    oldest_first, _ = metric_data(cloudwatch, target, ["p50"], 60, start, end, ScanBy="TimestampAscending")
    assert list(newest_first["p50"].values()) == [2.0, 1.0, 0.0]
    assert newest_first["P50"] == newest_first["p50"]  # either case, as AWS writes them
    assert list(oldest_first["p50"].values()) == [0.0, 1.0, 2.0]


def test_statistic_sets_give_percentiles_only_where_they_hold_raw_values(cloudwatch):
    """AWS: a StatisticSet counts for percentiles when its SampleCount is 1 or its Minimum
    equals its Maximum; a period with another one, or with a negative value, has none."""
    start, target = hours_ago(3), metric(f"sets-{uuid.uuid4().hex[:12]}")

    def at(minute: int, **fields) -> dict:
        return {"MetricName": target["MetricName"], "Timestamp": start + dt.timedelta(minutes=minute), **fields}

    def statistic_set(count, total, low, high) -> dict:
        return {"StatisticValues": {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high}}

    put(
        cloudwatch,
        [
            at(0, Value=1.0),
            at(0, Value=9.0),
            at(0, **statistic_set(1, 5.0, 5.0, 5.0)),  # one value: 5
            at(1, Value=10.0),
            at(1, **statistic_set(3, 12.0, 4.0, 4.0)),  # three values of 4
            at(2, Value=10.0),
            at(2, **statistic_set(2, 10.0, 2.0, 8.0)),  # two values, which ones is unknown
            at(3, Value=10.0),
            at(3, Value=-1.0),  # AWS computes no percentile over negative values
        ],
    )
    end = start + dt.timedelta(minutes=4)
    found, messages = metric_data(cloudwatch, target, ["p50", "p100", "SampleCount", "Maximum"], 60, start, end)
    minute = [int((start + dt.timedelta(minutes=m)).timestamp()) for m in range(4)]
    assert {int(t.timestamp()): v for t, v in found["p50"].items()} == {minute[0]: 5.0, minute[1]: 4.0}
    assert {int(t.timestamp()): v for t, v in found["p100"].items()} == {minute[0]: 9.0, minute[1]: 10.0}
    # the other statistics of those periods are still there
    assert list(found["SampleCount"].values()) == [2.0, 3.0, 4.0, 3.0]  # newest first
    assert list(found["Maximum"].values()) == [10.0, 10.0, 10.0, 9.0]
    reasons = " | ".join(message["Value"] for message in messages)
    assert {message["Code"] for message in messages} == {"PercentileUnavailable"}
    assert "Minimum != Maximum" in reasons and "negative" in reasons, reasons


def test_dimensions_match_exactly(cloudwatch):
    """A function's figures are its own: not those of a function whose name starts with its
    name, nor those published with one more dimension, nor those published without any."""
    start, name = hours_ago(3), f"exact-{uuid.uuid4().hex[:12]}"
    published = {
        (("FunctionName", "api"),): [10.0, 20.0, 30.0],
        (("FunctionName", "api-worker"),): [1000.0],
        (("FunctionName", "api"), ("Version", "2")): [2000.0],
        (): [3000.0],
    }
    put(
        cloudwatch,
        [
            {
                "MetricName": name,
                "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions],
                "Value": value,
                "Timestamp": start,
            }
            for dimensions, values in published.items()
            for value in values
        ],
    )
    end = start + dt.timedelta(minutes=5)
    for dimensions, values in published.items():
        # the query's dimensions in another order name the same series
        target = metric(name, dict(reversed(dimensions)))
        found, _ = metric_data(cloudwatch, target, ["Maximum", "SampleCount", "Average", "p100"], 300, start, end)
        assert {stat: list(by_time.values()) for stat, by_time in found.items()} == {
            "Maximum": [max(values)],
            "SampleCount": [len(values)],
            "Average": [sum(values) / len(values)],
            "p100": [max(values)],
        }, dimensions


def test_each_unit_gets_its_own_percentiles_in_get_metric_statistics(cloudwatch):
    start, target = hours_ago(3), metric(f"units-{uuid.uuid4().hex[:12]}")
    put(
        cloudwatch,
        [
            {"MetricName": target["MetricName"], "Value": v, "Unit": "Milliseconds", "Timestamp": start}
            for v in (1, 2, 3)
        ]
        + [{"MetricName": target["MetricName"], "Value": v, "Timestamp": start} for v in (7.0, 8.0)],
    )
    answer = cloudwatch.get_metric_statistics(
        **target,
        StartTime=start,
        EndTime=start + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount"],
        ExtendedStatistics=["p50"],
    )
    by_unit = {point["Unit"]: (point["SampleCount"], point["ExtendedStatistics"]) for point in answer["Datapoints"]}
    assert by_unit == {"Milliseconds": (3.0, {"p50": 2.0}), "None": (2.0, {"p50": 7.0})}
    only_milliseconds = cloudwatch.get_metric_statistics(
        **target,
        StartTime=start,
        EndTime=start + dt.timedelta(minutes=1),
        Period=60,
        ExtendedStatistics=["p100"],
        Unit="Milliseconds",
    )
    assert [point["ExtendedStatistics"] for point in only_milliseconds["Datapoints"]] == [{"p100": 3.0}]


NOT_COMPUTED = ["tm90", "wm99", "TM(10%:90%)", "WM(5%:95%)", "IQM", "PR(:300)", "TC(0.005:0.030)", "TS(80%:)"]
MISSPELT = ["p101", "p-1", "p95.12345678901", "pp95", "average", "", "p"]


@pytest.mark.parametrize("stat", NOT_COMPUTED + MISSPELT)
def test_statistics_not_computed_are_refused_with_the_reason(cloudwatch, stat):
    start = hours_ago(1)
    target = metric("refused", {"FunctionName": "api"})
    query = {"Id": "q", "MetricStat": {"Metric": target, "Period": 60, "Stat": stat}}
    with pytest.raises(ClientError) as refused:
        cloudwatch.get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=start + dt.timedelta(hours=1))
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterValue"
    assert f"The value {stat} for parameter MetricDataQueries.member.1.MetricStat.Stat" in error["Message"]
    assert "percentiles p0 to p100" in error["Message"]  # what is computed instead
    if stat:  # GetMetricStatistics takes ExtendedStatistics of at least one character
        with pytest.raises(ClientError) as refused:
            cloudwatch.get_metric_statistics(
                **target, StartTime=start, EndTime=start + dt.timedelta(hours=1), Period=60, ExtendedStatistics=[stat]
            )
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert (
            f"The value {stat} for parameter ExtendedStatistics.member.1" in refused.value.response["Error"]["Message"]
        )


def test_requests_the_engine_cannot_answer_are_refused_not_crashed(cloudwatch):
    start, end = hours_ago(1), hours_ago(0)
    target = metric("refused")
    # botocore would refuse a Period of 0 itself; the engine is asked anyway
    unchecked = cloudwatch_client(Config(parameter_validation=False, retries={"max_attempts": 1}))
    for period in (0, 45, 90):
        query = {"Id": "q", "MetricStat": {"Metric": target, "Period": period, "Stat": "p50"}}
        with pytest.raises(ClientError) as refused:
            unchecked.get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=end)
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValue", period
        assert "multiple of 60" in refused.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as refused:
            unchecked.get_metric_statistics(**target, StartTime=start, EndTime=end, Period=period, Statistics=["Sum"])
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValue", period
    with pytest.raises(ClientError) as refused:
        cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "e", "Expression": "SUM(METRICS())"}], StartTime=start, EndTime=end
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "Expression" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as refused:
        cloudwatch.get_metric_statistics(**target, StartTime=start, EndTime=end, Period=60)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "Statistics or ExtendedStatistics" in refused.value.response["Error"]["Message"]
