"""SDK settings: one precedence rule, explicit argument > environment variable > default.

Nothing else in the SDK reads ``os.environ``. A bad value raises ``ValueError`` here, at ``init()``,
with a message that says how to fix it; after that the SDK never raises into the host application.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

ENV_ENDPOINT = "TRACEHOUSE_ENDPOINT"
ENV_API_KEY = "TRACEHOUSE_API_KEY"
ENV_SERVICE_NAME = "OTEL_SERVICE_NAME"
ENV_ENVIRONMENT = "TRACEHOUSE_ENVIRONMENT"
ENV_RELEASE = "TRACEHOUSE_RELEASE"
ENV_CAPTURE_CONTENT = "TRACEHOUSE_CAPTURE_CONTENT"

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
CAPTURE_POLICIES = ("full", "none")


@dataclass(frozen=True)
class SDKSettings:
    endpoint: str
    api_key: str | None
    service_name: str
    environment: str | None
    release: str | None
    capture_content: str
    max_queue_size: int
    max_export_batch_size: int
    schedule_delay_ms: int
    export_timeout_s: float

    @property
    def traces_url(self) -> str:
        return self.endpoint.rstrip("/") + "/v1/traces"


def _pick(arg: object, env: Mapping[str, str], name: str, default: object) -> object:
    if arg is not None:
        return arg
    value = env.get(name)
    return value if value not in (None, "") else default


def resolve_settings(
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
    env: Mapping[str, str] | None = None,
) -> SDKSettings:
    env = os.environ if env is None else env
    endpoint = str(_pick(endpoint, env, ENV_ENDPOINT, DEFAULT_ENDPOINT))
    if not endpoint.startswith(("http://", "https://")):
        raise ValueError(
            f"tracehouse: endpoint {endpoint!r} must start with http:// or https:// "
            f"(set the endpoint= argument or {ENV_ENDPOINT}, e.g. {DEFAULT_ENDPOINT})"
        )
    capture = str(_pick(capture_content, env, ENV_CAPTURE_CONTENT, "full")).lower()
    if capture not in CAPTURE_POLICIES:
        raise ValueError(
            f"tracehouse: capture_content {capture!r} is not one of {', '.join(CAPTURE_POLICIES)} "
            f"(argument capture_content= or {ENV_CAPTURE_CONTENT})"
        )
    for name, value in (("max_queue_size", max_queue_size), ("max_export_batch_size", max_export_batch_size)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"tracehouse: {name} must be a positive integer, got {value!r}")
    if max_export_batch_size > max_queue_size:
        raise ValueError("tracehouse: max_export_batch_size must not exceed max_queue_size")
    return SDKSettings(
        endpoint=endpoint.rstrip("/"),
        api_key=_pick(api_key, env, ENV_API_KEY, None),  # type: ignore[arg-type]
        service_name=str(_pick(service_name, env, ENV_SERVICE_NAME, "unknown_service")),
        environment=_pick(environment, env, ENV_ENVIRONMENT, None),  # type: ignore[arg-type]
        release=_pick(release, env, ENV_RELEASE, None),  # type: ignore[arg-type]
        capture_content=capture,
        max_queue_size=max_queue_size,
        max_export_batch_size=max_export_batch_size,
        schedule_delay_ms=schedule_delay_ms,
        export_timeout_s=export_timeout_s,
    )
