"""tracehouse.cli.demo: seeded demo traffic through the real SDK, captured by an in-memory exporter."""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
from typing import Any, Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracehouse
from tracehouse.cli import demo
from tracehouse.cli.demo import DemoSummary, generate_demo

NOW_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
WINDOW_S = 6 * 3600.0
S = 1_000_000_000


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracehouse.init(endpoint="http://127.0.0.1:4318", service_name="demo-test", exporter=exporter)
    yield exporter
    tracehouse.shutdown()


def _generate(exporter: InMemorySpanExporter, traces: int = 60, seed: int = 7,
              **kwargs: Any) -> tuple[DemoSummary, list[ReadableSpan]]:
    exporter.clear()
    summary = generate_demo(traces=traces, seed=seed, now_ns=NOW_NS, span_window_s=WINDOW_S, **kwargs)
    return summary, list(exporter.get_finished_spans())


def _kind(span: ReadableSpan) -> str:
    return span.attributes["tracehouse.span.kind"]


def _output_text(span: ReadableSpan) -> str:
    messages = json.loads(span.attributes.get("gen_ai.output.messages", "[]"))
    return "".join(p.get("content", "") for m in messages for p in m["parts"] if p["type"] == "text")


def _by_trace(spans: Sequence[ReadableSpan]) -> dict[int, list[ReadableSpan]]:
    traces: dict[int, list[ReadableSpan]] = collections.defaultdict(list)
    for span in spans:
        traces[span.context.trace_id].append(span)
    for members in traces.values():
        members.sort(key=lambda s: s.start_time)
    return traces


def _fingerprint(spans: Sequence[ReadableSpan]) -> list[tuple[Any, ...]]:
    """Everything about the spans except the ids OpenTelemetry draws at random."""
    names = {s.context.span_id: s.name for s in spans}
    return sorted(
        (s.name, s.start_time, s.end_time, names.get(s.parent.span_id) if s.parent else None,
         s.status.status_code.name, s.status.description or "", tuple(sorted(s.attributes.items())))
        for s in spans
    )


@pytest.fixture(scope="module")
def mix() -> list[ReadableSpan]:
    """A larger run (200 traces) so rare outcomes are surely present."""
    exporter = InMemorySpanExporter()
    tracehouse.init(endpoint="http://127.0.0.1:4318", service_name="demo-test", exporter=exporter)
    try:
        generate_demo(traces=200, seed=7, now_ns=NOW_NS, span_window_s=WINDOW_S)
        return list(exporter.get_finished_spans())
    finally:
        tracehouse.shutdown()


def test_same_seed_gives_same_spans(exporter: InMemorySpanExporter) -> None:
    first, spans_a = _generate(exporter)
    second, spans_b = _generate(exporter)
    assert _fingerprint(spans_a) == _fingerprint(spans_b)
    assert (first.traces, first.spans, first.llm_calls, first.errors, first.tenants) == (
        second.traces, second.spans, second.llm_calls, second.errors, second.tenants)


def test_different_seed_gives_different_spans(exporter: InMemorySpanExporter) -> None:
    _, spans_a = _generate(exporter, seed=7)
    _, spans_b = _generate(exporter, seed=8)
    assert _fingerprint(spans_a) != _fingerprint(spans_b)


def test_summary_counts_match_exported_spans(exporter: InMemorySpanExporter) -> None:
    summary, spans = _generate(exporter)
    traces = _by_trace(spans)
    failed = [t for t, members in traces.items() if any(s.status.status_code is StatusCode.ERROR for s in members)]
    assert summary.traces == len(traces) == 60
    assert summary.spans == len(spans)
    assert summary.llm_calls == sum(_kind(s) == "llm" for s in spans)
    assert summary.errors == len(failed)
    assert summary.tenants == len({s.attributes["tracehouse.tenant"] for s in spans})
    assert summary.first_trace_id in {format(t, "032x") for t in traces}


def test_zero_traces_sends_nothing(exporter: InMemorySpanExporter) -> None:
    summary, spans = _generate(exporter, traces=0)
    assert summary == DemoSummary(traces=0, spans=0, llm_calls=0, errors=0, tenants=0, first_trace_id=None)
    assert spans == []


@pytest.mark.parametrize("kwargs", [{"traces": -1}, {"span_window_s": 0}])
def test_rejects_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        generate_demo(**kwargs)


def test_progress_is_reported_about_every_tenth(exporter: InMemorySpanExporter) -> None:
    calls: list[tuple[int, int]] = []
    _generate(exporter, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (60, 60)
    assert 9 <= len(calls) <= 11
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_spans_lie_in_the_window_with_realistic_timings(exporter: InMemorySpanExporter) -> None:
    _, spans = _generate(exporter)
    for span in spans:
        assert NOW_NS - WINDOW_S * S <= span.start_time < span.end_time <= NOW_NS
    for span in (s for s in spans if _kind(s) == "llm"):
        duration_s = (span.end_time - span.start_time) / S
        assert 0.3 <= duration_s <= 8.0
        attrs = span.attributes
        assert attrs.get("gen_ai.response.time_to_first_chunk", 0) < duration_s
        cached = attrs.get("gen_ai.usage.cache_read.input_tokens", 0) + attrs.get(
            "gen_ai.usage.cache_creation.input_tokens", 0)
        assert cached <= attrs.get("gen_ai.usage.input_tokens", 0)  # OTel: cache counts are inside input
        assert attrs.get("gen_ai.usage.reasoning.output_tokens", 0) < attrs.get("gen_ai.usage.output_tokens", 1)


def test_every_span_carries_the_request_context(exporter: InMemorySpanExporter) -> None:
    _, spans = _generate(exporter)
    for span in spans:
        attrs = span.attributes
        assert attrs["tracehouse.tenant"] and attrs["user.id"] and attrs["session.id"]
        assert attrs["tracehouse.tags"][0] == "demo" and len(attrs["tracehouse.tags"]) == 2
        assert json.loads(attrs["tracehouse.metadata"])["channel"] in {"web", "email", "api"}
    for members in _by_trace(spans).values():  # one context per trace
        assert len({(s.attributes["session.id"], s.attributes["user.id"]) for s in members}) == 1


def test_agent_traces_call_a_tool_between_two_llm_calls(mix: list[ReadableSpan]) -> None:
    agents = [m for m in _by_trace(mix).values() if _kind(m[0]) == "agent"]
    with_tool = [m for m in agents if any(_kind(s) == "tool" for s in m)]
    assert with_tool
    for members in with_tool:
        root, first, tool, second = members
        assert [_kind(s) for s in members] == ["agent", "llm", "tool", "llm"]
        assert root.parent is None and all(s.parent.span_id == root.context.span_id for s in members[1:])
        assert first.end_time <= tool.start_time and tool.end_time <= second.start_time
        assert root.start_time <= first.start_time and second.end_time <= root.end_time
        assert tool.name == "execute_tool " + tool.attributes["gen_ai.tool.name"]
        (call,) = [p for m in json.loads(first.attributes["gen_ai.output.messages"]) for p in m["parts"]]
        assert call["type"] == "tool_call" and call["id"] == tool.attributes["gen_ai.tool.call.id"]
        assert call["arguments"] == json.loads(tool.attributes["gen_ai.tool.call.arguments"])
        assert first.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
        (reply,) = [p for m in json.loads(second.attributes["gen_ai.input.messages"]) for p in m["parts"]
                    if p["type"] == "tool_call_response"]
        assert reply["id"] == call["id"]
        assert json.loads(reply["response"]) == json.loads(tool.attributes["gen_ai.tool.call.result"])


def test_rag_traces_retrieve_documents_before_the_llm_call(mix: list[ReadableSpan]) -> None:
    rags = [m for m in _by_trace(mix).values() if _kind(m[0]) == "chain"]
    assert rags
    for root, retrieval, llm in rags:
        assert (_kind(retrieval), _kind(llm)) == ("retrieval", "llm")
        assert retrieval.parent.span_id == root.context.span_id == llm.parent.span_id
        assert retrieval.end_time <= llm.start_time
        docs = json.loads(retrieval.attributes["tracehouse.output"])
        assert len(docs) == 3 and [d["score"] for d in docs] == sorted((d["score"] for d in docs), reverse=True)
        assert docs[0]["id"] in llm.attributes["gen_ai.input.messages"] + llm.attributes.get(
            "gen_ai.system_instructions", "")


def test_traffic_mix_has_tenants_models_prompts_and_sessions(mix: list[ReadableSpan]) -> None:
    llm = [s for s in mix if _kind(s) == "llm"]
    assert len({s.attributes["tracehouse.tenant"] for s in mix}) == 5
    assert len({s.attributes["user.id"] for s in mix}) >= 20
    assert {s.attributes["gen_ai.provider.name"] for s in llm} == {"openai", "anthropic"}
    assert len({s.attributes["gen_ai.request.model"] for s in llm}) >= 4
    prompts = {(s.attributes["gen_ai.prompt.name"], s.attributes["tracehouse.prompt.version"]) for s in llm}
    assert {("support-answer", "1"), ("support-answer", "2"), ("summarize", "3")} <= prompts
    assert len({s.attributes["tracehouse.tags"][1] for s in mix}) == 10
    traces_per_session = collections.Counter(
        s.attributes["session.id"] for members in _by_trace(mix).values() for s in members[:1])
    assert max(traces_per_session.values()) >= 3
    assert any(s.attributes.get("gen_ai.usage.cache_read.input_tokens") for s in llm)
    reasoning = [s for s in llm if s.attributes.get("gen_ai.usage.reasoning.output_tokens")]
    assert reasoning and all("gen_ai.request.temperature" not in s.attributes for s in reasoning)
    assert any("gen_ai.response.time_to_first_chunk" in s.attributes for s in llm)
    assert any(s.attributes["gen_ai.provider.name"] == "anthropic" and "gen_ai.system_instructions" in s.attributes
               for s in llm)


def test_traffic_mix_has_realistic_failures(mix: list[ReadableSpan]) -> None:
    llm = [s for s in mix if _kind(s) == "llm"]
    errors = [s for s in llm if s.status.status_code is StatusCode.ERROR]
    assert errors and all("gen_ai.output.messages" not in s.attributes for s in errors)
    assert {s.attributes["error.type"] for s in errors} <= {
        "RateLimitError", "InternalServerError", "APITimeoutError", "OverloadedError"}
    assert any(_output_text(s).startswith(("I'm sorry", "Sorry", "I can't", "I'm not able")) for s in llm)
    truncated = [s for s in llm if s.attributes.get("gen_ai.response.finish_reasons") == ("length",)]
    assert truncated
    for span in truncated:
        assert span.attributes["gen_ai.usage.output_tokens"] == span.attributes["gen_ai.request.max_tokens"]
        assert not _output_text(span).endswith(".")
    extractions = [s for s in llm if s.attributes["gen_ai.prompt.name"] == "invoice-extract"
                   and s.status.status_code is not StatusCode.ERROR
                   and _output_text(s).lstrip().startswith(("{", "Sure", "`"))]
    valid = []
    for span in extractions:
        try:
            valid.append(json.loads(_output_text(span)))
        except ValueError:
            pass
    assert 0 < len(valid) < len(extractions)
    share = len([s for s in llm if s.status.status_code is StatusCode.ERROR]) / len(llm)
    assert 0.01 < share < 0.1


def test_topic_templates_render_for_every_scenario() -> None:
    rng, today = random.Random(1), dt.date(2026, 1, 1)
    for topic in demo.TOPICS:
        shapes = {shape for shape, _ in topic.shapes}
        assert "agent" not in shapes or (topic.tool is not None and topic.agent)
        assert "rag" not in shapes or len(topic.docs) == 3
        assert topic.followups and topic.questions and topic.answers
        for _ in range(20):
            slots = topic.slots(rng, today)
            for template in (*topic.questions, *topic.answers, *(t for pair in topic.followups for t in pair)):
                assert "{" not in template.format_map(slots).replace("{\n", "").replace('{"', "")
        for name, version, _ in topic.prompts:
            assert (name, version) in demo.PROMPTS


def test_demo_models_are_priced_by_genai_prices() -> None:
    genai_prices = pytest.importorskip("genai_prices")
    for model in demo.MODELS.values():
        for ref in (model.name, model.response_model):
            price = genai_prices.calc_price(genai_prices.Usage(input_tokens=1000, output_tokens=100),
                                            model_ref=ref, provider_id=model.provider)
            assert price.total_price > 0
