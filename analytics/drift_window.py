"""One window of traffic as the drift compute sees it: plain aligned arrays, one entry per LLM call.

``DriftWindow`` is what ``compute_drift`` compares. Build it from plain columns or records
(``DriftWindow.from_columns`` / ``from_records``: the benchmark and tests do, without ClickHouse), or from the
rows ``DriftStore.load_window`` returns (``window_from_rows``: the job does). Missing values are NaN in numeric
and rate arrays and are left out of the tests that use them:

* rates (``error``, ``refusal``, ``truncated``, ``negative_feedback``) are 1.0 / 0.0 / NaN (not applicable:
  ``negative_feedback`` is NaN for a call nobody scored, so a change in how often users leave feedback is not
  read as a change in how often they are unhappy);
* ``cost_per_call`` is NaN for calls the price table did not know (``cost_source`` unpriced or none), so
  swapping to an unpriced model does not look like a cost drop; tokens are NaN when the provider reported no
  usage (both counts 0); ``ttft_ms`` is NaN when not streamed.

``scores`` are the window's score values by score name (from the scores table; not per call). Thread-safe
(immutable).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["NUMERIC_FIELDS", "RATE_FIELDS", "DriftWindow", "window_from_rows"]

# field -> signal name
NUMERIC_FIELDS: Mapping[str, str] = MappingProxyType({
    "output_length": "output_length", "input_tokens": "input_tokens", "output_tokens": "output_tokens",
    "cost_per_call": "cost_per_call", "latency_ms": "latency_ms", "ttft_ms": "ttft_ms",
})
RATE_FIELDS: Mapping[str, str] = MappingProxyType({
    "error": "error_rate", "refusal": "refusal_rate", "truncated": "truncation_rate",
    "negative_feedback": "negative_feedback_rate",
})
_TEXT_FIELDS = ("trace_id", "span_id", "input_text", "output_text", "model", "tenant", "cluster")
_ALIASES = {"output_chars": "output_length", "cost_usd": "cost_per_call", "duration_ms": "latency_ms",
            "time_to_first_token_ms": "ttft_ms", "request": "input_text", "response": "output_text"}
_UNPRICED = frozenset({"unpriced", "none"})


def _floats(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    out = np.empty(n, dtype=np.float64)
    for i, v in enumerate(values):
        try:
            out[i] = float(v) if v is not None else np.nan
        except (TypeError, ValueError):
            out[i] = np.nan
    out[~np.isfinite(out)] = np.nan
    return out


def _strings(values: Any, n: int) -> tuple[str, ...]:
    if values is None:
        return ("",) * n
    return tuple("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class DriftWindow:
    """Aligned per-call arrays (see the module docstring). Build with ``from_columns`` or ``from_records``."""

    trace_id: tuple[str, ...] = ()
    span_id: tuple[str, ...] = ()
    input_text: tuple[str, ...] = ()
    output_text: tuple[str, ...] = ()
    output_length: np.ndarray = field(default_factory=lambda: np.zeros(0))
    input_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))
    output_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cost_per_call: np.ndarray = field(default_factory=lambda: np.zeros(0))
    latency_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ttft_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    error: np.ndarray = field(default_factory=lambda: np.zeros(0))
    refusal: np.ndarray = field(default_factory=lambda: np.zeros(0))
    truncated: np.ndarray = field(default_factory=lambda: np.zeros(0))
    negative_feedback: np.ndarray = field(default_factory=lambda: np.zeros(0))
    model: tuple[str, ...] = ()
    tenant: tuple[str, ...] = ()
    cluster: tuple[str, ...] = ()      # cluster id per call from a clustering run ("" unknown)
    scores: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        n = len(self.trace_id)
        for name in _TEXT_FIELDS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"DriftWindow.{name} has {len(getattr(self, name))} entries, trace_id has {n}")
        for name in (*NUMERIC_FIELDS, *RATE_FIELDS):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"DriftWindow.{name} must have shape ({n},), got {getattr(self, name).shape}")

    def __len__(self) -> int:
        return len(self.trace_id)

    @classmethod
    def empty(cls) -> "DriftWindow":
        return cls.from_columns({})

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any], scores: Mapping[str, Sequence[float]] | None = None
                     ) -> "DriftWindow":
        """From aligned columns named as the fields (or ``output_chars``, ``cost_usd``, ``duration_ms``,
        ``time_to_first_token_ms``, ``request``, ``response``); a pandas DataFrame works. Missing columns are
        empty strings or NaN; rate columns take booleans, 0/1 or NaN."""
        cols = {_ALIASES.get(str(k), str(k)): columns[k] for k in columns.keys()}
        lengths = {k: len(v) for k, v in cols.items()}
        n = max(lengths.values(), default=0)
        bad = {k: m for k, m in lengths.items() if m != n}
        if bad:
            raise ValueError(f"columns differ in length: {bad} (expected {n})")
        trace_ids = _strings(cols.get("trace_id"), n) if "trace_id" in cols else tuple(str(i) for i in range(n))
        kwargs: dict[str, Any] = {name: _strings(cols.get(name), n) for name in _TEXT_FIELDS}
        kwargs["trace_id"] = trace_ids
        for name in (*NUMERIC_FIELDS, *RATE_FIELDS):
            kwargs[name] = _readonly(_floats(cols.get(name), n))
        kwargs["scores"] = MappingProxyType({str(k): _readonly(_floats(v, len(v)))
                                             for k, v in (scores or {}).items()})
        return cls(**kwargs)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], scores: Mapping[str, Sequence[float]] | None = None
                     ) -> "DriftWindow":
        rows = list(records)
        keys: list[str] = []
        for row in rows:
            for k in row:
                if k not in keys:
                    keys.append(k)
        return cls.from_columns({k: [row.get(k) for row in rows] for k in keys}, scores)

    def select(self, rows: np.ndarray | Sequence[int] | Sequence[bool]) -> "DriftWindow":
        """The calls at ``rows`` (indices or a boolean mask); ``scores`` are window-level and kept whole."""
        idx = np.asarray(rows)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"mask has shape {idx.shape}, window has {len(self)} calls")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        kwargs: dict[str, Any] = {name: tuple(getattr(self, name)[i] for i in idx) for name in _TEXT_FIELDS}
        for name in (*NUMERIC_FIELDS, *RATE_FIELDS):
            kwargs[name] = _readonly(getattr(self, name)[idx].copy())
        kwargs["scores"] = self.scores
        return DriftWindow(**kwargs)


def _has_feedback(rows: Sequence[Mapping[str, Any]], scores: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Which calls some score is charged to, with the failure rules' attribution: a span score to its span, a
    trace score to the trace's last call."""
    by_span = {(str(r.get("trace_id")), str(r.get("span_id"))): i for i, r in enumerate(rows)}
    last: dict[str, tuple[int, str, int]] = {}
    for i, r in enumerate(rows):
        key = (int(r.get("start_time_ns") or 0), str(r.get("span_id")), i)
        trace = str(r.get("trace_id"))
        if trace not in last or key > last[trace]:
            last[trace] = key
    out = np.zeros(len(rows), dtype=bool)
    for s in scores:
        span = str(s.get("span_id") or "")
        if span:
            i = by_span.get((str(s.get("trace_id")), span))
        else:
            hit = last.get(str(s.get("trace_id")))
            i = hit[2] if hit else None
        if i is not None:
            out[i] = True
    return out


def window_from_rows(rows: Sequence[Mapping[str, Any]], scores: Sequence[Mapping[str, Any]] = (), *,
                     rules: Any = None, cluster: Sequence[str] | None = None) -> DriftWindow:
    """Rows of ``DriftStore.load_window`` (+ the window's score rows) -> a window. Errors, refusals, truncations
    and negative feedback are decided by ``tracehouse.analytics.signals`` (``rules``: its ``SignalRules``), so
    drift counts failures exactly as clustering does."""
    from .interactions import interactions_from_rows
    from .signals import SignalRules, detect_all

    rules = rules or SignalRules()
    interactions = interactions_from_rows(rows)
    found = detect_all(interactions, (), [_score(s) for s in scores], rules)
    names = [frozenset(sig.name for sig in signals) for signals in found]
    feedback = _has_feedback(rows, scores)
    n = len(rows)

    def flag(*wanted: str) -> list[float]:
        return [1.0 if names[i] & set(wanted) else 0.0 for i in range(n)]

    negative = [1.0 if "negative_feedback" in names[i] else (0.0 if feedback[i] else np.nan) for i in range(n)]
    input_tokens, output_tokens, cost = [], [], []
    for r in rows:
        tin, tout = int(r.get("input_tokens") or 0), int(r.get("output_tokens") or 0)
        reported = tin > 0 or tout > 0
        input_tokens.append(tin if reported else np.nan)
        output_tokens.append(tout if reported else np.nan)
        priced = str(r.get("cost_source") or "") not in _UNPRICED
        cost.append(r.get("cost_usd") if priced else np.nan)
    by_name: dict[str, list[float]] = defaultdict(list)
    for s in scores:
        by_name[str(s.get("name"))].append(s.get("value"))
    columns = {
        "trace_id": [r.get("trace_id") for r in rows], "span_id": [r.get("span_id") for r in rows],
        "input_text": [r.get("request") for r in rows], "output_text": [r.get("response") for r in rows],
        "output_length": [r.get("output_chars") for r in rows], "input_tokens": input_tokens,
        "output_tokens": output_tokens, "cost_per_call": cost, "latency_ms": [r.get("duration_ms") for r in rows],
        "ttft_ms": [r.get("time_to_first_token_ms") for r in rows], "error": flag("error", "timeout"),
        "refusal": flag("refusal"), "truncated": flag("truncated"), "negative_feedback": negative,
        "model": [r.get("model") for r in rows], "tenant": [r.get("tenant") for r in rows],
        "cluster": list(cluster) if cluster is not None else [""] * n,
    }
    return DriftWindow.from_columns(columns, by_name)


def _score(row: Mapping[str, Any]) -> Any:
    from .interactions import Score

    value = row.get("value")
    try:
        number = float(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    return Score(trace_id=str(row.get("trace_id") or ""), span_id=str(row.get("span_id") or ""),
                 name=str(row.get("name") or ""), value=number)
