"""Cost: spend by tenant, model and day; daily budgets per tenant and who is over them; CSV export."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from tracehouse.dashboard import session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.budgets import (
    NO_MODEL,
    NO_TENANT,
    Budgets,
    budget_status,
    cost_by_group,
    cost_export,
    to_csv,
)
from tracehouse.dashboard.data import fetch_metrics
from tracehouse.dashboard.figures import build_budget_figure, build_cost_figure
from tracehouse.dashboard.figures import SERIES_COLORS
from tracehouse.dashboard.formatting import format_count, format_usd
from tracehouse.dashboard.frames import metrics_to_frame

BUDGETS = "tracehouse.budgets"  # session state: {"default": float | None, "per_tenant": {tenant: float}}
_DEFAULT_INPUT = "cost.budget_default"
_EDITOR = "cost.budget_editor"

_BY_GROUP = {
    "group": st.column_config.TextColumn("Name"),
    "cost_usd": st.column_config.NumberColumn("Cost", format="$%.4f"),
    "share": st.column_config.ProgressColumn("Share", format="percent", min_value=0.0, max_value=1.0,
                                             color=SERIES_COLORS[0]),  # not the theme's red: red means error
    "spans": st.column_config.NumberColumn("Spans"),
    "input_tokens": st.column_config.NumberColumn("In tokens"),
    "output_tokens": st.column_config.NumberColumn("Out tokens"),
}
_STATUS = {
    "tenant": st.column_config.TextColumn("Tenant"),
    "status": st.column_config.TextColumn("Status"),
    "budget_usd": st.column_config.NumberColumn("Budget", format="$%.2f", help="Per UTC day"),
    "today_usd": st.column_config.NumberColumn("Today", format="$%.4f"),
    "peak_usd": st.column_config.NumberColumn("Peak day", format="$%.4f"),
    "days_over": st.column_config.NumberColumn("Days over"),
    "total_usd": st.column_config.NumberColumn("Total", format="$%.4f"),
}


def current_budgets() -> Budgets:
    stored = st.session_state.get(BUDGETS) or {}
    return Budgets(stored.get("default"), dict(stored.get("per_tenant") or {}))


def _save_default() -> None:
    stored = st.session_state.setdefault(BUDGETS, {})
    stored["default"] = st.session_state[_DEFAULT_INPUT] or None


def _budget_inputs(tenants: list[str]) -> Budgets:
    """Sidebar inputs; the values live in session state, so they outlast a visit to another page."""
    budgets = current_budgets()
    st.sidebar.subheader("Daily budgets", divider="gray")
    st.sidebar.number_input(
        "Every tenant (USD per day)", min_value=0.0, value=budgets.default or 0.0, step=1.0, format="%.2f",
        key=_DEFAULT_INPUT, on_change=_save_default, help="0 means no budget. A tenant's own budget below wins.",
    )  # fmt: skip
    budgets = current_budgets()
    if tenants:
        table = pd.DataFrame({"tenant": tenants,
                              "budget": [budgets.per_tenant.get(t) for t in tenants]}).astype({"budget": "float64"})
        edited = st.sidebar.data_editor(
            table, key=_EDITOR, hide_index=True, disabled=["tenant"], width="stretch",
            column_config={"tenant": st.column_config.TextColumn("Tenant"),
                           "budget": st.column_config.NumberColumn("$ / day", min_value=0.0, format="%.2f",
                                                                   help="This tenant's own daily budget")},
        )  # fmt: skip
        per_tenant = {row.tenant: float(row.budget) for row in edited.itertuples() if pd.notna(row.budget)}
        stored = st.session_state.setdefault(BUDGETS, {})
        stored["per_tenant"] = {**{k: v for k, v in (stored.get("per_tenant") or {}).items() if k not in tenants},
                                **per_tenant}
    return current_budgets()


def render() -> None:
    st.title("Cost")
    settings, window, template = session.current_settings(), session.current_window(), session.plotly_template()
    st.caption(f"{window.label}, per UTC day (the first and last days are partial). Cost is what the collector "
               "priced from token counts, or what the client reported.")
    try:
        with st.spinner("Loading cost by tenant and model…"):
            by_tenant = metrics_to_frame(fetch_metrics(settings, window.start_param, window.end_param, "day",
                                                       "tenant")["items"])
            by_model = metrics_to_frame(fetch_metrics(settings, window.start_param, window.end_param, "day",
                                                      "model")["items"])
    except ApiError as err:
        session.show_api_error(err)
        return
    if by_tenant.empty:
        st.info(f"No spans in this time range. {session.EMPTY_MESSAGE}", icon=":material/info:")
        return

    tenants = cost_by_group(by_tenant)
    models = cost_by_group(by_model[by_model["cost_usd"].fillna(0) > 0], NO_MODEL)
    budgets = _budget_inputs([t for t in tenants["group"] if t != NO_TENANT])
    status = budget_status(by_tenant, budgets, pd.Timestamp(datetime.now(timezone.utc)))
    over_today = status[status["status"] == "over today"]
    over_any = status[status["days_over"] > 0]

    total = float(tenants["cost_usd"].sum())
    days = max(by_tenant["time"].nunique(), 1)
    has_budgets = bool(budgets.default or budgets.per_tenant)
    tiles = st.columns(4)
    tiles[0].metric("Total cost", format_usd(total, compact=True), help=format_usd(total))
    tiles[1].metric("Per day", format_usd(total / days, compact=True),
                    help=f"{format_usd(total / days)}: the mean over {days} day(s) with traffic")
    tiles[2].metric("Tenants", format_count(int((tenants["group"] != NO_TENANT).sum())))
    tiles[3].metric("Over budget today",
                    f"{len(over_today)} tenant{'s' if len(over_today) != 1 else ''}" if has_budgets else "—",
                    help=None if has_budgets else "Set daily budgets in the sidebar")
    leaders = []
    for what, frame in (("Top tenant", tenants), ("top model", models)):
        if total > 0 and not frame.empty:
            top = frame.iloc[0]
            leaders.append(f"{what} **{top['group']}** ({format_usd(float(top['cost_usd']))}, {top['share']:.0%})")
    if leaders:
        st.markdown("; ".join(leaders))

    x_range = (window.start, window.end)
    left, right = st.columns(2)
    left.plotly_chart(build_cost_figure(by_tenant, template=template, x_range=x_range, title="Cost by tenant"),
                      theme=None)
    right.plotly_chart(build_cost_figure(by_model, template=template, x_range=x_range, title="Cost by model"),
                       theme=None)
    left.dataframe(tenants, hide_index=True, column_order=list(_BY_GROUP),
                   column_config={**_BY_GROUP, "group": st.column_config.TextColumn("Tenant")})
    right.dataframe(models, hide_index=True, column_order=list(_BY_GROUP),
                    column_config={**_BY_GROUP, "group": st.column_config.TextColumn("Model")})

    st.subheader("Budgets")
    if not has_budgets:
        st.info("No budgets yet: set a daily budget for every tenant, or per tenant, in the sidebar.",
                icon=":material/savings:")
    elif over_any.empty:
        st.success("Every tenant stayed within its daily budget in this time range.", icon=":material/check:")
    else:
        names = ", ".join(f"**{t}**" for t in over_any["tenant"])
        st.warning(f"Over budget in this time range: {names}.", icon=":material/warning:")
    chart, table = st.columns([5, 7])
    chart.plotly_chart(build_budget_figure(status, template=template), theme=None)
    table.dataframe(status, hide_index=True, column_order=list(_STATUS), column_config=_STATUS)

    st.subheader("Export")
    stamp = f"{window.start:%Y%m%d}-{window.end:%Y%m%d}"
    dl_tenant, dl_model = st.columns(2)
    dl_tenant.download_button("Cost by tenant and day (CSV)", to_csv(cost_export(by_tenant)),
                              file_name=f"tracehouse-cost-by-tenant-{stamp}.csv", mime="text/csv",
                              icon=":material/download:", key="cost.csv.tenant")
    dl_model.download_button("Cost by model and day (CSV)", to_csv(cost_export(by_model, NO_MODEL)),
                             file_name=f"tracehouse-cost-by-model-{stamp}.csv", mime="text/csv",
                             icon=":material/download:", key="cost.csv.model")


if __name__ == "__main__":
    render()
