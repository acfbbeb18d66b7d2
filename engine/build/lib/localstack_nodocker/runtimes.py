"""Where the interpreters for Lambda's Python runtimes and their boto3 come from."""

import functools
import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException


def runtime_library_dir() -> Path:
    """boto3 for handlers, as the AWS runtime ships it (installed by the project's ctl)."""
    return Path(os.environ["LAMBDA_RUNTIME_LIBRARY"])


def _candidates(version: str):
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    yield from sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if "shims" not in directory:  # pyenv shims fail for versions not selected
            yield os.path.join(directory, f"python{version}")


@functools.lru_cache(maxsize=None)
def find_interpreter(runtime: str) -> str:
    """The host interpreter for a runtime like ``python3.12``; a clear error if there is none."""
    match = re.fullmatch(r"python(3\.\d+)", runtime or "")
    if not match:
        raise LambdaRuntimeException(
            f"Runtime '{runtime}' is not supported by the local-process Lambda executor, which runs "
            "Python functions only. Use a LocalStack container with Docker for other runtimes."
        )
    version = match.group(1)
    for candidate in _candidates(version):
        if shutil.which(candidate) and _reports_version(candidate, version):
            return candidate
    raise LambdaRuntimeException(
        f"No interpreter for runtime {runtime}: python{version} was not found on PATH or under "
        f"PYENV_ROOT. Install Python {version} (e.g. `pyenv install {version}`) and restart the engine."
    )


def _reports_version(interpreter: str, version: str) -> bool:
    try:
        out = subprocess.run(
            [interpreter, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == version
