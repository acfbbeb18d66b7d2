"""Lambda worker: runs one Python function in this process, one invocation at a time.

Started by the local-process executor with the function's interpreter in isolated mode
(``-I -S``: none of that interpreter's site-packages), so this file uses only the standard
library. It takes no arguments (a runtime wrapper may add interpreter options before this
file's name, the last one): the function's code folder is LAMBDA_TASK_ROOT, and
OPTIONS_VARIABLE holds {"address_space": bytes (0: none), "layer_paths": [...], "sdk_path"},
what goes on sys.path after the code folder (the function's PYTHONPATH, which ``-I``
ignores, goes between the layers and the SDK, as on AWS). Requests on stdin, frames on the
descriptor named by _LAMBDA_WORKER_PROTOCOL_FD, one JSON object per line (stdout and stderr
are the environment's log, as on AWS, where a runtime wrapper may write too):

  request  {"request_id", "payload", "invoked_function_arn", "deadline_ms"}
  frames   {"ready": true}              the handler is loaded
           {"init_error": "..."}        it could not be (the error as awslambdaric posts it);
                                        the worker then exits, as awslambdaric does
           {"log": "..."}               handler output, as it is written
           {"result": "...", "error": false, "max_rss_kb": n}   end of the invocation

Errors have the shape and the words of AWS's Python runtime interface client (awslambdaric's
bootstrap.py: make_error, _get_handler, build_fault_result).

A request or payload that cannot be read fails that one invocation; handler threads may
write concurrently (frames are written under a lock, whole). Output comes in log frames of
at most LOG_PIECE_CHARS characters, however much one write holds. A result or error over
LOCALSTACK_MAX_PAYLOAD_SIZE bytes (LocalStack's LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES,
which its Lambda init enforces the same way) is replaced by Lambda's own error,
Function.ResponseSizeTooLarge.

Anything written at file-descriptor level (C extensions, subprocesses) goes to the
environment's own log, which the executor keeps.
"""

import importlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback

PROTOCOL_FD_VARIABLE = "_LAMBDA_WORKER_PROTOCOL_FD"  # protocol.py's, which this file cannot import
OPTIONS_VARIABLE = "_LAMBDA_WORKER_OPTIONS"
_protocol_out = None  # the protocol descriptor, opened by main()
_send_lock = threading.Lock()
# Handler output is sent in pieces: a frame stays small whatever one write holds.
LOG_PIECE_CHARS = 64 * 1024
# AWS's limit for a function's response (6 MiB + 100 bytes); LocalStack sets the variable.
MAX_RESPONSE_BYTES = int(os.environ.get("LOCALSTACK_MAX_PAYLOAD_SIZE") or 6 * 1024 * 1024 + 100)
# Where the function's code and layers are here, and where AWS's sandbox has them: its
# tracebacks name the sandbox's paths.
SANDBOX_DIRS = ((os.environ.get("LAMBDA_TASK_ROOT"), "/var/task"), (os.environ.get("LAMBDA_OPT_DIR"), "/opt"))
# Exit status that tells the executor the handler ran out of memory (the address-space
# limit, set by main, refused an allocation), so it reports Runtime.OutOfMemory as AWS does.
EXIT_OUT_OF_MEMORY = 86
# The invocation in progress, for the root logger's records (awslambdaric's _GLOBAL_AWS_REQUEST_ID).
_request_id = ""


def _send(message):
    line = json.dumps(message) + "\n"
    with _send_lock:
        _protocol_out.write(line)
        _protocol_out.flush()


class _LogStream:
    """sys.stdout / sys.stderr replacement: every write becomes a log frame."""

    encoding = "utf-8"
    errors = "replace"

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        for start in range(0, len(text), LOG_PIECE_CHARS):
            _send({"log": text[start : start + LOG_PIECE_CHARS]})
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True

    def fileno(self):
        return 2


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id
        return True


class _LogHandler(logging.Handler):
    def emit(self, record):
        sys.stdout.write(self.format(record))


def _install_log_handler():
    """The root logger's handler as awslambdaric installs it (the text log format): records
    read `[LEVEL]\t<UTC time>\t<request id>\t<message>`, and a handler's own
    logging.basicConfig() adds nothing, as on AWS."""
    logging.Formatter.converter = time.gmtime
    handler = _LogHandler()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"
        )
    )
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


class LambdaContext:
    """The context object the AWS Python runtime hands to handlers."""

    def __init__(self, request_id, invoked_function_arn, deadline_ms):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _error(error_type, message, stack_trace=None, request_id=""):
    """An error as awslambdaric's make_error shapes it (request id: empty at init)."""
    error = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack_trace or []}
    if sys.version_info < (3, 9):  # python3.8's runtime (Amazon Linux 2) predates the request id in errors
        del error["requestId"]
    return error


def _sandbox_path(filename):
    for here, sandbox in SANDBOX_DIRS:
        if here and (filename == here or filename.startswith(here + os.sep)):
            return sandbox + filename[len(here) :]
    return filename


def _user_stack(tb):
    """The traceback from the first frame that is not this worker's, as awslambdaric drops
    its own bootstrap.py frames (importlib's stay, as on AWS); the function's files by their
    sandbox paths."""
    frames = traceback.extract_tb(tb)
    while frames and frames[0].filename == __file__:
        frames.pop(0)
    # as tuples, as awslambdaric formats them: no column markers on Python 3.11 and later
    return traceback.format_list([(_sandbox_path(f.filename), f.lineno, f.name, f.line) for f in frames])


def _exception_error(exc, request_id=""):
    return _error(type(exc).__name__, str(exc), _user_stack(exc.__traceback__), request_id)


def _load_handler(handler_spec):
    """(handler, None) or (None, the init error), in awslambdaric's words for each case."""
    try:
        module_name, function_name = handler_spec.rsplit(".", 1)
    except ValueError as exc:
        return None, _error("Runtime.MalformedHandlerName", f"Bad handler '{handler_spec}': {exc}")
    if module_name.split(".")[0] in sys.builtin_module_names:
        message = f"Cannot use built-in module {module_name} as a handler module"
        return None, _error("Runtime.BuiltInModuleConflict", message)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except SyntaxError as exc:
        trace = [f'  File "{_sandbox_path(exc.filename)}" Line {exc.lineno}\n    {exc.text}']
        return None, _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace)
    except MemoryError:
        os._exit(EXIT_OUT_OF_MEMORY)
    except Exception as exc:  # the module's own code raised: its exception, as on AWS
        return None, _exception_error(exc)
    try:
        return getattr(module, function_name), None
    except AttributeError:
        return None, _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")


def _log_error(error):
    """The log lines awslambdaric writes for an error (its log_error, text format)."""
    description = "[ERROR]"
    if error["errorType"]:
        description += " " + error["errorType"]
    if error["errorMessage"]:
        description += (":" if error["errorType"] else "") + " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in error["stackTrace"]:
        for line in element.splitlines() or [""]:
            indent = len(line) - len(line.lstrip(" "))
            lines.append("\u00a0" * indent + line[indent:])  # AWS's indentation: no-break spaces
    sys.stdout.write("\n".join(lines) + "\n")


def _invoke(handler, request):
    global _request_id
    context = LambdaContext(request["request_id"], request["invoked_function_arn"], request["deadline_ms"])
    request_id = _request_id = request["request_id"]
    try:
        event = json.loads(request["payload"]) if request["payload"] else {}
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than Python parses
        error = _error("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}", request_id=request_id)
    else:
        try:
            result = handler(event, context)
        except MemoryError:
            os._exit(EXIT_OUT_OF_MEMORY)
        except Exception as exc:
            error = _exception_error(exc, request_id)
        else:
            try:
                return False, json.dumps(result)
            except (TypeError, ValueError, RecursionError) as exc:
                error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id=request_id)
    _log_error(error)
    return True, error


def _peak_rss_kb():
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _resolve_engine_names():
    """localhost.localstack.cloud names, and AWS service host names, reach the engine
    (preload/localstack_names.py; the -S flag skips sitecustomize)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "preload", "localstack_names.py")
    spec = importlib.util.spec_from_file_location("localstack_names", path)
    sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.install()


def _handle(handler, line):
    """One request line to one result frame; a request that cannot be read fails alone."""
    try:
        is_error, result = _invoke(handler, json.loads(line))
    except (ValueError, RecursionError, KeyError, TypeError) as exc:
        is_error, result = (
            True,
            _error("Runtime.UnmarshalError", f"Unable to read the invocation: {type(exc).__name__}: {exc}"),
        )
    if is_error:
        result = json.dumps(result)
    if len(result.encode()) > MAX_RESPONSE_BYTES:  # an error too: AWS refuses the size, whatever it holds
        is_error, result = True, json.dumps(_response_too_large())
    return {"result": result, "error": is_error, "max_rss_kb": _peak_rss_kb()}


def _response_too_large():
    """Lambda's answer to a response over the limit (its exact words)."""
    return {
        "errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


def main():
    global _protocol_out
    _resolve_engine_names()
    _protocol_out = os.fdopen(int(os.environ.pop(PROTOCOL_FD_VARIABLE)), "w", buffering=1, encoding="utf-8")
    # requests come on a copy of stdin; a handler reading stdin reads nothing, as on AWS
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(os.devnull)
    options, code_dir = json.loads(os.environ.pop(OPTIONS_VARIABLE)), os.environ["LAMBDA_TASK_ROOT"]
    if options["address_space"]:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (options["address_space"], options["address_space"]))
    # AWS's order: the code, the layers, PYTHONPATH (the runtime's own folder there), the SDK
    python_path = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    sys.path[:0] = [code_dir, *options["layer_paths"], *python_path, options["sdk_path"]]
    os.chdir(code_dir)
    sys.stdout = sys.stderr = _LogStream()
    _install_log_handler()
    handler, init_error = _load_handler(os.environ["_HANDLER"])
    if init_error:
        _log_error(init_error)
        _send({"init_error": json.dumps(init_error)})
        sys.exit(1)
    _send({"ready": True})
    for line in requests:
        _send(_handle(handler, line))


if __name__ == "__main__":
    main()
