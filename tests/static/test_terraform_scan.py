"""checkov (pinned) scans the Terraform: every finding is fixed, or skipped next to the resource
with an inline `#checkov:skip=ID:reason` saying why it does not apply to this project.

checkov's own pins (boto3 1.35, ...) conflict with the project's tools, so it lives in its
own virtualenv, .venv-checkov/, created here from requirements-checkov.txt on first use (and
again when that file changes). It runs offline (--skip-download).
"""

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

from tools.stack import ROOT

pytestmark = pytest.mark.slow  # checkov: its own venv, minutes; make test-quick leaves it out

VENV = ROOT / ".venv-checkov"
REQUIREMENTS = ROOT / "requirements-checkov.txt"
STAMP = VENV / ".installed"
# Not the project's Terraform: tool caches, build output, the file tflocal generates.
SKIP_PATHS = [r"\.venv", r"\.terraform", r"\.localstack", r"build", r"localstack_providers_override\.tf"]


@pytest.fixture(scope="session")
def checkov() -> str:
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not (STAMP.exists() and STAMP.read_text() == wanted):
        started = time.monotonic()
        # uv, the engine's pinned installer (engine/ctl.py uv): pip took over two minutes here
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        install = subprocess.run(
            [
                sys.executable,
                str(ROOT / "engine" / "ctl.py"),
                "uv",
                "pip",
                "install",
                "-q",
                "--compile-bytecode",
                "--python",
                str(VENV / "bin" / "python"),
                "-r",
                str(REQUIREMENTS),
            ],
            capture_output=True,
            text=True,
        )
        assert install.returncode == 0, "installing checkov failed:\n" + "\n".join(install.stderr.splitlines()[-30:])
        STAMP.write_text(wanted)
        print(f"\n[checkov] installed into {VENV.name}/ in {time.monotonic() - started:.0f} s")
    return str(VENV / "bin" / "checkov")


@pytest.fixture(scope="session")
def scan(checkov) -> dict:
    command = [
        checkov,
        "--directory",
        str(ROOT),
        "--framework",
        "terraform",
        "--output",
        "json",
        "--compact",
        "--skip-download",
    ]
    for path in SKIP_PATHS:
        command += ["--skip-path", path]
    started = time.monotonic()
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_VERSION_CHECK": "1"},
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: there are failed checks
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    summary = report["summary"]
    print(
        f"\n[checkov] {summary['checkov_version']}: {summary['resource_count']} resources, "
        f"{summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped "
        f"with a reason ({time.monotonic() - started:.1f} s)"
    )
    return report


def test_checkov_reports_no_failed_check(scan):
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in scan["results"]["failed_checks"]
    ]
    assert not failed, "fix these or skip them with a reason next to the resource:\n" + "\n".join(failed)
    assert scan["summary"]["parsing_errors"] == 0
    # The modules were really scanned (buckets, tables, queues, functions, API, ...).
    assert scan["summary"]["resource_count"] >= 40


def test_every_skipped_check_says_why(scan):
    unexplained = [
        f"{c['check_id']} {c['resource']}"
        for c in scan["results"]["skipped_checks"]
        if len((c.get("check_result") or {}).get("suppress_comment") or "") < 30
    ]
    assert not unexplained, unexplained


def test_fixed_findings_stay_fixed(scan):
    """Checks this project fixed rather than skipped: skipping them later would be a regression."""
    fixed = {
        "CKV_AWS_27",  # SQS queues encrypted (SSE-SQS)
        "CKV_AWS_26",  # SNS topic encrypted (aws/sns key)
        "CKV_AWS_28",  # DynamoDB point-in-time recovery
        "CKV2_AWS_6",  # S3 public access blocked
        "CKV_AWS_237",  # API Gateway create-before-destroy
    }
    passed = {c["check_id"] for c in scan["results"]["passed_checks"]}
    skipped = {c["check_id"] for c in scan["results"]["skipped_checks"]}
    assert fixed <= passed and not fixed & skipped
