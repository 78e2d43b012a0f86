"""tracehouse collector: OTLP ingest, normalization, pricing, storage writes and the query API."""
