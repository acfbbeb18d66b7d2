#!/usr/bin/env python3
"""Install, start, stop and inspect the embedded LocalStack engine (standard library only).

    python3 engine/ctl.py install | up | down | status | logs | env

State lives in .localstack/ (ignored by git): the engine's virtualenv, its data, logs,
PID file and the boto3 that Lambda handlers import. If a LocalStack already answers at
AWS_ENDPOINT_URL (default http://localhost:4566), for example a Docker container, `up`
uses it and starts nothing.
"""

import argparse
import hashlib
import http.client
import importlib.util
import json
import os
import shutil
import shlex
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
# What is installed (the engine's virtualenv, handlers' boto3) and what one engine writes
# (data, logs, PID) are separate, so tests can run a second engine on the same install.
INSTALL_DIR = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack"))
STATE = Path(os.environ.get("LOCALSTACK_STATE_DIR", ROOT / ".localstack"))
VENV = INSTALL_DIR / "venv"
RUNTIME_LIBRARY = INSTALL_DIR / "lambda-runtime"
INSTALL_STAMP = INSTALL_DIR / "install.sha256"
# The checkout's CA and the engine's certificate for localhost.localstack.cloud (see
# engine/localstack_nodocker/tls.py). The private keys stay in here.
TLS_DIR = INSTALL_DIR / "tls"
TLS_FILES = {"ca_key": TLS_DIR / "ca.key", "ca_cert": TLS_DIR / "ca.pem", "server": TLS_DIR / "server.pem",
             "bundle": TLS_DIR / "ca-bundle.pem"}
PID_FILE = STATE / "localstack.pid"
LOG_FILE = STATE / "logs" / "localstack.log"
ENGINE_PYTHON_VERSION = "3.11"
# The boto3 that handlers see, like the one bundled in AWS's Python runtimes.
HANDLER_BOTO3 = "boto3==1.44.8"
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566")
START_TIMEOUT_S = 60


class EngineError(Exception):
    """A failure the user can act on; printed without a traceback."""


def say(message: str) -> None:
    print(f"[engine] {message}", flush=True)


# --- install --------------------------------------------------------------------------------


def _install_inputs_hash() -> str:
    digest = hashlib.sha256(HANDLER_BOTO3.encode())
    for path in sorted(
        [ENGINE_DIR / "requirements.txt", ENGINE_DIR / "constraints.txt", ENGINE_DIR / "pyproject.toml"]
        + [file for file in (ENGINE_DIR / "localstack_nodocker").rglob("*") if file.suffix in (".py", ".js")]
    ):
        digest.update(str(path.relative_to(ENGINE_DIR)).encode() + path.read_bytes())
    return digest.hexdigest()


def _engine_python() -> str:
    if sys.version_info[:2] == tuple(map(int, ENGINE_PYTHON_VERSION.split("."))):
        return sys.executable
    found = shutil.which(f"python{ENGINE_PYTHON_VERSION}")
    if found:
        return found
    raise EngineError(f"LocalStack 4.8 needs Python {ENGINE_PYTHON_VERSION}; python{ENGINE_PYTHON_VERSION} was not found")


def _pip(*args: str, what: str) -> None:
    say(f"installing {what} ...")
    started = time.monotonic()
    result = subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if "is ignored: it is neither" not in line]
        raise EngineError(f"installing {what} failed:\n" + "\n".join(errors[-25:]))
    say(f"installed {what} in {time.monotonic() - started:.0f} s")


def install() -> None:
    wanted = _install_inputs_hash()
    if not (INSTALL_STAMP.exists() and INSTALL_STAMP.read_text() == wanted and (VENV / "bin" / "python").exists()):
        _install_engine(wanted)
    _ensure_certificates()


def _ensure_certificates() -> None:
    """The CA once per checkout; the server certificate re-issued before it expires."""
    arguments = [f"--{name.replace('_', '-')}={path}" for name, path in TLS_FILES.items()]
    result = subprocess.run([str(VENV / "bin" / "python"), "-m", "localstack_nodocker.tls", *arguments],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise EngineError(f"creating the TLS certificates failed:\n{result.stderr[-2000:]}")
    for line in result.stdout.splitlines():
        say(line)


def _install_engine(wanted: str) -> None:
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    if not (VENV / "bin" / "python").exists():
        say(f"creating the engine virtualenv in {VENV}")
        subprocess.run([_engine_python(), "-m", "venv", str(VENV)], check=True)
    _pip("-r", str(ENGINE_DIR / "requirements.txt"), "-c", str(ENGINE_DIR / "constraints.txt"),
         what="localstack-core 4.8.0 (pinned)")
    _pip(str(ENGINE_DIR), what="the no-Docker plugins (Lambda executor, DynamoDB provider)")
    _pip("--target", str(RUNTIME_LIBRARY), "--upgrade", HANDLER_BOTO3, what=f"{HANDLER_BOTO3} for Lambda handlers")
    INSTALL_STAMP.write_text(wanted)


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


def _engine_environment() -> dict:
    url = urllib.parse.urlparse(ENDPOINT)
    home, tmp = STATE / "home", STATE / "tmp"
    for folder in (home, tmp, STATE / "data", LOG_FILE.parent):
        folder.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYENV_ROOT": os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(STATE / "data"),
        "GATEWAY_LISTEN": f"127.0.0.1:{url.port or 4566}",
        "LOCALSTACK_HOST": f"localhost:{url.port or 4566}",
        "SQS_ENDPOINT_STRATEGY": "off",
        "DNS_ADDRESS": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "LAMBDA_RUNTIME_EXECUTOR": "local-process",
        "LAMBDA_RUNTIME_LIBRARY": str(RUNTIME_LIBRARY),
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
        # https on the same port (LocalStack tells TLS from plain HTTP per connection)
        "CUSTOM_SSL_CERT_PATH": str(TLS_FILES["server"]),
        "LOCALSTACK_NODOCKER_CA_CERT": str(TLS_FILES["ca_cert"]),
        "LOCALSTACK_NODOCKER_CA_BUNDLE": str(TLS_FILES["bundle"]),
        # LocalStack serves each request on a thread; glibc's default of one malloc arena
        # per thread (up to 8 per core) leaves hundreds of MB fragmented after a busy run.
        "MALLOC_ARENA_MAX": "2",
    }
    # Let the user tune the engine (DEBUG=1, LAMBDA_KEEPALIVE_MS, ...) from the shell.
    for key in ("DEBUG", "LS_LOG", "LAMBDA_KEEPALIVE_MS", "LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT", "SERVICES"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _log_tail(lines: int = 30) -> str:
    if not LOG_FILE.exists():
        return "(no log yet)"
    return "\n".join(LOG_FILE.read_text(errors="replace").splitlines()[-lines:])


def up() -> None:
    pid = _our_pid()
    if pid and _health():
        say(f"already running (PID {pid}) at {ENDPOINT}")
        return
    if not pid and _health():
        say(f"a LocalStack already answers at {ENDPOINT}: using it, starting nothing")
        return
    url = urllib.parse.urlparse(ENDPOINT)
    if url.hostname not in ("localhost", "127.0.0.1"):
        raise EngineError(f"nothing answers at {ENDPOINT}, and an engine can only be started on localhost")
    if not pid and _port_taken("127.0.0.1", url.port or 4566):
        raise EngineError(f"port {url.port or 4566} is taken by a program that is not LocalStack; stop it or "
                          "set AWS_ENDPOINT_URL to another port")
    install()
    if not pid:
        say(f"starting LocalStack on {ENDPOINT} (log: {LOG_FILE})")
        started = time.monotonic()
        env = _engine_environment()
        with open(LOG_FILE, "ab") as log:
            process = subprocess.Popen(
                [str(VENV / "bin" / "python"), "-m", "localstack.runtime.main"],
                env=env, cwd=str(STATE), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        PID_FILE.write_text(str(process.pid))
        pid = process.pid
    else:
        started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT_S:
        if _process_exited(pid):
            PID_FILE.unlink(missing_ok=True)
            raise EngineError(f"LocalStack exited during start-up. Log tail:\n{_log_tail()}")
        if _answers(timeout=0.5):
            say(f"healthy after {time.monotonic() - started:.1f} s (PID {pid})")
            return
        time.sleep(0.1)
    raise EngineError(f"LocalStack was not healthy after {START_TIMEOUT_S} s. Log tail:\n{_log_tail()}")


def _process_exited(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == pid
    except ChildProcessError:  # not our child (started by an earlier `up`)
        return not Path(f"/proc/{pid}").exists()


def down() -> None:
    pid = _our_pid()
    if not pid:
        say("not running (nothing started by this project)")
        return
    say(f"stopping LocalStack (PID {pid})")
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
        say("still running after 15 s: killing it")
        os.killpg(pid, signal.SIGKILL)
    PID_FILE.unlink(missing_ok=True)
    say("stopped")


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def _rss_mb(pid: int) -> float:
    """Resident memory of the engine and its Lambda workers, in MB."""
    total_kb = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            if int(stat.split(")")[-1].split()[3]) != pid and int(proc.name) != pid:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total_kb / 1024


def status() -> int:
    pid = _our_pid()
    health = _health()
    if not health:
        say(f"not running: nothing answers at {ENDPOINT}")
        return 1
    owner = f"started by this project, PID {pid}, RSS {_rss_mb(pid):.0f} MB" if pid else "not started by this project"
    services = health.get("services", {})
    running = sorted(name for name, state in services.items() if state in ("running", "available"))
    say(f"LocalStack {health.get('version', '?')} at {ENDPOINT} ({owner})")
    say(f"services available: {', '.join(running)}")
    if pid and TLS_FILES["ca_cert"].exists():  # a LocalStack we did not start has its own certificate
        port = urllib.parse.urlparse(ENDPOINT).port or 4566
        say(f"https://localhost.localstack.cloud:{port} certificate authority: {TLS_FILES['ca_cert']} "
            "(`eval \"$(python3 engine/ctl.py env)\"` trusts it and resolves the names in this shell)")
    return 0


def shell_environment() -> str:
    """Exports that let this shell's Python, Node and AWS tools use the engine's host names
    with verification on, as the Lambda workers do (idempotent: eval it again at will)."""
    if not TLS_FILES["ca_cert"].exists():
        raise EngineError("no certificates yet: run `make install` first")
    spec = importlib.util.spec_from_file_location("names", ENGINE_DIR / "localstack_nodocker" / "names.py")
    names = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(names)
    pythonpath = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    variables = {
        **names.trust_variables(str(TLS_FILES["bundle"]), str(TLS_FILES["ca_cert"])),
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(names.PRELOAD_DIR), *pythonpath])),
        "NODE_OPTIONS": names.node_options(os.environ.get("NODE_OPTIONS", "")),
    }
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in variables.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["install", "up", "down", "status", "logs", "env"])
    command = parser.parse_args().command
    try:
        if command == "install":
            install()
            say("engine installed")
        elif command == "up":
            up()
        elif command == "down":
            down()
        elif command == "status":
            return status()
        elif command == "logs":
            print(_log_tail(200))
        elif command == "env":
            print(shell_environment())
    except EngineError as exc:
        print(f"[engine] error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
