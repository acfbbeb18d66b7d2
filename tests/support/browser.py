"""A real browser for page tests: headless Chromium, found on PATH or installed with apt-get.

    from tests.support.browser import browser  # noqa: F401  (the session fixture)

    dom = browser.dump_dom(url)                  # the DOM after the page's scripts ran
    browser.screenshot(url, Path("shot.png"))    # a PNG of the page

Each run gets a fresh profile directory. The test is skipped, with the reason, only when no
browser is installed and none can be installed (no apt-get, not root, no package source).
"""

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
# Headless as root (hence no sandbox), no GPU, and nothing that phones home during a test.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Virtual time runs the page's timers without waiting for them; it stands still while a
# network request is pending, so a slow API answer still lands before the DOM is taken.
VIRTUAL_TIME_BUDGET_MS = 15000
RUN_TIMEOUT_S = 180
APT_TIMEOUT_S = 900


class BrowserError(Exception):
    pass


def find() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def install(say) -> tuple[str | None, str]:
    """(path, "") after installing Debian's chromium with apt-get, or (None, why not)."""
    if not shutil.which("apt-get"):
        return None, "no browser found and apt-get is not available to install chromium"
    if os.geteuid() != 0:
        return None, "no browser found and installing chromium with apt-get needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install_chromium = ["apt-get", "install", "-y", "-q", "chromium"]
    attempts = (
        ("installing chromium with apt-get (this can take a few minutes)", [install_chromium]),
        ("apt-get install failed; apt-get update, then trying again", [["apt-get", "update", "-q"], install_chromium]),
    )
    errors = []
    for message, commands in attempts:
        say(f"[browser] {message} ...")
        for command in commands:
            try:
                result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                errors.append(f"{' '.join(command)} timed out after {APT_TIMEOUT_S} s")
                break
            if result.returncode != 0:
                errors.append(f"{' '.join(command)}: exit {result.returncode}: {result.stderr.strip()[-400:]}")
                break
        path = find()
        if path:
            say(f"[browser] installed: {path}")
            return path, ""
    return None, "no browser found and chromium could not be installed: " + " | ".join(errors)


@dataclass(frozen=True)
class Browser:
    path: str

    def run(self, *args: str) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
            command = [self.path, *FLAGS, f"--user-data-dir={profile}", *args]
            try:
                result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired as exc:
                raise BrowserError(f"{self.path} did not finish in {RUN_TIMEOUT_S} s: {' '.join(args)}") from exc
        if result.returncode != 0:
            raise BrowserError(f"{self.path} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
        return result

    def dump_dom(self, url: str, budget_ms: int = VIRTUAL_TIME_BUDGET_MS) -> str:
        """The serialised DOM of `url` once its scripts have run for `budget_ms` of virtual time."""
        dom = self.run(f"--virtual-time-budget={budget_ms}", "--dump-dom", url).stdout
        if "<html" not in dom.lower():
            raise BrowserError(f"no DOM dumped for {url}: {dom[:300]!r}")
        return dom

    def screenshot(
        self, url: str, path: Path, size: tuple[int, int] = (1280, 1800), budget_ms: int = VIRTUAL_TIME_BUDGET_MS
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self.run(
            f"--virtual-time-budget={budget_ms}", f"--screenshot={path}", f"--window-size={size[0]},{size[1]}", url
        )
        if not path.exists():
            raise BrowserError(f"{self.path} wrote no screenshot to {path}")
        return path


@pytest.fixture(scope="session")
def browser(request) -> Browser:
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def say(message: str) -> None:
        # Progress the user should see even while pytest captures output (an install is slow).
        with capture.global_and_fixture_disabled():
            print(message, flush=True)

    path = find()
    if path is None:
        path, reason = install(say)
        if path is None:
            pytest.skip(reason)
    return Browser(path)
