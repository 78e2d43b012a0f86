-- Core schema. One source of truth for every target: the placeholders are rendered by migrate.render()
--   ${on_cluster}              '' or ' ON CLUSTER `name`'
--   ${table:NAME}              the table that holds the data: NAME, or NAME_local on a cluster
--   ${engine:ENGINE(args)}     ENGINE(args), or its Replicated form on a cluster
--   ${distributed:NAME:KEY}    nothing, or on a cluster the Distributed table NAME over NAME_local sharded by KEY
-- Reads and inserts always name the plain table (the Distributed one on a cluster). Every statement is
-- idempotent (IF NOT EXISTS), so a crash between a statement and its record is harmless.

-- spans: one wide, immutable row per span (DESIGN sections 4-5).
-- Sort key: project, then time itself (the finest bucket). Lists and searches are "newest first in a window",
-- which ClickHouse reads in key order and stops after the page, reading the heavy columns of the page's rows
-- only. (A coarser bucket before start_time, e.g. toStartOfHour, turns the primary-key binary search into a
-- generic exclusion search: 27 granules instead of 1 for a five-second range, measured.) The spans of a trace
-- start seconds apart, so they share a granule or two, found through span_keys and the trace_id bloom filter.
-- trace_id and span_id close the key: duplicate deliveries of a span share the whole key, so
-- ReplacingMergeTree folds them on merge, and reads of pages drop the rest, so nothing needs FINAL.
-- Retention counts from a span's arrival (ingested_at), so a backfill or a skewed clock never makes data vanish
-- on arrival. Partitions are (arrival day, retention_days): every row of a part expires on the same day, so TTL
-- drops whole parts (ttl_only_drop_parts) instead of rewriting them, and each project keeps its own retention.
CREATE TABLE IF NOT EXISTS ${table:spans}${on_cluster}
(
    project LowCardinality(String),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    parent_span_id String CODEC(ZSTD(1)),
    name String CODEC(ZSTD(1)),
    kind LowCardinality(String),
    status LowCardinality(String),
    status_message String CODEC(ZSTD(3)),
    start_time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    end_time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    duration_ms Float64 CODEC(ZSTD(1)),
    time_to_first_token_ms Nullable(Float64) CODEC(ZSTD(1)),
    service LowCardinality(String),
    environment LowCardinality(String),
    release LowCardinality(String),
    tenant LowCardinality(String),
    user String CODEC(ZSTD(1)),
    session String CODEC(ZSTD(1)),
    tags Array(LowCardinality(String)),
    metadata String CODEC(ZSTD(3)),
    provider LowCardinality(String),
    model LowCardinality(String),
    request_model String CODEC(ZSTD(1)),
    operation String CODEC(ZSTD(1)),
    params String CODEC(ZSTD(3)),
    finish_reason String CODEC(ZSTD(1)),
    prompt_name LowCardinality(String),
    prompt_version LowCardinality(String),
    input_tokens UInt32 CODEC(T64, ZSTD(1)),
    output_tokens UInt32 CODEC(T64, ZSTD(1)),
    cache_read_tokens UInt32 CODEC(T64, ZSTD(1)),
    cache_write_tokens UInt32 CODEC(T64, ZSTD(1)),
    reasoning_tokens UInt32 CODEC(T64, ZSTD(1)),
    cost_usd Float64 CODEC(ZSTD(1)),
    cost_input_usd Float64 CODEC(ZSTD(1)),
    cost_output_usd Float64 CODEC(ZSTD(1)),
    cost_cache_usd Float64 CODEC(ZSTD(1)),
    reported_cost_usd Nullable(Float64) CODEC(ZSTD(1)),
    cost_source String CODEC(ZSTD(1)),
    input_messages String CODEC(ZSTD(3)),
    output_messages String CODEC(ZSTD(3)),
    input_text String CODEC(ZSTD(3)),
    output_text String CODEC(ZSTD(3)),
    redacted UInt8,
    attributes String CODEC(ZSTD(3)),
    resource String CODEC(ZSTD(3)),
    scope String CODEC(ZSTD(1)),
    events String CODEC(ZSTD(3)),
    links String CODEC(ZSTD(3)),
    convention String CODEC(ZSTD(1)),
    retention_days UInt16 DEFAULT 30,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    -- The insert's deduplication token (a WAL segment's), so a replay rebuilds exactly the block it repeats.
    insert_token String DEFAULT '' CODEC(ZSTD(1)),
    -- 1: a later, fuller copy of a span already stored (content that arrived as log records after its span).
    -- Reads prefer the newest copy (ReplacingMergeTree keeps it on merge); rollups count first copies only.
    is_update UInt8 DEFAULT 0,
    -- The narrow path: lists and trace summaries read these short previews, never the bodies.
    input_preview String MATERIALIZED substringUTF8(input_text, 1, 200) CODEC(ZSTD(3)),
    output_preview String MATERIALIZED substringUTF8(output_text, 1, 200) CODEC(ZSTD(3)),
    -- Full text over input and output: case-folded character bigrams, so any needle of two or more
    -- characters in any script (Chinese and Japanese words, Arabic, Latin) finds its rows. The index is
    -- on the folded expression itself (no preprocessor), so a query gives the same answer with or without
    -- the index; queries.text_condition() uses hasAllTokens (direct read) and verifies the substring.
    INDEX idx_text lowerUTF8(concat(input_text, '\n', output_text)) TYPE text(tokenizer = ngrams(2)),
    INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_session session TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_user user TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_tenant tenant TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ${engine:ReplacingMergeTree(ingested_at)}
PARTITION BY (toYYYYMMDD(ingested_at), retention_days)
ORDER BY (project, start_time, trace_id, span_id)
TTL toDate(ingested_at) + toIntervalDay(retention_days)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000,
    index_granularity_bytes = 524288, min_compress_block_size = 4096, max_compress_block_size = 65536;

${distributed:spans:cityHash64(project, trace_id)};

-- span_keys: the time bounds of each trace and each session (a trace id carries no time), so one trace or
-- one session is read from the few granules between its first and last span, not searched for everywhere.
-- One row per key after merges; reads take min/max over the rows of a key anyway.
CREATE TABLE IF NOT EXISTS ${table:span_keys}${on_cluster}
(
    project LowCardinality(String),
    key_kind Enum8('trace' = 1, 'session' = 2),
    key String,
    first_start SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
    last_start SimpleAggregateFunction(max, DateTime64(9, 'UTC')),
    spans SimpleAggregateFunction(sum, UInt64),
    last_seen SimpleAggregateFunction(max, DateTime('UTC')),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = ${engine:AggregatingMergeTree}
ORDER BY (project, key_kind, key)
TTL toDate(last_seen) + toIntervalDay(retention_days)
-- Point lookups only: small granules and small compressed blocks, so a key reads a few KB, not 8192 rows in
-- 64 KB+ blocks per column (measured at 10M spans: 380 random keys 92 ms -> 50 ms).
SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 256,
    min_compress_block_size = 4096, max_compress_block_size = 65536;

${distributed:span_keys:cityHash64(project, key)};

CREATE MATERIALIZED VIEW IF NOT EXISTS ${table:mv_span_keys}${on_cluster} TO ${table:span_keys} AS
SELECT project, k.1 AS key_kind, k.2 AS key, min(start_time) AS first_start, max(start_time) AS last_start,
       count() AS spans, toDateTime(max(ingested_at)) AS last_seen, max(retention_days) AS retention_days
FROM ${table:spans}
ARRAY JOIN [('trace', trace_id), ('session', session)] AS k
WHERE k.2 != '' AND is_update = 0
GROUP BY project, key_kind, key;

-- Rollups (materialized views) for charts and cost views. Counts, tokens and costs are sums; latency is a
-- t-digest state merged at read time. metrics_1m is fed from spans; each coarser table from a finer one's
-- inserted blocks, so a span is folded once. queries.pick_rollup decides which table answers a query: the
-- smallest whose bucket divides the step and whose dimensions cover the filters and the group-by. Tenant is
-- the one high-cardinality dimension, so the tables without it stay small for the overview charts, and the
-- tenant tables put tenant before time in their key (one tenant's series is one contiguous range).
-- Rollups have no TTL: they are aggregates without content, small next to spans (see docs/storage.md), and
-- outlive the spans' retention for long-range charts; Store.delete_subject removes a tenant from them.
-- metrics_1m: every dimension, per minute (short windows, any dimension filter).
CREATE TABLE IF NOT EXISTS ${table:metrics_1m}${on_cluster}
(
    project LowCardinality(String),
    time DateTime('UTC'),
    tenant LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
    prompt_name LowCardinality(String),
    prompt_version LowCardinality(String),
    release LowCardinality(String),
    service LowCardinality(String),
    environment LowCardinality(String),
    kind LowCardinality(String),
    spans SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cache_read_tokens SimpleAggregateFunction(sum, UInt64),
    cache_write_tokens SimpleAggregateFunction(sum, UInt64),
    reasoning_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    cost_input_usd SimpleAggregateFunction(sum, Float64),
    cost_output_usd SimpleAggregateFunction(sum, Float64),
    cost_cache_usd SimpleAggregateFunction(sum, Float64),
    latency AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = ${engine:AggregatingMergeTree}
PARTITION BY toYYYYMM(time)
ORDER BY (project, time, tenant, model, provider, prompt_name, prompt_version, release, service, environment, kind)
SETTINGS non_replicated_deduplication_window = 1000;

${distributed:metrics_1m:rand()};

-- metrics_1h and metrics_1d: every dimension but tenant (the overview charts over hours to months).
CREATE TABLE IF NOT EXISTS ${table:metrics_1h}${on_cluster}
(
    project LowCardinality(String),
    time DateTime('UTC'),
    model LowCardinality(String),
    provider LowCardinality(String),
    prompt_name LowCardinality(String),
    prompt_version LowCardinality(String),
    release LowCardinality(String),
    service LowCardinality(String),
    environment LowCardinality(String),
    kind LowCardinality(String),
    spans SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cache_read_tokens SimpleAggregateFunction(sum, UInt64),
    cache_write_tokens SimpleAggregateFunction(sum, UInt64),
    reasoning_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    cost_input_usd SimpleAggregateFunction(sum, Float64),
    cost_output_usd SimpleAggregateFunction(sum, Float64),
    cost_cache_usd SimpleAggregateFunction(sum, Float64),
    latency AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = ${engine:AggregatingMergeTree}
PARTITION BY toYYYYMM(time)
ORDER BY (project, time, model, provider, prompt_name, prompt_version, release, service, environment, kind)
SETTINGS non_replicated_deduplication_window = 1000;

${distributed:metrics_1h:rand()};

CREATE TABLE IF NOT EXISTS ${table:metrics_1d}${on_cluster}
(
    project LowCardinality(String),
    time DateTime('UTC'),
    model LowCardinality(String),
    provider LowCardinality(String),
    prompt_name LowCardinality(String),
    prompt_version LowCardinality(String),
    release LowCardinality(String),
    service LowCardinality(String),
    environment LowCardinality(String),
    kind LowCardinality(String),
    spans SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cache_read_tokens SimpleAggregateFunction(sum, UInt64),
    cache_write_tokens SimpleAggregateFunction(sum, UInt64),
    reasoning_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    cost_input_usd SimpleAggregateFunction(sum, Float64),
    cost_output_usd SimpleAggregateFunction(sum, Float64),
    cost_cache_usd SimpleAggregateFunction(sum, Float64),
    latency AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = ${engine:AggregatingMergeTree}
PARTITION BY toYYYYMM(time)
ORDER BY (project, time, model, provider, prompt_name, prompt_version, release, service, environment, kind)
SETTINGS non_replicated_deduplication_window = 1000;

${distributed:metrics_1d:rand()};

-- tenant_metrics_1h and tenant_metrics_1d: per tenant, model and provider (cost views, tenant charts).
CREATE TABLE IF NOT EXISTS ${table:tenant_metrics_1h}${on_cluster}
(
    project LowCardinality(String),
    time DateTime('UTC'),
    tenant LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
    kind LowCardinality(String),
    spans SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cache_read_tokens SimpleAggregateFunction(sum, UInt64),
    cache_write_tokens SimpleAggregateFunction(sum, UInt64),
    reasoning_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    cost_input_usd SimpleAggregateFunction(sum, Float64),
    cost_output_usd SimpleAggregateFunction(sum, Float64),
    cost_cache_usd SimpleAggregateFunction(sum, Float64),
    latency AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = ${engine:AggregatingMergeTree}
PARTITION BY toYYYYMM(time)
ORDER BY (project, tenant, time, model, provider, kind)
SETTINGS non_replicated_deduplication_window = 1000;

${distributed:tenant_metrics_1h:rand()};

CREATE TABLE IF NOT EXISTS ${table:tenant_metrics_1d}${on_cluster}
(
    project LowCardinality(String),
    time DateTime('UTC'),
    tenant LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
    spans SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cache_read_tokens SimpleAggregateFunction(sum, UInt64),
    cache_write_tokens SimpleAggregateFunction(sum, UInt64),
    reasoning_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    cost_input_usd SimpleAggregateFunction(sum, Float64),
    cost_output_usd SimpleAggregateFunction(sum, Float64),
    cost_cache_usd SimpleAggregateFunction(sum, Float64),
    latency AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = ${engine:AggregatingMergeTree}
PARTITION BY toYYYYMM(time)
ORDER BY (project, tenant, time, model, provider)
SETTINGS non_replicated_deduplication_window = 1000;

${distributed:tenant_metrics_1d:rand()};

CREATE MATERIALIZED VIEW IF NOT EXISTS ${table:mv_metrics_1m}${on_cluster} TO ${table:metrics_1m} AS
SELECT
    project, toStartOfMinute(start_time) AS time,
    tenant, model, provider, prompt_name, prompt_version, release, service, environment, kind,
    count() AS spans,
    countIf(status = 'error') AS errors,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd,
    sum(cost_input_usd) AS cost_input_usd,
    sum(cost_output_usd) AS cost_output_usd,
    sum(cost_cache_usd) AS cost_cache_usd,
    quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms) AS latency
FROM ${table:spans}
WHERE is_update = 0
GROUP BY project, time, tenant, model, provider, prompt_name, prompt_version, release, service, environment, kind;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${table:mv_metrics_1h}${on_cluster} TO ${table:metrics_1h} AS
SELECT
    project, toStartOfHour(time) AS time, model, provider, prompt_name, prompt_version, release, service, environment, kind,
    sum(spans) AS spans, sum(errors) AS errors,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd, sum(cost_input_usd) AS cost_input_usd,
    sum(cost_output_usd) AS cost_output_usd, sum(cost_cache_usd) AS cost_cache_usd,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency) AS latency
FROM ${table:metrics_1m}
GROUP BY project, time, model, provider, prompt_name, prompt_version, release, service, environment, kind;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${table:mv_metrics_1d}${on_cluster} TO ${table:metrics_1d} AS
SELECT
    project, toStartOfDay(time) AS time, model, provider, prompt_name, prompt_version, release, service, environment, kind,
    sum(spans) AS spans, sum(errors) AS errors,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd, sum(cost_input_usd) AS cost_input_usd,
    sum(cost_output_usd) AS cost_output_usd, sum(cost_cache_usd) AS cost_cache_usd,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency) AS latency
FROM ${table:metrics_1h}
GROUP BY project, time, model, provider, prompt_name, prompt_version, release, service, environment, kind;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${table:mv_tenant_metrics_1h}${on_cluster} TO ${table:tenant_metrics_1h} AS
SELECT
    project, toStartOfHour(time) AS time, tenant, model, provider, kind,
    sum(spans) AS spans, sum(errors) AS errors,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd, sum(cost_input_usd) AS cost_input_usd,
    sum(cost_output_usd) AS cost_output_usd, sum(cost_cache_usd) AS cost_cache_usd,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency) AS latency
FROM ${table:metrics_1m}
GROUP BY project, time, tenant, model, provider, kind;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${table:mv_tenant_metrics_1d}${on_cluster} TO ${table:tenant_metrics_1d} AS
SELECT
    project, toStartOfDay(time) AS time, tenant, model, provider,
    sum(spans) AS spans, sum(errors) AS errors,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd, sum(cost_input_usd) AS cost_input_usd,
    sum(cost_output_usd) AS cost_output_usd, sum(cost_cache_usd) AS cost_cache_usd,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency) AS latency
FROM ${table:tenant_metrics_1h}
GROUP BY project, time, tenant, model, provider;

-- Projects carry their retention; a new version of a row replaces the old (ReplacingMergeTree, read FINAL:
-- the table is tiny).
CREATE TABLE IF NOT EXISTS ${table:projects}${on_cluster}
(
    id String,
    name String,
    retention_days UInt16 DEFAULT 30,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3),
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(updated_at)}
ORDER BY id;

${distributed:projects:cityHash64(id)};

-- API keys are stored as SHA-256 hashes; the key itself is shown once at creation.
CREATE TABLE IF NOT EXISTS ${table:api_keys}${on_cluster}
(
    key_hash String,
    key_prefix String,
    project String,
    scopes Array(LowCardinality(String)),
    revoked UInt8 DEFAULT 0,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3),
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(updated_at)}
ORDER BY key_hash;

${distributed:api_keys:cityHash64(key_hash)};

-- Scores are rows of their own, never updates of a span; they expire with the project's retention.
CREATE TABLE IF NOT EXISTS ${table:scores}${on_cluster}
(
    project LowCardinality(String),
    score_id String,
    trace_id String,
    span_id String,
    name String CODEC(ZSTD(1)),
    value Float64,
    comment String CODEC(ZSTD(3)),
    source LowCardinality(String),
    retention_days UInt16 DEFAULT 30,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(created_at)}
PARTITION BY toYYYYMM(created_at)
ORDER BY (project, trace_id, score_id)
TTL toDate(created_at) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 1000;

${distributed:scores:cityHash64(project, trace_id)}
