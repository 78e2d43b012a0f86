"""Per-project ingest configuration (content policy and price overrides), read from storage and cached.

Settings change through the API (``/api/v1/projects/{id}/settings``); the collector that takes the change
applies it at once, other replicas within ``CACHE_S``. A file of server-wide price overrides
(``TRACEHOUSE_PRICE_OVERRIDES_FILE``) applies to every project; a project's own overrides win over it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracehouse.storage import StorageError, Store

from .normalize import Step
from .policy import check_policy
from .pricing import PriceOverrides, make_price_step, price
from .ratelimit import RateExceeded, RateLimiter
from .settings import Settings, SettingsError

CACHE_S = 10.0
REDACTION = "redaction"
PRICES = "prices"
DEFAULT_TENANT = "default_tenant"


@dataclass(frozen=True)
class ProjectConfig:
    redaction: str
    steps: tuple[Step, ...]


def load_price_file(path: str) -> list[dict[str, Any]]:
    """Server-wide overrides: a JSON list of ``{model, provider?, input, output, cache_read?, cache_write?}``
    (USD per million tokens). Raises SettingsError naming the file and the bad entry."""
    if not path:
        return []
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(items, list):
            raise ValueError("expected a JSON list of price entries")
        PriceOverrides.from_config(items)  # validate now, not on the first span
    except (OSError, ValueError) as exc:
        raise SettingsError(f"TRACEHOUSE_PRICE_OVERRIDES_FILE={path}: {exc}") from exc
    return items


def tenant_rate_step(project: str, limiter: RateLimiter) -> Step:
    """Meter each span against its tenant's span rate (after the default tenant is filled); a tenant over its
    rate sheds the whole request (nothing stored), so the exporter's retry brings every span back."""
    def meter(raw: Any, d: dict[str, Any]) -> None:
        tenant = d.get("tenant", "")
        wait = limiter.take(f"{project}\x00{tenant}")
        if wait:
            raise RateExceeded(f"span rate limit of {limiter.rate:g}/s reached for tenant {tenant!r}", wait)
    return meter


def default_tenant_step(tenant: str) -> Step:
    """Spans that name no tenant (neither ours nor Traceloop's customer_id) get the project's default."""
    def fill(raw: Any, d: dict[str, Any]) -> None:
        if not d.get("tenant"):
            d["tenant"] = tenant
    return fill


class ProjectConfigs:
    def __init__(self, store: Store, default_redaction: str = "full", server_prices: list[dict[str, Any]] | None = None,
                 cache_s: float = CACHE_S, tenant_spans_per_s: float = 0.0) -> None:
        self._store = store
        self._tenant_limiter = RateLimiter(tenant_spans_per_s, tenant_spans_per_s)
        self._default_redaction = check_policy(default_redaction)
        self._server_prices = list(server_prices or [])
        self._default_steps: tuple[Step, ...] = (
            (make_price_step(PriceOverrides.from_config(self._server_prices)),) if self._server_prices else (price,))
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, ProjectConfig]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> "ProjectConfigs":
        return cls(store, settings.default_redaction, load_price_file(settings.price_overrides_file),
                   tenant_spans_per_s=settings.rate_limit_tenant_spans_per_s)

    def get(self, project: str) -> ProjectConfig:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(project)
        if cached and cached[0] > now:
            return cached[1]
        try:
            config = self._build(project, self._store.project_settings(project))
        except StorageError:
            if cached:  # storage is down: keep ingesting into the log under the last known settings
                return cached[1]
            raise
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[project] = (now + self._cache_s, config)
        return config

    def forget(self, project: str) -> None:
        with self._lock:
            self._cache.pop(project, None)

    def _build(self, project: str, settings: dict[str, Any]) -> ProjectConfig:
        redaction = settings.get(REDACTION) or self._default_redaction
        prices = settings.get(PRICES) or []
        steps = self._default_steps
        if prices:  # the project's rules first: on equally specific matches the first listed wins
            steps = (make_price_step(PriceOverrides.from_config([*prices, *self._server_prices])),)
        if settings.get(DEFAULT_TENANT):
            steps = (*steps, default_tenant_step(settings[DEFAULT_TENANT]))
        if self._tenant_limiter.enabled:
            steps = (*steps, tenant_rate_step(project, self._tenant_limiter))
        return ProjectConfig(redaction, steps)

    def describe(self, project: str) -> dict[str, Any]:
        """What the API shows: the effective policy (and whether it is the server default) and the prices."""
        settings = self._store.project_settings(project)
        return {"redaction": settings.get(REDACTION) or self._default_redaction,
                "default_tenant": settings.get(DEFAULT_TENANT) or "",
                "redaction_is_default": not settings.get(REDACTION),
                "prices": settings.get(PRICES) or [], "server_prices": self._server_prices}
