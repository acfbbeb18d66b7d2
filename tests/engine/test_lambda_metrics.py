"""Lambda's invocation metrics on the engine (engine/localstack_nodocker/lambda_metrics.py): every
invocation is still counted in AWS/Lambda Invocations and Errors, and publishing leaves nothing
behind per invocation (LocalStack kept a finished thread for each in TMP_THREADS)."""

import datetime as dt
import io
import subprocess
import uuid
import zipfile

import boto3
import pytest

from tests.support.cloudwatch import cloudwatch_client
from tests.support.engine import ENGINE_PYTHON
from tests.support.waiting import wait_for

# Runs in the engine's interpreter, on LocalStack's own version manager module: the metric
# threads' work runs, in order, and none of it is kept; any other thread is started as before;
# the invocations and errors are counted for one publication.
IN_ENGINE = r"""
import threading
from localstack.services.lambda_.invocation import version_manager
from localstack.utils.threads import TMP_THREADS
from localstack_nodocker import lambda_metrics

lambda_metrics.gather_lambda_metrics()
before, ran, done = len(TMP_THREADS), [], threading.Event()
for n in range(500):
    version_manager.start_thread(lambda *args, n=n, **kwargs: ran.append(n), name=f"record-cloudwatch-metric-f{n}:$LATEST")
assert ran == list(range(500)), ran[:20]
assert len(TMP_THREADS) == before, len(TMP_THREADS) - before
for n in range(3):
    version_manager.record_cw_metric_invocation(function_name="f", account_id="000000000000", region_name="eu-west-1")
version_manager.record_cw_metric_error(function_name="f", account_id="000000000000", region_name="eu-west-1")
gathered = lambda_metrics._Counted.metrics._gathered[("000000000000", "eu-west-1")]
assert gathered == {("f", "Invocations", None): {1: 4}, ("f", "Errors", None): {1: 1}}, gathered
scaler = version_manager.start_thread(lambda *args: done.set())
assert done.wait(10) and len(TMP_THREADS) == before + 1 and scaler in TMP_THREADS
print("ok")
"""


def test_metric_publishing_runs_every_invocations_work_and_keeps_none_of_it():
    result = subprocess.run([str(ENGINE_PYTHON), "-c", IN_ENGINE], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "ok"


FUNCTION = (
    "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('asked to fail')\n    return 1\n"
)


@pytest.fixture(scope="module")
def function(engine):
    lam = boto3.client("lambda")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("index.py", FUNCTION)
    name = f"metrics-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="index.handler",
        Role="arn:aws:iam::000000000000:role/metrics",
        Code={"ZipFile": archive.getvalue()},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    yield lam, name
    lam.delete_function(FunctionName=name)


def test_every_invocation_and_error_is_counted(function):
    lam, name = function
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    for n in range(12):
        lam.invoke(FunctionName=name, Payload=b'{"fail": true}' if n % 4 == 0 else b"{}")
    cloudwatch = cloudwatch_client()

    def sums():
        found = {}
        for metric in ("Invocations", "Errors"):
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": name}],
                StartTime=since,
                EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
                Period=3600,
                Statistics=["Sum"],
            )["Datapoints"]
            found[metric] = sum(point["Sum"] for point in points)
        return found if found == {"Invocations": 12, "Errors": 3} else None

    wait_for(sums, timeout=30, what="12 invocations and 3 errors in AWS/Lambda")
