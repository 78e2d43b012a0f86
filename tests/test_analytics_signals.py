"""Failure signals (tracehouse.analytics.signals): every rule with a case that fires and one that must not."""

from __future__ import annotations

import pytest

from tracehouse.analytics.interactions import Interaction, Score, ToolError
from tracehouse.analytics.signals import SIGNALS, Signal, SignalRules, detect, detect_all, is_failure

S = 1_000_000_000


def i(**kw) -> Interaction:
    base = dict(trace_id="t1", span_id="s1", start_time_ns=1000 * S, request="Where is my order?",
                response="It ships tomorrow.", finish_reason="stop")
    base.update(kw)
    return Interaction(**base)


def names(signals) -> list[str]:
    return [s.name for s in signals]


# -- error and timeout ---------------------------------------------------------------------------------------------

def test_error_status_is_an_error_with_its_type_and_message():
    signals = detect(i(status="error", error_type="RateLimitError", status_message="Error code: 429", response=""))
    assert names(signals) == ["error"]
    assert signals[0].reason == "RateLimitError: Error code: 429"


def test_recorded_exception_without_error_status_is_an_error():
    assert names(detect(i(has_exception=True))) == ["error"]


def test_ok_span_has_no_error():
    assert detect(i()) == ()


@pytest.mark.parametrize("error_type, message", [
    ("APITimeoutError", "Request timed out."), ("", "upstream request timeout"),
    ("DeadlineExceeded", "deadline exceeded after 30s"), ("ReadTimeout", ""),
])
def test_timeouts_are_told_apart_from_other_errors(error_type, message):
    assert names(detect(i(status="error", error_type=error_type, status_message=message, response=""))) == ["timeout"]


def test_a_non_timeout_error_mentioning_time_is_not_a_timeout():
    signals = detect(i(status="error", error_type="InternalServerError", status_message="time budget ok", response=""))
    assert names(signals) == ["error"]


# -- refusal -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    "I'm sorry, but I can't help with that.",
    "I’m sorry, but I can’t assist with that request.",  # curly apostrophes
    "I can't help with that. If you have another question about your account, I'm happy to help.",
    "I'm not able to help with that request. For security reasons, please contact your administrator.",
    "Sorry, I cannot comply with this request.",
    "I must decline to share other customers' data.",
])
def test_refusals_are_detected(answer):
    assert "refusal" in names(detect(i(response=answer)))


@pytest.mark.parametrize("answer", [
    "I can help with that! Your refund was issued on Monday.",
    "Sorry for the wait: your order ORD-1 ships today.",
    "I can't find order ORD-9 in our system; could you check the number?",
])
def test_helpful_answers_are_not_refusals(answer):
    assert "refusal" not in names(detect(i(response=answer)))


def test_a_refusal_quoted_late_in_a_long_answer_is_not_a_refusal():
    answer = "Here is how our policy works. " * 20 + "A bot might say 'I can't help with that', ours won't."
    assert "refusal" not in names(detect(i(response=answer)))


def test_content_filter_finish_reason_is_a_refusal():
    assert "refusal" in names(detect(i(finish_reason="content_filter", response="")))


# -- empty and truncated -------------------------------------------------------------------------------------------

def test_empty_answer_is_empty_output():
    assert names(detect(i(response="   "))) == ["empty_output"]


def test_errors_and_tool_calls_are_not_empty_output():
    assert "empty_output" not in names(detect(i(response="", status="error")))
    assert detect(i(response="", finish_reason="tool_call")) == ()
    assert detect(i(response="", is_tool_call=True)) == ()


@pytest.mark.parametrize("reason", ["length", "max_tokens"])
def test_length_finish_reason_is_truncated(reason):
    assert names(detect(i(finish_reason=reason, response="The summary covers the"))) == ["truncated"]


def test_stop_finish_reason_is_not_truncated():
    assert "truncated" not in names(detect(i(finish_reason="stop")))


# -- invalid JSON --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [
    {"system": "Extract the invoice as JSON with keys vendor and total. Output JSON only."},
    {"request": "Please parse this invoice into JSON."},
    {"response_format": '{"type": "json_object"}'},
    {"response_format": '{"type": "json_schema", "json_schema": {"name": "x"}}'},
])
def test_invalid_json_where_json_was_asked_for(kw):
    signals = detect(i(response="Sure! Here is the data: {\"vendor\": \"Contoso\"}", **kw))
    assert names(signals) == ["invalid_json"]
    assert "where" in signals[0].reason


def test_an_answer_that_starts_as_json_must_parse():
    assert names(detect(i(response='{"vendor": "Contoso", "total": 12,\n}'))) == ["invalid_json"]
    assert names(detect(i(response="```json\n{\"a\": 1}\n```"))) == ["invalid_json"]


def test_valid_json_where_json_was_asked_for_is_fine():
    assert detect(i(system="Output JSON only.", response='{"vendor": "Contoso", "total": 12}')) == ()


def test_prose_where_nobody_asked_for_json_is_fine():
    assert detect(i(request="What does a 422 error mean? The JSON body failed validation.",
                    response="It means a field in the body is invalid.")) == ()


def test_json_validity_judged_by_the_loader_wins_over_a_cut_answer():
    cut = '{"items": [' + '"x", ' * 10  # the loader cut a long, valid answer
    assert detect(i(system="Return JSON only.", response=cut, response_json_valid=True)) == ()
    assert names(detect(i(system="Return JSON only.", response='{"a": 1}', response_json_valid=False))) == [
        "invalid_json"]


# -- scores --------------------------------------------------------------------------------------------------------

def test_zero_or_negative_score_is_negative_feedback_on_the_scored_span():
    a, b = i(span_id="a"), i(span_id="b", start_time_ns=1001 * S)
    signals = detect_all([a, b], scores=[Score("t1", "a", "thumbs", 0.0)])
    assert names(signals[0]) == ["negative_feedback"] and signals[1] == ()
    assert signals[0][0].reason == "score thumbs=0 (at or below 0)"


def test_trace_level_score_goes_to_the_last_llm_call_of_the_trace():
    a, b = i(span_id="a"), i(span_id="b", start_time_ns=1001 * S)
    signals = detect_all([b, a], scores=[Score("t1", "", "thumbs", -1.0)])
    assert names(signals[0]) == ["negative_feedback"] and signals[1] == ()


def test_positive_scores_and_per_name_thresholds():
    rules = SignalRules(score_thresholds=(("rating", 2.0),))
    signals = detect_all([i()], scores=[Score("t1", "s1", "thumbs", 1.0), Score("t1", "s1", "rating", 3.0)],
                         rules=rules)
    assert signals == [()]
    low = detect_all([i()], scores=[Score("t1", "s1", "rating", 2.0)], rules=rules)
    assert names(low[0]) == ["negative_feedback"]


def test_nan_scores_and_ignored_scores_are_no_evidence():
    rules = SignalRules(ignored_scores=("toxicity",))
    assert detect_all([i()], scores=[Score("t1", "s1", "x", float("nan")), Score("t1", "s1", "toxicity", 0.0)],
                      rules=rules) == [()]


# -- tool errors ---------------------------------------------------------------------------------------------------

def test_tool_error_is_charged_to_the_calls_that_read_its_result():
    first = i(span_id="a", start_time_ns=1000 * S, response="", finish_reason="tool_call")
    second = i(span_id="b", start_time_ns=1002 * S, response="I couldn't retrieve the tracking.")
    other = i(trace_id="t2", span_id="c")
    tool = ToolError("t1", "tool1", "carrier_api.track", "503 unavailable", 1001 * S)
    signals = detect_all([first, second, other], tool_errors=[tool])
    assert signals[0] == () and names(signals[1]) == ["tool_error"] and signals[2] == ()
    assert signals[1][0].reason == "tool carrier_api.track failed: 503 unavailable"


def test_tool_error_after_every_call_goes_to_the_last_call():
    call = i(span_id="a", start_time_ns=1000 * S)
    signals = detect_all([call], tool_errors=[ToolError("t1", "x", "search", "", 1005 * S)])
    assert names(signals[0]) == ["tool_error"]


# -- retries -------------------------------------------------------------------------------------------------------

def test_same_request_in_the_same_session_after_an_error_is_a_retry():
    failed = i(trace_id="t1", session="s", status="error", error_type="RateLimitError", response="")
    again = i(trace_id="t2", span_id="s2", session="s", start_time_ns=1030 * S, request="  where is my ORDER? ")
    signals = detect_all([failed, again])
    assert names(signals[1]) == ["retry"]
    assert "30 s" in signals[1][0].reason


@pytest.mark.parametrize("kw", [
    {"session": "other"},                               # another session
    {"request": "And when will it arrive?"},            # another request
    {"start_time_ns": 1000 * S + 2 * 3600 * S},         # outside the retry window
])
def test_not_a_retry(kw):
    failed = i(trace_id="t1", session="s", status="error", response="")
    again = i(**{"trace_id": "t2", "span_id": "s2", "session": "s", "start_time_ns": 1030 * S, **kw})
    assert detect_all([failed, again])[1] == ()


def test_repeating_a_request_that_succeeded_is_not_a_retry():
    ok = i(trace_id="t1", session="s")
    again = i(trace_id="t2", span_id="s2", session="s", start_time_ns=1030 * S)
    assert detect_all([ok, again])[1] == ()


# -- configuration -------------------------------------------------------------------------------------------------

def test_failure_signals_are_configurable():
    only_errors = SignalRules(failure_signals=("error", "timeout"))
    assert is_failure([Signal("error", "x")], only_errors)
    assert not is_failure([Signal("refusal", "x")], only_errors)
    assert is_failure([Signal("refusal", "x")])


def test_bad_configuration_fails_at_construction():
    with pytest.raises(ValueError, match="unknown signal"):
        SignalRules(failure_signals=("errors",))
    with pytest.raises(ValueError, match="invalid signal pattern"):
        SignalRules(refusal_patterns=("(unclosed",))


def test_custom_refusal_patterns():
    rules = SignalRules(refusal_patterns=(r"\bno puedo ayudar",))
    assert names(detect(i(response="Lo siento, no puedo ayudar con eso."), rules)) == ["refusal"]
    assert detect(i(response="I'm sorry, but I can't help with that."), rules) == ()


def test_every_signal_name_is_documented():
    import tracehouse.analytics.signals as module

    assert all(f"``{name}``" in module.__doc__ for name in SIGNALS)
