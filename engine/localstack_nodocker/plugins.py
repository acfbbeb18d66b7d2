from localstack.runtime.server.core import RuntimeServerPlugin
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


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
