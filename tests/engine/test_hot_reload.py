"""Hot reload, LocalStack's way: a function whose code is S3 bucket `hot-reload` with an
absolute folder as the key runs from that folder, and a saved change is live at the next
invocation, without a deploy."""

import json
import time
import uuid

import boto3
import pytest

HANDLER = "def handler(event, context):\n    return {'version': %r}\n"


@pytest.fixture
def hot_function(engine, tmp_path):
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "probe.py").write_text(HANDLER % "first")
    lambda_ = boto3.client("lambda")
    name = f"hot-reload-{uuid.uuid4().hex[:8]}"
    lambda_.create_function(FunctionName=name, Runtime="python3.11", Handler="probe.handler",
                            Role="arn:aws:iam::000000000000:role/hot-reload-probe",
                            Code={"S3Bucket": "hot-reload", "S3Key": str(folder)})
    lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
    yield name, folder
    lambda_.delete_function(FunctionName=name)


def answer(name: str) -> dict:
    response = boto3.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response, response["Payload"].read()
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
    (folder / "probe.py").write_text("import helper\n\ndef handler(event, context):\n    return {'version': helper.VERSION}\n")
    assert answer(name) == {"version": "from a new module"}
