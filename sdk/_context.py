"""Request context (tenant, user, session, tags, metadata) carried in a ContextVar.

ContextVars follow asyncio tasks on their own; for threads, run the work through
``contextvars.copy_context().run`` (or ``tracehouse.wrap`` in a later release). Nested ``context()`` blocks
merge: inner values win, tags accumulate, metadata is merged key by key.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterator, Mapping


@dataclass(frozen=True)
class TraceContext:
    tenant: str | None = None
    user: str | None = None
    session: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def merged(
        self,
        tenant: str | None,
        user: str | None,
        session: str | None,
        tags: tuple[str, ...],
        metadata: Mapping[str, Any] | None,
    ) -> "TraceContext":
        merged_tags = self.tags + tuple(t for t in tags if t not in self.tags)
        merged_meta = {**self.metadata, **(metadata or {})}
        return TraceContext(
            tenant=tenant if tenant is not None else self.tenant,
            user=user if user is not None else self.user,
            session=session if session is not None else self.session,
            tags=merged_tags,
            metadata=MappingProxyType(merged_meta),
        )


_CURRENT: contextvars.ContextVar[TraceContext] = contextvars.ContextVar(
    "tracehouse_context", default=TraceContext()
)


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
) -> Iterator[TraceContext]:
    """Attach tenant/user/session/tags/metadata to every span started inside the block."""
    new = _CURRENT.get().merged(
        None if tenant is None else str(tenant),
        None if user is None else str(user),
        None if session is None else str(session),
        tuple(str(t) for t in (tags or ())),
        metadata,
    )
    token = _CURRENT.set(new)
    try:
        yield new
    finally:
        _CURRENT.reset(token)
