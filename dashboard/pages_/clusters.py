"""Failure clusters: similar interactions grouped, ranked by how much more often they fail than traffic overall.

Reads the analytics contract (DESIGN section 6): ``POST /api/v1/analytics/clusters/runs`` starts a run over the
selected time range; ``GET .../runs/{run_id}`` has the clusters, ``GET .../runs/{run_id}/members`` their 2-D map.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from tracehouse.dashboard import runs, session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.data import fetch_json
from tracehouse.dashboard.figures import build_cluster_map_figure
from tracehouse.dashboard.formatting import format_count, format_percent
from tracehouse.dashboard.frames import clusters_to_frame

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


def _members(run_id: str) -> pd.DataFrame | None:
    try:
        body = fetch_json(session.current_settings(), f"{RUNS_PATH}/{run_id}/members", {"limit": 1000})
    except ApiError:
        return None  # the map falls back to one bubble per cluster
    df = pd.DataFrame.from_records(body.get("items") or [] if isinstance(body, dict) else [])
    if df.empty or not {"cluster_id", "x", "y"} <= set(df.columns):
        return None
    return df


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


def _report(run: dict[str, Any], run_id: str, template: str) -> None:
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
    st.plotly_chart(build_cluster_map_figure(clusters, _members(run_id), template=template), theme=None)
    st.dataframe(clusters, hide_index=True, column_order=list(_TABLE), column_config=_TABLE)
    st.subheader("Examples")
    choice = st.selectbox("Cluster", range(len(clusters)), format_func=lambda i: str(clusters.loc[i, "label"]),
                          key="clusters.pick")
    examples = clusters.loc[choice, "examples"] or []
    if not examples:
        st.caption("No examples in this cluster.")
    for example in examples[:10]:
        _example(example)


def render() -> None:
    st.title("Failure clusters")
    window, template = session.current_window(), session.plotly_template()
    if session.has_route("post", RUNS_PATH) is False:
        session.show_unavailable(UNAVAILABLE, f"POST {RUNS_PATH}", MEANWHILE)
        return
    start, run_box = st.columns([2, 3], vertical_alignment="bottom")
    run_id = run_box.text_input("Run id", key=RUN_PARAM, bind="query-params",
                                placeholder="a finished run's id, or start one").strip()
    if start.button(f"Cluster the {window.label.lower()}", icon=":material/play_arrow:", type="primary"):
        runs.start_run(RUNS_PATH, {"start": window.start_param, "end": window.end_param}, RUN_PARAM,
                       unavailable=UNAVAILABLE, endpoint=f"POST {RUNS_PATH}")
        return
    if not run_id:
        st.info(f"Start a clustering run over the {window.label.lower()} with the button above. It runs on the "
                "collector and may take a minute on a busy day; this page follows it.", icon=":material/info:")
        return
    run = runs.follow_run(f"{RUNS_PATH}/{run_id}", run_id, "clustering")
    if run is not None:
        _report(dict(run), run_id, template)


if __name__ == "__main__":
    render()
