"""Span helpers: ``span()``, ``llm_call()``, ``tool_call()``, ``retrieval()`` and ``@observe()``.

Every helper keeps two promises: an exception raised by the user's code is recorded on the span and
re-raised unchanged; an exception raised by tracehouse itself is reported once (``_safety``) and swallowed.
Before ``init()`` the helpers return at once without building any attribute.

Generators decorated with ``@observe`` get a span that is current only while the generator body runs (each
``next``/``send``/``throw``), never while its consumer runs between items, so spans started by the consumer
are not mistaken for children of the generator.
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import Any, Callable, Mapping, Sequence, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import _attributes as A
from . import _runtime
from ._context import _CURRENT
from ._genai import Usage, request_attributes, response_attributes
from ._messages import attribute_value, to_documents, to_json
from ._safety import guarded, report, warn_once

F = TypeVar("F", bound=Callable[..., Any])
_MAX_VALUE_CHARS = 32_000
_MAX_COLLECTED_ITEMS = 1_000
_INVALID = trace.INVALID_SPAN


def _preview(value: Any) -> str:
    text = value if isinstance(value, str) else to_json(value)
    return text[:_MAX_VALUE_CHARS]


def _text_or_json(value: Any) -> str:
    return value if isinstance(value, str) else to_json(value)


def _record_error(span: trace.Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.set_attribute(A.ERROR_TYPE, type(exc).__qualname__)


class SpanHandle:
    """What ``span()`` yields: set attributes, input and output on the live span. Methods never raise."""

    __slots__ = ("_span", "_capture", "end_time_ns")

    def __init__(self, span: trace.Span, capture: bool = True) -> None:
        self._span = span
        self._capture = capture
        self.end_time_ns: int | None = None

    @property
    def trace_id(self) -> str:
        return format(self._span.get_span_context().trace_id, "032x")

    @property
    def span_id(self) -> str:
        return format(self._span.get_span_context().span_id, "016x")

    @property
    def capturing(self) -> bool:
        """False under ``capture_content="none"``: content setters then do nothing."""
        return self._capture

    @guarded(site="SpanHandle.set_attribute")
    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute; dicts and nested lists are stored as JSON (OTel holds primitives and flat lists)."""
        self._span.set_attribute(key, attribute_value(value))

    @guarded(site="SpanHandle.set_attributes")
    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self._span.set_attributes({k: attribute_value(v) for k, v in attributes.items()})

    @guarded(site="SpanHandle.set_input")
    def set_input(self, value: Any) -> None:
        if self._capture:
            self._span.set_attribute(A.INPUT, _preview(value))

    @guarded(site="SpanHandle.set_output")
    def set_output(self, value: Any) -> None:
        if self._capture:
            self._span.set_attribute(A.OUTPUT, _preview(value))

    @guarded(site="SpanHandle.set_error")
    def set_error(self, message: str, error_type: str = "error") -> None:
        """Mark the span failed without raising (e.g. a handled provider error)."""
        self._span.set_status(Status(StatusCode.ERROR, message))
        self._span.set_attribute(A.ERROR_TYPE, error_type)

    def end_at(self, end_time_ns: int) -> None:
        """End the span at this time (ns since epoch) instead of when the block exits."""
        self.end_time_ns = end_time_ns


class LLMCallHandle(SpanHandle):
    """What ``llm_call()`` yields: record the model's answer and usage."""

    __slots__ = ()

    @guarded(site="LLMCallHandle.set_output")
    def set_output(  # type: ignore[override]
        self,
        output: Any = None,
        *,
        finish_reason: str | Sequence[str] | None = None,
        response_model: str | None = None,
        response_id: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        time_to_first_token_s: float | None = None,
    ) -> None:
        """``output``: the answer (a string, a message, or a list of messages, one per choice).
        ``finish_reason``: one reason, or one per choice. Tokens follow OTel: ``input_tokens`` includes the
        cache tokens, ``output_tokens`` includes the reasoning tokens."""
        reasons = [finish_reason] if isinstance(finish_reason, str) else finish_reason
        self._span.set_attributes(response_attributes(
            output=output, finish_reasons=reasons, response_model=response_model, response_id=response_id,
            usage=Usage(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens),
            time_to_first_token_s=time_to_first_token_s, capture=self._capture,
        ))

    @guarded(site="LLMCallHandle.mark_first_token")
    def mark_first_token(self) -> None:
        """Record now as the time the first token arrived (for calls streamed by hand)."""
        start = getattr(self._span, "start_time", None)
        if start:
            self._span.set_attribute(A.TIME_TO_FIRST_CHUNK, max(0.0, (time.time_ns() - start) / 1e9))


class ToolCallHandle(SpanHandle):
    """What ``tool_call()`` yields: record the tool's result."""

    __slots__ = ()

    @guarded(site="ToolCallHandle.set_result")
    def set_result(self, result: Any) -> None:
        if self._capture:
            self._span.set_attribute(A.TOOL_CALL_RESULT, _text_or_json(result))

    set_output = set_result  # type: ignore[assignment]


class RetrievalHandle(SpanHandle):
    """What ``retrieval()`` yields: record the documents found."""

    __slots__ = ()

    @guarded(site="RetrievalHandle.set_documents")
    def set_documents(self, documents: Any) -> None:
        """Strings, dicts ``{id?, content, score?, metadata?}`` or document objects (``page_content``)."""
        if self._capture:
            self._span.set_attribute(A.RETRIEVAL_DOCUMENTS, to_json(to_documents(documents)))

    set_output = set_documents  # type: ignore[assignment]


class _Scope:
    """The context manager behind every helper: start, make current, record errors, end, restore."""

    __slots__ = ("_name", "_attrs", "_handle_cls", "_start", "_kind", "_handle", "_token")

    def __init__(self, name: str, attrs: Mapping[str, Any] | None, handle_cls: type[SpanHandle],
                 start_time_ns: int | None, kind: SpanKind) -> None:
        self._name = name
        self._attrs = attrs
        self._handle_cls = handle_cls
        self._start = start_time_ns
        self._kind = kind
        self._token: object | None = None

    def __enter__(self) -> Any:
        runtime = _runtime.current()
        if runtime is None or self._attrs is None:
            self._handle = self._handle_cls(_INVALID, False)
            return self._handle
        try:
            span = runtime.tracer.start_span(
                self._name, kind=self._kind, attributes=self._attrs, start_time=self._start,
                record_exception=False, set_status_on_exception=False,
            )
            self._token = otel_context.attach(trace.set_span_in_context(span))
        except Exception:
            report("span start")
            span = _INVALID
        self._handle = self._handle_cls(span, runtime.capture)
        return self._handle

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        handle = self._handle
        span = handle._span
        if span is not _INVALID:
            try:
                if exc is not None:
                    _record_error(span, exc)
                span.end(end_time=handle.end_time_ns)
            except Exception:
                report("span end")
        if self._token is not None:
            try:
                otel_context.detach(self._token)  # type: ignore[arg-type]
            except Exception:
                report("span detach")
        return False


def _attributes_or_none(build: Callable[[], dict[str, Any]], site: str) -> dict[str, Any] | None:
    """None before ``init()`` (nothing is built); a minimal span if building the attributes failed."""
    if _runtime.current() is None:
        return None
    try:
        return build()
    except Exception:
        report(site)
        return {}


def _check_kind(kind: str) -> str:
    if kind in A.SPAN_KINDS:
        return kind
    warn_once(f"kind.{kind}", "span kind %r is not one of %s; using 'other'", kind, ", ".join(A.SPAN_KINDS))
    return "other"


def span(name: str, *, kind: str = "other", attributes: Mapping[str, Any] | None = None,
         start_time_ns: int | None = None) -> _Scope:
    """A span around a block of code. ``kind`` is one of llm, embedding, tool, retrieval, agent, chain, other
    (an unknown kind is logged once and recorded as other)."""
    attrs = _attributes_or_none(
        lambda: {A.SPAN_KIND: _check_kind(kind), **{k: attribute_value(v) for k, v in (attributes or {}).items()}},
        "span attributes")
    return _Scope(name, attrs, SpanHandle, start_time_ns, SpanKind.INTERNAL)


def llm_call(
    *,
    provider: str,
    model: str,
    messages: Any = None,
    system: Any = None,
    tools: Any = None,
    params: Mapping[str, Any] | None = None,
    operation: str = "chat",
    prompt_name: str | None = None,
    prompt_version: str | int | None = None,
    name: str | None = None,
    start_time_ns: int | None = None,
) -> _Scope:
    """Record one LLM call with OTel GenAI attributes; set the answer with ``handle.set_output(...)``.

    ``messages``: OpenAI- or Anthropic-style messages (or OTel ones); ``system``: a string or text blocks;
    ``tools``: tool definitions in OpenAI or Anthropic form; ``params``: every request parameter
    (temperature, max_tokens, seed, stop, ...), recorded as ``gen_ai.request.<name>`` so the call can be
    replayed."""

    def build() -> dict[str, Any]:
        runtime = _runtime.current()
        ctx = _CURRENT.get()
        return request_attributes(
            provider=provider, model=model, operation=operation, messages=messages, system=system, tools=tools,
            params=params, prompt_name=prompt_name or ctx.prompt_name,
            prompt_version=prompt_version if prompt_version is not None else ctx.prompt_version,
            capture=runtime is not None and runtime.capture,
        )

    attrs = _attributes_or_none(build, "llm_call attributes")
    return _Scope(name or f"{operation} {model}", attrs, LLMCallHandle, start_time_ns, SpanKind.CLIENT)


def tool_call(name: str, arguments: Any = None, *, call_id: str | None = None, description: str | None = None,
              tool_type: str = "function", start_time_ns: int | None = None) -> _Scope:
    """Record the execution of a tool (OTel ``execute_tool`` span); set the result with ``set_result``."""

    def build() -> dict[str, Any]:
        attrs: dict[str, Any] = {A.SPAN_KIND: "tool", A.OPERATION: "execute_tool", A.TOOL_NAME: str(name),
                                 A.TOOL_TYPE: tool_type}
        if call_id:
            attrs[A.TOOL_CALL_ID] = str(call_id)
        if description:
            attrs[A.TOOL_DESCRIPTION] = description
        runtime = _runtime.current()
        if arguments is not None and runtime is not None and runtime.capture:
            attrs[A.TOOL_CALL_ARGUMENTS] = _text_or_json(arguments)
        return attrs

    attrs = _attributes_or_none(build, "tool_call attributes")
    return _Scope(f"execute_tool {name}", attrs, ToolCallHandle, start_time_ns, SpanKind.INTERNAL)


def retrieval(query: Any = None, data_source: str | None = None, *, top_k: int | None = None,
              start_time_ns: int | None = None) -> _Scope:
    """Record a retrieval (OTel ``retrieval`` span); set what was found with ``set_documents``."""

    def build() -> dict[str, Any]:
        attrs: dict[str, Any] = {A.SPAN_KIND: "retrieval", A.OPERATION: "retrieval"}
        if data_source:
            attrs[A.DATA_SOURCE_ID] = str(data_source)
        if top_k is not None:
            attrs[A.RETRIEVAL_TOP_K] = int(top_k)
        runtime = _runtime.current()
        if query is not None and runtime is not None and runtime.capture:
            attrs[A.RETRIEVAL_QUERY] = _text_or_json(query)
        return attrs

    attrs = _attributes_or_none(build, "retrieval attributes")
    return _Scope(f"retrieval {data_source}" if data_source else "retrieval", attrs, RetrievalHandle,
                  start_time_ns, SpanKind.CLIENT)


# -- @observe ---------------------------------------------------------------------------------------------
class _Detached:
    """A span for a generator: current only inside ``step``; ended by ``finish``."""

    __slots__ = ("handle", "_ctx")

    def __init__(self, name: str, kind: str) -> None:
        runtime = _runtime.current()
        span: trace.Span = _INVALID
        self._ctx = None
        if runtime is not None:
            try:
                span = runtime.tracer.start_span(name, kind=SpanKind.INTERNAL, attributes={A.SPAN_KIND: kind},
                                                 record_exception=False, set_status_on_exception=False)
                self._ctx = trace.set_span_in_context(span)
            except Exception:
                report("observe generator start")
                span = _INVALID
        self.handle = SpanHandle(span, runtime is not None and runtime.capture)

    def attach(self) -> object | None:
        try:
            return otel_context.attach(self._ctx) if self._ctx is not None else None
        except Exception:
            report("observe generator attach")
            return None

    @staticmethod
    def detach(token: object | None) -> None:
        if token is not None:
            try:
                otel_context.detach(token)  # type: ignore[arg-type]
            except Exception:
                report("observe generator detach")

    def finish(self, exc: BaseException | None, output: Any = None, capture_output: bool = False) -> None:
        span = self.handle._span
        if span is _INVALID:
            return
        try:
            if exc is not None:
                _record_error(span, exc)
            elif capture_output:
                self.handle.set_output(output)
            span.end()
        except Exception:
            report("observe generator end")


class _Collected:
    """What a generator yielded, bounded: strings are joined (token streams), anything else is a list."""

    __slots__ = ("items", "enabled")

    def __init__(self, enabled: bool) -> None:
        self.items: list[Any] = []
        self.enabled = enabled

    def add(self, item: Any) -> None:
        if self.enabled and len(self.items) < _MAX_COLLECTED_ITEMS:
            self.items.append(item)

    def value(self) -> Any:
        if self.items and all(isinstance(i, str) for i in self.items):
            return "".join(self.items)
        return self.items


def observe(name: str | None = None, *, kind: str = "chain", capture_input: bool = True,
            capture_output: bool = True) -> Callable[[F], F]:
    """Decorate a function, coroutine function, generator or async generator: one span per call with its
    arguments, result (for generators: the yielded items, strings joined) and errors.

    Raises ``ValueError`` for an unknown ``kind`` when the decorator is applied (at definition, like ``init``).
    """
    if kind not in A.SPAN_KINDS:
        raise ValueError(f"tracehouse: kind must be one of {', '.join(A.SPAN_KINDS)}, got {kind!r}")

    def decorate(fn: F) -> F:
        span_name = name or getattr(fn, "__qualname__", None) or repr(fn)
        try:
            signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = None

        def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            try:
                if signature is not None:
                    bound = signature.bind_partial(*args, **kwargs)
                    return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}
            except TypeError:
                pass
            return {"args": args, "kwargs": kwargs}

        def record_input(handle: SpanHandle, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if capture_input and handle.capturing:
                handle.set_input(inputs(args, kwargs))

        if inspect.isasyncgenfunction(fn):
            @functools.wraps(fn)
            async def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                agen = fn(*args, **kwargs)
                run = _Detached(span_name, kind)
                record_input(run.handle, args, kwargs)
                collected = _Collected(capture_output and run.handle.capturing)
                to_send: Any = None
                to_throw: BaseException | None = None
                try:
                    while True:
                        token = run.attach()
                        try:
                            if to_throw is not None:
                                exc, to_throw = to_throw, None
                                item = await agen.athrow(exc)
                            else:
                                item = await agen.asend(to_send)
                        except StopAsyncIteration:
                            break
                        finally:
                            run.detach(token)
                        collected.add(item)
                        try:
                            to_send = yield item
                        except GeneratorExit:
                            await agen.aclose()
                            raise
                        except BaseException as exc:  # athrow() from the consumer: pass it on
                            to_throw = exc
                except GeneratorExit:
                    run.finish(None, collected.value(), collected.enabled)
                    raise
                except BaseException as exc:
                    run.finish(exc)
                    raise
                run.finish(None, collected.value(), collected.enabled)
            return async_gen_wrapper  # type: ignore[return-value]

        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                gen = fn(*args, **kwargs)
                run = _Detached(span_name, kind)
                record_input(run.handle, args, kwargs)
                collected = _Collected(capture_output and run.handle.capturing)
                to_send: Any = None
                to_throw: BaseException | None = None
                result: Any = None
                try:
                    while True:
                        token = run.attach()
                        try:
                            if to_throw is not None:
                                exc, to_throw = to_throw, None
                                item = gen.throw(exc)
                            else:
                                item = gen.send(to_send)
                        except StopIteration as stop:
                            result = stop.value
                            break
                        finally:
                            run.detach(token)
                        collected.add(item)
                        try:
                            to_send = yield item
                        except GeneratorExit:
                            gen.close()
                            raise
                        except BaseException as exc:  # throw() from the consumer: pass it on
                            to_throw = exc
                except GeneratorExit:
                    run.finish(None, collected.value(), collected.enabled)
                    raise
                except BaseException as exc:
                    run.finish(exc)
                    raise
                run.finish(None, collected.value(), collected.enabled)
                return result
            return gen_wrapper  # type: ignore[return-value]

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if _runtime.current() is None:
                    return await fn(*args, **kwargs)
                with span(span_name, kind=kind) as handle:
                    record_input(handle, args, kwargs)
                    result = await fn(*args, **kwargs)
                    if capture_output:
                        handle.set_output(result)
                    return result
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _runtime.current() is None:
                return fn(*args, **kwargs)
            with span(span_name, kind=kind) as handle:
                record_input(handle, args, kwargs)
                result = fn(*args, **kwargs)
                if capture_output:
                    handle.set_output(result)
                return result
        return wrapper  # type: ignore[return-value]

    return decorate
