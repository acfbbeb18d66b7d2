"""Lambda runtime executor that runs functions in local worker processes.

LocalStack's execution-environment lifecycle stays in charge: ``start`` spawns one worker
for the environment (Python: worker.py in the runtime's interpreter; Node.js: worker.js in
the matching Node), invokes reuse it while the environment is warm, ``stop`` kills it.
A worker that overruns the function's timeout or its memory size, exits, or writes a
garbled frame is killed and the invocation fails in the AWS shape; the next invoke on the
same environment starts a fresh worker. So does a function whose init failed (its module
does not import, its handler is missing): as on AWS, each invoke tries the init again; a
provisioned-concurrency environment whose init fails fails its start.

A runtime wrapper (AWS_LAMBDA_EXEC_WRAPPER) is run as AWS's runtime bootstrap runs it: exec'd
with the runtime's command line (the interpreter, its options, the worker script last), which
it execs in turn. Its path may name the function's code (/var/task) or its layers (/opt).
"""

import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from localstack_nodocker import hostruntimes, layers
from localstack_nodocker.hot_reload import CodeWatch
from localstack_nodocker.intake import INTAKE
from localstack_nodocker.names import worker_environment
from localstack_nodocker.protocol import GarbledFrame, Worker, WorkerDied, WorkerOutOfMemory, WorkerTimedOut
from localstack_nodocker.runtimes import ensure_installed, resolve, runtime_library_dir
from localstack_nodocker.worker import EXIT_OUT_OF_MEMORY, OPTIONS_VARIABLE

LOG = logging.getLogger(__name__)

PYTHON_WORKER = Path(__file__).with_name("worker.py")
NODE_WORKER = Path(__file__).with_name("worker.js")
# Keeps an environment's own log (worker stderr) bounded.
MAX_ENVIRONMENT_LOG_CHARS = 64 * 1024
# Address space a Python worker may reserve beyond its MemorySize: resident memory is what
# AWS limits (the executor samples it); this only stops one huge allocation from taking the
# host's memory before a sample sees it.
ADDRESS_SPACE_HEADROOM_MB = 1024
# The wrapper branch of AWS's runtime bootstrap (/var/runtime/bootstrap of its Python and
# Node.js images): its checks, words and exit statuses. $1: where the wrapper is on this host.
EXEC_WRAPPER_BOOTSTRAP = """wrapper="$1"; shift
if [ ! -f "$wrapper" ]; then echo "$AWS_LAMBDA_EXEC_WRAPPER: does not exist"; exit 127; fi
if [ ! -x "$wrapper" ]; then echo "$AWS_LAMBDA_EXEC_WRAPPER: is not an executable"; exit 126; fi
exec "$wrapper" "$@"
"""


class InitFailed(Exception):
    """The runtime could not load the function (its init error, the payload AWS answers with)."""

    def __init__(self, payload: str) -> None:
        super().__init__(payload)
        self.payload = payload
        try:
            self.error_type = str(json.loads(payload).get("errorType", ""))
        except (ValueError, AttributeError):
            self.error_type = ""


def _node_memory_flags(memory_mb: int) -> list[str]:
    """V8 heap sizes as AWS's Node.js bootstrap derives them from the function's memory."""
    new_space = memory_mb // 10
    return [f"--max-semi-space-size={new_space // 2}", f"--max-old-space-size={memory_mb - new_space}"]


def _error(error_type: str, request_id: str, message: str) -> str:
    """An invocation error as the runtime reports it (errorType, errorMessage)."""
    return json.dumps({"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"})


def _host_path(path: str, opt_dir: Path, code_dir: str) -> str:
    """Where a path of the Lambda sandbox is here: /opt is the environment's layer folder,
    /var/task the function's code; any other path is the host's own (a relative one, like
    the runtime's, from the code folder)."""
    for sandbox, here in (("/opt", str(opt_dir)), ("/var/task", code_dir)):
        if path == sandbox or path.startswith(sandbox + "/"):
            return here + path[len(sandbox) :]
    return path


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self.worker: Worker | None = None
        self.env: dict[str, str] = {}
        self.tmp_dir: str | None = None
        self.opt_dir: Path | None = None
        self.environment_log: list[str] = []
        self.init_duration_ms: float | None = None
        self._pending_init_logs = ""
        self._init_failure: Exception | None = None
        self._access_key_id: str | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        config_ = self.function_version.config
        self.tmp_dir = tempfile.mkdtemp(prefix=f"lambda-{config_.runtime}-")
        code_dir = str(config_.code.get_unzipped_code_location())
        self.opt_dir = Path(self.tmp_dir) / "opt"
        layers.assemble([layer.code.get_unzipped_code_location() for layer in config_.layers], self.opt_dir)
        # PATH and LD_LIBRARY_PATH are the function's to set, as on AWS; the rest is the runtime's
        self.env = layers.environment(self.opt_dir, "/usr/local/bin:/usr/bin:/bin")
        self.env.update({key: str(value) for key, value in env_vars.items()})
        self.env.update(
            {
                "LAMBDA_TASK_ROOT": code_dir,
                "LAMBDA_RUNTIME_DIR": str(runtime_library_dir()),
                "LAMBDA_OPT_DIR": str(self.opt_dir),
                "HOME": self.tmp_dir,
                "TMPDIR": self.tmp_dir,
                "LANG": "en_US.UTF-8",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.code_watch = CodeWatch(config_.code, code_dir)
        self.env.update(worker_environment(self.env, config.GATEWAY_LISTEN[0].port))
        # the function's own calls are let in while the engine stops, so its invocation finishes
        self._access_key_id = self.env.get("AWS_ACCESS_KEY_ID")
        if self._access_key_id:
            INTAKE.function_started(self._access_key_id)
        self._spawn()
        if self._init_failure and self.env.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency":
            # No invoke waits for a provisioned environment: its start fails, so LocalStack
            # marks the provisioned concurrency FAILED (FUNCTION_ERROR_INIT_FAILURE), as AWS
            # does, and invokes run on demand.
            failure = self._init_failure
            self.stop()
            raise failure

    def _launch(self) -> Worker:
        """A new worker for this environment's runtime, memory-limited like the function."""
        config_ = self.function_version.config
        interpreter, sdk = resolve(config_.runtime)
        code_dir = self.env["LAMBDA_TASK_ROOT"]
        memory_mb = int(config_.memory_size)
        # the command line ends with the worker script, as AWS's ends with its runtime's: a
        # wrapper may insert interpreter options before the last argument (AWS's own example)
        if hostruntimes.language(config_.runtime) == "python":
            version = config_.runtime.removeprefix("python")
            options = {
                "address_space": (memory_mb + ADDRESS_SPACE_HEADROOM_MB) * 1024 * 1024,
                "layer_paths": layers.python_paths(self.opt_dir, version),
                "sdk_path": str(sdk),
            }
            env = {**self.env, OPTIONS_VARIABLE: json.dumps(options)}
            argv = [interpreter, "-I", "-S", str(PYTHON_WORKER)]
        else:
            major = config_.runtime.removeprefix("nodejs").removesuffix(".x")
            # AWS's order: layers, then the runtime's SDK, then the function's own folder.
            env = {**self.env, "NODE_PATH": ":".join([*layers.node_paths(self.opt_dir, major), str(sdk), code_dir])}
            argv = [interpreter, *_node_memory_flags(memory_mb), str(NODE_WORKER)]
        wrapper = self.env.get("AWS_LAMBDA_EXEC_WRAPPER")
        if wrapper:
            argv = [
                "/bin/sh",
                "-c",
                EXEC_WRAPPER_BOOTSTRAP,
                "bootstrap",
                _host_path(wrapper, self.opt_dir, code_dir),
                *argv,
            ]
        return Worker(argv, env, code_dir, self._record_environment_log, memory_limit_kb=memory_mb * 1024)

    def _spawn(self) -> None:
        config_ = self.function_version.config
        self.worker = self._launch()
        deadline = time.monotonic() + config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT
        init_logs = []
        try:
            while "ready" not in (message := self.worker.read_message(deadline)):
                if "init_error" in message:
                    raise InitFailed(message["init_error"])
                init_logs.append(message.get("log", ""))
        except WorkerTimedOut as exc:
            self.worker.kill()
            raise LambdaRuntimeException(
                f"Worker for {config_.runtime} did not start within {config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT} s. "
                f"{self.get_logs()[-2000:]}"
            ) from exc
        except (InitFailed, WorkerDied, WorkerOutOfMemory, GarbledFrame) as exc:
            # the function's init failed, exited or ran out of memory: as on AWS, the invoke
            # that needed this environment fails with the reason (and the next one retries)
            self.worker.kill()
            self._init_failure = exc
        self.init_duration_ms = (time.perf_counter() - self.worker.started_at) * 1000
        self._pending_init_logs = "".join(init_logs)

    def stop(self) -> None:
        if self.worker:
            self.worker.kill()
            self.worker = None
        if self._access_key_id:
            INTAKE.function_stopped(self._access_key_id)
            self._access_key_id = None
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
        init_report = self._ready_worker()
        logs = [
            self._pending_init_logs,
            f"START RequestId: {request_id} Version: {self.function_version.id.qualifier}\n",
        ]
        self._pending_init_logs = ""
        started = time.perf_counter()
        is_error, result, status, max_rss_mb = self._run(request_id, payload, timeout_s, logs)
        duration_ms = (time.perf_counter() - started) * 1000
        if is_error:
            self._report_runtime_error(result, status)
        logs.append(f"END RequestId: {request_id}\n")
        logs.append(
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\t"
            f"Memory Size: {self.function_version.config.memory_size} MB\t"
            f"Max Memory Used: {max_rss_mb} MB{init_report}{status}\n"
        )
        return InvocationResult(request_id=request_id, payload=result.encode(), is_error=is_error, logs="".join(logs))

    def _report_runtime_error(self, result: str, status: str) -> None:
        """A function that cannot run at all (its init failed, it timed out, ran out of memory
        or exited: a REPORT status) says so in the engine's log, with where its traceback is:
        through API Gateway the caller sees only a 502. Errors the handler raised are its own
        business."""
        try:
            error = json.loads(result)
            error_type = str(error.get("errorType", ""))
        except (ValueError, AttributeError):
            return
        if status or error_type.startswith(("Runtime.", "Sandbox.")):
            name = self.function_version.id.function_name
            LOG.warning(
                "function %s failed: %s: %s (its log group: /aws/lambda/%s)",
                name,
                error_type,
                str(error.get("errorMessage", ""))[:500],
                name,
            )

    def _ready_worker(self) -> str:
        """A live worker for the next invoke (a cold start inside this environment after a
        timeout, a crash or a hot-reloaded change); the REPORT's Init Duration, once."""
        if self.code_watch.changed() and self.worker is not None:
            self.worker.kill()  # hot reload: the code folder changed, load it afresh
        if not self._init_failure and (self.worker is None or not self.worker.alive()):
            self._spawn()
        if self.init_duration_ms is None:
            return ""
        init_report, self.init_duration_ms = f"\tInit Duration: {self.init_duration_ms:.2f} ms", None
        return init_report

    def _run(self, request_id: str, payload: dict[str, str], timeout_s: int, logs: list) -> tuple[bool, str, str, int]:
        """(is_error, result, REPORT status, max memory used in MB) of one invoke; the
        worker's log lines are appended to `logs`. A worker that times out, dies, runs out of
        memory or garbles a frame fails this invoke alone and is replaced at the next."""
        max_rss_mb = 0
        try:
            if self._init_failure:
                failure, self._init_failure = self._init_failure, None
                raise failure
            deadline = time.monotonic() + timeout_s
            self.worker.send(
                {
                    "request_id": request_id,
                    "payload": payload["payload"],
                    "invoked_function_arn": payload["invoked-function-arn"],
                    "deadline_ms": time.time() * 1000 + timeout_s * 1000,
                }
            )
            while "result" not in (message := self.worker.read_message(deadline)):
                logs.append(message.get("log", ""))
            max_rss_mb = message.get("max_rss_kb", 0) // 1024
            if max_rss_mb > self.function_version.config.memory_size:
                raise WorkerOutOfMemory()  # a peak between two samples: AWS would have killed it
            if message.get("fatal"):
                self.worker.kill()  # the runtime reported an error it cannot continue after
            return message["error"], message["result"], "", max_rss_mb
        except InitFailed as exc:
            return True, exc.payload, f"\tStatus: error\tError Type: {exc.error_type}", max_rss_mb
        except WorkerTimedOut:
            self.worker.kill()
            message = f"Task timed out after {timeout_s:.2f} seconds"
            logs.append(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {request_id} {message}\n")
            return True, _error("Sandbox.Timedout", request_id, message), "\tStatus: timeout", max_rss_mb
        except (WorkerDied, WorkerOutOfMemory, BrokenPipeError) as exc:
            out_of_memory = isinstance(exc, WorkerOutOfMemory) or self.worker.process.poll() == EXIT_OUT_OF_MEMORY
            self.worker.kill()
            reason = "signal: killed" if out_of_memory else self.worker.exit_reason()
            error_type = "Runtime.OutOfMemory" if out_of_memory else "Runtime.ExitError"
            max_rss_mb = max(max_rss_mb, self.function_version.config.memory_size if out_of_memory else 0)
            # AWS's words; an exit with status 0 is not an error to it, and has no reason
            message = "Runtime exited without providing a reason"
            if reason != "exit status 0":
                message = f"Runtime exited with error: {reason}"
            logs.append(self.get_logs()[-2000:])
            logs.append(f"RequestId: {request_id} Error: {message}\n{error_type}\n")
            status = f"\tStatus: error\tError Type: {error_type}"
            return True, _error(error_type, request_id, message), status, max_rss_mb
        except GarbledFrame as exc:
            self.worker.kill()
            status = "\tStatus: error\tError Type: Runtime.InvalidResponse"
            message = f"the runtime wrote a garbled frame: {exc}"
            return True, _error("Runtime.InvalidResponse", request_id, message), status, max_rss_mb

    # --- versions ----------------------------------------------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        config_ = function_version.config
        if config_.package_type != "Zip" or not config_.code:
            raise LambdaRuntimeException(
                "The local-process executor runs only Zip-packaged functions; "
                "use a LocalStack container with Docker for image functions."
            )
        # the first function of a runtime installs it (Pending meanwhile); a runtime that cannot
        # run here fails now, with the reason, rather than at the first invoke
        ensure_installed(config_.runtime, function_version.id.function_name)
        config_.code.prepare_for_execution()
        for layer in config_.layers:
            layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing to undo: LocalStack itself deletes the unzipped code."""
