"""Group lambda: warm and cold invokes of a trivial function, Node.js beside Python, what a
layer adds to a cold start."""

import io
import json
import statistics
import uuid
import zipfile

import boto3

from bench.harness import (
    percentile,
    row,
    timed,
)
from tools import stack

TRIVIAL = "def handler(event, context):\n    return {'echo': event.get('n')}\n"


def trivial_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("trivial.py", TRIVIAL)
    return buffer.getvalue()


def bench_lambda(lam) -> None:
    name = f"bench-trivial-{uuid.uuid4().hex[:6]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="trivial.handler",
        Role="arn:aws:iam::000000000000:role/bench",
        Code={"ZipFile": trivial_zip()},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    cold, _ = timed(lam.invoke, FunctionName=name, Payload=b'{"n": 0}')
    samples = []
    for n in range(200):
        seconds, response = timed(lam.invoke, FunctionName=name, Payload=json.dumps({"n": n}).encode())
        response["Payload"].read()
        samples.append(seconds * 1000)
    namespace: dict = {}
    exec(TRIVIAL, namespace)
    in_process = [timed(namespace["handler"], {"n": n}, None)[0] * 1000 for n in range(200)]
    p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
    row(
        "Lambda warm invoke (200)",
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        f"in-process p50 {percentile(in_process, 0.5) * 1000:.1f} µs",
        "p50 < 30 ms",
        p50 < 30,
        p50_ms=p50,
        p99_ms=p99,
    )

    def cold_start(function_name: str, payload: bytes) -> float:
        lam.update_function_configuration(
            FunctionName=function_name, Environment={"Variables": {"BENCH": uuid.uuid4().hex}}
        )
        lam.get_waiter("function_updated_v2").wait(FunctionName=function_name)
        seconds, response = timed(lam.invoke, FunctionName=function_name, Payload=payload)
        response["Payload"].read()
        return seconds * 1000

    trivial_cold = cold_start(name, b'{"n": 1}')
    lam.delete_function(FunctionName=name)
    outputs = stack.outputs()
    image_fn = outputs["functions"]["image_processor"]
    current_env = lam.get_function_configuration(FunctionName=image_fn)["Environment"]["Variables"]
    # a direct payload naming a missing object: the cost is the import of Pillow + boto3, not the work
    pillow_cold = cold_start(
        image_fn, json.dumps({"bucket": outputs["buckets"]["original"], "key": "bench/none"}).encode()
    )
    lam.update_function_configuration(FunctionName=image_fn, Environment={"Variables": current_env})
    lam.get_waiter("function_updated_v2").wait(FunctionName=image_fn)
    row(
        "Lambda cold start",
        f"trivial {trivial_cold:.0f} ms, with Pillow (image processor) {pillow_cold:.0f} ms",
        f"first invoke of a new function {cold * 1000:.0f} ms",
        "report",
        None,
    )


TRIVIAL_NODE = "exports.handler = async (event) => ({ echo: event.n });\n"


# A layer shaped like a small dependency tree: 400 modules of 8 kB (3.2 MB).
LAYER_FILES = 400


def _zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _fresh_environment_invoke(lam, name: str, payload: bytes) -> float:
    """Milliseconds of the first invoke after a configuration change (a new environment)."""
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"BENCH": uuid.uuid4().hex}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    seconds, response = timed(lam.invoke, FunctionName=name, Payload=payload)
    response["Payload"].read()
    return seconds * 1000


def bench_lambda_runtimes(lam, samples: int = 200, colds: int = 5) -> None:
    """Node.js warm invokes and cold starts next to Python's, and what a layer adds to a cold start."""
    suffix = uuid.uuid4().hex[:6]
    functions = {
        "python": dict(
            Runtime="python3.11", Handler="trivial.handler", Code={"ZipFile": _zip({"trivial.py": TRIVIAL})}
        ),
        "node": dict(Runtime="nodejs20.x", Handler="index.handler", Code={"ZipFile": _zip({"index.js": TRIVIAL_NODE})}),
    }
    layer = lam.publish_layer_version(
        LayerName=f"bench-layer-{suffix}",
        Content={"ZipFile": _zip({f"python/benchdeps/m{i}.py": "# " + "x" * 8192 + "\n" for i in range(LAYER_FILES)})},
    )["LayerVersionArn"]
    functions["python with layer"] = {**functions["python"], "Layers": [layer]}
    warm, cold = {}, {}
    for kind, spec in functions.items():
        name = f"bench-{kind.replace(' ', '-')}-{suffix}"
        lam.create_function(FunctionName=name, Role="arn:aws:iam::000000000000:role/bench", **spec)
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        cold[kind] = sorted(_fresh_environment_invoke(lam, name, b'{"n": 0}') for _ in range(colds))
        warm[kind] = []
        for n in range(samples):
            seconds, response = timed(lam.invoke, FunctionName=name, Payload=json.dumps({"n": n}).encode())
            response["Payload"].read()
            warm[kind].append(seconds * 1000)
        lam.delete_function(FunctionName=name)
    lam.delete_layer_version(LayerName=f"bench-layer-{suffix}", VersionNumber=1)
    p50 = {kind: percentile(values, 0.5) for kind, values in warm.items()}
    p99 = {kind: percentile(values, 0.99) for kind, values in warm.items()}
    row(
        f"Node.js warm invoke ({samples})",
        f"p50 {p50['node']:.1f} ms, p99 {p99['node']:.1f} ms",
        f"Python p50 {p50['python']:.1f} ms, p99 {p99['python']:.1f} ms",
        "p50 < 30 ms",
        p50["node"] < 30,
        p50_ms=p50["node"],
        p99_ms=p99["node"],
        python_p50_ms=p50["python"],
        python_p99_ms=p99["python"],
    )
    median = {kind: statistics.median(values) for kind, values in cold.items()}
    row(
        f"Node.js cold start (median of {colds})",
        f"{median['node']:.0f} ms",
        f"Python {median['python']:.0f} ms",
        "report",
        None,
        node_ms=cold["node"],
        python_ms=cold["python"],
    )
    added = median["python with layer"] - median["python"]
    row(
        f"Layer cost on a cold start ({LAYER_FILES} files)",
        f"+{added:.0f} ms ({median['python with layer']:.0f} ms)",
        f"no layer {median['python']:.0f} ms",
        "< +50 ms",
        added < 50,
        layer_ms=cold["python with layer"],
    )


def group(context: dict, args) -> None:
    lam = boto3.client("lambda")
    bench_lambda(lam)
    bench_lambda_runtimes(lam, samples=args.lambda_samples)
