"""Replay and compare end to end in a real browser (issue 10): demo traffic (what ``make up`` loads) in a
collector process whose replay providers are fake OpenAI and Anthropic servers on loopback (the
``TRACEHOUSE_OPENAI_*`` / ``TRACEHOUSE_ANTHROPIC_*`` settings), the dashboard as a real process, and Debian's
headless Chromium driving the Replay & compare page through Playwright: (a) a replay with an edited model and
temperature, streamed, linked to the original; (b) a trajectory replay of an agent trace and its divergence
report; (c) a batch replay over one tenant, followed until it is scored; (d) two calls side by side with a word
diff; (e) two cohorts (model A vs model B) with deltas and confidence intervals.

The fakes are deterministic models that have "learned" the demo recording: asked a recorded conversation (the
same user texts, with as many tool results) by the recorded model, they answer what was recorded, tool calls
included; any other model answers a reworded version of it. So an exact replay reproduces the recording, and a
replay on a candidate model changes a few words: the diffs, divergence reports, scores and cohort deltas on
screen have something real to show.

Each step saves a screenshot into ``test-artifacts/screenshots-replay/`` (git-ignored; the folder is printed).

    .venv/bin/python -m pytest -m e2e tests/test_browser_replay.py -s
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import parse_qs, quote_plus, urlparse

import pytest

from benchmarks.browser import IDLE, NO_SKELETONS, chromium_missing, chromium_page, running_dashboard
from tests.conftest import REPO, Collector, free_port, start_collector, stop_collector, wait_until
from tests.fakes_sdk import Answer, FakeAnthropic, FakeOpenAI
from tests.fakes_sdk.anthropic_server import message as anthropic_message
from tests.fakes_sdk.http import Reply, Request
from tests.fakes_sdk.openai_server import completion as openai_completion

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))]

DEMO_TRACES = 150
DEMO_SEED = 11
CANDIDATE = "gpt-4.1"  # the "new model" of the edits: priced, so cost deltas are real
ALL_TIME = "2000-01-01T00:00:00Z"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots-replay"
VIEWPORT = {"width": 1400, "height": 2200}  # screenshots capture the viewport: a tall one shows whole pages
TIMEOUT_MS = 90_000  # a busy 2-core machine: a first render can take many seconds
RANGE = "7d"


# -- fake models that answer what the demo recorded ----------------------------------------------------------

@dataclass(frozen=True)
class Recorded:
    model: str  # the request model
    text: str
    tool_calls: tuple[tuple[str, str, dict], ...]  # (id, name, arguments)
    input_tokens: int
    output_tokens: int


Key = tuple[tuple[str, ...], int]


def _otel_key(messages: Iterable[Mapping[str, Any]]) -> Key:
    """(the user's texts, number of tool results) of a recorded conversation (OTel GenAI parts)."""
    questions, results = [], 0
    for message in messages:
        parts = [p for p in message.get("parts") or () if isinstance(p, Mapping)]
        results += sum(p.get("type") == "tool_call_response" for p in parts)
        text = "".join(str(p.get("content") or "") for p in parts if p.get("type") == "text")
        if message.get("role") == "user" and text:
            questions.append(text.strip())
    return tuple(questions), results


def _wire_key(messages: Iterable[Mapping[str, Any]]) -> Key:
    """The same key of a request on the wire (OpenAI chat completions or Anthropic messages)."""
    questions, results = [], 0
    for message in messages:
        if message.get("role") == "tool":
            results += 1
            continue
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        results += sum(isinstance(b, Mapping) and b.get("type") == "tool_result" for b in blocks)
        text = "".join(str(b.get("text") or "") for b in blocks if isinstance(b, Mapping) and b.get("type") == "text")
        if message.get("role") == "user" and text:
            questions.append(text.strip())
    return tuple(questions), results


_REWORDINGS = (("within", "in"), ("business days", "working days"), ("You'll", "You will"), ("I'm", "I am"),
               ("Please", "Kindly"), ("your", "the"))


def reword(text: str) -> str:
    """What another model says instead: a few words changed and one sentence added (deterministic)."""
    changed = 0
    for old, new in _REWORDINGS:
        if changed < 2 and re.search(rf"\b{re.escape(old)}\b", text):
            text = re.sub(rf"\b{re.escape(old)}\b", new, text, count=1)
            changed += 1
    return f"{text.rstrip()} Is there anything else I can help with?"


class RecordedModels:
    """The recording as a lookup table; read-only once learned, so the fake servers' threads share it."""

    def __init__(self) -> None:
        self.answers: dict[Key, Recorded] = {}
        self.chunk_delay_s = 0.0  # per streamed word: a replay the test wants to watch streaming sets it

    def learn(self, spans: Iterable[Mapping[str, Any]]) -> None:
        for span in spans:
            output = list(span.get("output_messages") or ())[:1]
            if span.get("kind") != "llm" or span.get("status") == "error" or not output:
                continue
            parts = [p for p in output[0].get("parts") or () if isinstance(p, Mapping)]
            calls = tuple((str(p.get("id") or f"call_{i}"), str(p.get("name")), _arguments(p.get("arguments")))
                          for i, p in enumerate(parts) if p.get("type") == "tool_call")
            text = "".join(str(p.get("content") or "") for p in parts if p.get("type") == "text")
            self.answers[_otel_key(span.get("input_messages") or ())] = Recorded(
                str(span.get("request_model") or span.get("model")), text, calls,
                int(span.get("input_tokens") or 0), int(span.get("output_tokens") or 0))

    def answer(self, messages: list[Mapping[str, Any]], model: str) -> Answer:
        recorded = self.answers.get(_wire_key(messages))
        if recorded is None:
            return Answer(text="I have no recording of this question.", chunk_delay_s=self.chunk_delay_s)
        same = model == recorded.model
        text = recorded.text if same or not recorded.text else reword(recorded.text)
        extra = 0 if same else 9  # the added sentence
        return Answer(text=text, tool_calls=list(recorded.tool_calls), input_tokens=recorded.input_tokens,
                      output_tokens=recorded.output_tokens + extra, response_model=model,
                      chunk_delay_s=self.chunk_delay_s)


def _arguments(value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"input": value}
    return dict(value) if isinstance(value, Mapping) else {}


class RecordedOpenAI(FakeOpenAI):
    def __init__(self, models: RecordedModels) -> None:
        self.models = models
        super().__init__()

    def _handle(self, request: Request) -> Reply:
        if request.path != "/v1/chat/completions":
            return Reply(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
        body = request.json()
        answer = self.models.answer(body.get("messages") or [], body["model"])
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return Reply(200, content_type="text/event-stream", chunks=self._chunks(answer, body["model"],
                                                                                   include_usage),
                         chunk_delay_s=answer.chunk_delay_s)
        return Reply(200, openai_completion(answer, body["model"]))


class RecordedAnthropic(FakeAnthropic):
    def __init__(self, models: RecordedModels) -> None:
        self.models = models
        super().__init__()

    def _handle(self, request: Request) -> Reply:
        if request.path != "/v1/messages":
            return Reply(404, {"type": "error", "error": {"type": "not_found_error", "message": "not found"}})
        body = request.json()
        answer = self.models.answer(body.get("messages") or [], body["model"])
        if body.get("stream"):
            return Reply(200, content_type="text/event-stream", chunks=self._events(answer, body["model"]),
                         chunk_delay_s=answer.chunk_delay_s)
        return Reply(200, anthropic_message(answer, body["model"]))


# -- the stack: fake providers, a collector with demo traffic, the dashboard ---------------------------------

def load_demo(collector: Collector, traces: int, seed: int) -> None:
    """``tracehouse demo`` through the real SDK and OTLP path, then wait until every trace is queryable (over all
    time: the demo spreads sessions over the last 24 hours, so the API's default window may miss the first)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "tracehouse"), "demo", "--traces", str(traces), "--seed", str(seed),
         "--endpoint", collector.base_url, "--api-key", collector.api_key],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with collector.client() as client:
        wait_until(lambda: len(client.get("/api/v1/traces", params={"limit": 1000, "start": ALL_TIME}).json()[
            "items"]) >= traces, timeout_s=60)


@pytest.fixture(scope="module")
def models() -> RecordedModels:
    return RecordedModels()


@pytest.fixture(scope="module")
def collector(models: RecordedModels, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """A collector process with demo traffic whose replay providers are the recorded fake models."""
    with RecordedOpenAI(models) as openai_server, RecordedAnthropic(models) as anthropic_server:
        c = start_collector(tmp_path_factory.mktemp("replay-collector"), {
            "TRACEHOUSE_OPENAI_BASE_URL": openai_server.base_url + "/v1",
            "TRACEHOUSE_OPENAI_API_KEY": "sk-fake-openai-0123456789",
            "TRACEHOUSE_ANTHROPIC_BASE_URL": anthropic_server.base_url,
            "TRACEHOUSE_ANTHROPIC_API_KEY": "sk-ant-fake-0123456789",
        })
        try:
            load_demo(c, DEMO_TRACES, DEMO_SEED)
            models.learn(recorded_calls(c))
            yield c
        finally:
            stop_collector(c)


def recorded_calls(collector: Collector) -> list[dict[str, Any]]:
    """Every LLM span of the demo, through the API."""
    spans, cursor = [], None
    with collector.client() as client:
        while True:
            page = client.get("/api/v1/spans", params={"kind": "llm", "limit": 1000, "start": ALL_TIME,
                                                       **({"cursor": cursor} if cursor else {})}).json()
            spans += [s for s in page["items"] if "replay" not in s["tags"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return spans


@pytest.fixture(scope="module")
def dashboard(collector: Collector, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("replay-dashboard") / "dashboard.log"
    with running_dashboard(collector.base_url, collector.api_key, free_port(), log) as url:
        yield url


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    with chromium_page(VIEWPORT, TIMEOUT_MS) as browser_page:
        yield browser_page


# -- driving the page -----------------------------------------------------------------------------------------

def settle(page: Any) -> None:
    """Until Streamlit's script run is over and every element has drawn."""
    page.wait_for_selector(IDLE)
    page.wait_for_function(NO_SKELETONS)
    page.wait_for_timeout(400)


def goto(page: Any, dashboard: str, path: str) -> None:
    page.goto(f"{dashboard}{path}{'&' if '?' in path else '?'}range={RANGE}", wait_until="domcontentloaded")
    page.get_by_test_id("stTab").first.wait_for(state="visible")
    settle(page)


def tab_url(label: str, **params: str) -> str:
    return "/replay?" + "&".join(f"{k}={quote_plus(v)}" for k, v in {"tab": label, **params}.items())


def widget(page: Any, key: str) -> Any:
    """A widget by its Streamlit key (the page's keys, with dots as dashes)."""
    return page.locator(f".st-key-{key.replace('.', '-')}")


def fill(page: Any, key: str, value: str) -> None:
    box = widget(page, key).locator("input").first
    box.fill(value)
    box.press("Enter")
    settle(page)


def pick(page: Any, key: str, option: str) -> None:
    """Choose ``option`` in a selectbox."""
    widget(page, key).get_by_role("button", name="Open").click()
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)


def click(page: Any, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()


def metric(scope: Any, label: str) -> str:
    """The value of the ``st.metric`` tile labelled ``label`` inside ``scope``."""
    tile = scope.get_by_test_id("stMetric").filter(has=scope.page.get_by_test_id("stMetricLabel").get_by_text(
        label, exact=True))
    return tile.get_by_test_id("stMetricValue").inner_text().strip()


def snap(page: Any, name: str, capsys: pytest.CaptureFixture[str], shown: str) -> None:
    """Check the page for exceptions and error boxes, screenshot it, and print what it shows."""
    exceptions = page.get_by_test_id("stException")
    assert exceptions.count() == 0, exceptions.first.inner_text()[:800]
    errors = page.get_by_test_id("stAlertContentError")
    assert errors.count() == 0, errors.first.inner_text()[:400]
    shot = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000  # a real page, not a blank one
    with capsys.disabled():
        print(f"\n  [{name}] {shot}\n      {shown}")


def query(href: str | None, name: str) -> str:
    return parse_qs(urlparse(href or "").query).get(name, [""])[0]


# -- picking recorded calls -----------------------------------------------------------------------------------

def text_call(collector: Collector, request_model: str) -> dict[str, Any]:
    """A recorded call of ``request_model`` that answered in plain words (no tool call, no error)."""
    return next(s for s in recorded_calls(collector)
                if s["request_model"] == request_model and s["status"] != "error" and len(s["output_text"]) > 120
                and not any(p.get("type") == "tool_call" for m in s["output_messages"] for p in m["parts"])
                and not re.search(r"[*_`#|\[\]]", s["output_text"]))  # shown as Markdown: keep it plain


def agent_trace(collector: Collector) -> tuple[str, list[dict[str, Any]]]:
    """An agent trace whose two LLM steps are a tool call, then the answer on the tool's result."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for span in recorded_calls(collector):
        by_trace.setdefault(span["trace_id"], []).append(span)
    for trace_id, steps in sorted(by_trace.items()):
        steps.sort(key=lambda s: s["start_time"])
        if len(steps) == 2 and all(s["status"] != "error" for s in steps) and steps[0]["finish_reason"] == \
                "tool_call" and steps[1]["output_text"] and steps[0]["request_model"] != CANDIDATE:
            return trace_id, steps
    raise AssertionError("the demo has no agent trace with a tool step")


# -- the steps --------------------------------------------------------------------------------------------------

def test_a_replay_with_an_edited_model_streams_and_links_to_the_original(collector, models, dashboard, page,
                                                                           capsys):
    call = text_call(collector, "gpt-4o-mini")
    expected = reword(call["output_text"])
    goto(page, dashboard, f"/replay?trace={call['trace_id']}&span={call['span_id']}")
    page.get_by_text("Original call").first.wait_for()
    fill(page, "replay.model", CANDIDATE)
    fill(page, "replay.temperature", "0.2")
    models.chunk_delay_s = 0.12  # slow enough to watch the words arrive
    try:
        click(page, "Replay")
        stream = widget(page, "streamed-answer")
        opening = " ".join(expected.split()[:3])
        page.wait_for_function("([el, opening]) => el && el.innerText.includes(opening)",
                               arg=[stream.element_handle(), opening])
        partial = stream.inner_text()
        assert "Is there anything else" not in partial, "the answer arrived in one piece, not streamed"
        snap(page, "a1-streaming", capsys, f"streaming: {partial.splitlines()[-1][:100]!r}")
    finally:
        models.chunk_delay_s = 0.0
    result = widget(page, "replay-result")
    result.wait_for(state="visible")
    settle(page)
    text = result.inner_text()
    assert "status done" in text and f"on openai · {CANDIDATE}" in text
    assert f"Replay of span {call['span_id']} in trace {call['trace_id']}" in text
    assert expected[-60:] in text  # the new answer, in full
    original = result.get_by_role("link", name="Open the original trace").get_attribute("href")
    replayed = result.get_by_role("link", name="Open the replay's trace").get_attribute("href")
    assert query(original, "trace_id") == call["trace_id"]
    new_trace = query(replayed, "trace_id")
    assert new_trace and new_trace != call["trace_id"]
    inserted = result.locator(".replay-diff ins").all_inner_texts()
    assert "Is there anything else I can help with?" in "".join(inserted)
    similarity = metric(result, "Similarity to the original")
    snap(page, "a2-replayed", capsys, f"{CANDIDATE} at temperature 0.2: latency {metric(result, 'Latency')}, cost "
         f"{metric(result, 'Cost')}, output tokens {metric(result, 'Output tokens')}, similarity {similarity}; "
         f"inserted {inserted}")

    with collector.client() as client:  # stored as a trace of its own that links back to the call
        (span,) = client.get(f"/api/v1/traces/{new_trace}").json()["spans"]
    assert span["metadata"]["replay_of"] == {"trace_id": call["trace_id"], "span_id": call["span_id"]}
    assert "replay" in span["tags"] and span["params"]["temperature"] == 0.2 and span["model"] == CANDIDATE
    page.goto(f"{dashboard}/trace?trace_id={new_trace}&range={RANGE}", wait_until="domcontentloaded")
    page.get_by_text(f"replay chat {CANDIDATE}").first.wait_for()
    settle(page)
    snap(page, "a3-replay-trace", capsys, f"the replay's trace {new_trace}, tagged replay, replay_of "
         f"{call['span_id']}")


def test_b_trajectory_replay_reports_where_the_run_diverges(collector, dashboard, page, capsys):
    trace_id, steps = agent_trace(collector)
    goto(page, dashboard, tab_url("Replay a trajectory", trajectory=trace_id))
    click(page, "Replay the trajectory")
    result = widget(page, "trajectory-result")
    result.get_by_text("Every step answered as recorded").wait_for()
    settle(page)
    assert metric(result, "Reproduced") == "2 of 2" and metric(result, "First divergence") == "none"
    snap(page, "b1-trajectory-exact", capsys, f"exact replay of {trace_id} ({steps[0]['request_model']}): "
         f"reproduced {metric(result, 'Reproduced')}, first divergence {metric(result, 'First divergence')}")

    fill(page, "trajectory.model", CANDIDATE)
    click(page, "Replay the trajectory")
    result.get_by_text("Diverged at step 2").wait_for()
    settle(page)
    assert metric(result, "Reproduced") == "1 of 2" and metric(result, "First divergence") == "step 2"
    warning = result.get_by_text("Diverged at step 2").inner_text()
    inserted = "".join(result.locator(".replay-diff ins").all_inner_texts())
    assert "Is there anything else I can help with?" in inserted
    snap(page, "b2-trajectory-diverged", capsys, f"on {CANDIDATE}: reproduced {metric(result, 'Reproduced')}, "
         f"first divergence {metric(result, 'First divergence')}, mean similarity "
         f"{metric(result, 'Mean similarity')}; {warning!r}")


def test_c_batch_replay_of_one_tenant_finishes_with_scores(collector, models, dashboard, page, capsys):
    goto(page, dashboard, tab_url("Batch replay"))
    pick(page, "batch.tenant", "globex")
    fill(page, "batch.model", CANDIDATE)
    models.chunk_delay_s = 0.03  # a run long enough to watch
    try:
        click(page, "Start batch replay")
        result = widget(page, "batch-result")
        result.wait_for(state="visible")
        if result.get_by_test_id("stProgress").count():
            snap(page, "c1-batch-running", capsys, result.get_by_test_id("stProgress").inner_text())
        result.get_by_text("status done").wait_for(timeout=120_000)
    finally:
        models.chunk_delay_s = 0.0
    settle(page)
    run_id = widget(page, "batch").locator("input").input_value()
    with collector.client() as client:
        run = client.get(f"/api/v1/replays/batch/{run_id}").json()
    summary = run["summary"]
    assert run["status"] == "done" and run["filters"]["tenant"] == "globex" and summary["n"] == 20
    assert metric(result, "Replayed") == f"{summary['replayed']} of 20" and summary["errors"] == 0
    assert metric(result, "Mean similarity") == f"{summary['mean_similarity'] * 100:.1f}%"
    assert metric(result, "Exact match") == f"{summary['exact_match_rate'] * 100:.1f}%"
    assert 0 < summary["mean_similarity"] < 1 and summary["total_cost_delta_usd"] > 0  # gpt-4.1 costs more
    snap(page, "c2-batch-done", capsys, f"run {run_id} over tenant globex on {CANDIDATE}: replayed "
         f"{metric(result, 'Replayed')}, errors {metric(result, 'Errors')}, exact match "
         f"{metric(result, 'Exact match')}, mean similarity {metric(result, 'Mean similarity')}, mean latency change "
         f"{metric(result, 'Mean latency change')}, cost change {metric(result, 'Cost change')}")

    click(page, "Compare recorded and replayed as cohorts")
    cohorts = widget(page, "cohorts-result")
    cohorts.wait_for(state="visible")
    settle(page)
    assert metric(cohorts, "A: recorded") == "20 calls"
    snap(page, "c3-batch-as-cohorts", capsys, cohorts.get_by_text("Clear differences").inner_text())


def test_d_compare_two_calls_side_by_side_from_the_trace_page(collector, dashboard, page, capsys):
    call = text_call(collector, "claude-haiku-4-5")
    page.goto(f"{dashboard}/trace?trace_id={call['trace_id']}&range={RANGE}", wait_until="domcontentloaded")
    page.get_by_role("link", name="Replay this call").first.wait_for()
    settle(page)
    page.get_by_role("link", name="Replay this call").first.click()
    page.get_by_text("Original call").first.wait_for()
    settle(page)
    fill(page, "replay.model", "claude-sonnet-4-5")
    click(page, "Replay")
    widget(page, "replay-result").get_by_text("status done").wait_for()
    settle(page)
    click(page, "Compare with the original")
    page.get_by_text("Word diff, A → B").wait_for()  # the Compare tab, filled in
    settle(page)
    diff = page.locator(".replay-diff:visible")
    assert diff.count() == 1
    assert widget(page, "a").locator("input").input_value() == call["span_id"]
    replayed = widget(page, "b").locator("input").input_value()
    assert replayed and replayed != call["span_id"]
    shown = page.locator("p", has_text="Different answers").inner_text()
    assert "Is there anything else I can help with?" in "".join(diff.locator("ins").all_inner_texts())
    sides = [t.split()[-1] for t in page.get_by_role("link", name=re.compile(r"Trace [0-9a-f]{32}$")).all_inner_texts()]
    assert len(sides) == 2 and sides[0] == call["trace_id"] and sides[1] != call["trace_id"]  # each side's trace
    with collector.client() as client:
        answer = client.get("/api/v1/compare", params={"a": call["span_id"], "b": replayed}).json()
    assert answer["deltas"]["params"][0] == {"name": "model", "a": call["model"], "b": "claude-sonnet-4-5"}
    snap(page, "d-compare-two-calls", capsys, f"{call['model']} vs its replay on claude-sonnet-4-5: {shown!r}; "
         f"deleted {diff.locator('del').all_inner_texts()}, inserted {diff.locator('ins').all_inner_texts()}")

    # The Trace page's "Compare with…" link opens the Compare tab with the call as A.
    page.goto(f"{dashboard}/trace?trace_id={call['trace_id']}&range={RANGE}", wait_until="domcontentloaded")
    page.get_by_role("link", name="Compare with…").first.click()
    page.get_by_text("Enter two LLM calls' span ids").wait_for()
    assert widget(page, "a").locator("input").input_value() == call["span_id"]


def test_e_compare_two_cohorts_model_a_against_model_b(collector, dashboard, page, capsys):
    a_model, b_model = "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14"
    goto(page, dashboard, tab_url("Compare cohorts"))
    pick(page, "cohorts.A.model", a_model)
    pick(page, "cohorts.B.model", b_model)
    click(page, "Compare the cohorts")
    result = widget(page, "cohorts-result")
    result.wait_for(state="visible")
    settle(page)
    with collector.client() as client:
        answer = client.post("/api/v1/compare/cohorts", json={"a": {"model": a_model, "start": ALL_TIME, "limit": 500},
                                                              "b": {"model": b_model, "start": ALL_TIME, "limit": 500},
                                                              }).json()
    n_a, n_b = answer["a"]["n"], answer["b"]["n"]
    assert metric(result, f"A: model {a_model}") == f"{n_a} calls" and n_a >= 5
    assert metric(result, f"B: model {b_model}") == f"{n_b} calls" and n_b >= 5
    cost = next(d for d in answer["deltas"] if d["metric"] == "cost_usd")
    assert cost["significant"] and cost["ci_low"] > 0  # gpt-4.1 costs more per call, clearly
    clear = result.get_by_text("Clear differences").inner_text()
    assert "Cost" in clear
    table = result.get_by_test_id("stDataFrame")
    assert table.count() == 1
    snap(page, "e-compare-cohorts", capsys, f"A {a_model} ({n_a} calls) vs B {b_model} ({n_b} calls): {clear!r}; "
         f"cost B - A {cost['delta']:+.6f} USD, 95% interval [{cost['ci_low']:+.6f}, {cost['ci_high']:+.6f}]")
