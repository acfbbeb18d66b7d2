"""GET /dashboard: one self-contained HTML page, served by the API handler, packaged in its zip."""

import re
from html.parser import HTMLParser
from pathlib import Path

import api_handler

from roxs_common import LOG_LEVELS, NOTIFICATION_PRIORITIES
from tests.unit.conftest import ALLOW_ORIGIN

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lambda_src" / "api_handler"
METRICS = (
    "images.total",
    "images.successful",
    "images.failed",
    "logs.total",
    "notifications.total",
    "functions.total",
)
# Made by the script for each level, priority and bucket found in the data.
METRIC_PREFIXES = ("logs.by_level", "notifications.by_priority", "storage.")


def event(method, path):
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": None,
        "queryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "requestContext": {"requestId": "apigw-req-1", "stage": "prod"},
        "body": None,
        "isBase64Encoded": False,
    }


def get_page(context, path="/dashboard"):
    return api_handler.lambda_handler(event("GET", path), context)


class Attributes(HTMLParser):
    """Every (tag, attribute, value) of a document, and the text of its <script> and <style>."""

    def __init__(self):
        super().__init__()
        self.attributes, self.code, self._in_code = [], [], False

    def handle_starttag(self, tag, attrs):
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        self._in_code = tag in ("script", "style")

    def handle_endtag(self, tag):
        self._in_code = False

    def handle_data(self, data):
        if self._in_code:
            self.code.append(data)


def parsed(html):
    parser = Attributes()
    parser.feed(html)
    return parser


def test_the_page_is_html_with_the_cors_headers(context):
    response = get_page(context)
    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Access-Control-Allow-Origin"] == ALLOW_ORIGIN
    assert headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    assert response["isBase64Encoded"] is False
    # The page itself, not a JSON string holding it.
    assert response["body"].lstrip().lower().startswith("<!doctype html>")
    assert response["body"] == (PACKAGE / "dashboard.html").read_text(encoding="utf-8")
    assert get_page(context, "/dashboard/")["statusCode"] == 200


def test_the_page_needs_nothing_from_another_host(context):
    html = get_page(context)["body"]
    assert not re.search(r"(?i)\b(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html), "an absolute URL in the page"
    document = parsed(html)
    for tag, name, value in document.attributes:
        if name in ("src", "href", "action", "srcset"):
            raise AssertionError(f"<{tag} {name}={value!r}> loads something; the page must be self-contained")
    code = "".join(document.code)
    assert "@import" not in code and "url(" not in code
    # The Content-Security-Policy lets the page load only its own JSON and data: images.
    assert "default-src 'none'" in html and "connect-src 'self'" in html and "img-src data:" in html


def test_the_page_reads_its_data_from_a_relative_url(context):
    html = get_page(context)["body"]
    assert '"dashboard/data"' in html
    assert '"/dashboard/data"' not in html and "restapis" not in html and "_user_request_" not in html


def test_numbers_are_marked_with_their_metric_names(context):
    html = get_page(context)["body"]
    marked = {value for _, name, value in parsed(html).attributes if name == "data-metric"}
    assert set(METRICS) <= marked
    for prefix in METRIC_PREFIXES:
        assert prefix in html


def test_levels_and_priorities_come_with_the_data_not_from_the_page(context):
    """The page keeps no list of log levels or priorities of its own: it orders by the ones
    the dashboard's JSON carries in its metadata (roxs_common.constants)."""
    code = "".join(parsed(get_page(context)["body"]).code)
    for key in ("log_levels", "charted_levels", "notification_priorities"):
        assert f"known.{key}" in code
    for names in (LOG_LEVELS, NOTIFICATION_PRIORITIES):
        listed = [name for name in names if re.search(rf'\[[^\]]*"{name}"[^\]]*\]', code)]
        assert not listed, f"{listed} typed in an array of the page's script"


def test_data_reaches_the_page_as_text_only(context):
    code = "".join(parsed(get_page(context)["body"]).code)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, f"{sink} in the page's script"
    assert "textContent" in code


def test_wrong_method_is_405_and_options_is_a_preflight(context):
    response = api_handler.lambda_handler(event("POST", "/dashboard"), context)
    assert response["statusCode"] == 405 and response["headers"]["Allow"] == "GET, OPTIONS"
    assert response["headers"]["Content-Type"].startswith("application/json")
    assert api_handler.lambda_handler(event("OPTIONS", "/dashboard"), context)["statusCode"] == 204


def test_the_page_is_packaged_with_the_handler():
    import build

    assert PACKAGE / "dashboard.html" in build.package_files(PACKAGE)
