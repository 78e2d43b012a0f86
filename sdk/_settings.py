"""SDK settings: one precedence rule, explicit argument > environment variable > default.

Nothing else in the SDK reads ``os.environ``. A bad value raises ``ValueError`` here, at ``init()``,
with a message that says how to fix it; after that the SDK never raises into the host application.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Mapping, TypeVar

T = TypeVar("T")

ENV_ENDPOINT = "TRACEHOUSE_ENDPOINT"
ENV_API_KEY = "TRACEHOUSE_API_KEY"
ENV_SERVICE_NAME = "OTEL_SERVICE_NAME"
ENV_ENVIRONMENT = "TRACEHOUSE_ENVIRONMENT"
ENV_RELEASE = "TRACEHOUSE_RELEASE"
ENV_CAPTURE_CONTENT = "TRACEHOUSE_CAPTURE_CONTENT"
ENV_SAMPLE_RATE = "TRACEHOUSE_SAMPLE_RATE"
ENV_MAX_QUEUE_SIZE = "TRACEHOUSE_MAX_QUEUE_SIZE"
ENV_MAX_EXPORT_BATCH_SIZE = "TRACEHOUSE_MAX_EXPORT_BATCH_SIZE"
ENV_SCHEDULE_DELAY_MS = "TRACEHOUSE_SCHEDULE_DELAY_MS"
ENV_EXPORT_TIMEOUT_S = "TRACEHOUSE_EXPORT_TIMEOUT_S"
ENV_SHUTDOWN_TIMEOUT_S = "TRACEHOUSE_SHUTDOWN_TIMEOUT_S"

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
# full: content as given; redacted: content with PII and secrets replaced (tracehouse.redaction) before it
# leaves the process; none: no prompts, completions, tool arguments/results or retrieved documents at all.
CAPTURE_POLICIES = ("full", "redacted", "none")


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
    sample_rate: float = 1.0
    shutdown_timeout_s: float = 5.0

    @property
    def traces_url(self) -> str:
        return self.endpoint.rstrip("/") + "/v1/traces"

    @property
    def scores_url(self) -> str:
        return self.endpoint.rstrip("/") + "/api/v1/scores"


def _pick(arg: object, env: Mapping[str, str], name: str, default: object) -> object:
    if arg is not None:
        return arg
    value = env.get(name)
    return value if value not in (None, "") else default


def _number(arg: object, env: Mapping[str, str], name: str, env_name: str, default: T,
            cast: Callable[[str], T], ok: Callable[[T], bool], rule: str) -> T:
    raw = _pick(arg, env, env_name, default)
    try:
        value = cast(raw) if isinstance(raw, str) else raw  # type: ignore[arg-type]
    except ValueError:
        value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            cast is int and not isinstance(value, int)) or not ok(value):  # type: ignore[arg-type]
        raise ValueError(f"tracehouse: {name} must be {rule}, got {raw!r} "
                         f"(argument {name}= or environment variable {env_name})")
    return value  # type: ignore[return-value]


def resolve_settings(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    service_name: str | None = None,
    environment: str | None = None,
    release: str | None = None,
    capture_content: str | None = None,
    max_queue_size: int | None = None,
    max_export_batch_size: int | None = None,
    schedule_delay_ms: int | None = None,
    export_timeout_s: float | None = None,
    sample_rate: float | None = None,
    shutdown_timeout_s: float | None = None,
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
    positive = "a positive integer"
    queue = _number(max_queue_size, env, "max_queue_size", ENV_MAX_QUEUE_SIZE, 8192, int, lambda v: v > 0, positive)
    batch = _number(max_export_batch_size, env, "max_export_batch_size", ENV_MAX_EXPORT_BATCH_SIZE, 512, int,
                    lambda v: v > 0, positive)
    if batch > queue:
        raise ValueError("tracehouse: max_export_batch_size must not exceed max_queue_size")
    delay = _number(schedule_delay_ms, env, "schedule_delay_ms", ENV_SCHEDULE_DELAY_MS, 500, int,
                    lambda v: v > 0, positive)
    seconds = "a positive number of seconds"
    timeout = _number(export_timeout_s, env, "export_timeout_s", ENV_EXPORT_TIMEOUT_S, 10.0, float,
                      lambda v: 0 < v < math.inf, seconds)
    shutdown_timeout = _number(shutdown_timeout_s, env, "shutdown_timeout_s", ENV_SHUTDOWN_TIMEOUT_S, 5.0, float,
                               lambda v: 0 < v < math.inf, seconds)
    rate = _number(sample_rate, env, "sample_rate", ENV_SAMPLE_RATE, 1.0, float, lambda v: 0.0 <= v <= 1.0,
                   "a number between 0 and 1")
    return SDKSettings(
        endpoint=endpoint.rstrip("/"),
        api_key=_pick(api_key, env, ENV_API_KEY, None),  # type: ignore[arg-type]
        service_name=str(_pick(service_name, env, ENV_SERVICE_NAME, "unknown_service")),
        environment=_pick(environment, env, ENV_ENVIRONMENT, None),  # type: ignore[arg-type]
        release=_pick(release, env, ENV_RELEASE, None),  # type: ignore[arg-type]
        capture_content=capture,
        max_queue_size=queue,
        max_export_batch_size=batch,
        schedule_delay_ms=delay,
        export_timeout_s=float(timeout),
        sample_rate=float(rate),
        shutdown_timeout_s=float(shutdown_timeout),
    )
