"""Span helpers: ``span()``, ``llm_call()`` and ``@observe()``.

Every helper keeps two promises: an exception raised by the user's code is recorded on the span and
re-raised unchanged; an exception raised by tracehouse itself is logged and swallowed.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from typing import Any, Callable, Iterator, Mapping, TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import _attributes as A
from . import _runtime
from ._messages import to_json, to_otel_messages

logger = logging.getLogger("tracehouse")
F = TypeVar("F", bound=Callable[..., Any])
_MAX_VALUE_CHARS = 32_000


def _capture() -> bool:
    runtime = _runtime.current()
    return runtime is None or runtime.settings.capture_content != "none"


def _safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            logger.warning("tracehouse: internal error in %s (ignored)", fn.__name__, exc_info=True)
            return None
    return wrapper


def _preview(value: Any) -> str:
    text = value if isinstance(value, str) else to_json(value)
    return text[:_MAX_VALUE_CHARS]


class SpanHandle:
    """What ``span()`` yields: set attributes, input and output on the live span."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self.end_time_ns: int | None = None

    @property
    def trace_id(self) -> str:
        return format(self._span.get_span_context().trace_id, "032x")

    @property
    def span_id(self) -> str:
        return format(self._span.get_span_context().span_id, "016x")

    @_safe
    def set_attribute(self, key: str, value: Any) -> None:
        if isinstance(value, Mapping) or (
            isinstance(value, (list, tuple)) and not all(isinstance(v, (str, int, float, bool)) for v in value)
        ):
            value = to_json(value)  # OTel attributes hold primitives and flat lists only
        self._span.set_attribute(key, value)

    @_safe
    def set_input(self, value: Any) -> None:
        if _capture():
            self._span.set_attribute(A.INPUT, _preview(value))

    @_safe
    def set_output(self, value: Any) -> None:
        if _capture():
            self._span.set_attribute(A.OUTPUT, _preview(value))

    @_safe
    def set_error(self, message: str, error_type: str = "error") -> None:
        self._span.set_status(Status(StatusCode.ERROR, message))
        self._span.set_attribute(A.ERROR_TYPE, error_type)

    def end_at(self, end_time_ns: int) -> None:
        """End the span at this time (ns since epoch) instead of when the block exits."""
        self.end_time_ns = end_time_ns


class LLMCallHandle(SpanHandle):
    """What ``llm_call()`` yields: record the model's answer and usage."""

    @_safe
    def set_output(  # type: ignore[override]
        self,
        output: Any = None,
        *,
        finish_reason: str | None = None,
        response_model: str | None = None,
        response_id: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        time_to_first_token_s: float | None = None,
    ) -> None:
        span = self._span
        if output is not None and _capture():
            span.set_attribute(A.OUTPUT_MESSAGES, to_json(to_otel_messages(output, finish_reason or "stop")))
        if finish_reason:
            span.set_attribute(A.FINISH_REASONS, [finish_reason])
        for key, value in (
            (A.RESPONSE_MODEL, response_model),
            (A.RESPONSE_ID, response_id),
            (A.INPUT_TOKENS, input_tokens),
            (A.OUTPUT_TOKENS, output_tokens),
            (A.CACHE_READ_TOKENS, cache_read_tokens),
            (A.CACHE_WRITE_TOKENS, cache_write_tokens),
            (A.REASONING_TOKENS, reasoning_tokens),
            (A.TIME_TO_FIRST_CHUNK, time_to_first_token_s),
        ):
            if value is not None:
                span.set_attribute(key, value)


@contextlib.contextmanager
def _run(span_name: str, attributes: dict[str, Any], handle_cls: type[SpanHandle],
         start_time_ns: int | None, otel_kind: SpanKind) -> Iterator[Any]:
    try:
        cm = _runtime.tracer().start_as_current_span(
            span_name, kind=otel_kind, attributes=attributes, start_time=start_time_ns,
            end_on_exit=False, record_exception=False, set_status_on_exception=False,
        )
        span = cm.__enter__()
        handle = handle_cls(span)
    except Exception:
        logger.warning("tracehouse: could not start span %r (ignored)", span_name, exc_info=True)
        yield handle_cls(trace.INVALID_SPAN)
        return
    try:
        yield handle
    except BaseException as exc:
        with contextlib.suppress(Exception):
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.set_attribute(A.ERROR_TYPE, type(exc).__qualname__)
        raise
    finally:
        with contextlib.suppress(Exception):
            span.end(end_time=handle.end_time_ns)
            cm.__exit__(None, None, None)


def span(name: str, *, kind: str = "other", attributes: Mapping[str, Any] | None = None,
         start_time_ns: int | None = None) -> contextlib.AbstractContextManager[SpanHandle]:
    """A span around a block of code. ``kind`` is one of llm, embedding, tool, retrieval, agent, chain, other."""
    if kind not in A.SPAN_KINDS:
        raise ValueError(f"tracehouse: kind must be one of {', '.join(A.SPAN_KINDS)}, got {kind!r}")
    attrs = {A.SPAN_KIND: kind, **(attributes or {})}
    return _run(name, attrs, SpanHandle, start_time_ns, SpanKind.INTERNAL)


def llm_call(
    *,
    provider: str,
    model: str,
    messages: Any = None,
    system: str | None = None,
    params: Mapping[str, Any] | None = None,
    operation: str = "chat",
    prompt_name: str | None = None,
    prompt_version: str | int | None = None,
    name: str | None = None,
    start_time_ns: int | None = None,
) -> contextlib.AbstractContextManager[LLMCallHandle]:
    """Record one LLM call with OTel GenAI attributes; set the answer with ``handle.set_output(...)``."""
    attrs: dict[str, Any] = {
        A.SPAN_KIND: "embedding" if operation == "embeddings" else "llm",
        A.OPERATION: operation,
        A.PROVIDER: provider,
        A.REQUEST_MODEL: model,
    }
    for key, value in (params or {}).items():
        if value is None:
            continue
        attr = A.REQUEST_PARAM_PREFIX + ("stop_sequences" if key == "stop" else key)
        attrs[attr] = list(value) if isinstance(value, (list, tuple)) else value
    if prompt_name:
        attrs[A.PROMPT_NAME] = prompt_name
    if prompt_version is not None:
        attrs[A.PROMPT_VERSION] = str(prompt_version)
    if _capture():
        if messages is not None:
            attrs[A.INPUT_MESSAGES] = to_json(to_otel_messages(messages))
        if system:
            attrs[A.SYSTEM_INSTRUCTIONS] = to_json([{"type": "text", "content": system}])
    return _run(name or f"{operation} {model}", attrs, LLMCallHandle, start_time_ns, SpanKind.CLIENT)


def observe(name: str | None = None, *, kind: str = "chain", capture_input: bool = True,
            capture_output: bool = True) -> Callable[[F], F]:
    """Decorate a sync or async function: one span per call with its arguments, result and errors."""
    if kind not in A.SPAN_KINDS:
        raise ValueError(f"tracehouse: kind must be one of {', '.join(A.SPAN_KINDS)}, got {kind!r}")

    def decorate(fn: F) -> F:
        span_name = name or fn.__qualname__
        signature = inspect.signature(fn)

        def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            try:
                bound = signature.bind_partial(*args, **kwargs)
                return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}
            except TypeError:
                return {"args": args, "kwargs": kwargs}

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with span(span_name, kind=kind) as handle:
                    if capture_input:
                        handle.set_input(inputs(args, kwargs))
                    result = await fn(*args, **kwargs)
                    if capture_output:
                        handle.set_output(result)
                    return result
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with span(span_name, kind=kind) as handle:
                if capture_input:
                    handle.set_input(inputs(args, kwargs))
                result = fn(*args, **kwargs)
                if capture_output:
                    handle.set_output(result)
                return result
        return wrapper  # type: ignore[return-value]

    return decorate
