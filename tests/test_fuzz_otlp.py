"""Hostile input for the OTLP decoders (issue #11): property-based fuzzing of ``collector/otlp.py``.

The property, for protobuf and OTLP/JSON, traces and logs: a body either decodes to records or raises
``DecodeError`` (``TooManySpans`` past the span cap), the two exceptions the HTTP layer answers 400 and 413.
Any other exception would be a 500 from ``/v1/traces`` or ``/v1/logs``. Records that come out must be ones the
rest of the pipeline can take: hex ids of the right length, times in uint64, valid Unicode, bounded nesting.

Runs are deterministic (``derandomize``, no example database). Every executed example is counted; the totals
are written to ``test-artifacts/fuzz_iterations.json`` and printed at the end of the module. Set
``TRACEHOUSE_FUZZ_EXAMPLES`` to run more examples per test locally.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (AnyValue, ArrayValue, InstrumentationScope, KeyValue,
                                                      KeyValueList)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from tracehouse.collector import otlp
from tracehouse.collector.otlp import DecodeError, RawLog, RawSpan, TooManySpans, decode_logs, decode_traces

from .otlp_payloads import encoded_genai_trace

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("TRACEHOUSE_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])
FEW = settings(FUZZ, max_examples=max(EXAMPLES // 10, 20))  # examples that each build megabytes

ITERATIONS: Counter[str] = Counter()


def _count() -> None:
    ITERATIONS[sys._getframe(1).f_code.co_name] += 1


@pytest.fixture(scope="module", autouse=True)
def _report_iterations(request: pytest.FixtureRequest):
    yield
    total = sum(ITERATIONS.values())
    out = REPO / "test-artifacts" / "fuzz_iterations.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"total": total, "examples_setting": EXAMPLES, "per_test": dict(ITERATIONS)},
                              indent=2) + "\n")
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # shown with -q too, not swallowed as captured output
            reporter.write_line(f"\nOTLP decoder fuzzing: {total} iterations over {len(ITERATIONS)} tests "
                                f"(max_examples={EXAMPLES}; details in {out.relative_to(REPO)})")


# -- the property ---------------------------------------------------------------------------------------------
def decode_or_reject(decode: Any, body: bytes, fmt: str) -> tuple[list[Any], list[otlp.Rejected]] | None:
    """The decoder's answer, or None when it raised the documented client error. Anything else propagates."""
    try:
        return decode(body, fmt)
    except DecodeError as exc:  # TooManySpans is one
        assert str(exc), "a rejection must say why"
        return None


HEX32, HEX16 = re.compile(r"[0-9a-f]{32}"), re.compile(r"[0-9a-f]{16}")


def assert_clean_value(value: Any, depth: int = 0) -> None:
    """A decoded AnyValue: JSON-like, valid Unicode, no deeper than the cut, strings no longer than the cut."""
    assert depth <= otlp.MAX_DEPTH + 1
    if isinstance(value, str):
        value.encode("utf-8")  # no lone surrogates
        assert len(value) <= otlp.MAX_STRING_CHARS + len(otlp.TRUNCATED_SUFFIX)
    elif isinstance(value, list):
        assert len(value) <= otlp.MAX_ITEMS
        for item in value:
            assert_clean_value(item, depth + 1)
    elif isinstance(value, dict):
        assert len(value) <= max(otlp.MAX_ITEMS, otlp.MAX_ATTRIBUTES)
        for key, item in value.items():
            assert isinstance(key, str)
            key.encode("utf-8")
            assert_clean_value(item, depth + 1)
    else:
        assert value is None or isinstance(value, (bool, int, float)), type(value)
        if isinstance(value, int) and not isinstance(value, bool):
            assert -(2**63) <= value < 2**63


def assert_clean_spans(spans: list[RawSpan]) -> None:
    for span in spans:
        assert HEX32.fullmatch(span.trace_id) and span.trace_id != "0" * 32
        assert HEX16.fullmatch(span.span_id) and span.span_id != "0" * 16
        assert span.parent_span_id == "" or HEX16.fullmatch(span.parent_span_id)
        assert 0 <= span.start_time_ns < 2**64 and 0 <= span.end_time_ns < 2**64
        assert -(2**31) <= span.kind < 2**31 and -(2**31) <= span.status_code < 2**31
        for text in (span.name, span.status_message, span.scope_name, span.scope_version):
            text.encode("utf-8")
        assert len(span.events) <= otlp.MAX_EVENTS and len(span.links) <= otlp.MAX_LINKS
        for attrs in (span.attributes, span.resource, *(e["attributes"] for e in span.events),
                      *(link["attributes"] for link in span.links)):
            assert len(attrs) <= otlp.MAX_ATTRIBUTES
            assert_clean_value(attrs, depth=-1)


def assert_clean_logs(logs: list[RawLog]) -> None:
    for log in logs:
        assert log.trace_id == "" or HEX32.fullmatch(log.trace_id)
        assert log.span_id == "" or HEX16.fullmatch(log.span_id)
        assert 0 <= log.time_ns < 2**64
        for text in (log.severity_text, log.event_name, log.scope_name, log.scope_version):
            text.encode("utf-8")
        assert_clean_value(log.body)
        assert_clean_value(log.attributes, depth=-1)
        assert_clean_value(log.resource, depth=-1)


def check_traces(body: bytes, fmt: str) -> tuple[list[RawSpan], list[otlp.Rejected]] | None:
    result = decode_or_reject(decode_traces, body, fmt)
    if result is not None:
        spans, rejected = result
        assert_clean_spans(spans)
        assert len({r.index for r in rejected}) == len(rejected)
    return result


def check_logs(body: bytes, fmt: str) -> tuple[list[RawLog], list[otlp.Rejected]] | None:
    result = decode_or_reject(decode_logs, body, fmt)
    if result is not None:
        assert_clean_logs(result[0])
    return result


# -- strategies: protobuf messages ---------------------------------------------------------------------------
INT64 = st.one_of(st.sampled_from([-(2**63), -(2**63) + 1, -1, 0, 1, 2**53 + 1, 2**63 - 1]),
                  st.integers(-(2**63), 2**63 - 1))
UINT64 = st.one_of(st.sampled_from([0, 1, 2**63 - 1, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1))
INT32 = st.one_of(st.integers(0, 6), st.sampled_from([-(2**31), -1, 2**31 - 1]), st.integers(-(2**31), 2**31 - 1))
DOUBLES = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]),
                    st.floats(allow_nan=True, allow_infinity=True))
TEXT = st.one_of(st.text(max_size=30), st.sampled_from(["", "\x00", "é", "🙂", "\u202e", "\ufeff", "a\nb"]))
KEYS = st.one_of(TEXT, st.sampled_from(["event.name", "gen_ai.operation.name", "gen_ai.usage.input_tokens",
                                        "gen_ai.request.model", "gen_ai.input.messages", "service.name"]))


def _id(size: int) -> st.SearchStrategy[bytes]:
    """Ids of the right size (random, all zero) and of wrong sizes."""
    return st.one_of(st.binary(min_size=size, max_size=size), st.just(bytes(size)), st.just(b""),
                     st.binary(max_size=2 * size + 1))


LEAF = st.one_of(
    st.builds(AnyValue),  # no case set
    st.builds(lambda s: AnyValue(string_value=s), TEXT),
    st.builds(lambda b: AnyValue(bool_value=b), st.booleans()),
    st.builds(lambda i: AnyValue(int_value=i), INT64),
    st.builds(lambda d: AnyValue(double_value=d), DOUBLES),
    st.builds(lambda b: AnyValue(bytes_value=b), st.binary(max_size=40)),
)


def _array(values: list[AnyValue]) -> AnyValue:
    return AnyValue(array_value=ArrayValue(values=values))


def _kvlist(pairs: list[tuple[str, AnyValue]]) -> AnyValue:
    return AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in pairs]))


# Deeper nesting is built on the wire (test_deeply_nested_any_values): protobuf will not build it in Python.
VALUES = st.recursive(LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3).map(_array),
                                                    st.lists(st.tuples(KEYS, inner), max_size=3).map(_kvlist)),
                      max_leaves=8)


ATTRS = st.lists(st.builds(lambda k, v: KeyValue(key=k, value=v), KEYS, VALUES), max_size=4)


def _spans() -> st.SearchStrategy[Span]:
    def build(ids: tuple[bytes, bytes, bytes], name: str, kind: int, times: tuple[int, int], status: tuple[int, str],
              attributes: list[KeyValue], events: list[Any], links: list[Any]) -> Span:
        return Span(trace_id=ids[0], span_id=ids[1], parent_span_id=ids[2], name=name, kind=kind,
                    start_time_unix_nano=times[0], end_time_unix_nano=times[1],
                    status=Status(code=status[0], message=status[1]), attributes=attributes,
                    events=[Span.Event(time_unix_nano=t, name=n, attributes=a) for t, n, a in events],
                    links=[Span.Link(trace_id=t, span_id=s, attributes=a) for t, s, a in links])

    return st.builds(build, st.tuples(_id(16), _id(8), _id(8)), TEXT, INT32, st.tuples(UINT64, UINT64),
                     st.tuples(INT32, TEXT), ATTRS, st.lists(st.tuples(UINT64, TEXT, ATTRS), max_size=2),
                     st.lists(st.tuples(_id(16), _id(8), ATTRS), max_size=2))


def _trace_requests() -> st.SearchStrategy[ExportTraceServiceRequest]:
    scope_spans = st.builds(lambda name, version, spans: ScopeSpans(
        scope=InstrumentationScope(name=name, version=version), spans=spans),
        TEXT, TEXT, st.lists(_spans(), max_size=3))
    resource_spans = st.builds(lambda a, scopes: ResourceSpans(resource=Resource(attributes=a), scope_spans=scopes),
                               ATTRS, st.lists(scope_spans, max_size=2))
    return st.builds(lambda rs: ExportTraceServiceRequest(resource_spans=rs), st.lists(resource_spans, max_size=2))


def _log_requests() -> st.SearchStrategy[ExportLogsServiceRequest]:
    def record(times: tuple[int, int], severity: tuple[int, str], body: AnyValue | None, attributes: list[KeyValue],
               ids: tuple[bytes, bytes], event_name: str) -> LogRecord:
        log = LogRecord(time_unix_nano=times[0], observed_time_unix_nano=times[1], severity_number=severity[0],
                        severity_text=severity[1], attributes=attributes, trace_id=ids[0], span_id=ids[1],
                        event_name=event_name)
        if body is not None:
            log.body.CopyFrom(body)
        return log

    records = st.builds(record, st.tuples(UINT64, UINT64), st.tuples(INT32, TEXT), st.none() | VALUES, ATTRS,
                        st.tuples(_id(16), _id(8)), TEXT)
    scope_logs = st.builds(lambda name, recs: ScopeLogs(scope=InstrumentationScope(name=name), log_records=recs),
                           TEXT, st.lists(records, max_size=3))
    resource_logs = st.builds(lambda a, scopes: ResourceLogs(resource=Resource(attributes=a), scope_logs=scopes),
                              ATTRS, st.lists(scope_logs, max_size=2))
    return st.builds(lambda rl: ExportLogsServiceRequest(resource_logs=rl), st.lists(resource_logs, max_size=2))


TRACE_REQUESTS, LOG_REQUESTS = _trace_requests(), _log_requests()


def span_count(request: ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def _valid_span(span: Span) -> bool:
    return (len(span.trace_id) == 16 and any(span.trace_id) and len(span.span_id) == 8 and any(span.span_id)
            and len(span.parent_span_id) in (0, 8))


# -- protobuf ------------------------------------------------------------------------------------------------
@FUZZ
@given(body=st.binary(max_size=2048))
@example(body=b"")
@example(body=b"\x0a\xff\xff\xff\xff\x0f")  # a length prefix far past the end
@example(body=b"\x0a" * 300)  # nested length-delimited fields, each claiming the rest
def test_random_bytes_as_protobuf(body: bytes):
    _count()
    check_traces(body, "protobuf")
    check_logs(body, "protobuf")


@FUZZ
@given(request=TRACE_REQUESTS)
def test_generated_trace_requests(request: ExportTraceServiceRequest):
    """Random attributes (nested, NaN and infinite doubles, int64 edges), ids of wrong sizes, any enum value."""
    _count()
    result = check_traces(request.SerializeToString(), "protobuf")
    if result is None:
        return  # only protobuf's own nesting limit makes a message we built unparseable
    spans, rejected = result
    all_spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert len(spans) + len(rejected) == len(all_spans)
    assert [r.index for r in rejected] == [i for i, s in enumerate(all_spans) if not _valid_span(s)]
    kept = [s for s in all_spans if _valid_span(s)]
    assert [(s.trace_id, s.span_id) for s in spans] == [(k.trace_id.hex(), k.span_id.hex()) for k in kept]


@FUZZ
@given(request=LOG_REQUESTS)
def test_generated_log_requests(request: ExportLogsServiceRequest):
    _count()
    check_logs(request.SerializeToString(), "protobuf")


def _bare_request(shape: list[list[list[bytes]]]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[
        ScopeSpans(spans=[Span(trace_id=t, span_id=b"\x01" * 8) for t in scope]) for scope in resource])
        for resource in shape])


@FUZZ
@given(request=st.lists(st.lists(st.lists(_id(16), max_size=4), max_size=3), max_size=3).map(_bare_request))
def test_span_cap_rejects_the_whole_request(request: ExportTraceServiceRequest):
    """Past the cap the whole request is refused (413), counting rejected spans too."""
    _count()
    with mock.patch.object(otlp, "MAX_SPANS_PER_REQUEST", 3):
        try:
            decode_traces(request.SerializeToString(), "protobuf")
        except TooManySpans:
            assert span_count(request) > 3
        else:
            assert span_count(request) <= 3


def _mutate(body: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(body)
    for op, position, byte in edits:
        at = position % (len(out) + 1)
        if op == "flip" and out:
            out[at % len(out)] ^= 1 << (byte % 8)
        elif op == "set" and out:
            out[at % len(out)] = byte
        elif op == "truncate":
            del out[at:]
        elif op == "insert":
            out[at:at] = bytes([byte])
        elif op == "delete":
            del out[at:at + 1 + byte % 8]
        elif op == "duplicate":
            out[at:at] = out[at:at + 1 + byte % 16]
    return bytes(out)


EDITS = st.lists(st.tuples(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "duplicate"]),
                           st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=6)
GENAI_TRACE = encoded_genai_trace()


@FUZZ
@given(body=st.one_of(st.just(GENAI_TRACE), TRACE_REQUESTS.map(lambda r: r.SerializeToString())),
       edits=EDITS)
def test_mutated_trace_payloads(body: bytes, edits: list[tuple[str, int, int]]):
    """Bit flips, truncation, inserted, deleted and duplicated bytes in valid payloads."""
    _count()
    check_traces(_mutate(body, edits), "protobuf")


@FUZZ
@given(body=LOG_REQUESTS.map(lambda r: r.SerializeToString()), edits=EDITS)
def test_mutated_log_payloads(body: bytes, edits: list[tuple[str, int, int]]):
    _count()
    check_logs(_mutate(body, edits), "protobuf")


HUGE_TEXT = st.builds(lambda n, ch: ch * n, st.sampled_from([otlp.MAX_STRING_CHARS, otlp.MAX_STRING_CHARS + 1]),
                      st.sampled_from(["x", "é", "🙂"]))


@FEW
@given(text=HUGE_TEXT, items=st.sampled_from([otlp.MAX_ITEMS, otlp.MAX_ITEMS + 1]),
       attributes=st.sampled_from([otlp.MAX_ATTRIBUTES, otlp.MAX_ATTRIBUTES + 7]),
       events=st.sampled_from([otlp.MAX_EVENTS, otlp.MAX_EVENTS + 1]),
       links=st.sampled_from([otlp.MAX_LINKS, otlp.MAX_LINKS + 1]))
def test_huge_values_are_cut_not_fatal(text: str, items: int, attributes: int, events: int, links: int):
    _count()
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name=text,
                attributes=[KeyValue(key="big", value=AnyValue(string_value=text)),
                            KeyValue(key="many", value=_array([AnyValue(int_value=i) for i in range(items)]))]
                + [KeyValue(key=f"k{i}", value=AnyValue(bool_value=True)) for i in range(attributes)],
                events=[Span.Event(name="e")] * events, links=[Span.Link(trace_id=b"\x03" * 16)] * links)
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])])
    result = check_traces(request.SerializeToString(), "protobuf")
    assert result is not None
    (decoded,), _ = result
    big = decoded.attributes["big"]
    assert big == text if len(text) <= otlp.MAX_STRING_CHARS else big.endswith(otlp.TRUNCATED_SUFFIX)
    assert len(decoded.attributes["many"]) == min(items, otlp.MAX_ITEMS)
    assert len(decoded.attributes) == otlp.MAX_ATTRIBUTES
    assert (len(decoded.events), len(decoded.links)) == (min(events, otlp.MAX_EVENTS), min(links, otlp.MAX_LINKS))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(message: Any, name: str, payload: bytes) -> bytes:
    """One length-delimited field of ``message`` on the wire (repeated fields: one element)."""
    return _varint(message.DESCRIPTOR.fields_by_name[name].number << 3 | 2) + _varint(len(payload)) + payload


def _deep_value(leaf: AnyValue, wrappers: list[bool]) -> bytes:
    value = leaf.SerializeToString()
    for as_array in wrappers:
        if as_array:
            value = _field(AnyValue, "array_value", _field(ArrayValue, "values", value))
        else:
            pair = _field(KeyValue, "key", b"k") + _field(KeyValue, "value", value)
            value = _field(AnyValue, "kvlist_value", _field(KeyValueList, "values", pair))
    return value


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@FUZZ
@given(leaf=LEAF, wrappers=st.lists(st.booleans(), max_size=120))
def test_deeply_nested_any_values(leaf: AnyValue, wrappers: list[bool]):
    """Past MAX_DEPTH the value is cut; past protobuf's recursion limit (100 messages) the body is refused."""
    _count()
    attribute = _field(KeyValue, "key", b"deep") + _field(KeyValue, "value", _deep_value(leaf, wrappers))
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8).SerializeToString() + _field(Span, "attributes", attribute)
    body = _field(ExportTraceServiceRequest, "resource_spans",
                  _field(ResourceSpans, "scope_spans", _field(ScopeSpans, "spans", span)))
    result = check_traces(body, "protobuf")
    if result is not None:
        (decoded,), _ = result
        assert _depth(decoded.attributes["deep"]) == min(len(wrappers), otlp.MAX_DEPTH)
    record = LogRecord(severity_text="x").SerializeToString() + _field(LogRecord, "body", _deep_value(leaf, wrappers))
    body = _field(ExportLogsServiceRequest, "resource_logs",
                  _field(ResourceLogs, "scope_logs", _field(ScopeLogs, "log_records", record)))
    result = check_logs(body, "protobuf")
    if result is not None:
        (log,), _ = result
        assert _depth(log.body) == min(len(wrappers), otlp.MAX_DEPTH)


# -- OTLP/JSON -----------------------------------------------------------------------------------------------
OTLP_KEYS = st.sampled_from([
    "resourceSpans", "resource_spans", "scopeSpans", "scope_spans", "spans", "resourceLogs", "scopeLogs",
    "logRecords", "log_records", "resource", "scope", "attributes", "key", "value", "stringValue", "intValue",
    "doubleValue", "boolValue", "bytesValue", "arrayValue", "kvlistValue", "values", "traceId", "spanId",
    "parentSpanId", "trace_id", "name", "kind", "startTimeUnixNano", "endTimeUnixNano", "timeUnixNano", "status",
    "code", "message", "events", "links", "body", "severityNumber", "eventName"])
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT,
                         st.sampled_from(["", "0", "-1", "18446744073709551616", "1e400", "NaN", "Infinity",
                                          "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "zz", "AAE="]))
JSON_DOCS = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(OTLP_KEYS, TEXT), inner, max_size=5)), max_leaves=30)


@FUZZ
@given(doc=JSON_DOCS, wrap=st.sampled_from([None, "resourceSpans", "resourceLogs"]))
def test_random_json_documents(doc: Any, wrap: str | None):
    _count()
    body = json.dumps({wrap: doc} if wrap else doc).encode()  # NaN and Infinity as the tokens Python accepts
    check_traces(body, "json")
    check_logs(body, "json")


@FUZZ
@given(body=st.one_of(st.binary(max_size=512), st.text(alphabet='[]{}":,-.0123456789eEtrufalsn\\ ', max_size=200)
                      .map(str.encode)))
@example(body=b"\xef\xbb\xbf{}")  # a byte-order mark
@example(body=b'{"resourceSpans": [], "resourceSpans": 1}')
def test_random_bytes_as_json(body: bytes):
    _count()
    check_traces(body, "json")
    check_logs(body, "json")


def _nested_json(opener: str, closer: str, depth: int, inner: str) -> bytes:
    return (opener * depth + inner + closer * depth).encode()


@FUZZ
@given(shape=st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"resourceSpans":', "}"), ('{"resourceLogs":[', "]}")]),
       depth=st.integers(1, 200_000), inner=st.sampled_from(["1", "null", "[]", '"x"']))
@example(shape=("[", "]"), depth=100_000, inner="1")
@example(shape=('{"resourceSpans":', "}"), depth=5_000, inner="[]")
def test_deeply_nested_json(shape: tuple[str, str], depth: int, inner: str):
    """json.loads raises RecursionError (not a ValueError) past the interpreter's recursion limit."""
    _count()
    body = _nested_json(*shape, depth, inner)
    check_traces(body, "json")
    check_logs(body, "json")


ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def otlp_json(message: Any) -> dict[str, Any]:
    """protobuf's JSON mapping with ids as hex, which is OTLP/JSON (protobuf's own mapping has base64 ids)."""
    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: base64.b64decode(v).hex() if k in ID_KEYS and isinstance(v, str) else fix(v)
                    for k, v in node.items()}
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node
    return fix(json_format.MessageToDict(message))


@FUZZ
@given(request=TRACE_REQUESTS)
def test_json_decodes_like_protobuf(request: ExportTraceServiceRequest):
    """Differential: the OTLP/JSON form of a request decodes to the same spans as its protobuf form."""
    _count()
    from_proto = check_traces(request.SerializeToString(), "protobuf")
    from_json = check_traces(json.dumps(otlp_json(request)).encode(), "json")
    assert from_proto is not None and from_json is not None
    assert repr(from_json) == repr(from_proto)  # repr: NaN attributes compare equal


@FUZZ
@given(request=LOG_REQUESTS)
def test_json_logs_decode_like_protobuf(request: ExportLogsServiceRequest):
    _count()
    from_proto = check_logs(request.SerializeToString(), "protobuf")
    from_json = check_logs(json.dumps(otlp_json(request)).encode(), "json")
    assert from_proto is not None and from_json is not None
    assert repr(from_json) == repr(from_proto)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths += _paths(value, (*prefix, index))
    return paths


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replace(node[head], rest, value)}
    return [*node[:head], _replace(node[head], rest, value), *node[head + 1:]]


# Wrong types where OTLP/JSON has ids, int64 strings, enums, messages and lists.
HOSTILE_JSON = st.one_of(JSON_SCALARS, st.sampled_from([[], {}, [None], {"": None}, "GG" * 8, "5b8efff7980381",
                                                        "0x1f", " 42", "4.2e1", True, -(2**64), 2**64, 1.5]))


@FUZZ
@given(request=TRACE_REQUESTS.filter(lambda r: span_count(r) > 0), data=st.data())
def test_valid_json_with_wrong_types(request: ExportTraceServiceRequest, data: st.DataObject):
    """Valid OTLP/JSON with values replaced: ids not hex, numbers as strings, nulls, lists for objects..."""
    _count()
    doc = otlp_json(request)
    paths = _paths(doc)
    for _ in range(data.draw(st.integers(1, 3), label="replacements")):
        path = data.draw(st.sampled_from(paths), label="path")
        doc = _replace(doc, path, data.draw(HOSTILE_JSON, label="value"))
        paths = _paths(doc)
    check_traces(json.dumps(doc).encode(), "json")


@FUZZ
@given(request=LOG_REQUESTS.filter(lambda r: sum(len(s.log_records) for rl in r.resource_logs
                                                         for s in rl.scope_logs) > 0), data=st.data())
def test_valid_json_logs_with_wrong_types(request: ExportLogsServiceRequest, data: st.DataObject):
    _count()
    doc = otlp_json(request)
    paths = _paths(doc)
    for _ in range(data.draw(st.integers(1, 3), label="replacements")):
        path = data.draw(st.sampled_from(paths), label="path")
        doc = _replace(doc, path, data.draw(HOSTILE_JSON, label="value"))
        paths = _paths(doc)
    check_logs(json.dumps(doc).encode(), "json")
