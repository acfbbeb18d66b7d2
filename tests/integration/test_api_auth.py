"""Who may write (var.api_auth), on the real engine: each mode is applied to the session's
stack in turn (only the API's methods, key, usage plan and policy change) and the session's
own mode is applied again at the end (not on make test's second stack, which is this
module's alone).

The engine enforces what API Gateway does (engine/localstack_nodocker/execute_api.py):
- api_key: without the key, or with a wrong one, 403 before the handler runs;
- iam: unsigned requests get 403 Missing Authentication Token, callers whose IAM policies do
  not allow execute-api:Invoke on the method get 403, before the handler runs; the session's
  default credentials (LocalStack's root) and a caller with the stack's writer policy pass;
- stage throttling and the usage plan's quota are deployed (read back here) and enforced:
  the session applies limits no test reaches (tools/stack.py, LOAD_TEST_VARIABLES); the 429s
  themselves are tested on APIs of their own (tests/engine/test_api_throttling.py).
"""

import json
import uuid

import boto3
import pytest
from botocore.credentials import Credentials

from tests.support.apis import send
from tests.support.engine import origin
from tools import stack
from tools.http import SIGN_ENV, call, use_credentials_of

# The tests are written grouped by mode (none, api_key, iam) and run in that order: each
# switch of mode is an apply (~40 s), and shuffled they switched about seven times, not two.
pytestmark = pytest.mark.random_order(disabled=True)

RUN = uuid.uuid4().hex[:8]
WRITE = {"title": f"auth {RUN}", "message": "who may write"}
FORBIDDEN = {"message": "Forbidden"}  # API Gateway's own answer: the handler's errors are {"error": ...}


def apply_mode(mode: str) -> stack.Outputs:
    # -refresh=false: the session's stack was just applied; this saves reading every resource back.
    # With what every apply against the engine adds (its origin on whatever port it answers).
    mode_variables = {"api_auth": mode}
    code, out, err = stack.terraform().apply(
        skip_plan=True,
        input=False,
        capture_output=True,
        refresh=False,
        var={**stack.applied_variables(mode_variables), **mode_variables},
    )
    if code != 0:
        raise stack.StackError(
            f"tflocal apply -var api_auth={mode} failed (exit {code}):\n{out[-3000:]}\n{err[-3000:]}"
        )
    return stack.outputs()


@pytest.fixture(scope="module")
def stack_in(deployed):
    """stack_in(mode) -> the outputs of the stack applied with api_auth = mode."""
    session_mode = deployed["api_auth"]
    current = {"mode": session_mode, "outputs": deployed}

    def switch(mode: str) -> stack.Outputs:
        if current["mode"] != mode:
            current.update(mode=mode, outputs=apply_mode(mode))
        return current["outputs"]

    yield switch
    # A stack of this module's own (make test's second stack) is left as the module leaves it.
    if current["mode"] != session_mode and stack.STACK_DIR == stack.ROOT:
        use_credentials_of(switch(session_mode))  # api_key again means a new key


@pytest.fixture
def write_methods(aws):
    """(resource path, method) -> (authorizationType, apiKeyRequired), read back from the engine."""

    def read(api_id: str) -> dict:
        found = {}
        for resource in aws["apigateway"].get_resources(restApiId=api_id)["items"]:
            for method in resource.get("resourceMethods", {}):
                got = aws["apigateway"].get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method)
                found[(resource["path"], method)] = (got["authorizationType"], got.get("apiKeyRequired", False))
        return found

    return read


def unauthenticated(outputs, method, path, **kwargs):
    return call(outputs.api_url, method, path, authenticate=False, **kwargs)


def test_none_leaves_writes_open(stack_in, write_methods):
    outputs = stack_in("none")
    assert set(write_methods(outputs["api_id"]).values()) == {("NONE", False)}
    # Terraform leaves null outputs out: no key, no policy.
    assert "api_key" not in outputs.raw and "api_writer_policy_arn" not in outputs.raw
    assert unauthenticated(outputs, "POST", "/notifications", body=WRITE).status == 202


def test_api_key_guards_every_write_method_and_no_read(stack_in, write_methods):
    outputs = stack_in("api_key")
    methods = write_methods(outputs["api_id"])
    for path in ("/", "/{proxy+}"):
        assert methods[(path, "ANY")] == ("NONE", True)
        assert methods[(path, "GET")] == methods[(path, "OPTIONS")] == ("NONE", False)


def test_api_key_rejects_writes_without_the_key_before_the_handler(stack_in):
    outputs = stack_in("api_key")
    for headers in ({}, {"x-api-key": "not-the-key"}, {"x-api-key": outputs["api_key"][:-1]}):
        for method, path in (("POST", "/notifications"), ("PUT", "/health"), ("DELETE", "/"), ("PATCH", "/images")):
            reply = unauthenticated(outputs, method, path, body=WRITE, headers=headers)
            assert (reply.status, reply.body) == (403, FORBIDDEN), (method, path, headers, reply)
            # The handler puts its CORS origin on every answer it gives.
            assert "access-control-allow-origin" not in reply.headers
    # A body far over the handler's 64 KiB limit is refused at the edge too: nothing is billed.
    big = unauthenticated(outputs, "POST", "/notifications", raw=b"x" * (1024 * 1024))
    assert (big.status, big.body) == (403, FORBIDDEN)


def test_api_key_lets_the_keyed_caller_write_and_everyone_read(stack_in):
    outputs = stack_in("api_key")
    key = {"x-api-key": outputs["api_key"]}
    sent = unauthenticated(outputs, "POST", "/notifications", body=WRITE, headers=key)
    assert sent.status == 202 and sent.body["status"] == "queued", sent
    # With the key the handler answers everything itself: its 405, its 413.
    assert unauthenticated(outputs, "PUT", "/health", headers=key).status == 405
    assert unauthenticated(outputs, "POST", "/notifications", raw=b"x" * (65 * 1024), headers=key).status == 413
    # Reads and the CORS preflight need no key.
    assert unauthenticated(outputs, "GET", "/health").status == 200
    assert unauthenticated(outputs, "GET", f"/notifications/{sent.body['notification_id']}").status in (200, 404)
    preflight = unauthenticated(
        outputs,
        "OPTIONS",
        "/notifications",
        headers={"Origin": origin(), "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204


def test_api_key_has_a_usage_plan_with_a_quota_and_the_stage_is_throttled(stack_in, aws):
    outputs = stack_in("api_key")
    api_id, stage = outputs["api_id"], outputs["api_stage"]
    plans = [
        plan
        for plan in aws["apigateway"].get_usage_plans()["items"]
        if {"apiId": api_id, "stage": stage} in [{"apiId": s["apiId"], "stage": s["stage"]} for s in plan["apiStages"]]
    ]
    assert len(plans) == 1, plans
    assert plans[0]["quota"]["period"] == "DAY" and plans[0]["quota"]["limit"] >= 1
    keys = aws["apigateway"].get_usage_plan_keys(usagePlanId=plans[0]["id"])["items"]
    assert [key["value"] for key in keys] == [outputs["api_key"]]
    settings = aws["apigateway"].get_stage(restApiId=api_id, stageName=stage)["methodSettings"]["*/*"]
    assert settings["throttlingRateLimit"] > 0 and settings["throttlingBurstLimit"] >= 1


def test_iam_guards_every_write_method_and_gives_a_policy_for_callers(stack_in, write_methods, aws):
    outputs = stack_in("iam")
    methods = write_methods(outputs["api_id"])
    for path in ("/", "/{proxy+}"):
        assert methods[(path, "ANY")] == ("AWS_IAM", False)
        assert methods[(path, "GET")] == methods[(path, "OPTIONS")] == ("NONE", False)
    policy = aws["iam"].get_policy(PolicyArn=outputs["api_writer_policy_arn"])["Policy"]
    document = aws["iam"].get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
    statements = document["PolicyVersion"]["Document"]
    statements = (json.loads(statements) if isinstance(statements, str) else statements)["Statement"]
    assert [(s["Effect"], s["Action"]) for s in statements] == [("Allow", "execute-api:Invoke")]
    assert statements[0]["Resource"].endswith(f":{outputs['api_id']}/{outputs['api_stage']}/*/*")


def test_iam_accepts_signed_writes(stack_in, monkeypatch):
    outputs = stack_in("iam")
    monkeypatch.setenv(SIGN_ENV, "1")
    reply = call(outputs.api_url, "POST", "/notifications", body=WRITE)
    assert reply.status == 202, reply
    assert unauthenticated(outputs, "GET", "/health").status == 200


@pytest.fixture
def caller(aws):
    """caller(policy_arn=None, document=None) -> the ARN and credentials of a new IAM user with
    that policy attached (or a new policy of that document); all deleted after the test."""
    iam, users, policies = aws["iam"], [], []

    def create(policy_arn=None, document=None):
        name = f"api-caller-{RUN}-{len(users)}"
        if document is not None:
            policy_arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]
            policies.append(policy_arn)
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        users.append((name, policy_arn))
        if policy_arn:
            iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return arn, Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    yield create
    for name, policy_arn in users:
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        if policy_arn:
            iam.detach_user_policy(UserName=name, PolicyArn=policy_arn)
        iam.delete_user(UserName=name)
    for policy_arn in policies:
        iam.delete_policy(PolicyArn=policy_arn)


def signed_write(outputs, credentials, path="/notifications"):
    return send(
        outputs.api_url + path, "POST", {"Content-Type": "application/json"}, json.dumps(WRITE).encode(), credentials
    )


def test_iam_rejects_unsigned_writes_before_the_handler(stack_in):
    outputs = stack_in("iam")
    for method, path in (("POST", "/notifications"), ("PUT", "/health"), ("DELETE", "/"), ("PATCH", "/images")):
        reply = unauthenticated(outputs, method, path, body=WRITE)
        assert (reply.status, reply.body) == (403, {"message": "Missing Authentication Token"}), (method, path, reply)
        assert reply.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
        assert "access-control-allow-origin" not in reply.headers  # the handler never answered
    assert unauthenticated(outputs, "GET", "/health").status == 200  # reads stay public


def test_iam_refuses_a_caller_whose_policy_does_not_allow_the_write_and_admits_the_writer_policy(stack_in, caller, aws):
    outputs = stack_in("iam")
    api, stage = outputs["api_id"], outputs["api_stage"]
    region, account = aws["apigateway"].meta.region_name, boto3.client("sts").get_caller_identity()["Account"]
    resource = f"arn:aws:execute-api:{region}:{account}:{api}/{stage}/POST/notifications"
    reads_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource.replace("/POST/", "/GET/")}
        ],
    }
    for arn, credentials in (caller(), caller(document=reads_only)):
        reply = signed_write(outputs, credentials)
        message = f"User: {arn} is not authorized to perform: execute-api:Invoke on resource: {resource}"
        assert (reply.status, reply.body) == (403, {"Message": message}), reply
        assert "access-control-allow-origin" not in reply.headers  # the handler never answered
    _, writer = caller(outputs["api_writer_policy_arn"])
    sent = signed_write(outputs, writer)
    assert sent.status == 202 and sent.body["status"] == "queued", sent
