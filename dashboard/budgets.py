"""Cost by day and group, daily budgets per tenant, and who is over them; CSV export. Pure.

Input frames are ``metrics_to_frame`` output fetched with ``interval=day`` (UTC days). Budgets are USD per
tenant per UTC day: a tenant's own budget, else the default, else none (a tenant without a budget is never
over). The first and last day of a window are partial days, which only ever makes them cheaper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

__all__ = [
    "BUDGET_COLUMNS",
    "COST_EXPORT_COLUMNS",
    "NO_MODEL",
    "NO_TENANT",
    "Budgets",
    "budget_status",
    "cost_by_group",
    "cost_export",
    "to_csv",
]

COST_EXPORT_COLUMNS = ("day", "group", "spans", "input_tokens", "output_tokens", "cost_usd")
BUDGET_COLUMNS = ("tenant", "budget_usd", "today_usd", "peak_day", "peak_usd", "days_over", "total_usd", "status")
NO_TENANT = "(no tenant)"
NO_MODEL = "(no model)"


@dataclass(frozen=True)
class Budgets:
    """Daily budgets in USD; ``None`` or a non-positive value means "no budget"."""

    default: float | None = None
    per_tenant: Mapping[str, float | None] = field(default_factory=dict)

    def for_tenant(self, tenant: str) -> float | None:
        value = self.per_tenant.get(tenant)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            value = self.default
        return float(value) if value is not None and value > 0 else None


def cost_export(df: pd.DataFrame, blank: str = NO_TENANT) -> pd.DataFrame:
    """A daily metrics frame -> ``COST_EXPORT_COLUMNS`` (``day`` as ``YYYY-MM-DD``), by day then cost; the blank
    group is called ``blank``."""
    out = df.assign(day=df["time"].dt.strftime("%Y-%m-%d"), group=df["group"].replace("", blank))
    out = out[list(COST_EXPORT_COLUMNS)].copy()
    out["cost_usd"] = out["cost_usd"].fillna(0.0)
    return out.sort_values(["day", "cost_usd"], ascending=[True, False], kind="stable").reset_index(drop=True)


def to_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a header row and no index: what a spreadsheet opens as is."""
    return df.to_csv(index=False).encode("utf-8")


def cost_by_group(df: pd.DataFrame, blank: str = NO_TENANT) -> pd.DataFrame:
    """Totals per group over the window: spans, tokens, cost and share of cost; most expensive first; the
    blank group is called ``blank``."""
    columns = ["group", "spans", "input_tokens", "output_tokens", "cost_usd", "share"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    totals = (df.assign(cost_usd=df["cost_usd"].fillna(0.0))
              .groupby("group", sort=False)[["spans", "input_tokens", "output_tokens", "cost_usd"]].sum())
    total = totals["cost_usd"].sum()
    totals["share"] = totals["cost_usd"] / total if total > 0 else 0.0
    totals = totals.reset_index()
    totals["group"] = totals["group"].replace("", blank)
    return totals[columns].sort_values(["cost_usd", "spans"], ascending=False, kind="stable").reset_index(drop=True)


def budget_status(daily_by_tenant: pd.DataFrame, budgets: Budgets, today: pd.Timestamp) -> pd.DataFrame:
    """One row per tenant (``BUDGET_COLUMNS``): its budget (NaN: none), today's cost, its most expensive day, how
    many days it went over, and a ``status`` of "over today", "over N days", "within" or "no budget".
    Tenants over budget come first, the furthest over at the top. Vectorized: thousands of tenants are common."""
    if daily_by_tenant.empty:
        return pd.DataFrame(columns=list(BUDGET_COLUMNS))
    df = daily_by_tenant.assign(cost_usd=daily_by_tenant["cost_usd"].fillna(0.0),
                                tenant=daily_by_tenant["group"].replace("", NO_TENANT))
    today = pd.Timestamp(today)
    day = (today.tz_localize("UTC") if today.tzinfo is None else today.tz_convert("UTC")).floor("D")
    per_day = df.groupby(["tenant", "time"], sort=True)["cost_usd"].sum()
    by_tenant = per_day.groupby(level="tenant", sort=True)
    tenants = by_tenant.sum().index
    budget = pd.Series([budgets.for_tenant(str(t)) for t in tenants], index=tenants, dtype="float64")
    day_budget = budget.reindex(per_day.index.get_level_values("tenant")).to_numpy()
    days_over = (per_day > day_budget).groupby(level="tenant", sort=True).sum().astype("int64")  # NaN: never over
    times = per_day.index.get_level_values("time")
    today_cost = per_day[times == day].droplevel("time").reindex(tenants, fill_value=0.0)
    status = [
        "no budget" if pd.isna(b) else "over today" if t > b else f"over {n} day{'s' if n > 1 else ''}" if n
        else "within"
        for b, t, n in zip(budget, today_cost, days_over)
    ]
    out = pd.DataFrame({
        "tenant": tenants, "budget_usd": budget.to_numpy(), "today_usd": today_cost.to_numpy(),
        "peak_day": [ix[1] for ix in by_tenant.idxmax()], "peak_usd": by_tenant.max().to_numpy(),
        "days_over": days_over.to_numpy(), "total_usd": by_tenant.sum().to_numpy(), "status": status,
    }, columns=list(BUDGET_COLUMNS))  # fmt: skip
    ratio = out["peak_usd"] / out["budget_usd"]
    ranks = {"_today": out["status"] == "over today", "_ratio": ratio.fillna(-1.0)}
    out = out.assign(**ranks).sort_values(["_today", "days_over", "_ratio", "total_usd"], ascending=False,
                                          kind="stable")
    return out.drop(columns=list(ranks)).reset_index(drop=True)
