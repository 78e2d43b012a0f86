"""The Replay & compare page's pure helpers: collector answers in, tables and diff HTML out (no Streamlit run).

The answers are the real ones: built by the collector's own ``compare_spans`` / ``compare_cohorts`` and scoring,
so a change of the API's shape breaks here before it breaks the page. The page itself runs in
``tests/test_dashboard_pages.py`` (AppTest) and ``tests/test_browser_replay.py`` (a browser).
"""

from __future__ import annotations

import pandas as pd
import pytest

from tracehouse.collector.replay import compare_cohorts, compare_spans
from tracehouse.dashboard.pages_ import replay as page


def span(text: str, **extra) -> dict:
    return {"output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": text}]}],
            "output_text": text, "model": "gpt-4o-mini", "duration_ms": 900.0, "cost_usd": 0.0002,
            "cost_source": "computed", "input_tokens": 100, "output_tokens": 20, "params": {"temperature": 0.7},
            "status": "ok", **extra}


def test_the_word_diff_is_escaped_html_with_deletions_and_insertions():
    answer = compare_spans(span("Refunds take <5> days & more."), span("Refunds take <3> days & more!"))
    ops = page.diff_ops(answer["diff"])
    html = page.diff_html(ops)
    assert '<del class="diff-delete"' in html and '<ins class="diff-insert"' in html
    assert "&lt;" in html and "&amp;" in html and "<5>" not in html  # recorded text never becomes markup
    assert page.diff_counts(ops) == (2, 2)  # "5" and "." out, "3" and "!" in
    assert page.diff_ops("- a\n+ b") is None  # another shape: the page shows it as it came


def test_pair_deltas_keep_numbers_and_show_units():
    answer = compare_spans(span("a", duration_ms=900.0), span("b", duration_ms=300.0, cost_usd=0.0005,
                                                              model="gpt-4.1", params={"temperature": 0.2}))
    table = page.pair_deltas_frame(answer["deltas"])
    latency = table.set_index("metric").loc["Latency"]
    assert latency["delta"] == pytest.approx(-600.0) and latency["delta_text"] == "\u2212600 ms"
    assert latency["change"] == "\u221266.7%"
    cost = table.set_index("metric").loc["Cost"]
    assert cost["b_text"] == "$0.0005" and cost["delta_text"] == "+$0.0003"
    assert "params" not in set(table["metric"]) and "similarity" not in set(table["metric"])
    changed = page.params_frame(answer["deltas"]["params"])
    assert changed.to_dict("records") == [{"name": "model", "a": "gpt-4o-mini", "b": "gpt-4.1"},
                                          {"name": "temperature", "a": "0.7", "b": "0.2"}]
    assert page.pair_deltas_frame(None).empty and page.pair_deltas_frame({"latency_ms": -3}).empty


@pytest.mark.parametrize("value,unit,text", [
    (-777.5, "ms", "\u2212778 ms"), (1500, "ms", "+1.50 s"), (0.000853, "usd", "+$0.000853"),
    (0.02, "rate", "+2.0 pp"), (0, "count", "±0"), (9.0, "count", "+9"), (-3.42, "count", "\u22123.4"),
    (None, "ms", "—"), (float("nan"), "usd", "—"), (True, "count", "—"),
])
def test_signed_differences(value, unit, text):
    assert page.format_signed(value, unit) == text


def test_trajectory_steps_say_what_happened_to_each_step():
    steps = [
        {"span_id": "a" * 16, "name": "chat", "model": "gpt-4.1", "same": True, "similarity": 1.0, "output": "x"},
        {"span_id": "b" * 16, "name": "chat", "model": "gpt-4.1", "same": False, "similarity": 0.8, "output": "y"},
        {"span_id": "c" * 16, "name": "chat", "model": "gpt-4.1", "same": None, "similarity": None, "output": None,
         "error": {"message": "overloaded"}},
        {"span_id": "d" * 16, "name": "chat", "model": None, "same": None, "similarity": None, "output": None,
         "skipped": True},
    ]
    table = page.steps_frame(steps)
    assert table["outcome"].tolist() == ["same", "diverged", "failed", "skipped"]
    assert table["step"].tolist() == [1, 2, 3, 4] and table.loc[2, "output"] == "overloaded"
    assert page.steps_frame(None).empty


def test_batch_results_link_each_replay_to_its_trace():
    results = [{"span_id": "a" * 16, "trace_id": "1" * 32, "replayed_trace_id": "2" * 32, "replayed_span_id": "b" * 16,
                "exact_match": False, "similarity": 0.9, "json_valid": None, "length_delta": 40,
                "cost_delta_usd": 0.0005, "latency_delta_ms": -1000.0, "scores": {}},
               {"span_id": "c" * 16, "trace_id": "3" * 32, "replayed_trace_id": None, "replayed_span_id": None,
                "error": "openai answered 429: slow down"}]
    table = page.batch_frame(results)
    assert table.loc[0, "replay"] == f"/trace?trace_id={'2' * 32}" and pd.isna(table.loc[1, "replay"])
    assert table["error"].tolist() == ["", "openai answered 429: slow down"]


def test_cohort_table_shows_means_deltas_and_intervals_in_units():
    a = [span("ok", duration_ms=1000.0 + i, cost_usd=0.0001) for i in range(10)]
    b = [span("ok", duration_ms=2000.0 + i, cost_usd=0.0010) for i in range(10)] + [span("", status="error")]
    table = page.cohort_frame(compare_cohorts(a, b, seed=1)).set_index("metric")
    assert table.loc["Latency", "a"] == "1.00 s" and table.loc["Latency", "delta"].startswith("+")
    assert table.loc["Latency", "significant"] == "yes" and table.loc["Latency", "interval"].startswith("[+")
    assert table.loc["Error rate", "b"] == "9.1%" and table.loc["Error rate", "delta"] == "+9.1 pp"
    assert table.loc["Time to first token", "interval"] == "—" and "no values" in table.loc["Time to first token",
                                                                                              "note"]
    assert (table.loc["Latency", "n_a"], table.loc["Latency", "n_b"]) == (10, 11)
    assert page.cohort_frame({}).empty


def test_cohort_filters_leave_blank_choices_out():
    filters = page.cohort_filters("gpt-4.1-2025-04-14", "", " ".strip(), 200, "S", "E")
    assert filters == {"start": "S", "end": "E", "limit": 200, "model": "gpt-4.1-2025-04-14"}
    assert page.cohort_label(filters) == "model gpt-4.1-2025-04-14"
    assert page.cohort_label({"spans": [{}, {}]}) == "2 chosen calls"
    assert page.cohort_label({"start": "S"}) == "every call"
