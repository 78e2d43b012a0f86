"""Failure signals: every rule that decides an interaction failed, and why, in one place (pure).

An interaction (one LLM span) carries zero or more ``Signal(name, reason)``. The names:

==================  =======================================================================================
``error``           the span's status is error, or it recorded an exception (reason: type and message)
``timeout``         an error whose type or message says it timed out (instead of ``error``)
``negative_feedback`` a score at or below its threshold (user feedback, evaluator or label)
``refusal``         the answer opens with a refusal ("I'm sorry, but I can't help with that"), or the finish
                    reason says the provider refused or filtered it (``content_filter``)
``empty_output``    no error, no tool call, and an empty answer
``truncated``       the finish reason says the output hit its token limit (``length``)
``invalid_json``    JSON was asked for (a ``response_format``, a prompt that asks for JSON, or an answer that
                    starts like JSON) and the answer does not parse
``tool_error``      a tool span of the same trace failed, before or during this call
``retry``           the same request in the same session, after an earlier attempt failed with an error
==================  =======================================================================================

Every threshold and pattern lives in ``SignalRules`` (frozen); ``SignalRules()`` is the default policy. Which
signals count as a *failure* is ``SignalRules.failure_signals``. Patterns are case-insensitive regular
expressions; curly apostrophes are read as straight ones.
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

from .interactions import Interaction, Score, ToolError, sort_key

__all__ = ["SIGNALS", "Signal", "SignalRules", "detect", "detect_all", "is_failure"]

SIGNALS: tuple[str, ...] = ("error", "timeout", "negative_feedback", "refusal", "empty_output", "truncated",
                            "invalid_json", "tool_error", "retry")
_REASON_CHARS = 200


@dataclass(frozen=True)
class Signal:
    name: str
    reason: str


@dataclass(frozen=True)
class SignalRules:
    """Thresholds and patterns of the failure rules (see the module docstring)."""

    timeout_patterns: tuple[str, ...] = (r"time[sd]?[\s_-]*out", r"deadline[\s_-]*exceeded")
    refusal_patterns: tuple[str, ...] = (
        r"\bI(?:'m|\s+am)\s+(?:so\s+|very\s+)?sorry,?\s+(?:but\s+)?I\s+(?:can(?:no|')?t|won't|(?:am|'m)\s+"
        r"(?:not\s+able|unable))",
        r"\bI\s+(?:can(?:no|')?t|won't|will\s+not|(?:am|'m)\s+(?:not\s+able|unable)\s+to)\s+(?:help|assist|comply"
        r"|provide|share|support|do\s+that|answer\s+that|fulfil)",
        r"\bI(?:\s+am|'m)\s+(?:not\s+able|unable)\s+to\s+(?:help|assist|comply|provide|share|support|answer)",
        r"\bI\s+must\s+(?:decline|refuse)\b",
        r"\b(?:against|violates?)\s+(?:my|our|the)\s+(?:content\s+|usage\s+)?(?:policy|policies|guidelines)\b",
    )
    refusal_scan_chars: int = 300  # refusals open the answer: scanning the start avoids quoted refusals later
    refusal_finish_reasons: tuple[str, ...] = ("content_filter", "refusal")  # the provider refused or filtered
    truncation_finish_reasons: tuple[str, ...] = ("length", "max_tokens", "max_output_tokens", "model_length")
    tool_call_finish_reasons: tuple[str, ...] = ("tool_call", "tool_calls", "tool_use", "function_call")
    json_request_patterns: tuple[str, ...] = (
        r"\b(?:as|in|into|to|return|returns|output|outputs|respond\s+with|reply\s+with|format(?:ted)?\s+as|valid)"
        r"\s+(?:a\s+|an\s+|only\s+|single\s+|strict\s+)*json\b",
        r"\bjson\s+(?:only|object|format|output|response)\b",
    )
    json_response_formats: tuple[str, ...] = ("json_object", "json_schema", "json")
    json_scan_chars: int = 4000
    negative_score_at_or_below: float = 0.0
    score_thresholds: tuple[tuple[str, float], ...] = ()  # per score name, e.g. (("rating", 2.0),)
    ignored_scores: tuple[str, ...] = ()
    retry_window_s: float = 3600.0
    retry_after: tuple[str, ...] = ("error", "timeout")
    failure_signals: tuple[str, ...] = SIGNALS

    def __post_init__(self) -> None:
        unknown = sorted(set(self.failure_signals) - set(SIGNALS)) + sorted(set(self.retry_after) - set(SIGNALS))
        if unknown:
            raise ValueError(f"unknown signal names {unknown}: use names from {', '.join(SIGNALS)}")
        if self.refusal_scan_chars <= 0 or self.json_scan_chars <= 0 or self.retry_window_s < 0:
            raise ValueError("refusal_scan_chars and json_scan_chars must be > 0, retry_window_s >= 0")
        for patterns in (self.timeout_patterns, self.refusal_patterns, self.json_request_patterns):
            _compiled(patterns)  # a bad pattern fails here, at configuration time

    def score_threshold(self, name: str) -> float:
        return dict(self.score_thresholds).get(name, self.negative_score_at_or_below)


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid signal pattern in {patterns!r}: {exc}") from exc


def _search(patterns: tuple[str, ...], text: str) -> re.Match[str] | None:
    pattern = _compiled(patterns)
    return pattern.search(text) if pattern is not None and text else None


def _clip(text: str, n: int = _REASON_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def _json_expected(i: Interaction, rules: SignalRules, answer: str) -> str | None:
    """Why JSON was expected, or None."""
    fmt = i.response_format.strip()
    if fmt:
        try:
            parsed = json.loads(fmt)
        except ValueError:
            parsed = fmt
        kind = parsed.get("type") if isinstance(parsed, dict) else parsed
        if isinstance(kind, str) and kind.lower() in rules.json_response_formats:
            return f"response_format {kind}"
    literal = all("json" in p.lower() for p in rules.json_request_patterns)  # then a cheap test goes first
    for text, who in ((i.system, "the system prompt"), (i.request, "the request")):
        head = text[: rules.json_scan_chars]
        if (not literal or "json" in head.lower()) and _search(rules.json_request_patterns, head):
            return f"{who} asks for JSON"
    head = answer.lstrip()[:8].lower()
    if head.startswith("{") or head.startswith("```json"):
        return "the answer starts as JSON"
    return None


def _json_problem(text: str) -> str | None:
    try:
        json.loads(text)
    except ValueError as exc:
        return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
    return None


def detect(i: Interaction, rules: SignalRules = SignalRules()) -> tuple[Signal, ...]:
    """The signals one span shows on its own (no scores, tool spans or session history)."""
    out: list[Signal] = []
    errored = i.status == "error" or i.has_exception
    if errored:
        what = ": ".join(p for p in (i.error_type, i.status_message) if p) or "status error"
        timeout = _search(rules.timeout_patterns, f"{i.error_type} {i.status_message}")
        out.append(Signal("timeout" if timeout else "error", _clip(what)))
    answer = i.response.replace("\u2019", "'")
    finish = i.finish_reason.lower()
    tool_call = i.is_tool_call or finish in rules.tool_call_finish_reasons
    if not errored and not tool_call and not answer.strip():
        out.append(Signal("empty_output", f"empty answer (finish reason {i.finish_reason or 'unset'})"))
    if finish in rules.truncation_finish_reasons:
        out.append(Signal("truncated", f"finish reason {i.finish_reason}: the answer hit its token limit"))
    if finish in rules.refusal_finish_reasons:
        out.append(Signal("refusal", f"finish reason {i.finish_reason}: the provider refused or filtered the answer"))
    elif answer.strip() and not tool_call:
        refusal = _search(rules.refusal_patterns, answer[: rules.refusal_scan_chars])
        if refusal:
            out.append(Signal("refusal", f"refused: \"{_clip(refusal.group(0), 80)}\""))
    if answer.strip() and not tool_call:
        why = _json_expected(i, rules, answer)
        if why is not None:
            problem = _json_problem(answer)
            if i.response_json_valid is not None:  # judged on the whole answer where it was loaded
                problem = None if i.response_json_valid else (problem or "does not parse")
            if problem is not None:
                out.append(Signal("invalid_json", f"invalid JSON ({problem}) where {why}"))
    return tuple(out)


def detect_all(interactions: Sequence[Interaction], tool_errors: Iterable[ToolError] = (),
               scores: Iterable[Score] = (), rules: SignalRules = SignalRules()) -> list[tuple[Signal, ...]]:
    """Signals of every interaction, in the input order, including the rules that look across spans.

    A trace-level score (empty ``span_id``) and a tool error are charged to the interactions they affected: a
    trace score to the last LLM call of the trace (the answer the user saw), a tool error to the calls that
    started at or after the tool did (they read its result), or the trace's last call if none did.
    """
    signals: list[list[Signal]] = [list(detect(i, rules)) for i in interactions]
    by_span = {(i.trace_id, i.span_id): n for n, i in enumerate(interactions)}
    by_trace: dict[str, list[int]] = defaultdict(list)
    for n, i in enumerate(interactions):
        by_trace[i.trace_id].append(n)
    for members in by_trace.values():
        members.sort(key=lambda n: sort_key(interactions[n]))

    for s in scores:
        if s.name in rules.ignored_scores:
            continue
        threshold = rules.score_threshold(s.name)
        value = float(s.value)
        if value != value or value > threshold:  # NaN is no evidence either way
            continue
        if s.span_id:
            target = by_span.get((s.trace_id, s.span_id))
            targets = [] if target is None else [target]
        else:
            targets = by_trace.get(s.trace_id, [])[-1:]
        for n in targets:
            signals[n].append(Signal("negative_feedback", f"score {s.name}={value:g} (at or below {threshold:g})"))

    for t in tool_errors:
        members = by_trace.get(t.trace_id, [])
        after = [n for n in members if interactions[n].start_time_ns >= t.start_time_ns]
        for n in after or members[-1:]:
            reason = f"tool {t.name} failed" + (f": {t.message}" if t.message else "")
            if not any(x.name == "tool_error" for x in signals[n]):
                signals[n].append(Signal("tool_error", _clip(reason)))

    _retries(interactions, signals, rules)
    return [tuple(s) for s in signals]


def _request_key(text: str) -> str:
    return " ".join(text.lower().split())


def _retries(interactions: Sequence[Interaction], signals: list[list[Signal]], rules: SignalRules) -> None:
    sessions: dict[str, list[int]] = defaultdict(list)
    for n, i in enumerate(interactions):
        if i.session and i.request.strip():
            sessions[i.session].append(n)
    window_ns = int(rules.retry_window_s * 1e9)
    for members in sessions.values():
        members.sort(key=lambda n: sort_key(interactions[n]))
        failed_at: dict[str, tuple[int, str, str]] = {}  # request -> (time, trace, signal) of the last failure
        for n in members:
            i = interactions[n]
            key = _request_key(i.request)
            earlier = failed_at.get(key)
            if earlier is not None and earlier[1] != i.trace_id and 0 <= i.start_time_ns - earlier[0] <= window_ns:
                seconds = (i.start_time_ns - earlier[0]) / 1e9
                signals[n].append(Signal("retry", f"repeats a request that failed ({earlier[2]}) {seconds:.0f} s "
                                                  "earlier in the session"))
            failure = next((s.name for s in signals[n] if s.name in rules.retry_after), None)
            if failure is not None:
                failed_at[key] = (i.start_time_ns, i.trace_id, failure)


def is_failure(signals: Iterable[Signal], rules: SignalRules = SignalRules()) -> bool:
    wanted = rules.failure_signals
    return any(s.name in wanted for s in signals)
