"""tracehouse SDK: trace LLM applications with OpenTelemetry and send them to a tracehouse collector.

Quick start::

    import tracehouse
    tracehouse.init(service_name="support-bot")            # TRACEHOUSE_ENDPOINT / TRACEHOUSE_API_KEY
    with tracehouse.context(tenant="acme", user="u-1", session="s-1"):
        with tracehouse.llm_call(provider="openai", model="gpt-4o-mini",
                                 messages=[{"role": "user", "content": "Hi"}]) as call:
            call.set_output("Hello!", input_tokens=5, output_tokens=2)
    tracehouse.flush()

Contract: ``init()`` raises ``ValueError`` for a bad setting, and ``@observe`` for an unknown kind when it is
applied; nothing else in the SDK raises into the application. Internal errors are logged once and swallowed,
spans that cannot be exported are counted (``stats()``), and nothing blocks the calling thread beyond a queue
append (``flush`` and ``shutdown`` wait, at most for their timeout). See docs/sdk.md.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

from ._context import TraceContext, context, current_context, wrap
from ._runtime import Runtime, SDKStats
from ._runtime import current as _current
from ._runtime import install as _install
from ._runtime import uninstall as _uninstall
from ._safety import guarded, report
from ._scores import make_score
from ._settings import SDKSettings, resolve_settings
from ._spans import (
    LLMCallHandle,
    RetrievalHandle,
    SpanHandle,
    ToolCallHandle,
    llm_call,
    observe,
    retrieval,
    span,
    tool_call,
)

__all__ = [
    "LLMCallHandle",
    "RetrievalHandle",
    "SDKSettings",
    "SDKStats",
    "SpanHandle",
    "ToolCallHandle",
    "TraceContext",
    "context",
    "current_context",
    "flush",
    "init",
    "instrument_anthropic",
    "instrument_openai",
    "llm_call",
    "observe",
    "retrieval",
    "score",
    "shutdown",
    "span",
    "stats",
    "tool_call",
    "wrap",
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
    sample_rate: float | None = None,
    max_queue_size: int | None = None,
    max_export_batch_size: int | None = None,
    schedule_delay_ms: int | None = None,
    export_timeout_s: float | None = None,
    shutdown_timeout_s: float | None = None,
    exporter: SpanExporter | None = None,
) -> SDKSettings:
    """Configure and start the SDK. Arguments win over ``TRACEHOUSE_*`` variables, which win over defaults.

    Raises ``ValueError`` for a bad setting (the only place the SDK raises). Calling it again replaces the
    previous configuration after flushing it. ``exporter`` replaces the OTLP/HTTP exporter (tests, tee-ing);
    sampling, the queue, counting and redaction still apply around it.

    ``capture_content``: ``full`` (default), ``redacted`` (PII and secrets replaced before export) or ``none``.
    ``sample_rate``: the share of traces kept (default 1.0); traces with an error are always kept.
    """
    settings = resolve_settings(
        endpoint=endpoint,
        api_key=api_key,
        service_name=service_name,
        environment=environment,
        release=release,
        capture_content=capture_content,
        sample_rate=sample_rate,
        max_queue_size=max_queue_size,
        max_export_batch_size=max_export_batch_size,
        schedule_delay_ms=schedule_delay_ms,
        export_timeout_s=export_timeout_s,
        shutdown_timeout_s=shutdown_timeout_s,
    )
    try:
        runtime = Runtime(settings, exporter)
    except Exception:  # a broken environment must not take the application down: stay disabled
        report("init", "could not start the SDK; tracing stays off")
        return settings
    try:
        _install(runtime)
    except Exception:
        report("init", "could not replace the previous SDK runtime")
    return settings


@guarded(default=False, site="flush")
def flush(timeout_ms: int = 30_000) -> bool:
    """Export every finished span and send every queued score now; True when all were handed over in time.
    Waits at most ``timeout_ms``; never raises."""
    runtime = _current()
    if runtime is None:
        return True
    return runtime.flush(timeout_ms)


@guarded(site="shutdown")
def shutdown() -> None:
    """Flush (bounded by ``shutdown_timeout_s``) and stop; later spans are no-ops until ``init()`` again.
    Also runs at interpreter exit."""
    runtime = _uninstall()
    if runtime is not None:
        runtime.shutdown()


@guarded(default=SDKStats(), site="stats")
def stats() -> SDKStats:
    """Counters of the running SDK: spans exported, failed, dropped, sampled out, queued; scores likewise."""
    runtime = _current()
    return runtime.stats() if runtime is not None else SDKStats()


def score(trace_id: Any, name: str, value: float, span_id: Any = None, comment: str | None = None,
          source: str | None = None) -> bool:
    """Record a score (user feedback, an evaluation) for a trace, or one span of it, without blocking.

    ``trace_id``/``span_id``: hex strings (e.g. ``handle.trace_id``) or ints; ``value``: a finite number.
    The score is queued and POSTed to the collector's ``/api/v1/scores`` by a background thread, with retries.
    Returns True when it was queued; False (with one warning) when it was invalid or the SDK is not started.
    Never raises.
    """
    try:
        runtime = _current()
        if runtime is None:
            logger.debug("tracehouse: score() before init() is ignored")
            return False
        try:
            item = make_score(trace_id, name, value, span_id, comment, source)
        except ValueError as exc:
            logger.warning("tracehouse: score %r ignored: %s", name, exc)
            return False
        return runtime.scores.submit(item)
    except Exception:
        report("score")
        return False


def instrument_openai(client: Any = None, *, include_usage: bool = True) -> Any:
    """Trace OpenAI chat completions: of ``client`` (an ``OpenAI``/``AsyncOpenAI``/``AzureOpenAI``), or of every
    client when ``client`` is None. Returns ``client``. Streams keep their type and content; see
    ``include_usage`` in docs/sdk.md. Safe to call twice; never raises (without ``openai`` it does nothing)."""
    try:
        from ._openai import instrument

        return instrument(client, include_usage=include_usage)
    except ImportError:
        logger.warning("tracehouse: instrument_openai() needs the openai package; nothing instrumented")
    except Exception:
        report("instrument_openai")
    return client


def instrument_anthropic(client: Any = None) -> Any:
    """Trace Anthropic messages: of ``client`` (an ``Anthropic``/``AsyncAnthropic``), or of every client when
    ``client`` is None. Returns ``client``. Safe to call twice; never raises (without ``anthropic`` it does
    nothing)."""
    try:
        from ._anthropic import instrument

        return instrument(client)
    except ImportError:
        logger.warning("tracehouse: instrument_anthropic() needs the anthropic package; nothing instrumented")
    except Exception:
        report("instrument_anthropic")
    return client
