"""Human-readable numbers for tiles and tables. Pure; a missing value (None or NaN) reads as an em dash."""

from __future__ import annotations

import math

__all__ = ["MISSING", "format_count", "format_duration_ms", "format_percent", "format_usd"]

MISSING = "—"


def _missing(value: float | int | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_count(value: int | float | None) -> str:
    return MISSING if _missing(value) else f"{int(value):,}"


def format_duration_ms(value: float | None) -> str:
    if _missing(value):
        return MISSING
    if value < 1:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.2f} s"
    return f"{value / 60_000:.1f} min"


def format_percent(rate: float | None) -> str:
    """``rate`` is a fraction (0.042 -> "4.2%")."""
    return MISSING if _missing(rate) else f"{rate * 100:.1f}%"


def format_usd(value: float | None) -> str:
    """Dollars; below a cent, three significant digits in plain notation ($0.000081), never 8.1e-05."""
    if _missing(value):
        return MISSING
    if value == 0 or abs(value) >= 0.01:
        return f"${value:,.2f}" if abs(value) >= 1 or value == 0 else f"${value:.4f}"
    decimals = -math.floor(math.log10(abs(value))) + 2
    return f"${value:.{decimals}f}"
