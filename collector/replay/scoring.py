"""Scores of a replayed call against its recording, and their summary over a batch (pure).

A span here is a span dict (``serialize.span_json`` or a stored row): ``output_messages``, ``output_text``,
``status``, ``duration_ms``, ``cost_usd``, ``cost_source``, ``params``, ``input_text``.

- ``exact_match``: same answer text (ends stripped) and same tool calls (name and arguments, ids ignored).
- ``similarity``: ``difflib.SequenceMatcher`` ratio over word and punctuation tokens, 0..1 (1: identical).
  Texts are cut at ``MAX_SIMILARITY_TOKENS`` tokens each, which bounds the quadratic worst case.
- ``json_valid``: the replayed answer parses as a JSON object or array; ``None`` (not scored) unless JSON was
  expected: the recorded answer was JSON, the request set a JSON ``response_format``, or the prompt asks for
  JSON. Code fences are not stripped: an answer in fences is not valid JSON output.
- ``length_delta`` (characters), ``cost_delta_usd``, ``latency_delta_ms``: replay minus recording. The cost
  delta is ``None`` when either side is unpriced.

``Evaluator`` is the seam for configured evaluators: ``name`` and ``__call__(original, replayed) -> float |
None`` (None: not applicable). An evaluator that raises scores None for that item; the error is not fatal.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import re
from typing import Any, Iterable, Mapping, Protocol, Sequence

__all__ = ["Evaluator", "exact_match", "expects_json", "is_valid_json", "output_signature", "score_pair",
           "summarize", "text_similarity", "tokens"]

logger = logging.getLogger("tracehouse.collector.replay")
MAX_SIMILARITY_TOKENS = 20_000
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_JSON_REQUEST = re.compile(r"\b(?:as|in|into|return|output|respond\s+with|reply\s+with|valid)\s+(?:a\s+|an\s+|only\s+"
                           r"|single\s+|strict\s+)*json\b|\bjson\s+(?:only|object|format|output)\b", re.IGNORECASE)


class Evaluator(Protocol):
    name: str

    def __call__(self, original: Mapping[str, Any], replayed: Mapping[str, Any]) -> float | None:
        ...


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text or "")


def text_similarity(a: str, b: str) -> float:
    ta, tb = tokens(a)[:MAX_SIMILARITY_TOKENS], tokens(b)[:MAX_SIMILARITY_TOKENS]
    if not ta and not tb:
        return 1.0
    return difflib.SequenceMatcher(None, ta, tb, autojunk=False).ratio()


def _canonical_arguments(arguments: Any) -> str:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return arguments.strip()
    return json.dumps(arguments, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def answer_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """The answer's text parts (no reasoning, no tool calls), messages joined by newlines."""
    texts = []
    for message in messages or ():
        text = "".join(str(p.get("content") or "") for p in message.get("parts") or ()
                       if isinstance(p, Mapping) and p.get("type") == "text")
        if text:
            texts.append(text)
    return "\n".join(texts)


def tool_calls(messages: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(p.get("name") or ""), _canonical_arguments(p.get("arguments")))
                 for message in messages or () for p in message.get("parts") or ()
                 if isinstance(p, Mapping) and p.get("type") == "tool_call")


def output_signature(messages: Iterable[Mapping[str, Any]]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What "the same answer" means: the text (ends stripped) and the tool calls (name, canonical arguments)."""
    messages = list(messages or ())
    return answer_text(messages).strip(), tool_calls(messages)


def render(messages: Iterable[Mapping[str, Any]]) -> str:
    """Text and tool calls as one string, for similarity."""
    text, calls = output_signature(messages)
    return "\n".join([text, *(f"{name}({args})" for name, args in calls)]).strip()


def exact_match(original: Mapping[str, Any], replayed: Mapping[str, Any]) -> bool:
    return output_signature(original.get("output_messages") or ()) == \
        output_signature(replayed.get("output_messages") or ())


def is_valid_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), (dict, list))
    except (ValueError, TypeError):
        return False


def expects_json(span: Mapping[str, Any]) -> bool:
    params = span.get("params") or {}
    response_format = params.get("response_format")
    if isinstance(response_format, str):
        try:
            response_format = json.loads(response_format)
        except ValueError:
            pass
    if isinstance(response_format, Mapping) and str(response_format.get("type", "")).startswith("json"):
        return True
    if isinstance(response_format, str) and response_format.startswith("json"):
        return True
    text = answer_text(span.get("output_messages") or ()).strip()
    if text and is_valid_json(text):
        return True
    return bool(_JSON_REQUEST.search(str(span.get("input_text") or "")[:20_000]))


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _priced(span: Mapping[str, Any]) -> bool:
    return span.get("cost_source") not in ("unpriced",)


def score_pair(original: Mapping[str, Any], replayed: Mapping[str, Any],
               evaluators: Sequence[Evaluator] = ()) -> dict[str, Any]:
    """The scores of one replay against its recording (see the module docstring)."""
    orig_messages = original.get("output_messages") or ()
    new_messages = replayed.get("output_messages") or ()
    orig_text, new_text = answer_text(orig_messages), answer_text(new_messages)
    cost_a, cost_b = _number(original.get("cost_usd")), _number(replayed.get("cost_usd"))
    lat_a, lat_b = _number(original.get("duration_ms")), _number(replayed.get("duration_ms"))
    scores: dict[str, float | None] = {}
    for evaluator in evaluators:
        try:
            value = evaluator(original, replayed)
            scores[evaluator.name] = None if value is None else float(value)
        except Exception:  # a configured evaluator must not sink the batch
            logger.warning("evaluator %s failed", getattr(evaluator, "name", evaluator), exc_info=True)
            scores[evaluator.name] = None
    return {
        "exact_match": output_signature(orig_messages) == output_signature(new_messages),
        "similarity": round(text_similarity(render(orig_messages), render(new_messages)), 6),
        "json_valid": is_valid_json(new_text.strip()) if expects_json(original) else None,
        "length_delta": len(new_text) - len(orig_text),
        "cost_delta_usd": (cost_b - cost_a) if cost_a is not None and cost_b is not None
        and _priced(original) and _priced(replayed) else None,
        "latency_delta_ms": (lat_b - lat_a) if lat_a is not None and lat_b is not None else None,
        "scores": scores,
    }


def _mean(values: Iterable[Any]) -> float | None:
    numbers = [float(v) for v in values if v is not None and not isinstance(v, str)]
    return sum(numbers) / len(numbers) if numbers else None


def summarize(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Rates and means over the items that replayed (items with an ``error`` count only in ``errors`` and
    ``error_rate``). A rate or mean over nothing is ``None``, never 0."""
    done = [r for r in results if not r.get("error")]
    json_scored = [r["json_valid"] for r in done if r.get("json_valid") is not None]
    costs = [r.get("cost_delta_usd") for r in done]
    summary: dict[str, Any] = {
        "n": len(results),
        "replayed": len(done),
        "errors": len(results) - len(done),
        "error_rate": (len(results) - len(done)) / len(results) if results else None,
        "exact_match_rate": _mean(float(bool(r.get("exact_match"))) for r in done),
        "mean_similarity": _mean(r.get("similarity") for r in done),
        "json_valid_rate": _mean(float(v) for v in json_scored),
        "json_scored": len(json_scored),
        "mean_length_delta": _mean(r.get("length_delta") for r in done),
        "mean_latency_delta_ms": _mean(r.get("latency_delta_ms") for r in done),
        "total_cost_delta_usd": sum(c for c in costs if c is not None) if any(c is not None for c in costs)
        else None,
        "priced": sum(c is not None for c in costs),
    }
    names = sorted({name for r in done for name in (r.get("scores") or {})})
    summary["scores"] = {name: _mean((r.get("scores") or {}).get(name) for r in done) for name in names}
    return summary
