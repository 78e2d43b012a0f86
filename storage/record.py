"""The canonical span record: one immutable row per span, whatever convention it arrived in.

Pure data (DESIGN section 4). Produced by the collector's normalization, turned into a row by
``tracehouse.storage``. Ids are lowercase hex, times are integer nanoseconds since the epoch (UTC).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Mapping

KINDS = ("llm", "embedding", "tool", "retrieval", "agent", "chain", "other")
STATUSES = ("unset", "ok", "error")
COST_SOURCES = ("computed", "reported", "unpriced", "none")


@dataclass(frozen=True)
class SpanRecord:
    project: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_time_ns: int
    end_time_ns: int
    kind: str = "other"
    status: str = "unset"
    status_message: str = ""
    time_to_first_token_ms: float | None = None
    # context
    service: str = ""
    environment: str = ""
    release: str = ""
    tenant: str = ""
    user: str = ""
    session: str = ""
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    # model call
    provider: str = ""
    model: str = ""
    request_model: str = ""
    operation: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    finish_reason: str = ""
    prompt_name: str = ""
    prompt_version: str = ""
    # usage and cost (cache tokens are inside input, reasoning inside output)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    cost_input_usd: float = 0.0
    cost_output_usd: float = 0.0
    cost_cache_usd: float = 0.0
    reported_cost_usd: float | None = None
    cost_source: str = "none"
    # content
    input_messages: tuple[dict[str, Any], ...] = ()
    output_messages: tuple[dict[str, Any], ...] = ()
    input_text: str = ""
    output_text: str = ""
    redacted: bool = False
    # raw
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""
    events: tuple[dict[str, Any], ...] = ()
    links: tuple[dict[str, Any], ...] = ()
    convention: str = ""

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> "SpanRecord":
        """``SpanRecord(**values)``, without the frozen dataclass ``__init__`` that sets its 50 fields one
        ``object.__setattr__`` at a time (a tenth of normalization's time). Unknown or missing required fields
        take the ordinary path, which raises the usual TypeError."""
        if values.keys() - _FIELD_NAMES or _REQUIRED - values.keys():
            return cls(**values)
        record = object.__new__(cls)
        state = record.__dict__
        for name, factory in _FACTORIES:
            if name not in values:
                state[name] = factory()
        state.update(values)  # fields left out read the class's defaults
        return record

    @property
    def duration_ms(self) -> float:
        return max(0, self.end_time_ns - self.start_time_ns) / 1e6


_FIELD_NAMES = frozenset(f.name for f in fields(SpanRecord))
_REQUIRED = frozenset(f.name for f in fields(SpanRecord) if f.default is MISSING and f.default_factory is MISSING)
_FACTORIES = tuple((f.name, f.default_factory) for f in fields(SpanRecord) if f.default_factory is not MISSING)
