"""Compare (two interactions, two cohorts) and the replay scorers: pure functions, no store, no server."""

from __future__ import annotations

import random

import pytest

from tracehouse.collector.replay import compare_cohorts, compare_spans
from tracehouse.collector.replay.compare import is_refusal, word_diff
from tracehouse.collector.replay.scoring import (expects_json, is_valid_json, output_signature, score_pair,
                                                 summarize, text_similarity)


def span(text: str = "", *, params=None, latency=1000.0, cost=0.001, tokens=(100, 20), status="ok",
         cost_source="computed", calls=(), model="gpt-4o-mini", ttft=None, finish="stop") -> dict:
    parts = ([{"type": "text", "content": text}] if text else []) + [
        {"type": "tool_call", "id": f"call_{i}", "name": n, "arguments": a} for i, (n, a) in enumerate(calls)]
    return {"trace_id": "a" * 32, "span_id": "b" * 16, "model": model, "provider": "openai",
            "params": dict(params or {}), "duration_ms": latency, "time_to_first_token_ms": ttft, "cost_usd": cost,
            "cost_source": cost_source, "input_tokens": tokens[0], "output_tokens": tokens[1], "status": status,
            "finish_reason": finish, "output_messages": [{"role": "assistant", "parts": parts}] if parts else [],
            "output_text": text, "input_text": ""}


# -- two interactions -------------------------------------------------------------------------------------------
def test_word_diff_ops_rebuild_both_texts():
    a = "Your order ORD-123 ships on Monday, 3 June."
    b = "Your order ORD-123 shipped on Tuesday, 4 June!"
    ops = word_diff(a, b)
    assert "".join(o["text"] for o in ops if o["op"] != "insert") == a
    assert "".join(o["text"] for o in ops if o["op"] != "delete") == b
    assert {"op": "delete", "text": "ships"} in ops and {"op": "insert", "text": "shipped"} in ops
    assert ops[0] == {"op": "equal", "text": "Your order ORD-123 "}
    assert all(x["op"] != y["op"] or x["op"] != "equal" for x, y in zip(ops, ops[1:]))  # adjacent equals merged
    assert word_diff("", "") == [] and word_diff("", "new") == [{"op": "insert", "text": "new"}]
    assert word_diff("数据库很慢", "数据库很快") != []  # no whitespace needed to diff


def test_compare_spans_diff_and_deltas():
    a = span("The refund was issued.", params={"temperature": 0.7, "seed": 1}, latency=1200, cost=0.002,
             tokens=(100, 10), ttft=300)
    b = span("The refund was issued today.", params={"temperature": 0.2, "seed": 1}, latency=900, cost=0.0005,
             tokens=(100, 12), model="claude-haiku-4-5", ttft=None)
    out = compare_spans(a, b)
    assert out["a"] is a and out["b"] is b
    assert out["diff"] == [{"op": "equal", "text": "The refund was issued"}, {"op": "insert", "text": " today"},
                           {"op": "equal", "text": "."}]
    deltas = out["deltas"]
    assert deltas["params"] == [{"name": "model", "a": "gpt-4o-mini", "b": "claude-haiku-4-5"},
                                {"name": "temperature", "a": 0.7, "b": 0.2}]
    assert deltas["latency_ms"] == {"a": 1200.0, "b": 900.0, "delta": -300.0}
    assert deltas["cost_usd"]["delta"] == pytest.approx(-0.0015)
    assert deltas["output_tokens"]["delta"] == 2.0 and deltas["input_tokens"]["delta"] == 0.0
    assert deltas["time_to_first_token_ms"] == {"a": 300.0, "b": None, "delta": None}
    assert deltas["same_output"] is False and 0.5 < deltas["similarity"] < 1


def test_compare_spans_with_tool_calls_and_unpriced_cost():
    a = span(calls=[("lookup", {"id": 1, "full": True})])
    b = span(calls=[("lookup", {"full": True, "id": 1})], cost_source="unpriced")  # same call, keys reordered
    out = compare_spans(a, b)
    assert out["deltas"]["same_output"] is True and out["deltas"]["cost_usd"]["delta"] is None
    assert [o["op"] for o in out["diff"]] == ["equal"]


# -- two cohorts ------------------------------------------------------------------------------------------------
def cohort(n: int, latency: float, rng: random.Random, errors: int = 0, refusals: int = 0) -> list[dict]:
    out = []
    for i in range(n):
        text = "I'm sorry, but I can't help with that." if i < refusals else f"Answer number {i} is here."
        out.append(span(text, latency=rng.gauss(latency, 50), cost=0.001 + rng.random() * 1e-4,
                        status="error" if i >= n - errors else "ok"))
    return out


def test_cohort_deltas_have_bootstrap_intervals_around_the_true_difference():
    rng = random.Random(1)
    a, b = cohort(80, 1000, rng, errors=8, refusals=4), cohort(60, 700, rng, errors=0)
    out = compare_cohorts(a, b, seed=3)
    rows = {r["metric"]: r for r in out["deltas"]}
    latency = rows["latency_ms"]
    assert latency["delta"] == pytest.approx(out["b"]["latency_ms"] - out["a"]["latency_ms"])
    assert latency["ci_low"] < -300 + 40 and latency["ci_high"] > -300 - 40 and latency["ci_high"] < 0
    assert latency["significant"] is True and (latency["n_a"], latency["n_b"]) == (80, 60)
    assert rows["error_rate"]["a"] == pytest.approx(0.1) and rows["error_rate"]["b"] == 0.0
    assert rows["refusal_rate"]["a"] == pytest.approx(4 / 80) and rows["refusal_rate"]["delta"] < 0
    assert rows["output_tokens"]["significant"] is False  # identical everywhere: interval [0, 0]
    assert rows["time_to_first_token_ms"]["delta"] is None and "no values" in rows["time_to_first_token_ms"]["note"]
    assert out["method"]["resamples"] == 2000 and out["method"]["seed"] == 3
    assert compare_cohorts(a, b, seed=3) == out  # deterministic given the seed
    assert compare_cohorts(a, b, seed=4)["deltas"][0]["ci_low"] != latency["ci_low"]


def test_empty_and_tiny_cohorts_are_reported_honestly():
    rng = random.Random(2)
    out = compare_cohorts([], cohort(10, 500, rng))
    assert out["a"]["n"] == 0 and out["a"]["latency_ms"] is None
    row = out["deltas"][0]
    assert row["delta"] is None and row["ci_low"] is None and row["note"] == "no values in a"
    tiny = compare_cohorts(cohort(3, 500, rng), cohort(10, 800, rng))
    row = {r["metric"]: r for r in tiny["deltas"]}["latency_ms"]
    assert row["delta"] > 0 and row["ci_low"] is None and row["significant"] is None and "fewer than" in row["note"]
    assert compare_cohorts([], [])["b"]["n"] == 0


def test_unpriced_spans_do_not_count_as_free():
    a = [span(cost=0.01) for _ in range(6)] + [span(cost=0.0, cost_source="unpriced") for _ in range(6)]
    b = [span(cost=0.02) for _ in range(6)]
    row = {r["metric"]: r for r in compare_cohorts(a, b)["deltas"]}["cost_usd"]
    assert (row["a"], row["n_a"]) == (pytest.approx(0.01), 6) and row["delta"] == pytest.approx(0.01)


def test_bad_bootstrap_settings_are_rejected():
    with pytest.raises(ValueError):
        compare_cohorts([], [], resamples=10)
    with pytest.raises(ValueError):
        compare_cohorts([], [], confidence=1.5)


def test_refusal_detection():
    assert is_refusal(span("I'm sorry, but I can't help with that request."))
    assert is_refusal(span("I am unable to assist with this."))
    assert is_refusal(span("", finish="content_filter"))
    assert not is_refusal(span("Sure! Here is how to reset your password."))
    assert not is_refusal(span("x" * 400 + " I can't help with that"))  # only the opening counts


# -- scorers ----------------------------------------------------------------------------------------------------
def test_scorers():
    assert text_similarity("a b c", "a b c") == 1.0 and text_similarity("", "") == 1.0
    assert text_similarity("alpha beta", "gamma delta") == 0.0
    assert 0 < text_similarity("Hello there!", "Hello there.") < 1
    assert is_valid_json('{"a": 1}') and is_valid_json("[1, 2]")
    assert not is_valid_json("```json\n{}\n```") and not is_valid_json("42") and not is_valid_json("nope")
    assert expects_json(span('{"a": 1}')) and not expects_json(span("plain"))
    assert expects_json(span("plain", params={"response_format": '{"type": "json_object"}'}))
    assert expects_json({**span("plain"), "input_text": "Return the answer as JSON with keys a and b."})
    assert output_signature([{"role": "assistant", "parts": [{"type": "text", "content": " hi \n"}]}]) == ("hi", ())


def test_score_pair_and_summary():
    original = span("Hello there!", latency=800, cost=0.002)
    replayed = span("Hello there!", latency=500, cost=0.001)
    scores = score_pair(original, replayed)
    assert scores["exact_match"] is True and scores["similarity"] == 1.0 and scores["json_valid"] is None
    assert scores["latency_delta_ms"] == -300 and scores["cost_delta_usd"] == pytest.approx(-0.001)
    assert scores["length_delta"] == 0
    unpriced = score_pair(original, span("Hi", cost_source="unpriced"))
    assert unpriced["cost_delta_usd"] is None and unpriced["exact_match"] is False
    summary = summarize([scores, unpriced, {"span_id": "x", "error": "boom"}])
    assert (summary["n"], summary["replayed"], summary["errors"]) == (3, 2, 1)
    assert summary["exact_match_rate"] == 0.5 and summary["error_rate"] == pytest.approx(1 / 3)
    assert summary["json_valid_rate"] is None and summary["priced"] == 1
    assert summary["total_cost_delta_usd"] == pytest.approx(-0.001)
    assert summarize([])["exact_match_rate"] is None and summarize([])["error_rate"] is None
