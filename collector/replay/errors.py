"""Errors of replay and compare, one short hierarchy; each carries the HTTP status a route should answer.

::

    ReplayError                      base; ``http_status`` 400
    ├── InvalidReplayRequest         bad overrides or filters (400)
    ├── SpanNotFound                 no such span or trace in the project (404)
    ├── RunNotFound                  no such batch run in the project (404)
    ├── NotReplayable                the span is not a model call with input messages (422)
    ├── ProviderNotConfigured        the provider the call needs has no base URL / key in the settings (400)
    ├── ReplayBusy                   too many batch runs at once (429)
    └── ProviderError                the provider refused or failed; ``status_code`` and ``message`` are the
                                     provider's, with credentials scrubbed (502)

Library exceptions (openai, anthropic, httpx, storage) are caught at this package's boundary and re-raised as
one of these with ``raise ... from exc``. Messages never contain an API key.
"""

from __future__ import annotations

__all__ = ["InvalidReplayRequest", "NotReplayable", "ProviderError", "ProviderNotConfigured", "ReplayBusy",
           "ReplayError", "RunNotFound", "SpanNotFound"]


class ReplayError(Exception):
    http_status = 400


class InvalidReplayRequest(ReplayError):
    http_status = 400


class SpanNotFound(ReplayError):
    http_status = 404


class RunNotFound(ReplayError):
    http_status = 404


class NotReplayable(ReplayError):
    http_status = 422


class ProviderNotConfigured(ReplayError):
    http_status = 400


class ReplayBusy(ReplayError):
    http_status = 429


class ProviderError(ReplayError):
    """The provider answered with an error (``status_code`` set) or could not be reached (``status_code`` None)."""

    http_status = 502

    def __init__(self, provider: str, message: str, status_code: int | None = None, error_type: str = "") -> None:
        self.provider = provider
        self.status_code = status_code
        self.message = message
        self.error_type = error_type
        where = f"{provider} answered {status_code}" if status_code is not None else f"{provider} unreachable"
        super().__init__(f"{where}: {message}")

    def as_dict(self) -> dict[str, object]:
        return {"provider": self.provider, "status_code": self.status_code, "type": self.error_type,
                "message": self.message}
