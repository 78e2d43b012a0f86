"""Dashboard settings, one precedence rule: explicit argument > environment variable > default.

Resolved by ``dashboard_settings()`` when the app starts a session, never at import time; nothing else in the
dashboard reads ``os.environ``. A bad value raises ``ValueError`` with a message that says how to fix it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_TIMEOUT_S",
    "ENV_API_KEY",
    "ENV_ENDPOINT",
    "DashboardSettings",
    "dashboard_settings",
]

ENV_ENDPOINT = "TRACEHOUSE_ENDPOINT"
ENV_API_KEY = "TRACEHOUSE_API_KEY"
DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DashboardSettings:
    """Where the collector is and how to authenticate. Hashable, so it can key Streamlit's data cache."""

    endpoint: str
    api_key: str | None
    timeout_s: float = DEFAULT_TIMEOUT_S


def _pick(arg: str | None, env: Mapping[str, str], name: str) -> str | None:
    if arg is not None:
        return arg
    value = env.get(name, "").strip()
    return value or None


def dashboard_settings(
    endpoint: str | None = None,
    api_key: str | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    environ: Mapping[str, str] | None = None,
) -> DashboardSettings:
    """Resolve the settings; ``environ`` defaults to ``os.environ`` (tests pass their own mapping)."""
    env = os.environ if environ is None else environ
    url = (_pick(endpoint, env, ENV_ENDPOINT) or DEFAULT_ENDPOINT).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{ENV_ENDPOINT} must be the collector's base URL, such as {DEFAULT_ENDPOINT}; got {url!r}"
        )
    if timeout_s <= 0:
        raise ValueError(f"the dashboard's API timeout must be positive, got {timeout_s!r}")
    return DashboardSettings(endpoint=url, api_key=_pick(api_key, env, ENV_API_KEY), timeout_s=timeout_s)
