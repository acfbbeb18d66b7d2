"""Throttling and quotas of REST APIs, applied as API Gateway applies them.

Each request to a method, after routing and before the API key check, takes a token from:

- the method's bucket: the stage's method setting for that method
  (``<resource path>/<METHOD>``, e.g. ``~1notifications/POST``) or else its ``*/*``
  setting, ``throttlingRateLimit`` per second, ``throttlingBurstLimit`` at most; every method
  has a bucket of its own (AWS applies a stage's limits per method);
- for a method that requires an API key, sent with a key of a usage plan of the stage: the
  key's bucket in that plan (the plan's ``apiStages[].throttle`` for the method, else the
  plan's ``throttle``, one bucket for the key across the plan's stages), and the key's
  quota (``limit`` requests per DAY, WEEK or MONTH in UTC, the period starting on day
  ``offset``: WEEK 0 = Sunday, MONTH 0 = the 1st).

A request that finds a bucket empty gets 429 ``{"message":"Too Many Requests"}``
(``x-amzn-ErrorType: TooManyRequestsException``); one over its quota 429
``{"message":"Limit Exceeded"}`` (``LimitExceededException``); neither consumes anything.
A rate or burst of 0 (or a throttle missing one of them) refuses every request, as AWS does.
Usage plans whose throttle or quota AWS would refuse are refused at CreateUsagePlan and
UpdateUsagePlan (400, with the reason), and negative stage limits at UpdateStage.

Not modelled: the account-level limit (10,000 requests/s, burst 5,000, more than the engine
serves); quota counts are kept in memory (a restart starts them again; ``GetUsage`` does not
report them). ``NODOCKER_APIGATEWAY_THROTTLING=0`` turns throttling and quotas off (API keys
and AWS_IAM are still checked), for load tests that want the raw engine (execute_api.py).
"""

import datetime
import logging
import time
from dataclasses import dataclass, field

from localstack.aws.api.apigateway import BadRequestException
from localstack.services.apigateway.next_gen.execute_api.gateway_response import (
    ApiConfigurationError,
    QuotaExceededError,
    ThrottledError,
)
from moto.apigateway.models import apigateway_backends

from localstack_nodocker import rate_limits
from localstack_nodocker.execute_api import StoreCache

LOG = logging.getLogger(__name__)
STAGE_WIDE = ("*", "*")
# (account, region, api id, stage) -> StageLimits; rebuilt after any API Gateway change
STAGES = StoreCache()
# Token buckets and quota counts, by what they limit; they outlive StageLimits (an update of
# a stage keeps its buckets' tokens), as many as methods and keys.
BUCKETS: dict[tuple, rate_limits.TokenBucket] = {}
QUOTAS: dict[tuple, rate_limits.Quota] = {}


@dataclass(frozen=True)
class Limit:
    rate: float
    burst: int


@dataclass(frozen=True)
class KeyPlan:
    plan_id: str
    key_id: str
    throttle: Limit | None
    method_throttles: dict  # (resource path, METHOD) -> Limit
    quota: tuple[int, str, int] | None  # limit, period, offset
    problem: str = ""  # settings no request can be metered with (made before the checks below)


@dataclass(frozen=True)
class StageLimits:
    methods: dict = field(default_factory=dict)  # (resource path, METHOD) or STAGE_WIDE -> Limit
    key_plans: dict = field(default_factory=dict)  # API key value -> KeyPlan


def method_of(setting_key: str) -> tuple[str, str]:
    """("/a/b", "GET") for a method setting or plan throttle key: "~1a~1b/GET", "a/b/GET",
    "/a/b/GET"; "*/*" is STAGE_WIDE."""
    path, _, method = setting_key.rpartition("/")
    if path == "*":
        return path, method
    return "/" + path.replace("~1", "/").lstrip("/"), method.upper()


def _limit(rate, burst) -> Limit:
    """Raises ValueError or TypeError for values that are not numbers."""
    return Limit(max(0.0, float(rate or 0)), max(0, int(burst or 0)))


def _plan_problems(throttle: dict | None, quota: dict | None, api_stages: list | None) -> list[str]:
    problems = []
    throttles = [("throttle", throttle)] if throttle else []
    for stage in api_stages or []:
        for method, settings in (stage.get("throttle") or {}).items():
            throttles.append((f"throttle of {method} on {stage.get('apiId')}:{stage.get('stage')}", settings))
    for where, settings in throttles:
        for name, kind in (("rateLimit", float), ("burstLimit", int)):
            value = settings.get(name)
            try:
                if value is not None and kind(value) < 0:
                    problems.append(f"{where}: {name} must not be negative, got {value}")
            except (TypeError, ValueError):
                problems.append(f"{where}: {name} must be a number, got {value!r}")
    if quota:
        try:
            if int(quota.get("limit", 0)) < 0:
                problems.append(f"quota limit must not be negative, got {quota['limit']}")
            offset = int(quota.get("offset") or 0)
        except (TypeError, ValueError):
            problems.append(
                f"quota limit and offset must be whole numbers, got {quota.get('limit')!r}, {quota.get('offset')!r}"
            )
        else:
            try:
                rate_limits.quota_period_start(quota.get("period"), offset, datetime.datetime.now(datetime.UTC))
            except ValueError as exc:
                problems.append(str(exc))
    return problems


def _patched(settings: dict, operations: list, prefix: str) -> dict:
    """A plan's throttle or quota after UpdateUsagePlan's patch operations (moto's paths)."""
    settings = dict(settings)
    for operation in operations:
        path = operation.get("path", "")
        if operation.get("op") == "remove" and path == prefix:
            settings.clear()
        elif operation.get("op") in ("add", "replace") and path.startswith(prefix + "/"):
            settings[path[len(prefix) + 1 :]] = operation.get("value")
    return settings


def refuse_invalid_limits(chain, context, response) -> None:
    """A service request handler of LocalStack's gateway: limits AWS refuses never reach the
    store (moto takes any value; the requests' checks below would not know what to do)."""
    if context.service is None or context.service.service_name != "apigateway" or context.operation is None:
        return
    request, name = context.service_request or {}, context.operation.name
    problems = []
    if name == "CreateUsagePlan":
        problems = _plan_problems(request.get("throttle"), request.get("quota"), request.get("apiStages"))
    elif name == "UpdateUsagePlan":
        plan = apigateway_backends[context.account_id][context.region].usage_plans.get(request.get("usagePlanId"))
        if plan is not None:  # an unknown plan: the provider's NotFoundException
            operations = request.get("patchOperations") or []
            problems = _plan_problems(
                _patched(plan.throttle, operations, "/throttle"), _patched(plan.quota, operations, "/quota"), []
            )
    elif name == "UpdateStage":
        for operation in request.get("patchOperations") or []:
            if operation.get("path", "").endswith(("/throttling/rateLimit", "/throttling/burstLimit")):
                try:
                    negative = float(operation.get("value")) < 0
                except (TypeError, ValueError):
                    problems.append(f"{operation['path']} must be a number, got {operation.get('value')!r}")
                    continue
                if negative:
                    problems.append(f"{operation['path']} must not be negative, got {operation['value']}")
    if problems:
        raise BadRequestException("; ".join(problems))


def _read_stage(context) -> StageLimits:
    methods = {}
    for key, settings in (context.stage_configuration.get("methodSettings") or {}).items():
        if "throttlingRateLimit" in settings or "throttlingBurstLimit" in settings:
            try:
                methods[method_of(key)] = _limit(
                    settings.get("throttlingRateLimit"), settings.get("throttlingBurstLimit")
                )
            except (TypeError, ValueError):
                LOG.error(
                    "method setting %s of stage %s/%s: throttling is not a number", key, context.api_id, context.stage
                )
    backend = apigateway_backends[context.account_id][context.region]
    key_plans = {}
    for plan in backend.usage_plans.values():
        stages = [s for s in plan.api_stages if s.get("apiId") == context.api_id and s.get("stage") == context.stage]
        if not stages:
            continue
        problem = "; ".join(_plan_problems(plan.throttle, plan.quota, stages))
        try:
            throttle = (
                _limit(plan.throttle.get("rateLimit"), plan.throttle.get("burstLimit")) if plan.throttle else None
            )
            method_throttles = {
                method_of(method): _limit(settings.get("rateLimit"), settings.get("burstLimit"))
                for method, settings in (stages[0].get("throttle") or {}).items()
            }
            quota = plan.quota or None
            if quota:
                quota = (int(quota.get("limit", 0)), quota.get("period"), int(quota.get("offset") or 0))
        except (TypeError, ValueError):
            throttle, method_throttles, quota = None, {}, None
        for usage_plan_key in backend.usage_plan_keys.get(plan.id, {}).values():
            api_key = backend.keys.get(usage_plan_key.id)
            if api_key is not None and api_key.enabled and api_key.value not in key_plans:
                key_plans[api_key.value] = KeyPlan(plan.id, api_key.id, throttle, method_throttles, quota, problem)
    return StageLimits(methods, key_plans)


def _bucket(key: tuple, limit: Limit, now: float) -> rate_limits.TokenBucket:
    bucket = BUCKETS.get(key)
    if bucket is None:
        bucket = BUCKETS.setdefault(key, rate_limits.TokenBucket(limit.rate, limit.burst, now))
    elif (bucket.rate, bucket.burst) != (limit.rate, limit.burst):
        with rate_limits.LOCK:
            bucket.reshape(limit.rate, limit.burst)
    return bucket


def _request_key(context) -> str | None:
    if not (context.resource_method or {}).get("apiKeyRequired"):
        return None
    if context.deployment.rest_api.rest_api.get("apiKeySource") == "AUTHORIZER":
        return context.context_variables["identity"].get("apiKey")
    return context.invocation_request["headers"].get("X-API-Key")


def apply_limits(chain, context, response) -> None:
    """A handler of RestApiGateway's preprocess_request step."""
    stage = (context.account_id, context.region, context.api_id, context.stage)
    backend = apigateway_backends[context.account_id][context.region]
    limits = STAGES.get(stage, backend, lambda: _read_stage(context))
    method = (context.resource["path"], context.resource_method["httpMethod"])
    now = time.monotonic()
    buckets, quota, period_start = [], None, None
    key_plan = limits.key_plans.get(_request_key(context))
    if key_plan is not None:
        if key_plan.problem:
            LOG.error("usage plan %s cannot meter key %s: %s", key_plan.plan_id, key_plan.key_id, key_plan.problem)
            raise ApiConfigurationError("Internal server error")
        if limit := key_plan.method_throttles.get(method):
            buckets.append(_bucket(("key", key_plan.plan_id, key_plan.key_id, *stage[2:], *method), limit, now))
        elif key_plan.throttle:
            buckets.append(_bucket(("key", key_plan.plan_id, key_plan.key_id), key_plan.throttle, now))
        if key_plan.quota:
            count, period, offset = key_plan.quota
            quota = QUOTAS.setdefault((key_plan.plan_id, key_plan.key_id), rate_limits.Quota(count))
            quota.limit = count
            period_start = rate_limits.quota_period_start(period, offset, datetime.datetime.now(datetime.UTC))
    if limit := limits.methods.get(method) or limits.methods.get(STAGE_WIDE):
        buckets.append(_bucket(("method", *stage, *method), limit, now))
    refused = rate_limits.admit(buckets, quota, period_start, now)
    if refused is None:
        return
    if refused is quota:
        raise QuotaExceededError("Limit Exceeded")
    raise ThrottledError("Too Many Requests")
