"""Cached calls to the collector's query API, the only place pages get data from.

``st.cache_data(ttl=10)`` shares an answer between reruns and sessions for ten seconds, which is as stale as a
dashboard of live traffic should get. The settings are part of the cache key, so two collectors (or two keys)
never see each other's data. Streamlit never caches an exception: an ``ApiError`` is raised again on the next
call, so a collector that comes back shows up on the next rerun.

Runs that finish later (analytics) are polled with a shorter TTL; actions (``post_json``) are never cached.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, Mapping

import streamlit as st

from .api_client import ApiClient
from .settings import DashboardSettings
from .timerange import to_rfc3339

__all__ = [
    "CACHE_TTL_S",
    "POLL_TTL_S",
    "ROUTES_TTL_S",
    "fetch_json",
    "fetch_metrics",
    "fetch_newest",
    "fetch_routes",
    "fetch_run",
    "fetch_spans",
    "fetch_trace",
    "fetch_traces",
    "post_json",
]

CACHE_TTL_S = 10
POLL_TTL_S = 2  # a run in progress: fresh enough to see it finish, cached enough to survive a burst of reruns
ROUTES_TTL_S = 30  # which endpoints the collector serves changes only when it is upgraded
# The tails of a window asked first by ``fetch_newest``, shortest first.
NEWEST_TAILS = (timedelta(hours=1), timedelta(hours=6))


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def _client(settings: DashboardSettings) -> ApiClient:
    return ApiClient(settings.endpoint, settings.api_key, settings.timeout_s)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_metrics(settings: DashboardSettings, start: str, end: str, interval: str, group_by: str = "",
                  filters: Mapping[str, Any] | None = None) -> Any:
    """``filters``: the metrics filters (tenant, model, kind); blank ones mean "any"."""
    with _client(settings) as client:
        return client.metrics(start, end, interval, group_by, **(filters or {}))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_traces(settings: DashboardSettings, filters: Mapping[str, Any]) -> Any:
    with _client(settings) as client:
        return client.traces(**filters)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_trace(settings: DashboardSettings, trace_id: str) -> Any:
    with _client(settings) as client:
        return client.trace(trace_id)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_spans(settings: DashboardSettings, filters: Mapping[str, Any], pages: int = 1) -> list[dict[str, Any]]:
    """Up to ``pages`` pages of ``GET /api/v1/spans`` (newest first), concatenated."""
    items: list[dict[str, Any]] = []
    cursor = None
    with _client(settings) as client:
        for _ in range(max(1, pages)):
            page = client.spans(**filters, cursor=cursor)
            items.extend(page.get("items") or [])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return items


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_newest(settings: DashboardSettings, what: Literal["spans", "traces"], filters: Mapping[str, Any],
                 limit: int, start: str, end: str) -> list[dict[str, Any]]:
    """The newest ``limit`` spans (or trace summaries) in ``[start, end)``, asking first for the last hour of
    the window, then the last six hours, then all of it, until one answer is full.

    The API sorts a window's rows before it cuts them, so on busy days the newest 500 of 24 hours cost as
    much as reading all 24 hours; the last hour usually holds them and costs a twenty-fourth. For spans the
    answer is exactly the same. For trace summaries a trace that began before the tail counts only its spans
    inside it (pages that show summaries as exact figures should not use this).
    """
    first, last = _parse(start), _parse(end)
    tails = [last - tail for tail in NEWEST_TAILS if last - tail > first] + [first]
    with _client(settings) as client:
        get = client.spans if what == "spans" else client.traces
        for tail_start in tails:
            items = get(**filters, start=to_rfc3339(tail_start), end=end, limit=limit).get("items") or []
            if len(items) >= limit:
                break
    return items


@st.cache_data(ttl=ROUTES_TTL_S, show_spinner=False)
def fetch_routes(settings: DashboardSettings) -> dict[str, list[str]]:
    with _client(settings) as client:
        return client.routes()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_json(settings: DashboardSettings, path: str, params: Mapping[str, Any] | None = None) -> Any:
    """``GET`` an API path that has no dedicated helper (compare, scores, analytics results)."""
    with _client(settings) as client:
        return client.get(path, **(params or {}))


@st.cache_data(ttl=POLL_TTL_S, show_spinner=False)
def fetch_run(settings: DashboardSettings, path: str) -> Any:
    """``GET`` an analytics run, which may still be running: cached for ``POLL_TTL_S`` only."""
    with _client(settings) as client:
        return client.get(path)


def post_json(settings: DashboardSettings, path: str, body: Mapping[str, Any]) -> Any:
    """An action (start a run, replay a call): never cached, so a click always reaches the collector."""
    with _client(settings) as client:
        return client.post(path, body)
