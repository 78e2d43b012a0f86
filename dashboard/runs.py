"""Analytics runs on a page (Streamlit glue): pick one (the newest finished by default), start one, follow it
until it is done, show why it failed.

The contract (DESIGN section 6): ``POST .../runs`` answers ``{run_id, status}`` at once; ``GET .../runs/{run_id}``
is polled until ``status`` is ``done`` or ``failed``; ``GET .../runs`` lists the project's runs, newest first.

The run shown is ``?{run_param}=`` when the URL names one (a shared link), else the newest finished run. The
picker lists the project's recent runs by date and outcome; choosing one, or starting one, writes its id into
the URL, so a report is a link that can be shared. The parameter is not bound to a widget: a bound select box
would write its *label* into the URL, and could not hold a run older than the list.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

import streamlit as st

from . import session
from .api_client import ApiError
from .data import fetch_run, fetch_runs, post_json
from .runlist import newest_done, run_options

__all__ = ["POLL_INTERVAL_S", "TERMINAL", "choose_run", "follow_run", "list_runs", "start_run"]

POLL_INTERVAL_S = 2.0
TERMINAL = frozenset({"done", "failed"})


def list_runs(path: str) -> list[dict[str, Any]] | None:
    """The project's runs at ``path``, newest first ([] from a collector without the list route); ``None`` when
    the call failed, after showing why (a run named in the URL can still be opened)."""
    try:
        return fetch_runs(session.current_settings(), path)
    except ApiError as err:
        if err.route_missing:
            return []
        session.show_api_error(err)
        return None


def choose_run(where: Any, listed: Sequence[Mapping[str, Any]], run_param: str, *,
               label: Callable[[Mapping[str, Any]], str], what: str) -> str:
    """The id of the run to show ("" when there is none): the URL's, else the newest finished. With runs to
    choose from, draws a select box of them into ``where`` (a column or container)."""
    wanted = str(st.query_params.get(run_param) or "").strip()
    run_id = wanted or newest_done(listed)
    options = run_options(listed, run_id)
    if not options:
        return ""
    labels = {str(r["run_id"]): label(r) for r in listed if r.get("run_id")}
    key = f"{run_param}.pick"
    st.session_state[key] = run_id or options[0]  # follows the URL on every run; set before the box is drawn

    def picked() -> None:
        st.query_params[run_param] = st.session_state[key]

    where.selectbox(f"{what.capitalize()} run", options, key=key, on_change=picked,
                    format_func=lambda rid: labels.get(rid, f"run {rid}"),
                    help="The project's recent runs, newest first. Without a run in the link, the newest "
                         "finished one opens.")  # fmt: skip
    if not run_id:  # runs exist, none finished yet: follow the newest
        run_id = options[0]
    newest = listed[0] if listed else {}
    if not wanted and newest.get("status") not in TERMINAL and str(newest.get("run_id")) != run_id:
        st.caption(f"A newer {what} run is {newest.get('status')}: pick it above to follow it.")
    return run_id


def start_run(path: str, body: Mapping[str, Any], run_param: str, *, unavailable: str, endpoint: str) -> None:
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
    fetch_runs.clear()  # the picker lists the new run at once
    st.query_params[run_param] = run_id
    st.rerun()


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
        progress = run.get("progress")
        done = f" ({progress:.0%})" if isinstance(progress, (int, float)) and progress > 0 else ""
        with st.spinner(f"The {what} run `{run_id}` is {status}{done}; this page refreshes until it is done…"):
            time.sleep(POLL_INTERVAL_S)
        st.rerun()
    return run
