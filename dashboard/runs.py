"""Analytics runs on a page (Streamlit glue): start one, follow it until it is done, show why it failed.

The contract (DESIGN section 6): ``POST .../runs`` answers ``{run_id, status}`` at once; ``GET .../runs/{run_id}``
is polled until ``status`` is ``done`` or ``failed``. The run id lives in a widget bound to the URL, so a
finished report is a link that can be shared.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import streamlit as st

from . import session
from .api_client import ApiError
from .data import fetch_run, post_json

__all__ = ["POLL_INTERVAL_S", "TERMINAL", "follow_run", "start_run"]

POLL_INTERVAL_S = 2.0
TERMINAL = frozenset({"done", "failed"})


def start_run(path: str, body: Mapping[str, Any], run_widget: str, *, unavailable: str, endpoint: str) -> None:
    """``POST`` a new run and show it (ends this run), or explain why it could not start."""
    try:
        answer = post_json(session.current_settings(), path, body)
    except ApiError as err:
        if err.route_missing:
            session.show_unavailable(unavailable, endpoint)
        else:
            session.show_api_error(err)
        return
    run_id = str(answer.get("run_id") or "") if isinstance(answer, dict) else ""
    if not run_id:
        st.error(f"The collector accepted the request but returned no run id: {answer!r}")
        return
    session.set_widget_value(run_widget, run_id)


def follow_run(path: str, run_id: str, what: str) -> Mapping[str, Any] | None:
    """The finished run at ``path``, or ``None`` after saying why there is none to show (unknown id, failed).
    While the run is still going, shows its progress and reruns the page every ``POLL_INTERVAL_S``."""
    try:
        run = fetch_run(session.current_settings(), path)
    except ApiError as err:
        if err.status_code == 404:
            st.warning(f"No {what} run `{run_id}` in this project: it may have expired. Start a new one.",
                       icon=":material/search_off:")
        else:
            session.show_api_error(err)
        return None
    status = str(run.get("status") or "unknown")
    if status == "failed":
        reason = run.get("reason") or run.get("error") or run.get("detail") or "no reason given"
        st.error(f"The {what} run `{run_id}` failed: {reason}", icon=":material/error:")
        return None
    if status not in TERMINAL:
        with st.spinner(f"The {what} run `{run_id}` is {status}; this page refreshes until it is done…"):
            time.sleep(POLL_INTERVAL_S)
        st.rerun()
    return run
