import logging
import time

from localstack.runtime import hooks
from localstack.runtime.exceptions import LocalstackExit
from localstack.runtime.server.core import RuntimeServerPlugin
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin

from localstack_nodocker import event_concurrency, seam

LOG = logging.getLogger(__name__)


class LocalProcessExecutorPlugin(RuntimeExecutorPlugin):
    name = "local-process"

    def load(self, *args, **kwargs):
        from localstack_nodocker.executor import LocalProcessRuntimeExecutor

        return LocalProcessRuntimeExecutor


class HostBoundTwistedServerPlugin(RuntimeServerPlugin):
    """GATEWAY_SERVER=twisted-host-bound: LocalStack's Twisted server, each GATEWAY_LISTEN
    entry bound to its own host (listening.py)."""

    name = "twisted-host-bound"

    def load(self, *args, **kwargs):
        from localstack_nodocker.listening import HostBoundTwistedServer

        return HostBoundTwistedServer()


# After LocalStack's own start-up patches (priority 100), before every other hook of the engine.
@hooks.on_infra_start(priority=50)
def check_engine_seam():
    """Refuse to start when an internal the engine patches or reads is missing or changed
    (seam.py), or one of its plugins cannot be loaded, rather than run without the feature."""
    started = time.perf_counter()
    if seam.unchanged_since_checked():
        LOG.info(
            "the engine's %d seam targets: the installation is as checked (%s), seen in %.2f s",
            len(seam.TARGETS),
            seam.CHECKED,
            time.perf_counter() - started,
        )
        return
    problems = seam.unloadable_plugins() + seam.check()
    if problems:
        message = seam.refusal(problems)
        LOG.error(message)
        raise LocalstackExit(message, code=1)
    seam.record_checked()
    LOG.info("the engine's %d seam targets checked in %.1f s", len(seam.TARGETS), time.perf_counter() - started)


@hooks.on_infra_start()
def bound_event_concurrency():
    """The engine's bound on concurrent event deliveries (event_concurrency.py); a bad value
    stops the start with the reason."""
    try:
        event_concurrency.SLOTS.bound = event_concurrency.engine_bound()
    except ValueError as exc:
        LOG.error(str(exc))
        raise LocalstackExit(str(exc), code=1) from None
    event_concurrency.hand_pollers_their_mappings()
