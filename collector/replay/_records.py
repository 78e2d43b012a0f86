"""Replays as span records: the new LLM span of a replayed call, copies of recorded spans for a replayed
trajectory, and both as span JSON (pure, apart from drawing new ids).

Every replayed span links to the span it replays: tag ``replay``, ``metadata.replay_of = {trace_id, span_id}``
(plus ``replay_id`` and ``replay_kind``), and the attributes ``tracehouse.replay.of_trace_id``,
``tracehouse.replay.of_span_id``, ``tracehouse.replay.id``, ``tracehouse.replay.kind``. Tenant, user, session,
service, environment and release are the original's, so a replay sits next to what it reproduces.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any, Callable, Mapping, Sequence

from tracehouse.storage.record import SpanRecord

from .. import serialize
from ..conventions import flatten
from .errors import ProviderError
from .providers import ReplayRequest, ReplayResult

REPLAY_TAG = "replay"
ATTR_OF_TRACE_ID = "tracehouse.replay.of_trace_id"
ATTR_OF_SPAN_ID = "tracehouse.replay.of_span_id"
ATTR_REPLAY_ID = "tracehouse.replay.id"
ATTR_REPLAY_KIND = "tracehouse.replay.kind"  # single | trajectory | batch
CONVENTION = "tracehouse.replay"
SCOPE = "tracehouse.collector.replay"
PriceStep = Callable[[Any, dict[str, Any]], None]

_FIELDS = tuple(f.name for f in dataclasses.fields(SpanRecord))
_TUPLE_FIELDS = ("tags", "input_messages", "output_messages", "events", "links")
_DICT_FIELDS = ("metadata", "params", "attributes", "resource")


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


def is_replay(span: Mapping[str, Any]) -> bool:
    """Whether a stored span (or span JSON) was written by a replay."""
    return REPLAY_TAG in (span.get("tags") or ()) or "replay_of" in (span.get("metadata") or {})


def record_from_row(row: Mapping[str, Any]) -> SpanRecord:
    """A stored span dict (``Store.get_trace``/``search_spans``) back into a record."""
    values: dict[str, Any] = {name: row[name] for name in _FIELDS if name in row and row[name] is not None}
    for name in _TUPLE_FIELDS:
        if name in values:
            values[name] = tuple(values[name] or ())
    for name in _DICT_FIELDS:
        if name in values:
            values[name] = dict(values[name] or {})
    values["redacted"] = bool(values.get("redacted", False))
    return SpanRecord(**values)


def span_json(record: SpanRecord) -> dict[str, Any]:
    """The API's span JSON of a record, as ``GET /api/v1/traces/{id}`` would show it once stored."""
    row: dict[str, Any] = {name: getattr(record, name) for name in _FIELDS}
    for name in _TUPLE_FIELDS:
        row[name] = list(row[name])
    row["duration_ms"] = record.duration_ms
    return serialize.span_json(row)


def _lineage(original: Mapping[str, Any], replay_id: str, kind: str, extra_metadata: Mapping[str, Any] | None = None,
             ) -> tuple[tuple[str, ...], dict[str, Any], dict[str, Any]]:
    tags = tuple(dict.fromkeys([*(original.get("tags") or ()), REPLAY_TAG]))
    of = {"trace_id": original["trace_id"], "span_id": original["span_id"]}
    metadata = {**(original.get("metadata") or {}), "replay_of": of, "replay_id": replay_id, "replay_kind": kind,
                **(extra_metadata or {})}
    attributes = {ATTR_OF_TRACE_ID: of["trace_id"], ATTR_OF_SPAN_ID: of["span_id"], ATTR_REPLAY_ID: replay_id,
                  ATTR_REPLAY_KIND: kind}
    return tags, metadata, attributes


def _answer_text(messages: Sequence[Mapping[str, Any]]) -> str:
    return flatten(messages)


def replayed_record(*, project: str, original: Mapping[str, Any], request: ReplayRequest, family: str,
                    result: ReplayResult | None, error: ProviderError | None, attempt: tuple[int, int],
                    trace_id: str, span_id: str, parent_span_id: str, replay_id: str, kind: str,
                    price_step: PriceStep, prompt_edited: bool, overridden: Sequence[str] = (),
                    times: tuple[int, int] | None = None) -> SpanRecord:
    """The LLM span of one replayed call: the answer, or the provider's error (status ``error``). ``attempt``
    is the call's real (start, end); ``times`` places the span elsewhere on the timeline (trajectories)."""
    extra: dict[str, Any] = {}
    if overridden:
        extra["replay_overrides"] = list(overridden)
    if result is not None and result.dropped_params:
        extra["replay_dropped_params"] = list(result.dropped_params)
    tags, metadata, attributes = _lineage(original, replay_id, kind, extra)
    start, end = times or attempt
    params = dict(result.sent_params) if result is not None else {
        **request.params, **({"tools": list(request.tools)} if request.tools else {})}
    if request.stream or "stream" in (original.get("params") or {}):
        params["stream"] = request.stream
    attributes.update({"gen_ai.operation.name": "chat", "gen_ai.provider.name": family,
                       "gen_ai.request.model": request.model})
    draft: dict[str, Any] = {
        "provider": family, "model": request.model, "request_model": request.model, "input_tokens": 0,
        "output_tokens": 0, "cache_read_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0,
        "reported_cost_usd": None, "cost_usd": 0.0, "cost_input_usd": 0.0, "cost_output_usd": 0.0,
        "cost_cache_usd": 0.0, "cost_source": "none",
    }
    output: tuple[dict[str, Any], ...] = ()
    status, message, finish, ttft = "ok", "", "", None
    if result is not None:
        output, finish, ttft = result.output_messages, result.finish_reason, result.time_to_first_token_ms
        usage = result.usage
        draft.update(model=result.model, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                     cache_read_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens,
                     reasoning_tokens=usage.reasoning_tokens)
        attributes["gen_ai.response.model"] = result.model
        if result.response_id:
            attributes["gen_ai.response.id"] = result.response_id
        price_step(None, draft)
    else:
        status, message = "error", str(error) if error is not None else "replay failed"
        if error is not None:
            attributes["error.type"] = error.error_type or (str(error.status_code) if error.status_code else "error")
    return SpanRecord(
        project=project, trace_id=trace_id, span_id=span_id, parent_span_id=parent_span_id,
        name=f"replay chat {request.model}", start_time_ns=start, end_time_ns=max(start, end), kind="llm",
        status=status, status_message=message, time_to_first_token_ms=ttft,
        service=original.get("service") or "", environment=original.get("environment") or "",
        release=original.get("release") or "", tenant=original.get("tenant") or "", user=original.get("user") or "",
        session=original.get("session") or "", tags=tags, metadata=metadata,
        provider=draft["provider"], model=draft["model"], request_model=draft["request_model"], operation="chat",
        params=params, finish_reason=finish, prompt_name=original.get("prompt_name") or "",
        prompt_version="" if prompt_edited else original.get("prompt_version") or "",
        input_tokens=draft["input_tokens"], output_tokens=draft["output_tokens"],
        cache_read_tokens=draft["cache_read_tokens"], cache_write_tokens=draft["cache_write_tokens"],
        reasoning_tokens=draft["reasoning_tokens"], cost_usd=draft["cost_usd"],
        cost_input_usd=draft["cost_input_usd"], cost_output_usd=draft["cost_output_usd"],
        cost_cache_usd=draft["cost_cache_usd"], reported_cost_usd=None, cost_source=draft["cost_source"],
        input_messages=tuple(request.messages), output_messages=tuple(output),
        input_text=flatten(request.messages), output_text=_answer_text(output), attributes=attributes,
        resource=dict(original.get("resource") or {}), scope=SCOPE, convention=CONVENTION,
    )


def copied_record(original: Mapping[str, Any], *, project: str, trace_id: str, span_id: str, parent_span_id: str,
                  start_ns: int, end_ns: int, replay_id: str, kind: str) -> SpanRecord:
    """A recorded span (tool, retrieval, agent...) copied into a replayed trajectory with new ids and times."""
    tags, metadata, attributes = _lineage(original, replay_id, kind)
    record = record_from_row(original)
    return dataclasses.replace(record, project=project, trace_id=trace_id, span_id=span_id,
                               parent_span_id=parent_span_id, start_time_ns=start_ns, end_time_ns=max(start_ns, end_ns),
                               tags=tags, metadata=metadata, attributes={**record.attributes, **attributes})
