"""The Lambda runtimes this host runs: hostruntimes' answers in LocalStack's terms."""

import functools
import os
from pathlib import Path

from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException

from localstack_nodocker import hostruntimes


def runtime_library_dir() -> Path:
    """Runtimes' SDKs and pinned Node binaries (installed by the project's ctl)."""
    return Path(os.environ["LAMBDA_RUNTIME_LIBRARY"])


@functools.lru_cache(maxsize=None)
def resolve(runtime: str) -> tuple[str, Path]:
    """(interpreter, SDK folder) for a runtime; a LambdaRuntimeException with the reason and
    the fix if this host cannot run it. Cached: the host's interpreters do not change while
    the engine runs (a newly installed one needs a restart, as the message says)."""
    try:
        return hostruntimes.resolve(runtime, runtime_library_dir())
    except hostruntimes.RuntimeUnavailable as exc:
        raise LambdaRuntimeException(str(exc)) from None
