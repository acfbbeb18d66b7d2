"""Hot reload, LocalStack's way: a function whose code is S3 bucket `hot-reload` with an
absolute folder as the key runs from that folder, and a saved change is live at the next
invocation, without a deploy."""

import json
import time
import uuid

import boto3
import pytest

HANDLER = "def handler(event, context):\n    return {'version': %r}\n"


NODE_HANDLER = "exports.handler = async () => ({ version: %s });\n"
# Allocates the megabytes the event asks for, then answers with this file's version.
MEMORY_HANDLER = (
    "def handler(event, context):\n    hog = b'x' * (event.get('mb', 0) << 20)\n    return {'version': %r}\n"
)


@pytest.fixture
def hot_folder(engine, tmp_path):
    """deploy(runtime, handler, files, **options) -> name of a function running from a host folder."""
    folder = tmp_path / "code"
    folder.mkdir()
    lambda_ = boto3.client("lambda")
    created = []

    def deploy(runtime: str, handler: str, files: dict[str, str], **options) -> str:
        for file_name, text in files.items():
            (folder / file_name).write_text(text)
        name = f"hot-reload-{uuid.uuid4().hex[:8]}"
        lambda_.create_function(
            FunctionName=name,
            Runtime=runtime,
            Handler=handler,
            Role="arn:aws:iam::000000000000:role/hot-reload-probe",
            Code={"S3Bucket": "hot-reload", "S3Key": str(folder)},
            **options,
        )
        created.append(name)
        lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
        return name

    yield deploy, folder
    for name in created:
        lambda_.delete_function(FunctionName=name)


@pytest.fixture
def hot_function(hot_folder):
    deploy, folder = hot_folder
    return deploy("python3.11", "probe.handler", {"probe.py": HANDLER % "first"}), folder


def answer(name: str, event: dict | None = None) -> dict:
    response = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}))
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def failure(name: str, event: dict) -> dict:
    response = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    assert response.get("FunctionError") == "Unhandled", response
    return json.loads(response["Payload"].read())


def test_a_saved_file_changes_the_next_answer(hot_function):
    name, folder = hot_function
    assert answer(name) == {"version": "first"}
    assert answer(name) == {"version": "first"}  # warm: the same worker

    (folder / "probe.py").write_text(HANDLER % "second, saved")
    started = time.monotonic()
    assert answer(name) == {"version": "second, saved"}
    print(f"\n[hot-reload] edit -> live answer in {time.monotonic() - started:.2f} s")


def test_a_new_module_in_the_folder_is_importable_at_the_next_invocation(hot_function):
    name, folder = hot_function
    assert answer(name) == {"version": "first"}
    (folder / "helper.py").write_text("VERSION = 'from a new module'\n")
    (folder / "probe.py").write_text(
        "import helper\n\ndef handler(event, context):\n    return {'version': helper.VERSION}\n"
    )
    assert answer(name) == {"version": "from a new module"}


def test_a_node_function_reloads_a_saved_file_too(hot_folder):
    deploy, folder = hot_folder
    name = deploy("nodejs20.x", "index.handler", {"index.js": NODE_HANDLER % "'first'"})
    assert answer(name) == {"version": "first"}
    (folder / "index.js").write_text(NODE_HANDLER % "'second, saved'")
    assert answer(name) == {"version": "second, saved"}


def test_the_worker_a_saved_file_restarts_keeps_the_memory_limit(hot_folder):
    """Out of memory, then a save: the new worker runs the new code, and is limited as before."""
    deploy, folder = hot_folder
    name = deploy("python3.11", "probe.handler", {"probe.py": MEMORY_HANDLER % "first"}, MemorySize=128)
    assert failure(name, {"mb": 400})["errorType"] == "Runtime.OutOfMemory"
    (folder / "probe.py").write_text(MEMORY_HANDLER % "second, saved")
    assert answer(name) == {"version": "second, saved"}
    assert failure(name, {"mb": 400})["errorType"] == "Runtime.OutOfMemory"
    assert answer(name, {"mb": 16}) == {"version": "second, saved"}
