"""engine/ctl.py start/stop behaviour, on a second engine (own port and state folder) so the
session's engine is left alone."""

import os
import socket
import subprocess
import threading
import urllib.parse
from pathlib import Path

import pytest

from tests.support.engine import ROOT, ctl, endpoint, health

# The session engine's port + 33, so parallel checkouts on other ports do not collide.
PORT = int(os.environ.get("ROXS_SECOND_ENGINE_PORT", (urllib.parse.urlparse(endpoint()).port or 4566) + 33))
ENGINE_PYTHON = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack")) / "venv" / "bin" / "python"


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


def test_a_missing_interpreter_is_named(engine):
    script = (
        "from localstack_nodocker.runtimes import resolve\n"
        "for runtime in ('python3.12', 'nodejs18.x'):\n"
        "    try:\n        resolve(runtime)\n    except Exception as exc:\n        print(exc)\n"
    )
    env = {"PATH": "/nonexistent", "PYENV_ROOT": "/nonexistent", "LAMBDA_RUNTIME_LIBRARY": "/nonexistent"}
    out = subprocess.run([str(ENGINE_PYTHON), "-c", script], capture_output=True, text=True, env=env).stdout
    assert "No interpreter for runtime python3.12" in out and "pyenv install 3.12" in out
    assert "No Node.js 18 for runtime nodejs18.x" in out and "make install" in out
