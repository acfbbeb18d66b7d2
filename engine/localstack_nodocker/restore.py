"""Services brought back to work after their stores are loaded, one resource at a time.

What a service keeps outside its store it rebuilds in ``on_after_state_load``. Lambda's
restarts its function versions (a version that fails is logged and skipped), then its event
source mappings in one loop that stops at the first failure: a mapping whose function was
deleted (AWS's DeleteFunction leaves mappings to DeleteEventSourceMapping) raised "Function not
found" there, the load failed, and the engine would not start on its saved state. Here every
resource comes back on its own; one that cannot is reported - ``report(resource, reason)``,
shown by `make up`, `make status` and the state route - and the others start.

Only what cannot run again is reported. References AWS keeps dangling keep dangling here too,
and fail when used, as they did before the restart: a subscription to a deleted queue, a
rule's target or a permission naming a deleted function, a function using a deleted layer
version (its code stays with the function).
"""

import logging

from localstack_nodocker import drain, event_routing, stream_mapping

LOG = logging.getLogger(__name__)
# LocalStack waits this long for a mapping's function to be active before starting the mapping.
FUNCTION_ACTIVE_S = 10


def after_load(name: str, provider, state, report) -> None:
    """What the service ``name`` rebuilds from its loaded store, each resource on its own.
    ``state``: its service_state.ServiceState (Lambda's holds what was loaded beside its store:
    stream positions, queued invocations)."""
    if name == "lambda":
        runtime = state.loaded_runtime
        stream_mapping.resume_at(runtime.get("stream_positions", {}))  # before Lambda restarts the mappings
        restore_lambda(provider, report)
        drain.requeue(runtime.get("queued_invocations", []), report)
        return
    provider.on_after_state_load()
    if name == "events":
        event_routing.rebuild_event_routing(provider, report)


def restore_lambda(provider, report) -> None:
    """Lambda's on_after_state_load, with its event source mappings restarted one by one."""
    from localstack.services.lambda_.invocation.models import lambda_stores

    # Out of the stores while LocalStack restarts the functions, so its loop starts none.
    mappings = []
    for _, _, store in lambda_stores.iter_stores():
        mappings += [(store, mapping) for mapping in store.event_source_mappings.values()]
        store.event_source_mappings.clear()
    provider.on_after_state_load()
    _report_failed_versions(report)
    for store, mapping in mappings:
        try:
            _restart_mapping(provider, store, mapping)
        except Exception as exc:
            store.event_source_mappings.pop(mapping["UUID"], None)
            report(
                f"event source mapping {mapping['UUID']} ({mapping.get('EventSourceArn')} -> "
                f"{mapping.get('FunctionArn')})",
                f"{type(exc).__name__}: {exc}; it was dropped (create it again for an existing function)",
            )


def _restart_mapping(provider, store, mapping: dict) -> None:
    """What LocalStack's loop does for one mapping."""
    from localstack.aws.api.lambda_ import State
    from localstack.services.lambda_.event_source_mapping.esm_worker import EsmState
    from localstack.services.lambda_.event_source_mapping.esm_worker_factory import EsmWorkerFactory
    from localstack.services.lambda_.provider_utils import get_function_version_from_arn
    from localstack.utils.sync import poll_condition

    function_arn = mapping["FunctionArn"]
    function_version = get_function_version_from_arn(function_arn)  # ResourceNotFoundException if deleted
    if not poll_condition(
        lambda: get_function_version_from_arn(function_arn).config.state.state in (State.Active, State.Failed),
        timeout=FUNCTION_ACTIVE_S,
    ):
        LOG.warning("starting the event source mapping of a function that is not active yet: %s", function_arn)
    store.event_source_mappings[mapping["UUID"]] = mapping
    enabled = mapping.get("State", EsmState.DISABLED) not in (EsmState.DISABLED, EsmState.DISABLING)
    worker = EsmWorkerFactory(mapping, function_version.config.role, enabled).get_esm_worker()
    worker.create()
    provider.esm_workers[worker.uuid] = worker


def _report_failed_versions(report) -> None:
    from localstack.aws.api.lambda_ import State
    from localstack.services.lambda_.invocation.models import lambda_stores

    for _, _, store in lambda_stores.iter_stores():
        for function in store.functions.values():
            for version in function.versions.values():
                if version.config.state.state == State.Failed:
                    report(f"function {version.id.qualified_arn()}", version.config.state.reason or "failed to start")
