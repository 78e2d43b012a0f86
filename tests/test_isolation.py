"""Project isolation (issue #11): every API route called with another project's key and ids.

One collector process holds two projects, A and B. Each has its own spans (a distinctive token in every message;
its own tenant, user and sessions), a clustering run, a drift run, a replay, a batch replay, alert rules and a
webhook test in its alert history. The matrix calls every route of the live OpenAPI as B:

- ``foreign``: B's key with A's ids (trace, span, session, tenant, run, rule, project) -> the route's expected
  status (404, or 200 with nothing in it) and no A marker anywhere in the body (A's token, project id, keys and
  every trace/span/run/rule/event id), except the ids B itself sent; writes leave A's data as it was, and jobs B
  starts with A's ids find nothing.
- ``own``: B's key with B's ids -> success and B's data only; aggregates never exceed B's own span count.
- ``no-key``, ``wrong-key`` -> 401; a key without the route's scope -> 403; the bootstrap admin key (which has no
  project) on project routes -> 4xx; a project key on admin routes -> 403.

In every case the replay provider and the webhook receiver (fakes in this process) must not receive A's data.

``ROUTES`` is the case table, one line per route. ``test_every_route_is_in_the_matrix`` fails when the OpenAPI
has a route the table lacks (a new route cannot skip the matrix) or the table names a route that is gone.
OTLP/gRPC ingest is not in the OpenAPI: ``GRPC_CASES`` covers it.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from tracehouse.storage import hash_key

from .conftest import ADMIN_KEY, Collector, free_port, start_collector, stop_collector, wait_until
from .fakes_sdk.http import FakeServer, Reply
from .fakes_sdk.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e

ALL_TIME = {"start": "2000-01-01T00:00:00Z"}
JSON = {"content-type": "application/json"}
WRONG_KEY = "th_" + "0" * 40
GOLDEN_LOGS = Path(__file__).parent / "data" / "golden" / "otel_genai_events.logs.json"
TOPICS = ("refund for a damaged order", "reset my account password", "shipping is delayed again",
          "need a copy of my invoice", "cancel the premium subscription")
TERMINAL = ("done", "failed", "cancelled")

# Access levels (what key a route needs) and the cases each level gets.
PUBLIC, ANY, INGEST, READ, WRITE = "public", "any key", "ingest", "read", "read+ingest"
PROJECT_ADMIN, ADMIN = "project-admin", "admin"
CASES: dict[str, tuple[str, ...]] = {
    PUBLIC: ("public",),
    ANY: ("own", "no-key", "wrong-key", "ingest-key", "read-key", "bootstrap-admin"),
    INGEST: ("foreign", "own", "no-key", "wrong-key", "read-key", "bootstrap-admin"),
    READ: ("foreign", "own", "no-key", "wrong-key", "ingest-key", "bootstrap-admin"),
    WRITE: ("foreign", "own", "no-key", "wrong-key", "ingest-key", "read-key", "bootstrap-admin"),
    PROJECT_ADMIN: ("foreign", "own", "no-key", "wrong-key", "rw-key", "read-key", "bootstrap-admin"),
    ADMIN: ("own", "no-key", "wrong-key", "rw-key", "project-admin-key"),
}


# -- the two projects ------------------------------------------------------------------------------------------------

@dataclass
class Project:
    label: str  # "A" or "B"
    id: str
    token: str  # in every message, system prompt and error text of this project
    keys: dict[str, str]  # rw (ingest+read), read, ingest, admin (admin scope), revoke and rotate (spares)
    tenant: str
    user: str
    sessions: list[str]
    traces: list[str]  # content traces, newest last
    llm: list[tuple[str, str]]  # (trace_id, span_id) of LLM spans with content, one per content trace
    collide: tuple[str, str]  # a trace/span the other project writes with the same ids (ingest cases)
    bare: tuple[str, str]  # an LLM span without content: the other project's logs must not fill it
    created_ns: int  # start time of the spans this project writes with ``collide`` ids (re-sends are identical)
    forget_user: str  # a user with one trace, for POST /projects/{id}/forget
    cluster_run: str = ""
    cluster_id: str = ""
    drift_run: str = ""
    batch_run: str = ""
    replay: dict[str, str] = field(default_factory=dict)
    rule_id: str = ""
    spare_rule_id: str = ""  # deleted by the own-case of DELETE /alerts/rules/{rule_id}
    event_ids: list[str] = field(default_factory=list)
    score_id: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # as set up, to prove the other project changed nothing
    markers: dict[str, str] = field(default_factory=dict)  # text that must not reach the other project -> what

    @property
    def trace(self) -> str:
        return self.llm[0][0]

    @property
    def span(self) -> str:
        return self.llm[0][1]

    @property
    def session(self) -> str:
        return self.sessions[0]

    def key_id(self, name: str) -> str:
        return hash_key(self.keys[name])[:16]

    def leaks(self, text: str, sent: str = "") -> list[str]:
        """This project's markers found in ``text``, except those the caller itself sent."""
        return sorted(f"{what} {m!r}" for m, what in self.markers.items() if m in text and m not in sent)


@dataclass
class World:
    collector: Collector
    http: httpx.Client
    a: Project
    b: Project
    provider: FakeOpenAI
    webhook: FakeServer
    grpc_port: int
    # A's ids that B itself stored in B's records (the filters of B's runs): B's lists may echo them
    known: set[str] = field(default_factory=set)

    def get(self, url: str, key: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(url, headers={"Authorization": f"Bearer {key}"}, **kwargs)

    def post(self, url: str, key: str, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(url, headers={**(headers or {}), "Authorization": f"Bearer {key}"}, **kwargs)


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": str(v)}


def _span(trace_id: str, span_id: str, parent: str | None, name: str, start_ns: int, attrs: dict[str, Any],
          error: str | None = None) -> dict[str, Any]:
    span = {"traceId": trace_id, "spanId": span_id, "name": name, "kind": 1,
            "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + 250_000_000),
            "attributes": [{"key": k, "value": _value(v)} for k, v in attrs.items()],
            "status": {"code": 2, "message": error} if error else {"code": 1}}
    if parent:
        span["parentSpanId"] = parent
    return span


def _otlp(spans: list[dict[str, Any]], service: str) -> bytes:
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "isolation-test"}, "spans": spans}]}]}).encode()


def _llm_attrs(token: str, tenant: str, user: str, session: str, text: str | None, n: int) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.request.temperature": 0.2,
        "gen_ai.usage.input_tokens": 100 + n, "gen_ai.usage.output_tokens": 20 + n,
        "tracehouse.tenant": tenant, "user.id": user, "session.id": session}
    if text is not None:
        attrs["gen_ai.system_instructions"] = json.dumps([{"type": "text", "content": f"You help {token} customers."}])
        attrs["gen_ai.input.messages"] = json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": f"{text} ({token} request {n})"}]}])
        attrs["gen_ai.output.messages"] = json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": f"About {text}: handled for {token}."}],
              "finish_reason": "stop"}])
    return attrs


def intruder_spans(author: Project, trace_id: str, span_id: str) -> bytes:
    """An LLM span written by ``author`` with the given ids (another project's, in the foreign case)."""
    attrs = _llm_attrs(author.token, author.tenant, author.user, author.session, "intruder text", 999)
    return _otlp([_span(trace_id, span_id, None, "chat intruder", author.created_ns, attrs)], f"svc-{author.token}")


def intruder_logs(author: Project, trace_id: str, span_id: str) -> bytes:
    """The golden GenAI log events, retargeted at ``trace_id``/``span_id`` and carrying ``author``'s token."""
    text = GOLDEN_LOGS.read_text()
    golden = json.loads(text)["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    text = text.replace(golden["traceId"], trace_id).replace(golden["spanId"], span_id)
    for old in ("Capital of France?", "Ping?", "Paris.", "Pong.", "Be brief.", "Answer in one word."):
        text = text.replace(old, f"{old} {author.token}")
    return text.encode()


def _hex(n: int) -> str:
    return secrets.token_hex(n)


def _create_project(w: World, label: str, n_traces: int) -> Project:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    created = w.http.post("/api/v1/projects", json={"name": f"isolation {label}"}, headers=admin)
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    keys = {}
    for name, scopes in (("rw", ["ingest", "read"]), ("read", ["read"]), ("ingest", ["ingest"]),
                         ("admin", ["admin"]), ("revoke", ["read"]), ("rotate", ["read"])):
        made = w.http.post(f"/api/v1/projects/{project_id}/keys", json={"scopes": scopes}, headers=admin)
        assert made.status_code == 201, made.text
        keys[name] = made.json()["key"]
    token = f"iso{label.lower()}{_hex(5)}"
    now = time.time_ns()
    p = Project(label, project_id, token, keys, tenant=f"tenant-{_hex(4)}", user=f"user-{_hex(4)}",
                sessions=[f"session-{_hex(4)}" for _ in range(4)], traces=[], llm=[],
                collide=(_hex(16), _hex(8)), bare=(_hex(16), _hex(8)), created_ns=now,
                forget_user=f"forget-{_hex(4)}")
    spans = []
    for i in range(n_traces):
        trace_id, root, llm, tool = _hex(16), _hex(8), _hex(8), _hex(8)
        start = now - (n_traces - i) * 5_000_000_000
        session = p.sessions[i % len(p.sessions)]
        topic = TOPICS[i % len(TOPICS)]
        spans += [
            _span(trace_id, root, None, "invoke_agent support", start, {
                "gen_ai.operation.name": "invoke_agent", "tracehouse.tenant": p.tenant, "user.id": p.user,
                "session.id": session}),
            _span(trace_id, llm, root, "chat gpt-4o-mini", start + 1_000_000,
                  _llm_attrs(token, p.tenant, p.user, session, topic, i),
                  error=f"provider refused ({token})" if i % 4 == 3 else None),
            _span(trace_id, tool, root, "execute_tool lookup", start + 2_000_000, {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"},
                error=f"lookup timed out ({token})" if i % 3 == 2 else None),
        ]
        p.traces.append(trace_id)
        p.llm.append((trace_id, llm))
    for trace_id, span_id, text in ((*p.collide, "collision target"), (*p.bare, None)):
        spans.append(_span(trace_id, span_id, None, "chat gpt-4o-mini", now - 1_000_000_000,
                           _llm_attrs(token, p.tenant, p.user, p.session, text, 500)))
    spans.append(_span(_hex(16), _hex(8), None, "chat gpt-4o-mini", now - 1_000_000_000,
                       _llm_attrs(token, p.tenant, p.forget_user, p.session, "please forget me", 501)))
    ingested = w.post("/v1/traces", keys["rw"], content=_otlp(spans, f"svc-{token}"), headers=JSON)
    assert ingested.status_code == 200, ingested.text
    wait_until(lambda: len(w.get("/api/v1/spans", keys["rw"], params={**ALL_TIME, "limit": 1000}).json()["items"])
               >= len(spans))
    return p


def _poll(w: World, url: str, key: str, timeout_s: float = 180) -> dict[str, Any]:
    wait_until(lambda: w.get(url, key).json().get("status") in TERMINAL, timeout_s=timeout_s, interval_s=0.3)
    return w.get(url, key).json()


def _analytics_and_replays(w: World, p: Project) -> None:
    """A clustering run, a drift run, a replay, a batch replay, alert rules and a test notification."""
    key = p.keys["rw"]
    started = w.post("/api/v1/analytics/clusters/runs", key, json=ALL_TIME)
    assert started.status_code == 202, started.text
    p.cluster_run = started.json()["run_id"]
    now = datetime.now(timezone.utc).timestamp()
    iso = lambda s: datetime.fromtimestamp(s, timezone.utc).isoformat().replace("+00:00", "Z")  # noqa: E731
    drift = w.post("/api/v1/analytics/drift/runs", key, json={
        "baseline": {"start": iso(now - 3 * 86400), "end": iso(now - 3600)},
        "current": {"start": iso(now - 3600), "end": iso(now + 60)}})
    assert drift.status_code == 202, drift.text
    p.drift_run = drift.json()["run_id"]
    w.provider.answer.text = f"A replayed answer for {p.token}"
    replayed = w.post("/api/v1/replays", key, json={"span_id": p.span, "trace_id": p.trace})
    assert replayed.status_code == 200, replayed.text
    p.replay = {k: replayed.json()[k] for k in ("replay_id", "trace_id", "span_id")}
    batch = w.post("/api/v1/replays/batch", key, json={"filters": {"trace_id": p.llm[1][0]}})
    assert batch.status_code == 202, batch.text
    p.batch_run = batch.json()["run_id"]
    admin = p.keys["admin"]
    rule = {"name": f"errors {p.token}", "kind": "error_rate", "params": {"threshold": 0.5},
            "webhook_url": w.webhook.base_url + "/hook"}
    p.rule_id = w.post("/api/v1/alerts/rules", admin, json=rule).json()["rule_id"]
    p.spare_rule_id = w.post("/api/v1/alerts/rules", admin, json={**rule, "name": f"spare {p.token}"}).json()["rule_id"]
    assert w.post("/api/v1/alerts/test", admin, json={"url": w.webhook.base_url + "/hook"}).status_code == 200
    p.event_ids = [e["event_id"] for e in w.get("/api/v1/alerts/history", admin).json()["items"]]
    assert p.event_ids
    p.settings = w.get(f"/api/v1/projects/{p.id}/settings", admin).json()
    score = w.post("/api/v1/scores", key, json={"trace_id": p.trace, "span_id": p.span, "name": f"helpful {p.token}",
                                                "value": 1, "comment": f"scored in {p.token}"})
    assert score.status_code == 201, score.text
    p.score_id = score.json()["score_id"]

    run = _poll(w, f"/api/v1/analytics/clusters/runs/{p.cluster_run}", key)
    assert run["status"] == "done", run
    p.cluster_id = next((c["cluster_id"] for c in run["clusters"] if c["cluster_id"] != "outliers"),
                        run["clusters"][0]["cluster_id"])
    assert _poll(w, f"/api/v1/analytics/drift/runs/{p.drift_run}", key)["status"] == "done"
    assert _poll(w, f"/api/v1/replays/batch/{p.batch_run}", key)["status"] == "done"
    w.provider.answer.text = "A neutral answer."


def _collect_markers(w: World, p: Project) -> None:
    """Everything of ``p`` the other project must never see. The ``collide`` ids are shared on purpose (the other
    project writes spans with them), so they are not markers; the token still betrays ``p``'s content."""
    m = {p.token: "token", p.id: "project id", p.tenant: "tenant", p.user: "user", p.forget_user: "user",
         p.score_id: "score id"}
    m.update({s: "session" for s in p.sessions})
    for name, key in p.keys.items():
        m.update({key: f"{name} key", key[:10]: f"{name} key prefix", p.key_id(name): f"{name} key id"})
    items = w.get("/api/v1/spans", p.keys["rw"], params={**ALL_TIME, "limit": 1000}).json()["items"]
    m.update({s["trace_id"]: "trace id" for s in items if s["trace_id"] != p.collide[0]})
    m.update({s["span_id"]: "span id" for s in items if s["span_id"] != p.collide[1]})
    m.update({p.cluster_run: "cluster run id", p.drift_run: "drift run id", p.batch_run: "batch run id",
              p.replay["replay_id"]: "replay id", p.rule_id: "alert rule id", p.spare_rule_id: "alert rule id"})
    m.update({e: "alert event id" for e in p.event_ids})
    if p.cluster_id != "outliers":  # the outlier group has the same id in every run
        m[p.cluster_id] = "cluster id"
    p.markers = {k: f"{p.label}'s {v}" for k, v in m.items() if k}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[World]:
    grpc_port = free_port()
    with FakeOpenAI() as provider, FakeServer(lambda _: Reply(200, {"ok": True})) as webhook:
        collector = start_collector(tmp_path_factory.mktemp("isolation"), {
            "TRACEHOUSE_OPENAI_BASE_URL": provider.base_url_v1, "TRACEHOUSE_OPENAI_API_KEY": "sk-test-not-a-real-key",
            "TRACEHOUSE_GRPC_PORT": str(grpc_port)}, create_project=False)
        started = time.monotonic()
        try:
            with httpx.Client(base_url=collector.base_url, timeout=60) as http:
                w = World(collector, http, None, None, provider, webhook, grpc_port)  # type: ignore[arg-type]
                w.a = _create_project(w, "A", 30)
                w.b = _create_project(w, "B", 12)
                _analytics_and_replays(w, w.a)
                _analytics_and_replays(w, w.b)
                _collect_markers(w, w.a)
                _collect_markers(w, w.b)
                SUMMARY["setup_s"] = time.monotonic() - started
                yield w
        finally:
            stop_collector(collector)
            _report(pytestconfig)


# -- checks the case table names ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    url: str
    params: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """Everything the caller sent, to tell an echoed id from a leaked one."""
        body = self.content.decode(errors="replace") if self.content else json.dumps(self.json)
        return f"{self.url} {json.dumps(self.params)} {body}"


@dataclass(frozen=True)
class Outcome:
    w: World
    call: Call
    response: httpx.Response
    where: str  # "METHOD /path [case] variant N": prefix of every failure message


def no_items(o: Outcome) -> None:
    assert o.response.json()["items"] == [], f"{o.where}: expected no items, got {o.response.text[:500]}"


def no_lines(o: Outcome) -> None:
    assert o.response.text.strip() == "", f"{o.where}: expected an empty export, got {o.response.text[:500]}"


def no_usage(o: Outcome) -> None:
    body = o.response.json()
    assert body["day"]["spans"] == 0 and body["month"]["spans"] == 0, f"{o.where}: {body}"


def empty_cohorts(o: Outcome) -> None:
    body = o.response.json()
    assert body["a"]["n"] == 0 and body["b"]["n"] == 0, f"{o.where}: {o.response.text[:500]}"


# Metrics and usage count every stored version of a span that is re-sent with changes (the ingest and logs cases
# re-send a few of B's spans), where the span search shows one: allow that much. A holds ~95 spans, so a leak of
# A's spans cannot hide in it.
RESENT_SLACK = 10


def _b_total_spans(w: World) -> int:
    export = w.get("/api/v1/export", w.b.keys["rw"], params=ALL_TIME)
    return len(export.text.splitlines())


def _past_midnight_grace() -> bool:
    now = datetime.now(timezone.utc)
    return now.hour > 0 or now.minute >= 15  # day and month totals restart at UTC midnight


def metrics_within_b(o: Outcome) -> None:
    total = sum(item["spans"] for item in o.response.json()["items"])
    b_total = _b_total_spans(o.w)
    assert 0 < total <= b_total + RESENT_SLACK, f"{o.where}: metrics count {total} spans, B has {b_total}"


def usage_within_b(o: Outcome) -> None:
    b_total = _b_total_spans(o.w)
    for body in (o.response.json(), o.w.get("/api/v1/usage", o.w.b.keys["rw"]).json()):
        for period in ("day", "month"):
            assert body[period]["spans"] <= b_total + RESENT_SLACK, (
                f"{o.where}: usage {body} exceeds B's {b_total} spans")
        if _past_midnight_grace():
            assert body["day"]["spans"] > 0, f"{o.where}: B's own usage is empty: {body}"


def cohorts_within_b(o: Outcome) -> None:
    b_llm = len(o.w.get("/api/v1/spans", o.w.b.keys["rw"], params={"kind": "llm", "limit": 1000}).json()["items"])
    body = o.response.json()
    assert 0 < body["a"]["n"] <= b_llm and 0 < body["b"]["n"] <= b_llm, f"{o.where}: B has {b_llm} LLM spans: {body}"


def a_trace_unchanged(trace: Callable[[Project], tuple[str, str]]) -> Callable[[Outcome], None]:
    """After B wrote spans with A's ids: B holds its own copy, A's trace is as A wrote it."""
    def check(o: Outcome) -> None:
        w = o.w
        trace_id, span_id = trace(w.a)
        if o.response.status_code == 200:
            wait_until(lambda: w.get(f"/api/v1/traces/{trace_id}", w.b.keys["rw"]).status_code == 200)
            mine = w.get(f"/api/v1/traces/{trace_id}", w.b.keys["rw"])
            assert w.b.token in mine.text and not w.a.leaks(mine.text), f"{o.where}: B's copy: {mine.text[:500]}"
        else:
            time.sleep(0.5)  # nothing was accepted: give a wrong write the writer's delay to show up
        theirs = w.get(f"/api/v1/traces/{trace_id}", w.a.keys["rw"]).json()["spans"]
        assert [s["span_id"] for s in theirs] == [span_id], f"{o.where}: A's trace now {theirs}"
        assert w.b.token not in json.dumps(theirs), f"{o.where}: B's content reached A's span: {theirs}"
    return check


def a_bare_span_unfilled(o: Outcome) -> None:
    time.sleep(1.0)  # the writer flushes within 200 ms
    (span,) = o.w.get(f"/api/v1/traces/{o.w.a.bare[0]}", o.w.a.keys["rw"]).json()["spans"]
    assert not span["input_messages"] and o.w.b.token not in json.dumps(span), f"{o.where}: A's span: {span}"


def b_bare_span_filled(o: Outcome) -> None:
    """The positive control of the logs case: B's own logs do join B's own span."""
    url = f"/api/v1/traces/{o.w.b.bare[0]}"
    wait_until(lambda: o.w.b.token in json.dumps(o.w.get(url, o.w.b.keys["rw"]).json()["spans"][0]
                                                  .get("input_messages")), timeout_s=10)


def b_job_saw_nothing_of_a(kind: str) -> Callable[[Outcome], None]:
    """B started a job with A's ids: it runs in B and finds nothing of A."""
    def check(o: Outcome) -> None:
        run_id = o.response.json()["run_id"]
        url = {"cluster": f"/api/v1/analytics/clusters/runs/{run_id}",
               "drift": f"/api/v1/analytics/drift/runs/{run_id}", "batch": f"/api/v1/replays/batch/{run_id}"}[kind]
        run = _poll(o.w, url, o.w.b.keys["rw"])
        texts = [json.dumps(run)]
        if kind == "cluster":
            texts.append(o.w.get(url + "/members", o.w.b.keys["rw"], params={"include_assigned": True}).text)
            assert sum(c["size"] for c in run.get("clusters", [])) == 0, f"{o.where}: {run}"
        if kind == "drift":
            assert all(s["n_baseline"] == 0 and s["n_current"] == 0 for s in run["signals"]), f"{o.where}: {run}"
        if kind == "batch":
            assert run["n"] == 0 and not run["results"], f"{o.where}: {run}"
        for text in texts:
            leaked = o.w.a.leaks(text, o.call.text())
            assert not leaked, f"{o.where}: B's {kind} job {run_id} shows {leaked}: {text[:800]}"
    return check


def a_rules_intact(o: Outcome) -> None:
    rules = {r["rule_id"] for r in o.w.get("/api/v1/alerts/rules", o.w.a.keys["rw"]).json()["items"]}
    assert rules == {o.w.a.rule_id, o.w.a.spare_rule_id}, f"{o.where}: A's rules are now {rules}"


def a_history_intact(o: Outcome) -> None:
    events = [e["event_id"] for e in o.w.get("/api/v1/alerts/history", o.w.a.keys["rw"]).json()["items"]]
    assert events == o.w.a.event_ids, f"{o.where}: A's alert history is now {events}"


def a_batch_intact(o: Outcome) -> None:
    run = o.w.get(f"/api/v1/replays/batch/{o.w.a.batch_run}", o.w.a.keys["rw"]).json()
    assert run["status"] == "done", f"{o.where}: A's batch run is now {run['status']}"


def a_key_works(name: str) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        response = o.w.get("/api/v1/whoami", o.w.a.keys[name])
        assert response.status_code == 200 and response.json()["project"] == o.w.a.id, (
            f"{o.where}: A's {name} key no longer works: {response.status_code} {response.text}")
    return check


def a_settings_intact(o: Outcome) -> None:
    now = o.w.get(f"/api/v1/projects/{o.w.a.id}/settings", o.w.a.keys["admin"]).json()
    assert now == o.w.a.settings, f"{o.where}: A's settings were {o.w.a.settings}, now {now}"


def only_b_scores(o: Outcome) -> None:
    """B may have scored A's trace id itself (the scores case): it sees those, never A's."""
    names = [s["name"] for s in o.response.json()["items"]]
    assert all(o.w.b.token in n for n in names), f"{o.where}: scores {names}"


def a_subjects_intact(o: Outcome) -> None:
    if o.response.status_code == 200:
        deleted = o.response.json()["deleted"]
        assert not any(deleted.values()), f"{o.where}: deleted {deleted}"
    for user in (o.w.a.forget_user, o.w.a.user):
        items = o.w.get("/api/v1/spans", o.w.a.keys["rw"], params={**ALL_TIME, "user": user}).json()["items"]
        assert items, f"{o.where}: A's spans of user {user} are gone"


def b_subject_forgotten(o: Outcome) -> None:
    assert any(o.response.json()["deleted"].values()), f"{o.where}: nothing deleted: {o.response.text[:500]}"


def cost_of_b_only(o: Outcome) -> None:
    tenants = {item["tenant"] for item in o.response.json()["items"]}
    assert tenants <= {o.w.b.tenant, ""}, f"{o.where}: B's cost breakdown has tenants {tenants}"  # "": replays


def only_b_project(o: Outcome) -> None:
    ids = [p["id"] for p in o.response.json()["items"]]
    assert ids == [o.w.b.id], f"{o.where}: B's admin key lists projects {ids}"


def whoami_b(o: Outcome) -> None:
    assert o.response.json()["project"] == o.w.b.id, f"{o.where}: {o.response.text}"


def new_key_is_bs(o: Outcome) -> None:
    assert o.response.json()["project"] == o.w.b.id, f"{o.where}: {o.response.text}"


def sse_result(o: Outcome) -> None:
    assert '"type":"result"' in o.response.text.replace(" ", ""), f"{o.where}: {o.response.text[:500]}"


def both(*checks: Callable[[Outcome], None]) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        for c in checks:
            c(o)
    return check


# -- the case table ----------------------------------------------------------------------------------------------

Build = Callable[[World, Project], "Call | list[Call]"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as the OpenAPI spells it
    access: str
    call: Build | None = None  # the request, naming this project's ids (A's in ``foreign``, B's in ``own``)
    foreign: tuple[int, ...] | None = (404,)  # None: the route takes no ids, ``own`` covers what B sees
    own: tuple[int, ...] = (200,)
    shows_own: bool = False  # the own case's body must name something of B's (the route really answers)
    check_foreign: Callable[[Outcome], None] | None = None
    check_own: Callable[[Outcome], None] | None = None
    bootstrap: tuple[int, ...] | None = (403,)  # the bootstrap admin key (no project); None: may do anything
    basic: bool = False  # Langfuse-style Basic project_id:key instead of Bearer
    stores_request: bool = False  # B's records keep what B sent (job filters): later B reads may echo it
    in_openapi: bool = True
    xfail: tuple[tuple[str, str], ...] = ()  # (case, reason): a known gap for the lead to fix
    why: str = ""

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def cases(self) -> tuple[str, ...]:
        return tuple(c for c in CASES[self.access] if not (c == "foreign" and self.foreign is None)
                     and not (c == "bootstrap-admin" and self.bootstrap is None))


def search(url: str) -> Build:
    """The span-filter variants: trace id, full text (the token), session, tenant, user."""
    return lambda w, p: [Call(url, {**ALL_TIME, **f}) for f in (
        {"trace_id": p.trace}, {"q": p.token}, {"session": p.session}, {"tenant": p.tenant}, {"user": p.user})]


def get(url: Callable[[Project], str], **params: Callable[[Project], Any]) -> Build:
    return lambda w, p: Call(url(p), {k: v(p) for k, v in params.items()} or None)


def post(url: str, body: Callable[[World, Project], Any]) -> Build:
    return lambda w, p: Call(url, json=body(w, p))


def otlp(body: Callable[[World, Project], bytes]) -> Build:
    return lambda w, p: Call("", content=body(w, p), headers=JSON)


def forget_calls(w: World, p: Project) -> list[Call]:
    """Forget ``p``'s throwaway user; as B with A's ids also under B's own project id, and A's tenant."""
    calls = [Call(f"/api/v1/projects/{p.id}/forget", json={"user": p.forget_user})]
    if p is w.a:
        calls += [Call(f"/api/v1/projects/{q}/forget", json=body) for q in (w.a.id, w.b.id)
                  for body in ({"tenant": p.tenant}, {"user": p.user, "tenant": p.tenant})]
        calls.append(Call(f"/api/v1/projects/{w.b.id}/forget", json={"user": p.forget_user}))
    return calls


def replay_body(w: World, p: Project) -> list[dict[str, Any]]:
    return [{"span_id": p.span, "trace_id": p.trace}, {"span_id": p.llm[2][1]}]


def window(p: Project) -> dict[str, Any]:
    return {"start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z", "filters": {"tenant": p.tenant}}


R = Route
RULE = {"kind": "error_rate", "params": {"threshold": 0.5}}
ROUTES: tuple[Route, ...] = (
    # health and API docs: public by design, no project data
    R("GET", "/healthz", PUBLIC, why="liveness probe, no data"),
    R("GET", "/readyz", PUBLIC, why="readiness probe, no data"),
    R("GET", "/openapi.json", PUBLIC, in_openapi=False, why="the API description"),
    R("GET", "/docs", PUBLIC, in_openapi=False, why="Swagger UI page"),
    R("GET", "/docs/oauth2-redirect", PUBLIC, in_openapi=False, why="Swagger UI helper page"),
    R("GET", "/redoc", PUBLIC, in_openapi=False, why="ReDoc page"),
    # ingest: B writing spans/logs with A's ids lands in B only
    R("POST", "/v1/traces", INGEST, otlp(lambda w, p: intruder_spans(w.b, *p.collide)), foreign=(200,),
      check_foreign=a_trace_unchanged(lambda a: a.collide)),
    R("POST", "/v1/logs", INGEST, otlp(lambda w, p: intruder_logs(w.b, *p.bare)), foreign=(200,),
      check_foreign=a_bare_span_unfilled, check_own=b_bare_span_filled),
    R("POST", "/api/public/otel/v1/traces", INGEST, otlp(lambda w, p: intruder_spans(w.b, *p.collide)),
      foreign=(401,), basic=True, bootstrap=(401,), check_foreign=a_trace_unchanged(lambda a: a.collide),
      why="foreign: Basic A's project id with B's key"),
    # projects and keys
    R("GET", "/api/v1/whoami", ANY, foreign=None, shows_own=True, check_own=whoami_b, bootstrap=(200,)),
    R("POST", "/api/v1/projects", ADMIN, post("/api/v1/projects", lambda w, p: {"name": "isolation extra"}),
      own=(201,), why="bootstrap admin only"),
    R("GET", "/api/v1/projects", PROJECT_ADMIN, foreign=None, shows_own=True, check_own=only_b_project,
      bootstrap=(200,)),
    R("POST", "/api/v1/projects/{project_id}/keys", PROJECT_ADMIN,
      lambda w, p: Call(f"/api/v1/projects/{p.id}/keys", json={"scopes": ["read"]}),
      own=(201,), bootstrap=(201,), check_own=new_key_is_bs),
    R("GET", "/api/v1/projects/{project_id}/keys", PROJECT_ADMIN,
      get(lambda p: f"/api/v1/projects/{p.id}/keys", include_revoked=lambda p: True), shows_own=True,
      bootstrap=(200,)),
    R("DELETE", "/api/v1/projects/{project_id}/keys/{key_id}", PROJECT_ADMIN,
      lambda w, p: [Call(f"/api/v1/projects/{q.id}/keys/{p.key_id('revoke')}")
                    for q in {p.id: p, w.b.id: w.b}.values()],
      check_foreign=a_key_works("revoke"), bootstrap=None,
      why="foreign: A's key under A's project and under B's; bootstrap admin manages every project"),
    R("POST", "/api/v1/projects/{project_id}/keys/{key_id}/rotate", PROJECT_ADMIN,
      lambda w, p: [Call(f"/api/v1/projects/{q.id}/keys/{p.key_id('rotate')}/rotate")
                    for q in {p.id: p, w.b.id: w.b}.values()],
      own=(201,), check_foreign=a_key_works("rotate"), bootstrap=None, why="as DELETE .../keys/{key_id}"),
    R("GET", "/api/v1/projects/{project_id}/settings", PROJECT_ADMIN,
      get(lambda p: f"/api/v1/projects/{p.id}/settings"), shows_own=True, bootstrap=(200,)),
    R("PATCH", "/api/v1/projects/{project_id}/settings", PROJECT_ADMIN,
      lambda w, p: Call(f"/api/v1/projects/{p.id}/settings", json={
          "redaction": "full", "retention_days": 7, "prices": [{"model": "gpt-4o-mini*", "input": 99, "output": 99}]}),
      shows_own=True, check_foreign=a_settings_intact, bootstrap=None),
    R("POST", "/api/v1/projects/{project_id}/forget", PROJECT_ADMIN, forget_calls, foreign=(200, 404),
      check_foreign=a_subjects_intact, check_own=b_subject_forgotten, bootstrap=None,
      why="foreign: A's project id -> 404; B's own project id naming A's subjects -> 200, nothing deleted"),
    # reads
    R("GET", "/api/v1/spans", READ, search("/api/v1/spans"), foreign=(200,), shows_own=True, check_foreign=no_items),
    R("GET", "/api/v1/traces", READ, search("/api/v1/traces"), foreign=(200,), shows_own=True,
      check_foreign=no_items),
    R("GET", "/api/v1/traces/{trace_id}", READ,
      lambda w, p: [Call(f"/api/v1/traces/{p.trace}"), Call(f"/api/v1/traces/{p.trace.upper()}")], shows_own=True),
    R("GET", "/api/v1/sessions/{session}", READ,
      lambda w, p: [Call(f"/api/v1/sessions/{s}") for s in p.sessions[:2]], shows_own=True),
    R("GET", "/api/v1/traces/{trace_id}/scores", READ, get(lambda p: f"/api/v1/traces/{p.trace}/scores"),
      foreign=(200,), shows_own=True, check_foreign=only_b_scores),
    R("GET", "/api/v1/top", READ,
      lambda w, p: [Call(c.url, {**(c.params or {}), "by": by}) for c in search("/api/v1/top")(w, p)
                    for by in ("duration", "cost")],
      foreign=(200,), shows_own=True, check_foreign=no_items),
    R("GET", "/api/v1/cost", READ,
      lambda w, p: [Call("/api/v1/cost", {**ALL_TIME, **f, "by": "tenant,model", "interval": i})
                    for f in ({"tenant": p.tenant}, {}) for i in ("total", "hour")],
      foreign=(200,), shows_own=True, check_foreign=cost_of_b_only,
      why="dimension filters only: A's tenant (empty), and no filter (B's tenant only)"),
    R("GET", "/api/v1/metrics", READ,
      lambda w, p: [Call(c.url, {**(c.params or {}), "group_by": g}) for c in search("/api/v1/metrics")(w, p)
                    for g in ("tenant", "model")],
      foreign=(200,), check_foreign=no_items, check_own=metrics_within_b),
    R("GET", "/api/v1/usage", READ, get(lambda p: "/api/v1/usage", tenant=lambda p: p.tenant), foreign=(200,),
      check_foreign=no_usage, check_own=usage_within_b),
    R("GET", "/api/v1/export", READ, search("/api/v1/export"), foreign=(200,), shows_own=True,
      check_foreign=no_lines),
    R("POST", "/api/v1/scores", INGEST, post("/api/v1/scores", lambda w, p: {
        "trace_id": p.trace, "span_id": p.span, "name": f"thumbs {w.b.token}", "value": 1}),
      foreign=(201,), own=(201,), stores_request=True,
      why="a score naming A's ids is stored in B (no score read route yet)"),
    # clustering
    R("POST", "/api/v1/analytics/clusters/runs", READ,
      post("/api/v1/analytics/clusters/runs", lambda w, p: {**ALL_TIME, "filters": {"tenant": p.tenant}}),
      foreign=(202,), own=(202,), stores_request=True, check_foreign=b_job_saw_nothing_of_a("cluster")),
    R("GET", "/api/v1/analytics/clusters/runs", READ, get(lambda p: "/api/v1/analytics/clusters/runs"),
      foreign=None, shows_own=True),
    R("GET", "/api/v1/analytics/clusters/runs/{run_id}", READ,
      get(lambda p: f"/api/v1/analytics/clusters/runs/{p.cluster_run}"), shows_own=True),
    R("GET", "/api/v1/analytics/clusters/runs/{run_id}/members", READ,
      lambda w, p: [Call(f"/api/v1/analytics/clusters/runs/{p.cluster_run}/members", f)
                    for f in (None, {"cluster_id": p.cluster_id}, {"include_assigned": True})], shows_own=True),
    # drift
    R("POST", "/api/v1/analytics/drift/runs", READ,
      post("/api/v1/analytics/drift/runs", lambda w, p: {"baseline": window(p), "current": window(p)}),
      foreign=(202,), own=(202,), stores_request=True, check_foreign=b_job_saw_nothing_of_a("drift")),
    R("GET", "/api/v1/analytics/drift/runs", READ, get(lambda p: "/api/v1/analytics/drift/runs"), foreign=None,
      shows_own=True),
    R("GET", "/api/v1/analytics/drift/runs/{run_id}", READ,
      get(lambda p: f"/api/v1/analytics/drift/runs/{p.drift_run}"), shows_own=True),
    # alerts (rules and tests need a project key with the admin scope)
    R("POST", "/api/v1/alerts/rules", PROJECT_ADMIN,
      post("/api/v1/alerts/rules", lambda w, p: {**RULE, "name": f"rule by B {w.b.token}"}), foreign=None,
      own=(201,), bootstrap=(400,), check_own=a_rules_intact),
    R("GET", "/api/v1/alerts/rules", READ, get(lambda p: "/api/v1/alerts/rules"), foreign=None, shows_own=True),
    R("DELETE", "/api/v1/alerts/rules/{rule_id}", PROJECT_ADMIN,
      get(lambda p: f"/api/v1/alerts/rules/{p.spare_rule_id}"), bootstrap=(400,), check_foreign=a_rules_intact),
    R("GET", "/api/v1/alerts/history", READ,
      lambda w, p: [Call("/api/v1/alerts/history", {"rule_id": p.rule_id}), Call("/api/v1/alerts/history")],
      foreign=(200,), shows_own=True,
      why="foreign: filtered by A's rule id (empty), and unfiltered (B's own events only)"),
    R("POST", "/api/v1/alerts/test", PROJECT_ADMIN,
      post("/api/v1/alerts/test", lambda w, p: {"url": w.webhook.base_url + "/hook"}), foreign=None,
      bootstrap=(200,), check_own=a_history_intact, why="bootstrap admin may test a webhook (no project)"),
    # replay and compare (replays write traces: read + ingest)
    R("POST", "/api/v1/replays", WRITE, lambda w, p: [Call("/api/v1/replays", json=b) for b in replay_body(w, p)],
      shows_own=True),
    R("POST", "/api/v1/replays/stream", WRITE,
      lambda w, p: [Call("/api/v1/replays/stream", json=b) for b in replay_body(w, p)], check_own=sse_result),
    R("POST", "/api/v1/replays/trajectory", WRITE,
      post("/api/v1/replays/trajectory", lambda w, p: {"trace_id": p.trace}), shows_own=True),
    R("POST", "/api/v1/replays/batch", WRITE,
      lambda w, p: [Call("/api/v1/replays/batch", json={"filters": f}) for f in (
          {"spans": [{"trace_id": p.trace, "span_id": p.span}]}, {"trace_id": p.trace}, {"tenant": p.tenant})],
      foreign=(202,), own=(202,), stores_request=True, check_foreign=b_job_saw_nothing_of_a("batch")),
    R("GET", "/api/v1/replays/batch/{run_id}", READ, get(lambda p: f"/api/v1/replays/batch/{p.batch_run}"),
      shows_own=True),
    R("DELETE", "/api/v1/replays/batch/{run_id}", WRITE, get(lambda p: f"/api/v1/replays/batch/{p.batch_run}"),
      own=(202,), check_foreign=a_batch_intact),
    R("GET", "/api/v1/compare", READ, lambda w, p: [
        Call("/api/v1/compare", {"a": p.span, "b": p.llm[1][1]}),
        Call("/api/v1/compare", {"a": p.span, "b": p.llm[1][1], "a_trace": p.trace, "b_trace": p.llm[1][0]}),
        Call("/api/v1/compare", {"a": p.span, "b": w.b.llm[1][1]})], shows_own=True,
      why="foreign: two A spans, and one A span against one of B's"),
    R("POST", "/api/v1/compare/cohorts", READ,
      post("/api/v1/compare/cohorts", lambda w, p: {"a": {"trace_id": p.trace}, "b": {"tenant": p.tenant}}),
      foreign=(200,), check_foreign=empty_cohorts, check_own=cohorts_within_b),
)


# -- running a case ----------------------------------------------------------------------------------------------

SUMMARY: dict[str, Any] = {"requests": 0, "cases": 0, "setup_s": 0.0}


def _key(w: World, route: Route, case: str) -> tuple[str | None, str]:
    """(key, who) for a case."""
    caller = w.b.keys["admin"] if route.access in (PROJECT_ADMIN,) else w.b.keys["rw"]
    return {
        "foreign": (caller, "B"), "own": (ADMIN_KEY if route.access == ADMIN else caller, "B"),
        "no-key": (None, "nobody"), "wrong-key": (WRONG_KEY, "an unknown key"),
        "read-key": (w.b.keys["read"], "B read-only"), "ingest-key": (w.b.keys["ingest"], "B ingest-only"),
        "rw-key": (w.b.keys["rw"], "B ingest+read"), "project-admin-key": (w.b.keys["admin"], "B admin-scoped"),
        "bootstrap-admin": (ADMIN_KEY, "bootstrap admin"), "public": (None, "nobody"),
    }[case]


def _expected(route: Route, case: str) -> tuple[int, ...]:
    if case == "foreign":
        return route.foreign or ()
    if case == "own":
        return route.own
    if case == "bootstrap-admin":
        return route.bootstrap or ()
    if route.access == ANY and case in ("ingest-key", "read-key"):
        return route.own
    return {"no-key": (401,), "wrong-key": (401,), "public": (200,)}.get(case, (403,))


def _authorization(w: World, route: Route, case: str, key: str | None) -> dict[str, str]:
    if key is None:
        return {}
    if route.basic:  # the public part is the project the request claims: A's in the foreign case
        project = w.a.id if case == "foreign" else w.b.id
        return {"Authorization": "Basic " + base64.b64encode(f"{project}:{key}".encode()).decode()}
    return {"Authorization": f"Bearer {key}"}


def _outbound(w: World, since: tuple[int, int]) -> list[tuple[str, str]]:
    """What the collector sent to the replay provider and the webhook receiver since ``since``."""
    return ([("replay provider", r.body.decode(errors="replace")) for r in w.provider.requests[since[0]:]]
            + [("webhook", r.body.decode(errors="replace")) for r in w.webhook.requests[since[1]:]])


def run_case(w: World, route: Route, case: str) -> None:
    key, who = _key(w, route, case)
    ids = w.b if case == "own" else w.a
    expected = _expected(route, case)
    built = route.call(w, ids) if route.call else Call(route.path)
    calls = built if isinstance(built, list) else [built]
    bodies = []
    for n, call in enumerate(calls):
        url = call.url or route.path
        where = f"{route.name} [{case}] as {who}, request {n + 1}/{len(calls)} ({url} {call.params or ''})"
        since = (len(w.provider.requests), len(w.webhook.requests))
        response = w.http.request(route.method, url, params=call.params, json=call.json, content=call.content,
                                  headers={**call.headers, **_authorization(w, route, case, key)})
        SUMMARY["requests"] += 1
        body = response.text
        assert response.status_code < 500, f"{where}: server error {response.status_code}: {body[:800]}"
        assert response.status_code in expected, (
            f"{where}: expected {expected}, got {response.status_code}: {body[:800]}")
        sent = call.text() + " ".join(w.known) if case != "public" else ""
        bodies.append(body)
        superuser = case == "bootstrap-admin" and response.status_code < 300  # manages every project
        leaked = [] if superuser else w.a.leaks(body, sent) + (w.b.leaks(body) if case == "public" else [])
        assert not leaked, f"{where}: the response shows {leaked}: {body[:800]}"
        for target, text in _outbound(w, since):
            leaked = w.a.leaks(text, sent)
            assert not leaked, f"{where}: the {target} received {leaked}: {text[:800]}"
        outcome = Outcome(w, call, response, where)
        if case == "own" and route.check_own:
            route.check_own(outcome)
        if case == "foreign":
            if route.stores_request:
                w.known.update(m for m in w.a.markers if m in call.text())
            if route.check_foreign:
                route.check_foreign(outcome)
    if case == "own" and route.shows_own:
        shown = "\n".join(bodies)
        assert w.b.token in shown or any(m in shown for m in w.b.markers), (
            f"{route.name} [own]: B's own requests show nothing of B: {shown[:800]}")


def _params() -> list[Any]:
    out = []
    for route in ROUTES:
        known = dict(route.xfail)
        for case in route.cases():
            marks = [pytest.mark.xfail(strict=True, reason=known[case])] if case in known else []
            out.append(pytest.param(route, case, id=f"{route.name} | {case}", marks=marks))
    return out


# -- the tests ---------------------------------------------------------------------------------------------------

def test_every_route_is_in_the_matrix(world: World) -> None:
    spec = world.http.get("/openapi.json").json()
    live = {(method.upper(), path) for path, item in spec["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete", "head", "options")}
    table = {(r.method, r.path) for r in ROUTES if r.in_openapi}
    missing, stale = sorted(live - table), sorted(table - live)
    assert not missing and not stale, (
        "the isolation matrix and the API differ. Add one ROUTES line per new route in tests/test_isolation.py "
        "(method, path, access, the request naming a project's ids, what B may see with A's ids):\n"
        + "".join(f"  missing: {m} {p}\n" for m, p in missing) + "".join(f"  gone:    {m} {p}\n" for m, p in stale))


@pytest.mark.parametrize("route, case", _params())
def test_isolation(world: World, route: Route, case: str) -> None:
    run_case(world, route, case)
    SUMMARY["cases"] += 1


# OTLP/gRPC ingest (not an HTTP route): case -> expected gRPC status name (None: accepted)
GRPC_CASES = {"foreign": None, "no-key": "UNAUTHENTICATED", "wrong-key": "UNAUTHENTICATED",
              "read-key": "PERMISSION_DENIED", "bootstrap-admin": "PERMISSION_DENIED"}


def _grpc_request(w: World) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from google.protobuf.json_format import ParseDict

    # OTLP/JSON spells ids in hex, the protobuf JSON mapping in base64
    body = json.loads(intruder_spans(w.b, *w.a.collide))
    for span in body["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for k in ("traceId", "spanId"):
            span[k] = base64.b64encode(bytes.fromhex(span[k])).decode()
    return ParseDict(body, ExportTraceServiceRequest()).SerializeToString()


@pytest.mark.parametrize("case", list(GRPC_CASES))
def test_grpc_ingest_isolation(world: World, case: str) -> None:
    grpc = pytest.importorskip("grpc")
    channel = grpc.insecure_channel(f"127.0.0.1:{world.grpc_port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=5)
    except grpc.FutureTimeoutError:
        pytest.skip("this collector does not serve OTLP/gRPC")
    key = _key(world, R("POST", "grpc", INGEST), case)[0]
    export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
    where = f"gRPC TraceService/Export [{case}]"
    try:
        export(_grpc_request(world), metadata=[("authorization", f"Bearer {key}")] if key else None, timeout=30)
        status = None
    except grpc.RpcError as exc:
        status = exc.code().name
        assert not world.a.leaks(exc.details() or ""), f"{where}: {exc.details()}"
    finally:
        channel.close()
    SUMMARY["requests"] += 1
    assert status == GRPC_CASES[case], f"{where}: expected {GRPC_CASES[case] or 'OK'}, got {status or 'OK'}"
    a_trace_unchanged(lambda a: a.collide)(Outcome(world, Call(""), httpx.Response(200 if status is None else 401),
                                                   where))
    SUMMARY["cases"] += 1


def _report(config: pytest.Config) -> None:
    routes = list(ROUTES)
    planned = sum(len(r.cases()) for r in routes) + len(GRPC_CASES)
    lines = [f"isolation matrix: {len(routes)} HTTP routes ({sum(r.in_openapi for r in routes)} in the OpenAPI) "
             f"+ OTLP/gRPC x up to {max(len(c) for c in CASES.values())} cases = {planned} route-cases; "
             f"{SUMMARY['cases']} passed here, {SUMMARY['requests']} requests; setup {SUMMARY['setup_s']:.0f} s"]
    by_access: dict[str, int] = {}
    for r in routes:
        by_access[r.access] = by_access.get(r.access, 0) + 1
    lines.append("  routes by access: " + ", ".join(f"{k} {v}" for k, v in by_access.items()))
    if config.option.verbose > 0:
        lines += [f"  {r.name:<58} {r.access:<14} {', '.join(r.cases())}" for r in routes]
        lines.append(f"  {'OTLP/gRPC TraceService/Export':<58} {INGEST:<14} {', '.join(GRPC_CASES)}")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print("\n".join(lines))
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)
