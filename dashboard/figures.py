"""Pure Plotly figure builders: a DataFrame (or a trace's span list) in, a ``go.Figure`` out.

No Streamlit here, so every builder is tested on hand-made frames. Metrics builders take the frame from
``metrics_to_frame``: with one group they draw one series, with several (``group_by`` was set) one series per
group. An empty frame gives a figure that says so instead of empty axes. ``template`` is a Plotly template
name (``template_for`` picks it from Streamlit's theme type; ``NEUTRAL_TEMPLATE`` when the type is not known,
which Streamlit warns happens on a session's first load: transparent backgrounds and grey text that read on a
light and a dark app alike); ``x_range``, when given, fixes the time axis to the selected window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from .frames import metrics_to_frame, span_tree_frame, spans_to_frame

__all__ = [
    "DARK_TEMPLATE",
    "ERROR_COLOR",
    "KIND_COLORS",
    "LIGHT_TEMPLATE",
    "NEUTRAL_TEMPLATE",
    "NO_DATA",
    "SERIES_COLORS",
    "SIGNAL_COLORS",
    "VERDICT_COLORS",
    "build_budget_figure",
    "build_cluster_map_figure",
    "build_cost_figure",
    "build_drift_figure",
    "build_error_rate_figure",
    "build_latency_figure",
    "build_score_figure",
    "build_signal_heatmap_figure",
    "build_signal_trend_figure",
    "build_tokens_figure",
    "build_volume_figure",
    "build_waterfall_figure",
    "metrics_to_frame",  # re-exported: the frames a page hands to these builders
    "spans_to_frame",
    "template_for",
]

LIGHT_TEMPLATE = "plotly_white"
NEUTRAL_TEMPLATE = "tracehouse-neutral"  # not a Plotly template: plotly_white made transparent, see _base
_NEUTRAL_TEXT = "#808495"  # Streamlit's own grey for secondary text, legible on white and on near-black
_NEUTRAL_GRID = "rgba(128, 128, 128, 0.25)"
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
# Quality signals (see signals.py): red is the error, the rest warm-to-grey by how bad they usually are.
SIGNAL_COLORS = {"error": ERROR_COLOR, "content filter": "#AB63FA", "refusal": "#FFA15A", "truncated": "#FECB52",
                 "empty": "#8C8C8C", "ok": "#00CC96"}
# Drift verdicts as the API spells them (analytics/drift.py: drift, no_drift, insufficient_data); anything else
# (an older collector's "ok", say) is grey.
VERDICT_COLORS = {"drift": ERROR_COLOR, "no_drift": "#00CC96", "insufficient_data": "#8C8C8C"}
_NEUTRAL = "#8C8C8C"
MAX_COST_SERIES = 10  # stacked cost series before the rest become "N others"
MAX_BUDGET_ROWS = 20  # tenants in the budget chart (the table below it has them all)
_ROW_PX = 26
_LABEL_CHARS = 40  # longer span names are cut in the timeline's left column (hover shows them whole)
_INDENT_PX = 14
_CHAR_PX = 7  # rough width of a 12 px label character, to size the left margin

XRange = tuple[datetime, datetime] | None  # (start, end) of the time axis


def template_for(theme_type: str | None) -> str:
    """``plotly_dark`` for a dark Streamlit theme, ``plotly_white`` for a light one, ``NEUTRAL_TEMPLATE`` when
    the theme is not known."""
    if theme_type == "dark":
        return DARK_TEMPLATE
    return LIGHT_TEMPLATE if theme_type == "light" else NEUTRAL_TEMPLATE


def _set_template(fig: go.Figure, name: str) -> None:
    """``fig.layout.template = name`` without validating the registered template again. Validation walks the
    whole template (defaults for every trace type): tens of milliseconds, most of the cost of building one of
    these figures. Plotly applies its default template the same way, trusting registered templates
    (``BaseFigure._initialize_layout_template``); ``test_template_and_window_are_applied`` pins the result."""
    layout = fig.layout
    validate, layout._validate = layout._validate, False
    try:
        layout.template = pio.templates[name]
    finally:
        layout._validate = validate


def _base(title: str, template: str, y_title: str, *, height: int = 320, x_range: XRange = None) -> go.Figure:
    fig = go.Figure()
    _set_template(fig, LIGHT_TEMPLATE if template == NEUTRAL_TEMPLATE else template)
    if x_range is not None:
        # The whole selected window, so quiet stretches show as quiet rather than being cropped away.
        fig.update_xaxes(range=list(x_range))
    fig.update_layout(
        title=title,
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hovermode="x unified",
        yaxis_title=y_title,
        colorway=SERIES_COLORS,
    )
    if template == NEUTRAL_TEMPLATE:
        fig.update_layout(paper_bgcolor="rgba(0, 0, 0, 0)", plot_bgcolor="rgba(0, 0, 0, 0)",
                          font_color=_NEUTRAL_TEXT, title_font_color=_NEUTRAL_TEXT)
        fig.update_xaxes(gridcolor=_NEUTRAL_GRID, zerolinecolor=_NEUTRAL_GRID, linecolor=_NEUTRAL_GRID)
        fig.update_yaxes(gridcolor=_NEUTRAL_GRID, zerolinecolor=_NEUTRAL_GRID, linecolor=_NEUTRAL_GRID)
    return fig


def _empty(fig: go.Figure, message: str = NO_DATA) -> go.Figure:
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font=dict(size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _legend_aside(fig: go.Figure) -> go.Figure:
    """Many or long series names: one legend entry per row right of the plot, where it cannot run into the
    title and every chart of a row keeps the same plot height."""
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=1.0, xanchor="left", x=1.02))
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
    df: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, x_range: XRange = None, title: str = "Error rate"
) -> go.Figure:
    """Error rate (%) per bucket, one line per group; error counts in the hover."""
    fig = _base(title, template, "% of spans", x_range=x_range)
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
    fig.update_layout(showlegend=not single)
    fig.update_yaxes(rangemode="tozero")
    return fig if single else _legend_aside(fig)


def build_latency_figure(
    df: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, x_range: XRange = None, title: str = "Latency"
) -> go.Figure:
    """p50/p95/p99 latency lines for one group; with several groups, one p95 line per group (fewer lines)."""
    fig = _base(title, template, "ms", x_range=x_range)
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
        _legend_aside(fig)
    fig.update_yaxes(rangemode="tozero")
    return fig


def build_cost_figure(
    df: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, x_range: XRange = None, title: str = "Cost",
    max_series: int = MAX_COST_SERIES,
) -> go.Figure:
    """Cost in USD per bucket, stacked by group (by model on the Overview); groups that cost nothing are left
    out, so tool and retrieval spans do not crowd the legend. Beyond the ``max_series`` most expensive groups,
    the rest are stacked as one "N others" series: a thousand tenants would be a thousand traces, slow to build,
    slow to draw and impossible to read."""
    fig = _base(title, template, "USD", x_range=x_range)
    totals = df.groupby("group")["cost_usd"].sum()
    ranked = totals[totals > 0].sort_values(ascending=False, kind="stable")
    if ranked.empty:
        return _empty(fig, NO_DATA if df.empty else "No priced spans in this time range")
    kept = ranked.index if len(ranked) <= max_series + 1 else ranked.index[:max_series]  # never "1 others"
    for label, rows in _groups(df[df["group"].isin(kept)]):
        fig.add_bar(x=rows["time"], y=rows["cost_usd"], name=label, hovertemplate="$%{y:,.4f}")
    rest = df[df["group"].isin(ranked.index.difference(kept))]
    if not rest.empty:
        others = rest.groupby("time", sort=True)["cost_usd"].sum()
        fig.add_bar(x=others.index, y=others.to_numpy(), name=f"{len(ranked) - len(kept)} others",
                    marker_color=_NEUTRAL, hovertemplate="$%{y:,.4f}")
    fig.update_layout(barmode="stack", showlegend=True)
    return _legend_aside(fig)


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


# -- cost and budgets ------------------------------------------------------------------------------------------

def build_budget_figure(status: pd.DataFrame, *, template: str = LIGHT_TEMPLATE,
                        max_rows: int = MAX_BUDGET_ROWS) -> go.Figure:
    """Each tenant's most expensive day (bar, red when over its budget) against its daily budget (marker).
    Input: ``budgets.budget_status`` rows, whose first ``max_rows`` (the furthest over, else the most
    expensive) are drawn; the title says how many of how many."""
    title = "Highest daily cost against budget"
    if len(status) > max_rows:
        title += f"<br><sup>the first {max_rows} of {len(status):,} tenants: furthest over, else costliest</sup>"
    shown = status.iloc[:max_rows]
    fig = _base(title, template, "", height=140 + 28 * max(len(shown), 1))
    if shown.empty:
        return _empty(fig)
    if len(status) > max_rows:
        fig.update_layout(margin=dict(t=75))  # room for the second line of the title
    rows = shown.iloc[::-1]  # the first row (furthest over) at the top
    over = rows["budget_usd"].notna() & (rows["peak_usd"] > rows["budget_usd"].astype("float64"))
    fig.add_bar(
        orientation="h", y=rows["tenant"], x=rows["peak_usd"], name="highest day",
        marker_color=[ERROR_COLOR if o else SERIES_COLORS[0] for o in over],
        customdata=rows[["peak_day", "days_over", "status"]].astype(str).to_numpy(),
        hovertemplate="%{y}: $%{x:,.4f} on %{customdata[0]}<br>%{customdata[2]}<extra></extra>",
    )  # fmt: skip
    budgeted = rows[rows["budget_usd"].notna()]
    if not budgeted.empty:
        fig.add_scatter(x=budgeted["budget_usd"], y=budgeted["tenant"], mode="markers", name="daily budget",
                        marker=dict(symbol="line-ns", size=22, line=dict(width=3, color="#FECB52")),
                        hovertemplate="budget $%{x:,.2f} per day<extra></extra>")
    fig.update_layout(hovermode="closest", showlegend=not budgeted.empty,
                      legend=dict(orientation="h", yanchor="top", y=-0.3, xanchor="left", x=0.0))
    fig.update_xaxes(title="USD per day", rangemode="tozero")
    return fig


# -- quality --------------------------------------------------------------------------------------------------

def build_signal_trend_figure(
    over_time: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, x_range: XRange = None
) -> go.Figure:
    """Share of LLM calls per failure signal per bucket, stacked (the rest were ok). Input:
    ``signals.signals_over_time``."""
    fig = _base("Failure signals of LLM calls", template, "% of calls", x_range=x_range)
    if over_time.empty:
        return _empty(fig)
    for signal, color in SIGNAL_COLORS.items():
        rows = over_time[over_time["signal"] == signal]
        if signal == "ok" or rows.empty or not rows["count"].any():
            continue
        fig.add_bar(x=rows["time"], y=rows["rate"] * 100, name=signal, marker_color=color,
                    customdata=rows[["count", "calls"]].to_numpy(),
                    hovertemplate="%{y:.1f}% (%{customdata[0]} of %{customdata[1]})")
    if not fig.data:
        return _empty(fig, "No failure signals in these calls")
    fig.update_layout(barmode="stack", showlegend=True)
    return _legend_aside(fig)


def build_signal_heatmap_figure(rates: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, title: str = "") -> go.Figure:
    """Groups (rows) by failure signal (columns), each cell the % of the group's calls. Input:
    ``signals.signal_rates``; the ``ok`` column is left out."""
    signals = [c for c in SIGNAL_COLORS if c != "ok" and c in rates.columns]
    fig = _base(title or "Failure signals by group", template, "", height=140 + 30 * max(len(rates), 1))
    if rates.empty:
        return _empty(fig)
    z = (rates[signals].astype("float64") * 100).to_numpy()
    labels = [f"{g} ({n})" for g, n in zip(rates["group"], rates["calls"])]
    fig.add_heatmap(
        z=z, x=signals, y=labels, zmin=0, zmax=max(float(z.max()), 1.0),
        # Transparent to red: reads the same on a light and a dark background.
        colorscale=[[0, "rgba(239,85,59,0.04)"], [1, "rgba(239,85,59,1)"]],
        texttemplate="%{z:.0f}%", hovertemplate="%{y}<br>%{x}: %{z:.1f}% of calls<extra></extra>",
        colorbar=dict(title="%"),
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(tickangle=0, tickmode="array", tickvals=signals,
                     ticktext=[name.replace(" ", "<br>") for name in signals])
    fig.update_layout(hovermode="closest")
    return fig


def build_score_figure(scores: pd.DataFrame, *, template: str = LIGHT_TEMPLATE, x_range: XRange = None,
                       interval: str = "hour") -> go.Figure:
    """Mean score per bucket, one line per score name. Input: rows with ``time``, ``name``, ``value``."""
    fig = _base("Scores", template, "mean value", x_range=x_range)
    if scores.empty:
        return _empty(fig, "No scores in this time range")
    freq = {"minute": "min", "hour": "h", "day": "D"}.get(interval, "h")
    buckets = (scores.assign(time=scores["time"].dt.floor(freq))
               .groupby(["name", "time"])["value"].agg(["mean", "count"]).reset_index())
    for name, rows in buckets.groupby("name", sort=True):
        fig.add_scatter(x=rows["time"], y=rows["mean"], name=str(name), mode="lines+markers",
                        customdata=rows[["count"]].to_numpy(), hovertemplate="%{y:.3f} (n=%{customdata[0]})")
    return fig


# -- analytics --------------------------------------------------------------------------------------------------

def build_cluster_map_figure(clusters: pd.DataFrame, members: pd.DataFrame | None = None, *,
                             template: str = LIGHT_TEMPLATE) -> go.Figure:
    """The failure-cluster map, coloured by failure lift (hover: the cluster's label). With ``members`` (a sample
    that spans the clusters), one point per member at its 2-D position; else one bubble per cluster, sized by
    its interactions, at its own 2-D position when the run gives one (``x, y``), else placed by size against
    failure rate. A page of members is no such sample: the API orders them by cluster, so it holds one or two.

    ``clusters``: ``cluster_id, label, size, failure_rate, lift`` (``x, y``); ``members``: ``cluster_id, x, y``."""
    fig = _base("Failure clusters", template, "", height=460)
    if clusters.empty:
        return _empty(fig, "No clusters in this run")
    info = clusters.set_index("cluster_id")
    lift_max = max(float(clusters["lift"].max() or 1.0), 1.0)
    color = dict(colorscale="RdYlBu_r", cmin=0, cmax=lift_max, colorbar=dict(title="lift"))
    placed = {"x", "y"} <= set(clusters.columns) and bool(clusters[["x", "y"]].notna().all(axis=None))
    if members is not None and not members.empty:
        points = members.join(info[["label", "lift", "failure_rate"]], on="cluster_id")
        # SVG, not WebGL: it draws a few hundred points sooner, and a browser without a GPU (a VM, a headless
        # test) would emulate WebGL on the CPU.
        fig.add_scatter(
            x=points["x"], y=points["y"], mode="markers", name="interactions",
            marker=dict(size=6, color=points["lift"], **color),
            customdata=points[["label", "lift", "failure_rate"]].to_numpy(),
            hovertemplate="%{customdata[0]}<br>lift %{customdata[1]:.2f}, failure rate "
                          "%{customdata[2]:.0%}<extra></extra>",
        )  # fmt: skip
    elif placed:
        fig.add_scatter(
            x=clusters["x"], y=clusters["y"], mode="markers+text", name="clusters",
            text=[_clip(str(t)) for t in clusters["label"]], textposition="top center",
            marker=dict(size=(clusters["size"] / clusters["size"].max()).pow(0.5).mul(45).add(8).tolist(),
                        color=clusters["lift"], line=dict(width=1, color="rgba(0, 0, 0, 0.3)"), **color),
            customdata=clusters[["label", "size", "failure_rate", "lift"]].to_numpy(),
            hovertemplate="%{customdata[0]}<br>%{customdata[1]:,.0f} interactions, %{customdata[2]:.0%} failed, "
                          "lift %{customdata[3]:.2f}<extra></extra>",
        )  # fmt: skip
        for axis, values in ((fig.update_xaxes, clusters["x"]), (fig.update_yaxes, clusters["y"])):
            pad = max(float(values.max() - values.min()), 1.0) * 0.15  # room for the bubbles and their labels
            axis(range=[float(values.min()) - pad, float(values.max()) + pad])
    else:
        fig.add_scatter(
            x=clusters["size"], y=clusters["failure_rate"] * 100, mode="markers+text", name="clusters",
            text=[_clip(str(t)) for t in clusters["label"]], textposition="top center",
            marker=dict(size=(clusters["size"] / clusters["size"].max() * 40 + 10).tolist(), color=clusters["lift"],
                        **color),
            customdata=clusters[["label", "lift"]].to_numpy(),
            hovertemplate="%{customdata[0]}<br>%{x} interactions, %{y:.1f}% failed, lift "
                          "%{customdata[1]:.2f}<extra></extra>",
        )  # fmt: skip
        fig.update_xaxes(title="interactions in the cluster")
        fig.update_yaxes(title="% failed", rangemode="tozero")
    if placed or members is not None and not members.empty:
        fig.update_xaxes(showticklabels=False, title="", zeroline=False)
        fig.update_yaxes(showticklabels=False, zeroline=False)
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


def build_drift_figure(signals: pd.DataFrame, *, template: str = LIGHT_TEMPLATE) -> go.Figure:
    """Effect size per drift signal, coloured by verdict; p-value and sample sizes in the hover. Input: the
    ``signals`` of a drift run (``name, statistic, p_value, effect_size, verdict, n_baseline, n_current``)."""
    fig = _base("Drift by signal", template, "", height=140 + 30 * max(len(signals), 1))
    if signals.empty:
        return _empty(fig, "No signals in this report")
    rows = signals.iloc[::-1]
    verdicts = rows["verdict"].fillna("").astype(str)
    fig.add_bar(
        orientation="h", y=rows["name"], x=pd.to_numeric(rows["effect_size"], errors="coerce"),
        marker_color=[VERDICT_COLORS.get(v.lower(), _NEUTRAL) for v in verdicts],
        customdata=rows[["verdict", "p_value", "n_baseline", "n_current"]].astype(str).to_numpy(),
        hovertemplate="%{y}: effect %{x:.3f}<br>%{customdata[0]}, p=%{customdata[1]}<br>"
                      "n=%{customdata[2]} baseline, %{customdata[3]} current<extra></extra>",
    )  # fmt: skip
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_xaxes(title="effect size", zeroline=True)
    return fig
