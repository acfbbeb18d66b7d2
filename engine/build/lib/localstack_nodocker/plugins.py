from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class LocalProcessExecutorPlugin(RuntimeExecutorPlugin):
    name = "local-process"

    def load(self, *args, **kwargs):
        from localstack_nodocker.executor import LocalProcessRuntimeExecutor

        return LocalProcessRuntimeExecutor
