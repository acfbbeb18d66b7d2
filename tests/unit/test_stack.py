"""tools/stack.py: a later apply keeps the deployed api_auth unless it sets it; outputs of a stack
the engine no longer holds are refused."""

import json

import pytest

from tools import stack


@pytest.fixture
def deployed_with(tmp_path, monkeypatch):
    def deploy(api_auth: str):
        state = tmp_path / "terraform.tfstate"
        state.write_text(json.dumps({"outputs": {"api_auth": {"value": api_auth, "type": "string"}}}))
        monkeypatch.setattr(stack, "STATE_FILE", state)
        monkeypatch.setattr(stack, "STACK_DIR", tmp_path)
        monkeypatch.delenv("TF_VAR_api_auth", raising=False)
        return tmp_path

    return deploy


@pytest.mark.parametrize("mode", ["api_key", "iam", "none"])
def test_a_plain_apply_keeps_the_deployed_mode(deployed_with, mode, capsys):
    deployed_with(mode)
    assert stack.kept_variables() == {"api_auth": mode}
    assert f"keeping api_auth = {mode}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "terraform_args", [["-var=api_auth=none"], ["-var", "api_auth=none"], ["-var-file=prod.tfvars"]]
)
def test_an_apply_that_sets_the_mode_on_the_command_line_wins(deployed_with, terraform_args):
    deployed_with("api_key")
    assert stack.kept_variables(terraform_args=terraform_args) == {}


def test_an_explicit_variable_of_the_call_wins(deployed_with):
    deployed_with("api_key")
    assert stack.kept_variables({"api_auth": "none"}) == {}


def test_the_environment_or_a_tfvars_file_wins(deployed_with, monkeypatch):
    root = deployed_with("iam")
    monkeypatch.setenv("TF_VAR_api_auth", "none")
    assert stack.kept_variables() == {}
    monkeypatch.delenv("TF_VAR_api_auth")
    (root / "local.auto.tfvars").write_text('api_auth = "none"\n')
    assert stack.kept_variables() == {}


@pytest.mark.parametrize(
    "endpoint, expected",
    [
        ("http://localhost:4566", "http://localhost:4566"),
        ("http://localhost:4630", "http://localhost:4630"),
        ("http://127.0.0.1:5500/", "http://127.0.0.1:5500"),
        ("https://localhost.localstack.cloud:4566", "https://localhost.localstack.cloud:4566"),
        ("http://localhost", "http://localhost"),
    ],
)
def test_the_cors_origin_is_the_engines_own(deployed_with, monkeypatch, endpoint, expected):
    deployed_with("none")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.delenv("TF_VAR_cors_allow_origin", raising=False)
    assert stack.applied_variables()["cors_allow_origin"] == expected
    assert stack.applied_variables({"cors_allow_origin": "https://x.example"}).get("cors_allow_origin") is None
    assert "cors_allow_origin" not in stack.applied_variables(terraform_args=["-var=cors_allow_origin=*"])
    monkeypatch.setenv("TF_VAR_cors_allow_origin", "https://dashboard.example.com")
    assert "cors_allow_origin" not in stack.applied_variables()


def test_nothing_deployed_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(stack, "STATE_FILE", tmp_path / "missing.tfstate")
    assert stack.kept_variables() == {}


def test_outputs_of_an_api_the_engine_does_not_hold_are_refused(monkeypatch):
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("apigateway", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: client)
    with Stubber(client) as stub:
        stub.add_response("get_rest_api", {"id": "kept123", "name": "roxs"}, {"restApiId": "kept123"})
        stack._check_api_exists(stack.Outputs({"api_id": "kept123"}))
        stub.add_client_error("get_rest_api", "NotFoundException", http_status_code=404)
        with pytest.raises(stack.StackError, match="has no API gone123.*make apply"):
            stack._check_api_exists(stack.Outputs({"api_id": "gone123"}))
