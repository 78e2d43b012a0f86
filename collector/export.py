"""Audit export: a project's spans as JSON Lines or Parquet, streamed page by page, with a content policy.

Both formats stream: JSON Lines a line per span; Parquet a row group per page of spans, written into a
buffer that is handed out as soon as the group is flushed, so memory holds one page, not the export.
Nested values (messages, params, attributes, events...) are JSON text columns in Parquet: their shape varies
by convention, and a fixed schema is what warehouse loaders want.
"""

from __future__ import annotations

import io
from typing import Any, Iterable, Iterator

import orjson

from .policy import apply_policy_json
from .serialize import SPAN_FIELDS

FORMATS = {"jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
_JSON_COLUMNS = ("input_messages", "output_messages", "params", "metadata", "attributes", "resource", "events",
                 "links")
_INT_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
_FLOAT_COLUMNS = ("duration_ms", "time_to_first_token_ms", "cost_usd", "cost_input_usd", "cost_output_usd",
                  "cost_cache_usd", "reported_cost_usd")


def jsonl(pages: Iterable[list[dict[str, Any]]], policy: str) -> Iterator[bytes]:
    for page in pages:
        yield b"".join(orjson.dumps(apply_policy_json(span, policy)) + b"\n" for span in page)


def _schema() -> Any:
    import pyarrow as pa

    def kind(name: str) -> Any:
        if name in _INT_COLUMNS:
            return pa.int64()
        if name in _FLOAT_COLUMNS:
            return pa.float64()
        if name == "tags":
            return pa.list_(pa.string())
        if name == "redacted":
            return pa.bool_()
        return pa.string()

    return pa.schema([(name, kind(name)) for name in SPAN_FIELDS])


def _column_values(span: dict[str, Any]) -> dict[str, Any]:
    return {k: (orjson.dumps(v).decode() if k in _JSON_COLUMNS else v) for k, v in span.items()}


class _Sink(io.RawIOBase):
    """A write-only file whose bytes are taken out as they come (what ParquetWriter writes into)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.chunks.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out, self.chunks = b"".join(self.chunks), []
        return out


def parquet(pages: Iterable[list[dict[str, Any]]], policy: str) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema()
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    try:
        for page in pages:
            if page:
                rows = [_column_values(apply_policy_json(span, policy)) for span in page]
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                yield sink.take()
    finally:
        writer.close()
    yield sink.take()
