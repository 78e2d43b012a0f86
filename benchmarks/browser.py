"""A real browser on a real dashboard, shared by the browser test (``tests/test_browser.py``) and the dashboard
benchmark (``benchmarks/dashboard.py``): Debian's headless Chromium driven by Playwright, ``tracehouse dashboard``
as a child process, and the waits that tell when a Streamlit page has rendered.

Readiness of a page is two things: its main content is visible (``wait_for_content``: a CSS selector, or
``text:...`` for an empty state's text), and Streamlit's script run is over (``IDLE``), after which nothing more
arrives. Content comes first: before the app's JavaScript has connected, the root can already say "not running".
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

import httpx

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "IDLE",
    "NO_SKELETONS",
    "chromium_missing",
    "chromium_page",
    "running_dashboard",
    "wait_for_content",
    "wait_for_http",
]

CHROMIUM = "/usr/bin/chromium"
# No sandbox (containers), no GPU, /tmp instead of a small /dev/shm, and no background traffic of its own.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update")
# Streamlit marks the app root with its script state; "notRunning" once a run has finished.
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
NO_SKELETONS = "document.querySelectorAll('[data-testid=stSkeleton]').length === 0"
_TRACEHOUSE = Path(sys.executable).parent / "tracehouse"


def chromium_missing() -> str | None:
    """Why no browser can run here (a sentence to skip or exit with), or ``None`` when one can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install 'tracehouse[dev]')"
    return None


@contextlib.contextmanager
def chromium_page(viewport: Mapping[str, int] | None = None, timeout_ms: float | None = None) -> Iterator[Any]:
    """One tab of a fresh headless Chromium (a Playwright ``Page``), closed with the browser on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
        try:
            page = browser.new_page(viewport=dict(viewport) if viewport else None)
            if timeout_ms is not None:
                page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float = 90) -> None:
    """Until ``url`` answers 200; ``RuntimeError`` if ``process`` exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited during start-up ({process.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


# ``tracehouse dashboard`` with the dashboard package (its launcher's Streamlit options included) imported from
# another folder: argv is that folder, then the port.
_FROM_SOURCE = """
import sys
import tracehouse.dashboard as package
package.__path__[:] = [sys.argv.pop(1)]
from tracehouse.dashboard.run import streamlit_command
sys.argv = ["streamlit", *streamlit_command(int(sys.argv.pop(1)))[4:]]
from streamlit.web.cli import main
sys.exit(main())
"""


@contextlib.contextmanager
def running_dashboard(endpoint: str, api_key: str, port: int, log_path: Path, start_timeout_s: float = 90,
                      source: Path | None = None) -> Iterator[str]:
    """``tracehouse dashboard`` on ``port`` reading the collector at ``endpoint``; yields its base URL and stops
    it on exit (the launcher forwards SIGTERM to Streamlit). Its output goes to ``log_path``.

    ``source``: serve the ``tracehouse.dashboard`` package from this folder instead of the installed one (with
    the Streamlit options of its own launcher), to time an older copy of it against the current one."""
    env = {**os.environ, "TRACEHOUSE_ENDPOINT": endpoint, "TRACEHOUSE_API_KEY": api_key}
    if source is None:
        command = [str(_TRACEHOUSE), "dashboard", "--port", str(port)]
    else:
        command = [sys.executable, "-P", "-c", _FROM_SOURCE, str(Path(source).resolve()), str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", process, start_timeout_s)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_content(page: Any, ready: str, timeout_ms: float | None = None) -> None:
    """Until the first element matching ``ready`` (CSS, or ``text:...``: a substring of visible text) shows."""
    if ready.startswith("text:"):
        page.get_by_text(ready[5:], exact=False).first.wait_for(state="visible", timeout=timeout_ms)
    else:
        page.locator(ready).first.wait_for(state="visible", timeout=timeout_ms)
