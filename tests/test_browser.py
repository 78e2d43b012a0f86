"""End to end in a real browser: the collector (``collector``: a real process with demo data) and the dashboard
(``tracehouse dashboard``, a real process) driven by Debian's headless Chromium through Playwright.

Every page is opened by URL, waited for (Streamlit's script run finished, then the page's own content: a chart,
a table, a metric or its empty-state text), checked for exceptions and error boxes, and screenshotted into
``test-artifacts/screenshots/`` (git-ignored; the folder is printed). Timeouts are generous: on a busy 2-core
machine a first page render (Streamlit start, chDB queries, Plotly's JavaScript) can take many seconds.

    .venv/bin/python -m pytest -m e2e tests/test_browser.py
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from typing import Iterator

import pytest

from benchmarks.browser import (
    IDLE,
    NO_SKELETONS,
    chromium_missing,
    chromium_page,
    running_dashboard,
    wait_for_content,
)
from tests.conftest import REPO, Collector, free_port

pytestmark = pytest.mark.e2e

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1400, "height": 2000}  # screenshots capture the viewport: a tall one shows whole pages
PAGE_TIMEOUT_MS = 90_000
RANGE = "7d"


@dataclass(frozen=True)
class PageCase:
    name: str
    path: str  # URL path and query, without the range
    ready: str  # a CSS selector, or text:... for an empty state's text


@pytest.fixture(scope="module")
def dashboard(collector: Collector, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tracehouse dashboard`` on a free port, reading the ``collector`` with its demo project's key."""
    log = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    with running_dashboard(collector.base_url, collector.api_key, free_port(), log) as url:
        yield url


@pytest.fixture(scope="module")
def browser_page():
    if reason := chromium_missing():
        pytest.skip(reason)
    with chromium_page(VIEWPORT, PAGE_TIMEOUT_MS) as page:
        yield page


def demo_ids(collector: Collector) -> tuple[str, str]:
    """A demo trace with LLM calls and the session with the most traces."""
    with collector.client() as client:
        items = client.get("/api/v1/traces", params={"limit": 1000, "start": "2000-01-01T00:00:00Z"}).json()["items"]
    trace_id = next(t["trace_id"] for t in items if t["llm_calls"] >= 2)
    sessions: dict[str, int] = {}
    for t in items:
        if t["session"]:
            sessions[t["session"]] = sessions.get(t["session"], 0) + 1
    return trace_id, max(sessions, key=sessions.get)


def page_cases(trace_id: str, session_id: str) -> list[PageCase]:
    return [
        PageCase("overview", "/", "div.js-plotly-plot"),
        PageCase("traces", "/traces", "[data-testid=stDataFrame]"),
        PageCase("traces-filtered", "/traces?min_ms=1000&sort=slowest&tag=billing", "[data-testid=stDataFrame]"),
        PageCase("trace", f"/trace?trace_id={trace_id}", "div.js-plotly-plot"),
        PageCase("sessions", "/sessions", "[data-testid=stDataFrame]"),
        PageCase("session", f"/sessions?session_id={session_id}", "[data-testid=stChatMessage]"),
        PageCase("cost", "/cost", "div.js-plotly-plot"),
        PageCase("quality", "/quality", "div.js-plotly-plot"),
        PageCase("clusters", "/clusters", "text:Run clustering over the"),  # empty state or the newest run
        PageCase("drift", "/drift", "[data-testid=stDataFrame]"),
        PageCase("replay", "/replay", "text:Pick an LLM call to replay"),
    ]


def open_and_check(page, base: str, case: PageCase) -> float:
    """Open one page, wait until it is rendered, check it; returns seconds from navigation to content."""
    separator = "&" if "?" in case.path else "?"
    started = time.monotonic()
    page.goto(f"{base}{case.path}{separator}range={RANGE}", wait_until="domcontentloaded")
    wait_for_content(page, case.ready)
    elapsed = time.monotonic() - started
    page.wait_for_selector(IDLE)  # the script run is over: nothing more will arrive
    page.wait_for_function(NO_SKELETONS)  # every element has drawn (components load lazily)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # Plotly's last relayout
    return elapsed


def test_every_page_renders_without_an_exception_and_is_screenshotted(collector, dashboard, browser_page, capsys):
    trace_id, session_id = demo_ids(collector)
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    timings, problems = [], []
    for case in page_cases(trace_id, session_id):
        elapsed = open_and_check(browser_page, dashboard, case)
        shot = SCREENSHOTS / f"{case.name}.png"
        browser_page.screenshot(path=str(shot), full_page=True)
        exceptions = browser_page.locator("[data-testid=stException]")
        if exceptions.count():
            problems.append(f"{case.name}: exception: {exceptions.first.inner_text()[:500]}")
        errors = browser_page.locator("[data-testid=stAlertContentError]")
        if errors.count():
            problems.append(f"{case.name}: error box: {errors.first.inner_text()[:300]}")
        if browser_page.get_by_text("Page not found").count():
            problems.append(f"{case.name}: Streamlit says 'Page not found' for {case.path}")
        timings.append((case.name, elapsed, shot))

    # Cost with a daily budget typed into the sidebar: who is over, in red.
    page = browser_page
    budget = page.get_by_label("Every tenant (USD per day)", exact=True)
    open_and_check(page, dashboard, PageCase("cost", "/cost", "div.js-plotly-plot"))
    budget.fill("0.01")
    budget.press("Enter")
    page.get_by_text("Over budget in this time range").wait_for(state="visible")
    page.wait_for_selector(IDLE)
    page.wait_for_timeout(500)
    shot = SCREENSHOTS / "cost-budgets.png"
    page.screenshot(path=str(shot), full_page=True)
    timings.append(("cost-budgets", None, shot))
    assert page.locator("[data-testid=stException]").count() == 0

    with capsys.disabled():
        print(f"\nscreenshots: {SCREENSHOTS}")
        for name, elapsed, shot in timings:
            shown = f"{elapsed:5.1f} s" if elapsed is not None else "      -"
            print(f"  {name:<16} {shown}  {shot.name}")
    assert not problems, "\n".join(problems)
    assert all(shot.stat().st_size > 10_000 for _, _, shot in timings)  # a real page, not a blank one


def test_time_range_and_project_persist_across_pages(collector, dashboard, browser_page):
    """The sidebar's range travels with the navigation; a pasted project key stays for the session."""
    page = browser_page
    page.goto(f"{dashboard}/cost?range=30d", wait_until="domcontentloaded")
    page.locator("div.js-plotly-plot").first.wait_for(state="visible")
    page.wait_for_selector(IDLE)
    page.get_by_test_id("stSidebarNav").get_by_text("Quality").click()
    page.get_by_text("Refusals, truncation and other failure signals").wait_for(state="visible")
    page.wait_for_selector(IDLE)
    assert "range=30d" in page.url and "/quality" in page.url
    page.get_by_text("LLM calls in the last 30 days").wait_for(state="visible")

    _, other_key = collector.new_project("browser-other")
    page.get_by_test_id("stSidebar").get_by_text("Project", exact=True).click()
    key_box = page.get_by_label("Project API key", exact=True)
    key_box.fill(other_key)
    key_box.press("Enter")
    page.get_by_text("No LLM calls in this time range").wait_for(state="visible")
    page.get_by_test_id("stSidebarNav").get_by_text("Overview").click()
    page.get_by_text("No traces yet").first.wait_for(state="visible")  # still the other (empty) project
    assert other_key not in page.url  # keys never go into a link
