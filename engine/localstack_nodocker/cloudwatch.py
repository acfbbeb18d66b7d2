"""CloudWatch statistics from the stored datapoints: percentiles too, one indexed read per series, minutes summed.

LocalStack 4.8's CloudWatch (``provider_v2``, datapoints in SQLite) computes SampleCount,
Average, Sum, Minimum and Maximum, and answers InternalError for any other statistic (a
KeyError), for GetMetricStatistics with ExtendedStatistics only (it iterates ``None``) and
for a Period of 0 (a division); GetMetricData with a Period of 0 loops forever. Its query
matches dimensions with ``LIKE '%Name=Value%'`` (``FunctionName=api`` takes in
``FunctionName=api-worker``) and so reads the metric's whole history once per period asked.
This provider (``cloudwatch:nodocker``, chosen by engine/ctl.py) is LocalStack's own, with
GetMetricData and GetMetricStatistics answered from ``MetricsStore``:

- every statistic from one read of the series' datapoints in the asked time range, through
  an index on (account, region, namespace, metric, dimensions, timestamp) added here,
  grouped by period (and by value for percentiles) in SQLite; dimensions match exactly, as
  on AWS (the datapoint's dimension set is the query's);
- percentiles ``p0`` to ``p100`` (up to 10 decimals) as a GetMetricData ``MetricStat.Stat``
  and in GetMetricStatistics ``ExtendedStatistics`` (alone or beside ``Statistics``);
- InvalidParameterValue, naming what is computed, for every other statistic (trimmed and
  winsorized means ``tmNN``/``wmNN``/``TM()``/``WM()``, ``IQM``, ``PR()``, ``TC()``, ``TS()``,
  misspellings), for metric math (``Expression``) and for a Period AWS refuses;
- summaries per series and minute (SampleCount, Sum, Minimum, Maximum), kept by SQLite
  triggers as datapoints are stored: a query of those statistics over whole minutes (a Period
  of whole minutes from a start on a minute) reads one row per minute, whatever the number of
  datapoints (a Lambda function publishes one per invocation); the last part of a minute
  before the query's end is read from the datapoints. Percentiles read the values, in time
  order from an index that holds them (no row visited, no sort in SQLite), once per series
  and GetMetricData request (p50, p95 and p99 of a series asked in three queries: one read);
- AWS's retention of 15 months: older datapoints are not answered, and an hourly pass
  deletes them.

A percentile (AWS: "p95 means that 95 percent of the data within the period is lower than
this value") is the nearest rank over the period's values, each counted as often as it was
published (Values with Counts: each value Counts times): pNN is the smallest value whose
cumulative count reaches NN percent of the period's count, so p0 is the minimum and p100 the
maximum. AWS approximates it from a histogram; this is the exact value that approximates.

Percentiles need raw values (AWS documents the same): a datapoint published as a
StatisticSet counts only when its SampleCount is 1 (its Sum is the value) or its Minimum
equals its Maximum (that value, SampleCount times). A period holding any other
StatisticSet, or a negative value, has no percentile: GetMetricData leaves the period out
and says why in its Messages, GetMetricStatistics leaves the percentile out of that
period's datapoint.
"""

import itertools
import json
import logging
import math
import operator
import re
import sqlite3
import threading
import time
from bisect import bisect_left
from collections import Counter
from contextvars import ContextVar
from fractions import Fraction

from localstack.aws.api import RequestContext
from localstack.aws.api.cloudwatch import (
    Datapoint,
    InvalidParameterCombinationException,
    InvalidParameterValueException,
    MetricDataQuery,
    ScanBy,
    Statistic,
)
from localstack.services.cloudwatch.cloudwatch_database_helper import CloudwatchDatabase
from localstack.services.cloudwatch.provider_v2 import CloudwatchProvider
from localstack.services.plugins import Service, aws_provider

LOG = logging.getLogger(__name__)

STATISTICS = frozenset(Statistic)
# p95, p99.9, P50: either case (AWS's own documentation writes both tm90 and TM(2%:98%))
PERCENTILE = re.compile(r"[pP](100(?:\.0{1,10})?|\d{1,2}(?:\.\d{1,10})?)")
COMPUTED = "SampleCount, Average, Sum, Minimum, Maximum and percentiles p0 to p100 (for example p50, p99.9)"
# Periods AWS accepts: high resolution 1, 5, 10 or 30 seconds, otherwise whole minutes.
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
UNAVAILABLE = "PercentileUnavailable"
# AWS keeps metric data 15 months (455 days); older datapoints are neither read nor kept.
RETENTION_S = 455 * 86_400
EXPIRY_INTERVAL_S = 3600


def percentile_of(statistic: str) -> Fraction | None:
    """The percentile a statistic name asks for (p95.5 -> 95.5), None when it is no percentile."""
    match = PERCENTILE.fullmatch(statistic or "")
    return Fraction(match.group(1)) if match else None


def nearest_rank(distribution: list[tuple[float, int | Fraction]], percentile: Fraction) -> float:
    """The smallest value whose cumulative count reaches `percentile` percent of all counts.
    `distribution`: (value, count) pairs, values ascending, counts positive."""
    cumulative = list(itertools.accumulate(count for _, count in distribution))
    return float(distribution[bisect_left(cumulative, percentile * cumulative[-1] / 100)][0])


# The periods read while one GetMetricData request is answered, by their arguments.
_REQUEST_PERIODS: ContextVar[dict | None] = ContextVar("request_periods", default=None)


class Period:
    """One period of a series: its summary (SampleCount, Sum, Minimum, Maximum) and, when
    percentiles are asked, its values as a distribution ((value, count) pairs, a value possibly
    in more than one) or why it has none."""

    def __init__(self):
        self.sample_count = self.sum = 0
        self.minimum = self.maximum = None
        self.values: list = []  # each counted once
        self.weighted: list[tuple] = []  # (value, count): StatisticSets' values
        self.refusal: str | None = None

    def summarise(self, sample_count, total, minimum, maximum) -> None:
        if not sample_count:
            return
        self.sample_count += sample_count
        self.sum += total
        self.minimum = minimum if self.minimum is None else min(self.minimum, minimum)
        self.maximum = maximum if self.maximum is None else max(self.maximum, maximum)

    def statistic(self, name: str) -> float:
        if name == Statistic.Average:
            return self.sum / self.sample_count
        return {"SampleCount": self.sample_count, "Sum": self.sum, "Minimum": self.minimum, "Maximum": self.maximum}[
            name
        ]

    def add(self, value, count) -> None:
        if value < 0:
            self.refusal = "a negative value"
        elif count > 0:
            # counts stay exact: whole ones as int, a fractional SampleCount as a Fraction
            self.weighted.append((value, count if isinstance(count, int) else Fraction(count)))

    def add_values(self, values: list) -> None:
        """Datapoints' values, each counted once."""
        if values and min(values) < 0:
            self.refusal = "a negative value"
        self.values += values

    def add_statistic_set(self, sample_count, total, minimum, maximum) -> None:
        if None in (sample_count, total, minimum, maximum):
            self.refusal = self.refusal or "a StatisticSet without all of its four values"
        elif sample_count == 1:
            self.add(total, 1)
        elif minimum == maximum:
            self.add(minimum, sample_count)
        else:
            self.refusal = self.refusal or "a StatisticSet with Minimum != Maximum (no raw values)"

    def percentiles(self, percentiles: dict[str, Fraction]) -> dict[str, float]:
        if self.refusal or not (self.values or self.weighted):
            return {}
        if not self.weighted:  # each value counted once: the rank is an index
            ordered = sorted(self.values)
            return {
                name: float(ordered[max(math.ceil(p * len(ordered) / 100), 1) - 1]) for name, p in percentiles.items()
            }
        distribution = sorted([(value, 1) for value in self.values] + self.weighted)
        return {name: nearest_rank(distribution, percentile) for name, percentile in percentiles.items()}


class MetricsStore(CloudwatchDatabase):
    """LocalStack's metrics store, read by series and time range through an index (SQLite's
    plan for LocalStack's own query, with its ``LIKE``: the metric's every row, per period)."""

    # (name, columns): the values' index covers what a query reads (no row is visited)
    SERIES_INDEXES = {
        CloudwatchDatabase.TABLE_SINGLE_METRICS: ("idx_single_metrics_values", "timestamp, unit, value"),
        CloudwatchDatabase.TABLE_AGGREGATED_METRICS: ("idx_aggregated_metrics_series", "timestamp"),
    }
    # the engine's earlier index, replaced by the covering one in a database loaded from a snapshot
    SUPERSEDED_INDEX = "idx_single_metrics_series"
    SUMMARIES = {
        CloudwatchDatabase.TABLE_SINGLE_METRICS: "COUNT(*), SUM(value), MIN(value), MAX(value)",
        CloudwatchDatabase.TABLE_AGGREGATED_METRICS: "SUM(sample_count), SUM(sum), MIN(min), MAX(max)",
    }

    # Per series and minute: SampleCount, Sum, Minimum, Maximum of its datapoints, kept by
    # triggers as datapoints are stored. NULL dimensions and units are stored as '' (SQLite's
    # NULLs are distinct in a key, and would never meet their minute's row).
    MINUTES = "SERIES_MINUTES"
    MINUTE_KEY = "account_id, region, namespace, metric_name, dimensions, unit, minute"
    _MINUTE_OF = "NEW.account_id, NEW.region, NEW.namespace, NEW.metric_name, IFNULL(NEW.dimensions, ''),"
    _MINUTE_OF += " IFNULL(NEW.unit, ''), CAST(NEW.timestamp AS INTEGER) / 60 * 60"
    MINUTE_VALUES = {
        CloudwatchDatabase.TABLE_SINGLE_METRICS: f"{_MINUTE_OF}, 1, NEW.value, NEW.value, NEW.value",
        CloudwatchDatabase.TABLE_AGGREGATED_METRICS: f"{_MINUTE_OF}, NEW.sample_count, NEW.sum, NEW.min, NEW.max",
    }

    def __init__(self):
        super().__init__()
        self.index_series()

    def index_series(self) -> None:
        """The index every statistics query reads through, and the minutes table with the
        triggers that keep it (idempotent: also after a state load, which may bring a metrics
        database written before they existed; its minutes are then summed once)."""
        with self.DATABASE_LOCK, sqlite3.connect(self.METRICS_DB) as connection:
            for table, (index, columns) in self.SERIES_INDEXES.items():
                connection.execute(
                    f"CREATE INDEX IF NOT EXISTS {index} ON {table}"
                    f" (account_id, region, namespace, metric_name, dimensions, {columns})"
                )
            connection.execute(f"DROP INDEX IF EXISTS {self.SUPERSEDED_INDEX}")
            created = not connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.MINUTES,)
            ).fetchone()
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self.MINUTES} (account_id TEXT, region TEXT, namespace TEXT,"
                " metric_name TEXT, dimensions TEXT, unit TEXT, minute INTEGER, sample_count NUMERIC, sum NUMERIC,"
                f" min NUMERIC, max NUMERIC, PRIMARY KEY ({self.MINUTE_KEY}))"
            )
            for table, values in self.MINUTE_VALUES.items():
                connection.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table.lower()}_minutes AFTER INSERT ON {table} BEGIN"
                    f" {self._minute_upsert(f'VALUES ({values})')}; END"
                )
            if created:  # a database from before the minutes: its datapoints summed once
                for table, values in self.MINUTE_VALUES.items():
                    connection.execute(
                        self._minute_upsert(f"SELECT {values.replace('NEW.', '')} FROM {table} WHERE true")
                    )

    def _minute_upsert(self, source: str) -> str:
        """Add datapoints (``VALUES (...)`` of one, or a ``SELECT`` of many) to their minutes."""
        return (
            f"INSERT INTO {self.MINUTES} ({self.MINUTE_KEY}, sample_count, sum, min, max) {source}"
            f" ON CONFLICT ({self.MINUTE_KEY}) DO UPDATE SET sample_count = sample_count + excluded.sample_count,"
            " sum = sum + excluded.sum, min = MIN(min, excluded.min), max = MAX(max, excluded.max)"
        )

    def clear_tables(self):
        super().clear_tables()
        with self.DATABASE_LOCK, sqlite3.connect(self.METRICS_DB) as connection:
            connection.execute(f"DELETE FROM {self.MINUTES}")

    def expire(self, now: float | None = None) -> None:
        """Drop what AWS no longer keeps: datapoints older than ``RETENTION_S`` (15 months)."""
        cutoff = int((now or time.time()) - RETENTION_S) // 60 * 60
        with self.DATABASE_LOCK, sqlite3.connect(self.METRICS_DB) as connection:
            for table in (*self.SUMMARIES, self.MINUTES):
                column = "minute" if table == self.MINUTES else "timestamp"
                connection.execute(f"DELETE FROM {table} WHERE {column} < ?", (cutoff,))

    def periods(self, *arguments, distribution: bool = False) -> dict[int, "Period"]:
        """``_periods``, read once per GetMetricData request for the same arguments (a
        dashboard asks p50, p95 and p99 of a series in three queries)."""
        cache = _REQUEST_PERIODS.get()
        if cache is None:
            return self._periods(*arguments, distribution=distribution)
        key = (json.dumps(arguments, sort_keys=True, default=str), distribution)
        if key not in cache:
            cache[key] = self._periods(*arguments, distribution=distribution)
        return cache[key]

    def _periods(
        self,
        account_id: str,
        region: str,
        metric: dict,
        unit: str | None,
        start: int,
        end: int,
        period: int,
        distribution: bool = False,
    ) -> dict[int, Period]:
        """The series' periods in [start, end) that hold datapoints, by their start (start + k * period).
        `metric`: Namespace, MetricName and Dimensions; `unit`: None for any unit, "NULL_VALUE"
        for datapoints published without one; `distribution`: read the values for percentiles too."""
        # LocalStack's own encoding of a dimension set (sorted by name; it sorts in place).
        dimensions = self._get_ordered_dimensions_with_separator([dict(d) for d in metric.get("Dimensions") or []])
        of_series = [account_id, region, metric["Namespace"], metric["MetricName"]]
        # what AWS no longer keeps is not read (periods still start at `start`)
        earliest = max(start, (int(time.time()) - RETENTION_S) // 60 * 60)
        # Summaries need no single datapoint: whole minutes come from the minutes table, the
        # last part of a minute (before `end`) from the datapoints. Percentiles read the values.
        by_minute = period % 60 == 0 and start % 60 == 0
        minutes_end = max(earliest, end // 60 * 60) if by_minute else earliest
        found: dict[int, Period] = {}

        def at(index: int) -> Period:
            timestamp = start + index * period
            if timestamp not in found:  # made once per period, not once per row read
                found[timestamp] = Period()
            return found[timestamp]

        def read(
            connection, table: str, columns: str, column: str, since: int, until: int, tail: str = "GROUP BY slot"
        ):
            series = "account_id = ? AND region = ? AND namespace = ? AND metric_name = ?"
            series += f" AND dimensions {'= ?' if table == self.MINUTES else 'IS ?'}"
            arguments = [start, period, *of_series, (dimensions or "") if table == self.MINUTES else dimensions]
            series += f" AND {column} >= ? AND {column} < ?"
            arguments += [since, until]
            if unit == "NULL_VALUE":
                series += " AND unit = ''" if table == self.MINUTES else " AND unit IS NULL"
            elif unit:
                series += " AND unit = ?"
                arguments.append(unit)
            slot = f"CAST(({column} - ?) / ? AS INTEGER)"
            return connection.execute(f"SELECT {slot} AS slot, {columns} FROM {table} WHERE {series} {tail}", arguments)

        with self.DATABASE_LOCK, sqlite3.connect(self.METRICS_DB_READ_ONLY, uri=True) as connection:
            if by_minute and minutes_end > earliest:
                columns = "SUM(sample_count), SUM(sum), MIN(min), MAX(max)"
                for index, *summary in read(connection, self.MINUTES, columns, "minute", earliest, minutes_end):
                    at(index).summarise(*summary)
            for table, columns in self.SUMMARIES.items():
                for index, *summary in read(connection, table, columns, "timestamp", minutes_end, end):
                    at(index).summarise(*summary)
            if distribution:
                # in time order, as the covering index holds them (no sort in SQLite): the
                # periods follow one another, each period's values sorted once in Python
                values = read(
                    connection, self.TABLE_SINGLE_METRICS, "value", "timestamp", earliest, end, "ORDER BY timestamp"
                )
                for index, rows in itertools.groupby(values, key=operator.itemgetter(0)):
                    at(index).add_values([value for _, value in rows])
                columns = "sample_count, sum, min, max"
                for index, *statistic_set in read(
                    connection, self.TABLE_AGGREGATED_METRICS, columns, "timestamp", earliest, end, ""
                ):
                    at(index).add_statistic_set(*statistic_set)
        return {timestamp: values for timestamp, values in found.items() if values.sample_count}

    def get_metric_data_stat(self, account_id, region, query: MetricDataQuery, start_time, end_time, scan_by):
        """LocalStack's signature and answer ({timestamps, values}, newest first unless
        TimestampAscending), plus messages for periods without the percentile asked."""
        metric_stat = query["MetricStat"]
        name = metric_stat["Stat"]
        percentile = percentile_of(name)
        periods = self.periods(
            account_id,
            region,
            metric_stat["Metric"],
            metric_stat.get("Unit"),
            self._convert_timestamp_to_unix(start_time),
            self._convert_timestamp_to_unix(end_time),
            metric_stat["Period"],
            distribution=percentile is not None,
        )
        timestamps, values, refused = [], [], Counter()
        for timestamp in sorted(periods, reverse=scan_by != ScanBy.TimestampAscending):
            values_of_period = periods[timestamp]
            if percentile is None:
                value = values_of_period.statistic(name)
            elif values_of_period.refusal:
                refused[values_of_period.refusal] += 1
                continue
            else:
                value = values_of_period.percentiles({name: percentile})[name]
            timestamps.append(timestamp)
            values.append(value)
        messages = [
            {
                "Code": UNAVAILABLE,
                "Value": f"{query.get('Id')}: no {name} for {count} period(s) holding {reason};"
                " percentiles need raw values (Value, or Values and Counts), none negative",
            }
            for reason, count in refused.items()
        ]
        return {"timestamps": timestamps, "values": values, "messages": messages}


def _check_period(period, parameter: str) -> None:
    if not isinstance(period, int) or not (period in HIGH_RESOLUTION_PERIODS or (period >= 60 and period % 60 == 0)):
        raise InvalidParameterValueException(
            f"The parameter {parameter} must be 1, 5, 10, 30 or a multiple of 60 (seconds), not {period}."
        )


def _check_statistic(statistic: str, parameter: str) -> None:
    if statistic not in STATISTICS and percentile_of(statistic) is None:
        raise InvalidParameterValueException(
            f"The value {statistic} for parameter {parameter} is not supported: this engine computes {COMPUTED}."
        )


class NodockerCloudwatchProvider(CloudwatchProvider):
    def __init__(self):
        super().__init__()
        self.cloudwatch_database = MetricsStore()

    def on_after_init(self):
        super().on_after_init()
        threading.Thread(target=self._expire_hourly, name="metric-retention", daemon=True).start()

    def _expire_hourly(self) -> None:
        while True:
            try:
                self.cloudwatch_database.expire()
            except sqlite3.Error:  # a reset replacing the database meanwhile: the next hour's pass
                LOG.exception("metric retention pass failed")
            time.sleep(EXPIRY_INTERVAL_S)

    def on_after_state_reset(self):
        super().on_after_state_reset()
        self.cloudwatch_database = MetricsStore()

    def on_after_state_load(self):
        super().on_after_state_load()
        self.cloudwatch_database.index_series()

    def get_metric_data(self, context: RequestContext, metric_data_queries, start_time, end_time, *args, **kwargs):
        token = _REQUEST_PERIODS.set({})
        try:
            return self._get_metric_data(context, metric_data_queries, start_time, end_time, *args, **kwargs)
        finally:
            _REQUEST_PERIODS.reset(token)

    def _get_metric_data(self, context: RequestContext, metric_data_queries, start_time, end_time, *args, **kwargs):
        for number, query in enumerate(metric_data_queries or [], 1):
            member = f"MetricDataQueries.member.{number}"
            if "MetricStat" not in query:
                raise InvalidParameterValueException(
                    f"{member}: metric math (Expression) is not computed by this engine; ask for MetricStat queries."
                )
            _check_statistic(query["MetricStat"].get("Stat"), f"{member}.MetricStat.Stat")
            _check_period(query["MetricStat"].get("Period"), f"{member}.MetricStat.Period")
        return super().get_metric_data(context, metric_data_queries, start_time, end_time, *args, **kwargs)

    def get_metric_statistics(
        self,
        context: RequestContext,
        namespace,
        metric_name,
        start_time,
        end_time,
        period,
        dimensions=None,
        statistics=None,
        extended_statistics=None,
        unit=None,
        **kwargs,
    ):
        if not statistics and not extended_statistics:
            raise InvalidParameterCombinationException("Must specify either Statistics or ExtendedStatistics.")
        for number, statistic in enumerate(statistics or [], 1):
            _check_statistic(statistic, f"Statistics.member.{number}")
        percentiles = {}
        for number, name in enumerate(extended_statistics or [], 1):
            if (percentile := percentile_of(name)) is None:
                raise InvalidParameterValueException(
                    f"The value {name} for parameter ExtendedStatistics.member.{number} is not supported:"
                    " this engine computes percentiles p0 to p100 (for example p50, p99.9)."
                )
            percentiles[name] = percentile
        _check_period(period, "Period")
        # LocalStack's answer for Statistics (none asked: its checks of the time range and the
        # datapoint limit, and no datapoints), then the percentiles merged into it.
        answer = super().get_metric_statistics(
            context, namespace, metric_name, start_time, end_time, period, dimensions, statistics or [], None, unit
        )
        if not percentiles:
            return answer
        database = self.cloudwatch_database
        units = (
            [unit]
            if unit
            else database.get_units_for_metric_data_stat(
                context.account_id, context.region, start_time, end_time, metric_name, namespace
            )
        )
        datapoints = {(point["Unit"], point["Timestamp"]): point for point in answer["Datapoints"]}
        for selected in units:
            periods = database.periods(
                context.account_id,
                context.region,
                {"Namespace": namespace, "MetricName": metric_name, "Dimensions": dimensions},
                selected,
                int(start_time.timestamp()),
                int(end_time.timestamp()),
                period,
                distribution=True,
            )
            label = "None" if selected == "NULL_VALUE" else selected
            for timestamp, values in periods.items():
                if figures := values.percentiles(percentiles):
                    point = datapoints.setdefault((label, timestamp), Datapoint(Timestamp=timestamp, Unit=label))
                    point["ExtendedStatistics"] = figures
        answer["Datapoints"] = list(datapoints.values())
        return answer


@aws_provider(api="cloudwatch", name="nodocker")
def cloudwatch_nodocker():
    return Service.for_provider(NodockerCloudwatchProvider())
