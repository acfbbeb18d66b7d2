"""API Gateway throttling and usage-plan quotas on the engine (engine/localstack_nodocker/
apigateway_limits.py), on small APIs each test creates (not the deployed stack), and their
arithmetic (rate_limits.py) on its own.

Buckets with a rate of 0 never refill, so those tests count exactly, whatever the machine's
speed; the one test at 20 requests/s bounds what the refill can add."""

import datetime
import os
import sys
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from tests.support.apis import create_api, send, throttle
from tests.support.engine import ctl, endpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engine"))
from localstack_nodocker import rate_limits

# The session engine's port + 33, as tests/engine/test_lifecycle.py's second engine.
SECOND_PORT = int(os.environ.get("ROXS_SECOND_ENGINE_PORT", (urllib.parse.urlparse(endpoint()).port or 4566) + 33))
TOO_MANY = (429, {"message": "Too Many Requests"}, "TooManyRequestsException")
OVER_QUOTA = (429, {"message": "Limit Exceeded"}, "LimitExceededException")


def refusal(reply) -> tuple:
    return reply.status, reply.body, reply.headers.get("x-amzn-errortype")


# --- the arithmetic ----------------------------------------------------------------------------


@given(
    now=st.datetimes(min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2100, 1, 1)),
    period_offset=st.sampled_from(["DAY"]).map(lambda p: (p, 0))
    | st.tuples(st.just("WEEK"), st.integers(0, 6))
    | st.tuples(st.just("MONTH"), st.integers(0, 27)),
)
def test_a_quota_period_holds_today_and_starts_on_its_offset_day(now, period_offset):
    period, offset = period_offset
    now = now.replace(tzinfo=datetime.UTC)
    start = rate_limits.quota_period_start(period, offset, now)
    today = now.date()
    assert start <= today
    if period == "DAY":
        assert start == today
    elif period == "WEEK":
        assert (start.weekday() + 1) % 7 == offset  # offset 0 is Sunday
        assert today - start < datetime.timedelta(days=7)
    else:
        assert start.day == offset + 1
        next_start = (start.replace(day=1) + datetime.timedelta(days=32)).replace(day=offset + 1)
        assert today < next_start


@pytest.mark.parametrize(
    "period, offset", [("DAY", 1), ("WEEK", 7), ("WEEK", -1), ("MONTH", 28), ("YEAR", 0), (None, 0)]
)
def test_periods_and_offsets_aws_refuses_are_refused(period, offset):
    with pytest.raises(ValueError, match="quota"):
        rate_limits.quota_period_start(period, offset, datetime.datetime.now(datetime.UTC))


@given(
    rate=st.floats(0, 1000),
    burst=st.integers(0, 200),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=300),
)
def test_a_bucket_admits_its_burst_then_no_more_than_its_rate(rate, burst, gaps):
    bucket = rate_limits.TokenBucket(rate, burst, now=0.0)
    now, admitted = 0.0, 0
    for gap in gaps:
        now += gap
        admitted += rate_limits.admit([bucket], None, None, now) is None
    assert admitted <= burst + rate * now + 1e-6 * (1 + rate * now)
    at_once = rate_limits.TokenBucket(rate, burst, now=0.0)
    assert sum(rate_limits.admit([at_once], None, None, 0.0) is None for _ in gaps) == min(len(gaps), burst)


def test_a_refused_request_takes_nothing():
    full, empty = rate_limits.TokenBucket(0, 1, 0.0), rate_limits.TokenBucket(0, 0, 0.0)
    quota = rate_limits.Quota(limit=5)
    today = datetime.date(2026, 1, 1)
    assert rate_limits.admit([full, empty], quota, today, 0.0) is empty
    assert (full.tokens, quota.used) == (1, 0)
    spent = rate_limits.Quota(limit=1, period_start=today, used=1)
    assert rate_limits.admit([full], spent, today, 0.0) is spent
    assert full.tokens == 1
    assert rate_limits.admit([full], spent, today + datetime.timedelta(days=1), 0.0) is None  # a new period
    assert (full.tokens, spent.used) == (0, 1)


# --- on the engine -----------------------------------------------------------------------------


@pytest.fixture
def gateway(engine):
    """create(**create_api arguments) -> Api; the APIs, usage plans and keys made are deleted."""
    apigateway = boto3.client("apigateway")
    made = {"apis": [], "plans": [], "keys": []}

    def create(**kwargs):
        api = create_api(apigateway, **kwargs)
        made["apis"].append(api.id)
        return api

    create.client, create.made = apigateway, made
    yield create
    for plan in made["plans"]:
        for key in apigateway.get_usage_plan_keys(usagePlanId=plan)["items"]:
            apigateway.delete_usage_plan_key(usagePlanId=plan, keyId=key["id"])
        apigateway.delete_usage_plan(usagePlanId=plan)
    for key in made["keys"]:
        apigateway.delete_api_key(apiKey=key)
    for api in made["apis"]:
        apigateway.delete_rest_api(restApiId=api)


def plan_with_keys(gateway, api, keys: int = 1, **plan) -> list[str]:
    """A usage plan on the API's stage (quota, throttle, ...) and `keys` keys in it: their values."""
    apigateway = gateway.client
    created = apigateway.create_usage_plan(
        name=f"plan-{uuid.uuid4().hex[:8]}", **{"apiStages": [{"apiId": api.id, "stage": "test"}], **plan}
    )
    gateway.made["plans"].append(created["id"])
    values = []
    for _ in range(keys):
        key = apigateway.create_api_key(name=f"key-{uuid.uuid4().hex[:8]}", enabled=True)
        gateway.made["keys"].append(key["id"])
        apigateway.create_usage_plan_key(usagePlanId=created["id"], keyId=key["id"], keyType="API_KEY")
        values.append(key["value"])
    return values


def test_200_requests_at_once_to_a_stage_throttled_at_20_per_second_burst_40(gateway):
    api = gateway(settings=throttle(20, 40))
    with ThreadPoolExecutor(50) as pool:
        replies = list(pool.map(lambda _: send(api.url + "/ping"), range(200)))
    answered = [reply.status for reply in replies]
    # 40 at once, plus 20 a second for as long as the 200 take (up to 2 s on a busy machine)
    assert 40 <= answered.count(200) <= 80, answered
    assert answered.count(200) + answered.count(429) == 200
    assert all(refusal(reply) == TOO_MANY for reply in replies if reply.status == 429)


@pytest.mark.parametrize("burst", [1, 3, 8])
def test_without_refill_a_stage_admits_its_burst_and_refuses_the_rest_before_the_integration(gateway, burst):
    api = gateway(settings=throttle(0, burst))
    replies = [send(api.url + "/ping") for _ in range(burst + 4)]
    assert [reply.status for reply in replies] == [200] * burst + [429] * 4
    assert replies[0].body["ok"] is True
    assert all(refusal(reply) == TOO_MANY and "ok" not in reply.body for reply in replies[burst:])


def test_a_method_setting_replaces_the_stage_limits_and_each_method_has_its_own_bucket(gateway):
    api = gateway(settings=throttle(0, 2) + throttle(0, 5, method="~1ping/ANY"))
    assert [send(api.url + "/ping").status for _ in range(7)] == [200] * 5 + [429] * 2
    # the root's ANY has the stage's limits, and a bucket of its own
    assert [send(api.url + "/", method=method).status for method in ("GET", "POST", "PUT")] == [200, 200, 429]


def test_raising_the_stage_limits_applies_to_the_next_request(gateway):
    api = gateway(settings=throttle(0, 1))
    assert [send(api.url + "/ping").status for _ in range(2)] == [200, 429]
    gateway.client.update_stage(
        restApiId=api.id,
        stageName="test",
        patchOperations=[{"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "1000"}],
    )
    assert send(api.url + "/ping").status == 200


@pytest.mark.parametrize("limit", [1, 4])
def test_a_key_over_its_daily_quota_gets_429_limit_exceeded(gateway, limit):
    api = gateway(api_key_required=True)
    key, other = plan_with_keys(gateway, api, quota={"limit": limit, "period": "DAY"}, keys=2)
    replies = [send(api.url + "/ping", headers={"x-api-key": key}) for _ in range(limit + 2)]
    assert [reply.status for reply in replies] == [200] * limit + [429] * 2
    assert all(refusal(reply) == OVER_QUOTA for reply in replies[limit:])
    # each key of the plan has its own quota; without a key the method still answers 403
    assert send(api.url + "/", headers={"x-api-key": other}).status == 200
    assert refusal(send(api.url + "/ping")) == (403, {"message": "Forbidden"}, "ForbiddenException")


def test_a_raised_quota_applies_at_once_within_the_period(gateway):
    api = gateway(api_key_required=True)
    (key,) = plan_with_keys(gateway, api, quota={"limit": 1, "period": "WEEK", "offset": 1})
    assert [send(api.url + "/", headers={"x-api-key": key}).status for _ in range(2)] == [200, 429]
    plan = gateway.made["plans"][-1]
    gateway.client.update_usage_plan(
        usagePlanId=plan, patchOperations=[{"op": "replace", "path": "/quota/limit", "value": "3"}]
    )
    assert [send(api.url + "/", headers={"x-api-key": key}).status for _ in range(3)] == [200, 200, 429]


def test_a_usage_plan_throttles_each_of_its_keys_on_its_own_and_per_method_where_it_says(gateway):
    api = gateway(api_key_required=True)
    first, second = plan_with_keys(
        gateway,
        api,
        keys=2,
        throttle={"rateLimit": 0, "burstLimit": 2},
        apiStages=[{"apiId": api.id, "stage": "test", "throttle": {"/ping/ANY": {"rateLimit": 0, "burstLimit": 1}}}],
    )
    for key in (first, second):
        assert [send(api.url + "/ping", headers={"x-api-key": key}).status for _ in range(2)] == [200, 429]
        replies = [send(api.url + "/", headers={"x-api-key": key}) for _ in range(3)]
        assert [reply.status for reply in replies] == [200, 200, 429]
        assert refusal(replies[-1]) == TOO_MANY


@pytest.mark.parametrize(
    "plan, reason",
    [
        ({"quota": {"limit": 10, "period": "DAY", "offset": 1}}, "quota offset 1 is outside 0..0 for period DAY"),
        ({"quota": {"limit": 10, "period": "WEEK", "offset": 7}}, "quota offset 7 is outside 0..6"),
        ({"quota": {"limit": 10, "period": "YEAR"}}, "quota period 'YEAR' is not DAY, WEEK or MONTH"),
        ({"quota": {"limit": -1, "period": "DAY"}}, "quota limit must not be negative"),
        ({"throttle": {"rateLimit": -5, "burstLimit": 10}}, "throttle: rateLimit must not be negative"),
        ({"throttle": {"rateLimit": 5, "burstLimit": -1}}, "throttle: burstLimit must not be negative"),
    ],
)
def test_usage_plans_aws_refuses_are_refused_with_the_reason(gateway, plan, reason):
    with pytest.raises(ClientError) as refused:
        gateway.client.create_usage_plan(name=f"bad-{uuid.uuid4().hex[:8]}", **plan)
    error = refused.value.response["Error"]
    assert error["Code"] == "BadRequestException" and reason in error["Message"]


@pytest.mark.parametrize(
    "path, value",
    [("/quota/offset", "3"), ("/quota/period", "FORTNIGHT"), ("/quota/limit", "lots"), ("/throttle/burstLimit", "-2")],
)
def test_updates_that_make_a_plan_aws_refuses_are_refused(gateway, path, value):
    api = gateway(api_key_required=True)
    (key,) = plan_with_keys(
        gateway, api, quota={"limit": 2, "period": "DAY"}, throttle={"rateLimit": 5, "burstLimit": 5}
    )
    plan = gateway.made["plans"][-1]
    with pytest.raises(ClientError) as refused:
        gateway.client.update_usage_plan(
            usagePlanId=plan, patchOperations=[{"op": "replace", "path": path, "value": value}]
        )
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert gateway.client.get_usage_plan(usagePlanId=plan)["quota"] == {"limit": 2, "offset": 0, "period": "DAY"}
    assert send(api.url + "/", headers={"x-api-key": key}).status == 200


@pytest.mark.parametrize("value", ["-1", "fast"])
def test_stage_limits_aws_refuses_are_refused(gateway, value):
    api = gateway()
    with pytest.raises(ClientError) as refused:
        gateway.client.update_stage(
            restApiId=api.id,
            stageName="test",
            patchOperations=[{"op": "replace", "path": "/*/*/throttling/burstLimit", "value": value}],
        )
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert "/*/*/throttling/burstLimit" in refused.value.response["Error"]["Message"]


@pytest.mark.slow
def test_throttling_and_quotas_can_be_turned_off_for_load_tests(tmp_path, engine):
    """A second engine (the session's port + 33, its own state) started with
    NODOCKER_APIGATEWAY_THROTTLING=0: no 429, while API keys are still checked."""
    url = f"http://localhost:{SECOND_PORT}"
    env = {
        "AWS_ENDPOINT_URL": url,
        "LOCALSTACK_STATE_DIR": str(tmp_path / "state"),
        "PERSISTENCE": "0",
        "NODOCKER_APIGATEWAY_THROTTLING": "0",
    }
    try:
        started = ctl("up", env=env, check=False)
        assert started.returncode == 0, started.stdout + started.stderr
        apigateway = boto3.client("apigateway", endpoint_url=url)
        api = create_api(apigateway, api_key_required=True, settings=throttle(0, 1))
        created = apigateway.create_usage_plan(
            name="off", apiStages=[{"apiId": api.id, "stage": "test"}], quota={"limit": 1, "period": "DAY"}
        )
        key = apigateway.create_api_key(name="off", enabled=True)
        apigateway.create_usage_plan_key(usagePlanId=created["id"], keyId=key["id"], keyType="API_KEY")
        stage_url = f"{url}/_aws/execute-api/{api.id}/test/ping"
        assert [send(stage_url, headers={"x-api-key": key["value"]}).status for _ in range(5)] == [200] * 5
        assert send(stage_url).status == 403
    finally:
        ctl("down", env=env, check=False)
