"""A CDK app deployed with cdklocal: its bucket triggers a function through CDK's
Custom::S3BucketNotifications, a Lambda-backed custom resource.

The CDK packages (pinned by cdk_app/package-lock.json) are installed by this test into
<install dir>/cdk, once; the CLI's own calls to the engine go through
https://*.localhost.localstack.cloud with the names and CA of `engine/ctl.py env`."""

import hashlib
import os
import shutil
import subprocess
import urllib.parse
import uuid
from pathlib import Path

import boto3
import pytest

from tests.engine.test_hostnames import DOMAIN, shell_environment
from tests.support.engine import ROOT, endpoint
from tests.support.waiting import wait_for

APP = ROOT / "tests" / "engine" / "cdk_app"
CACHE = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack")) / "cdk"


@pytest.fixture(scope="module")
def cdklocal() -> str:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the CDK app cannot be built")
    stamp = CACHE / "installed.sha256"
    wanted = hashlib.sha256((APP / "package-lock.json").read_bytes()).hexdigest()
    binary = CACHE / "node_modules" / ".bin" / "cdklocal"
    if not (binary.exists() and stamp.exists() and stamp.read_text() == wanted):
        CACHE.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(APP / name, CACHE)
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=CACHE, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stderr[-3000:]}"
        stamp.write_text(wanted)
    return str(binary)


def test_a_cdk_bucket_notification_deploys_and_triggers_its_function(engine, cdklocal, tmp_path):
    port = urllib.parse.urlparse(endpoint()).port
    stack = f"EngineCdkProbe{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        **shell_environment(),
        "NODE_PATH": str(CACHE / "node_modules"),
        "AWS_ENDPOINT_URL_S3": f"https://s3.{DOMAIN}:{port}",
        "CDK_PROBE_STACK": stack,
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    deploy = subprocess.run(
        [
            cdklocal,
            "deploy",
            "--app",
            "node app.js",
            "--output",
            str(tmp_path / "cdk.out"),
            "--require-approval",
            "never",
            "--no-notices",
            "--no-version-reporting",
        ],
        cwd=APP,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert deploy.returncode == 0, f"cdklocal deploy failed:\n{deploy.stdout[-3000:]}\n{deploy.stderr[-3000:]}"
    cfn, s3 = boto3.client("cloudformation"), boto3.client("s3")
    description = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    bucket = {o["OutputKey"]: o["OutputValue"] for o in description["Outputs"]}["BucketName"]
    try:
        resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
        assert any(
            r["ResourceType"] == "Custom::S3BucketNotifications" and r["ResourceStatus"] == "CREATE_COMPLETE"
            for r in resources
        )
        (rule,) = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
        assert rule["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "uploads/"}]

        s3.put_object(Bucket=bucket, Key="uploads/report.txt", Body=b"a report")
        processed = wait_for(
            lambda: s3.list_objects_v2(Bucket=bucket, Prefix="processed/").get("Contents"),
            timeout=60,
            what="the function to process the upload",
        )
        assert [item["Key"] for item in processed] == ["processed/report.txt"]
        assert s3.get_object(Bucket=bucket, Key="processed/report.txt")["Body"].read() == b"seen uploads/report.txt"
    finally:
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):  # CloudFormation deletes empty buckets
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        cfn.delete_stack(StackName=stack)
        wait_for(
            lambda: (
                cfn.describe_stacks(StackName=description["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
            ),
            timeout=120,
            what="the stack to be deleted",
        )
