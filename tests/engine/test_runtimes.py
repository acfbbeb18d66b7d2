"""What users bring to the embedded engine: every Python runtime with its own boto3, Node.js
functions (each handler style, the SDK v3), layers, memory limits. Against the real engine
over HTTP."""

import base64
import contextlib
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest

from tests.engine.test_lambda_paths import wait_active
from tests.support.apis import send
from tests.support.waiting import function_logged, wait_for
from tools import stack

ROLE = "arn:aws:iam::000000000000:role/runtimes"
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker import hostruntimes  # noqa: E402


class Executable(str):
    """A file's text, stored with the executable bit (a script a function runs by its path)."""


def zipped(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            if isinstance(content, Executable):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o100755 << 16  # a regular file, rwxr-xr-x
                archive.writestr(info, content)
            else:
                archive.writestr(name, content)
    return buffer.getvalue()


def zipped_folder(folder: Path) -> bytes:
    return zipped({str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()})


@pytest.fixture(scope="module")
def aws(engine):
    return {name: boto3.client(name) for name in ("lambda", "s3", "dynamodb", "logs", "sqs")}


@pytest.fixture(scope="module")
def functions(aws):
    """create(runtime, files, handler, **options) -> name; every function is deleted at the end."""
    created = []

    def create(runtime: str, files: dict, handler: str = "index.handler", wait: bool = True, **options) -> str:
        name = f"rt-{runtime.replace('.', '')}-{uuid.uuid4().hex[:8]}"
        options.setdefault("Timeout", 10)
        aws["lambda"].create_function(
            FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE, Code={"ZipFile": zipped(files)}, **options
        )
        created.append(name)
        if wait:
            config = wait_active(aws["lambda"], name)
            assert config["State"] == "Active", config.get("StateReason")
        return name

    yield create
    for name in created:
        with contextlib.suppress(aws["lambda"].exceptions.ResourceNotFoundException):
            aws["lambda"].delete_function(FunctionName=name)


def invoke(aws, name: str, payload=None, **kwargs) -> tuple[dict, object]:
    response = aws["lambda"].invoke(FunctionName=name, Payload=json.dumps(payload or {}), **kwargs)
    return response, json.loads(response["Payload"].read() or b"null")


def publish_layer(aws, files: dict, runtimes: list[str]) -> str:
    return aws["lambda"].publish_layer_version(
        LayerName=f"layer-{uuid.uuid4().hex[:8]}", Content={"ZipFile": zipped(files)}, CompatibleRuntimes=runtimes
    )["LayerVersionArn"]


def wait_updated(lam, name: str) -> None:
    """Until the last update has ended, whether it succeeded or failed (function_updated_v2 raises on a failure)."""
    wait_for(
        lambda: lam.get_function_configuration(FunctionName=name).get("LastUpdateStatus") != "InProgress",
        timeout=10,
        interval=0.1,
        what=f"{name} to leave InProgress",
    )


# --- Python --------------------------------------------------------------------------------

BOTO3_PROBE = """
import sys, boto3, urllib3
def handler(event, context):
    return {"python": "%d.%d" % sys.version_info[:2], "boto3": boto3.__version__, "urllib3": urllib3.__version__,
            "buckets": len(boto3.client("s3").list_buckets()["Buckets"]) >= 0}
"""


@pytest.mark.parametrize("runtime", [f"python{v}" for v in hostruntimes.PYTHON_VERSIONS])
def test_every_python_runtime_imports_its_own_boto3_and_calls_the_engine(aws, functions, runtime):
    version = runtime.removeprefix("python")
    name = functions(runtime, {"index.py": BOTO3_PROBE}, wait=False)
    config = wait_active(aws["lambda"], name)
    if config["State"] == "Failed":  # refused on this host: the reason and the fix, never a silent failure
        assert f"python{version}" in config["StateReason"] and "make install-runtimes" in config["StateReason"]
        pytest.skip(config["StateReason"])
    response, result = invoke(aws, name)
    assert "FunctionError" not in response, result
    assert result["python"] == version and result["buckets"] is True
    assert "boto3==" + result["boto3"] == hostruntimes.python_sdk_requirement(version)


# --- every Python and Node.js runtime LocalStack maps to an image, the deprecated included ------


def test_every_python_and_node_runtime_localstack_knows_is_one_the_engine_runs(engine):
    with urllib.request.urlopen(f"{engine}/_aws/lambda/runtimes?filter=all") as response:
        listed = json.loads(response.read())["Runtimes"]
    ours = {runtime for runtime in listed if hostruntimes.language(runtime)}
    assert {"python3.7", "nodejs12.x", "nodejs16.x", "python3.13"} <= ours
    assert ours <= set(hostruntimes.SUPPORTED)


NODE_PROBE = """
exports.handler = async (event, context) => {
  const sdks = [];
  for (const [name, module] of [["v2", "aws-sdk"], ["v3", "@aws-sdk/client-s3"]]) {
    try { require(module); sdks.push(name); } catch (error) { /* not provided by this runtime */ }
  }
  return { version: process.version, sdks, echo: event, requestId: context.awsRequestId };
};
"""
EXHAUSTIVE = pytest.mark.exhaustive


@pytest.mark.parametrize(
    "runtime",
    [
        pytest.param(f"nodejs{major}.x", marks=() if major in ("16", "20") else EXHAUSTIVE)
        for major in hostruntimes.NODE_MAJORS
    ],
)
def test_every_node_runtime_runs_on_its_node_with_the_sdk_aws_provides(aws, functions, runtime):
    """nodejs16.x and older: the SDK v2 (require("aws-sdk")); nodejs18.x and later: v3."""
    major = runtime.removeprefix("nodejs").removesuffix(".x")
    name = functions(runtime, {"index.js": NODE_PROBE}, wait=False)
    config = wait_active(aws["lambda"], name)
    assert config["State"] == "Active", config.get("StateReason")
    response, result = invoke(aws, name, {"deprecated": int(major) < 18})
    assert "FunctionError" not in response, result
    assert result["version"].startswith(f"v{major}.") and uuid.UUID(result["requestId"])
    assert result["sdks"] == (["v3"] if int(major) >= hostruntimes.FIRST_NODE_MAJOR_WITH_SDK_V3 else ["v2"])
    assert result["echo"] == {"deprecated": int(major) < 18}


@pytest.mark.parametrize(
    "runtime, handler",
    [
        ("java21", "example.Handler::handleRequest"),
        ("provided.al2023", "bootstrap"),
        pytest.param("go1.x", "main", marks=EXHAUSTIVE),
        pytest.param("ruby3.3", "index.handler", marks=EXHAUSTIVE),
        pytest.param("dotnet8", "Assembly::Type::Method", marks=EXHAUSTIVE),
    ],
)
def test_a_runtime_of_another_language_is_refused_with_the_fix(aws, functions, runtime, handler):
    name = functions(runtime, {"placeholder.txt": "code"}, handler=handler, wait=False)
    config = wait_active(aws["lambda"], name)
    assert config["State"] == "Failed"
    assert f"Runtime '{runtime}' is not supported by the local-process Lambda executor" in config["StateReason"]
    assert "Change the function's runtime" in config["StateReason"] and "LocalStack in Docker" in config["StateReason"]


def test_status_names_every_runtime_ready_to_install_or_unavailable(aws, functions):
    from tests.support.engine import ctl

    functions("python3.11", {"index.py": "def handler(event, context):\n    return 1\n"})
    out = ctl("status").stdout
    if "started by this project" not in out:
        pytest.skip("the engine answering was not started by this project: its runtimes are its own")
    ready = re.search(r"Lambda runtimes ready: (.*)", out).group(1).split(", ")
    later = re.search(r"installed when their first function is created \(or now: make install-runtimes\): (.*)", out)
    unavailable = re.findall(r"(?i)unavailable: .*?runtime (\S+)", out)
    assert "python3.11" in ready
    named = ready + (later.group(1).split(", ") if later else []) + unavailable
    assert sorted(named) == sorted(hostruntimes.SUPPORTED), out


def fake_wheel(folder: Path) -> Path:
    """A minimal wheel of a one-module package, so `pip install -t` runs offline."""
    files = {
        "greeting/__init__.py": b"WORDS = 'installed with pip'\n",
        "greeting-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: greeting\nVersion: 1.0\n",
        "greeting-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = (
        "".join(
            f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
            for path, data in files.items()
        )
        + "greeting-1.0.dist-info/RECORD,,\n"
    )
    wheel = folder / "greeting-1.0-py3-none-any.whl"
    wheel.write_bytes(zipped({**files, "greeting-1.0.dist-info/RECORD": record}))
    return wheel


LAYERED_PYTHON = """
import os
def handler(event, context):
    import shared, only_first, greeting, sitepkg
    with open(os.path.join(os.environ["LAMBDA_OPT_DIR"], "data", "config.txt")) as config:
        data = config.read()
    return {"shared": shared.VALUE, "only_first": only_first.VALUE, "pip": greeting.WORDS,
            "sitepkg": sitepkg.VALUE, "data": data}
"""


def test_python_layers_in_order_with_pip_installed_content_and_an_update(aws, functions, tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--disable-pip-version-check",
            "-t",
            str(tmp_path / "layer" / "python"),
            str(fake_wheel(tmp_path)),
        ],
        check=True,
    )
    pip_layer = aws["lambda"].publish_layer_version(
        LayerName=f"pip-{uuid.uuid4().hex[:8]}", Content={"ZipFile": zipped_folder(tmp_path / "layer")}
    )["LayerVersionArn"]
    first = publish_layer(
        aws,
        {
            "python/shared.py": "VALUE = 'first'",
            "python/only_first.py": "VALUE = 1",
            "python/lib/python3.11/site-packages/sitepkg.py": "VALUE = 'site'",
            "data/config.txt": "from the first layer",
        },
        ["python3.11"],
    )
    second = publish_layer(
        aws, {"python/shared.py": "VALUE = 'second'", "data/config.txt": "from the second layer"}, ["python3.11"]
    )
    name = functions("python3.11", {"index.py": LAYERED_PYTHON}, Layers=[pip_layer, first, second])
    _, result = invoke(aws, name)
    assert result == {
        "shared": "second",
        "only_first": 1,
        "pip": "installed with pip",
        "sitepkg": "site",
        "data": "from the second layer",
    }

    third = publish_layer(aws, {"python/shared.py": "VALUE = 'third'", "data/config.txt": "updated"}, ["python3.11"])
    assert third.endswith(":1")  # a new layer; a new version of the second:
    second_v2 = aws["lambda"].publish_layer_version(
        LayerName=second.split(":")[-2],
        Content={"ZipFile": zipped({"python/shared.py": "VALUE = 'second v2'", "data/config.txt": "v2"})},
    )["LayerVersionArn"]
    assert second_v2.endswith(":2")
    aws["lambda"].update_function_configuration(FunctionName=name, Layers=[pip_layer, first, second_v2])
    wait_updated(aws["lambda"], name)
    _, result = invoke(aws, name)
    assert (result["shared"], result["data"]) == ("second v2", "v2")


def test_python_memory_past_the_limit_fails_as_on_aws_and_the_environment_recovers(aws, functions):
    source = """
import os
def handler(event, context):
    if event.get("mb"):
        hog = b"x" * (event["mb"] * 1024 * 1024)
    return os.getpid()
"""
    name = functions("python3.11", {"index.py": source}, MemorySize=128)
    _, first_pid = invoke(aws, name)
    response, error = invoke(aws, name, {"mb": 400}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.OutOfMemory"
    assert error["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    assert "Error Type: Runtime.OutOfMemory" in base64.b64decode(response["LogResult"]).decode()
    response, pid = invoke(aws, name)
    assert "FunctionError" not in response and pid != first_pid


# --- CloudWatch with the runtimes' stock SDKs -----------------------------------------------------
# boto3 1.40 and later speak CloudWatch's smithy-rpc-v2-cbor protocol by default (LocalStack 4.8
# answered it "Operation detection failed. Missing Action"); the Node SDK v3 speaks its query
# protocol. Each function puts a datapoint, creates an alarm on it, moves it to ALARM and reads it
# back with its history, as a function using CloudWatch as a user writes it would.

CLOUDWATCH_PYTHON = """
import boto3
def handler(event, context):
    cloudwatch = boto3.client("cloudwatch")
    namespace, alarm = event["namespace"], event["alarm"]
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Probes", "Value": 3, "Unit": "Count"}])
    cloudwatch.put_metric_alarm(AlarmName=alarm, Namespace=namespace, MetricName="Probes", Statistic="Sum",
                                Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="three probes")
    found = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    history = cloudwatch.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    return {"protocol": cloudwatch.meta.service_model.protocol,
            "metrics": [m["MetricName"] for m in cloudwatch.list_metrics(Namespace=namespace)["Metrics"]],
            "alarms": [[a["AlarmName"], a["StateValue"], a["StateReason"]] for a in found],
            "history": [h["HistorySummary"] for h in history]}
"""
CLOUDWATCH_NODE = """
const cw = require("@aws-sdk/client-cloudwatch");
exports.handler = async ({ namespace, alarm }) => {
  const client = new cw.CloudWatchClient({});
  await client.send(new cw.PutMetricDataCommand({ Namespace: namespace,
    MetricData: [{ MetricName: "Probes", Value: 3, Unit: "Count" }] }));
  await client.send(new cw.PutMetricAlarmCommand({ AlarmName: alarm, Namespace: namespace, MetricName: "Probes",
    Statistic: "Sum", Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: "GreaterThanThreshold" }));
  await client.send(new cw.SetAlarmStateCommand({ AlarmName: alarm, StateValue: "ALARM", StateReason: "three probes" }));
  const found = await client.send(new cw.DescribeAlarmsCommand({ AlarmNames: [alarm] }));
  const history = await client.send(new cw.DescribeAlarmHistoryCommand({ AlarmName: alarm,
    HistoryItemType: "StateUpdate" }));
  const metrics = await client.send(new cw.ListMetricsCommand({ Namespace: namespace }));
  return { protocol: "query", metrics: metrics.Metrics.map((m) => m.MetricName),
           alarms: found.MetricAlarms.map((a) => [a.AlarmName, a.StateValue, a.StateReason]),
           history: history.AlarmHistoryItems.map((h) => h.HistorySummary) };
};
"""
CLOUDWATCH_FUNCTIONS = {
    "python3.10": ({"index.py": CLOUDWATCH_PYTHON}, "smithy-rpc-v2-cbor"),
    "python3.12": ({"index.py": CLOUDWATCH_PYTHON}, "smithy-rpc-v2-cbor"),
    "nodejs20.x": ({"index.js": CLOUDWATCH_NODE}, "query"),
}


@pytest.mark.parametrize("runtime", sorted(CLOUDWATCH_FUNCTIONS))
def test_cloudwatch_metrics_and_alarms_with_the_runtime_stock_sdk(aws, functions, runtime):
    files, protocol = CLOUDWATCH_FUNCTIONS[runtime]
    name = functions(runtime, files, Timeout=30)
    namespace, alarm = f"Probe/{uuid.uuid4().hex[:8]}", f"probes-{uuid.uuid4().hex[:8]}"

    response, result = invoke(aws, name, {"namespace": namespace, "alarm": alarm})

    assert "FunctionError" not in response, result
    assert result["protocol"] == protocol and result["metrics"] == ["Probes"]
    # the engine's own evaluation (Sum 3 > 1) may set ALARM too, before or after SetAlarmState
    assert [state[:2] for state in result["alarms"]] == [[alarm, "ALARM"]]
    assert result["alarms"][0][2] == "three probes" or result["alarms"][0][2].startswith("Threshold Crossed")
    assert "Alarm updated from INSUFFICIENT_DATA to ALARM" in result["history"]


# --- Node.js ---------------------------------------------------------------------------------

NODE_ASYNC = """
const { S3Client, ListBucketsCommand } = require("@aws-sdk/client-s3");
const shared = (() => { try { return require("shared"); } catch { return null; } })();
exports.handler = async (event, context) => {
  console.log("marker", event.marker);
  if (event.action === "fail") { const e = new TypeError("asked to fail"); throw e; }
  if (event.action === "sleep") { await new Promise((r) => setTimeout(r, event.ms)); }
  if (event.action === "hog") { const hog = []; for (;;) hog.push(new Array(1e6).fill(Math.random())); }
  if (event.action === "sdk") {
    const out = await new S3Client({}).send(new ListBucketsCommand({}));
    return { buckets: out.Buckets.map((b) => b.Name) };
  }
  return {
    version: process.version, pid: process.pid, shared: shared && shared.value,
    context: { functionName: context.functionName, awsRequestId: context.awsRequestId,
               invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB,
               logGroupName: context.logGroupName, remaining: context.getRemainingTimeInMillis() },
  };
};
"""


@pytest.fixture(scope="module")
def node_function(aws, functions):
    return functions("nodejs20.x", {"index.js": NODE_ASYNC}, Timeout=3, MemorySize=128)


def test_node_async_handler_context_and_warm_reuse(aws, node_function):
    response, result = invoke(aws, node_function)
    assert "FunctionError" not in response, result
    assert result["version"].startswith("v20.")
    context = result["context"]
    assert context["functionName"] == node_function and context["memoryLimitInMB"] == "128"
    assert context["invokedFunctionArn"].endswith(f":function:{node_function}")
    assert context["logGroupName"] == f"/aws/lambda/{node_function}" and uuid.UUID(context["awsRequestId"])
    assert 0 < context["remaining"] <= 3000
    assert invoke(aws, node_function)[1]["pid"] == result["pid"]


def test_node_errors_have_the_aws_shape(aws, node_function):
    response, error = invoke(aws, node_function, {"action": "fail"}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "TypeError" and error["errorMessage"] == "asked to fail"
    assert error["trace"][0] == "TypeError: asked to fail" and any("index.js" in line for line in error["trace"])
    assert "Invoke Error" in base64.b64decode(response["LogResult"]).decode()


def test_node_timeout_is_enforced_and_the_next_invoke_works(aws, node_function):
    started = time.monotonic()
    _, error = invoke(aws, node_function, {"action": "sleep", "ms": 30000})
    assert time.monotonic() - started < 10
    assert "Task timed out after 3.00 seconds" in error["errorMessage"]
    assert "FunctionError" not in invoke(aws, node_function)[0]


def test_node_sdk_v3_calls_the_engine(aws, node_function):
    bucket = f"rt-{uuid.uuid4().hex[:8]}"
    aws["s3"].create_bucket(Bucket=bucket)
    response, result = invoke(aws, node_function, {"action": "sdk"})
    assert "FunctionError" not in response, result
    assert bucket in result["buckets"]


def test_node_console_reaches_tail_and_cloudwatch(aws, node_function):
    marker = uuid.uuid4().hex
    response, _ = invoke(aws, node_function, {"marker": marker}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"\tINFO\tmarker {marker}" in tail and "REPORT RequestId" in tail
    function_logged(aws["logs"], node_function, marker, what="console.log to reach CloudWatch Logs")


NODE_STREAMING = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const metadata = { statusCode: 201, headers: { "x-streamed": "yes" } };
  const stream = awslambda.HttpResponseStream.from(responseStream, metadata);
  stream.write("Hello,");
  stream.write(" world!");
  stream.end();
});
"""


def test_a_node_streaming_function_answers_through_its_url(aws, functions, engine):
    """AWS's `awslambda` global (LocalStack's test_function_url_with_response_streaming)."""
    name = functions("nodejs20.x", {"index.js": NODE_STREAMING})
    url = aws["lambda"].create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    reply = send(engine, "POST", {"Host": urllib.parse.urlsplit(url["FunctionUrl"]).netloc}, b"{}")
    assert (reply.status, reply.headers.get("x-streamed"), reply.body) == (201, "yes", "Hello, world!")


def test_node_memory_past_the_limit_fails_and_the_environment_recovers(aws, node_function):
    pid = invoke(aws, node_function)[1]["pid"]
    response, error = invoke(aws, node_function, {"action": "hog"})
    assert response["FunctionError"] == "Unhandled"
    # past the RSS limit: killed (Runtime.OutOfMemory); past V8's heap flags first: aborted
    assert error["errorType"] in ("Runtime.OutOfMemory", "Runtime.ExitError"), error
    assert "Runtime exited with error: signal:" in error["errorMessage"]
    response, result = invoke(aws, node_function)
    assert "FunctionError" not in response and result["pid"] != pid


NODE_STYLES = {
    "callback": (
        {
            "index.js": "exports.handler = (event, context, callback) => "
            "{ setTimeout(() => callback(null, { style: 'callback', n: event.n }), 10); };"
        },
        None,
    ),
    "callback error": (
        {"index.js": "exports.handler = (event, context, callback) => callback(new RangeError('cb'));"},
        {"errorType": "RangeError", "errorMessage": "cb"},
    ),
    "esm mjs": (
        {
            "index.mjs": "import { S3Client } from '@aws-sdk/client-s3';\n"
            "export const handler = async (event) => ({ style: 'esm mjs', n: event.n, "
            "sdk: typeof S3Client });"
        },
        None,
    ),
    "esm type module": (
        {
            "package.json": '{"type": "module"}',
            "index.js": "export const handler = async (event) => ({ style: 'esm type module', n: event.n });",
        },
        None,
    ),
    "nested cjs": (
        {"src/app.js": "module.exports.handler = async (event) => ({ style: 'nested cjs', n: event.n });"},
        "src/app.handler",
    ),
    "missing handler": ({"index.js": "exports.other = async () => 1;"}, {"errorType": "Runtime.HandlerNotFound"}),
    "unhandled rejection": (
        {
            "index.js": "exports.handler = () => { Promise.reject(new Error('nobody waits'));"
            " return new Promise(() => {}); };"
        },
        {"errorType": "Runtime.UnhandledPromiseRejection", "errorMessage": "Error: nobody waits"},
    ),
    "uncaught exception": (
        {"index.js": "exports.handler = (e, c, cb) => { setTimeout(() => { throw new SyntaxError('late'); }); };"},
        {"errorType": "SyntaxError", "errorMessage": "late"},
    ),
}


@pytest.mark.parametrize("style", sorted(NODE_STYLES))
def test_node_handler_styles(aws, functions, style):
    files, expected = NODE_STYLES[style]
    handler = expected if isinstance(expected, str) else "index.handler"
    name = functions("nodejs20.x", files, handler=handler)
    response, result = invoke(aws, name, {"n": 7})
    if isinstance(expected, dict):
        assert response["FunctionError"] == "Unhandled"
        assert {key: result[key] for key in expected} == expected
        assert invoke(aws, name)[0]["FunctionError"] == "Unhandled"  # the environment still answers
    else:
        assert "FunctionError" not in response, result
        assert result["style"] == style and result["n"] == 7
        if style == "esm mjs":
            assert result["sdk"] == "function"  # the SDK resolves from an ES module too


@pytest.mark.parametrize("runtime", ["nodejs18.x", "nodejs22.x"])
def test_node_runtimes_run_on_their_own_node_major(aws, functions, runtime):
    name = functions(runtime, {"index.mjs": "export const handler = async () => process.version;"}, wait=False)
    config = wait_active(aws["lambda"], name)
    if config["State"] == "Failed":
        assert runtime in config["StateReason"] and "make install-runtimes" in config["StateReason"]
        pytest.skip(config["StateReason"])
    response, version = invoke(aws, name)
    assert "FunctionError" not in response, version
    assert version.startswith("v" + runtime.removeprefix("nodejs").removesuffix(".x") + ".")


def test_node_layers_in_order_and_per_major_folders(aws, functions):
    first = publish_layer(
        aws,
        {
            "nodejs/node_modules/shared/index.js": "module.exports = { value: 'first' };",
            "nodejs/node_modules/only-first/index.js": "module.exports = 'only first';",
        },
        ["nodejs20.x"],
    )
    second = publish_layer(
        aws,
        {
            "nodejs/node_modules/shared/index.js": "module.exports = { value: 'second' };",
            "nodejs/node20/node_modules/major/index.js": "module.exports = 'node20 folder';",
        },
        ["nodejs20.x"],
    )
    source = (
        "const shared = require('shared');\n"
        "exports.handler = async () => [shared.value, require('only-first'), require('major')];"
    )
    esm = "import shared from 'shared';\nexport const handler = async () => shared.value;"
    name = functions("nodejs20.x", {"index.js": source, "esm.mjs": esm}, Layers=[first, second])
    assert invoke(aws, name)[1] == ["second", "only first", "node20 folder"]
    esm_name = functions("nodejs20.x", {"esm.mjs": esm}, handler="esm.handler", Layers=[first])
    assert invoke(aws, esm_name)[1] == "first"
    aws["lambda"].update_function_configuration(FunctionName=esm_name, Layers=[second])
    wait_updated(aws["lambda"], esm_name)
    assert invoke(aws, esm_name)[1] == "second"


def test_s3_upload_triggers_a_node_function_that_writes_dynamodb_with_sdk_v3(aws, functions):
    suffix = uuid.uuid4().hex[:8]
    bucket, table = f"rt-uploads-{suffix}", f"rt-uploads-{suffix}"
    aws["s3"].create_bucket(Bucket=bucket)
    aws["dynamodb"].create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
    )
    source = """
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export const handler = async (event) => {
  for (const record of event.Records) {
    await documents.send(new PutCommand({ TableName: process.env.TABLE, Item: {
      key: decodeURIComponent(record.s3.object.key.replace(/\\+/g, " ")), size: record.s3.object.size } }));
  }
};
"""
    name = functions("nodejs20.x", {"index.mjs": source}, Environment={"Variables": {"TABLE": table}})
    arn = aws["lambda"].get_function_configuration(FunctionName=name)["FunctionArn"]
    aws["lambda"].add_permission(
        FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com"
    )
    aws["s3"].put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    aws["s3"].put_object(Bucket=bucket, Key="photos/cat 1.jpg", Body=b"12345")
    item = wait_for(
        lambda: aws["dynamodb"].get_item(TableName=table, Key={"key": {"S": "photos/cat 1.jpg"}}).get("Item"),
        timeout=30,
        interval=0.5,
        what="the Node.js function to write the upload's item",
    )
    assert item["size"] == {"N": "5"}


@pytest.mark.parametrize("runtime", ["python3.11", "nodejs20.x"])
def test_a_payload_the_worker_cannot_handle_fails_only_that_invocation(aws, functions, runtime):
    files = (
        {"index.py": "import os\ndef handler(event, context):\n    return os.getpid()\n"}
        if runtime.startswith("python")
        else {"index.js": "exports.handler = async (event) => process.pid;"}
    )
    name = functions(runtime, files)
    pid = invoke(aws, name)[1]
    deep = "[" * 100_000 + "]" * 100_000
    response = aws["lambda"].invoke(FunctionName=name, Payload=deep)
    outcome = json.loads(response["Payload"].read())
    if runtime.startswith("python"):  # Python's parser gives up; V8 parses it and the handler runs
        assert response["FunctionError"] == "Unhandled" and outcome["errorType"] == "Runtime.UnmarshalError"
    else:
        assert "FunctionError" not in response and outcome == pid
    assert invoke(aws, name)[1] == pid  # the same worker: the environment was not taken down


def test_node_missing_dependency_is_an_import_error_naming_it(aws, functions):
    name = functions(
        "nodejs20.x", {"index.js": "const x = require('not-installed');\nexports.handler = async () => x;"}
    )
    response, error = invoke(aws, name)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError" and "'not-installed'" in error["errorMessage"]


TERRAFORM_LAYERED_FUNCTION = """
resource "aws_lambda_layer_version" "greet" {
  layer_name          = var.name
  filename            = "layer.zip"
  source_code_hash    = filebase64sha256("layer.zip")
  compatible_runtimes = ["nodejs20.x"]
}

resource "aws_lambda_function" "greeter" {
  function_name    = var.name
  role             = "arn:aws:iam::000000000000:role/runtimes"
  runtime          = "nodejs20.x"
  handler          = "index.handler"
  filename         = "function.zip"
  source_code_hash = filebase64sha256("function.zip")
  layers           = [aws_lambda_layer_version.greet.arn]
}

variable "name" { type = string }
"""


def test_a_terraform_layer_version_reaches_the_function(aws, tmp_path):
    """One apply (the provider is slow to start and poll; a layer update is covered above
    with the API); clean-up through the API, which is quicker than `destroy`."""
    tflocal = stack.tflocal()
    shutil.copy(ROOT / "versions.tf", tmp_path / "versions.tf")
    (tmp_path / "main.tf").write_text(TERRAFORM_LAYERED_FUNCTION)
    (tmp_path / "function.zip").write_bytes(
        zipped({"index.js": "exports.handler = async (e) => require('greet')(e.name);"})
    )
    (tmp_path / "layer.zip").write_bytes(
        zipped({"nodejs/node_modules/greet/index.js": "module.exports = (n) => `hello ${n}`;"})
    )
    name = f"rt-tf-{uuid.uuid4().hex[:8]}"
    for step in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false", f"-var=name={name}"]):
        result = subprocess.run([tflocal, *step], cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    try:
        assert invoke(aws, name, {"name": "terraform"})[1] == "hello terraform"
    finally:
        aws["lambda"].delete_function(FunctionName=name)
        aws["lambda"].delete_layer_version(LayerName=name, VersionNumber=1)


def test_status_counts_the_lambda_workers(aws, node_function):
    from tests.support.engine import ctl

    invoke(aws, node_function)  # at least this environment is warm
    out = ctl("status").stdout
    if "started by this project" not in out:
        pytest.skip("the engine answering was not started by this project: its processes are not ours to count")
    workers = re.search(r"\+ (\d+) Lambda workers? (\d+) MB", out)
    assert workers, out
    assert int(workers.group(1)) >= 1 and int(workers.group(2)) > 0


INIT_FAILURES = {
    "python exits": ("python3.11", {"index.py": "import sys\nsys.exit(3)\n"}, "Runtime.ExitError", "exit status 3"),
    "python out of memory": (
        "python3.11",
        {"index.py": "hog = b'x' * (400 * 1024 * 1024)\n"},
        "Runtime.OutOfMemory",
        "signal: killed",
    ),
    "node exits": ("nodejs20.x", {"index.js": "process.exit(4);"}, "Runtime.ExitError", "exit status 4"),
}


@pytest.mark.parametrize("case", sorted(INIT_FAILURES))
def test_init_code_that_exits_fails_the_invoke_in_the_aws_shape(aws, functions, case):
    runtime, files, error_type, reason = INIT_FAILURES[case]
    name = functions(runtime, files)
    for _ in range(2):  # and again: each invoke tries a fresh start
        response, error = invoke(aws, name)
        assert response["FunctionError"] == "Unhandled"
        assert error["errorType"] == error_type
        assert error["errorMessage"].endswith(f"Error: Runtime exited with error: {reason}")
