"""Collector settings: explicit argument > environment variable > default, declared once.

Nothing else in the collector reads ``os.environ``. ``load_settings`` raises ``SettingsError`` with a
message that names the setting and how to fix it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, Mapping

from tracehouse.storage import DEFAULT_STORAGE_URL


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    storage_url: str = DEFAULT_STORAGE_URL
    host: str = "127.0.0.1"
    port: int = 4318
    grpc_port: int = 4317
    admin_key: str | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    key_cache_seconds: float = 30.0
    wal_dir: str = ""
    wal_max_bytes: int = 2 * 1024 * 1024 * 1024
    wal_segment_bytes: int = 64 * 1024 * 1024
    writer_batch_rows: int = 20_000
    # Larger parts cost the engine far less per span (benchmarks/ingest.py: ~1,000 us a span in 250-span
    # inserts, ~430 in 1,000-span ones), so the writer waits up to half a second to fill a batch;
    # ingest_max_lag_ms bounds what that adds to visibility.
    writer_max_delay_ms: int = 500
    max_inflight_bytes: int = 256 * 1024 * 1024
    ingest_max_lag_ms: int = 1000
    ingest_max_wait_ms: int = 10_000
    rate_limit_requests_per_s: float = 0.0
    rate_limit_spans_per_s: float = 0.0
    rate_limit_tenant_spans_per_s: float = 0.0
    openai_base_url: str = ""
    openai_api_key: str = ""
    anthropic_base_url: str = ""
    anthropic_api_key: str = ""
    default_redaction: str = "full"
    price_overrides_file: str = ""
    scheduled_jobs: int = 1
    cluster_every_s: float = 6 * 3600.0
    drift_every_s: float = 3600.0
    alerts_every_s: float = 60.0


# field -> (environment variable, meaning); the docs' configuration reference is generated from this.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "storage_url": ("TRACEHOUSE_STORAGE_URL", "chdb://PATH (embedded, default) or http(s)://user:pass@host:8123/db"),
    "host": ("TRACEHOUSE_HOST", "address the collector binds to"),
    "port": ("TRACEHOUSE_PORT", "port for OTLP/HTTP and the query API"),
    "grpc_port": ("TRACEHOUSE_GRPC_PORT", "port for OTLP/gRPC (TraceService and LogsService Export); 0 turns gRPC off"),
    "admin_key": ("TRACEHOUSE_ADMIN_KEY", "bootstrap admin key (creates projects and keys); admin API off if unset"),
    "max_body_bytes": ("TRACEHOUSE_MAX_BODY_BYTES", "largest accepted request body, before and after decompression"),
    "key_cache_seconds": ("TRACEHOUSE_KEY_CACHE_SECONDS", "how long a looked-up API key is cached"),
    "wal_dir": ("TRACEHOUSE_WAL_DIR", "write-ahead log directory (default: beside the embedded data, or ./.tracehouse/wal)"),
    "wal_max_bytes": ("TRACEHOUSE_WAL_MAX_BYTES", "disk bound of unstored log; past it ingest answers 503"),
    "wal_segment_bytes": ("TRACEHOUSE_WAL_SEGMENT_BYTES", "size of one log segment file"),
    "writer_batch_rows": ("TRACEHOUSE_WRITER_BATCH_ROWS", "spans per insert into ClickHouse"),
    "writer_max_delay_ms": ("TRACEHOUSE_WRITER_MAX_DELAY_MS", "longest wait before a partial batch is inserted"),
    "max_inflight_bytes": ("TRACEHOUSE_MAX_INFLIGHT_BYTES", "request bytes decoded at once; past it ingest answers 503"),
    "ingest_max_lag_ms": ("TRACEHOUSE_INGEST_MAX_LAG_MS", "while storage is healthy but further behind the log than this, "
                          "ingest requests wait (0: never)"),
    "ingest_max_wait_ms": ("TRACEHOUSE_INGEST_MAX_WAIT_MS", "longest such wait; past it ingest answers 503"),
    "rate_limit_requests_per_s": ("TRACEHOUSE_RATE_LIMIT_REQUESTS_PER_S",
                                  "requests per second per API key (burst: one second's worth); 0 = off"),
    "rate_limit_spans_per_s": ("TRACEHOUSE_RATE_LIMIT_SPANS_PER_S", "ingested spans per second per API key; 0 = off"),
    "rate_limit_tenant_spans_per_s": ("TRACEHOUSE_RATE_LIMIT_TENANT_SPANS_PER_S",
                                      "ingested spans per second per tenant of a project (burst: one second's "
                                      "worth); past it the request gets 503 + Retry-After; 0 = off"),
    "openai_base_url": ("TRACEHOUSE_OPENAI_BASE_URL",
                        "replay: an OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, LiteLLM)"),
    "openai_api_key": ("TRACEHOUSE_OPENAI_API_KEY", "replay: key for that endpoint (never stored or shown)"),
    "anthropic_base_url": ("TRACEHOUSE_ANTHROPIC_BASE_URL", "replay: the Anthropic messages API base URL"),
    "anthropic_api_key": ("TRACEHOUSE_ANTHROPIC_API_KEY", "replay: Anthropic key (never stored or shown)"),
    "default_redaction": ("TRACEHOUSE_DEFAULT_REDACTION",
                          "content policy for projects without their own: full, redacted (PII and secrets replaced "
                          "by typed placeholders) or none (no prompts or completions stored)"),
    "price_overrides_file": ("TRACEHOUSE_PRICE_OVERRIDES_FILE",
                             "JSON list of {model, provider?, input, output, cache_read?, cache_write?} in USD per "
                             "million tokens, for every project; a project's own overrides win"),
    "scheduled_jobs": ("TRACEHOUSE_SCHEDULED_JOBS",
                       "1: this collector runs the periodic analytics jobs; 0: leave them to `tracehouse worker`"),
    "cluster_every_s": ("TRACEHOUSE_CLUSTER_EVERY_S", "seconds between scheduled failure-clustering runs"),
    "drift_every_s": ("TRACEHOUSE_DRIFT_EVERY_S", "seconds between scheduled drift reports (last day vs the week before)"),
    "alerts_every_s": ("TRACEHOUSE_ALERTS_EVERY_S", "seconds between alert rule evaluations"),
}


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for field in fields(Settings):
        variable = ENVIRONMENT[field.name][0]
        if overrides.get(field.name) is not None:
            raw: Any = overrides[field.name]
        elif env.get(variable):
            raw = env[variable]
        else:
            continue
        try:
            values[field.name] = (int(raw) if field.type == "int" else float(raw) if field.type == "float"
                                  else str(raw))
        except ValueError as exc:
            raise SettingsError(f"{variable}={raw!r}: expected a number") from exc
    settings = Settings(**values)
    if not 0 < settings.port < 65536:
        raise SettingsError(f"TRACEHOUSE_PORT={settings.port}: expected 1-65535")
    if not 0 <= settings.grpc_port < 65536:
        raise SettingsError(f"TRACEHOUSE_GRPC_PORT={settings.grpc_port}: expected 1-65535, or 0 for no gRPC")
    if settings.default_redaction not in ("full", "redacted", "none"):
        raise SettingsError(f"TRACEHOUSE_DEFAULT_REDACTION={settings.default_redaction!r}: expected full, redacted "
                            "or none")
    if settings.max_body_bytes < 1024:
        raise SettingsError("TRACEHOUSE_MAX_BODY_BYTES must be at least 1024")
    return settings
