"""Human-readable numbers for tiles and tables. Pure; a missing value (None or NaN) reads as an em dash."""

from __future__ import annotations

import math

__all__ = ["MISSING", "format_change", "format_count", "format_duration_ms", "format_percent", "format_prompt",
           "format_usd", "format_value", "format_version"]

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


def format_usd(value: float | None, *, compact: bool = False) -> str:
    """Dollars. Below a cent: three significant digits in plain notation ($0.000081, never 8.1e-05), or
    "<$0.01" when ``compact`` (for tiles too narrow for the digits)."""
    if _missing(value):
        return MISSING
    if value == 0 or abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.01:
        return "$" + _trim_zeros(f"{value:.4f}")
    if compact:
        return "<$0.01"
    return "$" + _trim_zeros(f"{value:.{-math.floor(math.log10(abs(value))) + 2}f}")


def _trim_zeros(text: str, keep: int = 2) -> str:
    """Drop trailing zeros but keep ``keep`` decimals: 0.5000 -> 0.50, 0.0000810 -> 0.000081."""
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.rstrip('0').ljust(keep, '0')}"


def format_change(rate: float | None) -> str:
    """A relative change with its sign: 0.123 -> "+12.3%", -0.5 -> "−50.0%"; a missing one reads "—"."""
    if _missing(rate):
        return MISSING
    return f"+{rate * 100:.1f}%" if rate >= 0 else f"\u2212{abs(rate) * 100:.1f}%"


def format_value(value: float | None, unit: str) -> str:
    """``value`` in ``unit``: "count" (rounded), "percent" (a fraction), "ms" (a duration) or "usd"."""
    if unit == "percent":
        return format_percent(value)
    if unit == "ms":
        return format_duration_ms(value)
    if unit == "usd":
        return format_usd(value)
    if _missing(value):
        return MISSING
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:,.1f}"


def format_version(version: str) -> str:
    """A prompt version with one "v": "2" -> "v2", and "v2" (how some apps number them) stays "v2"."""
    version = str(version)
    return version if version[:1] in ("v", "V") else f"v{version}"


def format_prompt(name: str | None, version: str | None) -> str:
    """"support-answer v2"; a name alone, a version alone ("? v2"), or "" when there is neither."""
    name, version = name or "", version or ""
    if not version:
        return str(name)
    return f"{name or '?'} {format_version(version)}"
