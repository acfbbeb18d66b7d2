"""The Terraform is formatted and valid (`terraform fmt -check`, `terraform validate`)."""

import os
import subprocess

from tests.support.terraform import copy_configuration
from tools.stack import ROOT


def terraform(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(["terraform", *args], cwd=cwd, capture_output=True, text=True, env=os.environ.copy())


def test_terraform_is_formatted():
    result = terraform("fmt", "-check", "-recursive", "-diff", cwd=ROOT)
    assert result.returncode == 0, f"run `make fmt`:\n{result.stdout}{result.stderr}"


def test_terraform_validates(tmp_path):
    copy_configuration(tmp_path)  # never touches the working tree's .terraform of tflocal
    init = terraform("init", "-backend=false", "-input=false", cwd=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = terraform("validate", "-no-color", cwd=tmp_path)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "Success" in validate.stdout
