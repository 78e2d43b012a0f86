"""Compare two interactions, or two cohorts of them (pure; deterministic given the seed).

``compare_spans(a, b)``: a word-level diff of the answers and the deltas of parameters and metrics.
``compare_cohorts(a_spans, b_spans)``: per-cohort means and rates, and for each metric the difference of means
``b - a`` with a percentile bootstrap confidence interval.

Cohort rules, on purpose:
- Each metric uses the spans that have it: cost only over priced spans (``cost_source`` not ``unpriced``),
  time to first token only where recorded. ``n_a``/``n_b`` per metric say how many.
- An empty side gives ``None`` means and no delta. Below ``MIN_BOOTSTRAP_N`` values on either side the point
  delta is given but the interval is ``None`` (``note`` says why): a bootstrap of 1-4 values is not an interval.
- Rates (errors, refusals) are means of 0/1 per span, bootstrapped the same way.
- ``significant``: the interval excludes 0.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Callable, Iterable, Mapping, Sequence

from .scoring import answer_text, output_signature, render, text_similarity

__all__ = ["METRICS", "REFUSAL_PATTERNS", "compare_cohorts", "compare_spans", "is_refusal", "word_diff"]

MAX_DIFF_TOKENS = 20_000  # beyond this many tokens a side, the diff is line by line (bounded time)
MIN_BOOTSTRAP_N = 5
DEFAULT_RESAMPLES = 2000
_DIFF_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
_LINE = re.compile(r"[^\n]*\n|[^\n]+")

# Refusals open the answer; scanning the first 300 characters avoids quoted refusals later on.
REFUSAL_PATTERNS = tuple(re.compile(p, re.IGNORECASE) for p in (
    r"\bI(?:'m|\s+am)\s+(?:so\s+|very\s+)?sorry,?\s+(?:but\s+)?I\s+(?:can(?:no|')?t|won't|(?:am|'m)\s+"
    r"(?:not\s+able|unable))",
    r"\bI\s+(?:can(?:no|')?t|won't|will\s+not)\s+(?:help|assist|comply|provide|share|support|do\s+that|answer)",
    r"\bI(?:\s+am|'m)\s+(?:not\s+able|unable)\s+to\s+(?:help|assist|comply|provide|share|support|answer)",
    r"\bI\s+must\s+(?:decline|refuse)\b",
    r"\b(?:against|violates?)\s+(?:my|our|the)\s+(?:content\s+|usage\s+)?(?:policy|policies|guidelines)\b",
))
_REFUSAL_FINISH = frozenset({"content_filter", "refusal"})


# -- two interactions -------------------------------------------------------------------------------------------
def _diff_tokens(text: str) -> list[str]:
    found = _DIFF_TOKEN.findall(text)
    return found if len(found) <= MAX_DIFF_TOKENS else _LINE.findall(text)


def word_diff(a: str, b: str) -> list[dict[str, str]]:
    """Ops turning ``a`` into ``b``: ``equal`` and ``delete`` texts join to ``a``; ``equal`` and ``insert`` to
    ``b``. Tokens are words, punctuation and whitespace runs; a change is a delete then an insert; adjacent ops
    of one kind are merged."""
    ta, tb = _diff_tokens(a or ""), _diff_tokens(b or "")
    ops: list[dict[str, str]] = []

    def add(op: str, text: str) -> None:
        if not text:
            return
        if ops and ops[-1]["op"] == op:
            ops[-1]["text"] += text
        else:
            ops.append({"op": op, "text": text})

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if tag == "equal":
            add("equal", "".join(ta[i1:i2]))
        else:
            add("delete", "".join(ta[i1:i2]))
            add("insert", "".join(tb[j1:j2]))
    return ops


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _delta(a: Any, b: Any) -> dict[str, float | None]:
    x, y = _number(a), _number(b)
    return {"a": x, "b": y, "delta": (y - x) if x is not None and y is not None else None}


def _comparable_text(span: Mapping[str, Any]) -> str:
    """The answer as shown: text parts, then tool calls; the flattened ``output_text`` when no messages."""
    messages = span.get("output_messages") or ()
    return render(messages) if messages else str(span.get("output_text") or "")


def compare_spans(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """``{a, b, diff, deltas}``: ``diff`` the word-level ops from a's answer to b's; ``deltas`` the changed
    parameters (and model), and ``{a, b, delta}`` for latency, cost, tokens, time to first token and length."""
    text_a, text_b = _comparable_text(a), _comparable_text(b)
    params_a, params_b = dict(a.get("params") or {}), dict(b.get("params") or {})
    changed = [{"name": k, "a": params_a.get(k), "b": params_b.get(k)}
               for k in sorted(set(params_a) | set(params_b)) if params_a.get(k) != params_b.get(k)]
    for key in ("provider", "model"):
        if (a.get(key) or "") != (b.get(key) or ""):
            changed.insert(0, {"name": key, "a": a.get(key), "b": b.get(key)})
    same = output_signature(a.get("output_messages") or ()) == output_signature(b.get("output_messages") or ()) \
        if (a.get("output_messages") or b.get("output_messages")) else text_a.strip() == text_b.strip()
    cost_known = a.get("cost_source") != "unpriced" and b.get("cost_source") != "unpriced"
    return {
        "a": a,
        "b": b,
        "diff": word_diff(text_a, text_b),
        "deltas": {
            "params": changed,
            "latency_ms": _delta(a.get("duration_ms"), b.get("duration_ms")),
            "time_to_first_token_ms": _delta(a.get("time_to_first_token_ms"), b.get("time_to_first_token_ms")),
            "cost_usd": _delta(a.get("cost_usd"), b.get("cost_usd")) if cost_known
            else {"a": None, "b": None, "delta": None},
            "input_tokens": _delta(a.get("input_tokens"), b.get("input_tokens")),
            "output_tokens": _delta(a.get("output_tokens"), b.get("output_tokens")),
            "output_chars": _delta(len(answer_text(a.get("output_messages") or ()) or a.get("output_text") or ""),
                                   len(answer_text(b.get("output_messages") or ()) or b.get("output_text") or "")),
            "same_output": same,
            "similarity": round(text_similarity(text_a, text_b), 6),
        },
    }


# -- two cohorts ------------------------------------------------------------------------------------------------
def is_refusal(span: Mapping[str, Any]) -> bool:
    if str(span.get("finish_reason") or "") in _REFUSAL_FINISH:
        return True
    messages = span.get("output_messages") or ()
    if any(isinstance(p, Mapping) and p.get("type") == "refusal" for m in messages for p in m.get("parts") or ()):
        return True
    head = (answer_text(messages) or str(span.get("output_text") or ""))[:300]
    return any(p.search(head) for p in REFUSAL_PATTERNS)


def _cost(span: Mapping[str, Any]) -> float | None:
    return None if span.get("cost_source") == "unpriced" else _number(span.get("cost_usd"))


def _output_chars(span: Mapping[str, Any]) -> float:
    return float(len(answer_text(span.get("output_messages") or ()) or str(span.get("output_text") or "")))


# metric -> value of one span (None: the span does not have it)
METRICS: dict[str, Callable[[Mapping[str, Any]], float | None]] = {
    "latency_ms": lambda s: _number(s.get("duration_ms")),
    "time_to_first_token_ms": lambda s: _number(s.get("time_to_first_token_ms")),
    "cost_usd": _cost,
    "input_tokens": lambda s: _number(s.get("input_tokens")),
    "output_tokens": lambda s: _number(s.get("output_tokens")),
    "output_chars": _output_chars,
    "error_rate": lambda s: 1.0 if s.get("status") == "error" else 0.0,
    "refusal_rate": lambda s: 1.0 if is_refusal(s) else 0.0,
}


def _values(spans: Iterable[Mapping[str, Any]], metric: str) -> list[float]:
    get = METRICS[metric]
    return [v for v in (get(s) for s in spans) if v is not None]


def _bootstrap_means(rng: Any, values: Any, resamples: int) -> Any:
    import numpy as np

    n = len(values)
    out = np.empty(resamples)
    block = max(1, min(resamples, 2_000_000 // max(n, 1)))  # bound memory: block x n indices at a time
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[idx].mean(axis=1)
    return out


def compare_cohorts(a_spans: Sequence[Mapping[str, Any]], b_spans: Sequence[Mapping[str, Any]], seed: int = 0,
                    resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95) -> dict[str, Any]:
    """``{a: {n, <metric>...}, b: {...}, deltas: [{metric, a, b, delta, ci_low, ci_high, n_a, n_b,
    significant, note?}], method}``. ``delta`` is ``b - a``; the interval is the percentile bootstrap of the
    difference of means, each cohort resampled with replacement, ``resamples`` times with
    ``numpy.random.default_rng(seed)``."""
    import numpy as np

    if resamples < 100:
        raise ValueError("resamples must be at least 100")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    rng = np.random.default_rng(seed)
    tail = (1 - confidence) / 2 * 100
    summary_a: dict[str, Any] = {"n": len(a_spans)}
    summary_b: dict[str, Any] = {"n": len(b_spans)}
    deltas = []
    for metric in METRICS:
        va, vb = np.asarray(_values(a_spans, metric), float), np.asarray(_values(b_spans, metric), float)
        mean_a = float(va.mean()) if len(va) else None
        mean_b = float(vb.mean()) if len(vb) else None
        summary_a[metric], summary_b[metric] = mean_a, mean_b
        row: dict[str, Any] = {"metric": metric, "a": mean_a, "b": mean_b, "delta": None, "ci_low": None,
                               "ci_high": None, "n_a": int(len(va)), "n_b": int(len(vb)), "significant": None}
        if mean_a is None or mean_b is None:
            row["note"] = "no values in " + " and ".join(s for s, v in (("a", va), ("b", vb)) if not len(v))
        else:
            row["delta"] = mean_b - mean_a
            if min(len(va), len(vb)) < MIN_BOOTSTRAP_N:
                row["note"] = f"fewer than {MIN_BOOTSTRAP_N} values on a side: no interval"
            else:
                diffs = _bootstrap_means(rng, vb, resamples) - _bootstrap_means(rng, va, resamples)
                low, high = np.percentile(diffs, [tail, 100 - tail])
                row["ci_low"], row["ci_high"] = float(low), float(high)
                row["significant"] = bool(low > 0 or high < 0)
        deltas.append(row)
    return {"a": summary_a, "b": summary_b, "deltas": deltas,
            "method": {"statistic": "difference of means (b - a)", "interval": "percentile bootstrap",
                       "resamples": resamples, "confidence": confidence, "seed": seed,
                       "min_n_for_interval": MIN_BOOTSTRAP_N}}
