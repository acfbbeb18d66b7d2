"""Lambda runtime executor that runs Python functions in local worker processes.

LocalStack's execution-environment lifecycle stays in charge: ``start`` spawns one worker
for the environment, invokes reuse it while the environment is warm, ``stop`` kills it.
A worker that overruns the function's timeout is killed and the timeout reported in the
AWS shape; the next invoke on the same environment starts a fresh worker.
"""

import json
import logging
import os
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from localstack_nodocker.names import worker_environment
from localstack_nodocker.runtimes import find_interpreter, runtime_library_dir

LOG = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Keeps an environment's own log (worker stderr) bounded.
MAX_ENVIRONMENT_LOG_CHARS = 64 * 1024


class WorkerDied(Exception):
    pass


class WorkerTimedOut(Exception):
    pass


class _Worker:
    """One worker process and the reading side of its protocol."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str, on_stderr):
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.process.stdout, selectors.EVENT_READ)
        threading.Thread(target=self._drain_stderr, args=(on_stderr,), daemon=True).start()

    def _drain_stderr(self, on_stderr):
        for line in iter(self.process.stderr.readline, b""):
            on_stderr(line.decode("utf-8", "replace"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict) -> None:
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def read_message(self, deadline: float) -> dict:
        """Next protocol message; WorkerTimedOut past ``deadline`` (monotonic seconds)."""
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimedOut()
            if not self._selector.select(timeout=remaining):
                continue
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise WorkerDied(f"worker exited with status {self.process.wait()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def kill(self) -> None:
        if self.alive():
            try:
                os.killpg(self.process.pid, 9)
            except ProcessLookupError:
                pass
        self.process.wait()
        self._selector.close()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self.worker: _Worker | None = None
        self.env: dict[str, str] = {}
        self.tmp_dir: str | None = None
        self.environment_log: list[str] = []
        self.init_duration_ms: float | None = None
        self._pending_init_logs = ""

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        config_ = self.function_version.config
        self.tmp_dir = tempfile.mkdtemp(prefix=f"lambda-{config_.runtime}-")
        code_dir = str(config_.code.get_unzipped_code_location())
        self.env = {key: str(value) for key, value in env_vars.items()}
        self.env.update(
            {
                "LAMBDA_TASK_ROOT": code_dir,
                "LAMBDA_RUNTIME_DIR": str(runtime_library_dir()),
                "HOME": self.tmp_dir,
                "TMPDIR": self.tmp_dir,
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "LANG": "en_US.UTF-8",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env.update(worker_environment(self.env))
        self._spawn()

    def _spawn(self) -> None:
        config_ = self.function_version.config
        interpreter = find_interpreter(config_.runtime)
        code_dir = self.env["LAMBDA_TASK_ROOT"]
        argv = [interpreter, "-I", "-S", str(WORKER_SCRIPT), code_dir, self.env["LAMBDA_RUNTIME_DIR"]]
        self.worker = _Worker(argv, self.env, code_dir, self._record_environment_log)
        deadline = time.monotonic() + config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT
        init_logs = []
        try:
            while "ready" not in (message := self.worker.read_message(deadline)):
                init_logs.append(message.get("log", ""))
        except (WorkerDied, WorkerTimedOut) as exc:
            self.worker.kill()
            raise LambdaRuntimeException(
                f"Worker for {config_.runtime} did not start: {exc}. {self.get_logs()[-2000:]}"
            ) from exc
        self.init_duration_ms = (time.perf_counter() - self.worker.started_at) * 1000
        self._pending_init_logs = "".join(init_logs)

    def stop(self) -> None:
        if self.worker:
            self.worker.kill()
            self.worker = None
        if self.tmp_dir:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self.tmp_dir = None

    def _record_environment_log(self, line: str) -> None:
        self.environment_log.append(line)
        while sum(map(len, self.environment_log)) > MAX_ENVIRONMENT_LOG_CHARS:
            self.environment_log.pop(0)

    # --- addresses ---------------------------------------------------------------------------

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        return f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"

    def get_logs(self) -> str:
        return "".join(self.environment_log)

    # --- invocation ---------------------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        timeout_s = int(self.function_version.config.timeout)
        init_report = ""
        if self.worker is None or not self.worker.alive():
            self._spawn()  # restart after a timeout or a crash: a cold start inside this environment
        if self.init_duration_ms is not None:
            init_report = f"\tInit Duration: {self.init_duration_ms:.2f} ms"
            self.init_duration_ms = None
        logs = [self._pending_init_logs, f"START RequestId: {request_id} Version: {self.function_version.id.qualifier}\n"]
        self._pending_init_logs = ""

        started = time.perf_counter()
        deadline_wall_ms = time.time() * 1000 + timeout_s * 1000
        deadline = time.monotonic() + timeout_s
        status = ""
        max_rss_mb = 0
        try:
            self.worker.send(
                {
                    "request_id": request_id,
                    "payload": payload["payload"],
                    "invoked_function_arn": payload["invoked-function-arn"],
                    "deadline_ms": deadline_wall_ms,
                }
            )
            while "result" not in (message := self.worker.read_message(deadline)):
                logs.append(message.get("log", ""))
            is_error, result = message["error"], message["result"]
            max_rss_mb = message.get("max_rss_kb", 0) // 1024
        except WorkerTimedOut:
            self.worker.kill()
            message = f"Task timed out after {timeout_s:.2f} seconds"
            logs.append(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {request_id} {message}\n")
            is_error, status = True, "\tStatus: timeout"
            result = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {message}"})
        except (WorkerDied, BrokenPipeError) as exc:
            self.worker.kill()
            is_error, status = True, "\tStatus: error"
            result = json.dumps(
                {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: Runtime exited: {exc}"}
            )
            logs.append(self.get_logs()[-2000:])

        duration_ms = (time.perf_counter() - started) * 1000
        memory_mb = self.function_version.config.memory_size
        logs.append(f"END RequestId: {request_id}\n")
        logs.append(
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\tMemory Size: {memory_mb} MB\t"
            f"Max Memory Used: {max_rss_mb} MB{init_report}{status}\n"
        )
        return InvocationResult(request_id=request_id, payload=result.encode(), is_error=is_error, logs="".join(logs))

    # --- versions ----------------------------------------------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        runtime = function_version.config.runtime
        if function_version.config.package_type != "Zip" or not function_version.config.code:
            raise LambdaRuntimeException(
                "The local-process executor runs only Zip-packaged Python functions; "
                "use a LocalStack container with Docker for image functions."
            )
        find_interpreter(runtime)  # fail now, with the reason, rather than at the first invoke
        function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing to undo: LocalStack itself deletes the unzipped code."""
