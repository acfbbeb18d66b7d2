"""Pytest plugin loaded into LocalStack's own test suite by tools/conformance/run.py (`-p report_plugin`).

It points LocalStack's test fixtures at the conformance engine (never the default port 4566,
which may be someone's stack), skips with the reason what cannot run against an engine in
another process, and writes one JSON line per finished test, so a run cut short by the time
budget still reports what it ran."""

import json
import os

import pytest

RESULTS = os.environ["CONFORMANCE_RESULTS"]
PORT = int(os.environ["CONFORMANCE_PORT"])
# Markers of LocalStack's suite (localstack/testing/pytest/marking.py) that an engine outside
# the test's process and without Docker cannot satisfy: skipped, with the reason, not failed.
UNRUNNABLE = {
    "requires_in_process": "needs LocalStack inside the test's own process",
    "requires_docker": "needs a Docker daemon (the engine runs without Docker)",
}

_reports: dict[str, dict] = {}


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    # tests/aws/conftest.py sets GATEWAY_LISTEN to 4566 in pytest_configure; the fixtures that
    # build URLs themselves (config.internal_service_url()) must reach this run's engine.
    from localstack import config

    config.GATEWAY_LISTEN = config.UniqueHostAndPortList([config.HostAndPort(host="127.0.0.1", port=PORT)])
    config.LOCALSTACK_HOST = config.HostAndPort(host="localhost", port=PORT)


# file -> words one of which a test's name must hold (e.g. its runtime: python or nodejs)
KEYWORDS = json.loads(os.environ.get("CONFORMANCE_KEYWORDS", "{}"))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    chosen = [item for item in items if _wanted(item)]
    config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
    items[:] = chosen
    for item in items:
        for marker, reason in UNRUNNABLE.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"conformance: {reason}"))


def _wanted(item) -> bool:
    words = KEYWORDS.get(item.nodeid.split("::", 1)[0])
    return not words or any(word in item.name for word in words)


def pytest_runtest_logreport(report):
    found = _reports.setdefault(report.nodeid, {"test": report.nodeid, "outcome": "passed", "seconds": 0.0})
    found["seconds"] += report.duration
    if report.skipped and found["outcome"] == "passed":
        found["outcome"] = "skipped"
        found["reason"] = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    elif report.failed:
        # a failing test body is a failure; a failing fixture (setup or teardown) is an error
        found["outcome"] = "failed" if report.when == "call" else "error"
        found.setdefault("reason", _first_line(report))
        # pytest prints tracebacks at the end, which a run stopped at its time budget never reaches
        found.setdefault("detail", report.longreprtext[-4000:])


def _first_line(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash else str(report.longrepr)
    return text.strip().splitlines()[0][:400] if text.strip() else ""


def pytest_runtest_logfinish(nodeid):
    with open(RESULTS, "a", encoding="utf-8") as sink:
        sink.write(json.dumps(_reports.pop(nodeid, {"test": nodeid, "outcome": "error"})) + "\n")
