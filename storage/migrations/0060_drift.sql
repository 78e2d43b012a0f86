-- Drift runs and their signals; alert rules, alert state and alert history.
-- Every statement is idempotent (IF NOT EXISTS); placeholders are rendered per target (see migrate.py).
-- Status rows are versioned: a new row with a higher `version`
-- at each change, read back with ORDER BY version DESC LIMIT 1 BY key (no FINAL on reads).
CREATE TABLE IF NOT EXISTS ${table:drift_runs}${on_cluster}
(
    project LowCardinality(String),
    run_id String,
    version UInt64,
    status LowCardinality(String),
    stage String,
    progress Float64,
    reason String,
    trigger LowCardinality(String),
    baseline_start DateTime64(9, 'UTC'),
    baseline_end DateTime64(9, 'UTC'),
    baseline_filters String,
    current_start DateTime64(9, 'UTC'),
    current_end DateTime64(9, 'UTC'),
    current_filters String,
    params String,
    verdict LowCardinality(String),
    n_baseline UInt64,
    n_current UInt64,
    n_signals UInt32,
    n_drift UInt32,
    drifted Array(String),
    duration_ms Float64,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(version)}
ORDER BY (project, run_id);

${distributed:drift_runs:cityHash64(project, run_id)};

-- One row per signal of a finished run. `current_end` repeats the run's window end so a dashboard timeline of a
-- signal is one range read. `top` holds the contributing terms, clusters, segments and examples (JSON).
CREATE TABLE IF NOT EXISTS ${table:drift_signals}${on_cluster}
(
    project LowCardinality(String),
    run_id String,
    position UInt32,
    name String,
    kind LowCardinality(String),
    test LowCardinality(String),
    verdict LowCardinality(String),
    statistic Nullable(Float64),
    p_value Nullable(Float64),
    q_value Nullable(Float64),
    effect_size Nullable(Float64),
    effect_measure LowCardinality(String),
    threshold Float64,
    n_baseline UInt64,
    n_current UInt64,
    baseline_value Nullable(Float64),
    current_value Nullable(Float64),
    change Nullable(Float64),
    direction LowCardinality(String),
    reason String,
    top String CODEC(ZSTD(3)),
    current_end DateTime64(9, 'UTC'),
    trigger LowCardinality(String),
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(created_at)}
PARTITION BY toYYYYMM(created_at)
ORDER BY (project, run_id, name)
TTL toDateTime(created_at) + INTERVAL 400 DAY
SETTINGS ttl_only_drop_parts = 1;

${distributed:drift_signals:cityHash64(project, run_id)};

-- Alert rules per project. A delete is a new version with is_deleted = 1.
CREATE TABLE IF NOT EXISTS ${table:alert_rules}${on_cluster}
(
    project LowCardinality(String),
    rule_id String,
    version UInt64,
    name String,
    kind LowCardinality(String),
    params String,
    webhook_url String,
    enabled UInt8,
    is_deleted UInt8,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(version, is_deleted)}
ORDER BY (project, rule_id);

${distributed:alert_rules:cityHash64(project, rule_id)};

-- Whether each (rule, subject) is firing and whether that was delivered: what de-duplication reads.
CREATE TABLE IF NOT EXISTS ${table:alert_state}${on_cluster}
(
    project LowCardinality(String),
    rule_id String,
    subject String,
    version UInt64,
    status LowCardinality(String),
    notified UInt8,
    since DateTime64(9, 'UTC'),
    value Float64,
    threshold Float64,
    message String,
    event_id String,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(version)}
ORDER BY (project, rule_id, subject);

${distributed:alert_state:cityHash64(project, rule_id, subject)};

-- Alert history: every firing, resolved and test notification, delivered or not.
CREATE TABLE IF NOT EXISTS ${table:alert_events}${on_cluster}
(
    project LowCardinality(String),
    event_id String,
    rule_id String,
    rule_name String,
    kind LowCardinality(String),
    event LowCardinality(String),
    subject String,
    value Float64,
    threshold Float64,
    message String,
    details String CODEC(ZSTD(3)),
    delivered UInt8,
    attempts UInt8,
    status_code UInt16,
    error String,
    evaluated_at DateTime64(9, 'UTC'),
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:MergeTree}
PARTITION BY toYYYYMM(created_at)
ORDER BY (project, created_at, event_id)
TTL toDateTime(created_at) + INTERVAL 400 DAY
SETTINGS ttl_only_drop_parts = 1;

${distributed:alert_events:cityHash64(project, event_id)};
