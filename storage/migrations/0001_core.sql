-- Core tables. Every statement is idempotent (IF NOT EXISTS) so a re-run is harmless.
-- spans: one wide immutable row per span. Sort key: project, then an hour bucket (DESIGN section 5);
-- trace_id/span_id close the key so ReplacingMergeTree folds retried duplicates of a span.
CREATE TABLE IF NOT EXISTS spans
(
    project LowCardinality(String),
    trace_id String,
    span_id String,
    parent_span_id String,
    name String,
    kind LowCardinality(String),
    status LowCardinality(String),
    status_message String CODEC(ZSTD(3)),
    start_time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    end_time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    duration_ms Float64,
    time_to_first_token_ms Nullable(Float64),
    service LowCardinality(String),
    environment LowCardinality(String),
    release LowCardinality(String),
    tenant String,
    user String,
    session String,
    tags Array(String),
    metadata String CODEC(ZSTD(3)),
    provider LowCardinality(String),
    model LowCardinality(String),
    request_model LowCardinality(String),
    operation LowCardinality(String),
    params String CODEC(ZSTD(3)),
    finish_reason LowCardinality(String),
    prompt_name LowCardinality(String),
    prompt_version LowCardinality(String),
    input_tokens UInt32,
    output_tokens UInt32,
    cache_read_tokens UInt32,
    cache_write_tokens UInt32,
    reasoning_tokens UInt32,
    cost_usd Float64,
    cost_input_usd Float64,
    cost_output_usd Float64,
    cost_cache_usd Float64,
    reported_cost_usd Nullable(Float64),
    cost_source LowCardinality(String),
    input_messages String CODEC(ZSTD(3)),
    output_messages String CODEC(ZSTD(3)),
    input_text String CODEC(ZSTD(3)),
    output_text String CODEC(ZSTD(3)),
    redacted UInt8,
    attributes String CODEC(ZSTD(3)),
    resource String CODEC(ZSTD(3)),
    scope LowCardinality(String),
    events String CODEC(ZSTD(3)),
    links String CODEC(ZSTD(3)),
    convention LowCardinality(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_trace trace_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_session session TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user user TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_tenant tenant TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toDate(start_time)
ORDER BY (project, toStartOfHour(start_time), trace_id, span_id);

CREATE TABLE IF NOT EXISTS projects
(
    id String,
    name String,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY id;

-- API keys are stored as SHA-256 hashes; the key itself is shown once at creation.
CREATE TABLE IF NOT EXISTS api_keys
(
    key_hash String,
    key_prefix String,
    project String,
    scopes Array(LowCardinality(String)),
    revoked UInt8 DEFAULT 0,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3),
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY key_hash;

-- Scores are rows of their own, never updates of a span.
CREATE TABLE IF NOT EXISTS scores
(
    project LowCardinality(String),
    score_id String,
    trace_id String,
    span_id String,
    name LowCardinality(String),
    value Float64,
    comment String,
    source LowCardinality(String),
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (project, toStartOfDay(created_at), trace_id);
