"""The Lambda runtimes this host runs: hostruntimes' answers in LocalStack's terms, and the
install of what a runtime lacks when its first function is created."""

import functools
import json
import logging
import os
from pathlib import Path

from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException

from localstack_nodocker import hostruntimes

LOG = logging.getLogger(__name__)
# Set by engine/ctl.py: {"uv": the installer's path, "env": the user's package-manager settings}.
INSTALLER_VARIABLE = "NODOCKER_RUNTIME_INSTALLER"


def runtime_library_dir() -> Path:
    """Runtimes' SDKs and pinned Node binaries, and kinesis-mock (kinesis.py)."""
    return Path(os.environ["LAMBDA_RUNTIME_LIBRARY"])


@functools.lru_cache(maxsize=None)
def resolve(runtime: str) -> tuple[str, Path]:
    """(interpreter, SDK folder) for an installed runtime; a LambdaRuntimeException with the
    reason and the fix otherwise. Cached: what is installed stays (failures are not cached)."""
    try:
        return hostruntimes.resolve(runtime, runtime_library_dir())
    except hostruntimes.RuntimeUnavailable as exc:
        raise LambdaRuntimeException(str(exc)) from None


def ensure_installed(runtime: str, function_name: str) -> None:
    """Install what the runtime lacks, for the first function of it (it stays Pending
    meanwhile, at most hostruntimes.INSTALL_TIMEOUT_S); progress in the engine's log. A
    LambdaRuntimeException with the reason and the fix if it cannot be installed."""
    try:
        resolve(runtime)
        return
    except LambdaRuntimeException:
        pass
    try:
        missing = hostruntimes.missing_parts(runtime, runtime_library_dir())
        if missing:
            LOG.info("runtime %s is not installed yet; installing it for function %s", runtime, function_name)
            installer = json.loads(os.environ[INSTALLER_VARIABLE])
            try:
                hostruntimes.install(missing, installer["uv"], {**os.environ, **installer["env"]}, LOG.info)
            except hostruntimes.RuntimeUnavailable as exc:
                raise hostruntimes.RuntimeUnavailable(
                    f"Runtime {runtime} could not be installed: {exc}\nFix that, then update the function or "
                    "create it again (or run `make install-runtimes`)."
                ) from None
    except hostruntimes.RuntimeUnavailable as exc:
        LOG.warning("function %s: %s", function_name, exc)
        raise LambdaRuntimeException(str(exc)) from None
    resolve(runtime)
