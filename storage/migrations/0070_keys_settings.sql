-- Key labels, and per-project settings (redaction policy, price overrides) as versioned name/value rows.
-- Both tables are ReplacingMergeTree(updated_at): a change is a new row, read back with FINAL or argMax.
ALTER TABLE ${table:api_keys}${on_cluster} ADD COLUMN IF NOT EXISTS name String DEFAULT '';
-- On a cluster the Distributed table reads through needs the column too (on one node: the same, a no-op).
ALTER TABLE api_keys${on_cluster} ADD COLUMN IF NOT EXISTS name String DEFAULT '';

CREATE TABLE IF NOT EXISTS ${table:project_settings}${on_cluster}
(
    project String,
    name LowCardinality(String),
    value String CODEC(ZSTD(3)),
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine:ReplacingMergeTree(updated_at)}
ORDER BY (project, name);

${distributed:project_settings:cityHash64(project)};
