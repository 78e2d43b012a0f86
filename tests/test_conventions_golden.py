"""Golden files: hand-written OTLP/JSON payloads, one per convention, decoded and normalized, compared with
hand-written expected canonical fields (``tests/data/golden/<case>.json`` -> ``<case>.expected.json``).

A case may carry ``<case>.logs.json`` (an ExportLogsServiceRequest) whose GenAI events are joined onto the
spans. Costs in the expected files are worked out by hand from the per-million prices named in ``about``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from tracehouse.collector.conventions import CONVENTIONS, apply_log_content, content_from_logs
from tracehouse.collector.normalize import normalize
from tracehouse.collector.otlp import decode_logs, decode_traces
from tracehouse.collector.pricing import price
from tracehouse.storage.record import SpanRecord

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
CASES = sorted(p.name.removesuffix(".expected.json") for p in GOLDEN.glob("*.expected.json"))


def normalized(case: str) -> dict[str, SpanRecord]:
    spans, rejected = decode_traces((GOLDEN / f"{case}.json").read_bytes(), "json")
    assert rejected == []
    records = [normalize(s, "golden", (price,)) for s in spans]
    logs_path = GOLDEN / f"{case}.logs.json"
    if logs_path.exists():
        logs, rejected_logs = decode_logs(logs_path.read_bytes(), "json")
        assert rejected_logs == []
        content = content_from_logs(logs)
        records = [apply_log_content(r, content[(r.trace_id, r.span_id)])
                   if (r.trace_id, r.span_id) in content else r for r in records]
    by_name = {r.name: r for r in records}
    assert len(by_name) == len(records), "span names in a golden payload must be unique"
    return by_name


def as_json(value: Any) -> Any:
    """Record values in the shapes JSON has (tuples -> lists), for comparison with the expected files."""
    return json.loads(json.dumps(value))


def same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) and isinstance(actual, (int, float)):
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)
    return actual == expected


def test_every_payload_has_an_expected_file():
    payloads = {p.name.removesuffix(".json") for p in GOLDEN.glob("*.json")
                if not p.name.endswith((".expected.json", ".logs.json"))}
    assert payloads == set(CASES)


def test_every_convention_has_a_golden_case():
    seen = {fields["convention"] for case in CASES
            for fields in json.loads((GOLDEN / f"{case}.expected.json").read_text())["spans"].values()}
    assert set(CONVENTIONS) - {"tracehouse"} <= seen  # the SDK's own spans are covered by tests/test_sdk.py


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str):
    expected = json.loads((GOLDEN / f"{case}.expected.json").read_text())["spans"]
    records = normalized(case)
    assert sorted(records) == sorted(expected)
    mismatches = []
    for name, fields in expected.items():
        actual = as_json(dataclasses.asdict(records[name]))
        for field, want in fields.items():
            assert field in actual, f"{field} is not a SpanRecord field"
            if not same(actual[field], want):
                mismatches.append(f"{name}.{field}: got {actual[field]!r}, expected {want!r}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("case", CASES)
def test_golden_cost_parts_add_up_and_unknown_keys_are_kept(case: str):
    raw = json.loads((GOLDEN / f"{case}.json").read_text())
    for record in normalized(case).values():
        if record.cost_source == "computed":
            parts = record.cost_input_usd + record.cost_cache_usd + record.cost_output_usd
            assert math.isclose(parts, record.cost_usd, rel_tol=1e-9)
        assert record.cache_read_tokens + record.cache_write_tokens <= max(record.input_tokens, 0) or \
            record.input_tokens == 0
        assert record.reasoning_tokens <= record.output_tokens
    sent = {kv["key"] for rs in raw["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]
            for kv in s["attributes"]}
    kept = {key for r in normalized(case).values() for key in r.attributes}
    assert sent == kept


def test_official_otlp_json_example_normalizes_as_a_plain_span():
    spans, _ = decode_traces((DATA / "otlp_trace_example.json").read_bytes(), "json")
    (record,) = [normalize(s, "p", (price,)) for s in spans]
    assert (record.convention, record.kind, record.service) == ("otel", "other", "my.service")
    assert record.scope == "my.library"
    assert record.attributes == {"my.span.attr": "some value"}
    assert (record.cost_source, record.model, record.input_messages) == ("none", "", ())
    assert record.duration_ms == 1000.0
