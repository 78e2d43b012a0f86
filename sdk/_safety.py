"""The SDK never raises into user code: internal errors are logged once per site and swallowed.

``report(site)`` logs the first internal error of a site as a warning with its traceback and later ones at
debug level, so a persistent fault (a broken exporter, an unexpected client object) cannot flood the host
application's logs. ``guarded(default)`` wraps a function with that policy. Thread-safe.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any, Callable, TypeVar

logger = logging.getLogger("tracehouse")
F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_reported: set[str] = set()


def report(site: str, message: str = "internal error (ignored)") -> None:
    """Log the exception being handled: a warning the first time for ``site``, debug afterwards."""
    with _lock:
        first = site not in _reported
        _reported.add(site)
    if first:
        logger.warning("tracehouse: %s in %s; further ones are logged at debug level", message, site,
                       exc_info=True)
    else:
        logger.debug("tracehouse: %s in %s", message, site, exc_info=True)


def warn_once(site: str, message: str, *args: Any) -> None:
    """A warning without traceback, once per ``site`` (e.g. the first dropped span)."""
    with _lock:
        if site in _reported:
            return
        _reported.add(site)
    logger.warning("tracehouse: " + message, *args)


def forget(prefix: str = "") -> None:
    """Re-arm the one-time messages (a new runtime starts with fresh warnings)."""
    with _lock:
        for site in [s for s in _reported if s.startswith(prefix)]:
            _reported.discard(site)


def guarded(default: Any = None, site: str | None = None) -> Callable[[F], F]:
    """Decorate a function so an exception inside it is reported and ``default`` returned instead."""

    def decorate(fn: F) -> F:
        where = site or fn.__qualname__

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                report(where)
                return default

        return wrapper  # type: ignore[return-value]

    return decorate
