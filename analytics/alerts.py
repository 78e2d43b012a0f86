"""Alerts: rules per project, evaluated on a schedule; webhook notifications with retries, de-duplication and a
resolved message; an alert history.

Rule kinds and their parameters (``validate_params`` fills the defaults and refuses anything else):

================  ==================================================================================================
``drift``         a signal of the latest scheduled drift run has verdict ``drift``. ``signals``: names or
                  ``fnmatch`` patterns (``cost_per_call[*``), default every signal; ``trigger``: ``schedule``
                  (default) or ``any`` run; ``max_age_s``: ignore runs older than this (default 2 days).
                  Subject: the signal.
``cost_budget``   spend since the start of the UTC ``period`` (``day`` | ``month``) reaches ``budget_usd``, per
                  tenant (default), for one ``tenant``, or for the project (``per_tenant: false``).
``cost_spike``    cost of the last ``window_s`` (3600) is at least ``factor`` (2.0) times the cost of an average
                  window of the ``baseline_s`` (7 days) before it, and at least ``min_cost_usd`` (1.0); grouped
                  ``by`` a column (tenant, model, ...; default: the project).
``error_rate``    share of LLM calls in error over the last ``window_s`` (900) reaches ``threshold`` (0.05), with
                  at least ``min_calls`` (20); optionally ``by`` a column.
``latency_p95``   p95 latency of LLM calls over the last ``window_s`` (900) reaches ``threshold_ms``, with at least
                  ``min_calls`` (20); optionally ``by`` a column.
================  ==================================================================================================

Every metric rule takes ``filters`` (the span filters of ``tracehouse.storage.drift.FILTER_COLUMNS``). The
subject of a metric rule is ``project``, or ``<column>=<value>`` per group (``tenant=acme``; ``tenant=(none)``
for spans without one).

State machine per (rule, subject), stored in ``alert_state`` so a restart does not re-send: a condition that
starts holding sends a ``firing`` notification; while it keeps holding nothing is sent again (de-duplication),
unless the firing notification was never delivered, which is retried at the next evaluation; when it stops
holding (or its subject disappears, e.g. a new budget period) a ``resolved`` notification is sent, retried the
same way. A rule whose evaluation fails (storage down, no recent drift run) changes no state. Every
notification attempt is recorded in the history (``alert_events``).

Webhooks: a JSON POST that Slack-compatible endpoints accept: ``text`` (the message), ``attachments`` with the
structured fields Slack, Mattermost and Rocket.Chat render, and a machine-readable ``tracehouse`` object
(``event``, ``rule_id``, ``subject``, ``value``, ``threshold``, ``dedup_key``, ...). ``WebhookNotifier`` retries
connection errors, timeouts, 429 and 5xx with exponential backoff (honouring ``Retry-After``), never 4xx.

Blocking: ``evaluate``, ``send_test`` and the rule functions do storage and network I/O; call them off the event
loop. ``AlertEngine`` is thread-safe (one evaluation at a time per engine).
"""

from __future__ import annotations

import fnmatch
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from tracehouse.storage import Store
from tracehouse.storage.drift import ALERT_GROUP_COLUMNS, AlertStore, DriftStore, filter_clauses

from .drift_jobs import format_time
from .jobs import PeriodicHandle

__all__ = ["RULE_KINDS", "AlertEngine", "AlertRule", "Condition", "Delivery", "WebhookNotifier", "build_payload",
           "create_rule", "delete_rule", "get_rule", "list_rules", "update_rule", "validate_params",
           "validate_webhook_url"]

logger = logging.getLogger("tracehouse.analytics.alerts")

RULE_KINDS = ("drift", "cost_budget", "cost_spike", "error_rate", "latency_p95")
_NS = 1_000_000_000
_DAY_S = 86400


# -- rules -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AlertRule:
    project: str
    rule_id: str
    name: str
    kind: str
    params: Mapping[str, Any]
    webhook_url: str = ""
    enabled: bool = True
    created_ms: int = 0

    def to_dict(self, reveal_url: bool = False) -> dict[str, Any]:
        """As the API shows it; the webhook URL (a secret for Slack) masked unless ``reveal_url``."""
        return {"rule_id": self.rule_id, "name": self.name, "kind": self.kind, "params": dict(self.params),
                "webhook_url": self.webhook_url if reveal_url else mask_url(self.webhook_url),
                "enabled": self.enabled, "created_at": format_time(self.created_ms * 1_000_000)}

    def storage_row(self) -> dict[str, Any]:
        return {"project": self.project, "rule_id": self.rule_id, "name": self.name, "kind": self.kind,
                "params": dict(self.params), "webhook_url": self.webhook_url, "enabled": self.enabled,
                "created_ms": self.created_ms}


def mask_url(url: str) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    tail = url[-4:] if len(parts.path) > 4 else ""
    return f"{parts.scheme}://{parts.netloc}/…{tail}"


def validate_webhook_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"a webhook URL must be http(s)://host/path, got {url!r}")
    return url


def _number(params: dict[str, Any], key: str, default: float | None, *, positive: bool = True,
            minimum: float | None = None) -> float:
    value = params.pop(key, default)
    if value is None:
        raise ValueError(f"parameter {key!r} is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise ValueError(f"parameter {key!r} must be a number, got {value!r}")
    value = float(value)
    if positive and value <= 0:
        raise ValueError(f"parameter {key!r} must be > 0, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"parameter {key!r} must be >= {minimum}, got {value}")
    return value


def _choice(params: dict[str, Any], key: str, default: Any, allowed: Iterable[Any]) -> Any:
    value = params.pop(key, default)
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"parameter {key!r} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _filters(params: dict[str, Any]) -> dict[str, Any]:
    filters = params.pop("filters", None) or {}
    if not isinstance(filters, Mapping):
        raise ValueError(f"parameter 'filters' must be an object, got {filters!r}")
    filter_clauses(filters, {})  # InvalidQueryError (a ValueError) for unknown names or bad values
    return dict(filters)


def validate_params(kind: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The rule's parameters with defaults filled in; ``ValueError`` for an unknown kind, a missing or bad value,
    or an unknown parameter (see the module docstring)."""
    if kind not in RULE_KINDS:
        raise ValueError(f"unknown rule kind {kind!r}: use one of {', '.join(RULE_KINDS)}")
    p = dict(params or {})
    out: dict[str, Any]
    if kind == "drift":
        signals = p.pop("signals", None) or []
        if isinstance(signals, str):
            signals = [signals]
        if not isinstance(signals, list) or not all(isinstance(s, str) and s for s in signals):
            raise ValueError(f"parameter 'signals' must be a list of signal names or patterns, got {signals!r}")
        out = {"signals": signals, "trigger": _choice(p, "trigger", "schedule", ("schedule", "any")),
               "max_age_s": _number(p, "max_age_s", 2 * _DAY_S)}
    elif kind == "cost_budget":
        tenant = p.pop("tenant", None)
        if tenant is not None and not isinstance(tenant, str):
            raise ValueError(f"parameter 'tenant' must be a string, got {tenant!r}")
        out = {"budget_usd": _number(p, "budget_usd", None), "period": _choice(p, "period", "day", ("day", "month")),
               "tenant": tenant or None, "per_tenant": bool(_choice(p, "per_tenant", True, (True, False))),
               "filters": _filters(p)}
    elif kind == "cost_spike":
        out = {"window_s": _number(p, "window_s", 3600), "baseline_s": _number(p, "baseline_s", 7 * _DAY_S),
               "factor": _number(p, "factor", 2.0, minimum=1.0), "min_cost_usd": _number(p, "min_cost_usd", 1.0,
                                                                                         positive=False, minimum=0),
               "by": _choice(p, "by", None, (None, *ALERT_GROUP_COLUMNS)), "filters": _filters(p)}
        if out["baseline_s"] < out["window_s"]:
            raise ValueError("parameter 'baseline_s' must be at least 'window_s'")
    elif kind == "error_rate":
        out = {"window_s": _number(p, "window_s", 900), "threshold": _number(p, "threshold", 0.05),
               "min_calls": int(_number(p, "min_calls", 20, minimum=1)),
               "by": _choice(p, "by", None, (None, *ALERT_GROUP_COLUMNS)), "filters": _filters(p)}
        if out["threshold"] > 1:
            raise ValueError("parameter 'threshold' is a share of calls: at most 1")
    else:  # latency_p95
        out = {"window_s": _number(p, "window_s", 900), "threshold_ms": _number(p, "threshold_ms", None),
               "min_calls": int(_number(p, "min_calls", 20, minimum=1)),
               "by": _choice(p, "by", None, (None, *ALERT_GROUP_COLUMNS)), "filters": _filters(p)}
    if p:
        raise ValueError(f"unknown parameters {sorted(p)} for a {kind} rule")
    return out


def _rule(row: Mapping[str, Any]) -> AlertRule:
    return AlertRule(project=row["project"], rule_id=row["rule_id"], name=row["name"], kind=row["kind"],
                     params=MappingProxyType(dict(row["params"])), webhook_url=row.get("webhook_url") or "",
                     enabled=bool(row.get("enabled", True)), created_ms=int(row.get("created_ms") or 0))


def create_rule(store: Store, project: str, *, name: str, kind: str, params: Mapping[str, Any] | None = None,
                webhook_url: str = "", enabled: bool = True) -> AlertRule:
    """Validate and store a rule; ``ValueError`` for a bad one. ``webhook_url`` "" uses the engine's default."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValueError("a rule needs a name of 1 to 200 characters")
    rule = AlertRule(project=project, rule_id=uuid.uuid4().hex, name=name.strip(), kind=kind,
                     params=MappingProxyType(validate_params(kind, params)),
                     webhook_url=validate_webhook_url(webhook_url) if webhook_url else "", enabled=bool(enabled),
                     created_ms=time.time_ns() // 1_000_000)
    AlertStore(store).put_rule(rule.storage_row())
    return rule


def list_rules(store: Store, project: str) -> list[AlertRule]:
    return [_rule(r) for r in AlertStore(store).rules(project)]


def get_rule(store: Store, project: str, rule_id: str) -> AlertRule | None:
    rows = AlertStore(store).rules(project, rule_id)
    return _rule(rows[0]) if rows else None


def update_rule(store: Store, project: str, rule_id: str, **changes: Any) -> AlertRule | None:
    """Change ``name``, ``params``, ``webhook_url`` or ``enabled``; None for an unknown rule."""
    rule = get_rule(store, project, rule_id)
    if rule is None:
        return None
    unknown = sorted(set(changes) - {"name", "params", "webhook_url", "enabled"})
    if unknown:
        raise ValueError(f"cannot change {unknown}: name, params, webhook_url and enabled can change")
    params = validate_params(rule.kind, changes["params"]) if "params" in changes else dict(rule.params)
    url = changes.get("webhook_url", rule.webhook_url)
    updated = AlertRule(project, rule_id, str(changes.get("name", rule.name)).strip() or rule.name, rule.kind,
                        MappingProxyType(params), validate_webhook_url(url) if url else "",
                        bool(changes.get("enabled", rule.enabled)), rule.created_ms)
    AlertStore(store).put_rule(updated.storage_row())
    return updated


def delete_rule(store: Store, project: str, rule_id: str) -> bool:
    """Delete a rule (no resolved message is sent for its firing subjects); False for an unknown rule."""
    rule = get_rule(store, project, rule_id)
    if rule is None:
        return False
    AlertStore(store).put_rule(rule.storage_row(), deleted=True)
    return True


# -- webhooks --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delivery:
    ok: bool
    status_code: int = 0
    attempts: int = 0
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status_code": self.status_code, "attempts": self.attempts, "error": self.error}


class WebhookNotifier:
    """POSTs JSON to webhooks with retries (see the module docstring). Thread-safe; blocks while retrying (at
    most about ``timeout_s * (retries + 1)`` plus the backoff)."""

    def __init__(self, *, retries: int = 3, backoff_s: float = 0.5, max_backoff_s: float = 8.0,
                 timeout_s: float = 5.0, transport: Any = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if retries < 0 or backoff_s < 0 or timeout_s <= 0:
            raise ValueError("retries and backoff_s must be >= 0, timeout_s > 0")
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self._transport = transport
        self._sleep = sleep

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = min(self.max_backoff_s, self.backoff_s * (2 ** attempt))
        if retry_after:
            try:
                delay = max(delay, min(self.max_backoff_s, float(retry_after)))
            except ValueError:
                pass
        return delay

    def send(self, url: str, payload: Mapping[str, Any]) -> Delivery:
        """Deliver ``payload``; never raises for network or HTTP errors (they are in the ``Delivery``)."""
        import httpx

        try:
            url = validate_webhook_url(url)
        except ValueError as exc:
            return Delivery(False, 0, 0, str(exc))
        headers = {"User-Agent": "tracehouse-alerts", "Content-Type": "application/json"}
        event_id = (payload.get("tracehouse") or {}).get("event_id") if isinstance(payload, Mapping) else None
        if event_id:
            headers["X-Tracehouse-Event-Id"] = str(event_id)
        status, error = 0, ""
        attempt = 0
        with httpx.Client(timeout=self.timeout_s, transport=self._transport, follow_redirects=False) as client:
            for attempt in range(1, self.retries + 2):
                retry_after = None
                try:
                    response = client.post(url, json=dict(payload), headers=headers)
                    status = response.status_code
                    if 200 <= status < 300:
                        return Delivery(True, status, attempt, "")
                    error = f"HTTP {status}: {response.text[:200]}"
                    if status != 429 and status < 500:
                        return Delivery(False, status, attempt, error)  # the receiver refused it: do not retry
                    retry_after = response.headers.get("Retry-After")
                except httpx.HTTPError as exc:
                    status, error = 0, f"{type(exc).__name__}: {exc}"
                if attempt <= self.retries:
                    self._sleep(self._delay(attempt - 1, retry_after))
        logger.warning("webhook delivery to %s failed after %d attempts: %s", mask_url(url), attempt, error)
        return Delivery(False, status, attempt, error)


_ICONS = {"firing": ":rotating_light:", "resolved": ":white_check_mark:", "test": ":wave:"}
_COLORS = {"firing": "danger", "resolved": "good", "test": "#439FE0"}


def build_payload(event: str, *, project: str, rule: AlertRule | None, subject: str, message: str,
                  value: float | None = None, threshold: float | None = None, event_id: str = "",
                  since_ns: int | None = None, evaluated_ns: int | None = None,
                  details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The webhook body (see the module docstring)."""
    title = rule.name if rule else "test notification"
    text = f"{_ICONS.get(event, '')} [tracehouse] {event.upper()}: {title}"
    if subject and subject != "project":
        text += f" ({subject})"
    text += f" — {message}"
    fields = [{"title": "Project", "value": project, "short": True}]
    if rule:
        fields += [{"title": "Rule", "value": f"{rule.name} ({rule.kind})", "short": True},
                   {"title": "Subject", "value": subject, "short": True}]
    if value is not None:
        fields.append({"title": "Value", "value": f"{value:.6g}", "short": True})
    if threshold is not None:
        fields.append({"title": "Threshold", "value": f"{threshold:.6g}", "short": True})
    if since_ns:
        fields.append({"title": "Since", "value": format_time(since_ns), "short": True})
    structured = {
        "event": event, "event_id": event_id, "project": project, "rule_id": rule.rule_id if rule else "",
        "rule_name": title, "kind": rule.kind if rule else "test", "subject": subject, "message": message,
        "value": value, "threshold": threshold, "dedup_key": f"{rule.rule_id}:{subject}" if rule else "",
        "since": format_time(since_ns) if since_ns else None,
        "evaluated_at": format_time(evaluated_ns) if evaluated_ns else None, "details": dict(details or {}),
    }
    return {"text": text, "attachments": [{"color": _COLORS.get(event, "#888888"), "fallback": text,
                                           "fields": fields}], "tracehouse": structured}


# -- evaluation ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Condition:
    """Whether a rule holds for one subject now."""

    subject: str
    firing: bool
    value: float
    threshold: float
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


def _money(x: float) -> str:
    return f"${x:,.2f}" if abs(x) >= 0.1 else f"${x:.4f}"


def _period_start(now_ns: int, period: str) -> int:
    now = datetime.fromtimestamp(now_ns // _NS, tz=timezone.utc)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        start = start.replace(day=1)
    return int(start.timestamp()) * _NS


def _subject(value: str, by: str | None) -> str:
    if not by:
        return "project"
    return f"{by}={value}" if value else f"{by}=(none)"


class AlertEngine:
    """Evaluates a project's rules and notifies (see the module docstring).

    ``notifier``: anything with ``send(url, payload) -> Delivery`` (default ``WebhookNotifier()``);
    ``default_webhook_url``: used by rules without their own URL (none: events are recorded, not sent).
    """

    def __init__(self, store: Store, notifier: Any = None, *, default_webhook_url: str = "",
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.store = store
        self.alerts = AlertStore(store)
        self.drift = DriftStore(store)
        self.notifier = notifier if notifier is not None else WebhookNotifier()
        self.default_webhook_url = validate_webhook_url(default_webhook_url) if default_webhook_url else ""
        self._clock_ns = clock_ns
        self._lock = threading.Lock()

    # -- rules (the API's CRUD) -------------------------------------------------------------------------------------
    def create_rule(self, project: str, *, name: str, kind: str, params: Mapping[str, Any] | None = None,
                    webhook_url: str = "", enabled: bool = True) -> dict[str, Any]:
        return create_rule(self.store, project, name=name, kind=kind, params=params, webhook_url=webhook_url,
                           enabled=enabled).to_dict()

    def list_rules(self, project: str) -> list[dict[str, Any]]:
        return [r.to_dict() for r in list_rules(self.store, project)]

    def get_rule(self, project: str, rule_id: str) -> dict[str, Any] | None:
        rule = get_rule(self.store, project, rule_id)
        return rule.to_dict() if rule else None

    def update_rule(self, project: str, rule_id: str, **changes: Any) -> dict[str, Any] | None:
        rule = update_rule(self.store, project, rule_id, **changes)
        return rule.to_dict() if rule else None

    def delete_rule(self, project: str, rule_id: str) -> bool:
        return delete_rule(self.store, project, rule_id)

    # -- history and tests ------------------------------------------------------------------------------------------
    def history(self, project: str, limit: int = 100, rule_id: str | None = None) -> list[dict[str, Any]]:
        """Alert events, newest first: ``{event_id, rule_id, rule_name, kind, event, subject, value, threshold,
        message, details, delivered, attempts, status_code, error, time}``."""
        out = []
        for row in self.alerts.history(project, limit, rule_id):
            row["time"] = format_time(row.pop("evaluated_ns") or row["created_ms"] * 1_000_000)
            row.pop("created_ms", None)
            out.append(row)
        return out

    def send_test(self, url: str, project: str | None = None) -> dict[str, Any]:
        """Send a test notification to ``url`` (``ValueError`` for a URL that is not http(s)); recorded in the
        project's history when ``project`` is given. Returns ``{ok, status_code, attempts, error}``."""
        url = validate_webhook_url(url)
        now = self._clock_ns()
        event_id = uuid.uuid4().hex
        payload = build_payload("test", project=project or "", rule=None, subject="",
                                message="a test notification from tracehouse: this webhook works.",
                                event_id=event_id, evaluated_ns=now)
        delivery = self.notifier.send(url, payload)
        if project:
            self.alerts.add_events(project, [{"event_id": event_id, "rule_id": "", "rule_name": "test notification",
                                              "kind": "test", "event": "test", "subject": "", "message": payload["text"],
                                              "details": {"url": mask_url(url)}, "delivered": delivery.ok,
                                              "attempts": delivery.attempts, "status_code": delivery.status_code,
                                              "error": delivery.error, "evaluated_ns": now}])
        return delivery.to_dict()

    # -- evaluation -------------------------------------------------------------------------------------------------
    def evaluate(self, project: str, now_ns: int | None = None) -> list[dict[str, Any]]:
        """Evaluate every enabled rule of the project at ``now_ns`` (default: now), notify transitions, and return
        the events recorded (``event``: firing | resolved, with delivery results)."""
        now = self._clock_ns() if now_ns is None else int(now_ns)
        with self._lock:
            rules = [r for r in list_rules(self.store, project) if r.enabled]
            if not rules:
                return []
            states = self.alerts.states(project)
            events: list[dict[str, Any]] = []
            new_states: list[dict[str, Any]] = []
            for rule in rules:
                try:
                    conditions = self.conditions(rule, now)
                except Exception:
                    logger.exception("alert rule %s (%s) of project %s could not be evaluated", rule.rule_id,
                                     rule.kind, project)
                    continue
                if conditions is None:
                    continue
                self._reconcile(rule, conditions, states, now, events, new_states)
            self.alerts.put_states(project, new_states)
            self.alerts.add_events(project, events)
            return [self._event_out(e) for e in events]

    @staticmethod
    def _event_out(e: Mapping[str, Any]) -> dict[str, Any]:
        return {"event_id": e["event_id"], "rule_id": e["rule_id"], "rule_name": e["rule_name"], "kind": e["kind"],
                "event": e["event"], "subject": e["subject"], "value": e["value"], "threshold": e["threshold"],
                "message": e["message"], "delivered": e["delivered"], "attempts": e["attempts"],
                "status_code": e["status_code"], "error": e["error"], "time": format_time(e["evaluated_ns"])}

    def _reconcile(self, rule: AlertRule, conditions: list[Condition],
                   states: Mapping[tuple[str, str], Mapping[str, Any]], now: int, events: list[dict[str, Any]],
                   new_states: list[dict[str, Any]]) -> None:
        firing = {c.subject: c for c in conditions if c.firing}
        url = rule.webhook_url or self.default_webhook_url
        for subject, c in sorted(firing.items()):
            state = states.get((rule.rule_id, subject))
            active = state is not None and state["status"] == "firing"
            if active and state["notified"]:
                continue  # already told: de-duplicated while it keeps firing
            since = int(state["since_ns"]) if active else now
            event = self._notify("firing", rule, c.subject, c.message, c.value, c.threshold, since, now, c.details, url)
            events.append(event)
            new_states.append({"rule_id": rule.rule_id, "subject": subject, "status": "firing",
                               "notified": event["delivered"] or not url, "since_ns": since, "value": c.value,
                               "threshold": c.threshold, "message": c.message, "event_id": event["event_id"]})
        by_subject = {c.subject: c for c in conditions}
        for (rule_id, subject), state in sorted(states.items()):
            if rule_id != rule.rule_id or state["status"] != "firing" or subject in firing:
                continue
            c = by_subject.get(subject)
            message = c.message if c else "no longer observed in the rule's window"
            if not state["notified"]:  # its firing message never got through: do not announce a resolution
                new_states.append({**state, "status": "ok", "notified": False, "since_ns": now, "message": message})
                continue
            event = self._notify("resolved", rule, subject, message, c.value if c else state["value"],
                                 state["threshold"], int(state["since_ns"]), now, c.details if c else {}, url)
            events.append(event)
            if event["delivered"] or not url:
                new_states.append({**state, "status": "ok", "notified": True, "since_ns": now, "message": message,
                                   "event_id": event["event_id"]})

    def _notify(self, kind: str, rule: AlertRule, subject: str, message: str, value: float, threshold: float,
                since: int, now: int, details: Mapping[str, Any], url: str) -> dict[str, Any]:
        event_id = uuid.uuid4().hex
        if kind == "resolved":
            message = f"resolved after {(now - since) / _NS / 60:.0f} min: {message}"
        payload = build_payload(kind, project=rule.project, rule=rule, subject=subject, message=message, value=value,
                                threshold=threshold, event_id=event_id, since_ns=since, evaluated_ns=now,
                                details=details)
        delivery = self.notifier.send(url, payload) if url else Delivery(False, 0, 0, "no webhook URL configured")
        return {"event_id": event_id, "rule_id": rule.rule_id, "rule_name": rule.name, "kind": rule.kind,
                "event": kind, "subject": subject, "value": float(value), "threshold": float(threshold),
                "message": payload["text"], "details": dict(details), "delivered": delivery.ok,
                "attempts": delivery.attempts, "status_code": delivery.status_code, "error": delivery.error,
                "evaluated_ns": now}

    # -- what each rule kind measures ---------------------------------------------------------------------------------
    def conditions(self, rule: AlertRule, now_ns: int) -> list[Condition] | None:
        """The rule's condition per subject at ``now_ns``; None when it cannot be judged (no recent drift run)."""
        p = rule.params
        if rule.kind == "drift":
            return self._drift(rule, now_ns)
        if rule.kind == "cost_budget":
            return self._budget(rule, now_ns)
        window_ns = int(p["window_s"] * _NS)
        stats = self.alerts.window_stats(rule.project, now_ns - window_ns, now_ns, p["by"], p["filters"])
        out = []
        if rule.kind == "cost_spike":
            base_start = now_ns - window_ns - int(p["baseline_s"] * _NS)
            base = {r["subject"]: float(r["cost_usd"]) for r in
                    self.alerts.window_stats(rule.project, base_start, now_ns - window_ns, p["by"], p["filters"])}
            scale = p["window_s"] / p["baseline_s"]
            for r in stats:
                current = float(r["cost_usd"])
                expected = base.get(r["subject"], 0.0) * scale
                limit = max(p["factor"] * expected, p["min_cost_usd"])
                ratio = current / expected if expected > 0 else math.inf
                text = (f"cost {_money(current)} in the last {p['window_s'] / 60:.0f} min, "
                        + (f"{ratio:.1f}x the usual {_money(expected)}" if expected > 0 else "with no cost before"))
                out.append(Condition(_subject(r["subject"], p["by"]), current >= limit and current > 0, current,
                                     limit, text, {"expected_usd": expected, "factor": p["factor"]}))
            return out
        for r in stats:
            calls = int(r["calls"])
            subject = _subject(r["subject"], p["by"])
            if rule.kind == "error_rate":
                rate = int(r["errors"]) / calls if calls else 0.0
                text = f"{rate:.1%} of {calls} LLM calls failed in the last {p['window_s'] / 60:.0f} min"
                out.append(Condition(subject, calls >= p["min_calls"] and rate >= p["threshold"], rate,
                                     p["threshold"], text, {"calls": calls, "errors": int(r["errors"])}))
            else:
                p95 = float(r["latency_p95_ms"]) if calls else 0.0
                p95 = p95 if math.isfinite(p95) else 0.0
                text = f"p95 latency {p95:,.0f} ms over {calls} LLM calls in the last {p['window_s'] / 60:.0f} min"
                out.append(Condition(subject, calls >= p["min_calls"] and p95 >= p["threshold_ms"], p95,
                                     p["threshold_ms"], text, {"calls": calls}))
        return out

    def _budget(self, rule: AlertRule, now_ns: int) -> list[Condition]:
        p = rule.params
        filters = dict(p["filters"])
        if p["tenant"]:
            filters["tenant"] = p["tenant"]
        by = "tenant" if p["per_tenant"] or p["tenant"] else None
        start = _period_start(now_ns, p["period"])
        out = []
        for r in self.alerts.window_stats(rule.project, start, now_ns + 1, by, filters):
            spent = float(r["cost_usd"])
            who = f"tenant {r['subject'] or '(none)'}" if by else "the project"
            text = (f"{who} spent {_money(spent)} of its {_money(p['budget_usd'])} {p['period']}ly budget "
                    f"({spent / p['budget_usd']:.0%}) since {format_time(start)[:16]}Z")
            out.append(Condition(_subject(r["subject"], by), spent >= p["budget_usd"], spent, p["budget_usd"], text,
                                 {"period_start": format_time(start)}))
        return out

    def _drift(self, rule: AlertRule, now_ns: int) -> list[Condition] | None:
        p = rule.params
        runs = self.drift.list_runs(rule.project, 1, status="done",
                                    trigger=None if p["trigger"] == "any" else "schedule")
        if not runs:
            return None
        run = runs[0]
        if run["created_ms"] * 1_000_000 < now_ns - int(p["max_age_s"] * _NS):
            return None  # no recent run: cannot tell, change nothing
        patterns = p["signals"]
        out = []
        for s in self.drift.get_signals(rule.project, run["run_id"]):
            if patterns and not any(fnmatch.fnmatchcase(s["name"], pat) for pat in patterns):
                continue
            effect = s["effect_size"] if s["effect_size"] is not None else 0.0
            text = (f"{s['name']}: {s['verdict'].replace('_', ' ')} (effect {effect:+.3g} {s['effect_measure']}, "
                    f"q={s['q_value'] if s['q_value'] is not None else float('nan'):.2g}, "
                    f"n={s['n_baseline']}/{s['n_current']}) in drift run {run['run_id']}")
            top = [t for t in (s.get("top") or []) if t.get("kind") != "example"][:3]
            out.append(Condition(s["name"], s["verdict"] == "drift", float(effect), float(s["threshold"] or 0.0), text,
                                 {"run_id": run["run_id"], "p_value": s["p_value"], "q_value": s["q_value"],
                                  "top": top}))
        return out

    # -- the scheduler hook -------------------------------------------------------------------------------------------
    def run_periodic(self, project_ids: Iterable[str] | Callable[[], Iterable[str]] | None, every_s: float = 60.0,
                     *, first_run_after_s: float = 30.0) -> PeriodicHandle:
        """Start the evaluation thread: every ``every_s``, ``evaluate`` each project (a list, a callable re-read
        each tick, or None for every project). Errors are logged, never raised."""
        if every_s <= 0:
            raise ValueError(f"every_s must be > 0, got {every_s}")
        stop = threading.Event()

        def projects() -> list[str]:
            if project_ids is None:
                return self.drift.project_ids()
            return sorted(set(project_ids() if callable(project_ids) else project_ids))

        def loop() -> None:
            delay = max(0.0, first_run_after_s)
            while not stop.wait(delay):
                delay = every_s
                try:
                    for project in projects():
                        try:
                            self.evaluate(project)
                        except Exception:
                            logger.exception("alert evaluation of project %s failed", project)
                except Exception:
                    logger.exception("the alert scheduler tick failed; it will try again")

        thread = threading.Thread(target=loop, name="tracehouse-alerts", daemon=True)
        thread.start()
        return PeriodicHandle(thread, stop)
