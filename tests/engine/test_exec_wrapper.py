"""AWS_LAMBDA_EXEC_WRAPPER: the runtime started through the wrapper as AWS's runtime bootstrap
starts it (the wrapper exec'd with the runtime's command line, which it execs in turn), from
the function's code (/var/task) or a layer (/opt); a wrapper that is missing or not executable
fails as on AWS. Against the real engine over HTTP."""

import base64

import pytest

from tests.engine.test_runtimes import Executable, aws, functions, invoke, publish_layer  # noqa: F401  (fixtures)

PROBES = {
    "python3.12": (
        "index.py",
        "import os, sys\n"
        "import vendored\n"
        "def handler(event, context):\n"
        "    return {'variable': os.environ.get('WRAPPER_VAR'), 'option': sys.flags.dev_mode, 'path': vendored.NAME}\n",
        # AWS's example of a wrapper: interpreter options inserted before the last argument
        ["-X", "dev"],
    ),
    "nodejs20.x": (
        "index.js",
        "const vendored = require('vendored');\n"
        "exports.handler = async () => ({ variable: process.env.WRAPPER_VAR, option: Error.stackTraceLimit === 42,"
        " path: vendored.NAME });\n",
        ["--stack-trace-limit=42"],
    ),
}
# Written for AWS: the code's folder by $LAMBDA_TASK_ROOT (/var/task there), output on stdout.
WRAPPER = """#!/bin/bash
echo "wrapper: starting $1"
export WRAPPER_VAR=from-the-wrapper
export PYTHONPATH="$LAMBDA_TASK_ROOT/vendor${{PYTHONPATH:+:$PYTHONPATH}}"
export NODE_PATH="$LAMBDA_TASK_ROOT/vendor${{NODE_PATH:+:$NODE_PATH}}"
args=("$@")
extra_args=({extra})
exec "${{args[@]:0:$#-1}}" "${{extra_args[@]}}" "${{args[@]: -1}}"
"""
VENDORED = {"vendor/vendored.py": "NAME = 'vendored'\n", "vendor/vendored/index.js": "exports.NAME = 'vendored';\n"}


def probe_files(runtime: str) -> dict:
    file, source, extra = PROBES[runtime]
    wrapper = Executable(WRAPPER.format(extra=" ".join(f'"{arg}"' for arg in extra)))
    return {file: source, **VENDORED}, wrapper


@pytest.mark.parametrize("runtime", sorted(PROBES))
def test_a_wrapper_in_the_code_starts_the_runtime_with_its_environment_and_options(aws, functions, runtime):  # noqa: F811
    files, wrapper = probe_files(runtime)
    variables = {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/bin/wrapper"}
    name = functions(runtime, {**files, "bin/wrapper": wrapper}, Environment={"Variables": variables})

    response, result = invoke(aws, name)

    assert "FunctionError" not in response, result
    assert result == {"variable": "from-the-wrapper", "option": True, "path": "vendored"}


@pytest.mark.parametrize("runtime", sorted(PROBES))
def test_a_wrapper_from_a_layer_under_opt(aws, functions, runtime):  # noqa: F811
    files, wrapper = probe_files(runtime)
    layer = publish_layer(aws, {"wrappers/environment": wrapper}, [runtime])
    variables = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrappers/environment"}
    name = functions(runtime, files, Layers=[layer], Environment={"Variables": variables})

    response, result = invoke(aws, name)

    assert "FunctionError" not in response, result
    assert result == {"variable": "from-the-wrapper", "option": True, "path": "vendored"}


UNUSABLE_WRAPPERS = {
    "missing": ("/idontexist.sh", 127, "/idontexist.sh: does not exist"),
    # a file of the system (in AWS's sandbox too): LocalStack makes every file of a code or
    # layer archive executable, where AWS keeps the archive's modes
    "not executable": ("/etc/passwd", 126, "/etc/passwd: is not an executable"),
}


@pytest.mark.parametrize("case", sorted(UNUSABLE_WRAPPERS))
@pytest.mark.parametrize("runtime", sorted(PROBES))
def test_a_wrapper_that_cannot_run_fails_the_invoke_as_on_aws(aws, functions, runtime, case):  # noqa: F811
    path, status, line = UNUSABLE_WRAPPERS[case]
    handler = {"python3.12": {"index.py": "def handler(event, context):\n    return 1\n"}}.get(
        runtime, {"index.js": "exports.handler = async () => 1;"}
    )
    name = functions(runtime, handler, Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": path}})

    for _ in range(2):  # and again: each invoke tries a fresh start
        response, error = invoke(aws, name, LogType="Tail")

        assert response["FunctionError"] == "Unhandled"
        request_id = response["ResponseMetadata"]["RequestId"]
        assert error == {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {status}",
        }
        assert line in base64.b64decode(response["LogResult"]).decode()
