"""What Invoke answers when a function fails: the payloads of AWS's runtime interface clients
(awslambdaric for Python, aws-lambda-nodejs-runtime-interface-client for Node.js), as
LocalStack's snapshot tests recorded them against AWS, for errors the handler raises and for
errors of the init (the module, the handler name). Against the real engine over HTTP."""

import base64
import uuid

import pytest

from tests.engine.test_runtimes import aws, functions, invoke  # noqa: F401  (fixtures)
from tests.support.waiting import wait_for

PYTHON = "python3.12"
NODE = "nodejs20.x"


def request_id(response: dict) -> str:
    return response["ResponseMetadata"]["RequestId"]


def log_tail(response: dict) -> str:
    return base64.b64decode(response["LogResult"]).decode()


def failed_init(aws, functions, runtime: str, cases: dict, case: str) -> tuple[dict, str, str, str]:  # noqa: F811
    """(error, log, expected type, expected message) of the first invoke of a function whose
    init fails, the REPORT saying so."""
    files, handler, error_type, message = cases[case]
    response, error = invoke(aws, functions(runtime, files, handler=handler), LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert f"Status: error\tError Type: {error_type}" in log_tail(response)
    return error, log_tail(response), error_type, message


# --- Python ---------------------------------------------------------------------------------


def test_a_python_handler_exception_is_answered_as_awslambdaric_answers_it(aws, functions):  # noqa: F811
    source = "def handler(event, context):\n    raise Exception(f\"Failed: {event['error_msg']}\")\n"
    name = functions(PYTHON, {"index.py": source})

    response, error = invoke(aws, name, {"error_msg": "some_error_msg"}, LogType="Tail")

    assert response["FunctionError"] == "Unhandled"
    assert error == {
        "errorMessage": "Failed: some_error_msg",
        "errorType": "Exception",
        "requestId": request_id(response),
        # the function's file where AWS's sandbox has it; none of the runtime's own frames
        "stackTrace": [
            '  File "/var/task/index.py", line 2, in handler\n    raise Exception(f"Failed: {event[\'error_msg\']}")\n'
        ],
    }
    tail = log_tail(response)
    assert "[ERROR] Exception: Failed: some_error_msg\nTraceback (most recent call last):\n" in tail
    assert '\u00a0\u00a0File "/var/task/index.py", line 2, in handler' in tail


PYTHON_INIT_ERRORS = {
    "the module raises": (
        {"index.py": 'raise Exception("Runtime startup fails")\n'},
        "index.handler",
        "Exception",
        "Runtime startup fails",
    ),
    "no such module": (
        {"index.py": ""},
        "missing.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'missing': No module named 'missing'",
    ),
    "a missing dependency": (
        {"index.py": "import not_installed\n"},
        "index.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'index': No module named 'not_installed'",
    ),
    "a syntax error": (
        {"index.py": "def handler(event, context):\n    return {\n"},
        "index.handler",
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'index': '{' was never closed (index.py, line 2)",
    ),
    "no such handler": (
        {"app/index.py": "def other(event, context):\n    return 1\n"},
        "app/index.handler",
        "Runtime.HandlerNotFound",
        "Handler 'handler' missing on module 'app/index'",
    ),
    "a handler name without a function": (
        {"index.py": ""},
        "index",
        "Runtime.MalformedHandlerName",
        "Bad handler 'index': not enough values to unpack (expected 2, got 1)",
    ),
    "a built-in module": (
        {"index.py": ""},
        "sys.handler",
        "Runtime.BuiltInModuleConflict",
        "Cannot use built-in module sys as a handler module",
    ),
}


@pytest.mark.parametrize("case", sorted(PYTHON_INIT_ERRORS))
def test_a_python_init_error_is_answered_as_awslambdaric_answers_it(aws, functions, case):  # noqa: F811
    error, log, error_type, message = failed_init(aws, functions, PYTHON, PYTHON_INIT_ERRORS, case)

    # the init's error: no request id (it is the init's, not an invocation's)
    assert {key: error[key] for key in ("errorType", "errorMessage", "requestId")} == {
        "errorType": error_type,
        "errorMessage": message,
        "requestId": "",
    }
    if case == "the module raises":  # the import's frames, down to the function's line
        assert error["stackTrace"][0].startswith('  File "') and "in import_module" in error["stackTrace"][0]
        assert error["stackTrace"][-1] == (
            '  File "/var/task/index.py", line 1, in <module>\n    raise Exception("Runtime startup fails")\n'
        )
    elif case == "a syntax error":
        assert error["stackTrace"] == ['  File "/var/task/index.py" Line 2\n        return {\n']
    else:
        assert error["stackTrace"] == []
    assert f"[ERROR] {error_type}: {message}" in log


def test_a_failed_init_is_tried_again_at_the_next_invoke(aws, functions):  # noqa: F811
    """As on AWS: an init error does not stay with the environment; the next invoke runs the
    init again, and once what it needed exists, the function works."""
    bucket = f"init-retry-{uuid.uuid4().hex[:8]}"
    aws["s3"].create_bucket(Bucket=bucket)
    source = (
        "import os, boto3\n"
        'SETTINGS = boto3.client("s3").get_object(Bucket=os.environ["BUCKET"], Key="settings")["Body"].read()\n'
        "def handler(event, context):\n    return SETTINGS.decode()\n"
    )
    name = functions(PYTHON, {"index.py": source}, Environment={"Variables": {"BUCKET": bucket}})

    response, error = invoke(aws, name)
    assert response["FunctionError"] == "Unhandled" and error["errorType"] == "NoSuchKey"

    aws["s3"].put_object(Bucket=bucket, Key="settings", Body=b"ready")
    response, result = invoke(aws, name)
    assert "FunctionError" not in response, result
    assert result == "ready"


def test_provisioned_concurrency_whose_init_fails_is_failed_and_invokes_run_on_demand(aws, functions):  # noqa: F811
    """As on AWS (LocalStack's test_provisioned_concurrency_init_failure): the provisioned
    environment's failed init fails the configuration, not a later invoke."""
    source = (
        "import os\n"
        'INIT_TYPE = os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]\n'
        'if INIT_TYPE == "provisioned-concurrency":\n    raise Exception("fails only when provisioned")\n'
        "def handler(event, context):\n    return INIT_TYPE\n"
    )
    name = functions(PYTHON, {"index.py": source}, Publish=True)
    lam = aws["lambda"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)

    def settled():
        found = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
        return found if found["Status"] != "IN_PROGRESS" else None

    found = wait_for(settled, timeout=60, what=f"{name}'s provisioned concurrency to settle")
    assert (found["Status"], found.get("StatusReason")) == ("FAILED", "FUNCTION_ERROR_INIT_FAILURE")
    response, result = invoke(aws, name, Qualifier="1")
    assert "FunctionError" not in response, result
    assert result == "on-demand"


def test_a_python_runtime_that_exits_with_status_0_gives_no_reason(aws, functions):  # noqa: F811
    name = functions(PYTHON, {"index.py": "import sys\ndef handler(event, context):\n    sys.exit(0)\n"})
    response, error = invoke(aws, name)
    assert response["FunctionError"] == "Unhandled"
    assert error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id(response)} Error: Runtime exited without providing a reason",
    }


def test_an_unserialisable_python_result_is_a_marshal_error_of_the_invocation(aws, functions):  # noqa: F811
    name = functions(PYTHON, {"index.py": "def handler(event, context):\n    return {1, 2}\n"})
    response, error = invoke(aws, name)
    assert response["FunctionError"] == "Unhandled"
    assert error == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": request_id(response),
        "stackTrace": [],
    }


# --- Node.js --------------------------------------------------------------------------------


def test_a_node_handler_error_is_answered_as_the_node_runtime_answers_it(aws, functions):  # noqa: F811
    source = "exports.handler = async function(event) {\n  throw Error(`Error: ${event.error_msg}`);\n};\n"
    name = functions(NODE, {"index.js": source})

    response, error = invoke(aws, name, {"error_msg": "some_error_msg"}, LogType="Tail")

    assert response["FunctionError"] == "Unhandled"
    assert sorted(error) == ["errorMessage", "errorType", "trace"]
    assert (error["errorType"], error["errorMessage"]) == ("Error", "Error: some_error_msg")
    assert error["trace"][0] == "Error: Error: some_error_msg"
    assert "(/var/task/index.js:2:9)" in error["trace"][1]
    assert '\tERROR\tInvoke Error \t{"errorType":"Error","errorMessage":"Error: some_error_msg"' in log_tail(response)


NODE_INIT_ERRORS = {
    "the module throws": (
        {"index.js": "throw new TypeError('init fails');\n"},
        "index.handler",
        "TypeError",
        "init fails",
    ),
    "no such module": (
        {"index.js": ""},
        "missing.handler",
        "Runtime.ImportModuleError",
        "Error: Cannot find module 'missing'",
    ),
    "a syntax error": (
        {"index.js": "exports.handler = async (event) => {\n"},
        "index.handler",
        "Runtime.UserCodeSyntaxError",
        "SyntaxError: Unexpected end of input",
    ),
    "no such handler": (
        {"app/index.js": "exports.other = async () => 1;\n"},
        "app/index.handler",
        "Runtime.HandlerNotFound",
        "app/index.handler is undefined or not exported",
    ),
    "a handler that is not a function": (
        {"index.js": "exports.handler = 42;\n"},
        "index.handler",
        "Runtime.HandlerNotFound",
        "index.handler is not a function",
    ),
    "a handler name without a function": ({"index.js": ""}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
}


@pytest.mark.parametrize("case", sorted(NODE_INIT_ERRORS))
def test_a_node_init_error_is_answered_as_the_node_runtime_answers_it(aws, functions, case):  # noqa: F811
    error, log, error_type, message = failed_init(aws, functions, NODE, NODE_INIT_ERRORS, case)

    assert error["errorType"] == error_type
    # a module not found names the engine's worker in its require stack, where AWS names its runtime
    assert error["errorMessage"].split("\nRequire stack:")[0] == message
    assert error["trace"][0].startswith(f"{error_type}: {message.splitlines()[0]}")
    assert f'\tERROR\tUncaught Exception \t{{"errorType":"{error_type}"' in log


NODE_FAILURES_WITHOUT_AN_ERROR = {
    "context.fail()": "exports.handler = (event, context) => context.fail();",
    "a rejection with nothing": "exports.handler = async () => { throw undefined; };",
}


@pytest.mark.parametrize("case", sorted(NODE_FAILURES_WITHOUT_AN_ERROR))
def test_a_node_failure_without_an_error_is_the_runtimes_handled(aws, functions, case):  # noqa: F811
    name = functions(NODE, {"index.js": NODE_FAILURES_WITHOUT_AN_ERROR[case]})
    response, error = invoke(aws, name)
    assert response["FunctionError"] == "Unhandled"
    assert error == {"errorType": "string", "errorMessage": "handled", "trace": []}


def test_a_node_result_that_cannot_be_serialised_is_the_runtimes_plain_error(aws, functions):  # noqa: F811
    name = functions(NODE, {"index.js": "exports.handler = async () => { const a = {}; a.self = a; return a; };"})
    response, error = invoke(aws, name)
    assert response["FunctionError"] == "Unhandled"
    assert (error["errorType"], error["errorMessage"]) == ("Error", "Unable to stringify response body")
    assert error["trace"][0] == "Error: Unable to stringify response body"
