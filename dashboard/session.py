"""Per-session Streamlit glue shared by the app and its pages: settings, the time range, trace links.

Widgets worth sharing as a link are bound to the query string (``bind="query-params"``, the widget key is the
parameter name), so a URL such as ``/trace?trace_id=...&range=7d`` reopens the same view; Streamlit keeps a
bound value across page switches. Defaults are left out of the URL.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import streamlit as st

from .api_client import ApiError
from .figures import template_for
from .settings import DashboardSettings, dashboard_settings
from .timerange import DEFAULT_RANGE, RANGES, TimeWindow, time_window

__all__ = [
    "EMPTY_MESSAGE",
    "PAGES_DIR",
    "RANGE_PARAM",
    "TRACE_PARAM",
    "current_settings",
    "current_window",
    "open_trace",
    "plotly_template",
    "show_api_error",
    "time_range_selector",
]

PAGES_DIR = Path(__file__).resolve().parent / "pages_"
TRACE_PAGE = PAGES_DIR / "trace.py"
RANGE_PARAM = "range"
TRACE_PARAM = "trace_id"
EMPTY_MESSAGE = "No traces yet: run `tracehouse demo` to load sample traffic."

_SETTINGS = "tracehouse.settings"


def current_settings() -> DashboardSettings:
    """The session's settings, resolved on its first run (argument > environment > default).

    A bad setting stops the run with an ``st.error`` that says how to fix it.
    """
    if _SETTINGS not in st.session_state:
        try:
            st.session_state[_SETTINGS] = dashboard_settings()
        except ValueError as err:
            st.error(f"The dashboard is misconfigured: {err}")
            st.stop()
    return st.session_state[_SETTINGS]


def time_range_selector() -> TimeWindow:
    """The sidebar's time-range control (``?range=1h|24h|7d|30d``); returns the current window."""
    # No format_func: a bound widget writes its *displayed* text to the URL, and "7d" makes a tidy link.
    st.sidebar.segmented_control(
        "Time range (last)", list(RANGES), default=DEFAULT_RANGE, required=True, key=RANGE_PARAM,
        bind="query-params",
    )  # fmt: skip
    return current_window()


def current_window() -> TimeWindow:
    return time_window(st.session_state.get(RANGE_PARAM) or DEFAULT_RANGE, datetime.now(timezone.utc))


def plotly_template() -> str:
    return template_for(st.context.theme.type)


def show_api_error(err: ApiError) -> None:
    st.error(str(err), icon=":material/cloud_off:" if err.status_code is None else ":material/error:")


def open_trace(trace_id: str) -> None:
    """Switch to the Trace page for ``trace_id`` (ends this run)."""
    st.switch_page(TRACE_PAGE, query_params={TRACE_PARAM: trace_id})
