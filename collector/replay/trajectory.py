"""Replay a recorded agent trace: its LLM steps re-run in order on the recorded tool and retrieval results.

``replay_trajectory(store, project, trace_id, overrides, providers)``:

1. The trace's LLM steps (``kind == "llm"`` with recorded input messages) are taken in start order. Every
   request is built (and its provider checked) before the first call, so a bad override costs nothing.
2. Step k is sent the conversation recorded for step k: the recorded tool and retrieval results, so no tool,
   retriever or outside system is ever called. Where an earlier step's new answer differs from the recorded
   one but makes the same tool calls (names and arguments; or none on both sides), the new answer replaces
   the recorded assistant turn in the later steps' input (keeping the recorded call ids, which the recorded
   results answer). Where the tool calls differ, the recorded turn stays: the recorded results answer the
   recorded calls, not the new ones; the run is steered back onto the recorded path, and the step is marked
   as diverged.
3. A step is ``same`` when its answer's text (ends stripped) and tool calls equal the recording's;
   ``similarity`` is the token ratio of ``scoring.text_similarity``. ``first_divergence`` is the first step
   that is not the same (``None``: the run reproduced the recording).
4. The new run is stored as a new trace mirroring the original tree: every span gets a new id under the
   mapped parent; tool, retrieval and agent spans are copies of the recorded ones (an ancestor's output that
   was the final step's answer becomes the new answer); times are shifted to now, and later spans move by
   how much slower or faster the replayed steps were.

Overrides: ``{model?, params?, system?, provider?, stream?, steps?: {span_id: {model?, params?, messages?,
system?, provider?, stream?}}}``; a step's own overrides apply on top of the global ones.
A provider error stops the run at that step (stored as an error span): ``status: "failed"`` with ``error``;
steps after it are listed with ``skipped: true``, and spans that started after it are not stored.
Blocking: one provider call per step, in sequence.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any, Mapping

from tracehouse.storage import Store
from tracehouse.storage.record import SpanRecord

from ..pricing import price as default_price
from ._records import PriceStep, copied_record, new_span_id, new_trace_id, replayed_record
from ._select import _hex_id
from .errors import InvalidReplayRequest, NotReplayable, SpanNotFound
from .providers import Providers
from .replay import ReplayOverrides, build_request, execute
from .scoring import answer_text, output_signature, render, text_similarity

__all__ = ["replay_trajectory"]

Message = dict[str, Any]
_GLOBAL_KEYS = ("model", "params", "system", "provider", "stream")
_STEP_KEYS = ("model", "params", "messages", "system", "provider", "stream")


def _parse(overrides: Mapping[str, Any] | None) -> tuple[ReplayOverrides, dict[str, ReplayOverrides]]:
    overrides = dict(overrides or {})
    steps = overrides.pop("steps", None) or {}
    if not isinstance(steps, Mapping):
        raise InvalidReplayRequest("overrides.steps must be an object {span_id: overrides}")
    global_overrides = ReplayOverrides.parse(overrides, allowed=_GLOBAL_KEYS + ("steps",))
    per_step = {}
    for span_id, value in steps.items():
        span_id = _hex_id(span_id, 16, "overrides.steps key")
        try:
            per_step[span_id] = ReplayOverrides.parse(value, allowed=_STEP_KEYS)
        except InvalidReplayRequest as exc:
            raise InvalidReplayRequest(f"overrides.steps.{span_id}: {exc}") from exc
    return global_overrides, per_step


def _substitute(messages: list[Message], substitutions: list[tuple[Any, Message]]) -> list[Message]:
    if not substitutions:
        return messages
    out = []
    for message in messages:
        if message.get("role") == "assistant":
            signature = output_signature([message])
            for recorded, new in substitutions:
                if signature == recorded:
                    message = new
                    break
        out.append(message)
    return out


def _new_turn(recorded: Message, new: Message) -> Message:
    """The new answer's text with the recorded tool calls (their ids are the ones the recorded results answer)."""
    text = [p for p in new.get("parts") or () if p.get("type") == "text"]
    calls = [p for p in recorded.get("parts") or () if p.get("type") == "tool_call"]
    return {"role": "assistant", "parts": text + calls}


def replay_trajectory(store: Store, project: str, trace_id: str, overrides: Mapping[str, Any] | None,
                      providers: Providers, *, price_step: PriceStep | None = None) -> dict[str, Any]:
    """Returns ``{replay_id, trace_id, of_trace_id, status ("done" | "failed"), steps: [{span_id,
    replayed_span_id, name, model, same, similarity, output, error?, skipped?}], first_divergence, error}``."""
    trace_id = _hex_id(trace_id, 32, "trace_id")
    global_overrides, per_step = _parse(overrides)
    spans = store.get_trace(project, trace_id)
    if not spans:
        raise SpanNotFound(f"trace {trace_id} not found")
    steps = sorted((s for s in spans if s["kind"] == "llm" and s.get("input_messages")),
                   key=lambda s: (s["start_time_ns"], s["span_id"]))
    if not steps:
        raise NotReplayable(f"trace {trace_id} has no LLM calls with recorded input messages")
    unknown = set(per_step) - {s["span_id"] for s in steps}
    if unknown:
        raise InvalidReplayRequest(f"overrides.steps names spans that are not LLM steps of this trace: "
                                   f"{sorted(unknown)}")
    plans = {s["span_id"]: global_overrides.then(per_step.get(s["span_id"], ReplayOverrides())) for s in steps}
    for step in steps:  # every request must be buildable before the first call
        build_request(step, plans[step["span_id"]], providers)

    replay_id = uuid.uuid4().hex
    new_trace = new_trace_id()
    ids = {s["span_id"]: new_span_id() for s in spans}
    substitutions: list[tuple[Any, Message]] = []
    runs: dict[str, dict[str, Any]] = {}
    report: list[dict[str, Any]] = []
    failure = None
    for step in steps:
        span_id = step["span_id"]
        if failure is not None:
            report.append({"span_id": span_id, "replayed_span_id": None, "name": step["name"], "model": None,
                           "same": None, "similarity": None, "output": None, "skipped": True})
            continue
        sent = {**step, "input_messages": _substitute(list(step["input_messages"]), substitutions)}
        family, provider, request = build_request(sent, plans[span_id], providers)
        result, error, attempt = execute(provider, request)
        runs[span_id] = {"span": sent, "family": family, "request": request, "result": result, "error": error,
                         "attempt": attempt}
        entry: dict[str, Any] = {"span_id": span_id, "replayed_span_id": ids[span_id], "name": step["name"],
                                 "model": result.model if result is not None else request.model}
        if result is None:
            failure = error
            entry.update(same=None, similarity=None, output=None, error=error.as_dict() if error else None)
            report.append(entry)
            continue
        recorded_out = list(step.get("output_messages") or ())[:1]
        new_out = list(result.output_messages)[:1]
        same = output_signature(recorded_out) == output_signature(new_out)
        entry.update(same=same, similarity=round(text_similarity(render(recorded_out), render(new_out)), 6),
                     output=render(new_out))
        report.append(entry)
        if not same and recorded_out and new_out and \
                output_signature(recorded_out)[1] == output_signature(new_out)[1]:
            substitutions.append((output_signature(recorded_out), _new_turn(recorded_out[0], new_out[0])))

    records = _mirror(project, spans, steps, runs, plans, ids, new_trace, replay_id,
                      price_step or default_price, failure is not None)
    store.insert_spans(records)
    first = next((r["span_id"] for r in report if r.get("same") is False), None)
    return {"replay_id": replay_id, "trace_id": new_trace, "of_trace_id": trace_id,
            "status": "failed" if failure is not None else "done", "steps": report, "first_divergence": first,
            "error": failure.as_dict() if failure is not None else None, "spans": len(records)}


def _mirror(project: str, spans: list[dict[str, Any]], steps: list[dict[str, Any]], runs: dict[str, dict[str, Any]],
            plans: dict[str, ReplayOverrides], ids: dict[str, str], new_trace: str, replay_id: str,
            price_step: PriceStep, failed: bool) -> list[SpanRecord]:
    """The new trace's records on a shifted timeline (see the module docstring)."""
    base = time.time_ns() - min(s["start_time_ns"] for s in spans)
    step_ids = {s["span_id"] for s in steps}
    # (recorded end, how much longer the replayed call took): later times move by the sum of earlier changes
    changes = sorted((s["end_time_ns"], (runs[s["span_id"]]["attempt"][1] - runs[s["span_id"]]["attempt"][0])
                      - (s["end_time_ns"] - s["start_time_ns"])) for s in steps if s["span_id"] in runs)

    def shifted(t: int) -> int:
        return t + base + sum(delta for end, delta in changes if end <= t)

    cutoff = max((s["end_time_ns"] for s in steps if s["span_id"] in runs), default=0) if failed else None
    last = steps[-1]
    last_run = runs.get(last["span_id"])
    final_recorded = answer_text(last.get("output_messages") or ()).strip()
    final_messages = tuple(last_run["result"].output_messages[:1]) \
        if last_run and last_run["result"] is not None else None
    final_new = answer_text(final_messages).strip() if final_messages is not None else None
    records = []
    for span in spans:
        span_id = span["span_id"]
        parent = ids.get(span["parent_span_id"] or "", "")
        if span_id in step_ids:
            run = runs.get(span_id)
            if run is None:
                continue  # never ran: the run failed before this step
            start = shifted(span["start_time_ns"])
            duration = run["attempt"][1] - run["attempt"][0]
            plan = plans[span_id]
            records.append(replayed_record(
                project=project, original=span, request=run["request"], family=run["family"],
                result=run["result"], error=run["error"], attempt=run["attempt"], trace_id=new_trace,
                span_id=ids[span_id], parent_span_id=parent, replay_id=replay_id, kind="trajectory",
                price_step=price_step, prompt_edited=plan.messages is not None or plan.system is not None,
                overridden=plan.edited, times=(start, start + duration)))
            continue
        if cutoff is not None and span["start_time_ns"] >= cutoff:
            continue  # after the failed step: this run never got there
        record = copied_record(span, project=project, trace_id=new_trace, span_id=ids[span_id],
                               parent_span_id=parent, start_ns=shifted(span["start_time_ns"]),
                               end_ns=shifted(span["end_time_ns"]), replay_id=replay_id, kind="trajectory")
        if final_new is not None and final_recorded and (span.get("output_text") or "").strip() == final_recorded:
            record = replace(record, output_text=final_new,
                             output_messages=final_messages if record.output_messages else ())
        records.append(record)
    return records
