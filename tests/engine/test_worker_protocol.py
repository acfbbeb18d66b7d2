"""The worker protocol without an engine: the executor's reader (protocol.py) against the real
Python and Node.js workers, started here as the executor starts them."""

import contextlib
import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ENGINE_PACKAGE = Path(__file__).resolve().parents[2] / "engine" / "localstack_nodocker"
sys.path.insert(0, str(ENGINE_PACKAGE.parent))
from localstack_nodocker import protocol  # noqa: E402  (after the path is set)
from localstack_nodocker.worker import OPTIONS_VARIABLE  # noqa: E402

DEEP = "[" * 200_000 + "]" * 200_000

PYTHON_HANDLERS = """
import logging
import threading

def echo(event, context):
    return {"event": event, "request_id": context.aws_request_id}

def chatty(event, context):
    def talk(n):
        for i in range(200):
            print(f"thread {n} line {i}")
    threads = [threading.Thread(target=talk, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return "done"

def logs(event, context):
    logging.basicConfig(level=logging.INFO)  # adds nothing where the runtime's handler is
    logger = logging.getLogger("handlers")
    logger.setLevel(logging.INFO)
    logger.info("from the %s module", "logging")
    return "done"

def hungry(event, context):
    blocks = [bytearray(1024 * 1024) for _ in range(event["mb"])]
    return len(blocks)

def deep_result(event, context):
    result = []
    for _ in range(100_000):
        result = [result]
    return result

def sized(event, context):
    if "log" in event:
        print(event["text"] * event["log"], end="")
    if "fail" in event:
        raise ValueError("x" * event["fail"])
    return "x" * (event.get("respond", 2) - 2)  # a JSON string of exactly `respond` bytes
"""

NODE_HANDLERS = """
exports.echo = async (event, context) => ({ event, request_id: context.awsRequestId });
exports.chatty = async () => {
  await Promise.all([...Array(8).keys()].map(async (n) => {
    for (let i = 0; i < 200; i++) { console.log(`thread ${n} line ${i}`); await null; }
  }));
  return "done";
};
exports.streamed = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201 });
  stream.write("Hello,");
  stream.write(" world!");
  if (!event.unfinished) stream.end();
});
exports.sized = async (event) => {
  if ("log" in event) process.stdout.write(event.text.repeat(event.log));
  if ("fail" in event) throw new Error("x".repeat(event.fail));
  return "x".repeat((event.respond ?? 2) - 2); // a JSON string of exactly `respond` bytes
};
"""


def launch(tmp_path, language: str, handler: str, **options) -> protocol.Worker:
    """A worker started as the executor starts it (its first frames not read yet)."""
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(code),
        **options.pop("env", {}),
    }
    if language == "python":
        (code / "handlers.py").write_text(PYTHON_HANDLERS)
        worker_options = {"address_space": options.pop("address_space", 0), "layer_paths": [], "sdk_path": str(code)}
        env[OPTIONS_VARIABLE] = json.dumps(worker_options)
        argv = [sys.executable, "-I", "-S", str(ENGINE_PACKAGE / "worker.py")]
    else:
        node = shutil.which("node")
        if not node:
            pytest.skip("no node on this machine")
        (code / "handlers.js").write_text(NODE_HANDLERS)
        argv = [node, str(ENGINE_PACKAGE / "worker.js")]
    return protocol.Worker(argv, env, str(code), lambda line: None, **options)


@contextlib.contextmanager
def launched(tmp_path, language: str, handler: str, **options):
    """`launch`, killed at the end whatever happens."""
    worker = launch(tmp_path, language, handler, **options)
    try:
        yield worker
    finally:
        worker.kill()


@contextlib.contextmanager
def started(tmp_path, language: str, handler: str, **options):
    """A launched worker whose handler is loaded."""
    with launched(tmp_path, language, handler, **options) as worker:
        deadline = time.monotonic() + 30
        while "ready" not in worker.read_message(deadline):
            pass
        yield worker


def call(worker: protocol.Worker, payload: str, request_id: str = "r-1", raw: bytes | None = None):
    """(result frame, log frames) of one invocation."""
    if raw is not None:
        worker.process.stdin.write(raw)
        worker.process.stdin.flush()
    else:
        worker.send({"request_id": request_id, "payload": payload, "invoked_function_arn": "arn", "deadline_ms": 0})
    logs = []
    deadline = time.monotonic() + 30
    while "result" not in (frame := worker.read_message(deadline)):
        logs.append(frame["log"])
    return frame, logs


@pytest.fixture(params=["python", "node"])
def language(request):
    return request.param


def test_a_deeply_nested_payload_fails_only_its_invocation(tmp_path, language):
    with started(tmp_path, language, "handlers.echo") as worker:
        frame, _ = call(worker, DEEP)
        assert frame["error"] is True
        # Python cannot parse it; V8 parses it, and then cannot serialise the echo back (AWS's
        # Node.js runtime says so with a plain Error)
        error = json.loads(frame["result"])
        if language == "python":
            assert error["errorType"] == "Runtime.UnmarshalError"
        else:
            assert (error["errorType"], error["errorMessage"]) == ("Error", "Unable to stringify response body")
        frame, _ = call(worker, json.dumps({"a": 1}), request_id="r-2")
        assert frame["error"] is False
        assert json.loads(frame["result"]) == {"event": {"a": 1}, "request_id": "r-2"}
        assert worker.alive()


def test_a_garbled_request_fails_only_its_invocation(tmp_path, language):
    with started(tmp_path, language, "handlers.echo") as worker:
        frame, _ = call(worker, "", raw=b"{not json\n")
        assert frame["error"] is True and "Runtime.UnmarshalError" in frame["result"]
        frame, _ = call(worker, "{}")
        assert frame["error"] is False and worker.alive()


def test_concurrent_writers_produce_whole_frames(tmp_path, language):
    with started(tmp_path, language, "handlers.chatty") as worker:
        frame, logs = call(worker, "{}")
        assert json.loads(frame["result"]) == "done"
        lines = [line for log in logs for line in log.splitlines() if "line" in line]
        assert len(lines) == 8 * 200
        for n in range(8):
            assert sum(line.endswith(f"thread {n} line 199") for line in lines) == 1


def test_an_init_error_is_one_frame_and_then_the_worker_exits_as_the_runtime_does(tmp_path, language):
    with launched(tmp_path, language, "missing.handler") as worker:
        deadline = time.monotonic() + 30
        while "init_error" not in (frame := worker.read_message(deadline)):
            assert "ready" not in frame
        assert json.loads(frame["init_error"])["errorType"] == "Runtime.ImportModuleError"
        with pytest.raises(protocol.WorkerDied, match={"python": "exit status 1", "node": "exit status 129"}[language]):
            worker.read_message(deadline)


def test_python_log_records_have_awslambdarics_format_and_the_request_id(tmp_path):
    with started(tmp_path, "python", "handlers.logs") as worker:
        frame, logs = call(worker, "{}", request_id="r-7")
        assert json.loads(frame["result"]) == "done"
        assert re.fullmatch(
            r"\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tr-7\tfrom the logging module\n", "".join(logs)
        )


def test_a_streaming_node_handler_answers_what_it_wrote_after_its_prelude(tmp_path):
    with started(tmp_path, "node", "handlers.streamed") as worker:
        frame, _ = call(worker, "{}")
        assert (frame["error"], frame["result"]) == (False, '{"statusCode":201}' + "\0" * 8 + "Hello, world!")
        frame, _ = call(worker, '{"unfinished": true}', request_id="r-2")  # AWS's runtime's check and words
        assert frame["error"] is True
        assert json.loads(frame["result"]) == {
            "errorType": "string",
            "errorMessage": "Response stream is not finished.",
            "trace": [],
        }


def test_an_unserialisable_result_fails_only_its_invocation(tmp_path):
    with started(tmp_path, "python", "handlers.deep_result") as worker:
        frame, _ = call(worker, "{}")
        assert frame["error"] is True and "Runtime.MarshalError" in frame["result"]
        assert worker.alive()


def test_the_memory_limit_stops_a_worker_that_grows_past_it(tmp_path):
    with started(tmp_path, "python", "handlers.hungry", memory_limit_kb=200 * 1024) as worker:
        with pytest.raises(protocol.WorkerOutOfMemory):
            call(worker, json.dumps({"mb": 600}))


def test_an_allocation_past_the_address_space_limit_ends_the_worker_as_out_of_memory(tmp_path):
    with started(tmp_path, "python", "handlers.hungry", address_space=300 * 1024 * 1024) as worker:
        with pytest.raises(protocol.WorkerDied, match="exit status 86"):
            call(worker, json.dumps({"mb": 600}))


def test_frames_that_are_not_protocol_are_refused_with_the_reason():
    assert protocol.parse_frame(b'{"log": "x"}') == {"log": "x"}
    for line, reason in [
        (b"hello", "not JSON"),
        (b"[1, 2]", "not a protocol frame"),
        (b'{"other": 1}', "not a protocol frame"),
        (b'{"log": 5}', "log frame without text"),
        (b'{"init_error": {}}', "init_error frame without text"),
        (b'{"result": {}, "error": false}', "result frame"),
        (b'{"result": "1"}', "result frame"),
        (DEEP.encode(), "not JSON"),
    ]:
        with pytest.raises(protocol.GarbledFrame, match=reason):
            protocol.parse_frame(line)


def test_a_stray_write_on_the_protocol_stream_is_a_garbled_frame(tmp_path):
    stray = f"import os; os.write(int(os.environ['{protocol.PROTOCOL_FD_VARIABLE}']), b'hello from a stray write\\n')"
    worker = protocol.Worker([sys.executable, "-c", stray], {}, str(tmp_path), lambda line: None)
    try:
        with pytest.raises(protocol.GarbledFrame, match="stray write"):
            worker.read_message(time.monotonic() + 10)
    finally:
        worker.kill()


def test_exit_reasons_use_the_aws_wording(tmp_path):
    for script, reason in [
        ("import sys; sys.exit(3)", "exit status 3"),
        ("import os; os.kill(os.getpid(), 9)", "signal: killed"),
    ]:
        worker = protocol.Worker([sys.executable, "-c", script], {}, str(tmp_path), lambda line: None)
        with pytest.raises(protocol.WorkerDied, match=reason):
            worker.read_message(time.monotonic() + 10)
        worker.kill()


def test_a_handler_reading_stdin_does_not_take_the_next_request(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "reader.py").write_text(
        "import sys\ndef handler(event, context):\n    return sys.stdin.read()\n"
    )
    with started(tmp_path, "python", "reader.handler") as worker:
        frame, _ = call(worker, "{}")
        assert frame == {"result": '""', "error": False, "max_rss_kb": frame["max_rss_kb"]}
        frame, _ = call(worker, "{}")
        assert frame["error"] is False


# --- sizes: what AWS refuses is answered as AWS does; nothing the handler does garbles a frame ---

# LOCALSTACK_MAX_PAYLOAD_SIZE for the workers of the size properties: the class, at a size
# cheap to cross many times (the engine's own 6 MiB + 100 is checked below and end to end).
SMALL_LIMIT = 10_000
# What an error holds besides its message (type, request id, the stack of a one-line handler).
ERROR_OVERHEAD = 2_000
SIZES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def too_large(limit: int) -> dict:
    return {
        "errorMessage": f"Response payload size exceeded maximum allowed payload size ({limit} bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


@pytest.fixture
def small_limit_worker(tmp_path, language):
    with started(tmp_path, language, "handlers.sized", env={"LOCALSTACK_MAX_PAYLOAD_SIZE": str(SMALL_LIMIT)}) as worker:
        yield worker


@SIZES
@given(size=st.integers(2, 3 * SMALL_LIMIT))
def test_a_result_over_the_limit_is_lambdas_response_size_error(small_limit_worker, size):
    frame, _ = call(small_limit_worker, json.dumps({"respond": size}))
    if size <= SMALL_LIMIT:
        assert frame["error"] is False and frame["result"] == json.dumps("x" * (size - 2))
    else:
        assert frame["error"] is True and json.loads(frame["result"]) == too_large(SMALL_LIMIT)
    assert small_limit_worker.alive()


@SIZES
@given(size=st.integers(0, 3 * SMALL_LIMIT))
def test_an_error_within_the_limit_is_the_functions_own_and_one_over_it_the_size_error(
    small_limit_worker, language, size
):
    frame, _ = call(small_limit_worker, json.dumps({"fail": size}))
    error = json.loads(frame["result"])
    assert frame["error"] is True
    # Node's error holds the message twice: errorMessage, and the stack's first line
    held = size * {"python": 1, "node": 2}[language]
    if held <= SMALL_LIMIT - ERROR_OVERHEAD:
        assert error["errorMessage"] == "x" * size and error["errorType"] in ("ValueError", "Error")
    elif held > SMALL_LIMIT:
        assert error == too_large(SMALL_LIMIT)
    if error != too_large(SMALL_LIMIT):
        assert len(frame["result"].encode()) <= SMALL_LIMIT
    assert small_limit_worker.alive()


@SIZES
@given(size=st.integers(1, 300_000), text=st.sampled_from(["y", "é", "😀", "\x00"]))
def test_one_write_of_any_size_arrives_whole_in_bounded_log_frames(small_limit_worker, size, text):
    frame, logs = call(small_limit_worker, json.dumps({"log": size, "text": text}))
    assert frame["error"] is False
    output = "".join(logs)
    assert output.count(text) == size and output.replace(text, "") in ("", "\n")
    assert max(len(log) for log in logs) <= 64 * 1024


@pytest.mark.parametrize("event", [{"respond": 20_000_000}, {"fail": 20_000_000}, {"respond": 6_291_557}])
def test_at_the_engines_limit_a_response_too_large_for_a_frame_is_the_size_error(tmp_path, language, event):
    """Without the variable the limit is AWS's; 20 MB would have been a frame over the
    reader's 16 MB (MAX_FRAME_BYTES), reported as Runtime.InvalidResponse."""
    with started(tmp_path, language, "handlers.sized") as worker:
        frame, _ = call(worker, json.dumps(event))
        assert frame["error"] is True and json.loads(frame["result"]) == too_large(6 * 1024 * 1024 + 100)
        frame, _ = call(worker, json.dumps({"respond": 6 * 1024 * 1024 + 100}))
        assert frame["error"] is False and len(frame["result"]) == 6 * 1024 * 1024 + 100


def test_output_longer_than_a_frame_may_be_does_not_garble_the_stream(tmp_path, language):
    with started(tmp_path, language, "handlers.sized") as worker:
        frame, logs = call(worker, json.dumps({"log": protocol.MAX_FRAME_BYTES + 1, "text": "y"}))
        assert frame["error"] is False and sum(map(len, logs)) == protocol.MAX_FRAME_BYTES + 1
