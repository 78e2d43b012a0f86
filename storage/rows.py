"""SpanRecord <-> storage row (pure). JSON-typed columns are stored as compact JSON strings.

Read dicts carry every record column under its own name, times as ``start_time_ns``/``end_time_ns``
(integer nanoseconds); collector/serialize.py consumes those keys, so keys are added, never renamed.
"""

from __future__ import annotations

import json
import operator
from typing import Any, Sequence

import orjson

from .record import SpanRecord

# Columns written on insert, in order. ``duration_ms`` is derived; ``ingested_at`` has a default.
SPAN_COLUMNS: tuple[str, ...] = (
    "project", "trace_id", "span_id", "parent_span_id", "name", "kind", "status", "status_message",
    "start_time", "end_time", "duration_ms", "time_to_first_token_ms",
    "service", "environment", "release", "tenant", "user", "session", "tags", "metadata",
    "provider", "model", "request_model", "operation", "params", "finish_reason", "prompt_name",
    "prompt_version", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "cost_input_usd", "cost_output_usd", "cost_cache_usd",
    "reported_cost_usd", "cost_source", "input_messages", "output_messages", "input_text", "output_text",
    "redacted", "attributes", "resource", "scope", "events", "links", "convention",
)
JSON_COLUMNS = frozenset({"metadata", "params", "input_messages", "output_messages", "attributes",
                          "resource", "events", "links"})
_RECORD_FIELD = {"start_time": "start_time_ns", "end_time": "end_time_ns"}
_UINT32_MAX = 2**32 - 1


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    try:  # orjson: several times faster on the multi-KB message and attribute columns
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # integers beyond 64 bits and other things only Python's json writes
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


# Written with every row but not part of the record: the project's retention when the row arrived.
INSERT_COLUMNS: tuple[str, ...] = SPAN_COLUMNS + ("retention_days",)


# Every field in one C call, then the few columns that need converting, by position.
_FIELDS = operator.attrgetter(*(_RECORD_FIELD.get(c, c) for c in SPAN_COLUMNS))
_JSON_AT = tuple(i for i, c in enumerate(SPAN_COLUMNS) if c in JSON_COLUMNS)
_TOKENS_AT = tuple(i for i, c in enumerate(SPAN_COLUMNS) if c.endswith("_tokens"))
_TAGS_AT = SPAN_COLUMNS.index("tags")
_REDACTED_AT = SPAN_COLUMNS.index("redacted")
# Where Store.insert_span_rows finds what it needs in a span row.
SPAN_INDEX = {c: i for i, c in enumerate(SPAN_COLUMNS)}


def span_row(record: SpanRecord) -> list[Any]:
    """A row for ``SPAN_COLUMNS``: what the collector logs and ``Store.insert_span_rows`` takes."""
    row = list(_FIELDS(record))
    for i in _JSON_AT:
        value = row[i]
        row[i] = dumps(list(value) if isinstance(value, tuple) else value)
    row[_TAGS_AT] = list(row[_TAGS_AT])
    row[_REDACTED_AT] = int(row[_REDACTED_AT])
    for i in _TOKENS_AT:
        row[i] = min(max(int(row[i]), 0), _UINT32_MAX)
    return row


def record_to_row(record: SpanRecord, retention_days: int = 30) -> list[Any]:
    """A row for ``INSERT_COLUMNS``."""
    row = span_row(record)
    row.append(retention_days)
    return row


# Read side: times come back as integer nanoseconds (start_time_ns, end_time_ns) so nothing is lost, and
# ingested_ms tells copies of one span apart (the newest wins).
# The aliases differ from the column names so WHERE clauses still see the DateTime64 columns.
SELECT_COLUMNS: tuple[str, ...] = tuple(
    f"toUnixTimestamp64Nano({c}) AS {c}_ns" if c in ("start_time", "end_time") else f"`{c}`" for c in SPAN_COLUMNS
) + ("toUnixTimestamp64Milli(ingested_at) AS ingested_ms",)


def row_to_dict(column_names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A stored row as a plain dict, JSON columns decoded, times as integer nanoseconds."""
    out: dict[str, Any] = {}
    for name, value in zip(column_names, row):
        if name in JSON_COLUMNS:
            try:
                value = orjson.loads(value) if value else ({} if name in ("metadata", "params", "attributes", "resource") else [])
            except ValueError:
                value = None
        out[name] = value
    return out
