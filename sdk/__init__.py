"""tracehouse SDK: trace LLM applications with OpenTelemetry and send them to a tracehouse collector.

Quick start::

    import tracehouse
    tracehouse.init(service_name="support-bot")            # TRACEHOUSE_ENDPOINT / TRACEHOUSE_API_KEY
    with tracehouse.context(tenant="acme", user="u-1", session="s-1"):
        with tracehouse.llm_call(provider="openai", model="gpt-4o-mini",
                                 messages=[{"role": "user", "content": "Hi"}]) as call:
            call.set_output("Hello!", input_tokens=5, output_tokens=2)
    tracehouse.flush()
"""

from __future__ import annotations

import logging

from opentelemetry.sdk.trace.export import SpanExporter

from ._context import TraceContext, context, current_context
from ._runtime import Runtime
from ._runtime import current as _current
from ._runtime import install as _install
from ._runtime import uninstall as _uninstall
from ._settings import SDKSettings, resolve_settings
from ._spans import LLMCallHandle, SpanHandle, llm_call, observe, span

__all__ = [
    "LLMCallHandle",
    "SDKSettings",
    "SpanHandle",
    "TraceContext",
    "context",
    "current_context",
    "flush",
    "init",
    "llm_call",
    "observe",
    "shutdown",
    "span",
]
__version__ = "0.1.0"

logger = logging.getLogger("tracehouse")


def init(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    service_name: str | None = None,
    environment: str | None = None,
    release: str | None = None,
    capture_content: str | None = None,
    max_queue_size: int = 8192,
    max_export_batch_size: int = 512,
    schedule_delay_ms: int = 500,
    export_timeout_s: float = 10.0,
    exporter: SpanExporter | None = None,
) -> SDKSettings:
    """Configure and start the SDK. Arguments win over ``TRACEHOUSE_*`` variables, which win over defaults.

    Raises ``ValueError`` for a bad setting (the only place the SDK raises). Calling it again replaces the
    previous configuration after flushing it. ``exporter`` replaces the OTLP/HTTP exporter (tests, tee-ing).
    """
    settings = resolve_settings(
        endpoint=endpoint,
        api_key=api_key,
        service_name=service_name,
        environment=environment,
        release=release,
        capture_content=capture_content,
        max_queue_size=max_queue_size,
        max_export_batch_size=max_export_batch_size,
        schedule_delay_ms=schedule_delay_ms,
        export_timeout_s=export_timeout_s,
    )
    _install(Runtime(settings, exporter))
    return settings


def flush(timeout_ms: int = 30_000) -> bool:
    """Export every finished span now; True when all were handed to the exporter in time."""
    runtime = _current()
    if runtime is None:
        return True
    try:
        return runtime.flush(timeout_ms)
    except Exception:
        logger.warning("tracehouse: flush failed (ignored)", exc_info=True)
        return False


def shutdown() -> None:
    """Flush and stop; later spans are no-ops until ``init()`` is called again."""
    runtime = _uninstall()
    if runtime is None:
        return
    try:
        runtime.shutdown()
    except Exception:
        logger.warning("tracehouse: shutdown failed (ignored)", exc_info=True)
