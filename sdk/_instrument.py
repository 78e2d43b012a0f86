"""Shared machinery of the client instrumentations: patch a ``create`` method, trace each call, follow streams.

An ``Adapter`` knows one provider's request and response shapes; everything else lives here:

- ``patch``/``unpatch``: replace ``create`` on a resource class (module-wide: every client, including ones
  made later) or on one resource instance (one client). Idempotent: patching twice wraps once.
- ``Call``: one traced call. Its span is current while the HTTP request runs (so nested instrumentation joins
  the trace) but not while the caller iterates a stream.
- Streams: the client's own stream object is returned to the caller, unchanged in type and content; only its
  internal iterator is replaced by a generator that passes every item through while accumulating the answer,
  the usage and the time to first token. The span ends when the stream is exhausted, fails, is closed, or is
  garbage collected, whichever comes first.

If anything of ours fails (an unexpected client version or object), the call proceeds untraced and the
failure is reported once; the caller's own errors propagate unchanged.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
import weakref
from typing import Any, Callable, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import _attributes as A
from . import _runtime
from ._context import current_context
from ._safety import report

MARK = "__tracehouse_wrapped__"


class Accumulator(Protocol):
    def add(self, item: Any) -> bool:
        """Take one stream item; True when it carried output (text, tool arguments, reasoning)."""

    def hidden(self, item: Any) -> bool:
        """True for an item that only exists because we asked for it (OpenAI's usage chunk)."""

    def attributes(self, capture: bool) -> dict[str, Any]:
        """The response attributes accumulated so far."""


class Adapter(Protocol):
    stream_types: tuple[type, ...]

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The kwargs to send (possibly with an option added) and whether the stream has items to hide."""

    def request(self, resource: Any, kwargs: dict[str, Any], capture: bool) -> tuple[str, dict[str, Any]]:
        """Span name and request attributes."""

    def response(self, result: Any, capture: bool) -> dict[str, Any]:
        """Response attributes of a non-streamed result (empty for results it does not recognise)."""

    def accumulator(self) -> Accumulator: ...


def server_of(resource: Any) -> tuple[str | None, int | None]:
    url = getattr(getattr(resource, "_client", None), "base_url", None)
    host = getattr(url, "host", None)
    port = getattr(url, "port", None)
    if port is None and host:
        port = 443 if getattr(url, "scheme", "https") == "https" else 80
    return (str(host) if host else None), (int(port) if port else None)


class Call:
    """One traced call; every method swallows (and reports) its own failures."""

    def __init__(self, adapter: Adapter, resource: Any, kwargs: dict[str, Any], runtime: Any) -> None:
        self.adapter = adapter
        self.capture: bool = runtime.capture
        self.kwargs, self.hide = adapter.prepare(kwargs)
        name, attrs = adapter.request(resource, self.kwargs, self.capture)
        ctx = current_context()
        if ctx.prompt_name and A.PROMPT_NAME not in attrs:
            attrs[A.PROMPT_NAME] = ctx.prompt_name
        if ctx.prompt_version is not None and A.PROMPT_VERSION not in attrs:
            attrs[A.PROMPT_VERSION] = ctx.prompt_version
        self.span = runtime.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs,
                                              record_exception=False, set_status_on_exception=False)
        self.started = time.monotonic()
        self.first_token_s: float | None = None
        self._ended = False
        self._lock = threading.Lock()

    def attach(self) -> object | None:
        try:
            return otel_context.attach(trace.set_span_in_context(self.span))
        except Exception:
            report("instrumentation attach")
            return None

    @staticmethod
    def detach(token: object | None) -> None:
        if token is not None:
            try:
                otel_context.detach(token)  # type: ignore[arg-type]
            except Exception:
                report("instrumentation detach")

    def _end_once(self) -> bool:
        with self._lock:
            if self._ended:
                return False
            self._ended = True
            return True

    def fail(self, exc: BaseException, attributes: dict[str, Any] | None = None) -> None:
        if not self._end_once():
            return
        try:
            if attributes:
                self.span.set_attributes(attributes)
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            error = {A.ERROR_TYPE: type(exc).__qualname__}
            status = getattr(exc, "status_code", None)
            if isinstance(status, int):
                error[A.HTTP_STATUS_CODE] = status
            self.span.set_attributes(error)
            self.span.end()
        except Exception:
            report("instrumentation fail")

    def finish(self, attributes: dict[str, Any]) -> None:
        if not self._end_once():
            return
        try:
            if self.first_token_s is not None:
                attributes[A.TIME_TO_FIRST_CHUNK] = self.first_token_s
            self.span.set_attributes(attributes)
            self.span.end()
        except Exception:
            report("instrumentation finish")

    def succeed(self, result: Any) -> Any:
        """Record a non-streamed result, or start following a stream; returns what the caller gets."""
        try:
            if isinstance(result, self.adapter.stream_types):
                follow_stream(result, self)
            else:
                self.finish(self.adapter.response(result, self.capture))
        except Exception:
            report("instrumentation response")
            self.finish({})
        return result

    # -- streams ----------------------------------------------------------------------------------------
    def observe(self, acc: Accumulator, item: Any) -> bool:
        try:
            if acc.add(item) and self.first_token_s is None:
                self.first_token_s = time.monotonic() - self.started
            return self.hide and acc.hidden(item)
        except Exception:
            report("instrumentation stream item")
            return False

    def finish_stream(self, acc: Accumulator) -> None:
        if self._ended:
            return
        try:
            attributes = acc.attributes(self.capture)
        except Exception:
            report("instrumentation stream end")
            attributes = {}
        self.finish(attributes)


def _end_on_collect(call: Call, acc: Accumulator) -> None:
    call.finish_stream(acc)


def follow_stream(stream: Any, call: Call) -> None:
    acc = call.adapter.accumulator()
    inner = stream._iterator
    if inspect.isasyncgen(inner) or hasattr(inner, "__anext__"):
        async def observed_async() -> Any:
            try:
                async for item in inner:
                    if call.observe(acc, item):
                        continue
                    yield item
            except GeneratorExit:
                call.finish_stream(acc)
                raise
            except BaseException as exc:
                call.fail(exc, _safe_attributes(acc, call.capture))
                raise
            call.finish_stream(acc)

        original_aclose = stream.close

        @functools.wraps(original_aclose)
        async def aclose(*args: Any, **kwargs: Any) -> Any:
            try:
                return await original_aclose(*args, **kwargs)
            finally:
                call.finish_stream(acc)

        stream._iterator = observed_async()
        stream.close = aclose
    else:
        def observed() -> Any:
            try:
                for item in inner:
                    if call.observe(acc, item):
                        continue
                    yield item
            except GeneratorExit:
                call.finish_stream(acc)
                raise
            except BaseException as exc:
                call.fail(exc, _safe_attributes(acc, call.capture))
                raise
            call.finish_stream(acc)

        original_close = stream.close

        @functools.wraps(original_close)
        def close(*args: Any, **kwargs: Any) -> Any:
            try:
                return original_close(*args, **kwargs)
            finally:
                call.finish_stream(acc)

        stream._iterator = observed()
        stream.close = close
    weakref.finalize(stream, _end_on_collect, call, acc)


def _safe_attributes(acc: Accumulator, capture: bool) -> dict[str, Any]:
    try:
        return acc.attributes(capture)
    except Exception:
        report("instrumentation stream end")
        return {}


# -- the traced call ------------------------------------------------------------------------------------
def _begin(adapter: Adapter, resource: Any, kwargs: dict[str, Any]) -> Call | None:
    runtime = _runtime.current()
    if runtime is None:
        return None
    try:
        return Call(adapter, resource, kwargs, runtime)
    except Exception:
        report(f"{type(adapter).__name__} request")
        return None


def traced_sync(adapter: Adapter, resource: Any, original: Callable[..., Any], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
    call = _begin(adapter, resource, kwargs)
    if call is None:
        return original(*args, **kwargs)
    token = call.attach()
    try:
        result = original(*args, **call.kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    finally:
        call.detach(token)
    if inspect.iscoroutine(result):  # an async method we took for a sync one: follow it when awaited
        return _settle_later(call, result)
    return call.succeed(result)


async def _settle_later(call: Call, pending: Any) -> Any:
    try:
        result = await pending
    except BaseException as exc:
        call.fail(exc)
        raise
    return call.succeed(result)


async def traced_async(adapter: Adapter, resource: Any, original: Callable[..., Any], args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> Any:
    call = _begin(adapter, resource, kwargs)
    if call is None:
        return await original(*args, **kwargs)
    token = call.attach()
    try:
        result = await original(*args, **call.kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    finally:
        call.detach(token)
    return call.succeed(result)


# -- patching -------------------------------------------------------------------------------------------
def patch_class(cls: type, adapter: Adapter, is_async: bool, attr: str = "create") -> bool:
    original = cls.__dict__.get(attr)
    if original is None or getattr(original, MARK, False):
        return False
    if is_async:
        @functools.wraps(original)
        async def create_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            return await traced_async(adapter, self, functools.partial(original, self), args, kwargs)
        wrapper: Any = create_async
    else:
        @functools.wraps(original)
        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            return traced_sync(adapter, self, functools.partial(original, self), args, kwargs)
        wrapper = create
    setattr(wrapper, MARK, True)
    setattr(cls, attr, wrapper)
    return True


def patch_instance(resource: Any, adapter: Adapter, is_async: bool, attr: str = "create") -> bool:
    original = getattr(resource, attr)
    if getattr(original, MARK, False) or attr in vars(resource):
        return False
    if is_async:
        @functools.wraps(original)
        async def create_async(*args: Any, **kwargs: Any) -> Any:
            return await traced_async(adapter, resource, original, args, kwargs)
        wrapper: Any = create_async
    else:
        @functools.wraps(original)
        def create(*args: Any, **kwargs: Any) -> Any:
            return traced_sync(adapter, resource, original, args, kwargs)
        wrapper = create
    setattr(wrapper, MARK, True)
    setattr(resource, attr, wrapper)
    return True


def unpatch_class(cls: type, attr: str = "create") -> None:
    current = cls.__dict__.get(attr)
    if current is not None and getattr(current, MARK, False):
        setattr(cls, attr, current.__wrapped__)


def unpatch_instance(resource: Any, attr: str = "create") -> None:
    current = vars(resource).get(attr)
    if current is not None and getattr(current, MARK, False):
        delattr(resource, attr)
