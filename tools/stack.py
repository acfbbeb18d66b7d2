"""The deployed stack seen from outside: Terraform (through tflocal) and its outputs.

    python -m tools.stack outputs     what `make outputs` prints
"""

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from python_terraform import IsFlagged, IsNotFlagged, Terraform

ROOT = Path(__file__).resolve().parent.parent


class StackError(Exception):
    pass


def terraform() -> Terraform:
    """python-terraform driving tflocal, which adds the LocalStack endpoint overrides."""
    tflocal = shutil.which("tflocal") or str(ROOT / ".venv" / "bin" / "tflocal")
    return Terraform(working_dir=str(ROOT), terraform_bin_path=tflocal)


def _check(step: str, result: tuple) -> str:
    code, out, err = result
    if code != 0:
        raise StackError(f"tflocal {step} failed (exit {code}):\n{out[-3000:]}\n{err[-3000:]}")
    return out


def init() -> None:
    _check("init", terraform().init(input=False, reconfigure=IsNotFlagged, upgrade=False, capture_output=True))


def apply() -> str:
    init()
    return _check("apply", terraform().apply(skip_plan=True, input=False, capture_output=True))


def plan_changes() -> tuple[bool, str]:
    """(changes pending?, plan output), from `plan -detailed-exitcode`."""
    code, out, err = terraform().plan(input=False, detailed_exitcode=True, capture_output=True)
    if code not in (0, 2):
        raise StackError(f"tflocal plan failed (exit {code}):\n{out[-3000:]}\n{err[-3000:]}")
    return code == 2, out


def destroy() -> str:
    return _check("destroy", terraform().destroy(input=False, auto_approve=True, force=IsNotFlagged, capture_output=True))


@dataclass(frozen=True)
class Outputs:
    raw: dict

    def __getitem__(self, name):
        return self.raw[name]

    @property
    def api_url(self) -> str:
        """The API in LocalStack's form (API Gateway's own hostnames do not resolve here)."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566")
        return f"{endpoint}/restapis/{self['api_id']}/{self['api_stage']}/_user_request_"


def outputs() -> Outputs:
    code, out, err = terraform().output_cmd(json=IsFlagged, capture_output=True)
    if code != 0 or not json.loads(out or "{}"):
        raise StackError("no Terraform outputs: is the stack applied? (make apply)\n" + (err or "")[-1000:])
    return Outputs({name: value["value"] for name, value in json.loads(out).items()})


def print_outputs() -> None:
    found = outputs()
    print(f"API URL (LocalStack): {found.api_url}")
    print(f"API id / stage      : {found['api_id']} / {found['api_stage']}")
    for group in ("buckets", "tables", "functions"):
        for role, name in sorted(found[group].items()):
            print(f"{group[:-1]:<9} {role:<22}: {name}")
    for name in ("notifications_queue_url", "notifications_dlq_url", "notifications_subscriber_queue_url",
                 "image_processor_dlq_url", "topic_arn"):
        print(f"{name:<34}: {found[name]}")


if __name__ == "__main__":
    if sys.argv[1:] != ["outputs"]:
        sys.exit(__doc__)
    try:
        print_outputs()
    except StackError as exc:
        sys.exit(f"[outputs] {exc}")
