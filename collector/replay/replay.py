"""Replay one recorded LLM call, exactly or with edits, and store the answer as a new trace.

``replay_span(store, project, span_id, trace_id, overrides, providers)`` loads the span, rebuilds the request
(messages with the system prompt, tool definitions, every recorded parameter including ``seed``), applies the
overrides, calls the provider, prices the answer with the pricing step and inserts it as a one-span trace
linked to the original (see ``_records``). It blocks for the provider's answer; run it off the event loop.

Overrides ``{model?, params?, messages?, system?, provider?, stream?}``:

- ``model``: the model to call. ``provider`` (``openai`` | ``anthropic``): the API family; without it an edited
  model's name decides (``claude-*`` -> anthropic, ``gpt-*``/``o*`` -> openai), else the recorded provider.
- ``params``: merged over the recorded parameters; ``null`` removes one (``{"seed": null}``); ``tools`` replaces
  the tool definitions.
- ``messages``: replaces the conversation (OTel parts or OpenAI/Anthropic message shapes).
- ``system``: replaces the system prompt (``""`` removes it).
- ``stream``: stream the call (default: as recorded). Streamed calls measure time to first token.

A provider error does not raise: the attempt is stored as an error span and the result has ``status: "failed"``
and ``error``. Missing spans, unreplayable spans, bad overrides and unconfigured providers raise
``ReplayError`` subclasses before anything is sent or stored.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping

from tracehouse.storage import Store

from .. import serialize
from ..conventions import otel_messages
from ..pricing import price as default_price
from . import _convert
from ._records import PriceStep, new_span_id, new_trace_id, replayed_record, span_json
from ._select import find_span
from .compare import compare_spans
from .errors import InvalidReplayRequest, NotReplayable, ProviderError
from .providers import Provider, Providers, ReplayRequest, ReplayResult, family_of, run_request

__all__ = ["ReplayOverrides", "build_request", "replay_loaded_span", "replay_span", "replay_span_events"]

Message = dict[str, Any]
OVERRIDE_KEYS = ("model", "params", "messages", "system", "provider", "stream")


@dataclass(frozen=True)
class ReplayOverrides:
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    messages: tuple[Message, ...] | None = None
    system: str | None = None
    provider: str | None = None
    stream: bool | None = None

    @classmethod
    def parse(cls, value: "ReplayOverrides | Mapping[str, Any] | None",
              allowed: tuple[str, ...] = OVERRIDE_KEYS) -> "ReplayOverrides":
        """From the API's JSON; ``InvalidReplayRequest`` names what is wrong."""
        if value is None:
            return cls()
        if isinstance(value, ReplayOverrides):
            return value
        if not isinstance(value, Mapping):
            raise InvalidReplayRequest("overrides must be an object")
        unknown = set(value) - set(allowed)
        if unknown:
            raise InvalidReplayRequest(f"unknown override(s) {sorted(unknown)}; known: {', '.join(allowed)}")
        model, params, system = value.get("model"), value.get("params"), value.get("system")
        provider, stream, messages = value.get("provider"), value.get("stream"), value.get("messages")
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise InvalidReplayRequest("overrides.model must be a non-empty string")
        if params is not None and not isinstance(params, Mapping):
            raise InvalidReplayRequest("overrides.params must be an object")
        if system is not None and not isinstance(system, str):
            raise InvalidReplayRequest("overrides.system must be a string")
        if provider is not None and provider not in ("openai", "anthropic"):
            raise InvalidReplayRequest("overrides.provider must be 'openai' or 'anthropic'")
        if stream is not None and not isinstance(stream, bool):
            raise InvalidReplayRequest("overrides.stream must be true or false")
        parsed_messages = None
        if messages is not None:
            if not isinstance(messages, list) or not messages or not all(isinstance(m, Mapping) for m in messages):
                raise InvalidReplayRequest("overrides.messages must be a non-empty list of messages")
            parsed_messages = tuple(otel_messages(list(messages), "user"))
        return cls(model=model.strip() if model else None, params=dict(params or {}), messages=parsed_messages,
                   system=system, provider=provider, stream=stream)

    def then(self, other: "ReplayOverrides") -> "ReplayOverrides":
        """These overrides, then ``other`` on top (parameters merged)."""
        return ReplayOverrides(
            model=other.model or self.model, params={**self.params, **other.params},
            messages=other.messages if other.messages is not None else self.messages,
            system=other.system if other.system is not None else self.system,
            provider=other.provider or self.provider,
            stream=other.stream if other.stream is not None else self.stream)

    @property
    def edited(self) -> list[str]:
        """The names of what these overrides change (for the stored span's metadata)."""
        out = [k for k in ("model", "messages", "system", "provider", "stream") if getattr(self, k) is not None]
        return out + [f"params.{k}" for k in self.params]


def _system_message(text: str) -> Message:
    return {"role": "system", "parts": [{"type": "text", "content": text}]}


def build_request(span: Mapping[str, Any], overrides: ReplayOverrides, providers: Providers,
                  ) -> tuple[str, Provider, ReplayRequest]:
    """(family, provider, request) for a recorded span and overrides. Raises ``NotReplayable`` or
    ``ProviderNotConfigured``."""
    where = f"span {span.get('span_id')}"
    if span.get("kind") == "embedding":
        raise NotReplayable(f"{where} is an embedding call; replay re-sends chat calls")
    messages = list(overrides.messages if overrides.messages is not None else span.get("input_messages") or ())
    if not messages:
        raise NotReplayable(f"{where} has no recorded input messages (content capture off or not a model call); "
                            "pass overrides.messages to send your own")
    if overrides.system is not None:
        messages = [m for m in messages if m.get("role") not in ("system", "developer")]
        if overrides.system:
            messages.insert(0, _system_message(overrides.system))
    recorded_model = str(span.get("request_model") or span.get("model") or "")
    model = overrides.model or recorded_model
    if not model:
        raise NotReplayable(f"{where} recorded no model; pass overrides.model")
    recorded = dict(span.get("params") or {})
    edits = dict(overrides.params)
    tools = edits.pop("tools") if "tools" in edits else recorded.get("tools")
    params = {**_convert.canonical_params(recorded), **_canonical_edits(edits)}
    params = {k: v for k, v in params.items() if v is not None}
    stream = overrides.stream if overrides.stream is not None else bool(recorded.get("stream"))
    family = providers.family_for(str(span.get("provider") or ""), model,
                                  model_changed=bool(overrides.model) and overrides.model != recorded_model,
                                  explicit=overrides.provider)
    provider = providers.get(family)
    request = ReplayRequest(model=model, messages=tuple(messages), tools=tuple(_convert.canonical_tools(tools)),
                            params=params, stream=stream,
                            forward_unknown_params=family == family_of(str(span.get("provider") or "")))
    return family, provider, request


def _canonical_edits(edits: Mapping[str, Any]) -> dict[str, Any]:
    """Edited parameters in canonical names, keeping ``None`` (it removes the recorded value)."""
    kept = _convert.canonical_params({k: v for k, v in edits.items() if v is not None})
    removed = {_convert.RENAMES.get(k, k): None for k, v in edits.items() if v is None}
    return {**kept, **removed}


def execute(provider: Provider, request: ReplayRequest, on_delta: Callable[[str], None] | None = None,
            ) -> tuple[ReplayResult | None, ProviderError | None, tuple[int, int]]:
    """Send the call; (result, None, (start, end)) or (None, error, (start, end))."""
    start = time.time_ns()
    try:
        result = run_request(provider, request, on_delta)
    except ProviderError as exc:
        return None, exc, (start, time.time_ns())
    return result, None, (result.start_time_ns, result.end_time_ns)


def replay_loaded_span(store: Store, project: str, span: Mapping[str, Any], overrides: ReplayOverrides,
                       providers: Providers, *, price_step: PriceStep | None = None, kind: str = "single",
                       replay_id: str | None = None, on_delta: Callable[[str], None] | None = None,
                       ) -> dict[str, Any]:
    """``replay_span`` for a span already loaded (a stored span dict)."""
    family, provider, request = build_request(span, overrides, providers)
    replay_id = replay_id or uuid.uuid4().hex
    result, error, attempt = execute(provider, request, on_delta)
    record = replayed_record(
        project=project, original=span, request=request, family=family, result=result, error=error,
        attempt=attempt, trace_id=new_trace_id(), span_id=new_span_id(), parent_span_id="", replay_id=replay_id,
        kind=kind, price_step=price_step or default_price,
        prompt_edited=overrides.messages is not None or overrides.system is not None, overridden=overrides.edited)
    store.insert_spans([record])
    new = span_json(record)
    original = serialize.span_json(dict(span))
    comparison = compare_spans(original, new)
    return {
        "replay_id": replay_id,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "status": "done" if error is None else "failed",
        "output": record.output_text,
        "error": error.as_dict() if error is not None else None,
        "of": {"trace_id": span["trace_id"], "span_id": span["span_id"]},
        "provider": family,
        "model": record.model,
        "dropped_params": list(result.dropped_params) if result is not None else [],
        "span": new,
        "diff": {"output": comparison["diff"], **comparison["deltas"]},
    }


def replay_span(store: Store, project: str, span_id: str, trace_id: str | None,
                overrides: ReplayOverrides | Mapping[str, Any] | None, providers: Providers, *,
                price_step: PriceStep | None = None, on_delta: Callable[[str], None] | None = None,
                ) -> dict[str, Any]:
    """Replay one recorded call and store the answer as a new trace. Returns ``{replay_id, trace_id, span_id,
    status ("done" | "failed"), output (the answer's flattened text), error, of, provider, model,
    dropped_params, span (the new span's JSON), diff ({output: word ops, params, latency_ms, cost_usd, ...}
    against the original)}``. ``on_delta`` receives streamed text as it arrives (streamed calls only)."""
    parsed = ReplayOverrides.parse(overrides)
    span = find_span(store, project, span_id, trace_id)
    return replay_loaded_span(store, project, span, parsed, providers, price_step=price_step, on_delta=on_delta)


def replay_span_events(store: Store, project: str, span_id: str, trace_id: str | None,
                       overrides: ReplayOverrides | Mapping[str, Any] | None, providers: Providers, *,
                       price_step: PriceStep | None = None) -> Iterator[dict[str, Any]]:
    """``replay_span`` streamed, for a server-sent-events route: an iterator of ``{"type": "delta", "text"}``
    as the answer arrives, then ``{"type": "result", "replay": <replay_span's result>}`` or ``{"type":
    "error", "status", "detail"}``. Always streams the call. Validation (span, overrides, provider) happens in
    this call, before the iterator is returned, so a route can still answer 4xx; the call itself starts on
    the first ``next()``."""
    parsed = replace(ReplayOverrides.parse(overrides), stream=True)
    span = find_span(store, project, span_id, trace_id)
    build_request(span, parsed, providers)
    return _events(store, project, span, parsed, providers, price_step)


def _events(store: Store, project: str, span: Mapping[str, Any], overrides: ReplayOverrides, providers: Providers,
            price_step: PriceStep | None) -> Iterator[dict[str, Any]]:
    events: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def work() -> None:
        try:
            result = replay_loaded_span(store, project, span, overrides, providers, price_step=price_step,
                                        on_delta=lambda text: events.put({"type": "delta", "text": text}))
            events.put({"type": "result", "replay": result})
        except Exception as exc:  # the stream's last event: the route has already answered 200
            events.put({"type": "error", "status": getattr(exc, "http_status", 500), "detail": str(exc)})
        finally:
            events.put(None)

    threading.Thread(target=work, name="replay-stream", daemon=True).start()
    while (event := events.get()) is not None:
        yield event
