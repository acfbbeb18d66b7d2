"""A Terraform state that describes a stack the engine does not have (a new or reset engine)
is set aside so the stack deploys from empty; one the engine partly has is left to
Terraform's refresh."""

import json
import uuid

import boto3

from tools.stack import check_state


def state_naming(bucket: str, table: str) -> dict:
    def resource(type_, id_):
        return {"mode": "managed", "type": type_, "name": "this", "instances": [{"attributes": {"id": id_}}]}

    return {
        "version": 4,
        "resources": [
            resource("aws_s3_bucket", bucket),
            resource("aws_dynamodb_table", table),
            {"mode": "data", "type": "aws_iam_policy_document", "name": "x", "instances": []},
        ],
    }


def test_a_state_the_engine_has_none_of_is_set_aside(engine, tmp_path, capsys):
    state, stale = tmp_path / "terraform.tfstate", tmp_path / "terraform.tfstate.stale"
    content = json.dumps(state_naming(f"gone-{uuid.uuid4().hex[:8]}", f"Gone{uuid.uuid4().hex[:8]}"))
    state.write_text(content)

    check_state(state, stale)

    assert not state.exists() and stale.read_text() == content
    assert "2 resources the engine does not have" in capsys.readouterr().out


def test_a_state_the_engine_partly_has_is_left_to_terraform(engine, tmp_path, capsys):
    bucket = f"kept-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    state, stale = tmp_path / "terraform.tfstate", tmp_path / "terraform.tfstate.stale"
    state.write_text(json.dumps(state_naming(bucket, f"Gone{uuid.uuid4().hex[:8]}")))
    try:
        check_state(state, stale)
    finally:
        boto3.client("s3").delete_bucket(Bucket=bucket)

    assert state.exists() and not stale.exists()
    assert "has 1 of the 2" in capsys.readouterr().out
