"""engine/ctl.py start/stop behaviour, on a second engine (own port and state folder) so the
session's engine is left alone."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.parse
import uuid

import boto3
import pytest

from tests.support.engine import ENGINE_PYTHON, ROOT, ctl, endpoint, health

# The session engine's port + 33, so parallel checkouts on other ports do not collide.
PORT = int(os.environ.get("ROXS_SECOND_ENGINE_PORT", (urllib.parse.urlparse(endpoint()).port or 4566) + 33))
ENGINE_RUNTIMES = ROOT / "engine" / "localstack_nodocker" / "runtimes.json"


@pytest.fixture
def second_engine(tmp_path, engine):
    """ctl.py bound to PORT and a private state folder; stopped at the end whatever happens."""
    env = {"AWS_ENDPOINT_URL": f"http://localhost:{PORT}", "LOCALSTACK_STATE_DIR": str(tmp_path / "state")}
    yield lambda *args: ctl(*args, env=env, check=False)
    ctl("down", env=env, check=False)


def test_up_twice_then_down_twice(second_engine):
    first = second_engine("up")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "healthy after" in first.stdout
    assert health(f"http://localhost:{PORT}")["services"]["s3"] in ("available", "running")
    second = second_engine("up")
    assert second.returncode == 0 and "already running" in second.stdout
    status = second_engine("status")
    assert status.returncode == 0 and "started by this project" in status.stdout
    assert re.search(r"localstack-core 2026\.3\.0 on Python 3\.1[23] ", status.stdout), status.stdout
    stopped = second_engine("down")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert health(f"http://localhost:{PORT}") is None
    again = second_engine("down")
    assert again.returncode == 0 and "not running" in again.stdout
    assert second_engine("status").returncode == 1


def test_a_stale_pid_file_is_cleared(second_engine, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    pid_file = tmp_path / "state" / "localstack.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(str(dead.pid))
    result = second_engine("down")
    assert result.returncode == 0 and "stale PID file" in result.stdout
    assert not pid_file.exists()


def test_a_port_taken_by_something_else_is_a_clear_error(second_engine):
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", PORT))
        listener.listen()

        # answer every connection with something that is not HTTP
        def serve():
            try:
                while True:
                    connection, _ = listener.accept()
                    connection.sendall(b"SSH-2.0-not-localstack\r\n")
                    connection.close()
            except OSError:
                pass

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        result = second_engine("up")
        # close() alone leaves the thread blocked in accept(), holding the port for the rest
        # of the session (the next test's engine on PORT then meets this fake); shutdown wakes it
        listener.shutdown(socket.SHUT_RDWR)
        server.join(timeout=5)
    assert result.returncode == 1
    assert "not as LocalStack" in result.stderr
    assert "Traceback" not in result.stderr


def test_two_engines_on_one_host_keep_their_own_s3_objects(second_engine):
    """A bucket of the same name in both: the other engine deleting its own takes nothing of
    this one's (LocalStack keeps every engine's object bytes in one fixed folder per bucket)."""
    started = second_engine("up")
    assert started.returncode == 0, started.stdout + started.stderr
    here, there = boto3.client("s3"), boto3.client("s3", endpoint_url=f"http://localhost:{PORT}")
    bucket = f"both-engines-{uuid.uuid4().hex[:8]}"
    here.create_bucket(Bucket=bucket)
    try:
        there.create_bucket(Bucket=bucket)
        there.put_object(Bucket=bucket, Key="theirs", Body=b"there")
        there.delete_object(Bucket=bucket, Key="theirs")
        there.delete_bucket(Bucket=bucket)
        body = b"x" * (1024 * 1024)  # over 512 KiB: LocalStack keeps it in a file of the bucket's folder
        here.put_object(Bucket=bucket, Key="ours", Body=body)
        assert here.get_object(Bucket=bucket, Key="ours")["Body"].read() == body
    finally:
        for entry in here.list_objects_v2(Bucket=bucket).get("Contents", []):
            here.delete_object(Bucket=bucket, Key=entry["Key"])
        here.delete_bucket(Bucket=bucket)


def test_installs_started_together_make_one_engine(tmp_path):
    """make test's workers start their engines together on an empty install folder: one
    installs, the others wait for it and find it installed (a second `uv venv` found the
    first's half-made virtualenv and failed every worker's engine)."""
    env = {**os.environ, "LOCALSTACK_INSTALL_DIR": str(tmp_path / "install")}
    starts = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "engine" / "ctl.py"), "install"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [start.communicate(timeout=600)[0] for start in starts]
    assert [start.returncode for start in starts] == [0, 0, 0], outputs
    assert sum(output.count("creating the engine virtualenv") for output in outputs) == 1, outputs
    installed = subprocess.run(
        [str(tmp_path / "install" / "venv" / "bin" / "python"), "-c", "import localstack_nodocker, localstack"],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr


def test_a_missing_interpreter_or_installer_is_named(engine):
    script = (
        "from localstack_nodocker.runtimes import ensure_installed\n"
        "for runtime in ('python3.12', 'nodejs18.x'):\n"
        "    try:\n        ensure_installed(runtime, 'f')\n    except Exception as exc:\n        print(exc)\n"
    )
    env = {"PATH": "/nonexistent", "PYENV_ROOT": "/nonexistent", "LAMBDA_RUNTIME_LIBRARY": "/nonexistent"}
    out = subprocess.run([str(ENGINE_PYTHON), "-c", script], capture_output=True, text=True, env=env).stdout
    assert "No interpreter for runtime python3.12" in out and "pyenv install 3.12" in out
    assert "Runtime nodejs18.x needs the AWS SDK for JavaScript v3" in out and "install npm" in out


def test_the_first_function_of_a_runtime_installs_it_with_the_users_settings(second_engine, tmp_path, monkeypatch):
    """An engine with an empty runtime library: a python3.12 function waits (Pending) while
    its boto3 is installed, with progress in the engine's log; a Node.js function fails with
    npm's reason, since the user's npm settings (offline, an empty cache) reach the install."""
    import boto3

    from tests.engine.test_lambda_paths import wait_active, zipped

    library = tmp_path / "runtimes"
    monkeypatch.setenv("LAMBDA_RUNTIME_LIBRARY", str(library))
    monkeypatch.setenv("npm_config_offline", "true")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "empty-npm-cache"))
    started = second_engine("up")
    assert started.returncode == 0, started.stdout + started.stderr
    lam = boto3.client("lambda", endpoint_url=f"http://localhost:{PORT}")
    sources = {
        "python3.12": ("index.py", "import boto3\ndef handler(event, context):\n    return boto3.__version__\n"),
        "nodejs22.x": ("index.mjs", "export const handler = async () => process.version;"),
    }
    for runtime, (file, source) in sources.items():
        lam.create_function(
            FunctionName=f"first-{runtime.replace('.', '')}",
            Runtime=runtime,
            Handler="index.handler",
            Role="arn:aws:iam::000000000000:role/first",
            Code={"ZipFile": zipped(source, file)},
        )
    python = wait_active(lam, "first-python312")
    assert python["State"] == "Active", python.get("StateReason")
    answer = lam.invoke(FunctionName="first-python312")["Payload"].read().decode()
    assert f"boto3=={json.loads(answer)}" == json.loads((ENGINE_RUNTIMES).read_text())["python"]["3.12"]
    node = wait_active(lam, "first-nodejs22x")
    assert node["State"] == "Failed" and "make install-runtimes" in node["StateReason"]
    # npm's own reason, as the engine's log has it with the function's name; a host without
    # npm says that instead
    reason = "ENOTCACHED" if shutil.which("npm") else "install npm"
    assert reason in node["StateReason"]
    log = (tmp_path / "state" / "logs" / "localstack.log").read_text()
    assert "function first-nodejs22x: Runtime nodejs22.x" in log and reason in log
    assert "runtime python3.12 is not installed yet; installing it for function first-python312" in log
    assert re.search(r"installed boto3==[\d.]+ for python3\.12 handlers in [\d.]+ s", log)
    status = second_engine("status").stdout
    assert re.search(r"Lambda runtimes ready: .*python3\.12", status), status
    assert "nodejs22.x" not in status.split("Lambda runtimes ready:")[1].splitlines()[0], status
