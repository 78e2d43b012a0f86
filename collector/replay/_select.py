"""Finding recorded spans for replay and compare: one span by id, or a filtered set (store reads only).

Spans come back as stored dicts (``Store.search_spans`` / ``get_trace`` rows: column names, times as
``start_time_ns``/``end_time_ns``).

Replays are spans too (tag ``replay``, with the original's tenant, session and so on), so a filtered selection
leaves them out unless asked (``replays``: ``exclude``, the default; ``only``; ``include``): running the same
batch twice must replay the recorded calls again, not the first run's replays, and a cohort "model A" is the
recorded traffic of model A.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any, Mapping

from tracehouse.storage import SpanFilter, Store
from tracehouse.storage.queries import MAX_LIMIT

from ..timefmt import parse_time
from ._records import is_replay
from .errors import InvalidReplayRequest, SpanNotFound

DAY_NS = 24 * 3600 * 1_000_000_000
# "Any time": the DateTime64(9) column holds 1900-2262; a span is looked up by id whenever it was recorded.
ALL_TIME = (0, 2**62)
FIND_SCAN_PAGES = 20  # without a trace id (and no span_id filter in storage), at most this many pages of LLM spans
_HEX = re.compile(r"^[0-9a-f]+$")
_FILTER_FIELDS = frozenset(f.name for f in dataclasses.fields(SpanFilter))
# Storage versions differ in what a SpanFilter can hold: use what this one has.
SPAN_ID_FILTER = "span_id" in _FILTER_FIELDS
_OPTIONAL_FILTERS = ("provider", "service", "environment", "release", "prompt_name", "prompt_version")
_STRING_FILTERS = ("trace_id", "tenant", "user", "session", "model", "q") + tuple(
    k for k in _OPTIONAL_FILTERS if k in _FILTER_FIELDS)
FILTER_KEYS = frozenset({*_STRING_FILTERS, "status", "kind", "start", "end", "limit", "spans", "replays"})
_STATUSES = ("ok", "error", "unset")
REPLAYS = ("exclude", "only", "include")
SELECT_SCAN_PAGES = 20  # leaving replays out is a filter after the read: at most this many pages are read


def _hex_id(value: Any, length: int, what: str) -> str:
    text = str(value or "").strip().lower()
    if len(text) != length or not _HEX.match(text):
        raise InvalidReplayRequest(f"{what} must be {length} lowercase hex characters, got {value!r}")
    return text


def find_span(store: Store, project: str, span_id: str, trace_id: str | None = None) -> dict[str, Any]:
    """The stored span ``span_id`` of ``project``. With ``trace_id`` one indexed read of that trace; without,
    the project's LLM spans of all time are searched newest first (by ``span_id`` directly when the storage
    filter has that field), at most ``FIND_SCAN_PAGES`` pages: pass the trace id for old spans in big projects."""
    span_id = _hex_id(span_id, 16, "span_id")
    if trace_id:
        trace_id = _hex_id(trace_id, 32, "trace_id")
        for span in store.get_trace(project, trace_id):
            if span["span_id"] == span_id:
                return span
        raise SpanNotFound(f"span {span_id} not found in trace {trace_id}")
    if SPAN_ID_FILTER:  # a storage filter on the id: one read
        items, _ = store.search_spans(project, SpanFilter(*ALL_TIME, span_id=span_id), 1)  # type: ignore[call-arg]
        if items and items[0]["span_id"] == span_id:
            return items[0]
        raise SpanNotFound(f"span {span_id} not found")
    cursor = None
    for _ in range(FIND_SCAN_PAGES):
        items, cursor = store.search_spans(project, SpanFilter(*ALL_TIME, kind="llm"), MAX_LIMIT, cursor)
        for span in items:
            if span["span_id"] == span_id:
                return span
        if not cursor:
            break
    if cursor:
        raise SpanNotFound(f"span {span_id} not found among the newest {FIND_SCAN_PAGES * MAX_LIMIT} LLM spans; "
                           "pass its trace_id")
    raise SpanNotFound(f"span {span_id} not found")


def _time(value: Any, what: str) -> int:
    try:
        return parse_time(str(value))
    except ValueError as exc:
        raise InvalidReplayRequest(f"{what}: {exc}") from exc


def parse_filters(filters: Mapping[str, Any] | None, *, max_limit: int, default_limit: int = 50,
                  kind: str | None = "llm", now_ns: int | None = None) -> tuple[SpanFilter, int]:
    """API filters ``{trace_id?, tenant?, user?, session?, model?, status?, kind?, q?, start?, end?, limit?,
    replays?}`` (plus ``provider``, ``service``, ``environment``, ``release``, ``prompt_name``, ``prompt_version``
    where the storage filter has them) -> (SpanFilter, limit). Times are RFC 3339; the range defaults to the last
    24 hours, as the span search does; ``kind`` defaults to ``llm``; ``model`` is the model as stored (the
    provider's answer, e.g. a dated snapshot). ``replays`` is checked here and applied by ``select_spans``.
    Unknown keys are an error (a typo must not widen the selection)."""
    filters = dict(filters or {})
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise InvalidReplayRequest(f"unknown filter(s) {sorted(unknown)}; known: {', '.join(sorted(FILTER_KEYS))}")
    now_ns = time.time_ns() if now_ns is None else now_ns
    end_ns = _time(filters["end"], "end") if filters.get("end") else now_ns + 60 * 1_000_000_000
    start_ns = _time(filters["start"], "start") if filters.get("start") else end_ns - DAY_NS
    if start_ns >= end_ns:
        raise InvalidReplayRequest("start must be before end")
    status = filters.get("status") or None
    if status is not None and status not in _STATUSES:
        raise InvalidReplayRequest(f"status must be one of {', '.join(_STATUSES)}, got {status!r}")
    try:
        limit = int(filters.get("limit") or default_limit)
    except (TypeError, ValueError) as exc:
        raise InvalidReplayRequest(f"limit must be an integer, got {filters.get('limit')!r}") from exc
    if not 1 <= limit <= max_limit:
        raise InvalidReplayRequest(f"limit must be between 1 and {max_limit}, got {limit}")
    strings = {}
    for key in _STRING_FILTERS:
        value = filters.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidReplayRequest(f"{key} must be a string")
        strings[key] = value or None
    if strings["trace_id"]:
        strings["trace_id"] = _hex_id(strings["trace_id"], 32, "trace_id")
    _replays(filters)
    return SpanFilter(start_ns=start_ns, end_ns=end_ns, status=status, kind=filters.get("kind", kind) or None,
                      **strings), limit


def _replays(filters: Mapping[str, Any]) -> str:
    mode = filters.get("replays") or "exclude"
    if mode not in REPLAYS:
        raise InvalidReplayRequest(f"replays must be one of {', '.join(REPLAYS)}, got {mode!r}")
    return str(mode)


def _search(store: Store, project: str, span_filter: SpanFilter, limit: int, mode: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(SELECT_SCAN_PAGES):
        wanted = limit - len(items)
        page_size = wanted if mode == "include" else max(50, 2 * wanted)  # room for the spans left out
        page, cursor = store.search_spans(project, span_filter, min(MAX_LIMIT, page_size), cursor)
        items.extend(s for s in page if mode == "include" or is_replay(s) == (mode == "only"))
        if len(items) >= limit or not cursor:
            break
    return items[:limit]


def select_spans(store: Store, project: str, filters: Mapping[str, Any] | None, *, max_limit: int,
                 default_limit: int = 50, kind: str | None = "llm") -> list[dict[str, Any]]:
    """The spans a batch replay or a cohort covers, newest first: ``filters["spans"]`` (an explicit list of
    ``{trace_id, span_id}``, e.g. the members of a failure cluster, taken as given) or the filtered search,
    replays left out unless ``filters["replays"]`` says otherwise (read at most ``SELECT_SCAN_PAGES`` pages).

    ``model`` names the model as stored, which is the provider's answer (``gpt-4o-mini-2024-07-18``); a call
    that failed has no answer and is stored under the model it asked for (``gpt-4o-mini``). So that a cohort
    of a model counts its failures, the selection also takes the spans stored under the request model of the
    spans it found, when they asked for that same model."""
    filters = dict(filters or {})
    explicit = filters.pop("spans", None)
    if explicit is not None:
        if not isinstance(explicit, list) or not all(isinstance(s, Mapping) for s in explicit):
            raise InvalidReplayRequest("spans must be a list of {trace_id, span_id}")
        if len(explicit) > max_limit:
            raise InvalidReplayRequest(f"at most {max_limit} spans, got {len(explicit)}")
        return [find_span(store, project, s.get("span_id", ""), s.get("trace_id") or None) for s in explicit]
    span_filter, limit = parse_filters(filters, max_limit=max_limit, default_limit=default_limit, kind=kind)
    mode = _replays(filters)
    items = _search(store, project, span_filter, limit, mode)
    if span_filter.model:
        asked = sorted({str(s.get("request_model") or "") for s in items} - {"", span_filter.model})
        for name in asked:
            more = _search(store, project, dataclasses.replace(span_filter, model=name), limit, mode)
            items.extend(s for s in more if s.get("request_model") == name)
        if asked:
            items.sort(key=lambda s: (s["start_time_ns"], s["trace_id"], s["span_id"]), reverse=True)
    return items[:limit]
