"""What API Gateway enforces before a method's integration runs, added to LocalStack's
REST API invocation chain (``next_gen.execute_api``), which checks API keys but lets every
AWS_IAM request through and applies no throttling or quota:

- AWS_IAM authorization: the SigV4 signature and the caller's IAM policies
  (apigateway_iam.py);
- stage and method throttling, usage plans' throttling and quotas (apigateway_limits.py),
  unless ``NODOCKER_APIGATEWAY_THROTTLING=0``.

Both are handlers of the chain's ``preprocess_request`` step, the extension point LocalStack
documents on ``RestApiGateway``: it runs after the request is routed to a method and before
the API key check and the integration. Two more go to LocalStack's own gateway: one keeps
AssumeRole's session policies (LocalStack's STS drops them), one refuses usage plans and stage
limits AWS refuses. The signature covers the body as sent, which form_bodies.py keeps. What
they read from the stores (stage settings, usage plans, keys, callers' policies) is kept in a ``StoreCache`` until a request changes API Gateway or IAM.
"""

import logging
import threading
import weakref

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)
READ_ONLY_PREFIXES = ("Get", "List", "Simulate", "Generate", "TestInvoke")


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


@hooks.on_infra_start()
def enforce_api_gateway_access() -> None:
    from localstack.aws import handlers as gateway_handlers
    from localstack.services.apigateway.next_gen.execute_api import handlers

    from localstack_nodocker import apigateway_iam, apigateway_limits

    # Both handlers need the routed method (route_request) and must run before the API key
    # check and the integration: the chain's order is a seam.py target, checked at start.
    handlers.preprocess_request.append(apigateway_iam.authorize)
    if apigateway_limits.enabled():
        handlers.preprocess_request.append(apigateway_limits.apply_limits)
    else:
        LOG.warning("API Gateway throttling and quotas are off (NODOCKER_APIGATEWAY_THROTTLING=0)")
    gateway_handlers.serve_custom_service_request_handlers.append(apigateway_limits.refuse_invalid_limits)
    DERIVED_FROM.update(apigateway=apigateway_limits.STAGES, iam=apigateway_iam.CALLERS)
    gateway_handlers.run_custom_response_handlers.append(apigateway_iam.record_session_policies)
    gateway_handlers.run_custom_response_handlers.append(_forget_derived_state)
