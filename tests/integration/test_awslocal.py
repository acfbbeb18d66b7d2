"""The tutorial's shell flavour: its awslocal commands work against the deployed stack."""

import json
import os
import subprocess
import uuid

from tests.support.waiting import wait_for


def awslocal(*args: str, cwd=None) -> str:
    env = {**os.environ, "DISABLE_DEPRECATION_NOTICE": "1"}
    result = subprocess.run(["awslocal", *args], capture_output=True, text=True, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_tutorials_commands(deployed, tmp_path):
    image = tmp_path / f"cli-{uuid.uuid4().hex[:6]}.jpg"
    image.write_text("Nueva imagen para procesar\n")  # the tutorial's fake image: an error row
    awslocal("s3", "cp", str(image), f"s3://{deployed['buckets']['original']}/")
    assert image.name in awslocal("s3", "ls", f"s3://{deployed['buckets']['original']}/")

    def row():
        items = json.loads(awslocal("dynamodb", "scan", "--table-name", deployed["tables"]["images"]))["Items"]
        return [item for item in items if item["OriginalKey"]["S"] == image.name]

    [found] = wait_for(row, timeout=60, what="the metadata row of the uploaded file")
    assert found["Status"]["S"] == "error"  # text is not an image: recorded, not crashed

    payload = {
        "logs": [
            {"level": "INFO", "message": "Usuario inició sesión", "service": "auth", "user_id": "cli"},
            {"level": "ERROR", "message": "Falló conexión a base de datos", "service": "api", "user_id": "system"},
        ]
    }
    awslocal(
        "lambda",
        "invoke",
        "--function-name",
        deployed["functions"]["log_processor"],
        "--payload",
        json.dumps(payload),
        "logs-result.json",
        cwd=tmp_path,
    )
    answer = json.loads((tmp_path / "logs-result.json").read_text())
    assert json.loads(answer["body"])["logs_indexed"] == 2

    awslocal(
        "lambda", "invoke", "--function-name", deployed["functions"]["dashboard"], "dashboard-output.json", cwd=tmp_path
    )
    board = json.loads((tmp_path / "dashboard-output.json").read_text())
    assert board["logs"]["by_level"]["ERROR"] >= 1

    queues = json.loads(awslocal("sqs", "list-queues"))["QueueUrls"]
    assert deployed["notifications_queue_url"] in queues
    topics = [t["TopicArn"] for t in json.loads(awslocal("sns", "list-topics"))["Topics"]]
    assert deployed["topic_arn"] in topics
