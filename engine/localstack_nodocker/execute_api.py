"""What API Gateway enforces before a method's integration runs, added to LocalStack's
REST API invocation chain (``next_gen.execute_api``), which checks API keys but lets every
AWS_IAM request through and applies no throttling or quota:

- AWS_IAM authorization: the SigV4 signature and the caller's IAM policies
  (apigateway_iam.py);
- stage and method throttling, usage plans' throttling and quotas (apigateway_limits.py),
  unless ``NODOCKER_APIGATEWAY_THROTTLING=0``.

Both are handlers of the chain's ``preprocess_request`` step, the extension point LocalStack
documents on ``RestApiGateway``: it runs after the request is routed to a method and before
the API key check and the integration. They are added when LocalStack first imports that chain
(with its API Gateway provider, on first use or when state is loaded), not at start: the
chain's modules took 0.2 to 0.3 s of CPU of a 3 s start, and most starts never use API
Gateway. Three more go to LocalStack's own gateway at start: one keeps AssumeRole's session
policies (LocalStack's STS drops them), one refuses usage plans and stage limits AWS refuses,
one drops what was derived from a store the request changed. The signature covers the body
as sent, which form_bodies.py keeps. What they read from the stores (stage settings, usage plans, keys,
callers' policies) is kept in a ``StoreCache`` until a request changes API Gateway or IAM.
"""

import logging
import os
import threading
import weakref

from localstack.constants import AWS_REGION_US_EAST_1, DEFAULT_AWS_ACCOUNT_ID
from localstack.runtime import hooks
from localstack.services.sts.models import sts_stores

from localstack_nodocker import seam

LOG = logging.getLogger(__name__)
READ_ONLY_PREFIXES = ("Get", "List", "Simulate", "Generate", "TestInvoke")
# LocalStack's REST API invocation chain (its steps are module attributes)
CHAIN = "localstack.services.apigateway.next_gen.execute_api.handlers"
THROTTLING_SWITCH = "NODOCKER_APIGATEWAY_THROTTLING"
ASSUME_ROLE_OPERATIONS = ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML")
# set by record_session_policies on LocalStack's TemporaryCredentials
SESSION_POLICIES = "nodocker_session_policies"


class StoreCache:
    """Values derived from a store: rebuilt after `invalidate` (a write to the store's service)
    and when the store object itself was replaced (a saved state was loaded)."""

    def __init__(self):
        self._generation = 0
        self._values: dict = {}
        self._lock = threading.Lock()

    def get(self, key, store, build):
        with self._lock:
            generation, found = self._generation, self._values.get(key)
        if found is not None and found[0] == generation and found[1]() is store:
            return found[2]
        value = build()
        with self._lock:
            # a build that overlapped a write is not kept: the next request builds again
            if generation == self._generation:
                self._values[key] = (generation, weakref.ref(store), value)
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._values.clear()


# service name -> the StoreCache derived from its store (filled when the handlers are added)
DERIVED_FROM: dict[str, StoreCache] = {}


def _forget_derived_state(chain, context, response) -> None:
    """A response handler of LocalStack's gateway: any API Gateway or IAM request that may
    have changed something invalidates what was derived from that service's store."""
    operation = context.operation
    if operation is None or context.service is None or operation.name.startswith(READ_ONLY_PREFIXES):
        return
    if cache := DERIVED_FROM.get(context.service.service_name):
        cache.invalidate()


def sessions() -> dict:
    """LocalStack's STS sessions by access key: one dictionary for every account (a
    CrossAccountAttribute)."""
    return sts_stores[DEFAULT_AWS_ACCOUNT_ID][AWS_REGION_US_EAST_1].credentials


def record_session_policies(chain, context, response) -> None:
    """A response handler of LocalStack's gateway. LocalStack's STS accepts AssumeRole's
    session policies (``Policy``, ``PolicyArns``) and keeps none of them: they are kept on the
    session it stored, before the response carries its keys to the caller, and so are saved
    and loaded with it. A session without them is not evaluated (apigateway_iam.py: never
    allowed more than its session policy would)."""
    operation = context.operation
    if operation is None or context.service is None or context.service.service_name != "sts":
        return
    if operation.name not in ASSUME_ROLE_OPERATIONS or not context.service_response:
        return
    keys = context.service_response.get("Credentials") or {}
    session = sessions().get(keys.get("AccessKeyId"))
    if session is not None:
        request = context.service_request or {}
        arns = [descriptor.get("arn") for descriptor in request.get("PolicyArns") or ()]
        setattr(session, SESSION_POLICIES, {"Policy": request.get("Policy"), "PolicyArns": arns})


def _refuse_invalid_limits(chain, context, response) -> None:
    """A service request handler of LocalStack's gateway: apigateway_limits.refuse_invalid_limits
    for API Gateway's requests. That module (with the execute-api errors it raises) is imported
    with API Gateway's first request, whose provider imports the execute-api chain anyway."""
    if context.service is None or context.service.service_name != "apigateway":
        return
    from localstack_nodocker import apigateway_limits

    apigateway_limits.refuse_invalid_limits(chain, context, response)


def _add_to_rest_api_chain(handlers, throttling: bool) -> None:
    """Run when LocalStack imports its REST API invocation chain (seam.on_import), before any
    request goes through it."""
    from localstack_nodocker import apigateway_iam, apigateway_limits

    # before the handlers that fill the caches
    DERIVED_FROM.update(apigateway=apigateway_limits.STAGES, iam=apigateway_iam.CALLERS)
    # Both handlers need the routed method (route_request) and must run before the API key
    # check and the integration: the chain's order is a seam.py target, checked at start.
    handlers.preprocess_request.append(apigateway_iam.authorize)
    if throttling:
        handlers.preprocess_request.append(apigateway_limits.apply_limits)


@hooks.on_infra_start()
def enforce_api_gateway_access() -> None:
    from localstack.aws import handlers as gateway_handlers

    throttling = os.environ.get(THROTTLING_SWITCH, "1") != "0"
    if not throttling:
        LOG.warning("API Gateway throttling and quotas are off (NODOCKER_APIGATEWAY_THROTTLING=0)")
    seam.on_import(CHAIN, lambda handlers: _add_to_rest_api_chain(handlers, throttling))
    # LocalStack's own gateway, at start: these requests may come before API Gateway's first use
    gateway_handlers.serve_custom_service_request_handlers.append(_refuse_invalid_limits)
    gateway_handlers.run_custom_response_handlers.append(record_session_policies)
    gateway_handlers.run_custom_response_handlers.append(_forget_derived_state)
