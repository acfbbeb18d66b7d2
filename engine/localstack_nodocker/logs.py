"""CloudWatch Logs as AWS serves it: filter patterns, metric filters and retention (``logs:nodocker``).

LocalStack's community logs provider (moto underneath) ignores filter patterns: its
``get_pattern_matcher`` matches everything and "can be patched by plugins". This provider is
LocalStack's own, with:

- filter patterns (filter_patterns.py) put in ``get_pattern_matcher``, so FilterLogEvents,
  subscription filters and metric filters all match as AWS documents; a pattern AWS refuses
  is answered InvalidParameterException with the reason, in FilterLogEvents,
  PutMetricFilter, PutSubscriptionFilter and TestMetricFilter (which answers the matches
  and extracted values);
- metric filters applied to the events of their own log group only (LocalStack applies every
  filter of the region to every event), publishing ``metricValue`` read from the event
  (``$.latency``, ``$bytes``) or the literal, with the transformation's unit and
  dimensions, one PutMetricData per transformation and batch; ``defaultValue`` when a batch
  holds no match;
- DescribeLogGroups and ListLogGroups without LocalStack's deep copies: its patch of
  moto's describe copied every event of each group described, and 2026.3.0's provider
  copies every group of the region, with all their events, to pick the ones it answers
  (1.6 s of the engine's CPU per call holding a day of the stack's function logs;
  Terraform reads each log group with one on every plan and apply);
- retention: a log group's ``retentionInDays`` is honoured. Expired events are dropped from
  the store when the group is read (FilterLogEvents, GetLogEvents) and by a sweep every
  ``SWEEP_INTERVAL`` seconds, so the store holds what the retention keeps and no more.
  Groups without retention keep their events, as on AWS ("never expire").
"""

import logging
import threading
import time

from localstack.aws.api import RequestContext, handler
from localstack.aws.api.logs import (
    DescribeLogGroupsResponse,
    InvalidParameterException,
    ListLogGroupsResponse,
    LogGroupClass,
    LogGroupSummary,
    MetricFilterMatchRecord,
    TestMetricFilterResponse,
)
from localstack.aws.connect import connect_to
from localstack.services.logs.provider import LogsProvider
from localstack.services.moto import call_moto
from localstack.services.plugins import Service, aws_provider
from localstack.utils.bootstrap import is_api_enabled
from moto.logs.models import logs_backends

from localstack_nodocker import filter_patterns, seam
from localstack_nodocker.filter_patterns import PatternError

LOG = logging.getLogger(__name__)

SWEEP_INTERVAL = 60.0
DAY_MS = 86_400_000
# PutMetricData takes at most 1,000 datapoints per request.
METRIC_DATA_PER_REQUEST = 1000


def _compiled(pattern: str | None) -> filter_patterns.Pattern:
    try:
        return filter_patterns.compile_pattern(pattern)
    except PatternError as error:
        raise InvalidParameterException(str(error)) from None


def pattern_matcher(pattern: str):
    """LocalStack's hook: a function of (pattern, event) for the pattern."""
    compiled = _compiled(pattern)
    return lambda _pattern, event: compiled.matches(event["message"])


# --- retention ----------------------------------------------------------------------------------


def expire_group(group, every_event: bool = True) -> int:
    """Drop the group's events older than its retention; how many were dropped. Each stream's
    list is replaced, not changed in place, so a read iterating the old one meanwhile is not
    disturbed. ``every_event=False`` (the sweep) looks only at streams whose first or last
    event expired: events mostly arrive in time order, and a read of the group checks them
    all (it walks them anyway)."""
    days = group.retention_in_days
    if not days:
        return 0
    cutoff = int(time.time() * 1000) - int(days) * DAY_MS
    dropped = 0
    for stream in list(group.streams.values()):
        events = stream.events
        if not events or (not every_event and min(events[0].timestamp, events[-1].timestamp) >= cutoff):
            continue
        kept = [event for event in events if event.timestamp >= cutoff]
        if len(kept) == len(events):
            continue
        stream.stored_bytes -= sum(len(event.message) for event in events if event.timestamp < cutoff)
        dropped += len(events) - len(kept)
        stream.events = kept
    return dropped


def expire_everywhere() -> int:
    dropped = 0
    for account in list(logs_backends.values()):
        for backend in list(account.values()):
            for group in list(backend.groups.values()):
                dropped += expire_group(group, every_event=False)
    return dropped


def _sweep() -> None:
    while True:
        time.sleep(SWEEP_INTERVAL)
        try:
            dropped = expire_everywhere()
        except Exception:  # a group deleted meanwhile: the next sweep sees the new state
            LOG.exception("log retention sweep failed")
            continue
        if dropped:
            LOG.debug("log retention: %d expired events dropped", dropped)


def _group(context: RequestContext, name: str | None):
    backend = logs_backends[context.account_id][context.region]
    return backend.groups.get(name) if name else None


def _groups(context: RequestContext) -> list:
    """The region's log groups by name, read in one step (the dict may grow meanwhile)."""
    groups = list(logs_backends[context.account_id][context.region].groups.values())
    return sorted(groups, key=lambda group: group.name)


def describe_group(self) -> dict:
    """moto's LogGroup.to_describe_dict, as LocalStack patches it but without its deep copy of
    every stream (every event of the group, per group described: DescribeLogGroups, which
    Terraform reads on every plan, took seconds at 100,000 events). The streams are listed at
    once instead, which is what the copy was for (a stream created meanwhile)."""
    described = {
        "arn": f"{self.arn}:*",
        "logGroupArn": self.arn,
        "creationTime": self.creation_time,
        "logGroupName": self.name,
        "metricFilterCount": 0,
        "storedBytes": sum(stream.stored_bytes for stream in list(self.streams.values())),
    }
    if self.retention_in_days:
        described["retentionInDays"] = self.retention_in_days
    if self.kms_key_id:
        described["kmsKeyId"] = self.kms_key_id
    return described


# --- metric filters -----------------------------------------------------------------------------


def _read(fields: dict, reference: str):
    """A metric filter's ``$.a.b`` (JSON) or ``$name`` / ``$1`` (space-delimited) value of an event."""
    if reference.startswith("$.") and "$" in fields:
        return filter_patterns.json_value(fields["$"], reference)
    return fields.get(reference)


def metric_datapoints(metric_filter: dict, events: list[dict]) -> dict[str, list[dict]]:
    """{namespace: [MetricDatum]} a metric filter publishes for a batch of events."""
    compiled = _compiled(metric_filter.get("filterPattern"))
    published: dict[str, list[dict]] = {}
    for transformation in metric_filter.get("metricTransformations") or []:
        data = published.setdefault(transformation["metricNamespace"], [])
        matched = False
        for event in events:
            fields = compiled.fields(event["message"])
            if fields is None:
                continue
            matched = True
            text = transformation.get("metricValue") or "1"
            value = filter_patterns.decimal(_read(fields, text) if text.startswith("$") else text)
            if value is None:
                continue  # AWS publishes nothing for an event whose value is not a number
            datum = {
                "MetricName": transformation["metricName"],
                "Value": float(value),
                "Timestamp": event["timestamp"] / 1000,
            }
            dimensions = [
                {"Name": name, "Value": str(_read(fields, reference))}
                for name, reference in (transformation.get("dimensions") or {}).items()
                if _read(fields, reference) is not None
            ]
            if dimensions:
                datum["Dimensions"] = dimensions
            if transformation.get("unit"):
                datum["Unit"] = transformation["unit"]
            data.append(datum)
        if not matched and transformation.get("defaultValue") is not None and events:
            data.append({"MetricName": transformation["metricName"], "Value": float(transformation["defaultValue"])})
    return published


class NodockerLogsProvider(LogsProvider):
    def on_after_init(self):
        super().on_after_init()
        threading.Thread(target=_sweep, name="log-retention", daemon=True).start()

    def put_log_events(self, context: RequestContext, log_group_name, log_stream_name, log_events, *args, **kwargs):
        backend = logs_backends[context.account_id][context.region]
        metric_filters = backend.filters.metric_filters if is_api_enabled("cloudwatch") else []
        own = [found for found in metric_filters if found.get("logGroupName") == log_group_name]
        if own and log_events:
            cloudwatch = connect_to(aws_access_key_id=context.account_id, region_name=context.region).cloudwatch
            for metric_filter in own:
                for namespace, data in metric_datapoints(metric_filter, log_events).items():
                    for first in range(0, len(data), METRIC_DATA_PER_REQUEST):
                        try:
                            cloudwatch.put_metric_data(
                                Namespace=namespace, MetricData=data[first : first + METRIC_DATA_PER_REQUEST]
                            )
                        except Exception as error:  # the events are stored whatever the metric's fate
                            LOG.warning(
                                "metric filter %s: PutMetricData failed: %s", metric_filter["filterName"], error
                            )
        return call_moto(context)

    @handler("DescribeLogGroups", expand=False)
    def describe_log_groups(self, context: RequestContext, request) -> DescribeLogGroupsResponse:
        prefix, pattern = request.get("logGroupNamePrefix", ""), request.get("logGroupNamePattern", "")
        if pattern and prefix:
            raise InvalidParameterException(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        groups = [
            {"logGroupClass": LogGroupClass.STANDARD} | group.to_describe_dict()
            for group in _groups(context)
            if (not (prefix or pattern))
            or (prefix and group.name.startswith(prefix))
            or (pattern and pattern in group.name)
        ]
        return DescribeLogGroupsResponse(logGroups=groups)

    @handler("ListLogGroups", expand=False)
    def list_log_groups(self, context: RequestContext, request) -> ListLogGroupsResponse:
        pattern = request.get("logGroupNamePattern")
        groups = [
            LogGroupSummary(logGroupName=group.name, logGroupArn=group.arn, logGroupClass=LogGroupClass.STANDARD)
            for group in _groups(context)
            if not pattern or pattern in group.name
        ]
        return ListLogGroupsResponse(logGroups=groups)

    def filter_log_events(self, context: RequestContext, log_group_name=None, *args, filter_pattern=None, **kwargs):
        _compiled(filter_pattern)
        group = _group(context, log_group_name or kwargs.get("log_group_identifier"))
        if group is not None:
            expire_group(group)
        return call_moto(context)

    def get_log_events(self, context: RequestContext, log_stream_name, *args, log_group_name=None, **kwargs):
        group = _group(context, log_group_name or kwargs.get("log_group_identifier"))
        if group is not None:
            expire_group(group)
        return call_moto(context)

    def put_metric_filter(self, context: RequestContext, log_group_name, filter_name, filter_pattern, *args, **kwargs):
        _compiled(filter_pattern)
        # AWS replaces a filter of the same name; moto would add a second one
        logs_backends[context.account_id][context.region].filters.delete_filter(filter_name, log_group_name)
        return call_moto(context)

    def put_subscription_filter(
        self, context: RequestContext, log_group_name, filter_name, filter_pattern, *args, **kwargs
    ):
        _compiled(filter_pattern)
        return call_moto(context)

    def test_metric_filter(
        self, context: RequestContext, filter_pattern, log_event_messages, **kwargs
    ) -> TestMetricFilterResponse:
        compiled = _compiled(filter_pattern)
        matches = []
        for number, message in enumerate(log_event_messages, 1):
            fields = compiled.fields(message)
            if fields is not None:
                extracted = {name: str(value) for name, value in fields.items() if name != "$"}
                matches.append(
                    MetricFilterMatchRecord(eventNumber=number, eventMessage=message, extractedValues=extracted)
                )
        return TestMetricFilterResponse(matches=matches)


@aws_provider(api="logs", name="nodocker")
def logs_nodocker():
    seam.replace(seam.LOGS_PATTERN_MATCHER, pattern_matcher)
    seam.replace(seam.LOG_GROUP_DESCRIBE, describe_group)
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(NodockerLogsProvider(), dispatch_table_factory=MotoFallbackDispatcher)
