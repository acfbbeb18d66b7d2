"""AWS_IAM authorization of API Gateway methods, as AWS evaluates it.

A method whose ``authorizationType`` is AWS_IAM answers 403, before its integration runs:

- no signature: ``Missing Authentication Token``;
- a malformed, misscoped or stale signature, or one that does not match the request:
  AWS's SigV4 messages (sigv4.py);
- an access key the engine does not know: ``The security token included in the request is
  invalid.``; an expired session: ``... is expired``;
- a caller whose policies do not allow ``execute-api:Invoke`` on the method ARN
  (``arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>``):
  ``User: <arn> is not authorized to perform: execute-api:Invoke on resource: <arn>``
  (``with an explicit deny`` when a Deny matched).

Credentials are the engine's: access keys of IAM users (the user's inline and attached
policies, its groups', its permissions boundary), temporary keys from ``AssumeRole`` (the
role's policies, its permissions boundary, the session policy) and LocalStack's root
credentials, access key ``test`` or a 12-digit account id with the secret ``test``, which
may invoke any API of their own account. Policies are evaluated by iam_policies.py (its
docstring says what is and is not); a decision that needs a condition key, a policy
variable or the API's resource policy is refused, with what was not evaluated named in the
message. Callers of another account are refused (they would need a resource policy).
"""

import datetime
import io
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from localstack.aws.accounts import extract_account_id_from_access_key_id, get_account_id_from_access_key_id
from localstack.constants import DEFAULT_AWS_ACCOUNT_ID
from localstack.services.apigateway.next_gen.execute_api.gateway_response import (
    AccessDeniedError,
    ExpiredTokenError,
    InvalidSignatureError,
    MissingAuthTokenError,
)
from localstack.utils.aws.arns import get_partition
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from localstack_nodocker import iam_policies, sigv4
from localstack_nodocker.execute_api import StoreCache

LOG = logging.getLogger(__name__)
SERVICE = "execute-api"
ACTION = "execute-api:Invoke"
ROOT_SECRET = "test"  # LocalStack's documented default secret
INVALID_TOKEN = "The security token included in the request is invalid."
RAW_BODY = "localstack_nodocker.signed_form_body"  # a WSGI environ key
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# access key -> Caller, for the keys found (unknown keys are looked up again: they cost two
# dictionary lookups); rebuilt after any IAM change
CALLERS = StoreCache()


class IncompleteSignatureError(InvalidSignatureError):
    code = "IncompleteSignatureException"


class UnrecognizedClientError(InvalidSignatureError):
    code = "UnrecognizedClientException"


@dataclass(frozen=True)
class Caller:
    arn: str
    account_id: str
    principal_id: str  # $context.identity.caller and .user
    secret: str
    session_token: str | None = None
    expires: datetime.datetime | None = None
    policy_sets: tuple = ()  # lists of iam_policies.Statement that must each allow
    unreadable: str = ""  # a policy that could not be read: nothing is decided without it
    root: bool = False


def _statements(documents: list[tuple[str, object]]) -> tuple[list, str]:
    statements, unreadable = [], []
    for name, document in documents:
        try:
            statements.extend(iam_policies.parse(document, name))
        except (ValueError, TypeError, AttributeError) as exc:
            unreadable.append(f"policy {name} cannot be read ({exc})")
    return statements, "; ".join(unreadable)


def _default_document(policy) -> object:
    return next(version.document for version in policy.versions if version.is_default)


def _managed(policies: dict) -> list[tuple[str, object]]:
    return [(policy.name, _default_document(policy)) for policy in policies.values()]


def _policy_sets(identity: list[tuple[str, object]], limits: list[tuple[str, object]]) -> tuple[tuple, str]:
    """The identity's policies as one set, and each limit (boundary, session policy) as another."""
    sets, problems = [], []
    for documents in [identity] + [[limit] for limit in limits]:
        statements, unreadable = _statements(documents)
        sets.append(statements)
        if unreadable:
            problems.append(unreadable)
    return tuple(sets), "; ".join(problems)


def _boundary(backend, arn: str | None) -> list[tuple[str, object]]:
    if not arn:
        return []
    policy = backend.managed_policies.get(arn)
    # a boundary that no longer exists allows nothing
    return [(f"{arn} (permissions boundary)", _default_document(policy) if policy else {"Statement": []})]


def _user_caller(backend, user, secret: str) -> Caller:
    documents = list(user.policies.items()) + _managed(user.managed_policies)
    for group in backend.get_groups_for_user(user.name):
        documents += list(group.policies.items()) + _managed(group.managed_policies)
    # LocalStack's IAM keeps a user's boundary in an attribute moto's User does not declare
    sets, unreadable = _policy_sets(documents, _boundary(backend, getattr(user, "permissions_boundary", None)))
    return Caller(user.arn, user.account_id, user.id, secret, policy_sets=sets, unreadable=unreadable)


def _session_caller(backend, account_id: str, partition: str, key) -> Caller | None:
    session = sts_backends[account_id][partition].get_assumed_role_from_access_key(key.access_key_id)
    if session is None:  # GetSessionToken and GetFederationToken keys are not kept by moto
        return None
    role = next((role for role in backend.roles.values() if role.arn == session.role_arn), None)
    documents = (list(role.policies.items()) + _managed(role.managed_policies)) if role else []
    limits = _boundary(backend, role.permissions_boundary_arn if role else None)
    if session.policy:
        limits.append(("the session policy", session.policy))
    sets, unreadable = _policy_sets(documents, limits)
    expires = (
        session.expiration.replace(tzinfo=datetime.UTC) if session.expiration.tzinfo is None else session.expiration
    )
    return Caller(
        session.arn,
        session.account_id,
        session.user_id,
        session.secret_access_key,
        session_token=session.session_token,
        expires=expires,
        policy_sets=sets,
        unreadable=unreadable,
    )


def _accounts_of(access_key: str) -> list[str]:
    """Where the key may live: the account LocalStack reads from it, the one its AKIA/ASIA form
    encodes (moto's keys for other accounts), the default account."""
    accounts = [get_account_id_from_access_key_id(access_key)]
    if len(access_key) >= 20 and access_key[:4] in ("AKIA", "ASIA", "LKIA", "LSIA"):
        accounts.append(extract_account_id_from_access_key_id(access_key))
    accounts.append(DEFAULT_AWS_ACCOUNT_ID)
    return list(dict.fromkeys(accounts))


def find_caller(access_key: str, partition: str) -> Caller | None:
    for account_id in _accounts_of(access_key):
        # .get: an account that holds no IAM state has no keys (and none is created for it)
        backend = (iam_backends.get(account_id) or {}).get(partition)
        key = backend.access_keys.get(access_key) if backend else None
        if key is None:
            continue
        if key.status != "Active":
            return None
        if key.role_arn:
            return _session_caller(backend, account_id, partition, key)
        user = backend.users.get(key.user_name)
        return _user_caller(backend, user, key.secret_access_key) if user else None
    if access_key == "test" or re.fullmatch(r"\d{12}", access_key):
        account_id = get_account_id_from_access_key_id(access_key)
        return Caller(f"arn:{partition}:iam::{account_id}:root", account_id, account_id, ROOT_SECRET, root=True)
    return None


def _raw_target(request) -> tuple[str, str]:
    """The path and query as the client sent (and signed) them."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return request.environ.get("PATH_INFO") or request.path, request.query_string.decode("latin-1")
    if "://" in raw.split("?", 1)[0]:  # a proxy's absolute form
        parts = urlsplit(raw)
        return parts.path, parts.query
    path, _, query = raw.partition("?")
    return path, query


def keep_signed_form_bodies(chain, context, response) -> None:
    """A handler of LocalStack's gateway, in its preprocess_request step, before anything reads
    the body. werkzeug parses a form body without keeping its bytes, and LocalStack's API
    Gateway passes the form on re-encoded (``curl -d`` sends JSON as a form): the signature
    covers the bytes sent. They are kept for the check, and the request reads the same bytes
    from a new stream, so what comes after is unchanged."""
    request = context.request
    if request.mimetype not in FORM_TYPES or not request.headers.get("Authorization", "").startswith(sigv4.ALGORITHM):
        return
    if (
        request.path.startswith("/_aws/execute-api/")
        or "/_user_request_" in request.path
        or ".execute-api." in request.host
    ):
        raw = request.stream.read()
        request.environ[RAW_BODY] = raw
        request.stream = io.BytesIO(raw)


def _signature_error(error: sigv4.SignatureError):
    if error.kind == "missing":
        return MissingAuthTokenError(error.message)
    if error.kind == "incomplete":
        return IncompleteSignatureError(error.message)
    return InvalidSignatureError(error.message)


def _decide(caller: Caller, api_account: str, resource: str, resource_policy: str | None) -> iam_policies.Outcome:
    if caller.account_id != api_account:
        return iam_policies.Outcome(iam_policies.Decision.IMPLICIT_DENY)
    if resource_policy:
        return iam_policies.Outcome(iam_policies.Decision.UNDECIDED, "the API's resource policy")
    if caller.root:
        return iam_policies.Outcome(iam_policies.Decision.ALLOWED)
    if caller.unreadable:
        return iam_policies.Outcome(iam_policies.Decision.UNDECIDED, caller.unreadable)
    return iam_policies.evaluate(list(caller.policy_sets), ACTION, resource)


def authorize(chain, context, response) -> None:
    """A handler of RestApiGateway's preprocess_request step."""
    method = context.resource_method or {}
    if method.get("authorizationType") != "AWS_IAM":
        return
    request = context.request
    headers = list(request.headers.items())
    raw_path, query = _raw_target(request)
    now = datetime.datetime.now(datetime.UTC)
    partition = get_partition(context.region)
    try:
        signature = sigv4.read(headers, query, SERVICE, context.region, now)
    except sigv4.SignatureError as error:
        raise _signature_error(error) from None
    store = iam_backends[DEFAULT_AWS_ACCOUNT_ID][partition]
    caller = CALLERS.get((signature.access_key, partition), store, lambda: find_caller(signature.access_key, partition))
    if caller is None:
        raise UnrecognizedClientError(INVALID_TOKEN)
    if caller.session_token is not None:
        if signature.security_token != caller.session_token:
            raise UnrecognizedClientError(INVALID_TOKEN)
        if caller.expires < now:
            raise ExpiredTokenError("The security token included in the request is expired")
    body = request.environ.get(RAW_BODY, context.invocation_request["body"])
    try:
        sigv4.verify(signature, caller.secret, request.method, raw_path, query, headers, body)
    except sigv4.SignatureError as error:
        raise _signature_error(error) from None

    invocation = context.invocation_request
    resource = (
        f"arn:{partition}:execute-api:{context.region}:{context.account_id}:"
        f"{context.api_id}/{context.stage}/{invocation['http_method']}{invocation['path']}"
    )
    outcome = _decide(caller, context.account_id, resource, context.deployment.rest_api.rest_api.get("policy"))
    if outcome.decision != iam_policies.Decision.ALLOWED:
        message = f"User: {caller.arn} is not authorized to perform: {ACTION} on resource: {resource}"
        if outcome.decision == iam_policies.Decision.EXPLICIT_DENY:
            message += " with an explicit deny"
        elif outcome.decision == iam_policies.Decision.UNDECIDED:
            message += f" (this engine does not evaluate what decides it: {outcome.reason})"
        raise AccessDeniedError(message)
    identity = context.context_variables["identity"]
    identity.update(
        accountId=caller.account_id,
        accessKey=signature.access_key,
        caller=caller.principal_id,
        user=caller.principal_id,
        userArn=caller.arn,
    )
