"""Request context (tenant, user, session, tags, metadata) carried in a ContextVar.

ContextVars follow asyncio tasks (and ``asyncio.to_thread``) on their own. A new thread starts with an empty
context, so work handed to ``threading.Thread`` or a ``ThreadPoolExecutor`` goes through ``wrap(fn)``, which
carries both this context and the current span (the OTel context is a ContextVar too) into the thread.
Nested ``context()`` blocks merge: inner values win, tags accumulate, metadata is merged key by key.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping, TypeVar

from ._safety import report

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class TraceContext:
    tenant: str | None = None
    user: str | None = None
    session: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    prompt_name: str | None = None  # applied to LLM calls only (llm_call and instrumented clients)
    prompt_version: str | None = None

    def merged(
        self,
        tenant: str | None,
        user: str | None,
        session: str | None,
        tags: tuple[str, ...],
        metadata: Mapping[str, Any] | None,
        prompt_name: str | None = None,
        prompt_version: str | None = None,
    ) -> "TraceContext":
        merged_tags = self.tags + tuple(t for t in tags if t not in self.tags)
        merged_meta = {**self.metadata, **(metadata or {})}
        return TraceContext(
            tenant=tenant if tenant is not None else self.tenant,
            user=user if user is not None else self.user,
            session=session if session is not None else self.session,
            tags=merged_tags,
            metadata=MappingProxyType(merged_meta),
            prompt_name=prompt_name if prompt_name is not None else self.prompt_name,
            prompt_version=prompt_version if prompt_version is not None else self.prompt_version,
        )


EMPTY = TraceContext()
_CURRENT: contextvars.ContextVar[TraceContext] = contextvars.ContextVar("tracehouse_context", default=EMPTY)


def current_context() -> TraceContext:
    return _CURRENT.get()


@contextlib.contextmanager
def context(
    *,
    tenant: str | None = None,
    user: str | None = None,
    session: str | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    metadata: Mapping[str, Any] | None = None,
    prompt_name: str | None = None,
    prompt_version: str | int | None = None,
) -> Iterator[TraceContext]:
    """Attach tenant/user/session/tags/metadata to every span started inside the block (this thread or task,
    and what ``wrap`` hands on), and ``prompt_name``/``prompt_version`` to every LLM call inside it (handy for
    instrumented clients, whose calls take no such argument). A bad argument is reported once and the block
    runs with the outer context."""
    try:
        new = _CURRENT.get().merged(
            None if tenant is None else str(tenant),
            None if user is None else str(user),
            None if session is None else str(session),
            tuple(str(t) for t in ([tags] if isinstance(tags, str) else (tags or ()))),
            dict(metadata) if metadata is not None else None,
            None if prompt_name is None else str(prompt_name),
            None if prompt_version is None else str(prompt_version),
        )
        token = _CURRENT.set(new)
    except Exception:
        report("context")
        yield _CURRENT.get()
        return
    try:
        yield new
    finally:
        try:
            _CURRENT.reset(token)
        except ValueError:  # reset from another context (e.g. a generator resumed elsewhere): leave it
            report("context.reset")


def wrap(fn: F) -> F:
    """Bind ``fn`` to the caller's context: tracehouse ``context()`` values and the current span.

    Call it where the work is handed off, e.g. ``executor.submit(tracehouse.wrap(work), item)`` or
    ``Thread(target=tracehouse.wrap(work))``; spans started inside ``fn`` then join the caller's trace.
    The wrapped function may run many times and concurrently: each call runs in its own copy of the
    captured context, so changes made inside never leak back or between calls.
    """
    try:
        captured = contextvars.copy_context()
    except Exception:  # pragma: no cover - copy_context does not fail in CPython
        return fn

    @functools.wraps(fn)
    def run_in_context(*args: Any, **kwargs: Any) -> Any:
        return captured.copy().run(fn, *args, **kwargs)

    return run_in_context  # type: ignore[return-value]
