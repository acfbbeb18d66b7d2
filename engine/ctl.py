#!/usr/bin/env python3
"""Install, start, stop and inspect the embedded LocalStack engine (standard library only).

    python3 engine/ctl.py install | install-runtimes | up | down | save | reset | status | logs | env | lock
    python3 engine/ctl.py uv <arguments>    the pinned uv (the Makefile installs .venv with it)

State lives in .localstack/ (ignored by git): the engine's virtualenv, its data, logs,
PID file, the Lambda runtimes' SDKs (boto3 per Python version, AWS SDK v3 for Node.js) and
pinned Node binaries (each installed by the engine when the first function of its runtime
is created, or all by `install-runtimes`), and the saved state (snapshot/ and the journal/ after it), which `up`
restores and `down` writes (PERSISTENCE=0 runs in memory only; `reset` deletes it). If a
LocalStack already answers at AWS_ENDPOINT_URL (default http://localhost:4566), for example
a Docker container, `up` uses it and starts nothing. The engine listens on 127.0.0.1 only; GATEWAY_LISTEN in the
shell (e.g. 0.0.0.0:4566) opts in to more, with a warning: see docs/reliability-and-security.md.
"""

from __future__ import annotations  # runs on older Pythons too, to find the engine's Python

import argparse
import fcntl
import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE_DIR = ROOT / "engine"
sys.path.insert(0, str(ENGINE_DIR))
from localstack_nodocker import hostruntimes, loopback, names  # noqa: E402  (standard library only)

# What is installed (the engine's virtualenv, handlers' boto3) and what one engine writes
# (data, logs, PID) are separate, so tests can run a second engine on the same install.
INSTALL_DIR = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack"))
STATE = Path(os.environ.get("LOCALSTACK_STATE_DIR", ROOT / ".localstack"))
VENV = INSTALL_DIR / "venv"
# The Lambda runtimes' SDKs and Node binaries, and kinesis-mock (a second engine may have its own,
# e.g. in tests).
RUNTIME_LIBRARY = Path(os.environ.get("LAMBDA_RUNTIME_LIBRARY", INSTALL_DIR / "lambda-runtime"))
INSTALL_STAMP = INSTALL_DIR / "install.sha256"
# LocalStack's index of every service's operations (its request router's), which its Docker
# image builds once at image build time (`python -m localstack.aws.spec`, into the static
# libraries folder). Built here once per install and linked into each state folder: else the
# first start of every new state folder (each test worker's, each second engine's, the
# bench's) built it again, 5 s of CPU, and kept 350 MB of service models it had loaded.
CATALOG_ROOT = INSTALL_DIR / "filesystem"
STATIC_LIBS = Path("usr/lib/localstack")
# The checkout's CA and the engine's certificate for localhost.localstack.cloud (see
# engine/localstack_nodocker/tls.py). The private keys stay in here.
TLS_DIR = INSTALL_DIR / "tls"
TLS_FILES = {
    "ca_key": TLS_DIR / "ca.key",
    "ca_cert": TLS_DIR / "ca.pem",
    "server": TLS_DIR / "server.pem",
    "bundle": TLS_DIR / "ca-bundle.pem",
}
# LocalStack splits CUSTOM_SSL_CERT_PATH into <path>.key and <path>.crt at every start, rewriting
# them in place: each engine has its own copy, so that engines starting together (the test
# workers) never read a key another one is writing.
ENGINE_SERVER_CERTIFICATE = STATE / "tls" / "engine.pem"
PID_FILE = STATE / "localstack.pid"
LOG_FILE = STATE / "logs" / "localstack.log"
# localstack-core 2026.3.0 declares Python >= 3.10, but its code uses PEP 695 generics
# (`class RegionBundle[BaseStoreType](dict)`): below 3.12 no plugin imports and the runtime
# finds no components. 3.13 first (LocalStack's own image and lock use it). The functions'
# runtimes are separate interpreters (hostruntimes.py): python3.11 functions still run on 3.11.
ENGINE_PYTHON_VERSIONS = ("3.13", "3.12")
# engine/requirements.txt is this set, locked with every file's hash (`ctl.py lock`), as the
# package index had it the day after localstack-core 2026.3.0 was released (2026-03-23): the
# releases since break it (cbor2 6, pyOpenSSL 26.2; engine/constraints.txt).
ENGINE_REQUIREMENTS = ENGINE_DIR / "requirements.in"
ENGINE_LOCK = ENGINE_DIR / "requirements.txt"
ENGINE_LOCK_DATE = "2026-03-24"
# uv installs the engine (~10x faster than pip, warm cache reused); itself installed with pip.
UV = "uv==0.13.9"
UV_DIR = INSTALL_DIR / "uv"
SNAPSHOT_DIR = STATE / "snapshot"
# What changed since the snapshot, appended every second (localstack_nodocker/journal.py).
JOURNAL_DIR = STATE / "journal"
# Served by the engine's persistence plugin (localstack_nodocker/persistence.py, ROUTE).
STATE_ROUTE = "/_localstack/nodocker/state"
FINAL_SNAPSHOT_ROUTE = STATE_ROUTE + "/final"
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566")
# A start imports what the seam check reads (engine/localstack_nodocker/seam.py): a few
# seconds on a quiet machine, over a minute on a busy two-core one.
START_TIMEOUT_S = 180
# Loading a large saved state, and the final snapshot (a wait of up to a minute for what
# the engine accepted, then the save), may take minutes; the engine's log shows its progress.
LOAD_TIMEOUT_S = 600
FINAL_SNAPSHOT_TIMEOUT_S = 900
STOP_TIMEOUT_S = 15


class EngineError(Exception):
    """A failure the user can act on; printed without a traceback."""


def say(message: str) -> None:
    print(f"[engine] {message}", flush=True)


# --- install --------------------------------------------------------------------------------


def _install_inputs_hash() -> str:
    digest = hashlib.sha256(UV.encode())
    for path in sorted(
        [ENGINE_LOCK, ENGINE_DIR / "pyproject.toml"]
        + [
            file
            for file in (ENGINE_DIR / "localstack_nodocker").rglob("*")
            if file.suffix in (".py", ".js", ".mjs", ".json")
        ]
    ):
        digest.update(str(path.relative_to(ENGINE_DIR)).encode() + path.read_bytes())
    return digest.hexdigest()


def _engine_python() -> tuple[str, str]:
    """(interpreter, major.minor) for the engine: this one, or one on PATH or in pyenv's
    versions folder (hostruntimes.find_python)."""
    for version in ENGINE_PYTHON_VERSIONS:
        if "{}.{}".format(*sys.version_info[:2]) == version:
            return sys.executable, version
        found = hostruntimes.find_python(version)
        if found:
            return found, version
    wanted = " or ".join(f"python{version}" for version in ENGINE_PYTHON_VERSIONS)
    raise EngineError(
        f"the engine (localstack-core 2026.3.0) needs {wanted}; neither was found on PATH or in "
        f"{os.environ.get('PYENV_ROOT', '~/.pyenv')}/versions. Install one, e.g. `pyenv install "
        f"{ENGINE_PYTHON_VERSIONS[0]}`, or your system's package (`apt-get install python{ENGINE_PYTHON_VERSIONS[0]}`"
        f" from deadsnakes on Ubuntu, `brew install python@{ENGINE_PYTHON_VERSIONS[0]}`), then run `make install` "
        "again. Your functions' runtimes are not affected: they use their own interpreters."
    )


def _python_version(venv: Path) -> str | None:
    """major.minor of a virtualenv's interpreter, from its pyvenv.cfg."""
    try:
        config = (venv / "pyvenv.cfg").read_text()
    except OSError:
        return None
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            return ".".join(value.strip().split(".")[:2])
    return None


def _run_install(command: list, what: str, env: dict | None = None, cwd: Path | None = None) -> None:
    say(f"installing {what} ...")
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if result.returncode != 0:
        errors = [
            line for line in (result.stdout + result.stderr).splitlines() if "is ignored: it is neither" not in line
        ]
        raise EngineError(f"installing {what} failed:\n" + "\n".join(errors[-25:]))
    say(f"installed {what} in {time.monotonic() - started:.1f} s")


def _uv() -> str:
    uv = UV_DIR / "bin" / "uv"
    if not uv.exists():
        _run_install(
            [
                _engine_python()[0],
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                "--target",
                str(UV_DIR),
                UV,
            ],
            what=f"{UV} (the installer)",
        )
    return str(uv)


def _uv_environment() -> dict:
    # uv is run from its --target folder: it finds its own package through PYTHONPATH.
    return {**os.environ, "PYTHONPATH": str(UV_DIR), "UV_PYTHON_DOWNLOADS": "never"}


def run_uv(arguments: list) -> int:
    return subprocess.run([_uv(), *arguments], env=_uv_environment(), check=False).returncode


def install() -> None:
    """Install what changed (the Lambda runtimes: when first needed, or `install-runtimes`).
    One install at a time: engines started together (make test's workers) share the install
    folder, and a second `uv venv` found the first one's half-made virtualenv and failed."""
    wanted = _install_inputs_hash()
    if not _installed(wanted) or not any(_service_catalogs()):
        python, version = _engine_python()  # first: without one, nothing is made, not even the lock
        INSTALL_DIR.mkdir(parents=True, exist_ok=True)
        with open(INSTALL_DIR / "install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _installed(wanted):  # another start may have installed it meanwhile
                _install_engine(wanted, python, version)
            elif not any(_service_catalogs()):  # an install made before the catalog was built at install
                _build_service_catalog()
    _ensure_certificates()


def _installed(wanted: str) -> bool:
    return INSTALL_STAMP.exists() and INSTALL_STAMP.read_text() == wanted and (VENV / "bin" / "python").exists()


def _service_catalogs(folder: Path | None = None):
    """The catalog files in an install's static libraries folder, or in ``folder``."""
    return (folder or CATALOG_ROOT / STATIC_LIBS).glob("service-catalog-*.dill")


def _catalog_cache() -> Path:
    """Where the user's cache keeps the catalog built for this lock and Python. The catalog is a
    function of the locked packages alone (LocalStack's and botocore's service specs), not of
    the engine's plugins or the checkout: building it took 9.5 s of CPU at every fresh clone's
    install and every reinstall of the plugins. Private to the user, as uv's cache is (LocalStack
    unpickles the file)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "localstack-nodocker"
    key = hashlib.sha256(ENGINE_LOCK.read_bytes() + str(_python_version(VENV)).encode()).hexdigest()[:16]
    return root / "service-catalog" / key


def _build_service_catalog() -> None:
    """LocalStack's own build step for its image, for this install's versions (the file's
    name carries LocalStack's and botocore's); copied from the user's cache when it has it."""
    shutil.rmtree(CATALOG_ROOT, ignore_errors=True)
    target = CATALOG_ROOT / STATIC_LIBS
    target.mkdir(parents=True)
    cache = _catalog_cache()
    cached = sorted(_service_catalogs(cache))
    if cached:
        for catalog in cached:
            shutil.copyfile(catalog, target / catalog.name)
        say(f"LocalStack's service catalog for this lock: copied from {cache}")
        return
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(CATALOG_ROOT),
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(CATALOG_ROOT),
    }
    _run_install(
        [str(VENV / "bin" / "python"), "-m", "localstack.aws.spec"], what="LocalStack's service catalog", env=env
    )
    try:  # kept for the next install; written whole (a new name, then renamed) or not at all
        cache.mkdir(parents=True, exist_ok=True)
        for root in (cache.parent.parent, cache.parent, cache):
            root.chmod(0o700)
        for catalog in _service_catalogs():
            partial = cache / f".{catalog.name}.{os.getpid()}"
            shutil.copyfile(catalog, partial)
            partial.replace(cache / catalog.name)
    except OSError as error:  # a read-only or full home: the next install builds it again
        say(f"LocalStack's service catalog not kept in {cache}: {error}")


def _ensure_certificates() -> None:
    """The CA once per checkout; the server certificate re-issued before it expires."""
    arguments = [f"--{name.replace('_', '-')}={path}" for name, path in TLS_FILES.items()]
    result = subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "localstack_nodocker.tls", *arguments], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise EngineError(f"creating the TLS certificates failed:\n{result.stderr[-2000:]}")
    for line in result.stdout.splitlines():
        say(line)


def _install_engine(wanted: str, python: str, version: str) -> None:
    """The engine's virtualenv with ``python`` (its ``version``), under install()'s lock."""
    uv = _uv()
    env = _uv_environment()
    if (VENV / "bin" / "python").exists() and _python_version(VENV) != version:
        say(f"the engine virtualenv has Python {_python_version(VENV)}; recreating it with Python {version}")
        shutil.rmtree(VENV)
    if not (VENV / "bin" / "python").exists():
        shutil.rmtree(VENV, ignore_errors=True)  # what an interrupted install left
        say(f"creating the engine virtualenv in {VENV} (Python {version})")
        subprocess.run([uv, "venv", "-q", "--python", python, str(VENV)], check=True, env=env)
    engine_python = ["--python", str(VENV / "bin" / "python")]
    # exactly the locked set: every package pinned and its file's hash checked, nothing else
    _run_install(
        [uv, "pip", "sync", "-q", *engine_python, "--require-hashes", str(ENGINE_LOCK)],
        what="localstack-core 2026.3.0 (hash-locked)",
        env=env,
    )
    # the plugins only (no dependencies), built with the locked setuptools, not a downloaded one
    _run_install(
        [
            uv,
            "pip",
            "install",
            "-q",
            *engine_python,
            "--no-deps",
            "--no-build-isolation",
            "--reinstall-package",
            "localstack-nodocker",
            str(ENGINE_DIR),
        ],
        what="the no-Docker plugins (Lambda executor, DynamoDB provider, state)",
        env=env,
    )
    _remove_unknown_runtime_files()
    _build_service_catalog()
    INSTALL_STAMP.write_text(wanted)


def _compile(python_version: str, output: Path, *options: str) -> set[str]:
    """Resolve the engine's requirements for one Python into ``output``; its ``name==version`` pins."""
    result = subprocess.run(
        [
            _uv(),
            "pip",
            "compile",
            "-q",
            "--python-version",
            python_version,
            "--exclude-newer",
            ENGINE_LOCK_DATE,
            *options,
            "-c",
            str(ENGINE_DIR / "constraints.txt"),
            "-o",
            str(output),
            str(ENGINE_REQUIREMENTS),
        ],
        capture_output=True,
        text=True,
        env=_uv_environment(),
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        raise EngineError(
            f"resolving {ENGINE_REQUIREMENTS.name} for Python {python_version} failed:\n{result.stderr[-3000:]}"
        )
    return {line.split()[0] for line in output.read_text().splitlines() if "==" in line and not line.startswith("#")}


def lock() -> None:
    """Resolve engine/requirements.in within engine/constraints.txt into engine/requirements.txt:
    every package pinned with the hashes of its files, as the index was on ENGINE_LOCK_DATE. One
    lock serves every Python the engine may run on, so each must resolve to the same set."""
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    first, *others = ENGINE_PYTHON_VERSIONS
    pins = _compile(first, ENGINE_LOCK, "--generate-hashes", "--custom-compile-command", "python3 engine/ctl.py lock")
    for version in others:
        scratch = INSTALL_DIR / f"requirements-{version}.txt"
        try:
            differences = pins ^ _compile(version, scratch, "--no-header", "--no-annotate")
        finally:
            scratch.unlink(missing_ok=True)
        if differences:
            raise EngineError(
                f"the engine's requirements resolve differently on Python {version} than on {first} "
                f"({', '.join(sorted(differences))}): one lock cannot serve both"
            )


# --- Lambda runtimes: each runtime's SDK, pinned Node binaries ---------------------------------
#
# The engine installs what a runtime lacks when the first function of it is created
# (localstack_nodocker/runtimes.py); `install-runtimes` installs every one now.


def _remove_unknown_runtime_files() -> None:
    """Drop what an older layout left in the runtime library (e.g. one boto3 for every Python)."""
    known = hostruntimes.library_entries(RUNTIME_LIBRARY)
    for entry in RUNTIME_LIBRARY.iterdir() if RUNTIME_LIBRARY.exists() else ():
        if entry.name not in known:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def _runtime_installer() -> dict:
    """How the engine installs a runtime: this uv, and the user's package-manager settings
    (caches, indexes, proxies; the engine's own HOME is its state folder)."""
    return {"uv": str(UV_DIR / "bin" / "uv"), "env": hostruntimes.installer_environment(os.environ)}


def _runtimes_by_readiness() -> tuple[list[str], list[str], list[str]]:
    """(ready, installed when first needed, unavailable here with the reason)."""
    ready, installable, unavailable = [], [], []
    for runtime in hostruntimes.SUPPORTED:
        try:
            (installable if hostruntimes.missing_parts(runtime, RUNTIME_LIBRARY) else ready).append(runtime)
        except hostruntimes.RuntimeUnavailable as exc:
            unavailable.append(str(exc).split(": ")[0])
    return ready, installable, unavailable


def install_runtimes() -> None:
    """What every runtime this host can run lacks, installed in parallel."""
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    uv = _uv()
    parts, refused = {}, []
    for runtime in hostruntimes.SUPPORTED:
        try:  # keyed by folder: the Node.js runtimes share one SDK
            parts.update({part.folder: part for part in hostruntimes.missing_parts(runtime, RUNTIME_LIBRARY)})
        except hostruntimes.RuntimeUnavailable as exc:
            refused.append(str(exc))
    started = time.monotonic()
    try:
        hostruntimes.install(list(parts.values()), uv, os.environ, say)
    except hostruntimes.RuntimeUnavailable as exc:
        raise EngineError(str(exc)) from None
    finally:
        for reason in refused:
            say(f"not installable here: {reason}")
    ready = _runtimes_by_readiness()[0]
    say(f"{len(parts)} installed in {time.monotonic() - started:.1f} s; runtimes ready: {', '.join(ready)}")


# --- process ----------------------------------------------------------------------------------


def _health(url: str = ENDPOINT, timeout: float = 1.0):
    """The engine's health document, None if nothing listens, EngineError if a stranger does."""
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise EngineError(f"{url} answers, but not as LocalStack (HTTP {exc.code} on /_localstack/health)") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            return None
        raise EngineError(f"{url} does not answer as LocalStack ({exc.reason})") from exc
    except ConnectionRefusedError:
        return None
    except (http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError) as exc:
        raise EngineError(f"{url} answers, but not as LocalStack ({type(exc).__name__}: {exc})") from exc
    try:
        document = json.loads(body)
    except ValueError:
        raise EngineError(f"{url} answers, but not as LocalStack (no health document)") from None
    if "services" not in document:
        raise EngineError(f"{url} answers, but not as LocalStack (unexpected health document)")
    return document


def _answers(timeout: float) -> bool:
    """During start-up: healthy yet? (half-open answers are not errors then)"""
    try:
        return _health(timeout=timeout) is not None
    except EngineError:
        return False


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _our_pid():
    """PID of the engine this project started, or None (a stale PID file is removed)."""
    if not PID_FILE.exists():
        return None
    try:
        pid = int(PID_FILE.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (ValueError, OSError):
        cmdline = ""
    if "localstack.runtime.main" in cmdline:
        return pid
    say(f"removing stale PID file {PID_FILE.name} (process {PID_FILE.read_text().strip()} is gone)")
    PID_FILE.unlink()
    return None


def _gateway_listen(port: int) -> str:
    """Where the engine listens: the loopback, unless GATEWAY_LISTEN in the shell names other
    addresses (said with the risk); it must still serve AWS_ENDPOINT_URL, which the tools,
    the functions and this script use."""
    listen = os.environ.get("GATEWAY_LISTEN", "").strip()
    if not listen:
        return f"127.0.0.1:{port}"
    try:
        addresses = loopback.parse_listen(listen, port)
    except ValueError:
        raise EngineError(f"GATEWAY_LISTEN={listen}: expected host:port[,host:port...]") from None
    if not any(p == port and (loopback.is_loopback(h) or h in loopback.WILDCARDS) for h, p in addresses):
        raise EngineError(
            f"GATEWAY_LISTEN={listen} does not serve {ENDPOINT}: add 127.0.0.1:{port} (or set AWS_ENDPOINT_URL)"
        )
    exposed = sorted({host for host, _ in addresses if not loopback.is_loopback(host)})
    if exposed:
        say("warning: " + loopback.exposure_warning(listen, exposed))
    return listen


def _make_private() -> None:
    """What the engine keeps (state, logs, keys) is this user's alone: its folders 0700 and the
    private keys 0600, also in installs made before (the engine itself writes under umask 077)."""
    for folder in {STATE, INSTALL_DIR, TLS_DIR, ENGINE_SERVER_CERTIFICATE.parent}:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    for key in [*TLS_DIR.glob("*.key"), *ENGINE_SERVER_CERTIFICATE.parent.glob("*.key")]:
        key.chmod(0o600)  # ca.key, and the server key LocalStack splits off server.pem


def _copy_server_certificate() -> None:
    """This engine's copy of the server certificate (ENGINE_SERVER_CERTIFICATE says why)."""
    names.write_whole(ENGINE_SERVER_CERTIFICATE, TLS_FILES["server"].read_bytes(), 0o600)


def _engine_environment(listen: str) -> dict:
    url = urllib.parse.urlparse(ENDPOINT)
    home, tmp = STATE / "home", STATE / "tmp"
    for folder in (home, tmp, STATE / "data" / STATIC_LIBS, LOG_FILE.parent):
        folder.mkdir(parents=True, exist_ok=True)
    for catalog in _service_catalogs():
        link = STATE / "data" / STATIC_LIBS / catalog.name
        if not link.exists():
            link.unlink(missing_ok=True)  # a link left by another install folder
            link.symlink_to(catalog)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYENV_ROOT": os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(STATE / "data"),
        "GATEWAY_LISTEN": listen,
        # LocalStack's Twisted server, bound to GATEWAY_LISTEN's hosts (localstack_nodocker/listening.py)
        "GATEWAY_SERVER": "twisted-host-bound",
        "LOCALSTACK_HOST": f"localhost:{url.port or 4566}",
        "SQS_ENDPOINT_STRATEGY": "off",
        "DNS_ADDRESS": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "LAMBDA_RUNTIME_EXECUTOR": "local-process",
        "LAMBDA_RUNTIME_LIBRARY": str(RUNTIME_LIBRARY),
        "NODOCKER_RUNTIME_INSTALLER": json.dumps(_runtime_installer()),
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
        "PROVIDER_OVERRIDE_CLOUDWATCH": "nodocker",
        "PROVIDER_OVERRIDE_SQS": "nodocker",
        # Event source mapping pollers wait in their own polls (an SQS long poll, a stream's
        # next write): no sleep between polls (sqs_mapping.py, stream_mapping.py).
        "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0",
        "PROVIDER_OVERRIDE_LOGS": "nodocker",
        "PROVIDER_OVERRIDE_S3": "nodocker",
        # LocalStack's own calls to itself (API Gateway invoking Lambda, Lambda writing its
        # logs, pollers, EventBridge targets) through the gateway in memory, not over HTTP:
        # every service shares one interpreter lock, so each HTTP round trip saved is
        # throughput for the requests people wait on.
        "IN_MEMORY_CLIENT": "1",
        # https on the same port (LocalStack tells TLS from plain HTTP per connection)
        "CUSTOM_SSL_CERT_PATH": str(ENGINE_SERVER_CERTIFICATE),
        "LOCALSTACK_NODOCKER_CA_CERT": str(TLS_FILES["ca_cert"]),
        # certificates for the AWS host names functions reach the engine under (tls.py)
        "LOCALSTACK_NODOCKER_CA_KEY": str(TLS_FILES["ca_key"]),
        "LOCALSTACK_NODOCKER_CA_BUNDLE": str(TLS_FILES["bundle"]),
        # LocalStack serves each request on a thread; glibc's default of one malloc arena
        # per thread (up to 8 per core) leaves hundreds of MB fragmented after a busy run.
        "MALLOC_ARENA_MAX": "2",
    }
    # State survives a restart (engine/localstack_nodocker/persistence.py); PERSISTENCE=0 in
    # the shell runs in memory only. The save interval is LocalStack's own setting.
    env.update({"PERSISTENCE": os.environ.get("PERSISTENCE", "1"), "NODOCKER_SNAPSHOT_DIR": str(SNAPSHOT_DIR)})
    # Let the user tune the engine (DEBUG=1, LAMBDA_KEEPALIVE_MS, ...) from the shell.
    for key in (
        "DEBUG",
        "LS_LOG",
        "LAMBDA_KEEPALIVE_MS",
        "LAMBDA_RETRY_BASE_DELAY_SECONDS",
        "LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT",
        "SERVICES",
        "SNAPSHOT_FLUSH_INTERVAL",
        "SNAPSHOT_SAVE_STRATEGY",
        "SNAPSHOT_LOAD_STRATEGY",
        "NODOCKER_APIGATEWAY_THROTTLING",
        "NODOCKER_EVENT_CONCURRENCY",
        "DISABLE_TRANSPARENT_ENDPOINT_INJECTION",
        "KINESIS_MOCK_PERSIST_INTERVAL",
    ):
        if key in os.environ:
            env[key] = os.environ[key]
    # LocalStack documents LAMBDA_RETRY_BASE_DELAY_SECONDS, but its config (2026.3.0) reads
    # LAMBDA_RETRY_BASE_DELAY: the engine gets both, so the documented name takes effect.
    if "LAMBDA_RETRY_BASE_DELAY_SECONDS" in env:
        env["LAMBDA_RETRY_BASE_DELAY"] = env["LAMBDA_RETRY_BASE_DELAY_SECONDS"]
    return env


def _log_tail(lines: int = 30) -> str:
    if not LOG_FILE.exists():
        return "(no log yet)"
    return "\n".join(LOG_FILE.read_text(errors="replace").splitlines()[-lines:])


def _exit_reason() -> str | None:
    """The reason LocalStack printed when a start hook stopped it (LocalstackExit), if any; it is
    written without a line end, so the next log line's timestamp may follow on the same line."""
    if not LOG_FILE.exists():
        return None
    for line in reversed(LOG_FILE.read_text(errors="replace").splitlines()[-200:]):
        match = re.search(r"Localstack returning with exit code \d+\. Reason: (.*?)(?=\d{4}-\d\d-\d\dT\d\d:|$)", line)
        if match:
            return match.group(1).strip()
    return None


def up() -> None:
    pid = _our_pid()
    if pid and _health():
        document = _state_document()
        if not (document and document["status"] == "stopped"):
            say(f"already running (PID {pid}) at {ENDPOINT}")
            return
        say("the engine took its final snapshot and takes no requests: stopping it to start it again")
        down()
        pid = None
    if not pid and _health():
        say(f"a LocalStack already answers at {ENDPOINT}: using it, starting nothing")
        return
    url = urllib.parse.urlparse(ENDPOINT)
    if url.hostname not in ("localhost", "127.0.0.1"):
        raise EngineError(f"nothing answers at {ENDPOINT}, and an engine can only be started on localhost")
    if not pid and _port_taken("127.0.0.1", url.port or 4566):
        raise EngineError(
            f"port {url.port or 4566} is taken by a program that is not LocalStack; stop it or "
            "set AWS_ENDPOINT_URL to another port"
        )
    install()
    if not pid:
        listen = _gateway_listen(url.port or 4566)
        say(f"starting LocalStack on {ENDPOINT} (log: {LOG_FILE})")
        started = time.monotonic()
        umask = os.umask(0o077)  # for this start and the engine, which inherits it: all private
        try:
            _make_private()
            _copy_server_certificate()
            env = _engine_environment(listen)
            with open(LOG_FILE, "ab") as log:
                process = subprocess.Popen(
                    [str(VENV / "bin" / "python"), "-m", "localstack.runtime.main"],
                    env=env,
                    cwd=str(STATE),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            PID_FILE.write_text(str(process.pid))
        finally:
            os.umask(umask)
        pid = process.pid
    else:
        started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT_S:
        if _process_exited(pid):
            PID_FILE.unlink(missing_ok=True)
            reason = _exit_reason()
            if reason:  # e.g. the engine's plugins do not fit the installed LocalStack (seam.py)
                raise EngineError(f"LocalStack refused to start: {reason}")
            raise EngineError(f"LocalStack exited during start-up. Log tail:\n{_log_tail()}")
        if _answers(timeout=0.5):
            say(f"healthy after {time.monotonic() - started:.1f} s (PID {pid})")
            _wait_for_state(pid, started)
            return
        time.sleep(0.1)
    raise EngineError(f"LocalStack was not healthy after {START_TIMEOUT_S} s. Log tail:\n{_log_tail()}")


def _state_document(timeout: float = 2.0):
    """The engine's persistence status, None if it has no persistence (PERSISTENCE=0)."""
    try:
        with urllib.request.urlopen(f"{ENDPOINT}{STATE_ROUTE}", timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _wait_for_state(pid: int, started: float) -> None:
    """The saved state is loaded after the gateway is up (the engine refuses other requests
    until then): wait for it, and refuse to serve a foreign state or one that could not be
    read (the engine is stopped, the snapshot kept)."""
    while time.monotonic() - started < LOAD_TIMEOUT_S:
        try:
            document = _state_document()
        except OSError:  # slow to answer while services start: ask again
            document = {"status": "loading"}
        if document is None:
            return
        if document["status"] == "ready":
            say(f"state: {document['detail']} ({document['directory']})")
            _say_not_restored(document)
            return
        if document["status"] in ("refused", "failed"):
            down(save_state=False)
            raise EngineError(f"{document['detail']}\nThe engine was stopped; the saved state is untouched.")
        if _process_exited(pid):
            raise EngineError(f"LocalStack exited while loading its saved state. Log tail:\n{_log_tail()}")
        time.sleep(0.1)
    raise EngineError(f"the saved state was not loaded after {LOAD_TIMEOUT_S} s. Log tail:\n{_log_tail()}")


def _say_not_restored(document: dict) -> None:
    problems = document.get("not_restored", [])
    if problems:
        say(f"warning: {len(problems)} resource(s) of the saved state could not be restored (the rest was):")
        for problem in problems:
            say(f"  {problem['resource']}: {problem['reason']}")


def save() -> None:
    """Snapshot the engine's state now (what changes is journaled every second, and at `down`)."""
    request = urllib.request.Request(f"{ENDPOINT}{STATE_ROUTE}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            result = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise EngineError("the engine runs without persistence (PERSISTENCE=0): nothing to save") from None
        raise EngineError(json.loads(exc.read() or b"{}").get("error", f"saving failed (HTTP {exc.code})")) from None
    say(f"state saved: {len(result['services'])} services, {result['bytes'] / 1e6:.1f} MB in {result['seconds']:.2f} s")
    if result.get("failed"):
        failed = "\n  ".join(f"{name}: {reason}" for name, reason in result["failed"].items())
        raise EngineError(f"the state of these services could not be saved (the others were):\n  {failed}")


def _process_exited(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == pid
    except ChildProcessError:  # not our child (started by an earlier `up`)
        return not Path(f"/proc/{pid}").exists()


def final_snapshot() -> tuple[bool, list[str]]:
    """The engine stops taking requests, finishes what it accepted and writes the last of its
    state; (whether that was done, what could not be saved)."""
    request = urllib.request.Request(f"{ENDPOINT}{FINAL_SNAPSHOT_ROUTE}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=FINAL_SNAPSHOT_TIMEOUT_S) as response:
            report = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        error = json.loads(exc.read() or b"{}").get("error", f"HTTP {exc.code}")
        say(f"warning: {error}; the engine tries again as it stops")
        return False, []
    except (OSError, ValueError) as exc:
        say(f"warning: no final state written ({exc}); the engine tries again as it stops")
        return False, []
    left = ", ".join(f"{count} {kind}" for kind, count in report["still_under_way"].items())
    say(
        f"requests refused from now on; what was accepted finished in {report['drain_seconds']:.1f} s"
        + (f", except {left} (saved as they were)" if left else "")
    )
    if "journal" in report:
        written = report["journal"]
        say(f"state saved: the last {written['records']} changes journaled in {written['seconds']:.2f} s")
    if "save" in report:
        saved = report["save"]
        say(
            f"state saved: {len(saved['services'])} services, {saved['bytes'] / 1e6:.1f} MB in {saved['seconds']:.2f} s"
        )
    problems = [f"{name}: {reason}" for name, reason in report.get("failed", {}).items()]
    if "not_saved" in report:
        problems.append(f"nothing saved ({report['not_saved']}); what was saved before is kept")
    return True, problems


def down(save_state: bool = True) -> None:
    pid = _our_pid()
    if not pid:
        say("not running (nothing started by this project)")
        return
    taken, problems = False, []
    if save_state:
        try:
            document = _health() and _state_document()
        except (EngineError, OSError, ValueError) as exc:
            document = None
            say(f"warning: the engine does not answer ({exc}); what it journaled last is kept")
        if document and document["status"] in ("ready", "stopped"):
            taken, problems = final_snapshot()
    say(f"stopping LocalStack (PID {pid})")
    try:
        # SIGTERM makes the engine take its final snapshot; a stop that discards the state
        # (reset, a refused load) must neither wait for one nor write it over the saved one
        os.killpg(pid, signal.SIGTERM if save_state else signal.SIGKILL)
    except ProcessLookupError:
        pass
    # without a final snapshot yet, the engine takes it on SIGTERM before it exits
    wait_s = STOP_TIMEOUT_S if taken or not save_state else FINAL_SNAPSHOT_TIMEOUT_S
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
        say(f"still running after {wait_s} s: killing it")
        os.killpg(pid, signal.SIGKILL)
    PID_FILE.unlink(missing_ok=True)
    say("stopped")
    if problems:
        raise EngineError(
            "the state of these services was not saved and will not be there after `make up`:\n  "
            + "\n  ".join(problems)
        )


def reset() -> None:
    """Stop the engine and delete its saved state and data: the next `up` starts empty."""
    down(save_state=False)
    for folder in (
        SNAPSHOT_DIR,
        SNAPSHOT_DIR.with_name(SNAPSHOT_DIR.name + ".new"),
        SNAPSHOT_DIR.with_name(SNAPSHOT_DIR.name + ".old"),
        JOURNAL_DIR,
        STATE / "data",
    ):
        shutil.rmtree(folder, ignore_errors=True)
    say(f"saved state deleted ({SNAPSHOT_DIR}): the next start is empty")


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, resident kB) for every process we can read."""
    table = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int((proc / "stat").read_text().split(")")[-1].split()[1])
            rss = next(
                (
                    int(line.split()[1])
                    for line in (proc / "status").read_text().splitlines()
                    if line.startswith("VmRSS:")
                ),
                0,
            )
        except (OSError, ValueError, IndexError):
            continue
        table[int(proc.name)] = (parent, rss)
    return table


def _memory(pid: int) -> tuple[float, int, float]:
    """(engine RSS MB, number of Lambda workers, their RSS MB with their own children).
    Workers run in sessions of their own, so they are found by parentage, not by session."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)

    def tree_kb(root: int) -> int:
        return table.get(root, (0, 0))[1] + sum(tree_kb(child) for child in children.get(root, []))

    workers = children.get(pid, [])
    return table.get(pid, (0, 0))[1] / 1024, len(workers), sum(map(tree_kb, workers)) / 1024


def _say_runtimes() -> None:
    ready, installable, unavailable = _runtimes_by_readiness()
    say(f"Lambda runtimes ready: {', '.join(ready) or 'none yet'}")
    if installable:
        say(f"installed when their first function is created (or now: make install-runtimes): {', '.join(installable)}")
    for reason in unavailable:
        say(f"unavailable: {reason}")


def status() -> int:
    pid = _our_pid()
    health = _health()
    if not health:
        say(f"not running: nothing answers at {ENDPOINT}")
        _say_runtimes()
        return 1
    if pid:
        engine_mb, workers, workers_mb = _memory(pid)
        owner = (
            f"started by this project, PID {pid}, RSS {engine_mb + workers_mb:.0f} MB: engine {engine_mb:.0f} MB"
            f" + {workers} Lambda worker{'s' if workers != 1 else ''} {workers_mb:.0f} MB"
        )
        if workers:  # the total grows with the functions used lately, not with the data
            keepalive_s = int(os.environ.get("LAMBDA_KEEPALIVE_MS", "600000")) // 1000
            owner += (
                f"; a worker is one warm function environment, stopped after {keepalive_s} s idle (LAMBDA_KEEPALIVE_MS)"
            )
    else:
        owner = "not started by this project"
    services = health.get("services", {})
    running = sorted(name for name, state in services.items() if state in ("running", "available"))
    version = health.get("version", "?")
    engine = f"localstack-core {version} on Python {_python_version(VENV)}" if pid else f"LocalStack {version}"
    say(f"{engine} at {ENDPOINT} ({owner})")
    say(f"services available: {', '.join(running)}")
    document = _state_document()
    if document:
        say(f"state: {document['status']}: {document['detail']} ({document['directory']})")
        _say_not_restored(document)
        journal = document.get("journal", {})
        if journal.get("enabled"):
            say(f"journal: changes written every {journal['interval_s']:g} s (a crash loses at most that)")
        failed = document.get("failed", {})
        for name, reason in document.get("not_persisted", {}).items():
            if name in failed:  # a save that failed: an error until one succeeds
                say(f"error: the state of {name} is not persisted (it will not survive a restart): {reason}")
            else:
                say(f"the state of {name} is not persisted: {reason}")
    if pid:  # a LocalStack we did not start runs its own runtimes
        _say_runtimes()
    if pid and TLS_FILES["ca_cert"].exists():  # a LocalStack we did not start has its own certificate
        port = urllib.parse.urlparse(ENDPOINT).port or 4566
        say(
            f"https://localhost.localstack.cloud:{port} certificate authority: {TLS_FILES['ca_cert']} "
            '(`eval "$(python3 engine/ctl.py env)"` trusts it and resolves the names in this shell)'
        )
    return 0


def shell_environment() -> str:
    """Exports that let this shell's Python, Node and AWS tools use the engine's host names
    with verification on, as the Lambda workers do (idempotent: eval it again at will)."""
    if not TLS_FILES["ca_cert"].exists():
        raise EngineError("no certificates yet: run `make install` first")
    pythonpath = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    variables = {
        **names.trust_variables(str(TLS_FILES["bundle"]), str(TLS_FILES["ca_cert"])),
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(names.PRELOAD_DIR), *pythonpath])),
        "NODE_OPTIONS": names.node_options(os.environ.get("NODE_OPTIONS", "")),
    }
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in variables.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "command",
        choices=["install", "install-runtimes", "up", "down", "save", "reset", "status", "logs", "env", "lock", "uv"],
    )
    arguments, rest = parser.parse_known_args()
    command = arguments.command
    if rest and command != "uv":
        parser.error(f"unexpected arguments: {' '.join(rest)}")
    try:
        if command == "uv":
            INSTALL_DIR.mkdir(parents=True, exist_ok=True)
            return run_uv(rest)
        if command == "install":
            install()
            say("engine installed")
        elif command == "install-runtimes":
            install_runtimes()
        elif command == "up":
            up()
        elif command == "down":
            down()
        elif command == "save":
            save()
        elif command == "reset":
            reset()
        elif command == "status":
            return status()
        elif command == "logs":
            print(_log_tail(200))
        elif command == "env":
            print(shell_environment())
        elif command == "lock":
            lock()
            say(f"locked {ENGINE_LOCK.relative_to(ROOT)}")
    except EngineError as exc:
        print(f"[engine] error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
