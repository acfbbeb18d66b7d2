"""The deployed stack seen from outside: Terraform (through tflocal) and its outputs.

python -m tools.stack outputs        what `make outputs` prints
python -m tools.stack check-state    set aside a Terraform state the engine does not have
python -m tools.stack deploy [-var=...]   check-state, then apply showing progress and a summary
python -m tools.stack apply-vars     the -var arguments make apply adds (deployed choices kept, the engine's origin)
"""

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from python_terraform import IsFlagged, IsNotFlagged, Terraform

ROOT = Path(__file__).resolve().parent.parent
# Terraform's working directory: the checkout, or a copy of its configuration with a state of
# its own (ROXS_STACK_DIR: a second stack of the test run, tests/conftest.py).
STACK_DIR = Path(os.environ.get("ROXS_STACK_DIR", ROOT))
STATE_FILE = STACK_DIR / "terraform.tfstate"
STALE_STATE_FILE = STACK_DIR / "terraform.tfstate.stale"
APPLY_LOG = STACK_DIR / ".terraform" / "last-apply.log"


class StackError(Exception):
    pass


def tflocal() -> str:
    """The tflocal on PATH (make's, the bench's), else this checkout's."""
    return shutil.which("tflocal") or str(ROOT / ".venv" / "bin" / "tflocal")


def terraform() -> Terraform:
    """python-terraform driving tflocal, which adds the LocalStack endpoint overrides."""
    return Terraform(working_dir=str(STACK_DIR), terraform_bin_path=tflocal())


def _check(step: str, result: tuple) -> str:
    code, out, err = result
    if code != 0:
        raise StackError(f"tflocal {step} failed (exit {code}):\n{out[-3000:]}\n{err[-3000:]}")
    return out


def init() -> None:
    _check("init", terraform().init(input=False, reconfigure=IsNotFlagged, upgrade=False, capture_output=True))


def apply(variables: dict | None = None) -> str:
    check_state()
    init()
    variables = {**applied_variables(variables or {}), **(variables or {})}
    return _check("apply", terraform().apply(skip_plan=True, input=False, capture_output=True, var=variables))


# --- choices a later apply keeps --------------------------------------------------------------
#
# `-var` is not remembered by Terraform: after `tflocal apply -var api_auth=api_key`, a plain
# `make demo` would apply the default again and destroy the API key without a word. A root
# variable listed here keeps its deployed value (read from the state's output of the same
# name) unless this apply sets it: -var, -var-file, TF_VAR_<name> or a tfvars file.
KEPT_VARIABLES = ("api_auth",)
TFVARS_FILES = ("terraform.tfvars", "terraform.tfvars.json", "*.auto.tfvars", "*.auto.tfvars.json")


def _set_for_this_apply(name: str, terraform_args) -> bool:
    if f"TF_VAR_{name}" in os.environ or any(arg.startswith("-var-file") for arg in terraform_args):
        return True
    args = list(terraform_args)
    # -var=name=value, or -var and name=value as two arguments
    if any(arg.startswith(f"-var={name}=") for arg in args) or any(
        arg == "-var" and after.startswith(f"{name}=") for arg, after in itertools.pairwise(args)
    ):
        return True
    pattern = re.compile(rf'^\s*"?{re.escape(name)}"?\s*[=:]', re.MULTILINE)
    return any(pattern.search(path.read_text()) for glob in TFVARS_FILES for path in STACK_DIR.glob(glob))


def kept_variables(explicit: dict | None = None, terraform_args=()) -> dict:
    """name -> deployed value, for the KEPT_VARIABLES this apply does not set."""
    try:
        deployed = json.loads(STATE_FILE.read_text()).get("outputs", {})
    except (OSError, ValueError):
        return {}
    kept = {}
    for name in KEPT_VARIABLES:
        if name in (explicit or {}) or name not in deployed or _set_for_this_apply(name, terraform_args):
            continue
        kept[name] = deployed[name]["value"]
        print(
            f"[stack] keeping {name} = {kept[name]} as deployed (set it with -var={name}=..., TF_VAR_{name} "
            "or terraform.tfvars to change it)",
            file=sys.stderr,
            flush=True,
        )
    return kept


# --- the API's limits for runs that send requests as fast as the engine answers ---------------
#
# The stage's throttle (20 requests/s, burst 40) and the key's daily quota (1,000) are what a
# deployment should have, and the engine enforces them as API Gateway does. The test session
# (schemathesis, hypothesis, concurrent batches, a quota that would outlast one run in a day)
# and bench/ apply AWS's account-level limits instead, still enforced; throttling and quotas
# themselves are tested on APIs of their own (tests/engine/test_api_throttling.py).
LOAD_TEST_VARIABLES = {
    "api_throttle_rate_limit": "10000",
    "api_throttle_burst_limit": "5000",
    "api_key_quota_per_day": "10000000",
}


def load_test_environment() -> dict:
    """TF_VAR_* for LOAD_TEST_VARIABLES: every apply of the process (and tflocal it runs) uses them."""
    return {f"TF_VAR_{name}": value for name, value in LOAD_TEST_VARIABLES.items()}


# --- the engine's origin ------------------------------------------------------------------------
#
# cors_allow_origin defaults to the local dashboard's origin on LocalStack's usual port
# (variables.tf); the engine may answer on another (AWS_ENDPOINT_URL). Applied against an
# engine, the origin is the engine's own, unless this apply sets it. Against AWS (plain
# terraform), the variable is yours to set (docs/deploy-to-aws.md).
ENGINE_ORIGIN_VARIABLE = "cors_allow_origin"


def engine_origin_variables(explicit: dict | None = None, terraform_args=()) -> dict:
    if ENGINE_ORIGIN_VARIABLE in (explicit or {}) or _set_for_this_apply(ENGINE_ORIGIN_VARIABLE, terraform_args):
        return {}
    endpoint = urllib.parse.urlsplit(os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566"))
    return {ENGINE_ORIGIN_VARIABLE: f"{endpoint.scheme}://{endpoint.netloc}"}


def applied_variables(explicit: dict | None = None, terraform_args=()) -> dict:
    """What an apply against the engine adds to the variables it sets."""
    return {**engine_origin_variables(explicit, terraform_args), **kept_variables(explicit, terraform_args)}


def print_applied_variables() -> None:
    print(" ".join(f"-var={name}={value}" for name, value in applied_variables().items()))


def plan_changes() -> tuple[bool, str]:
    """(changes pending?, plan output), from `plan -detailed-exitcode`, with the variables an
    apply adds (the engine's origin, the kept choices): otherwise a stack applied on another
    port, or with api_auth kept, would always show changes."""
    code, out, err = terraform().plan(
        input=False, detailed_exitcode=True, capture_output=True, var=applied_variables() or None
    )
    if code not in (0, 2):
        raise StackError(f"tflocal plan failed (exit {code}):\n{out[-3000:]}\n{err[-3000:]}")
    return code == 2, out


def destroy() -> str:
    return _check(
        "destroy", terraform().destroy(input=False, auto_approve=True, force=IsNotFlagged, capture_output=True)
    )


# --- a Terraform state the engine does not have ------------------------------------------------
#
# A new engine, `make reset`, or a LocalStack container that lost its state: the state file
# still lists every resource. Terraform would refresh each one, find it gone and plan it
# again, which takes far longer than creating the stack (104 s against ~60 s, measured), and
# `-refresh=false` would plan no change at all. So when *none* of the state's resources
# exists in the engine, the state is set aside and the stack is applied from empty. When
# only some are missing, it is drift: Terraform's own refresh recreates them.


def _probes() -> dict:
    """Resource type -> a call that fails with a not-found error if the engine lacks it."""
    import boto3

    clients = {name: boto3.client(name) for name in ("s3", "dynamodb", "sqs", "lambda", "sns", "apigateway", "iam")}
    return {
        "aws_s3_bucket": lambda id_: clients["s3"].head_bucket(Bucket=id_),
        "aws_dynamodb_table": lambda id_: clients["dynamodb"].describe_table(TableName=id_),
        "aws_sqs_queue": lambda id_: clients["sqs"].get_queue_attributes(QueueUrl=id_, AttributeNames=["QueueArn"]),
        "aws_lambda_function": lambda id_: clients["lambda"].get_function_configuration(FunctionName=id_),
        "aws_sns_topic": lambda id_: clients["sns"].get_topic_attributes(TopicArn=id_),
        "aws_api_gateway_rest_api": lambda id_: clients["apigateway"].get_rest_api(restApiId=id_),
        "aws_iam_role": lambda id_: clients["iam"].get_role(RoleName=id_),
    }


def _not_found(error) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or any(word in code for word in ("NotFound", "NoSuch", "NonExistent", "DoesNotExist"))


def engine_has_state(state_file: Path = STATE_FILE) -> tuple[int, int]:
    """(resources of the state found in the engine, resources probed)."""
    from botocore.exceptions import ClientError

    if not state_file.exists():
        return 0, 0
    try:
        resources = json.loads(state_file.read_text()).get("resources", [])
    except ValueError as exc:
        raise StackError(f"{state_file.name} is not readable JSON ({exc}): fix or delete it") from None
    probes = _probes()
    found = probed = 0
    for resource in resources:
        probe = probes.get(resource["type"]) if resource.get("mode") == "managed" else None
        for instance in resource.get("instances", []) if probe else []:
            probed += 1
            try:
                probe(instance["attributes"]["id"])
                found += 1
            except ClientError as exc:
                if not _not_found(exc):
                    raise StackError(f"checking {resource['type']} {instance['attributes']['id']}: {exc}") from None
    return found, probed


def check_state(state_file: Path = STATE_FILE, stale_file: Path = STALE_STATE_FILE) -> None:
    found, probed = engine_has_state(state_file)
    if probed and not found:
        state_file.replace(stale_file)
        print(
            f"[stack] the Terraform state lists {probed} resources the engine does not have (a new or reset "
            f"engine): set aside as {stale_file.name}, deploying from empty",
            flush=True,
        )
    elif found < probed:
        print(
            f"[stack] the engine has {found} of the {probed} checked resources of the Terraform state: "
            "Terraform recreates the missing ones",
            flush=True,
        )


# --- apply with progress ----------------------------------------------------------------------

PLAN_LINE = re.compile(r"^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy")
STARTED = re.compile(r"^(\S+): (Creating|Modifying|Destroying)\.\.\.")
FINISHED = re.compile(r"^(\S+): (Creation|Modifications|Destruction) complete after")
SUMMARY = re.compile(r"^Apply complete! Resources: .*|^No changes\..*")


def deploy(*terraform_args: str) -> None:
    """`tflocal apply` with one progress line and a summary instead of the plan; the whole
    output goes to .terraform/last-apply.log (and is shown if the apply fails)."""
    check_state()
    init()
    kept = [f"-var={name}={value}" for name, value in applied_variables(terraform_args=terraform_args).items()]
    started = time.monotonic()
    total, done, running, summary, last_print = None, 0, {}, "", 0.0
    interactive = sys.stdout.isatty()
    APPLY_LOG.parent.mkdir(exist_ok=True)
    with open(APPLY_LOG, "w") as log:
        process = subprocess.Popen(
            [tflocal(), "apply", "-input=false", "-auto-approve", "-no-color", *kept, *terraform_args],
            cwd=STACK_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in process.stdout:
            log.write(line)
            line = line.strip()
            if match := PLAN_LINE.match(line):
                total = sum(map(int, match.groups()))
                print(
                    f"[deploy] {match.group(1)} to add, {match.group(2)} to change, {match.group(3)} to destroy",
                    flush=True,
                )
            elif match := STARTED.match(line):
                running[match.group(1)] = time.monotonic()
            elif match := FINISHED.match(line):
                running.pop(match.group(1), None)
                done += 1
            elif SUMMARY.match(line):
                summary = line
            now = time.monotonic()
            if total and (interactive or now - last_print > 10):
                slowest = min(running.items(), key=lambda item: item[1], default=None)
                waiting = f", waiting on {slowest[0]} ({now - slowest[1]:.0f} s)" if slowest else ""
                text = f"[deploy] {done}/{total} done after {now - started:.0f} s{waiting}"
                print(f"\r{text[:110]:<110}" if interactive else text, end="" if interactive else "\n", flush=True)
                last_print = now
        code = process.wait()
    if interactive:
        print()
    if code != 0:
        tail = "\n".join(APPLY_LOG.read_text().splitlines()[-60:])
        raise StackError(f"tflocal apply failed (exit {code}); the end of {APPLY_LOG.relative_to(STACK_DIR)}:\n{tail}")
    print(
        f"[deploy] {summary or 'done'} ({time.monotonic() - started:.0f} s; full output in "
        f"{APPLY_LOG.relative_to(STACK_DIR)})",
        flush=True,
    )


@dataclass(frozen=True)
class Outputs:
    raw: dict

    def __getitem__(self, name):
        return self.raw[name]

    @property
    def api_url(self) -> str:
        """The API in LocalStack's path form, `/_aws/execute-api/<id>/<stage>` (API Gateway's own
        host names do not resolve here). The older `/restapis/<id>/<stage>/_user_request_` form
        still answers, with a deprecation warning in the engine's log for every request."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566")
        return f"{endpoint}/_aws/execute-api/{self['api_id']}/{self['api_stage']}"


def outputs() -> Outputs:
    code, out, err = terraform().output_cmd(json=IsFlagged, capture_output=True)
    if code != 0 or not json.loads(out or "{}"):
        raise StackError("no Terraform outputs: is the stack applied? (make apply)\n" + (err or "")[-1000:])
    return Outputs({name: value["value"] for name, value in json.loads(out).items()})


def print_outputs() -> None:
    found = outputs()
    _check_api_exists(found)
    print(f"API URL (LocalStack): {found.api_url}")
    print(f"API id / stage      : {found['api_id']} / {found['api_stage']}")
    for group in ("buckets", "tables", "functions"):
        for role, name in sorted(found[group].items()):
            print(f"{group[:-1]:<9} {role:<22}: {name}")
    for name in (
        "notifications_queue_url",
        "notifications_dlq_url",
        "notifications_subscriber_queue_url",
        "image_processor_dlq_url",
        "topic_arn",
    ):
        print(f"{name:<34}: {found[name]}")


def _check_api_exists(found: Outputs) -> None:
    """After `make reset`, or on another engine, the state file still names an API that is gone:
    printing its URL would send the user to `NoSuchBucket ... restapis`."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        boto3.client("apigateway").get_rest_api(restApiId=found["api_id"])
    except ClientError as exc:
        if _not_found(exc):
            raise StackError(
                f"the engine has no API {found['api_id']}: the Terraform state describes a stack it does not "
                "hold (after make reset, or another engine). Deploy it again: make apply"
            ) from None
        raise
    except BotoCoreError as exc:
        raise StackError(f"cannot reach the engine to check the stack ({exc}): make up") from None


COMMANDS = {
    "outputs": print_outputs,
    "check-state": check_state,
    "deploy": deploy,
    "apply-vars": print_applied_variables,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS or (sys.argv[1] != "deploy" and len(sys.argv) > 2):
        sys.exit(__doc__)
    try:
        COMMANDS[sys.argv[1]](*sys.argv[2:])
    except StackError as exc:
        sys.exit(f"[{sys.argv[1]}] {exc}")
