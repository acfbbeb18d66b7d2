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

Credentials are the engine's, read from LocalStack's IAM and STS stores: access keys of IAM
users (the user's inline and attached policies, its groups', its permissions boundary),
temporary keys from ``AssumeRole`` (the role's policies, its permissions boundary, the
session policies) and LocalStack's root credentials, access key ``test`` or a 12-digit
account id with the secret ``test``, which may invoke any API of their own account. Keys
from GetSessionToken and GetFederationToken are refused with the reason: LocalStack keeps
neither whose they are nor their policy. Policies are evaluated by iam_policies.py (its
docstring says what is and is not); a decision that needs a condition key, a policy
variable or the API's resource policy is refused, with what was not evaluated named in the
message. Callers of another account are refused (they would need a resource policy).
"""

import datetime
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from localstack.aws.accounts import extract_account_id_from_access_key_id, get_account_id_from_access_key_id
from localstack.aws.api.iam import NoSuchEntityException
from localstack.constants import AWS_REGION_US_EAST_1, DEFAULT_AWS_ACCOUNT_ID
from localstack.services.apigateway.next_gen.execute_api.gateway_response import (
    AccessDeniedError,
    ExpiredTokenError,
    InvalidSignatureError,
    MissingAuthTokenError,
)
from localstack.services.iam.models import iam_stores
from localstack.services.plugins import SERVICE_PLUGINS
from localstack.utils.aws.arns import get_partition

from localstack_nodocker import iam_policies, sigv4
from localstack_nodocker.execute_api import SESSION_POLICIES, StoreCache, sessions

LOG = logging.getLogger(__name__)
SERVICE = "execute-api"
ACTION = "execute-api:Invoke"
ROOT_SECRET = "test"  # LocalStack's documented default secret
INVALID_TOKEN = "The security token included in the request is invalid."
AWS_MANAGED_POLICY = ":iam::aws:policy/"
NOTHING = {"Statement": []}  # a policy that allows nothing
# access key -> Caller, for the keys found (unknown keys are looked up again: they cost a few
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


def _iam_provider():
    return SERVICE_PLUGINS.get_service("iam").lifecycle_hook


def _managed_document(store, arn: str) -> object | None:
    """The default version of a managed policy: the account's own, or one of AWS's (which
    LocalStack's IAM provider holds, not the store)."""
    policy = store.MANAGED_POLICIES.get(arn)
    if policy is None and AWS_MANAGED_POLICY in arn:
        try:
            policy = _iam_provider()._get_aws_managed_policy(store, arn)
        except NoSuchEntityException:
            policy = None
    return policy.versions[policy.policy["DefaultVersionId"]]["Document"] if policy else None


def _attached(store, entity) -> list[tuple[str, object]]:
    """An entity's (user's, group's, role's) inline and attached policies."""
    documents = list(entity.inline_policies.items())
    for arn in entity.attached_policy_arns:
        document = _managed_document(store, arn)
        if document is not None:  # IAM refuses to delete an attached policy
            documents.append((arn, document))
    return documents


def _policy_sets(identity: list[tuple[str, object]], limits: list[list[tuple[str, object]]]) -> tuple[tuple, str]:
    """The identity's policies as one set, and each limit (boundary, session policies) as another."""
    sets, problems = [], []
    for documents in [identity, *limits]:
        statements, unreadable = _statements(documents)
        sets.append(statements)
        if unreadable:
            problems.append(unreadable)
    return tuple(sets), "; ".join(problems)


def _boundary(store, principal: dict) -> list[list[tuple[str, object]]]:
    arn = (principal.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if not arn:
        return []
    # a boundary that no longer exists allows nothing
    return [[(f"{arn} (permissions boundary)", _managed_document(store, arn) or NOTHING)]]


def _user_caller(store, account_id: str, user, secret: str) -> Caller:
    name = user.user["UserName"]
    documents = _attached(store, user)
    for group in store.GROUPS.values():
        if name in group.member_user_names:
            documents += _attached(store, group)
    sets, unreadable = _policy_sets(documents, _boundary(store, user.user))
    return Caller(user.user["Arn"], account_id, user.user["UserId"], secret, policy_sets=sets, unreadable=unreadable)


def _session_caller(session) -> Caller:
    """A session of LocalStack's STS. Only AssumeRole sessions are evaluated: LocalStack keeps
    neither who asked for a GetSessionToken or GetFederationToken session nor its policy."""
    limits, unreadable = [], ""
    _, _, resource = session.arn.partition(":assumed-role/")
    role_name = resource.partition("/")[0]
    store = iam_stores[session.account_id][AWS_REGION_US_EAST_1]  # LocalStack lets a role that is not there be assumed
    role = store.ROLES.get(role_name) if role_name else None
    # a role deleted and made again under its name is another role: the session is not its
    if role is not None and role.role["RoleId"] == session.user_id.partition(":")[0]:
        documents = _attached(store, role)
        limits = _boundary(store, role.role)
    else:
        documents = []
    if not role_name:
        unreadable = "the permissions of GetSessionToken and GetFederationToken credentials"
    elif (recorded := getattr(session, SESSION_POLICIES, None)) is None:
        unreadable = "the session policy of a session the engine did not see issued"
    elif recorded["Policy"] or recorded["PolicyArns"]:
        session_policies = [("the session policy", recorded["Policy"])] if recorded["Policy"] else []
        for arn in recorded["PolicyArns"]:
            session_policies.append((f"{arn} (session policy)", _managed_document(store, arn) or NOTHING))
        limits.append(session_policies)
    sets, problems = _policy_sets(documents, limits)
    return Caller(
        session.arn,
        session.account_id,
        session.user_id,
        session.secret_access_key,
        session_token=session.session_token,
        expires=session.expiration,
        policy_sets=sets,
        unreadable="; ".join(problem for problem in (unreadable, problems) if problem),
    )


def _accounts_of(access_key: str) -> list[str]:
    """Where the key may live: the account LocalStack reads from it, the one its AKIA/LKIA form
    encodes (keys of other accounts), the default account."""
    accounts = [get_account_id_from_access_key_id(access_key)]
    if len(access_key) >= 20 and access_key[:4] in ("AKIA", "ASIA", "LKIA", "LSIA"):
        accounts.append(extract_account_id_from_access_key_id(access_key))
    accounts.append(DEFAULT_AWS_ACCOUNT_ID)
    return list(dict.fromkeys(accounts))


def find_caller(access_key: str, partition: str) -> Caller | None:
    if (session := sessions().get(access_key)) is not None:
        return _session_caller(session)
    for account_id in _accounts_of(access_key):
        # .get: an account that holds no IAM state has no keys (and none is created for it)
        account = iam_stores.get(account_id)
        store = account[AWS_REGION_US_EAST_1] if account else None  # IAM is global: any region
        user_name = store.ACCESS_KEY_INDEX.get(access_key) if store else None
        if user_name is None:
            continue
        user = store.USERS.get(user_name)
        key = user.access_keys.get(access_key) if user else None
        if key is None or key.access_key["Status"] != "Active":
            return None
        return _user_caller(store, account_id, user, key.access_key["SecretAccessKey"])
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
    store = iam_stores[DEFAULT_AWS_ACCOUNT_ID][AWS_REGION_US_EAST_1]
    caller = CALLERS.get((signature.access_key, partition), store, lambda: find_caller(signature.access_key, partition))
    if caller is None:
        raise UnrecognizedClientError(INVALID_TOKEN)
    if caller.session_token is not None:
        if signature.security_token != caller.session_token:
            raise UnrecognizedClientError(INVALID_TOKEN)
        if caller.expires < now:
            raise ExpiredTokenError("The security token included in the request is expired")
    body = context.invocation_request["body"]  # as sent (form_bodies.py)
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
