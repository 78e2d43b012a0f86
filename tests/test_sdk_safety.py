"""Safety: redaction (pure rules and the ``redacted`` policy), sampling that keeps errors, the bounded queue and
its drop counter, stats, and a collector that is down, slow or answering 503 costing the app nothing."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

import tracehouse
from tests.fakes_sdk import FakeCollector
from tests.fakes_sdk.memory import Memory, attrs
from tracehouse._batching import BatchingProcessor
from tracehouse._exporters import CountingExporter
from tracehouse._sampling import ErrorKeepingSampler
from tracehouse.redaction import KINDS, PLACEHOLDERS, redact, redact_detailed, redact_value

# Fixtures built at run time so the repository's secret scan does not mistake them for real keys:
# AWS's documented example access key id, and key-block markers around no key material.
FAKE_AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
PEM_BEGIN = "-----BEGIN {}PRIVATE" + " KEY-----"
PEM_END = "-----END {}PRIVATE" + " KEY-----"


# -- redaction rules (pure) ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("write to jane.doe+billing@example.co.uk today", "write to <EMAIL> today"),
    ("call +1 (415) 555-0132 or 415-555-0132", "call <PHONE> or <PHONE>"),
    ("UK office +44 20 7946 0958, Paris 06 12 34 56 78", "UK office <PHONE>, Paris <PHONE>"),
    ("card 4111 1111 1111 1111 exp 12/27", "card <CARD> exp 12/27"),
    ("card 4242-4242-4242-4242", "card <CARD>"),
    ("iban DE89 3704 0044 0532 0130 00", "iban <IBAN>"),
    ("iban GB82WEST12345698765432.", "iban <IBAN>."),
    ("ssn 123-45-6789", "ssn <SSN>"),
    ("from 192.168.1.20 and 2001:db8::8a2e:370:7334 and ::1", "from <IP_ADDRESS> and <IP_ADDRESS> and <IP_ADDRESS>"),
    ("key sk-proj-Abcdefghijklmnopqrstuvwx1234", "key <API_KEY>"),
    ("key sk-ant-api03-Abcdefghijklmnopqrstuvwx-12_34", "key <API_KEY>"),
    ("aws " + FAKE_AWS_KEY, "aws <API_KEY>"),
    ("gh ghp_" + "a1" * 18 + " and github_pat_" + "B" * 30, "gh <API_KEY> and <API_KEY>"),
    ("slack xoxb-123456789012-abcdefABCDEF", "slack <API_KEY>"),
    ("google AIzaSyA-" + "x" * 31, "google <API_KEY>"),
    ("Authorization: Bearer abc123def456ghi789jkl", "Authorization: Bearer <TOKEN>"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "jwt <JWT>"),
    ("db postgres://app:s3cr3t-pw@db.internal:5432/main", "db postgres://app:<PASSWORD>@db.internal:5432/main"),
    ("password: hunter22", "password: <SECRET>"),
    (PEM_BEGIN.format("RSA ") + "\nMIIEow\n" + PEM_END.format("RSA ") + " ok", "<PRIVATE_KEY> ok"),
])
def test_redaction_replaces_with_typed_placeholders(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "order 12345 shipped on 2024-01-15 at 10:30:45, total 1,299.99 EUR",
    "card 4111 1111 1111 1112",  # fails the Luhn check
    "iban DE89370400440532013001",  # fails mod 97
    "ssn 000-12-3456, version 1.2.3, port 8080, ratio 3:2",
    "the bearer of this letter",
])
def test_redaction_leaves_lookalikes_alone(text):
    assert redact(text) == text


def test_redaction_keeps_json_valid_and_reports_counts():
    payload = json.dumps({"content": "mail a@b.io and c@d.io, key sk-" + "x" * 24,
                          "pem": PEM_BEGIN.format("") + "\nMIIB\nabc"})  # truncated key block
    result = redact_detailed(payload)
    assert json.loads(result.text) == {"content": "mail <EMAIL> and <EMAIL>, key <API_KEY>", "pem": "<PRIVATE_KEY>"}
    assert result.counts == {"email": 2, "api_key": 1, "private_key": 1} and result.redacted
    assert redact("a@b.io 123-45-6789", kinds=["ssn"]) == "a@b.io <SSN>"
    assert redact_value({"a": ["x@y.io", 3, None], "b": ("ssn 123-45-6789",)}) == {
        "a": ["<EMAIL>", 3, None], "b": ("ssn <SSN>",)}
    assert set(PLACEHOLDERS) == set(KINDS) and all(p.startswith("<") for p in PLACEHOLDERS.values())


def test_redacted_policy_redacts_everything_that_leaves_the_process():
    memory = Memory(capture_content="redacted")
    try:
        with tracehouse.context(user="u-1", metadata={"contact": "ops@example.com"}):
            with tracehouse.llm_call(provider="openai", model="gpt-4o", system="Key sk-" + "k" * 30,
                                     messages=[{"role": "user", "content": "I am jane@example.com, 415-555-0132"}]) as c:
                c.set_output("Noted card 4111 1111 1111 1111", finish_reason="stop", input_tokens=9)
            with pytest.raises(ValueError):
                with tracehouse.tool_call("lookup", {"email": "bob@example.org"}):
                    raise ValueError("no customer bob@example.org")
        spans = memory.by_name()
        llm = attrs(spans["chat gpt-4o"])
        dumped = json.dumps(llm)
        for secret in ("jane@example.com", "415-555-0132", "4111 1111", "sk-kkk", "ops@example.com"):
            assert secret not in dumped
        assert "<EMAIL>" in llm["gen_ai.input.messages"] and "<CARD>" in llm["gen_ai.output.messages"]
        assert set(llm["tracehouse.redaction.kinds"]) == {"email", "phone", "card", "api_key"}
        assert llm["user.id"] == "u-1" and llm["gen_ai.request.model"] == "gpt-4o"  # structural keys untouched
        tool = spans["execute_tool lookup"]
        assert "bob@example.org" not in json.dumps(attrs(tool)) + tool.status.description
        assert "<EMAIL>" in tool.events[0].attributes["exception.message"]
        assert tool.resource.attributes["tracehouse.capture_content"] == "redacted"
    finally:
        tracehouse.shutdown()


# -- sampling ------------------------------------------------------------------------------------------------
class Recorder(SpanProcessor):
    def __init__(self) -> None:
        self.ended: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


KEPT = 0x1  # lower 64 bits tiny: under any ratio > 0
DROPPED = (1 << 64) - 1  # lower 64 bits maximal: over any ratio < 1


def fake_span(trace_id: int, span_id: int, parent: int | None, error: bool = False) -> ReadableSpan:
    ctx = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1))
    parent_ctx = SpanContext(trace_id, parent, is_remote=False) if parent else None
    return ReadableSpan(name=f"s{span_id}", context=ctx, parent=parent_ctx,
                        status=Status(StatusCode.ERROR if error else StatusCode.UNSET))


def test_sampler_keeps_sampled_traces_at_once_and_drops_whole_unsampled_traces():
    inner = Recorder()
    sampler = ErrorKeepingSampler(inner, ratio=0.5)
    sampler.on_end(fake_span(KEPT, 2, parent=1))
    assert [s.name for s in inner.ended] == ["s2"]  # no buffering for kept traces
    for span in (fake_span(DROPPED, 2, 1), fake_span(DROPPED, 3, 1), fake_span(DROPPED, 1, None)):
        sampler.on_end(span)
    assert [s.name for s in inner.ended] == ["s2"] and sampler.sampled_out == 3


def test_sampler_always_keeps_a_trace_with_an_error_whole():
    inner = Recorder()
    sampler = ErrorKeepingSampler(inner, ratio=0.0)
    sampler.on_end(fake_span(DROPPED, 2, 1))
    sampler.on_end(fake_span(DROPPED, 3, 2, error=True))  # the held child is released with it
    sampler.on_end(fake_span(DROPPED, 4, 1))  # later spans of an errored trace pass straight through
    sampler.on_end(fake_span(DROPPED, 1, None))
    assert [s.name for s in inner.ended] == ["s2", "s3", "s4", "s1"] and sampler.sampled_out == 0


def test_sampler_memory_is_bounded():
    inner = Recorder()
    sampler = ErrorKeepingSampler(inner, ratio=0.0, max_held_spans=10)
    for trace in range(30):  # roots never end
        sampler.on_end(fake_span(DROPPED - trace, 2, 1))
    assert sampler._held_count <= 10 and sampler.sampled_out == 20


def test_sample_rate_through_init_counts_sampled_out_and_keeps_errors():
    memory = Memory(sample_rate=0.0)
    try:
        for i in range(5):
            with tracehouse.span(f"ok {i}"):
                with tracehouse.span("child"):
                    pass
        with pytest.raises(KeyError):
            with tracehouse.span("failing root"):
                with tracehouse.span("sibling"):
                    pass
                raise KeyError("x")
        names = sorted(s.name for s in memory.spans())
        assert names == ["failing root", "sibling"]
        assert tracehouse.stats().spans_sampled_out == 10
    finally:
        tracehouse.shutdown()


# -- the bounded queue, counters and warnings --------------------------------------------------------------
class SlowExporter(SpanExporter):
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.count = 0

    def export(self, spans):
        time.sleep(self.delay_s)
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def test_full_queue_drops_oldest_counts_and_warns_once(caplog):
    caplog.set_level(logging.WARNING, logger="tracehouse")
    exporter = SlowExporter(0.3)
    tracehouse.init(exporter=exporter, max_queue_size=10, max_export_batch_size=5, schedule_delay_ms=10)
    try:
        start = time.perf_counter()
        for i in range(200):
            with tracehouse.span(f"s{i}"):
                pass
        assert time.perf_counter() - start < 2.0  # waiting for the exporter would take 40 x 0.3 s
        assert tracehouse.flush(timeout_ms=10_000)
        stats = tracehouse.stats()
        assert stats.spans_dropped > 0
        assert stats.spans_exported + stats.spans_dropped == 200 and stats.spans_queued == 0
        assert stats.spans_lost == stats.spans_dropped
        assert caplog.text.count("span queue full") == 1
    finally:
        tracehouse.shutdown()


def test_batching_processor_drops_the_oldest():
    exported: list[str] = []
    release = threading.Event()

    class Blocking(SpanExporter):
        def export(self, spans):
            release.wait(5)
            exported.extend(s.name for s in spans)
            return SpanExportResult.SUCCESS

    processor = BatchingProcessor(Blocking(), max_queue_size=3, max_batch=1, delay_s=60, shutdown_timeout_s=1)
    processor.on_end(fake_span(KEPT, 1, None))
    deadline = time.monotonic() + 5
    while processor.queued and time.monotonic() < deadline:  # the worker took s1 and is stuck exporting it
        time.sleep(0.005)
    for i in range(2, 7):
        processor.on_end(fake_span(KEPT, i, None))
    assert processor.dropped == 2 and processor.queued == 3
    assert processor.force_flush(100) is False  # the exporter is stuck: flush gives up in time
    release.set()
    assert processor.force_flush(2000)
    assert exported == ["s1", "s4", "s5", "s6"]
    processor.shutdown()


def test_exporter_that_raises_is_counted_as_failed_and_reported_once(caplog):
    class Exploding(SpanExporter):
        def export(self, spans):
            raise RuntimeError("boom")

    tracehouse.init(exporter=Exploding(), schedule_delay_ms=10)
    try:
        for _ in range(3):
            with tracehouse.span("x"):
                pass
            tracehouse.flush()
        assert tracehouse.stats().spans_failed == 3
        assert caplog.text.count("exporter raised") == 1
    finally:
        tracehouse.shutdown()


def test_counting_exporter_counts_results():
    class Half(SpanExporter):
        calls = 0

        def export(self, spans):
            Half.calls += 1
            return SpanExportResult.SUCCESS if Half.calls % 2 else SpanExportResult.FAILURE

    counting = CountingExporter(Half())
    for _ in range(4):
        counting.export([fake_span(KEPT, 1, None)] * 3)
    assert (counting.exported, counting.failed) == (6, 6)


def test_internal_errors_are_logged_once_and_never_raised(caplog, monkeypatch):
    memory = Memory()
    try:
        def broken(*args, **kwargs):
            raise RuntimeError("internal bug")

        monkeypatch.setattr("tracehouse._spans.response_attributes", broken)
        for _ in range(3):
            with tracehouse.llm_call(provider="openai", model="m") as call:
                call.set_output("x", input_tokens=1)
                call.set_attribute("odd", object())  # stored as its str, never raises
        assert len(memory.spans()) == 3
        assert caplog.text.count("RuntimeError: internal bug") == 1
        monkeypatch.setattr("tracehouse._spans.request_attributes", broken)
        with tracehouse.llm_call(provider="openai", model="m2") as call:  # a minimal span instead of a crash
            call.set_output("x")
        assert "chat m2" in memory.by_name()
    finally:
        tracehouse.shutdown()


def test_stats_flush_and_shutdown_before_init_are_harmless():
    tracehouse.shutdown()
    assert tracehouse.stats() == tracehouse.SDKStats()
    assert tracehouse.flush() is True
    tracehouse.shutdown()


def test_init_failure_leaves_tracing_off_without_raising(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise OSError("no threads left")

    monkeypatch.setattr("tracehouse.Runtime", broken)
    settings = tracehouse.init(service_name="x")
    assert settings.service_name == "x" and tracehouse._current() is None
    assert "could not start the SDK" in caplog.text


# -- a collector that is down, slow or overloaded ----------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_app_calls(n: int = 200) -> float:
    """The application's work: returns the worst time one traced call took, in seconds."""
    worst = 0.0
    for i in range(n):
        start = time.perf_counter()
        with tracehouse.llm_call(provider="openai", model="m", messages=[{"role": "user", "content": f"q{i}"}]) as c:
            c.set_output("a", input_tokens=1, output_tokens=1)
        worst = max(worst, time.perf_counter() - start)
    return worst


def test_spans_reach_a_real_otlp_endpoint_with_the_api_key():
    with FakeCollector() as collector:
        tracehouse.init(endpoint=collector.base_url, api_key="th-key", schedule_delay_ms=20, service_name="svc")
        try:
            run_app_calls(5)
            assert tracehouse.flush(timeout_ms=10_000)
        finally:
            tracehouse.shutdown()
        assert len(collector.spans) == 5 and collector.spans[0]["authorization"] == "Bearer th-key"
        assert collector.spans[0]["resource"]["service.name"] == "svc"
        assert collector.spans[0]["attributes"]["gen_ai.provider.name"] == "openai"


def test_collector_down_costs_the_app_nothing(caplog):
    tracehouse.init(endpoint=f"http://127.0.0.1:{closed_port()}", schedule_delay_ms=10, export_timeout_s=0.5,
                    shutdown_timeout_s=1)
    try:
        assert run_app_calls() < 0.25  # a blocked call would wait for the export timeout (>= 0.5 s)
        start = time.perf_counter()
        tracehouse.flush(timeout_ms=3000)
        assert time.perf_counter() - start < 3.5
        assert tracehouse.stats().spans_failed > 0
    finally:
        start = time.perf_counter()
        tracehouse.shutdown()
        assert time.perf_counter() - start < 3
    assert caplog.text.count("exporting spans to") == 1


def test_slow_collector_costs_the_app_nothing_and_flush_honours_its_timeout():
    with FakeCollector(hang_s=30) as collector:
        tracehouse.init(endpoint=collector.base_url, schedule_delay_ms=10, export_timeout_s=5,
                        max_export_batch_size=50, max_queue_size=100, shutdown_timeout_s=0.5)
        try:
            assert run_app_calls(300) < 0.25  # the worker is stuck in a 5 s export; the app is not
            start = time.perf_counter()
            assert tracehouse.flush(timeout_ms=300) is False
            assert 0.25 < time.perf_counter() - start < 1.5
            assert tracehouse.stats().spans_dropped > 0  # bounded memory: the queue shed the oldest
        finally:
            start = time.perf_counter()
            tracehouse.shutdown()
            assert time.perf_counter() - start < 2
        assert collector.trace_posts >= 1


def test_collector_answering_503_costs_the_app_nothing_and_counts_failures(caplog):
    with FakeCollector(trace_status=503, retry_after="0") as collector:
        tracehouse.init(endpoint=collector.base_url, schedule_delay_ms=10, export_timeout_s=1, shutdown_timeout_s=1)
        try:
            assert run_app_calls() < 0.25  # a blocked call would wait for the export timeout (>= 0.5 s)
            tracehouse.flush(timeout_ms=5000)
            stats = tracehouse.stats()
            assert stats.spans_failed == 200 and stats.spans_exported == 0
        finally:
            tracehouse.shutdown()
        assert collector.trace_posts > 1  # the exporter retried
    otlp_errors = [r for r in caplog.records if r.name.startswith("opentelemetry.exporter")]
    assert len({r.msg for r in otlp_errors}) == len(otlp_errors)  # each exporter message at most once


def test_collector_recovering_from_503_gets_the_spans():
    with FakeCollector(trace_status=503, retry_after="0.2") as collector:
        tracehouse.init(endpoint=collector.base_url, schedule_delay_ms=10, export_timeout_s=5)
        try:
            run_app_calls(10)
            time.sleep(0.1)
            collector.trace_status = 200
            assert tracehouse.flush(timeout_ms=8000)
            assert tracehouse.stats().spans_exported == 10
        finally:
            tracehouse.shutdown()
        assert len(collector.spans) == 10
