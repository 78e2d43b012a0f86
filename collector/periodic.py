"""A named background task run every N seconds (errors logged, never raised), stopped by its handle."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from tracehouse.analytics.jobs import PeriodicHandle

logger = logging.getLogger("tracehouse.collector")


def every(seconds: float, task: Callable[[], Any], name: str, first_after_s: float | None = None) -> PeriodicHandle:
    stop = threading.Event()

    def loop() -> None:
        wait = seconds if first_after_s is None else first_after_s
        while not stop.wait(wait):
            wait = seconds
            try:
                task()
            except Exception:
                logger.exception("%s failed; it will run again in %.0f s", name, seconds)

    thread = threading.Thread(target=loop, name=f"tracehouse-{name}", daemon=True)
    thread.start()
    return PeriodicHandle(thread, stop)
