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


# A span row is SPAN_COLUMNS plus TEXT_DERIVED: which texts the storage reads back from the messages (bit 0
# input, bit 1 output) instead of storing them (migrations/0080_content_once.sql). Rows logged by an older
# version end before it (``with_text_derived``).
ROW_COLUMNS: tuple[str, ...] = SPAN_COLUMNS + ("text_derived",)
_STORED_AS = {"input_text": "input_text_stored", "output_text": "output_text_stored"}
# Written with every row but not part of the record: the project's retention when the row arrived.
INSERT_COLUMNS: tuple[str, ...] = tuple(_STORED_AS.get(c, c) for c in ROW_COLUMNS) + ("retention_days",)


# Every field in one C call, then the few columns that need converting, by position.
_FIELDS = operator.attrgetter(*(_RECORD_FIELD.get(c, c) for c in SPAN_COLUMNS))
_JSON_AT = tuple(i for i, c in enumerate(SPAN_COLUMNS) if c in JSON_COLUMNS)
_TOKENS_AT = tuple(i for i, c in enumerate(SPAN_COLUMNS) if c.endswith("_tokens"))
_TAGS_AT = SPAN_COLUMNS.index("tags")
_TEXT_AT = ((SPAN_COLUMNS.index("input_text"), "input_messages", 1),
            (SPAN_COLUMNS.index("output_text"), "output_messages", 2))
_REDACTED_AT = SPAN_COLUMNS.index("redacted")
# Where Store.insert_span_rows finds what it needs in a span row.
SPAN_INDEX = {c: i for i, c in enumerate(SPAN_COLUMNS)}


def span_row(record: SpanRecord) -> list[Any]:
    """A row for ``ROW_COLUMNS``: what the collector logs and ``Store.insert_span_rows`` takes."""
    row = list(_FIELDS(record))
    for i in _JSON_AT:
        value = row[i]
        row[i] = dumps(list(value) if isinstance(value, tuple) else value)
    row[_TAGS_AT] = list(row[_TAGS_AT])
    derived = 0
    for at, messages, bit in _TEXT_AT:
        if row[at] and row[at] == text_of_parts(getattr(record, messages)):
            row[at] = ""  # stored once, in the messages
            derived |= bit
    row.append(derived)
    row[_REDACTED_AT] = int(row[_REDACTED_AT])
    for i in _TOKENS_AT:
        row[i] = min(max(int(row[i]), 0), _UINT32_MAX)
    return row


def text_of_parts(messages: Sequence[Any]) -> str | None:
    """What the storage's input_text/output_text aliases read back from messages: the text parts' contents
    joined with newlines. None when that could differ from the text the collector made (a part that is not
    plain non-empty text, content JSON cannot carry exactly), so such texts are stored as they are."""
    texts = []
    for message in messages:
        if not isinstance(message, dict):
            return None
        parts = message.get("parts")
        if parts is None:
            continue
        if not isinstance(parts, (list, tuple)):
            return None
        for part in parts:
            if not isinstance(part, dict) or part.get("type") != "text":
                return None
            content = part.get("content")
            if not isinstance(content, str) or not content:
                return None
            texts.append(content)
    text = "\n".join(texts)
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate: written escaped, not read back the same
        return None
    return text


def with_text_derived(row: Sequence[Any]) -> Sequence[Any]:
    """A row as ``Store.insert_span_rows`` takes it; one logged by a version before ROW_COLUMNS keeps its texts
    stored as they are."""
    return [*row, 0] if len(row) == len(SPAN_COLUMNS) else row


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
