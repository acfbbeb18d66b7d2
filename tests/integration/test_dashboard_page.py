"""GET /dashboard in a real browser: the page shows what GET /dashboard/data says.

After some traffic (an image, a log batch, a notification, and poison messages in a
dead-letter queue), headless Chromium loads the page from the deployed API, runs its
script, and every number marked data-metric="..." in the resulting DOM is compared with
the JSON: totals, queues, functions, the last 60 minutes and the dead-letter alert.
Screenshots at 1280 and 400 px wide are kept in test-output/.
"""

import http.server
import io
import json
import re
import threading
import uuid
from html.parser import HTMLParser

import pytest
from PIL import Image, ImageDraw

from tests.support.browser import browser  # noqa: F401  (fixture)
from tests.support.waiting import scan_all, wait_for
from tools.http import call
from tools.stack import ROOT

RUN = uuid.uuid4().hex[:8]
SCREENSHOTS = {1280: ROOT / "test-output" / "dashboard-1280.png", 400: ROOT / "test-output" / "dashboard-400.png"}
REQUIRED_METRICS = (
    "images.total",
    "images.successful",
    "images.failed",
    "logs.total",
    "logs.by_level.ERROR",
    "notifications.total",
    "notifications.by_priority.high",
    "functions.total",
)
# Shown for each known level or priority, at zero when the data has no such key.
COUNTED_BY_KEY = ("logs.by_level", "notifications.by_priority")
TRICKY_MESSAGE = f"{RUN} <b>not bold</b> & <script>not run</script>"


def picture() -> bytes:
    image = Image.new("RGB", (480, 320), (250, 170, 60))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 200, 480, 320), fill=(40, 70, 140))
    draw.ellipse((170, 110, 310, 250), fill=(255, 236, 150))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class Page(HTMLParser):
    """What a test needs from a dumped DOM: data-metric values, <img> sources, element classes, text."""

    def __init__(self, html: str):
        super().__init__()
        self.metrics: dict[str, list[str]] = {}  # as shown (or its data-value), not yet parsed
        self.images: list[str] = []
        self.classes: dict[str, str] = {}  # element id -> class
        self.text: list[str] = []
        self._metric: tuple[str, str | None, list[str]] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "img":
            self.images.append(attributes.get("src") or "")
        if "id" in attributes:
            self.classes[attributes["id"]] = attributes.get("class") or ""
        if "data-metric" in attributes:
            self._metric = (attributes["data-metric"], attributes.get("data-value"), [])

    def handle_data(self, data):
        self.text.append(data)
        if self._metric:
            self._metric[2].append(data)

    def handle_endtag(self, tag):
        if self._metric:
            name, raw, text = self._metric
            value = raw if raw is not None else "".join(text).strip()
            self.metrics.setdefault(name, []).append(value)
            self._metric = None


def numbers(data: dict) -> dict[str, float]:
    """Every number of the dashboard JSON that the page shows, by metric name."""
    found = {f"images.{k}": data["images"][k] for k in ("total", "successful", "failed", "avg_size")}
    found["logs.total"] = data["logs"]["total"]
    found.update({f"logs.by_level.{k}": v for k, v in data["logs"]["by_level"].items()})
    found.update({f"notifications.{k}": data["notifications"][k] for k in ("total", "successful")})
    found.update({f"notifications.by_priority.{k}": v for k, v in data["notifications"]["by_priority"].items()})
    for bucket, stats in data["storage"].items():
        found.update({f"storage.{bucket}.{k}": stats[k] for k in ("objects", "total_size_bytes")})
    found["functions.total"] = data["functions"]["total"]
    for queue in data["queues"]:
        found.update({f"queues.{queue['name']}.{k}": queue[k] for k in ("visible", "in_flight", "delayed")})
    found.update({f"alerts.{alert['queue']}.messages": alert["messages"] for alert in data["alerts"]})
    found.update({f"activity.{name}": sum(values) for name, values in data["activity"]["series"].items()})
    return {name: float(value) for name, value in found.items()}


def cloudwatch_numbers(data: dict) -> dict[str, float]:
    """The numbers from CloudWatch: the functions panel and the queues' oldest-message ages.
    Loading the page invokes the API handler and the dashboard, and ages grow every minute,
    so these move with every look: compared within bounds, not for equality."""
    found = {
        f"queues.{q['name']}.oldest_age_s": q["oldest_age_s"] for q in data["queues"] if q["oldest_age_s"] is not None
    }
    for name, metrics in data["functions"]["metrics"].items():
        found.update({f"functions.{name}.{k}": metrics[k] for k in ("invocations", "errors")})
        found.update(
            {f"functions.{name}.{k}": v for k, v in metrics["duration"].items() if k.endswith("_ms") and v is not None}
        )
    return {name: float(value) for name, value in found.items()}


def expected(data_numbers: dict[str, float], metric: str) -> float:
    if metric in data_numbers:
        return data_numbers[metric]
    if metric.rsplit(".", 1)[0] in COUNTED_BY_KEY:
        return 0.0
    raise AssertionError(f"the page shows {metric!r}, which the JSON does not have")


@pytest.fixture(scope="module")
def api(deployed):
    return lambda method, path, **kwargs: call(deployed.api_url, method, path, **kwargs)


@pytest.fixture(scope="module")
def traffic(aws, deployed, api):
    """An image processed, a log batch with errors indexed, a notification sent: the page has data to show."""
    key = f"dashboard/{RUN}/sunset.png"
    aws["s3"].put_object(Bucket=deployed["buckets"]["original"], Key=key, Body=picture(), ContentType="image/png")
    rows = wait_for(
        lambda: scan_all(
            aws["dynamodb"],
            deployed["tables"]["images"],
            FilterExpression="OriginalKey = :k",
            ExpressionAttributeValues={":k": {"S": key}},
        ),
        timeout=90,
        what=f"the metadata row of {key}",
    )
    assert rows[0]["Status"]["S"] == "completed", rows
    logs = [
        {"level": "INFO", "message": f"{RUN} dashboard traffic", "service": "dashboard-test"},
        {"level": "WARNING", "message": f"{RUN} slow response", "service": "dashboard-test"},
        {"level": "ERROR", "message": f"{RUN} payment failed", "service": "dashboard-test"},
        {"level": "ERROR", "message": TRICKY_MESSAGE, "service": "dashboard-test"},
    ]
    response = aws["lambda"].invoke(
        FunctionName=deployed["functions"]["log_processor"], Payload=json.dumps({"logs": logs})
    )
    assert "FunctionError" not in response, response["Payload"].read()
    sent = api("POST", "/notifications", body={"title": f"Dashboard {RUN}", "message": "hi", "priority": "high"})
    assert sent.status == 202, sent.body
    notification_id = sent.body["notification_id"]
    wait_for(
        lambda: api("GET", f"/notifications/{notification_id}").status == 200,
        timeout=90,
        what="the notification in the history",
    )
    return {"image_key": key}


@pytest.fixture(scope="module")
def poison(aws, deployed):
    """Two poison messages in the notifications dead-letter queue (sent there directly, as
    the queue's redrive leaves them); taken out again after the module."""
    dlq = deployed["notifications_dlq_url"]
    bodies = [f"{RUN} poison {i}: not a notification" for i in range(2)]
    for body in bodies:
        aws["sqs"].send_message(QueueUrl=dlq, MessageBody=body)
    yield {"queue": dlq.rsplit("/", 1)[-1], "count": len(bodies)}
    left = set(bodies)
    for _ in range(20):
        if not left:
            break
        for message in (
            aws["sqs"]
            .receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=5)
            .get("Messages", [])
        ):
            if message["Body"] in left:
                left.discard(message["Body"])
                aws["sqs"].delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])


def dashboard_data(api) -> dict:
    reply = api("GET", "/dashboard/data")
    assert reply.status == 200, reply.body
    return reply.body


def test_the_page_is_served_as_html_with_cors(api):
    reply = api("GET", "/dashboard")
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    cors = ("access-control-allow-origin", "access-control-allow-headers")
    assert {name: reply.headers[name] for name in cors} == {name: api("GET", "/health").headers[name] for name in cors}
    assert isinstance(reply.body, str) and reply.body.lstrip().lower().startswith("<!doctype html>")


def test_the_page_in_a_browser_shows_the_dashboard_data(browser, api, deployed, traffic, poison):  # noqa: F811
    url = f"{deployed.api_url}/dashboard"
    # The traffic's invocation reaches the functions panel with its duration percentiles, and
    # the poison messages' age the queues panel (CloudWatch, re-read every 30 s; SQS publishes
    # the age every minute).
    log_processor = deployed["functions"]["log_processor"]

    def measured(data: dict) -> bool:
        function = data["functions"]["metrics"][log_processor]
        [dlq] = [queue for queue in data["queues"] if queue["name"] == poison["queue"]]
        return function["invocations"] >= 1 and function["duration"]["p50_ms"] is not None and bool(dlq["oldest_age_s"])

    wait_for(
        lambda: measured(dashboard_data(api)),
        timeout=150,
        what="the log processor's invocation and p50 in the functions panel, the dead letters' age in the queues panel",
    )
    # The system is live: if the numbers moved while the browser ran, look once more.
    for attempt in (1, 2):
        before = dashboard_data(api)
        page = Page(browser.dump_dom(url))
        after = dashboard_data(api)
        if numbers(before) == numbers(after):
            break
        print(f"[dashboard] the data changed during attempt {attempt}; trying again")
    else:
        pytest.fail("the dashboard data kept changing while the browser ran")
    data, data_numbers = before, numbers(before)
    high = cloudwatch_numbers(after)

    assert "shown" not in page.classes["banner"], "the page shows its error banner"
    # every time on the page is UTC, the refresh stamp too (not the browser's local 12-hour clock)
    assert any(re.fullmatch(r"updated at \d\d:\d\d:\d\d UTC · every \d+ s", line.strip()) for line in page.text)
    panels = (
        *(f"storage.{b}.objects" for b in data["storage"]),
        *(f"queues.{q['name']}.{k}" for q in data["queues"] for k in ("visible", "in_flight", "delayed")),
        *(f"functions.{name}.invocations" for name in data["functions"]["names"]),
        *(f"queues.{q['name']}.oldest_age_s" for q in data["queues"]),
        "activity.images_completed",
        "activity.logs_ERROR",
        "activity.notifications_sent",
        f"alerts.{poison['queue']}.messages",
    )
    missing = [m for m in REQUIRED_METRICS + panels if m not in page.metrics]
    assert not missing, f"metrics missing from the page: {missing}"
    assert set(data_numbers) <= set(page.metrics)
    wrong = {
        metric: (shown, expected(data_numbers, metric))
        for metric, values in page.metrics.items()
        for shown in values
        if (metric not in high and not metric.startswith("functions.")) or metric == "functions.total"
        if not shown.replace(".", "", 1).isdigit() or float(shown) != expected(data_numbers, metric)
    }
    assert not wrong, f"page vs JSON: {wrong}"
    # Counts and the ages of messages left in place only grow, and each environment re-reads
    # them at most 30 s late: what the page shows is at most what the second look saw.
    for metric, values in page.metrics.items():
        if metric in high or (metric.startswith("functions.") and metric != "functions.total"):
            for shown in values:
                assert shown.replace(".", "", 1).isdigit(), (metric, shown)
                if metric.endswith((".invocations", ".errors", ".oldest_age_s")):
                    assert float(shown) <= high[metric], (metric, shown, high)
    # Durations are CloudWatch's percentiles (GetMetricData p50/p95), not the average and
    # maximum an engine without percentiles leaves the page to show.
    durations = {name: m["duration"] for name, m in data["functions"]["metrics"].items() if m["duration"]["count"]}
    assert log_processor in durations
    for name, duration in durations.items():
        assert "percentiles_unavailable" not in duration, duration
        if duration["p50_ms"] is not None:  # a period without raw values has none
            assert duration["p50_ms"] <= duration["p95_ms"], (name, duration)
            assert {f"functions.{name}.p50_ms", f"functions.{name}.p95_ms"} <= set(page.metrics), name
    assert durations[log_processor]["p50_ms"] is not None
    assert not [metric for metric in page.metrics if metric.endswith((".avg_ms", ".max_ms"))], "the fallback is shown"
    assert any("p50/p95 of each handler's own" in line for line in page.text)
    # Every queue's age is published (0 when empty), the dead letters' above 0.
    assert all(queue["oldest_age_s"] is not None for queue in data["queues"]), data["queues"]
    assert high[f"queues.{poison['queue']}.oldest_age_s"] > 0
    # The queues panel and the alert at the top: the poison messages, with the redrive command.
    [alert] = [a for a in data["alerts"] if a["queue"] == poison["queue"]]
    assert alert["messages"] >= poison["count"] and alert["redrive"] == "make redrive QUEUE=notifications"
    assert "make redrive QUEUE=notifications" in "".join(page.text)
    assert len(data["queues"]) == 3 and len(data["activity"]["minutes"]) == 60

    inline = [src for src in page.images if src.startswith("data:image/")]
    assert inline and len(inline) == sum(1 for image in data["images"]["latest"] if image["thumbnail"])
    assert len(inline) == len(page.images), "every <img> is an inline data: image"
    text = "".join(page.text)
    assert TRICKY_MESSAGE[:100] in text  # shown as text, not parsed as markup
    assert f"{RUN} payment failed" in text and traffic["image_key"] in text
    # Counted by the writers (counter items): the totals and the charts of the last 60 minutes.
    assert data_numbers["logs.by_level.ERROR"] >= 2 and data_numbers["images.successful"] >= 1
    assert data_numbers["activity.images_completed"] >= 1 and data_numbers["activity.logs_ERROR"] >= 2


@pytest.mark.parametrize("width", sorted(SCREENSHOTS))
def test_a_screenshot_of_the_page(browser, deployed, traffic, poison, width):  # noqa: F811
    path = browser.screenshot(f"{deployed.api_url}/dashboard", SCREENSHOTS[width], size=(width, 2600))
    print(f"\n[dashboard] screenshot: {path}")
    content = path.read_bytes()
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(content[16:20], "big") == width  # the PNG's own width: the page was laid out at it
    assert len(content) > 20_000, f"a {len(content)}-byte screenshot is too small to show the dashboard"


# --- the same page against a broken data endpoint (a local stub, no engine needed) -------------


class BrokenData(http.server.BaseHTTPRequestHandler):
    page = (ROOT / "lambda_src" / "api_handler" / "dashboard.html").read_bytes()

    def do_GET(self):
        if self.path.rstrip("/").endswith("/dashboard"):
            status, content_type, body = 200, "text/html; charset=utf-8", self.page
        else:
            status, content_type = 502, "application/json"
            body = json.dumps({"error": "dashboard function failed", "reason": "<i>boom</i>"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_failed_data_fetch_shows_an_error_banner(browser):  # noqa: F811
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BrokenData)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = Page(browser.dump_dom(f"http://127.0.0.1:{server.server_port}/prod/dashboard"))
    finally:
        server.shutdown()
        server.server_close()
    assert "shown" in page.classes["banner"]
    text = "".join(page.text)
    assert "Could not load the dashboard data" in text and "HTTP 502" in text and "<i>boom</i>" in text
    assert {value for values in page.metrics.values() for value in values} == {"–"}  # no data, no numbers
