"""Pure Plotly figure builders: a DataFrame (or a trace's span list) in, a ``go.Figure`` out.

No Streamlit here, so every builder is tested on hand-made frames. Metrics builders take the frame from
``metrics_to_frame``: with one group they draw one series, with several (``group_by`` was set) one series per
group. An empty frame gives a figure that says so instead of empty axes. ``template`` is a Plotly template
name (``template_for`` picks it from Streamlit's theme type); ``x_range``, when given, fixes the time axis to
the selected window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

import pandas as pd
import plotly.graph_objects as go

from .frames import metrics_to_frame, span_tree_frame, spans_to_frame

__all__ = [
    "DARK_TEMPLATE",
    "ERROR_COLOR",
    "KIND_COLORS",
    "LIGHT_TEMPLATE",
    "NO_DATA",
    "SERIES_COLORS",
    "build_cost_figure",
    "build_error_rate_figure",
    "build_latency_figure",
    "build_tokens_figure",
    "build_volume_figure",
    "build_waterfall_figure",
    "metrics_to_frame",  # re-exported: the frames a page hands to these builders
    "spans_to_frame",
    "template_for",
]

LIGHT_TEMPLATE = "plotly_white"
DARK_TEMPLATE = "plotly_dark"
NO_DATA = "No data in this time range"
ERROR_COLOR = "#EF553B"
# No reds among the kinds, so an error bar is never mistaken for a kind.
KIND_COLORS = {
    "llm": "#636EFA",
    "embedding": "#00CC96",
    "tool": "#FFA15A",
    "retrieval": "#AB63FA",
    "agent": "#19D3F3",
    "chain": "#B6E880",
    "other": "#8C8C8C",
}
# Plotly's default colours without its reds, which mean "error" everywhere in the dashboard.
SERIES_COLORS = ["#636EFA", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#B6E880", "#FF97FF", "#FECB52"]
_ROW_PX = 26
_LABEL_CHARS = 40  # longer span names are cut in the timeline's left column (hover shows them whole)
_INDENT_PX = 14
_CHAR_PX = 7  # rough width of a 12 px label character, to size the left margin

XRange = tuple[datetime, datetime] | None  # (start, end) of the time axis


def template_for(theme_type: str | None) -> str:
    """``plotly_dark`` for a dark Streamlit theme, else ``plotly_white`` (also when the theme is unknown)."""
    return DARK_TEMPLATE if theme_type == "dark" else LIGHT_TEMPLATE


def _base(title: str, template: str, y_title: str, *, height: int = 320, x_range: XRange = None) -> go.Figure:
    fig = go.Figure()
    if x_range is not None:
        # The whole selected window, so quiet stretches show as quiet rather than being cropped away.
        fig.update_xaxes(range=list(x_range))
    fig.update_layout(
        title=title,
        template=template,
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hovermode="x unified",
        yaxis_title=y_title,
        colorway=SERIES_COLORS,
    )
    return fig


def _empty(fig: go.Figure, message: str = NO_DATA) -> go.Figure:
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font=dict(size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _groups(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per group in a stable order; the blank group is labelled for the legend."""
    many = df["group"].nunique() > 1
    out = []
    for name, rows in df.groupby("group", sort=True):
        label = str(name) if name else ("(none)" if many else "all")
        out.append((label, rows))
    return out


def _clip(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def build_volume_figure(
    df: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, x_range: XRange = None
) -> go.Figure:
    """Spans per bucket, stacked by group."""
    fig = _base("Volume", template, "spans", x_range=x_range)
    if df.empty:
        return _empty(fig)
    for label, rows in _groups(df):
        fig.add_bar(x=rows["time"], y=rows["spans"], name=label)
    fig.update_layout(barmode="stack", showlegend=df["group"].nunique() > 1)
    return fig


def build_error_rate_figure(
    df: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, x_range: XRange = None
) -> go.Figure:
    """Error rate (%) per bucket, one line per group; error counts in the hover."""
    fig = _base("Error rate", template, "% of spans", x_range=x_range)
    if df.empty:
        return _empty(fig)
    single = df["group"].nunique() == 1
    for label, rows in _groups(df):
        # Recomputed from the counts, so a bucket without spans is a gap, never a 0% that did not happen.
        rate = (rows["errors"] / rows["spans"].where(rows["spans"] > 0)) * 100
        fig.add_scatter(
            x=rows["time"], y=rate, name=label, mode="lines+markers",
            line_color=ERROR_COLOR if single else None,
            customdata=rows[["errors", "spans"]].to_numpy(),
            hovertemplate="%{y:.1f}% (%{customdata[0]} of %{customdata[1]})",
        )  # fmt: skip
    fig.update_layout(showlegend=df["group"].nunique() > 1)
    fig.update_yaxes(rangemode="tozero")
    return fig


def build_latency_figure(
    df: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, x_range: XRange = None
) -> go.Figure:
    """p50/p95/p99 latency lines for one group; with several groups, one p95 line per group (fewer lines)."""
    fig = _base("Latency", template, "ms", x_range=x_range)
    if df.empty:
        return _empty(fig)
    groups = _groups(df)
    if len(groups) == 1:
        rows = groups[0][1]
        for col, label in (("latency_p50_ms", "p50"), ("latency_p95_ms", "p95"), ("latency_p99_ms", "p99")):
            fig.add_scatter(x=rows["time"], y=rows[col], name=label, mode="lines",
                            hovertemplate="%{y:,.0f} ms")
    else:
        for label, rows in groups:
            fig.add_scatter(x=rows["time"], y=rows["latency_p95_ms"], name=f"{label} p95", mode="lines",
                            hovertemplate="%{y:,.0f} ms")
    fig.update_yaxes(rangemode="tozero")
    return fig


def build_cost_figure(
    df: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, x_range: XRange = None
) -> go.Figure:
    """Cost in USD per bucket, stacked by group (by model on the Overview); groups that cost nothing are left
    out, so tool and retrieval spans do not crowd the legend."""
    fig = _base("Cost", template, "USD", x_range=x_range)
    costed = df[df["group"].isin(df.groupby("group")["cost_usd"].sum().loc[lambda s: s > 0].index)]
    if costed.empty:
        return _empty(fig, NO_DATA if df.empty else "No priced spans in this time range")
    for label, rows in _groups(costed):
        fig.add_bar(x=rows["time"], y=rows["cost_usd"], name=label, hovertemplate="$%{y:,.4f}")
    fig.update_layout(barmode="stack", showlegend=True)
    return fig


def build_tokens_figure(
    df: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, x_range: XRange = None
) -> go.Figure:
    """Input and output tokens per bucket (summed over groups), stacked."""
    fig = _base("Tokens", template, "tokens", x_range=x_range)
    if df.empty:
        return _empty(fig)
    totals = df.groupby("time", sort=True)[["input_tokens", "output_tokens"]].sum().reset_index()
    fig.add_bar(x=totals["time"], y=totals["input_tokens"], name="input", marker_color=SERIES_COLORS[0])
    fig.add_bar(x=totals["time"], y=totals["output_tokens"], name="output", marker_color=SERIES_COLORS[1])
    fig.update_layout(barmode="stack")
    return fig


def build_waterfall_figure(spans: Iterable[Mapping[str, Any]], *, template: str = LIGHT_TEMPLATE) -> go.Figure:
    """A trace's timeline: one bar per span from its start offset to its end, rows in tree order with names
    indented by depth, coloured by kind, errored spans in red. Input: the ``spans`` of one trace's JSON."""
    df = span_tree_frame(spans)
    fig = _base("Timeline", template, "", height=120 + _ROW_PX * max(len(df), 1))
    if df.empty:
        return _empty(fig, "No spans in this trace")
    df["row"] = range(len(df))
    total = float((df["offset_ms"] + df["duration_ms"]).max())
    total = total if total > 0 else 1.0  # a trace of instant (or undated) spans
    # Instant spans would be invisible at width 0: draw them as a sliver, while hover shows the true duration.
    df["bar_ms"] = df["duration_ms"].clip(lower=total * 0.003)
    df["kind"] = df["kind"].fillna("other").where(df["kind"].isin(list(KIND_COLORS)), "other")
    df["series"] = df["kind"].where(df["status"] != "error", "error")

    for series, rows in df.groupby("series", sort=False):
        fig.add_bar(
            orientation="h", y=rows["row"], x=rows["bar_ms"], base=rows["offset_ms"], name=str(series),
            width=0.7,  # in rows; Plotly would size a lone bar by the whole axis and overlap its neighbours
            marker_color=ERROR_COLOR if series == "error" else KIND_COLORS[str(series)],
            customdata=rows[["name", "kind", "status", "duration_ms", "offset_ms"]].fillna("").to_numpy(),
            hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]} · %{customdata[2]}<br>"
                          "%{customdata[3]:,.1f} ms, starts at +%{customdata[4]:,.1f} ms<extra></extra>",
        )  # fmt: skip
    # Tree labels as left-aligned annotations in the left margin: y tick labels are right-aligned, which
    # would hide the indentation.
    names = [_clip(str(name or "(unnamed)")) for name in df["name"]]
    margin = 16 + _INDENT_PX * int(df["depth"].max()) + _CHAR_PX * max(len(name) for name in names)
    for row, depth, name in zip(df["row"], df["depth"], names):
        fig.add_annotation(text=name, x=0, xref="paper", y=row, yref="y", xanchor="left", showarrow=False,
                           xshift=-margin + 8 + _INDENT_PX * int(depth), font=dict(size=12))
    fig.update_yaxes(showticklabels=False, autorange="reversed", showgrid=False)
    fig.update_layout(margin=dict(l=margin))
    fig.update_xaxes(title="ms since trace start", rangemode="tozero")
    fig.update_layout(barmode="overlay", hovermode="closest")
    return fig
