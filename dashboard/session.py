"""Per-session Streamlit glue shared by the app and its pages: settings, the project, the time range, links.

Widgets worth sharing as a link are bound to the query string (``bind="query-params"``, the widget key is the
parameter name), so a URL such as ``/trace?trace_id=...&range=7d`` reopens the same view; Streamlit keeps a
bound value across page switches. Defaults are left out of the URL. API keys never go into a URL.

The project is the API key's: every read is scoped to it. The sidebar lets a person paste another project's
key for this browser session; the settings (and so every cached answer) follow it on every page.

A bound widget's value cannot be changed once the widget is drawn in a run: ``set_widget_value`` stores the
new value and reruns, and the app applies it before any page draws (``apply_pending_widget_values``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import streamlit as st

from .api_client import ApiError
from .data import fetch_routes
from .figures import template_for
from .settings import DashboardSettings, dashboard_settings
from .timerange import DEFAULT_RANGE, RANGES, TimeWindow, time_window

__all__ = [
    "EMPTY_MESSAGE",
    "PAGES_DIR",
    "RANGE_PARAM",
    "REPLAY_PAGE",
    "SESSIONS_PAGE",
    "TRACE_PAGE",
    "TRACE_PARAM",
    "apply_pending_widget_values",
    "count_run",
    "current_settings",
    "current_window",
    "has_route",
    "open_trace",
    "plotly_template",
    "project_selector",
    "set_widget_value",
    "show_api_error",
    "show_unavailable",
    "time_range_selector",
]

PAGES_DIR = Path(__file__).resolve().parent / "pages_"
TRACE_PAGE = PAGES_DIR / "trace.py"
SESSIONS_PAGE = PAGES_DIR / "sessions.py"
REPLAY_PAGE = PAGES_DIR / "replay.py"
RANGE_PARAM = "range"
TRACE_PARAM = "trace_id"
EMPTY_MESSAGE = "No traces yet: run `tracehouse demo` to load sample traffic."

_SETTINGS = "tracehouse.settings"
_ENV_KEY = "tracehouse.env_api_key"  # the key the session started with (environment), to go back to
_KEY_INPUT = "tracehouse.api_key_input"
_PENDING = "tracehouse.pending_widget_values"
_RUNS = "tracehouse.runs"


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


def project_selector() -> None:
    """The sidebar's project: whose key reads are made with, and a field to switch to another project's key
    for this session (kept in session state only, never in the URL)."""
    settings = current_settings()
    if _ENV_KEY not in st.session_state:
        st.session_state[_ENV_KEY] = settings.api_key
    with st.sidebar.expander("Project", icon=":material/folder_open:"):
        typed = st.text_input(
            "Project API key", type="password", key=_KEY_INPUT, placeholder="paste a key with the read scope",
            help="Reads are scoped to the key's project. Blank: the key the dashboard was started with "
                 "(TRACEHOUSE_API_KEY).",
        ).strip()  # fmt: skip
        wanted = typed or st.session_state[_ENV_KEY]
        if wanted != settings.api_key:
            settings = dataclasses.replace(settings, api_key=wanted)
            st.session_state[_SETTINGS] = settings
        source = "entered here" if typed else "from TRACEHOUSE_API_KEY"
        st.caption(f"Key `…{settings.api_key[-4:]}` ({source})" if settings.api_key else
                   "No API key: set TRACEHOUSE_API_KEY or paste one above.")


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


def count_run() -> None:
    """Called by the app at the start of every run: ``plotly_template`` needs to know the session's first."""
    st.session_state[_RUNS] = st.session_state.get(_RUNS, 0) + 1


def plotly_template() -> str:
    """The charts' template for the app's theme.

    On a session's first run Streamlit reports the browser's colour-scheme preference, not the app's theme
    (streamlit#11920), so a server started with ``--theme.base dark`` would get light charts: then the
    configured base wins. Later runs report the theme as shown. Unknown (no browser): a neutral template.
    """
    configured = st.get_option("theme.base")
    if st.session_state.get(_RUNS, 1) <= 1 and configured in ("light", "dark"):
        return template_for(configured)
    return template_for(st.context.theme.type)


def show_api_error(err: ApiError) -> None:
    st.error(str(err), icon=":material/cloud_off:" if err.status_code is None else ":material/error:")


def open_trace(trace_id: str) -> None:
    """Switch to the Trace page for ``trace_id`` (ends this run)."""
    st.switch_page(TRACE_PAGE, query_params={TRACE_PARAM: trace_id})


def set_widget_value(key: str, value: Any, **more: Any) -> None:
    """Give the widget ``key`` (and the widgets named in ``more``) new values on a fresh run (ends this run)."""
    st.session_state.setdefault(_PENDING, {}).update({key: value, **more})
    st.rerun()


def apply_pending_widget_values() -> None:
    """Called by the app before any page draws: values from ``set_widget_value`` become widget state."""
    for key, value in st.session_state.pop(_PENDING, {}).items():
        st.session_state[key] = value


def has_route(method: str, path: str) -> bool | None:
    """Whether the collector serves ``method path`` (a path template as in its OpenAPI schema, such as
    ``/api/v1/analytics/clusters/runs/{run_id}``); ``None`` when its schema cannot be read, in which case the
    page should try the call and treat ``ApiError.route_missing`` as "not yet"."""
    try:
        routes = fetch_routes(current_settings())
    except ApiError:
        return None
    return method.lower() in routes.get(path, ())


def show_unavailable(what: str, endpoint: str, meanwhile: str = "") -> None:
    """The empty state of a page whose endpoint this collector does not serve yet: what the page will show,
    which endpoint it waits for, and what to do now. Never an error: nothing is broken."""
    st.info(
        f"{what}\n\nThis collector does not serve `{endpoint}` yet. The page lights up by itself once the "
        f"collector is upgraded to a version that does: nothing to configure here."
        + (f"\n\n{meanwhile}" if meanwhile else ""),
        icon=":material/hourglass_empty:",
    )
