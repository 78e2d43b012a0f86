"""A small client for the collector's query API (docs/api.md): the dashboard's only way to data.

Every failure is raised as ``ApiError``, whose ``str()`` is a sentence fit to show a person, chained
(``raise ... from``) to the httpx error underneath. ``status_code`` tells the cases apart:

    ApiError
      status_code None   the collector is unreachable, too slow, or did not answer JSON
      status_code 401/403  the API key is missing, wrong, or lacks the ``read`` scope
      status_code 404    the thing asked for does not exist (an unknown trace id), or this collector has no
                         such route yet (``route_missing``: FastAPI's bare "Not Found", or 405)
      any other status   the collector refused the request; its ``detail`` is quoted

The client holds one ``httpx.Client`` (a connection pool), which can be shared between threads (the dashboard
shares one per settings, see ``data``); do not close it while another thread uses it. Use it as a context
manager, or call ``close()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

import httpx

from .settings import DEFAULT_TIMEOUT_S, ENV_API_KEY, ENV_ENDPOINT
from .timerange import to_rfc3339

__all__ = ["ApiClient", "ApiError"]

_SPAN_FILTERS = frozenset(
    {"trace_id", "tenant", "user", "session", "model", "status", "kind", "q", "start", "end", "limit", "cursor"}
)
_TRACE_FILTERS = frozenset({"tenant", "user", "session", "model", "status", "q", "start", "end", "limit", "cursor"})
_METRIC_FILTERS = frozenset({"tenant", "model", "kind"})
# FastAPI's answer for a path it has no route for; a route's own 404 (an unknown trace) says more.
_NO_ROUTE_DETAILS = frozenset({"Not Found", "Method Not Allowed"})


class ApiError(Exception):
    """A failed call to the collector; ``str(err)`` is the message to show."""

    def __init__(self, message: str, *, status_code: int | None = None, url: str | None = None,
                 detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.url = url
        self.detail = detail

    @property
    def route_missing(self) -> bool:
        """True when the collector has no such endpoint (yet): an older collector, not a failed request."""
        return self.status_code == 405 or (self.status_code == 404 and self.detail in _NO_ROUTE_DETAILS)


def _param(value: Any) -> str:
    if isinstance(value, datetime):
        return to_rfc3339(value)
    return str(value)


def _query(filters: Mapping[str, Any], allowed: frozenset[str], what: str) -> dict[str, str]:
    unknown = sorted(set(filters) - allowed)
    if unknown:
        # A typo in a filter name would otherwise be silently ignored by the server.
        raise TypeError(f"unknown {what} filter(s) {unknown}; allowed: {sorted(allowed)}")
    # Blank filters mean "any": the pages pass every widget through, set or not.
    return {name: _param(value) for name, value in filters.items() if value is not None and value != ""}


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return str(body)[:200]


class ApiClient:
    """``GET`` helpers for ``/api/v1``; each returns the decoded JSON body as documented in docs/api.md."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._has_key = bool(api_key)
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def spans(self, **filters: Any) -> dict[str, Any]:
        """``GET /api/v1/spans`` -> ``{items: [span], next_cursor}``, newest first."""
        return self._get("/api/v1/spans", _query(filters, _SPAN_FILTERS, "span"))

    def traces(self, **filters: Any) -> dict[str, Any]:
        """``GET /api/v1/traces`` -> ``{items: [trace summary], next_cursor}``, newest first."""
        return self._get("/api/v1/traces", _query(filters, _TRACE_FILTERS, "trace"))

    def trace(self, trace_id: str) -> dict[str, Any]:
        """``GET /api/v1/traces/{trace_id}`` -> ``{trace_id, spans}``; an unknown id is ``ApiError`` 404."""
        trace_id = trace_id.strip().lower()
        if not trace_id or not all(c in "0123456789abcdef" for c in trace_id):
            raise ApiError(f"{trace_id!r} is not a trace id: expected lowercase hex, such as 4bf92f3577b34da6")
        return self._get(f"/api/v1/traces/{trace_id}", {})

    def metrics(
        self,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        interval: str | None = None,
        group_by: str | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """``GET /api/v1/metrics`` -> ``{interval, group_by, items: [bucket]}``; ``filters``: tenant, model, kind."""
        params = _query(filters, _METRIC_FILTERS, "metrics")
        params.update(_query({"start": start, "end": end, "interval": interval, "group_by": group_by},
                             frozenset({"start", "end", "interval", "group_by"}), "metrics"))
        return self._get("/api/v1/metrics", params)

    def routes(self) -> dict[str, list[str]]:
        """The collector's OpenAPI paths -> their HTTP methods (lowercase), from ``GET /openapi.json``.

        Pages use it to tell "this collector has no such endpoint yet" from a failed call without side effects
        (probing a ``POST`` route by calling it would start a run)."""
        body = self._get("/openapi.json", {})
        paths = body.get("paths") if isinstance(body, dict) else None
        if not isinstance(paths, dict):
            raise ApiError(f"the OpenAPI schema at {self.base_url}/openapi.json has no paths")
        return {path: sorted(str(m).lower() for m in methods) for path, methods in paths.items()
                if isinstance(methods, dict)}

    def get(self, path: str, **params: Any) -> Any:
        """``GET`` any ``/api/v1`` path (the analytics, replay and compare contract of DESIGN section 6)."""
        return self._get(path, {k: _param(v) for k, v in params.items() if v is not None and v != ""})

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """``POST`` a JSON body to any ``/api/v1`` path; errors as for ``GET``."""
        return self._send("POST", path, {}, body)

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        return self._send("GET", path, params, None)

    def _send(self, method: str, path: str, params: Mapping[str, str], body: Mapping[str, Any] | None) -> Any:
        try:
            response = self._http.request(method, path, params=params, json=body)
        except httpx.TimeoutException as exc:
            raise ApiError(
                f"the collector at {self.base_url} did not answer in time; it may be busy, try a shorter time range",
                url=self.base_url,
            ) from exc
        except httpx.TransportError as exc:
            raise ApiError(
                f"cannot reach the collector at {self.base_url}: start it with `tracehouse serve` "
                f"or set {ENV_ENDPOINT}",
                url=self.base_url,
            ) from exc
        if response.status_code in (401, 403):
            hint = "is not accepted" if self._has_key else "is missing"
            raise ApiError(
                f"the collector at {self.base_url} refused access ({response.status_code}: {_detail(response)}): "
                f"the API key {hint}; set {ENV_API_KEY} to a project key with the `read` scope",
                status_code=response.status_code,
                url=str(response.url),
                detail=_detail(response),
            )
        if response.is_error:
            raise ApiError(
                f"the collector answered {response.status_code} to {path}: {_detail(response)}",
                status_code=response.status_code,
                url=str(response.url),
                detail=_detail(response),
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                f"the answer from {self.base_url}{path} is not JSON: is {ENV_ENDPOINT} pointing at a tracehouse "
                "collector?",
                status_code=response.status_code,
                url=str(response.url),
            ) from exc
