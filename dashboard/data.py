"""Cached calls to the collector's query API, the only place pages get data from.

``st.cache_data(ttl=10)`` shares an answer between reruns and sessions for ten seconds, which is as stale as a
dashboard of live traffic should get. The settings are part of the cache key, so two collectors (or two keys)
never see each other's data. Streamlit never caches an exception: an ``ApiError`` is raised again on the next
call, so a collector that comes back shows up on the next rerun.
"""

from __future__ import annotations

from typing import Any, Mapping

import streamlit as st

from .api_client import ApiClient
from .settings import DashboardSettings

__all__ = ["CACHE_TTL_S", "fetch_metrics", "fetch_trace", "fetch_traces"]

CACHE_TTL_S = 10


def _client(settings: DashboardSettings) -> ApiClient:
    return ApiClient(settings.endpoint, settings.api_key, settings.timeout_s)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_metrics(settings: DashboardSettings, start: str, end: str, interval: str, group_by: str = "") -> Any:
    with _client(settings) as client:
        return client.metrics(start, end, interval, group_by)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_traces(settings: DashboardSettings, filters: Mapping[str, Any]) -> Any:
    with _client(settings) as client:
        return client.traces(**filters)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_trace(settings: DashboardSettings, trace_id: str) -> Any:
    with _client(settings) as client:
        return client.trace(trace_id)
