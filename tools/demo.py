"""The tutorial's complete demo, end to end, against the deployed stack (`make demo`).

Each step says what happened and how long it took; the verdict at the end checks every
step and the exit status is non-zero if any failed.
"""

import gzip
import io
import itertools
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

import boto3
from PIL import Image

from tools import stack, waiting
from tools.http import call, use_credentials_of

sys.path.insert(0, str(stack.ROOT / "lambda_src" / "common"))
from roxs_common.image_index import image_id_for

COLOUR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def paint(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if COLOUR else text


@dataclass
class Step:
    title: str
    checks: list = field(default_factory=list)  # (description, passed)
    seconds: float = 0.0

    def check(self, description: str, passed: bool) -> bool:
        self.checks.append((description, bool(passed)))
        mark = paint("ok", "32") if passed else paint("FAILED", "31;1")
        print(f"     [{mark}] {description}")
        return passed

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(passed for _, passed in self.checks)


class Waiting:
    """A spinner (terminal) or a dotted line (plain output) while something asynchronous runs."""

    def __init__(self, what: str):
        self.what, self.done = what, threading.Event()

    def __enter__(self):
        self.started = time.monotonic()
        threading.Thread(target=self._spin, daemon=True).start()
        return self

    def _spin(self):
        frames = itertools.cycle("|/-\\") if COLOUR else None
        while not self.done.wait(0.2 if COLOUR else 2.0):
            elapsed = time.monotonic() - self.started
            if COLOUR:
                print(f"\r     {next(frames)} {self.what} ({elapsed:.1f} s)", end="", flush=True)
            else:
                print(f"     ... still waiting for {self.what} ({elapsed:.0f} s)", flush=True)

    def __exit__(self, *exc):
        self.done.set()
        if COLOUR:
            print("\r" + " " * 70 + "\r", end="", flush=True)


def wait_for(probe, what: str, timeout: float = 60):
    """The probe's first truthy value, with a spinner meanwhile; None after ``timeout`` (the
    step reports the check as failed)."""
    with Waiting(what):
        try:
            return waiting.wait_for(probe, timeout=timeout, what=what)
        except waiting.TimedOut:
            return None


def demo_image() -> bytes:
    """A 640x480 gradient JPEG, generated so the demo needs no sample files."""
    image = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class Demo:
    def __init__(self):
        self.outputs = stack.outputs()
        use_credentials_of(self.outputs)  # the API key or SigV4 signing when api_auth asks for it
        self.aws = {name: boto3.client(name) for name in ("s3", "dynamodb", "lambda", "sqs")}
        self.run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]
        self.steps: list[Step] = []

    def api(self, method: str, path: str, **kwargs):
        return call(self.outputs.api_url, method, path, **kwargs)

    def step(self, title: str, action) -> None:
        step = Step(title)
        number = len(self.steps) + 1
        print(paint(f"\n{number}. {title}", "1"))
        started = time.monotonic()
        try:
            action(step)
        except Exception as exc:  # a broken step is reported, and the demo goes on
            step.check(f"step raised {type(exc).__name__}: {exc}", False)
        step.seconds = time.monotonic() - started
        print(f"     ({step.seconds:.1f} s)")
        self.steps.append(step)

    # --- steps ---------------------------------------------------------------------------

    def stats_before(self, step: Step) -> None:
        reply = self.api("GET", "/stats")
        self.before = reply.body if reply.status == 200 else {}
        print(
            f"     images {self.before.get('total_images')}, logs {self.before.get('total_logs')}, "
            f"notifications {self.before.get('total_notifications')}, files {self.before.get('total_files')}"
        )
        step.check("GET /stats answered 200", reply.status == 200)

    def upload_image(self, step: Step) -> None:
        key = f"demo/{self.run_id}/new-demo-image.jpg"
        body = demo_image()
        self.aws["s3"].put_object(
            Bucket=self.outputs["buckets"]["original"], Key=key, Body=body, ContentType="image/jpeg"
        )
        print(f"     uploaded s3://{self.outputs['buckets']['original']}/{key} ({len(body)} bytes)")

        def row():
            # The row's key follows from the upload (ImageId from bucket, key, ETag and
            # LastModified; UploadTimestamp = LastModified): one exact GetItem.
            head = self.aws["s3"].head_object(Bucket=self.outputs["buckets"]["original"], Key=key)
            image_id = image_id_for(
                self.outputs["buckets"]["original"], key, head["ETag"].strip('"'), head["LastModified"].isoformat()
            )
            return (
                self.aws["dynamodb"]
                .get_item(
                    TableName=self.outputs["tables"]["images"],
                    ConsistentRead=True,
                    Key={
                        "ImageId": {"S": image_id},
                        "UploadTimestamp": {"N": str(int(head["LastModified"].timestamp()))},
                    },
                )
                .get("Item")
            )

        found = wait_for(row, "the S3 trigger to process the image")
        if not step.check("the upload triggered the processor and a metadata row appeared", found):
            return
        print(
            f"     ImageId {found['ImageId']['S']}: {found['Width']['N']}x{found['Height']['N']} "
            f"{found['Format']['S']}, status {found['Status']['S']}"
        )
        thumb = self.aws["s3"].get_object(Bucket=self.outputs["buckets"]["thumbnails"], Key=found["ThumbnailKey"]["S"])
        size = Image.open(io.BytesIO(thumb["Body"].read())).size
        print(f"     thumbnail {found['ThumbnailKey']['S']}: {size[0]}x{size[1]} px")
        step.check("status completed", found["Status"]["S"] == "completed")
        step.check("thumbnail's longest side is 128 px", max(size) == 128)

    def send_logs(self, step: Step) -> None:
        logs = [
            {
                "level": "INFO",
                "message": "Image processing completed successfully",
                "service": "image-processor",
                "user_id": "demo-user",
            },
            {
                "level": "DEBUG",
                "message": "Thumbnail generated and stored",
                "service": "image-processor",
                "user_id": "demo-user",
            },
            {"level": "ERROR", "message": "Demo error for the dashboard", "service": "demo", "user_id": "demo-user"},
        ]
        response = self.aws["lambda"].invoke(
            FunctionName=self.outputs["functions"]["log_processor"], Payload=json.dumps({"logs": logs})
        )
        payload = json.loads(response["Payload"].read())
        if not step.check("roxs-log-processor succeeded", "FunctionError" not in response):
            print(f"     {payload}")
            return
        answer = json.loads(payload["body"])
        print(f"     batch {answer['batch_id']}: {answer['logs_indexed']} logs indexed")
        print(f"     archive {answer['storage_location']}")
        bucket, key = answer["storage_location"].removeprefix("s3://").split("/", 1)
        archived = json.loads(gzip.decompress(self.aws["s3"].get_object(Bucket=bucket, Key=key)["Body"].read()))
        step.check(f"{len(logs)} logs indexed", answer["logs_indexed"] == len(logs))
        step.check("the gzip archive holds the whole batch", len(archived) == len(logs))

    def send_notification(self, step: Step) -> None:
        reply = self.api(
            "POST",
            "/notifications",
            body={
                "title": "Procesamiento completado",
                "message": f"La imagen de la demo {self.run_id} fue procesada exitosamente",
                "priority": "normal",
            },
        )
        if not step.check("POST /notifications answered 202 (queued)", reply.status == 202):
            print(f"     {reply.status} {reply.body}")
            return
        notification_id = reply.body["notification_id"]
        print(f"     notification {notification_id} queued on {self.outputs['notifications_queue_url']}")

        def on_topic():
            queue = self.outputs["notifications_subscriber_queue_url"]
            for message in (
                self.aws["sqs"]
                .receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                .get("Messages", [])
            ):
                self.aws["sqs"].delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                envelope = json.loads(message["Body"])
                if json.loads(envelope["Message"]).get("notification_id") == notification_id:
                    return envelope
            return None

        envelope = wait_for(on_topic, "the SQS → Lambda → SNS path")
        if step.check("the SNS message reached the subscribed queue", envelope):
            print(f'     SNS subject "{envelope["Subject"]}", message id {envelope["MessageId"]}')
        history = wait_for(
            lambda: (r := self.api("GET", f"/notifications/{notification_id}")).status == 200 and r, "the history row"
        )
        if step.check("GET /notifications/{id} finds the history row", history):
            print(f"     history: status {history.body['Status']}, SNS message {history.body['SNSMessageId']}")

    def stats_after(self, step: Step) -> None:
        after = self.api("GET", "/stats").body
        for name in ("total_images", "total_logs", "total_notifications", "total_files"):
            print(f"     {name:<20} {self.before.get(name)} -> {after.get(name)}")
        step.check("one more image", after["total_images"] == self.before.get("total_images", 0) + 1)
        step.check("three more logs", after["total_logs"] == self.before.get("total_logs", 0) + 3)
        step.check(
            "one more notification", after["total_notifications"] == self.before.get("total_notifications", 0) + 1
        )
        response = self.aws["lambda"].invoke(FunctionName=self.outputs["functions"]["dashboard"])
        board = json.loads(response["Payload"].read())
        if step.check("roxs-dashboard answered", "FunctionError" not in response):
            images, logs, notes = board["images"], board["logs"], board["notifications"]
            print(
                f"     dashboard: images {images['successful']} ok / {images['failed']} failed, "
                f"avg {images['avg_size']:.0f} bytes; logs {logs['by_level']}; "
                f"notifications {notes['by_priority']}; functions {board['functions']['total']}"
            )
        print(f"     dashboard page: {self.outputs.api_url}/dashboard")

    def run(self) -> int:
        print(
            paint(
                f"Roxs complete demo — API {self.outputs.api_url} "
                f"(writes: api_auth = {self.outputs.raw.get('api_auth', 'none')})",
                "1;36",
            )
        )
        self.step("System stats before", self.stats_before)
        self.step("Upload an image; the S3 trigger processes it", self.upload_image)
        self.step("Send a batch of application logs", self.send_logs)
        self.step("Send a notification through the API", self.send_notification)
        self.step("System stats after, and the dashboard", self.stats_after)
        print(paint("\n6. Verdict", "1"))
        for number, step in enumerate(self.steps, 1):
            mark = paint("PASS", "32;1") if step.passed else paint("FAIL", "31;1")
            print(f"     {mark}  {number}. {step.title} ({step.seconds:.1f} s)")
        failed = [step for step in self.steps if not step.passed]
        print(
            paint(
                "\nAll steps passed." if not failed else f"\n{len(failed)} step(s) failed.",
                "32;1" if not failed else "31;1",
            )
        )
        return 1 if failed else 0


def main() -> int:
    try:
        return Demo().run()
    except stack.StackError as exc:
        print(f"[demo] {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
