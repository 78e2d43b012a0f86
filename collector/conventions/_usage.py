"""Token usage and client-reported cost across conventions (pure).

Canonical counts follow OTel: ``input`` INCLUDES cache reads and writes, ``output`` INCLUDES reasoning. Every
convention reports them that way except Langfuse's ``usage_details``, whose buckets are disjoint (Langfuse
sums them into ``total``; its OpenAI integration moves cached tokens out of ``input`` into
``input_cached_tokens``), so its input-side buckets are added up here and never added again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ._messages import json_value

INPUT_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
TOTAL_KEYS = ("llm.token_count.total", "gen_ai.usage.total_tokens", "llm.usage.total_tokens")
CACHE_READ_KEYS = ("gen_ai.usage.cache_read.input_tokens", "llm.token_count.prompt_details.cache_read",
                   "gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.prompt_tokens_details.cached_tokens",
                   "llm.token_count.prompt_details.cache_input")
CACHE_WRITE_KEYS = ("gen_ai.usage.cache_creation.input_tokens", "llm.token_count.prompt_details.cache_write",
                    "gen_ai.usage.cache_creation_input_tokens")
REASONING_KEYS = ("gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning",
                  "gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens",
                  "gen_ai.usage.completion_tokens_details.reasoning_tokens")
LANGFUSE_USAGE = "langfuse.observation.usage_details"
LANGFUSE_COST = "langfuse.observation.cost_details"
REPORTED_COST_KEYS = ("gen_ai.usage.cost", "llm.cost.total")
_ABSENT = (None, "", [], {})
# No real call uses 4 billion tokens; clamping keeps one bad value from failing the batch it arrived in.
MAX_COUNT = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


def count(value: Any) -> int | None:
    """A token count from an int, float or numeric string; None when absent or not a number."""
    if value in _ABSENT or isinstance(value, bool):
        return None
    try:
        return min(MAX_COUNT, max(0, int(float(value))))
    except (TypeError, ValueError, OverflowError):
        return None


def first_count(attrs: Mapping[str, Any], keys: Iterable[str]) -> int | None:
    for key in keys:
        n = count(attrs.get(key))
        if n is not None:
            return n
    return None


def _is_cache_read(key: str) -> bool:
    return "cache_read" in key or "cached" in key


def _is_cache_write(key: str) -> bool:
    return "cache_creation" in key or "cache_write" in key


def langfuse_usage(value: Any) -> dict[str, int]:
    """``usage_details`` (JSON or structured) -> canonical counts present in it."""
    details = json_value(value)
    if not isinstance(details, dict):
        return {}
    out: dict[str, int] = {}
    inputs = outputs = 0
    seen_in = seen_out = False
    for key, raw in details.items():
        n = count(raw)
        if n is None or key == "total":
            continue
        k = key.lower()
        if k in ("input", "prompt_tokens", "input_tokens") or k.startswith("input_") or _is_cache_read(k) \
                or _is_cache_write(k):
            inputs, seen_in = inputs + n, True
            if _is_cache_read(k):
                out["cache_read_tokens"] = out.get("cache_read_tokens", 0) + n
            elif _is_cache_write(k):
                out["cache_write_tokens"] = out.get("cache_write_tokens", 0) + n
        elif k in ("output", "completion_tokens", "output_tokens") or k.startswith("output_"):
            outputs, seen_out = outputs + n, True
            if "reasoning" in k:
                out["reasoning_tokens"] = out.get("reasoning_tokens", 0) + n
    if seen_in:
        out["input_tokens"] = inputs
    if seen_out:
        out["output_tokens"] = outputs
    return out


def usage(attrs: Mapping[str, Any]) -> Usage:
    """Counts by the reference's precedence: Langfuse usage details, then OTel, OpenInference, OpenLLMetry,
    OpenLIT names. A total fills in a missing input or output, never added on top."""
    explicit = langfuse_usage(attrs.get(LANGFUSE_USAGE)) if LANGFUSE_USAGE in attrs else {}

    def pick(field: str, keys: tuple[str, ...]) -> int | None:
        return explicit[field] if field in explicit else first_count(attrs, keys)

    tokens_in, tokens_out = pick("input_tokens", INPUT_KEYS), pick("output_tokens", OUTPUT_KEYS)
    total = first_count(attrs, TOTAL_KEYS)
    if total is not None:
        if tokens_out is None and tokens_in is not None and total >= tokens_in:
            tokens_out = total - tokens_in
        elif tokens_in is None and tokens_out is not None and total >= tokens_out:
            tokens_in = total - tokens_out
    return Usage(
        input_tokens=tokens_in or 0,
        output_tokens=tokens_out or 0,
        cache_read_tokens=pick("cache_read_tokens", CACHE_READ_KEYS) or 0,
        cache_write_tokens=pick("cache_write_tokens", CACHE_WRITE_KEYS) or 0,
        reasoning_tokens=pick("reasoning_tokens", REASONING_KEYS) or 0,
    )


def _usd(value: Any) -> float | None:
    if value in _ABSENT or isinstance(value, bool):
        return None
    try:
        usd = float(value)
    except (TypeError, ValueError):
        return None
    return usd if 0 <= usd < math.inf else None  # NaN, infinities and negatives are not costs


def langfuse_cost(value: Any) -> float | None:
    """``cost_details``: its ``total``, else the sum of its buckets (Langfuse's own rule)."""
    details = json_value(value)
    if not isinstance(details, dict):
        return _usd(details)
    if "total" in details:
        return _usd(details["total"])
    parts = [c for c in map(_usd, details.values()) if c is not None]
    return sum(parts) if parts else None


def reported_cost(attrs: Mapping[str, Any]) -> float | None:
    """Cost the client reported: Langfuse cost details > OpenLIT ``gen_ai.usage.cost`` > OpenInference
    ``llm.cost.total`` (or its prompt + completion)."""
    if LANGFUSE_COST in attrs:
        cost = langfuse_cost(attrs[LANGFUSE_COST])
        if cost is not None:
            return cost
    for key in REPORTED_COST_KEYS:
        cost = _usd(attrs.get(key))
        if cost is not None:
            return cost
    prompt, completion = _usd(attrs.get("llm.cost.prompt")), _usd(attrs.get("llm.cost.completion"))
    if prompt is None and completion is None:
        return None
    return (prompt or 0.0) + (completion or 0.0)
