"""AWS_IAM authorization of API Gateway methods on the engine (engine/localstack_nodocker/
apigateway_iam.py), on small APIs each test creates, with IAM users and roles made here; and
the two parts it is made of on their own: the signature check (sigv4.py) and the policy
evaluation (iam_policies.py)."""

import datetime
import json
import re
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from tests.support.apis import MULTIPART, create_api, send

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engine"))
from localstack_nodocker import iam_policies, sigv4

ROOT = Credentials("test", "test")  # LocalStack's documented root credentials
ACCOUNT = "000000000000"
REGION = "us-east-1"
NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
MISSING_TOKEN = (403, {"message": "Missing Authentication Token"}, "MissingAuthenticationTokenException")
INVALID_TOKEN = (
    403,
    {"message": "The security token included in the request is invalid."},
    "UnrecognizedClientException",
)


def answer(reply) -> tuple:
    return reply.status, reply.body, reply.headers.get("x-amzn-errortype")


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(resource="*", action="execute-api:Invoke", **more) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(resource="*", action="execute-api:Invoke", **more) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


# --- the signature ---------------------------------------------------------------------------

segments = st.text(alphabet="abcXYZ019-_.~ %/", min_size=1, max_size=12).map(lambda s: s.replace("%", "%25"))
query_pairs = st.lists(st.tuples(st.text("abz_", min_size=1, max_size=4), st.text("xyz09-", max_size=4)), max_size=4)


def signed(method, path, query, body, headers=None, credentials=ROOT):
    """The headers of a request botocore signs now, and when it signed it."""
    url = f"http://localhost:4566{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers={"Host": "localhost:4566", **(headers or {})})
    SigV4Auth(credentials, "execute-api", REGION).add_auth(request)
    headers = list(request.headers.items())
    when = datetime.datetime.strptime(dict(headers)["X-Amz-Date"], sigv4.TIMESTAMP).replace(tzinfo=datetime.UTC)
    return headers, when


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=st.lists(segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    pairs=query_pairs,
    body=st.binary(max_size=200),
    extra=st.sampled_from([{}, {"Content-Type": "application/json"}, {"X-Custom": "  two   spaces  "}]),
)
def test_a_botocore_signature_verifies_and_any_change_does_not(method, path, pairs, body, extra):
    query = "&".join(f"{key}={value}" for key, value in pairs)
    headers, when = signed(method, path, query, body, extra)
    signature = sigv4.read(headers, query, "execute-api", REGION, when)
    sigv4.verify(signature, "test", method, path, query, headers, body)
    request = {"secret": "test", "method": method, "raw_path": path, "query": query, "headers": headers, "body": body}
    for changed in (
        {"method": "PATCH"},
        {"raw_path": path + "x"},
        {"query": query + "&z=1"},
        {"body": body + b"!"},
        {"secret": "tesT"},
    ):
        with pytest.raises(sigv4.SignatureError, match="does not match the signature you provided") as mismatch:
            sigv4.verify(signature, **{**request, **changed})
        assert mismatch.value.kind == "invalid"
        assert "The Canonical String for this request should have been" in mismatch.value.message


def drop(name):
    return lambda headers: [(key, value) for key, value in headers if key != name]


def replace(name, new):
    return lambda headers: [(key, new if key == name else value) for key, value in headers]


def edit(old, new):
    return lambda headers: [(key, value.replace(old, new)) for key, value in headers]


@pytest.mark.parametrize(
    "change, kind, message",
    [
        (drop("Authorization"), "missing", "Missing Authentication Token"),
        (
            replace("Authorization", "Bearer token"),
            "incomplete",
            "Authorization header requires 'Credential' parameter.",
        ),
        (drop("X-Amz-Date"), "incomplete", "requires existence of either a 'X-Amz-Date' or a 'Date' header"),
        (
            edit("/us-east-1/", "/eu-west-1/"),
            "invalid",
            "Credential should be scoped to a valid region, not 'eu-west-1'.",
        ),
        (edit("/execute-api/", "/s3/"), "invalid", "Credential should be scoped to correct service: 'execute-api'."),
        (edit("SignedHeaders=host;", "SignedHeaders="), "invalid", "'Host' or ':authority' must be a 'SignedHeader'"),
        (replace("X-Amz-Date", "2026-03-01"), "incomplete", "Date must be in ISO-8601 'basic format'"),
    ],
)
def test_a_signature_that_is_missing_incomplete_or_misscoped_is_named(change, kind, message):
    headers, when = signed("POST", "/prod/notifications", "", b"{}")
    with pytest.raises(sigv4.SignatureError) as refused:
        sigv4.read(change(headers), "", "execute-api", REGION, when)
    assert refused.value.kind == kind and message in refused.value.message


@pytest.mark.parametrize(
    "minutes, message",
    [
        (6, "Signature expired: {signed} is now earlier than"),
        (-6, "Signature not yet current: {signed} is still later than"),
    ],
)
def test_a_signature_more_than_5_minutes_off_is_refused(minutes, message):
    headers, when = signed("GET", "/prod/health", "", b"")
    with pytest.raises(sigv4.SignatureError, match=re.escape(message.format(signed=when.strftime(sigv4.TIMESTAMP)))):
        sigv4.read(headers, "", "execute-api", REGION, when + datetime.timedelta(minutes=minutes))
    sigv4.read(headers, "", "execute-api", REGION, when + datetime.timedelta(minutes=minutes / 2))


def test_presigned_urls_are_refused_with_the_reason():
    with pytest.raises(sigv4.SignatureError, match="does not accept SigV4 in the query string"):
        sigv4.read([("Host", "x")], "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc", "execute-api", REGION, NOW)


# --- the policies ----------------------------------------------------------------------------

METHOD_ARN = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3/prod/POST/notifications"


def decide(*policies: str, resource=METHOD_ARN, limits=()) -> iam_policies.Outcome:
    identity = [s for number, p in enumerate(policies) for s in iam_policies.parse(p, f"p{number}")]
    sets = [identity] + [iam_policies.parse(limit, "limit") for limit in limits]
    return iam_policies.evaluate(sets, "execute-api:Invoke", resource)


@pytest.mark.parametrize(
    "statements, decision",
    [
        ([allow()], "allowed"),
        ([allow(f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3/prod/*/*")], "allowed"),
        ([allow("arn:aws:execute-api:*:*:a1b2c3/*/POST/notifica?ions")], "allowed"),
        ([allow(action="EXECUTE-API:invoke")], "allowed"),  # actions ignore case
        ([allow(action=["s3:GetObject", "execute-api:*"])], "allowed"),
        ([allow(f"arn:aws:execute-api:{REGION}:{ACCOUNT}:A1B2C3/*")], "implicit deny"),  # resources do not
        ([allow(f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3/staging/*")], "implicit deny"),
        ([allow(action="execute-api:ManageConnections")], "implicit deny"),
        ([{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}], "allowed"),
        ([{"Effect": "Allow", "NotAction": "execute-api:*", "Resource": "*"}], "implicit deny"),
        ([{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:execute-api:*:*:other/*"}], "allowed"),
        ([{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:execute-api:*:*:a1b2c3/*"}], "implicit deny"),
        ([allow(), deny()], "explicit deny"),
        ([deny(), allow()], "explicit deny"),
        ([allow(), deny("arn:aws:execute-api:*:*:a1b2c3/*/GET/*")], "allowed"),
        ([], "implicit deny"),
    ],
)
def test_statements_decide_as_iam_does(statements, decision):
    assert decide(policy(*statements)).decision.value == decision


@pytest.mark.parametrize(
    "statements, decision, named",
    [
        ([allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})], "undecided", "aws:SourceIp"),
        ([allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}})], "undecided", "aws:SecureTransport"),
        ([allow(), allow(Condition={"StringEquals": {"aws:username": "x"}})], "allowed", ""),
        ([deny(), deny(Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})], "explicit deny", ""),
        ([allow("arn:aws:execute-api:*:*:*/${aws:username}/*")], "undecided", "${aws:username}"),
        ([allow(Condition={"IpAddress": {"aws:SourceIp": "1.2.3.4"}}, Resource="arn:aws:s3:::b")], "implicit deny", ""),
    ],
)
def test_what_is_not_evaluated_decides_nothing_and_is_named(statements, decision, named):
    outcome = decide(policy(*statements))
    assert outcome.decision.value == decision
    assert named in outcome.reason


@given(
    order=st.permutations([allow(), deny(), allow("arn:aws:execute-api:*:*:a1b2c3/*")]),
    split=st.integers(0, 3),
)
def test_an_explicit_deny_wins_wherever_it_is(order, split):
    assert (
        decide(policy(*order[:split]) if split else policy(), policy(*order[split:])).decision.value == "explicit deny"
    )


def test_a_boundary_or_session_policy_must_allow_too():
    assert decide(policy(allow()), limits=[policy(allow())]).decision.value == "allowed"
    assert decide(policy(allow()), limits=[policy(allow("arn:aws:s3:::*"))]).decision.value == "implicit deny"
    assert decide(policy(allow("arn:aws:s3:::*")), limits=[policy(allow())]).decision.value == "implicit deny"


@pytest.mark.parametrize(
    "document, problem",
    [
        ("not json", "Expecting value"),
        (json.dumps({"Version": "2012-10-17"}), "has no Statement"),
        (policy({"Effect": "Maybe", "Action": "*", "Resource": "*"}), "Effect 'Maybe'"),
        (policy({"Effect": "Allow", "Resource": "*"}), "exactly one of Action/NotAction"),
        (policy({"Effect": "Allow", "Action": 3, "Resource": "*"}), "must be a string or a list of strings"),
    ],
)
def test_a_document_that_is_not_a_policy_is_refused_with_the_reason(document, problem):
    with pytest.raises(ValueError, match=problem):
        iam_policies.parse(document, "broken")


# --- on the engine -----------------------------------------------------------------------------


@pytest.fixture
def iam_api(engine):
    """An API whose methods need AWS_IAM; the API is deleted after the test."""
    apigateway = boto3.client("apigateway")
    api = create_api(apigateway, authorization="AWS_IAM")
    yield api
    apigateway.delete_rest_api(restApiId=api.id)


@pytest.fixture
def principals(engine):
    """user(*policies, managed=(), group=(), boundary=None) and role(*policies, ...) -> (arn,
    Credentials, name): IAM principals with these inline policies, deleted after the test.
    ``managed`` holds documents (made managed policies here) or ARNs of AWS's own."""
    iam, sts = boto3.client("iam"), boto3.client("sts")
    users, roles, policies, groups = [], [], [], []

    def managed_policy(document: str) -> str:
        if document.startswith("arn:"):
            return document
        arn = iam.create_policy(PolicyName=f"gw-{uuid.uuid4().hex[:8]}", PolicyDocument=document)["Policy"]["Arn"]
        policies.append(arn)
        return arn

    def user(*inline, managed=(), group=(), boundary=None):
        name = f"gw-user-{uuid.uuid4().hex[:8]}"
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        users.append(name)
        for number, document in enumerate(inline):
            iam.put_user_policy(UserName=name, PolicyName=f"inline{number}", PolicyDocument=document)
        for document in managed:
            iam.attach_user_policy(UserName=name, PolicyArn=managed_policy(document))
        if boundary:
            iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=managed_policy(boundary))
        for document in group:
            group_name = f"gw-group-{uuid.uuid4().hex[:8]}"
            iam.create_group(GroupName=group_name)
            groups.append(group_name)
            iam.put_group_policy(GroupName=group_name, PolicyName="inline", PolicyDocument=document)
            iam.add_user_to_group(GroupName=group_name, UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return arn, Credentials(key["AccessKeyId"], key["SecretAccessKey"]), name

    def role(*inline, managed=(), boundary=None, session_policy=None, session_policy_arns=(), name=None):
        name = name or f"gw-role-{uuid.uuid4().hex[:8]}"
        trust = policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
        limit = {"PermissionsBoundary": managed_policy(boundary)} if boundary else {}
        role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, **limit)["Role"]["Arn"]
        roles.append(name)
        for number, document in enumerate(inline):
            iam.put_role_policy(RoleName=name, PolicyName=f"inline{number}", PolicyDocument=document)
        for document in managed:
            iam.attach_role_policy(RoleName=name, PolicyArn=managed_policy(document))
        extra = {"Policy": session_policy} if session_policy else {}
        if session_policy_arns:
            extra["PolicyArns"] = [{"arn": managed_policy(document)} for document in session_policy_arns]
        assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName="gateway-test", **extra)
        keys = assumed["Credentials"]
        return (
            assumed["AssumedRoleUser"]["Arn"],
            Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"]),
            name,
        )

    yield type("Principals", (), {"user": staticmethod(user), "role": staticmethod(role), "iam": iam})
    for name in users:
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        for inline in iam.list_user_policies(UserName=name)["PolicyNames"]:
            iam.delete_user_policy(UserName=name, PolicyName=inline)
        for attached in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
            iam.detach_user_policy(UserName=name, PolicyArn=attached["PolicyArn"])
        for group in iam.list_groups_for_user(UserName=name)["Groups"]:
            iam.remove_user_from_group(GroupName=group["GroupName"], UserName=name)
        iam.delete_user(UserName=name)
    for name in groups:
        iam.delete_group_policy(GroupName=name, PolicyName="inline")
        iam.delete_group(GroupName=name)
    for name in dict.fromkeys(roles):
        for inline in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=inline)
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)
    for arn in policies:
        iam.delete_policy(PolicyArn=arn)


def method_arn(api, method="POST", path="/ping") -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api.id}/test/{method}{path}"


def test_an_unsigned_request_gets_missing_authentication_token_before_the_integration(iam_api):
    for method, path in (("POST", "/ping"), ("GET", "/"), ("DELETE", "/ping")):
        assert answer(send(iam_api.url + path, method=method)) == MISSING_TOKEN


def test_the_root_credentials_may_invoke_and_the_integration_sees_who_called(iam_api):
    reply = send(iam_api.url + "/ping", method="POST", body=b'{"a": 1}', credentials=ROOT)
    assert reply.status == 200 and reply.body["ok"] is True
    assert reply.body["user_arn"] == f"arn:aws:iam::{ACCOUNT}:root" and reply.body["account"] == ACCOUNT


@pytest.mark.parametrize("secret", ["wrong", "tes", "test "])
def test_a_wrong_secret_gets_the_signature_mismatch(iam_api, secret):
    reply = send(iam_api.url + "/ping", method="POST", body=b"{}", credentials=Credentials("test", secret))
    assert (reply.status, reply.headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    assert reply.body["message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )


def test_an_unknown_or_inactive_key_gets_invalid_token(iam_api, principals):
    for unknown in (f"LKIA{uuid.uuid4().hex[:16].upper()}", "someone"):  # no IAM user has them
        assert answer(send(iam_api.url + "/", credentials=Credentials(unknown, "x"))) == INVALID_TOKEN
    _, credentials, name = principals.user(policy(allow()))
    assert send(iam_api.url + "/", credentials=credentials).status == 200
    principals.iam.update_access_key(UserName=name, AccessKeyId=credentials.access_key, Status="Inactive")
    assert answer(send(iam_api.url + "/", credentials=credentials)) == INVALID_TOKEN


@pytest.mark.parametrize(
    "statements, allowed",
    [
        ([], False),
        ([allow()], True),
        ([allow("arn:aws:execute-api:us-east-1:000000000000:{api}/test/*/*")], True),
        ([allow("arn:aws:execute-api:us-east-1:000000000000:{api}/test/POST/ping")], True),
        ([allow("arn:aws:execute-api:us-east-1:000000000000:{api}/test/GET/*")], False),
        ([allow("arn:aws:execute-api:us-east-1:000000000000:{api}/prod/*/*")], False),
        ([allow("arn:aws:execute-api:us-east-1:000000000000:other/*")], False),
        ([allow(action="execute-api:ManageConnections")], False),
        ([allow(), deny("arn:aws:execute-api:*:*:{api}/*/POST/*")], False),
        (
            [
                {
                    "Effect": "Allow",
                    "Action": "execute-api:*",
                    "NotResource": "arn:aws:execute-api:*:*:{api}/test/POST/*",
                }
            ],
            False,
        ),
    ],
)
def test_a_user_may_invoke_what_its_policies_allow(iam_api, principals, statements, allowed):
    documents = [policy(*statements).replace("{api}", iam_api.id)] if statements else []
    arn, credentials, _ = principals.user(*documents)
    reply = send(iam_api.url + "/ping", method="POST", body=b"{}", credentials=credentials)
    if allowed:
        assert reply.status == 200 and reply.body["user_arn"] == arn
        return
    message = f"User: {arn} is not authorized to perform: execute-api:Invoke on resource: {method_arn(iam_api)}"
    explicit = any(statement["Effect"] == "Deny" for statement in statements)
    assert answer(reply) == (
        403,
        {"Message": message + (" with an explicit deny" if explicit else "")},
        "AccessDeniedException",
    )


def test_managed_and_group_policies_count_and_a_later_change_applies_at_once(iam_api, principals):
    arn, credentials, name = principals.user(managed=[policy(allow())])
    assert send(iam_api.url + "/", credentials=credentials).status == 200
    _, from_group, _ = principals.user(group=[policy(allow())])
    assert send(iam_api.url + "/", credentials=from_group).status == 200
    principals.iam.put_user_policy(UserName=name, PolicyName="stop", PolicyDocument=policy(deny()))
    assert send(iam_api.url + "/", credentials=credentials).status == 403


def test_a_condition_is_not_guessed_the_refusal_names_it(iam_api, principals):
    arn, credentials, _ = principals.user(policy(allow(Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})))
    reply = send(iam_api.url + "/ping", credentials=credentials)
    assert reply.status == 403
    assert reply.body["Message"].startswith(f"User: {arn} is not authorized to perform: execute-api:Invoke")
    assert "does not evaluate" in reply.body["Message"] and "aws:SourceIp" in reply.body["Message"]


def test_an_assumed_role_is_its_role_and_session_policy_and_needs_its_token(iam_api, principals):
    arn, credentials, _ = principals.role(policy(allow()))
    assert arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/")
    reply = send(iam_api.url + "/ping", credentials=credentials)
    assert reply.status == 200 and reply.body["user_arn"] == arn
    without_token = Credentials(credentials.access_key, credentials.secret_key)
    assert answer(send(iam_api.url + "/ping", credentials=without_token)) == INVALID_TOKEN
    narrowed_arn, narrowed, _ = principals.role(
        policy(allow()), session_policy=policy(allow(method_arn(iam_api, "GET")))
    )
    assert send(iam_api.url + "/ping", credentials=narrowed).status == 200
    refused = send(iam_api.url + "/ping", method="POST", body=b"{}", credentials=narrowed)
    assert refused.status == 403 and refused.body["Message"].startswith(f"User: {narrowed_arn} is not authorized")
    _, nothing, _ = principals.role()
    assert send(iam_api.url + "/ping", credentials=nothing).status == 403


GET_ONLY = "arn:aws:execute-api:*:*:*/test/GET/*"


def test_a_permissions_boundary_limits_a_user_and_a_role(iam_api, principals):
    """The boundary must allow too, whoever it limits; a boundary may be one of AWS's policies."""
    _, user, _ = principals.user(policy(allow()), boundary=policy(allow(GET_ONLY)))
    _, role, _ = principals.role(policy(allow()), boundary=policy(allow(GET_ONLY)))
    _, open_user, _ = principals.user(
        policy(allow()), boundary="arn:aws:iam::aws:policy/AmazonAPIGatewayInvokeFullAccess"
    )
    _, s3_bounded, _ = principals.user(policy(allow()), boundary="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    for credentials in (user, role):
        assert send(iam_api.url + "/ping", credentials=credentials).status == 200
        assert send(iam_api.url + "/ping", method="POST", body=b"{}", credentials=credentials).status == 403
    assert send(iam_api.url + "/ping", method="POST", body=b"{}", credentials=open_user).status == 200
    assert send(iam_api.url + "/ping", credentials=s3_bounded).status == 403


@pytest.mark.parametrize(
    "attached, allowed",
    [
        ("arn:aws:iam::aws:policy/AmazonAPIGatewayInvokeFullAccess", True),
        ("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", False),
    ],
)
def test_aws_managed_policies_count_for_users_and_roles(iam_api, principals, attached, allowed):
    _, user, _ = principals.user(managed=[attached])
    _, role, _ = principals.role(managed=[attached])
    for credentials in (user, role):
        assert (send(iam_api.url + "/ping", credentials=credentials).status == 200) is allowed


def test_managed_session_policies_narrow_a_session_as_an_inline_one_does(iam_api, principals):
    arn, narrowed, _ = principals.role(policy(allow()), session_policy_arns=[policy(allow(GET_ONLY))])
    assert send(iam_api.url + "/ping", credentials=narrowed).status == 200
    refused = send(iam_api.url + "/ping", method="POST", body=b"{}", credentials=narrowed)
    assert refused.status == 403 and refused.body["Message"].startswith(f"User: {arn} is not authorized")
    # several session policies allow what any of them allows
    _, both, _ = principals.role(
        policy(allow()),
        session_policy=policy(allow("arn:aws:execute-api:*:*:*/test/POST/*")),
        session_policy_arns=[policy(allow(GET_ONLY)), "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
    )
    assert send(iam_api.url + "/ping", credentials=both).status == 200
    assert send(iam_api.url + "/ping", method="POST", body=b"{}", credentials=both).status == 200
    assert send(iam_api.url + "/ping", method="DELETE", credentials=both).status == 403


def test_a_session_of_a_deleted_role_gets_nothing_from_a_new_role_of_its_name(iam_api, principals):
    _, session, name = principals.role(policy(allow()))
    assert send(iam_api.url + "/ping", credentials=session).status == 200
    principals.iam.delete_role_policy(RoleName=name, PolicyName="inline0")
    principals.iam.delete_role(RoleName=name)
    principals.role(policy(allow()), name=name)
    assert send(iam_api.url + "/ping", credentials=session).status == 403


@pytest.mark.parametrize("account", [ACCOUNT, "111111111111"])
def test_a_session_of_a_role_that_is_not_there_may_invoke_nothing(iam_api, account):
    # LocalStack lets a role that does not exist be assumed
    assumed = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/gw-absent-{uuid.uuid4().hex[:8]}",
        RoleSessionName="gateway-test",
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/AmazonAPIGatewayInvokeFullAccess"}],
    )
    keys = assumed["Credentials"]
    credentials = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])
    reply = send(iam_api.url + "/ping", credentials=credentials)
    assert reply.status == 403
    assert reply.body["Message"].startswith(f"User: {assumed['AssumedRoleUser']['Arn']} is not authorized")


@pytest.mark.parametrize("issue", ["get_session_token", "get_federation_token"])
def test_session_and_federation_tokens_are_refused_with_the_reason(iam_api, issue):
    extra = {"Name": "gateway-test", "Policy": policy(allow())} if issue == "get_federation_token" else {}
    keys = getattr(boto3.client("sts"), issue)(**extra)["Credentials"]
    credentials = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])
    reply = send(iam_api.url + "/ping", credentials=credentials)
    assert reply.status == 403
    assert (
        "does not evaluate" in reply.body["Message"]
        and "GetSessionToken and GetFederationToken" in reply.body["Message"]
    )


def test_methods_without_aws_iam_are_left_alone(engine):
    apigateway = boto3.client("apigateway")
    api = create_api(apigateway)
    try:
        assert send(api.url + "/ping").status == 200
        assert send(api.url + "/ping", headers={"Authorization": "Bearer anything"}).status == 200
    finally:
        apigateway.delete_rest_api(restApiId=api.id)


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/x-www-form-urlencoded", b'{"title": "sent as curl -d sends it"}'),
        ("application/x-www-form-urlencoded", b"a=1&b=two+words&c=%7E"),
        (
            MULTIPART,
            b'--xyz\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--xyz--\r\n',
        ),
        ("application/json", b'{"title": "json"}'),
    ],
)
def test_a_signed_body_is_checked_as_sent_whatever_its_content_type(iam_api, content_type, body):
    headers = {"Content-Type": content_type}
    assert send(iam_api.url + "/ping", "POST", headers, body, credentials=ROOT).status == 200
    tampered = send(iam_api.url + "/ping", "POST", headers, body, credentials=ROOT, sent_body=body + b"x")
    assert tampered.status == 403 and tampered.body["message"].startswith("The request signature we calculated")
