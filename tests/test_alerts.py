"""Alerts end to end: rules on a real embedded store, notifications to a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from tests.test_drift_storage import H, S, T0, llm_span
from tracehouse.analytics.alerts import (AlertEngine, WebhookNotifier, build_payload, create_rule, delete_rule,
                                         get_rule, list_rules, update_rule, validate_params)
from tracehouse.storage.drift import DriftStore


class Receiver:
    """A webhook endpoint: records every POST; answers ``fail_next`` times with ``fail_status`` first."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.fail_next = 0
        self.fail_status = 500
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                    else:
                        receiver.requests.append(json.loads(body))
                        receiver.headers.append(dict(self.headers))
                status = receiver.fail_status if failing else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"boom" if failing else b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[tuple[str, str]]:
        return [(r["tracehouse"]["event"], r["tracehouse"]["subject"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def notifier() -> WebhookNotifier:
    return WebhookNotifier(retries=3, backoff_s=0.01, timeout_s=5)


NOW = T0 + 10 * 24 * H


def calls(store, start_ns: int, n: int, *, errors: int = 0, offset: int = 0, **fields) -> None:
    store.insert_spans([llm_span(offset + i, start_ns + i * S, status="error" if i < errors else "ok", **fields)
                        for i in range(n)])


# -- the notifier ----------------------------------------------------------------------------------------------------

def test_send_test_reaches_the_receiver_as_a_slack_compatible_message(store, receiver, notifier):
    engine = AlertEngine(store, notifier)
    result = engine.send_test(receiver.url, project="p")
    assert result == {"ok": True, "status_code": 200, "attempts": 1, "error": ""}
    (body,) = receiver.requests
    assert isinstance(body["text"], str) and "test notification" in body["text"]
    assert body["attachments"][0]["fields"] and body["tracehouse"]["event"] == "test"
    assert receiver.headers[0]["X-Tracehouse-Event-Id"] == body["tracehouse"]["event_id"]
    (event,) = engine.history("p")
    assert event["event"] == "test" and event["delivered"] is True and "secret" not in json.dumps(event)
    with pytest.raises(ValueError):
        engine.send_test("file:///etc/passwd")


def test_deliveries_retry_after_a_500_but_not_after_a_400(receiver, notifier):
    receiver.fail_next = 2
    delivery = notifier.send(receiver.url, {"text": "hello"})
    assert delivery.ok and delivery.attempts == 3 and len(receiver.requests) == 1
    receiver.fail_next, receiver.fail_status = 5, 400
    delivery = notifier.send(receiver.url, {"text": "hello"})
    assert not delivery.ok and delivery.attempts == 1 and delivery.status_code == 400
    receiver.fail_next, receiver.fail_status = 10, 503
    delivery = notifier.send(receiver.url, {"text": "hello"})
    assert not delivery.ok and delivery.attempts == 4 and "503" in delivery.error


def test_an_unreachable_webhook_fails_after_retries_without_raising():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens
    slept = []
    delivery = WebhookNotifier(retries=2, backoff_s=0.5, sleep=slept.append).send(f"http://127.0.0.1:{port}/x",
                                                                                    {"text": "x"})
    assert not delivery.ok and delivery.attempts == 3 and delivery.status_code == 0 and delivery.error
    assert slept == [0.5, 1.0]  # exponential backoff


# -- rules ------------------------------------------------------------------------------------------------------------

def test_rules_crud_and_validation(store, receiver):
    rule = create_rule(store, "p", name="errors", kind="error_rate", params={"threshold": 0.1},
                       webhook_url=receiver.url)
    assert rule.params["window_s"] == 900 and rule.params["min_calls"] == 20
    shown = rule.to_dict()
    assert "secret" not in shown["webhook_url"] and shown["webhook_url"].startswith("http://127.0.0.1:")
    assert [r.rule_id for r in list_rules(store, "p")] == [rule.rule_id] and list_rules(store, "other") == []
    updated = update_rule(store, "p", rule.rule_id, params={"threshold": 0.2}, enabled=False)
    assert updated.params["threshold"] == 0.2 and not updated.enabled
    assert get_rule(store, "p", rule.rule_id).params["threshold"] == 0.2
    assert get_rule(store, "other", rule.rule_id) is None
    assert delete_rule(store, "p", rule.rule_id) and not delete_rule(store, "p", rule.rule_id)
    assert list_rules(store, "p") == []
    for kind, params in [("nope", {}), ("error_rate", {"threshold": 2}), ("error_rate", {"treshold": 0.1}),
                         ("latency_p95", {}), ("cost_budget", {"budget_usd": -1}),
                         ("cost_budget", {"budget_usd": 5, "period": "week"}), ("cost_spike", {"by": "trace_id"}),
                         ("drift", {"signals": [3]}), ("error_rate", {"filters": {"secret_column": "x"}})]:
        with pytest.raises(ValueError):
            validate_params(kind, params)
    with pytest.raises(ValueError):
        create_rule(store, "p", name="x", kind="error_rate", webhook_url="ftp://example.com/hook")
    with pytest.raises(ValueError):
        create_rule(store, "p", name=" ", kind="error_rate")


# -- evaluation: firing, de-duplication, resolution --------------------------------------------------------------------

def test_error_rate_fires_once_while_firing_and_resolves_when_it_clears(store, receiver, notifier):
    engine = AlertEngine(store, notifier)
    rule = engine.create_rule("p", name="LLM errors", kind="error_rate", params={"threshold": 0.2, "window_s": 600},
                              webhook_url=receiver.url)
    calls(store, NOW - 300 * S, 30, errors=12)
    events = engine.evaluate("p", NOW)
    assert [(e["event"], e["subject"], e["delivered"]) for e in events] == [("firing", "project", True)]
    assert receiver.events() == [("firing", "project")]
    body = receiver.requests[0]
    assert "FIRING" in body["text"] and "LLM errors" in body["text"] and "40.0%" in body["text"]
    assert body["tracehouse"]["value"] == pytest.approx(0.4) and body["tracehouse"]["threshold"] == 0.2
    assert body["tracehouse"]["dedup_key"] == f"{rule['rule_id']}:project"
    assert engine.evaluate("p", NOW + 60 * S) == []  # still firing: not sent again
    assert len(receiver.requests) == 1
    later = NOW + 3600 * S
    calls(store, later - 300 * S, 30, offset=1000)  # healthy traffic
    events = engine.evaluate("p", later)
    assert [(e["event"], e["subject"]) for e in events] == [("resolved", "project")]
    assert receiver.events() == [("firing", "project"), ("resolved", "project")]
    assert "RESOLVED" in receiver.requests[1]["text"]
    assert engine.evaluate("p", later + 60 * S) == []
    history = engine.history("p")
    assert [h["event"] for h in history] == ["resolved", "firing"] and all(h["delivered"] for h in history)


def test_a_firing_alert_survives_a_webhook_outage_and_a_restart(store, receiver, notifier):
    engine = AlertEngine(store, notifier)
    engine.create_rule("p", name="errors", kind="error_rate", params={"threshold": 0.2}, webhook_url=receiver.url)
    calls(store, NOW - 300 * S, 30, errors=15)
    receiver.fail_next = 100
    (failed,) = engine.evaluate("p", NOW)
    assert failed["event"] == "firing" and not failed["delivered"] and failed["attempts"] == 4
    receiver.fail_next = 1  # one more 500, then the receiver is back: the retry inside the next attempt delivers
    restarted = AlertEngine(store, notifier)
    (sent,) = restarted.evaluate("p", NOW + 60 * S)
    assert sent["delivered"] and sent["attempts"] == 2
    assert receiver.events() == [("firing", "project")]
    assert AlertEngine(store, notifier).evaluate("p", NOW + 120 * S) == []  # de-duplicated across restarts
    assert [h["delivered"] for h in restarted.history("p")] == [True, False]


def test_budgets_per_tenant_fire_per_subject_and_resolve_in_the_next_period(store, receiver, notifier):
    engine = AlertEngine(store, notifier)
    engine.create_rule("p", name="daily budget", kind="cost_budget", params={"budget_usd": 1.0, "period": "day"},
                       webhook_url=receiver.url)
    day = NOW - NOW % (24 * H)
    calls(store, day + H, 20, tenant="acme", cost=0.06)           # $1.20: over
    calls(store, day + H, 20, tenant="globex", cost=0.01, offset=100)  # $0.20: fine
    calls(store, day - H, 50, tenant="globex", cost=0.1, offset=200)   # yesterday: not this period
    events = engine.evaluate("p", day + 2 * H)
    assert [(e["event"], e["subject"]) for e in events] == [("firing", "tenant=acme")]
    assert "$1.20" in receiver.requests[0]["text"] and "daily budget" in receiver.requests[0]["text"]
    events = engine.evaluate("p", day + 24 * H + H)  # a new day: nothing spent yet
    assert [(e["event"], e["subject"]) for e in events] == [("resolved", "tenant=acme")]
    month = AlertEngine(store, notifier)
    month.create_rule("p", name="monthly", kind="cost_budget",
                      params={"budget_usd": 5.0, "period": "month", "per_tenant": False}, webhook_url=receiver.url)
    events = month.evaluate("p", day + 2 * H)
    assert ("firing", "project") in [(e["event"], e["subject"]) for e in events if e["rule_name"] == "monthly"]


def test_cost_spike_against_the_baseline_by_tenant(store, receiver, notifier):
    engine = AlertEngine(store, notifier)
    engine.create_rule("p", name="cost spike", kind="cost_spike",
                       params={"by": "tenant", "factor": 3, "min_cost_usd": 0.5, "baseline_s": 24 * 3600},
                       webhook_url=receiver.url)
    for h in range(1, 24):  # a steady $0.10 an hour for both tenants
        calls(store, NOW - h * H - 1800 * S, 2, tenant="acme", cost=0.05, offset=h * 10)
        calls(store, NOW - h * H - 1800 * S, 2, tenant="globex", cost=0.05, offset=1000 + h * 10)
    calls(store, NOW - 1800 * S, 20, tenant="acme", cost=0.05, offset=5000)     # $1.00 in the last hour
    calls(store, NOW - 1800 * S, 2, tenant="globex", cost=0.05, offset=6000)    # as usual
    events = engine.evaluate("p", NOW)
    assert [(e["event"], e["subject"]) for e in events] == [("firing", "tenant=acme")]
    assert "10.0x the usual" in receiver.requests[0]["text"] or "x the usual" in receiver.requests[0]["text"]


def test_latency_p95_by_model(store, receiver, notifier):
    engine = AlertEngine(store, notifier)
    engine.create_rule("p", name="slow", kind="latency_p95", params={"threshold_ms": 2000, "by": "model",
                                                                     "min_calls": 10}, webhook_url=receiver.url)
    calls(store, NOW - 300 * S, 20, model="fast", latency_ms=300)
    calls(store, NOW - 300 * S, 20, model="slow", latency_ms=4000, offset=100)
    calls(store, NOW - 300 * S, 5, model="rare", latency_ms=9000, offset=200)  # under min_calls
    events = engine.evaluate("p", NOW)
    assert [(e["event"], e["subject"]) for e in events] == [("firing", "model=slow")]


def _drift_run(store, run_id: str, created_ms: int, verdict: str) -> None:
    ds = DriftStore(store)
    ds.put_run({"project": "p", "run_id": run_id, "status": "done", "trigger": "schedule", "created_ms": created_ms,
                "baseline": {"start_ns": T0, "end_ns": T0 + H}, "current": {"start_ns": T0 + H, "end_ns": T0 + 2 * H},
                "verdict": verdict})
    signal = {"statistic": 0.3, "p_value": 1e-6, "q_value": 1e-5, "effect_size": 0.42, "n_baseline": 500,
              "n_current": 480, "kind": "numeric", "test": "ks", "effect_measure": "cliffs_delta", "threshold": 0.147,
              "top": [{"kind": "model", "key": "gpt-4.1", "delta": 120.0}]}
    ds.save_signals("p", run_id, [{**signal, "name": "output_length", "verdict": verdict},
                                  {**signal, "name": "latency_ms", "verdict": verdict}], T0 + 2 * H, "schedule")


def test_drift_rules_follow_the_latest_scheduled_run(store, receiver, notifier):
    engine = AlertEngine(store, notifier)
    engine.create_rule("p", name="output drift", kind="drift", params={"signals": ["output_*"]},
                       webhook_url=receiver.url)
    now_ms = NOW // 1_000_000
    assert engine.evaluate("p", NOW) == []  # no drift run yet: nothing to judge
    _drift_run(store, "run1", now_ms - 60_000, "drift")
    events = engine.evaluate("p", NOW)
    assert [(e["event"], e["subject"]) for e in events] == [("firing", "output_length")]  # latency_ms not watched
    body = receiver.requests[0]
    assert body["tracehouse"]["details"]["run_id"] == "run1" and body["tracehouse"]["details"]["top"]
    assert engine.evaluate("p", NOW + 60 * S) == []
    _drift_run(store, "run2", now_ms + 3_600_000, "no_drift")
    events = engine.evaluate("p", NOW + 3700 * S)
    assert [(e["event"], e["subject"]) for e in events] == [("resolved", "output_length")]
    assert engine.evaluate("p", NOW + 10 * 24 * H) == []  # the last run is too old: no change either way


def test_rules_without_a_webhook_are_recorded_once(store):
    engine = AlertEngine(store)
    engine.create_rule("p", name="errors", kind="error_rate", params={"threshold": 0.2})
    calls(store, NOW - 300 * S, 30, errors=15)
    (event,) = engine.evaluate("p", NOW)
    assert not event["delivered"] and event["error"] == "no webhook URL configured"
    assert engine.evaluate("p", NOW + 60 * S) == []
    assert len(engine.history("p")) == 1


def test_default_webhook_and_disabled_rules(store, receiver, notifier):
    engine = AlertEngine(store, notifier, default_webhook_url=receiver.url)
    rule = engine.create_rule("p", name="errors", kind="error_rate", params={"threshold": 0.2})
    engine.create_rule("p", name="off", kind="error_rate", params={"threshold": 0.01}, enabled=False)
    calls(store, NOW - 300 * S, 30, errors=15)
    events = engine.evaluate("p", NOW)
    assert [e["rule_id"] for e in events] == [rule["rule_id"]] and receiver.events() == [("firing", "project")]
    assert engine.evaluate("other", NOW) == []


def test_the_scheduler_evaluates_periodically(store, receiver, notifier):
    import time

    engine = AlertEngine(store, notifier, clock_ns=lambda: NOW)
    engine.create_rule("p", name="errors", kind="error_rate", params={"threshold": 0.2}, webhook_url=receiver.url)
    calls(store, NOW - 300 * S, 30, errors=15)
    handle = engine.run_periodic(["p"], every_s=0.2, first_run_after_s=0.0)
    try:
        deadline = time.monotonic() + 20
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        handle.stop()
    assert receiver.events() == [("firing", "project")]  # many ticks, one notification


def test_payload_shape_without_storage():
    payload = build_payload("firing", project="p", rule=None, subject="", message="m", value=1.5, threshold=1.0)
    assert payload["text"].startswith(":rotating_light: [tracehouse] FIRING")
    assert {f["title"] for f in payload["attachments"][0]["fields"]} >= {"Project", "Value", "Threshold"}
    json.dumps(payload)
