"""LocalStack's own AWS-validated tests against the engine (`make conformance`).

LocalStack's repository carries tests recorded against real AWS (`@markers.aws.validated`,
with `.snapshot.json` files of AWS's answers). This runs the subsets for what the engine
changes or replaces (Lambda as host processes, DynamoDB and its streams from moto, the
event source mappings, CloudFormation's Lambda and DynamoDB resources) against an engine of
its own, and prints passed/failed/skipped/error per service; the details (each test, the
first line of each failure) go to .localstack/conformance/results.json.

    python tools/conformance/run.py                          every subset, 40 min at most
    python tools/conformance/run.py --only dynamodb,lambda-api --budget-min 15

The tests come from the tag of the engine's own localstack-core (v<version>, read from
engine/requirements.txt), downloaded from GitHub; without access to GitHub, point
LOCALSTACK_SOURCE at a LocalStack checkout or git directory (LOCALSTACK_REF chooses
another commit of it; the report then says the tests are not the core's own). Their test
dependencies, pinned by their requirements-test.txt, and the core's own localstack-core
(whose localstack.testing the tests import) go into a virtualenv of their own,
.localstack/conformance/venv. Nothing of LocalStack's is copied into this repository.

The tests resolve the engine's names (function URLs under localhost) through the engine's
own resolver, as a shell does after `engine/ctl.py env`.

The engine runs in its own state folder (.localstack/conformance/state), in memory, on its
own port (CONFORMANCE_PORT, default 4640), and is stopped and its state deleted at the end;
your stack and its engine are not touched."""

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CTL = [sys.executable, str(ROOT / "engine" / "ctl.py")]
sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker import names  # noqa: E402  (standard library only)

INSTALL_DIR = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack"))
WORK = INSTALL_DIR / "conformance"
PORT = int(os.environ.get("CONFORMANCE_PORT", "4640"))
ENDPOINT = f"http://localhost:{PORT}"
RESULTS = WORK / "results.json"
# Not among LocalStack's test dependencies: bounds each test, so one that hangs (waiting for
# an event the engine never sends) costs its timeout, not the run.
PYTEST_TIMEOUT = "pytest-timeout==2.4.0"
ARCHIVE_URL = "https://github.com/localstack/localstack/archive/refs/tags/{tag}.tar.gz"

LAMBDA = "tests/aws/services/lambda_"
ESM = f"{LAMBDA}/event_source_mapping"
CFN = "tests/aws/services/cloudformation/resources"
# name -> (service it measures, test files, None or the words one of which a test's name must hold)
SUBSETS = {
    "dynamodb": ("DynamoDB", ["tests/aws/services/dynamodb/test_dynamodb.py"], None),
    "dynamodbstreams": ("DynamoDB Streams", ["tests/aws/services/dynamodbstreams/test_dynamodb_streams.py"], None),
    # the control plane, layers among it
    "lambda-api": ("Lambda", [f"{LAMBDA}/test_lambda_api.py"], None),
    # the runtimes the engine runs on the host, Python and Node
    "lambda-runtimes": (
        "Lambda",
        [f"{LAMBDA}/test_lambda_runtimes.py", f"{LAMBDA}/test_lambda_common.py"],
        ("python", "nodejs"),
    ),
    "lambda-invoke": ("Lambda", [f"{LAMBDA}/test_lambda.py"], None),
    "esm-sqs": ("Lambda event source mappings", [f"{ESM}/test_lambda_integration_sqs.py"], None),
    "esm-dynamodbstreams": (
        "Lambda event source mappings",
        [f"{ESM}/test_lambda_integration_dynamodbstreams.py"],
        None,
    ),
    "esm-kinesis": ("Lambda event source mappings", [f"{ESM}/test_lambda_integration_kinesis.py"], None),
    # LocalStack's suite has no Lambda-backed custom resource test (no ServiceToken anywhere in
    # tests/aws at 2026.3.0): the resources a custom resource's stack is made of, instead.
    "cloudformation": (
        "CloudFormation",
        [f"{CFN}/test_lambda.py", f"{CFN}/test_dynamodb.py", f"{ESM}/test_cfn_resource.py"],
        None,
    ),
}


def say(message: str) -> None:
    print(f"[conformance] {message}", flush=True)


def core_version() -> str:
    found = re.search(r"^localstack-core==(\S+)", (ROOT / "engine" / "requirements.txt").read_text(), re.M)
    if not found:
        raise SystemExit("engine/requirements.txt pins no localstack-core")
    return found.group(1)


# --- LocalStack's tests ----------------------------------------------------------------------


def source_tree(ref: str) -> tuple[Path, str]:
    """LocalStack's tests/ and requirements-test.txt at ref, extracted under WORK/src; and the
    commit they came from (the tag's name when downloaded)."""
    source = os.environ.get("LOCALSTACK_SOURCE")
    if source:
        return _from_local(Path(source).expanduser(), ref)
    tree = WORK / "src" / ref
    if not (tree / "requirements-test.txt").exists():
        url = ARCHIVE_URL.format(tag=ref)
        say(f"downloading LocalStack's tests at {ref}: {url}")
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                archive = answer.read()
        except (urllib.error.URLError, TimeoutError) as exc:
            raise SystemExit(
                f"[conformance] GitHub is not reachable ({exc}): cannot download LocalStack's tests at {ref}. "
                "Set LOCALSTACK_SOURCE to a LocalStack checkout or git directory (git clone "
                "https://github.com/localstack/localstack elsewhere), e.g. "
                "LOCALSTACK_SOURCE=~/src/localstack make conformance"
            ) from None
        _extract(tarfile.open(fileobj=io.BytesIO(archive)), tree, strip_top=True)
    return tree, ref


def _from_local(source: Path, ref: str) -> tuple[Path, str]:
    git = ["git", "-C", str(source)]
    if subprocess.run([*git, "rev-parse", "--git-dir"], capture_output=True).returncode != 0:
        if not (source / "tests" / "aws").is_dir():
            raise SystemExit(f"[conformance] LOCALSTACK_SOURCE={source} is neither a git directory nor a checkout")
        say(f"LOCALSTACK_SOURCE={source} is not a git directory: its tests are used as they are (commit unknown)")
        return source, "unknown (a plain folder)"
    resolved = subprocess.run(
        [*git, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"], capture_output=True, text=True
    )
    if resolved.returncode != 0:
        raise SystemExit(
            f"[conformance] {source} has no {ref}. Fetch it there, or choose a commit it has with "
            "LOCALSTACK_REF=<commit> (the report then says the tests are not the core's own)"
        )
    commit = resolved.stdout.strip()
    tree = WORK / "src" / commit
    if not (tree / "requirements-test.txt").exists():
        say(f"extracting LocalStack's tests at {commit[:12]} from {source}")
        archive = subprocess.run(
            [*git, "archive", "--format=tar", commit, "tests", "requirements-test.txt"], capture_output=True, check=True
        ).stdout
        _extract(tarfile.open(fileobj=io.BytesIO(archive)), tree, strip_top=False)
    return tree, commit


def _extract(archive: tarfile.TarFile, tree: Path, strip_top: bool) -> None:
    """Only tests/ and requirements-test.txt, into tree (written whole, then renamed)."""
    partial = tree.with_name(tree.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for member in archive.getmembers():
        name = member.name.split("/", 1)[1] if strip_top and "/" in member.name else member.name
        if name == "requirements-test.txt" or name.startswith("tests/"):
            member.name = name
            archive.extract(member, partial, filter="data")
    shutil.rmtree(tree, ignore_errors=True)
    partial.rename(tree)


# --- the tests' own virtualenv ---------------------------------------------------------------


def test_environment(tree: Path, version: str) -> Path:
    """WORK/venv with the tests' pinned dependencies and the engine's localstack-core; made
    again when either changes."""
    venv = WORK / "venv"
    python = venv / "bin" / "python"
    requirements = tree / "requirements-test.txt"
    wanted = hashlib.sha256(requirements.read_bytes() + f"{version} {PYTEST_TIMEOUT}".encode()).hexdigest()
    stamp = venv / "installed.sha256"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    say(f"installing LocalStack's test dependencies (its requirements-test.txt) into {venv}; a few minutes")
    engine_python = INSTALL_DIR / "venv" / "bin" / "python"
    uv = [*CTL, "uv"]
    subprocess.run([*uv, "venv", "-q", "--clear", "--python", str(engine_python), str(venv)], check=True)
    subprocess.run(
        [*uv, "pip", "install", "-q", "--python", str(python), "-r", str(requirements), PYTEST_TIMEOUT], check=True
    )
    # the tests import localstack.testing: the engine's own core, not a build of the checkout
    subprocess.run(
        [*uv, "pip", "install", "-q", "--python", str(python), "--no-deps", f"localstack-core=={version}"], check=True
    )
    stamp.write_text(wanted)
    return python


# --- the engine --------------------------------------------------------------------------------


def engine_environment() -> dict:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": ENDPOINT,
        "LOCALSTACK_INSTALL_DIR": str(INSTALL_DIR),
        "LOCALSTACK_STATE_DIR": str(WORK / "state"),
        "PERSISTENCE": "0",
    }


def start_engine() -> None:
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/_localstack/health", timeout=2):
            raise SystemExit(f"[conformance] {ENDPOINT} already answers: stop what runs there or set CONFORMANCE_PORT")
    except OSError:
        pass
    subprocess.run([*CTL, "reset"], env=engine_environment(), capture_output=True)
    # `up` waits a minute for health; on a loaded machine the start may take longer, and a
    # second `up` waits for the same process again.
    for _ in range(2):
        started = subprocess.run([*CTL, "up"], env=engine_environment(), capture_output=True, text=True)
        if started.returncode == 0 or "not healthy after" not in started.stderr:
            break
    if started.returncode != 0:
        raise SystemExit(f"[conformance] the engine did not start: {started.stdout}{started.stderr}")
    say(f"engine up at {ENDPOINT} (state in {WORK / 'state'}, in memory)")


def stop_engine() -> None:
    subprocess.run([*CTL, "reset"], env=engine_environment(), capture_output=True)


# --- running ---------------------------------------------------------------------------------


def run_tests(
    chosen: list[str], python: Path, tree: Path, seconds: float, test_timeout: int
) -> tuple[list[dict], bool]:
    """The chosen subsets in one pytest session (its start-up takes minutes on a busy machine),
    stopped after seconds; one entry per test that finished, and whether it was cut short."""
    files = {path: SUBSETS[name][2] for name in chosen for path in SUBSETS[name][1]}
    subset_of = {path: name for name in chosen for path in SUBSETS[name][1]}
    results, log = WORK / "results.jsonl", WORK / "pytest.log"
    results.unlink(missing_ok=True)
    command = [str(python), "-m", "pytest", *files, "-m", "aws_validated", "-p", "report_plugin"]
    command += ["-p", "no:cacheprovider", f"--timeout={test_timeout}", "-rfE", "-q"]
    # LocalStack's suite has no pytest configuration: not this checkout's (the tree is inside it)
    command += ["-c", os.devnull, "--rootdir", str(tree)]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "LOCALSTACK_", "PYTHON"))}
    env.update(
        # the engine's name resolver (its sitecustomize.py), as `ctl.py env` gives a shell
        PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), str(names.PRELOAD_DIR)]),
        CONFORMANCE_RESULTS=str(results),
        CONFORMANCE_PORT=str(PORT),
        CONFORMANCE_KEYWORDS=json.dumps({path: keyword for path, keyword in files.items() if keyword}),
        TEST_SKIP_LOCALSTACK_START="1",
        TEST_AWS_ENDPOINT_URL=ENDPOINT,
        AWS_ENDPOINT_URL=ENDPOINT,
        GATEWAY_LISTEN=f"127.0.0.1:{PORT}",
        LOCALSTACK_HOST=f"localhost:{PORT}",
    )
    say(f"running {', '.join(chosen)} ({len(files)} files, at most {seconds / 60:.0f} min); log {log}")
    cut_short = False
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, cwd=tree, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            cut_short = True
            say("stopped at the time budget")
    # pytest's own failures (usage, collection, internal): the run measured nothing
    if process.returncode in (2, 3, 4):
        raise SystemExit(f"[conformance] pytest failed (exit {process.returncode}); see {log}")
    finished = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    for entry in finished:
        entry["subset"] = subset_of[entry["test"].split("::", 1)[0]]
        entry["service"] = SUBSETS[entry["subset"]][0]
    return finished, cut_short


def pass_rate(counts: Counter) -> str:
    ran = counts["passed"] + counts["failed"] + counts["error"]
    return f"{100 * counts['passed'] / ran:.0f}%" if ran else "-"


def report(tests: list[dict], header: dict, cut_short: bool) -> None:
    by_service: dict[str, Counter] = {}
    for entry in tests:
        by_service.setdefault(entry["service"], Counter())[entry["outcome"]] += 1
    print()
    print(f"{'service':<30} {'passed':>7} {'failed':>7} {'error':>7} {'skipped':>8}  pass rate (of those run)")
    for service, counts in by_service.items():
        print(
            f"{service:<30} {counts['passed']:>7} {counts['failed']:>7} {counts['error']:>7} {counts['skipped']:>8}"
            f"  {pass_rate(counts)}"
        )
    if cut_short:
        say("cut short by the time budget: not every test ran (--budget-min)")
    RESULTS.write_text(
        json.dumps(
            {
                **header,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "cut_short": cut_short,
                "services": {service: dict(counts) for service, counts in by_service.items()},
                "tests": tests,
            },
            indent=2,
        )
    )
    say(f"wrote {RESULTS}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SUBSETS), help=f"comma-separated subsets: {', '.join(SUBSETS)}")
    parser.add_argument("--budget-min", type=float, default=40, help="the whole run's time limit (minutes)")
    parser.add_argument("--test-timeout", type=int, default=120, help="one test's time limit (seconds)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SUBSETS))
    if unknown:
        parser.error(f"unknown subset(s) {', '.join(unknown)}; the subsets: {', '.join(SUBSETS)}")
    deadline = time.monotonic() + args.budget_min * 60
    version = core_version()
    ref = os.environ.get("LOCALSTACK_REF", f"v{version}")
    tree, commit = source_tree(ref)
    python = test_environment(tree, version)
    header = {"core": version, "tests_ref": ref, "tests_commit": commit, "tests_are_the_cores": ref == f"v{version}"}
    if not header["tests_are_the_cores"]:
        say(f"the tests are LocalStack's at {ref} ({commit[:12]}), not the core's own tag v{version}")
    try:
        start_engine()
        tests, cut_short = run_tests(chosen, python, tree, deadline - time.monotonic(), args.test_timeout)
    finally:
        stop_engine()
    report(tests, header, cut_short)
    return 0


if __name__ == "__main__":
    sys.exit(main())
