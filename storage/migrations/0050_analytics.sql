-- Analytics results: failure-mode clustering runs, their clusters, members, fitted models and assignments.
-- Every statement is idempotent (IF NOT EXISTS); placeholders are rendered per target (see migrate.py). Results are versioned by run: a run's rows are written once,
-- except its status row, which gets a new version (higher `version`) at each state change. Per-interaction rows
-- (members, assignments) are dropped by whole monthly partitions after 90 days; run and cluster rows are small.
CREATE TABLE IF NOT EXISTS ${table:analytics_cluster_runs}${on_cluster}
(
    project LowCardinality(String),
    run_id String,
    version UInt64,
    status LowCardinality(String),
    progress Float64,
    stage String,
    reason String,
    start_time DateTime64(9, 'UTC'),
    end_time DateTime64(9, 'UTC'),
    filters String,
    params String,
    n_interactions UInt64,
    n_failed UInt64,
    failure_rate Float64,
    n_clusters UInt32,
    embedder LowCardinality(String),
    duration_ms Float64,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(version)}
ORDER BY (project, run_id);

${distributed:analytics_cluster_runs:cityHash64(project, run_id)};

CREATE TABLE IF NOT EXISTS ${table:analytics_clusters}${on_cluster}
(
    project LowCardinality(String),
    run_id String,
    cluster_id String,
    rank UInt32,
    label String,
    terms Array(String),
    is_outlier UInt8,
    size UInt64,
    failures UInt64,
    failure_rate Float64,
    lift Float64,
    lift_lo Float64,
    lift_hi Float64,
    score Float64,
    top_failure_reasons String CODEC(ZSTD(3)),
    examples String CODEC(ZSTD(3)),
    cost_usd Float64,
    latency_p50_ms Float64,
    latency_p95_ms Float64,
    x Float64,
    y Float64,
    profile String CODEC(ZSTD(3)),
    previous_similarity Float64,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(created_at)}
ORDER BY (project, run_id, cluster_id);

${distributed:analytics_clusters:cityHash64(project, run_id)};

-- One row per interaction of a run: its cluster, map position and failure signals with their reasons.
CREATE TABLE IF NOT EXISTS ${table:analytics_cluster_members}${on_cluster}
(
    project LowCardinality(String),
    run_id String,
    cluster_id String,
    trace_id String,
    span_id String,
    start_time DateTime64(9, 'UTC'),
    x Float32,
    y Float32,
    similarity Float32,
    failed UInt8,
    signals Array(LowCardinality(String)),
    reasons Array(String) CODEC(ZSTD(3)),
    created_at DateTime DEFAULT now()
)
ENGINE = ${engine:MergeTree}
PARTITION BY toYYYYMM(created_at)
ORDER BY (project, run_id, cluster_id, trace_id, span_id)
TTL created_at + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;

${distributed:analytics_cluster_members:cityHash64(project, run_id)};

-- The latest fitted model per project (vocabulary, idf, SVD axes, centroids, map), for assigning new spans.
CREATE TABLE IF NOT EXISTS ${table:analytics_cluster_models}${on_cluster}
(
    project LowCardinality(String),
    run_id String,
    embedder LowCardinality(String),
    model String CODEC(ZSTD(3)),
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(created_at)}
ORDER BY project;

${distributed:analytics_cluster_models:cityHash64(project)};

-- Spans that arrived after a run, assigned to its nearest cluster.
CREATE TABLE IF NOT EXISTS ${table:analytics_cluster_assignments}${on_cluster}
(
    project LowCardinality(String),
    run_id String,
    cluster_id String,
    trace_id String,
    span_id String,
    start_time DateTime64(9, 'UTC'),
    x Float32,
    y Float32,
    similarity Float32,
    failed UInt8,
    signals Array(LowCardinality(String)),
    reasons Array(String) CODEC(ZSTD(3)),
    assigned_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(assigned_at)}
PARTITION BY toYYYYMM(assigned_at)
ORDER BY (project, run_id, cluster_id, trace_id, span_id)
TTL toDateTime(assigned_at) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;

${distributed:analytics_cluster_assignments:cityHash64(project, run_id)};
