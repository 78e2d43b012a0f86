# tracehouse server image: collector (`tracehouse serve`, the default command) and dashboard
# (`tracehouse dashboard --host 0.0.0.0`), with `.[server]` installed. See docs/deployment.md.
#
#   docker build -t tracehouse:0.1.0 .
#   docker run -p 4318:4318 -v tracehouse-data:/var/lib/tracehouse -e TRACEHOUSE_ADMIN_KEY=... tracehouse:0.1.0
#
# Base image pinned by tag and by digest (python:3.11.14-slim-bookworm, multi-arch manifest list). Refresh
# both together: `docker buildx imagetools inspect python:3.11.14-slim-bookworm` prints the current digest.

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Every dependency is pinned (==) in pyproject.toml; all of them ship wheels, so no compiler is needed.
# pip byte-compiles here, so the non-root runtime (which cannot write into the virtualenv) starts fast.
RUN python -m venv /opt/tracehouse
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sdk/ sdk/
COPY storage/ storage/
COPY collector/ collector/
COPY analytics/ analytics/
COPY dashboard/ dashboard/
COPY cli/ cli/
RUN /opt/tracehouse/bin/pip install ".[server]" \
 && /opt/tracehouse/bin/tracehouse --help >/dev/null


FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

LABEL org.opencontainers.image.title="tracehouse" \
      org.opencontainers.image.description="OpenTelemetry-based observability backend for LLM apps" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed, unprivileged uid/gid so volume ownership is predictable across rebuilds.
RUN groupadd --system --gid 10001 tracehouse \
 && useradd --system --uid 10001 --gid tracehouse --home-dir /var/lib/tracehouse --no-create-home \
            --shell /usr/sbin/nologin tracehouse \
 && mkdir -p /var/lib/tracehouse/data /var/lib/tracehouse/wal \
 && chown -R tracehouse:tracehouse /var/lib/tracehouse

COPY --from=build /opt/tracehouse /opt/tracehouse

# State lives under /var/lib/tracehouse: mount a volume there (embedded chDB data and the write-ahead log),
# or at least on /var/lib/tracehouse/wal when TRACEHOUSE_STORAGE_URL points at a ClickHouse server.
ENV PATH=/opt/tracehouse/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/tracehouse \
    TRACEHOUSE_STORAGE_URL=chdb:///var/lib/tracehouse/data \
    TRACEHOUSE_WAL_DIR=/var/lib/tracehouse/wal

WORKDIR /var/lib/tracehouse
USER tracehouse:tracehouse

# 4318: OTLP/HTTP ingest + query API (collector); 4317: OTLP/gRPC ingest; 8501: dashboard.
EXPOSE 4317 4318 8501

# The collector's liveness endpoint; the slim image has no curl, so the standard library asks. The dashboard
# service overrides this check (docker-compose.yml) with Streamlit's own /_stcore/health.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TRACEHOUSE_PORT', '4318'), timeout=4)"]

# uvicorn stops gracefully on SIGTERM; the writer then stores what the log holds (give it time: compose
# sets stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["tracehouse", "serve", "--host", "0.0.0.0", "--port", "4318"]
