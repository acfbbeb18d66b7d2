"""A later apply keeps the deployed api_auth unless it sets it (tools/stack.py kept_variables)."""

import json

import pytest

from tools import stack


@pytest.fixture
def deployed_with(tmp_path, monkeypatch):
    def deploy(api_auth: str):
        state = tmp_path / "terraform.tfstate"
        state.write_text(json.dumps({"outputs": {"api_auth": {"value": api_auth, "type": "string"}}}))
        monkeypatch.setattr(stack, "STATE_FILE", state)
        monkeypatch.setattr(stack, "ROOT", tmp_path)
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


def test_nothing_deployed_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(stack, "STATE_FILE", tmp_path / "missing.tfstate")
    assert stack.kept_variables() == {}
