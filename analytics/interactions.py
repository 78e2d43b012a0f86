"""The unit of analysis: one interaction = one LLM span, with what the clustering and the failure rules need.

Pure data plus pure conversions. ``AnalyticsStore.load_interactions`` returns plain rows (storage does not
import analytics); ``interactions_from_rows`` turns them into frozen ``Interaction`` records, and
``interaction_text`` builds the text that is embedded and named: the user's request plus the model's answer,
cut to a bound and redacted with ``tracehouse.redaction.redact``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from tracehouse.redaction import redact

__all__ = ["FEATURE_REDACTION_KINDS", "Interaction", "Score", "ToolError", "interaction_text",
           "interactions_from_rows", "preview"]

# The redaction rules whose matches can contain letters-only words. The TF-IDF tokenizer keeps only such words
# (see ``_terms.TOKEN_PATTERN``), so for TF-IDF features these rules give the same terms as full redaction at a
# fraction of its cost; the rules left out (cards, IBANs, SSNs, IPs, phones, bearer tokens) match digits.
# Everything shown or stored (examples, labels, the saved vocabulary) is fully redacted.
FEATURE_REDACTION_KINDS: tuple[str, ...] = ("private_key", "jwt", "url_password", "api_key", "secret", "email")


@dataclass(frozen=True)
class Interaction:
    """One LLM call. ``request`` is the latest user message, ``system`` the system instructions (both as text),
    ``response`` the model's answer as text; ``response_format`` the raw JSON of the request's
    ``response_format`` parameter ("" when absent). Times are ns since the epoch (UTC)."""

    trace_id: str
    span_id: str
    start_time_ns: int = 0
    request: str = ""
    response: str = ""
    system: str = ""
    status: str = "unset"
    status_message: str = ""
    error_type: str = ""
    has_exception: bool = False
    finish_reason: str = ""
    response_format: str = ""
    response_json_valid: bool | None = None  # whether the whole answer parses, when ``response`` may be cut
    is_tool_call: bool = False
    session: str = ""
    tenant: str = ""
    model: str = ""
    cost_usd: float = 0.0
    duration_ms: float = 0.0


@dataclass(frozen=True)
class ToolError:
    """A tool span that ended in error, in the trace of some interaction."""

    trace_id: str
    span_id: str
    name: str
    message: str = ""
    start_time_ns: int = 0


@dataclass(frozen=True)
class Score:
    """A score row (feedback, evaluator or label). An empty ``span_id`` scores the whole trace."""

    trace_id: str
    span_id: str
    name: str
    value: float


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and abs(number) != float("inf") else 0.0  # NaN and inf -> 0


def interactions_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Interaction]:
    """Rows of ``AnalyticsStore.load_interactions`` -> interactions (missing or odd values become defaults)."""
    out = []
    for row in rows:
        out.append(Interaction(
            trace_id=_str(row.get("trace_id")), span_id=_str(row.get("span_id")),
            start_time_ns=int(row.get("start_time_ns") or 0),
            request=_str(row.get("request")), response=_str(row.get("response")), system=_str(row.get("system")),
            status=_str(row.get("status")) or "unset", status_message=_str(row.get("status_message")),
            error_type=_str(row.get("error_type")), has_exception=bool(row.get("has_exception")),
            finish_reason=_str(row.get("finish_reason")), response_format=_str(row.get("response_format")),
            response_json_valid=None if row.get("response_json_valid") is None else bool(row["response_json_valid"]),
            is_tool_call=bool(row.get("is_tool_call")), session=_str(row.get("session")),
            tenant=_str(row.get("tenant")), model=_str(row.get("model")),
            cost_usd=_float(row.get("cost_usd")), duration_ms=_float(row.get("duration_ms")),
        ))
    return out


def interaction_text(interaction: Interaction, max_chars: int = 1000, kinds: Iterable[str] | None = None) -> str:
    """The embedded text: request and answer, each cut to ``max_chars``, redacted (with every rule, or only
    ``kinds``; see ``FEATURE_REDACTION_KINDS``).

    A tool-call answer (the model asked for a tool) adds the tool request as the answer; an empty answer adds
    nothing, so an error clusters with the requests that look like it.
    """
    request = interaction.request[:max_chars]
    response = interaction.response[:max_chars]
    return redact(f"{request}\n{response}" if response else request, kinds)


def preview(text: str, max_chars: int = 240) -> str:
    """A short, redacted, one-line excerpt for examples."""
    flat = " ".join(text.split())
    cut = flat[: max_chars * 2]
    red = redact(cut)
    return red if len(red) <= max_chars else red[: max_chars - 1] + "…"


def sort_key(interaction: Interaction) -> tuple[int, str, str]:
    """The canonical order of interactions (what makes a run deterministic whatever order rows arrive in)."""
    return interaction.start_time_ns, interaction.trace_id, interaction.span_id


def canonical(interactions: Sequence[Interaction]) -> list[Interaction]:
    return sorted(interactions, key=sort_key)
