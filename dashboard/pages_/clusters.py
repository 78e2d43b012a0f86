"""Failure clusters: similar interactions grouped, ranked by how much more often they fail than traffic overall.

Reads the analytics contract (DESIGN section 6): ``GET /api/v1/analytics/clusters/runs`` lists the project's runs
(the newest finished one opens by default, older ones are a pick away); ``POST .../runs`` starts one over the
selected time range; ``GET .../runs/{run_id}`` has the clusters, with their place on the run's 2-D map.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from tracehouse.dashboard import runs, session
from tracehouse.dashboard.figures import build_cluster_map_figure
from tracehouse.dashboard.formatting import format_count, format_duration_ms, format_percent
from tracehouse.dashboard.frames import clusters_to_frame
from tracehouse.dashboard.runlist import cluster_run_label, describe_window

RUNS_PATH = "/api/v1/analytics/clusters/runs"
RUN_PARAM = "cluster_run"
UNAVAILABLE = (
    "**Failure clusters** will group similar interactions (by their input and output text), name each group by "
    "its distinctive terms and rank the groups by failure lift: how much more often they fail (errors, "
    "refusals, truncated or invalid output, negative feedback) than traffic overall. You will see a 2-D map "
    "coloured by lift, a ranked table, and example traces of each cluster."
)
MEANWHILE = "Meanwhile, the **Quality** page shows refusals, truncation and error rates by prompt version and model."

_TABLE = {
    "label": st.column_config.TextColumn("Cluster", width="large"),
    "size": st.column_config.NumberColumn("Interactions"),
    "failure_rate": st.column_config.NumberColumn("Failure rate", format="percent"),
    "lift": st.column_config.NumberColumn("Lift", format="%.2f×", help="Failure rate against traffic overall"),
    "top_failure_reasons": st.column_config.ListColumn("Top failure reasons"),
}


def _example(example: Any) -> None:
    if isinstance(example, dict):
        text = next((example[k] for k in ("text", "input_preview", "input_text", "input", "output_text", "output")
                     if example.get(k)), None)
        st.markdown(f"> {str(text)[:400]}" if text else "")
        if example.get("trace_id"):
            st.page_link(session.TRACE_PAGE, label=f"Trace {example['trace_id']}", icon=":material/account_tree:",
                         query_params={session.TRACE_PARAM: str(example["trace_id"])})
    else:
        st.markdown(f"> {str(example)[:400]}")


def _about(run: dict[str, Any], run_id: str) -> None:
    """Which run this is: its window, size and cost, so a report opened by default is never mistaken."""
    parts = [f"Run `{run_id}` over {describe_window(run)}"]
    if run.get("n_interactions") is not None:
        parts.append(f"{format_count(run.get('n_interactions'))} interactions, "
                     f"{format_percent(run.get('failure_rate'))} failed")
    if run.get("duration_ms"):
        parts.append(f"clustered in {format_duration_ms(run.get('duration_ms'))}")
    st.caption(" · ".join(parts))


def _report(run: dict[str, Any], run_id: str, template: str) -> None:
    _about(run, run_id)
    clusters = clusters_to_frame(run.get("clusters") or [])
    if clusters.empty:
        st.info("This run found no clusters: too few interactions in its time range.", icon=":material/info:")
        return
    tiles = st.columns(3)
    tiles[0].metric("Clusters", format_count(len(clusters)))
    tiles[1].metric("Interactions", format_count(clusters["size"].sum()))
    worst = clusters.iloc[0]
    tiles[2].metric("Highest lift", f"{worst['lift']:.2f}×", help=f"{worst['label']}: "
                    f"{format_percent(worst['failure_rate'])} failed")
    # One bubble per cluster at its place on the run's 2-D map: a page of ``.../members`` would not do, the API
    # orders members by cluster, so a page holds the first one or two clusters only.
    st.plotly_chart(build_cluster_map_figure(clusters, template=template), theme=None)
    st.dataframe(clusters, hide_index=True, column_order=list(_TABLE), column_config=_TABLE)
    st.subheader("Examples")
    choice = st.selectbox("Cluster", range(len(clusters)), format_func=lambda i: str(clusters.loc[i, "label"]),
                          key="clusters.pick")
    examples = clusters.loc[choice, "examples"] or []
    if not examples:
        st.caption("No examples in this cluster.")
    for example in examples[:10]:
        _example(example)


def _empty_state(window_label: str, since: str) -> None:
    st.info(
        "**No clustering runs in this project yet.** A run groups the interactions of a time window by what "
        "they are about, names each group by its distinctive terms and ranks the groups by failure lift: how "
        "much more often they fail than traffic overall.\n\n"
        f"Start one over the {window_label} with **Run clustering** above: it runs on the collector (about a "
        f"minute for a busy day) and this page follows it. From a terminal: `tracehouse analyze --since {since}`. "
        "A collector with scheduled jobs on also runs one every few hours; the newest finished run opens here.",
        icon=":material/bubble_chart:",
    )


def render() -> None:
    st.title("Failure clusters")
    window, template = session.current_window(), session.plotly_template()
    if session.has_route("post", RUNS_PATH) is False:
        session.show_unavailable(UNAVAILABLE, f"POST {RUNS_PATH}", MEANWHILE)
        return
    listed = runs.list_runs(RUNS_PATH)
    start, pick = st.columns([2, 3], vertical_alignment="bottom")
    if start.button(f"Run clustering over the {window.label.lower()}", icon=":material/play_arrow:",
                    type="primary"):
        runs.start_run(RUNS_PATH, {"start": window.start_param, "end": window.end_param}, RUN_PARAM,
                       unavailable=UNAVAILABLE, endpoint=f"POST {RUNS_PATH}")
        return
    run_id = runs.choose_run(pick, listed or [], RUN_PARAM, label=cluster_run_label, what="clustering")
    if not run_id:
        if listed is not None:  # else the error is shown
            _empty_state(window.label.lower(), window.key)  # range keys (1h, 7d) are the CLI's durations
        return
    run = runs.follow_run(f"{RUNS_PATH}/{run_id}", run_id, "clustering")
    if run is not None:
        _report(dict(run), run_id, template)


if __name__ == "__main__":
    render()
