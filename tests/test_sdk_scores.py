"""tracehouse.score(): validated, queued, POSTed in the background with retries, never blocking or raising."""

from __future__ import annotations

import time

import pytest

import tracehouse
from tests.fakes_sdk import FakeCollector
from tests.test_sdk_safety import closed_port
from tracehouse._scores import ScoreSender, make_score

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"


@pytest.fixture
def collector():
    with FakeCollector() as c:
        yield c
    tracehouse.shutdown()


def start(collector: FakeCollector, **kwargs) -> None:
    tracehouse.init(endpoint=collector.base_url, api_key="th-key", schedule_delay_ms=20, **kwargs)


def test_score_posts_the_documented_json_with_the_api_key(collector):
    start(collector)
    assert tracehouse.score(TRACE.upper(), "helpful", 1, span_id=SPAN, comment="great answer", source="user")
    assert tracehouse.score(int(TRACE, 16), "accuracy", 0.75)
    assert tracehouse.flush(timeout_ms=5000)
    assert collector.scores == [
        {"trace_id": TRACE, "span_id": SPAN, "name": "helpful", "value": 1.0, "comment": "great answer",
         "source": "user", "_auth": "Bearer th-key"},
        {"trace_id": TRACE, "name": "accuracy", "value": 0.75, "_auth": "Bearer th-key"},
    ]
    assert tracehouse.stats().scores_sent == 2


def test_score_for_a_span_handle(collector):
    start(collector)
    with tracehouse.span("answer") as handle:
        pass
    assert tracehouse.score(handle.trace_id, "thumbs_up", True, span_id=handle.span_id)
    assert tracehouse.flush(timeout_ms=5000)
    assert collector.scores[0]["trace_id"] == handle.trace_id and collector.scores[0]["value"] == 1.0


@pytest.mark.parametrize("args", [
    ("not-hex", "n", 1), (TRACE, "", 1), (TRACE, "n", float("nan")), (TRACE, "n", "high"), ("0" * 32, "n", 1),
    (TRACE, "n", 1, "short"),
])
def test_invalid_scores_are_refused_with_a_warning_not_an_exception(collector, caplog, args):
    start(collector)
    assert tracehouse.score(*args) is False
    assert "score" in caplog.text


def test_score_before_init_is_ignored():
    tracehouse.shutdown()
    assert tracehouse.score(TRACE, "n", 1) is False


def test_long_fields_are_cut_to_the_collector_limits():
    score = make_score(TRACE, "n" * 300, 2, comment="c" * 20_000, source="s" * 200)
    assert (len(score.name), len(score.comment), len(score.source)) == (200, 10_000, 100)


def test_503_is_retried_with_retry_after(collector):
    collector.score_status = 503
    collector.retry_after = "0.1"
    start(collector)
    assert tracehouse.score(TRACE, "n", 1)
    time.sleep(0.15)
    collector.score_status = 201
    assert tracehouse.flush(timeout_ms=5000)
    assert len(collector.scores) == 1 and collector.score_posts >= 2
    assert tracehouse.stats().scores_sent == 1


def test_a_rejected_score_is_not_retried_and_counted_as_failed(collector, caplog):
    collector.score_status = 422
    start(collector)
    tracehouse.score(TRACE, "n", 1)
    tracehouse.score(TRACE, "n", 2)
    assert tracehouse.flush(timeout_ms=5000)
    assert collector.score_posts == 2 and tracehouse.stats().scores_failed == 2
    assert caplog.text.count("rejected a score with HTTP 422") == 1


def test_collector_down_never_blocks_the_caller():
    tracehouse.init(endpoint=f"http://127.0.0.1:{closed_port()}", export_timeout_s=0.5, shutdown_timeout_s=1)
    try:
        start_time = time.perf_counter()
        for i in range(50):
            assert tracehouse.score(TRACE, f"n{i}", i)
        assert time.perf_counter() - start_time < 0.5  # one blocked submit alone would take longer
        assert tracehouse.flush(timeout_ms=200) is False
        assert tracehouse.stats().scores_sent == 0
    finally:
        start_time = time.perf_counter()
        tracehouse.shutdown()
        assert time.perf_counter() - start_time < 3


def test_hanging_collector_never_blocks_the_caller_and_the_queue_is_bounded():
    sender = ScoreSender("http://127.0.0.1:1/api/v1/scores", None, timeout_s=0.2, max_queue=5, backoff_s=0.05,
                         shutdown_timeout_s=0.2)
    with FakeCollector(hang_s=10) as collector:
        sender.url = collector.base_url + "/api/v1/scores"
        start_time = time.perf_counter()
        for i in range(20):
            sender.submit(make_score(TRACE, "n", i))
        assert time.perf_counter() - start_time < 0.5  # one blocked submit alone would take longer
        assert sender.dropped >= 14  # the oldest went first
        assert sender.flush(0.2) is False
        sender.shutdown()
        assert sender.sent == 0 and sender.dropped + sender.failed + sender.queued >= 19


def test_redacted_policy_redacts_the_comment(collector):
    start(collector, capture_content="redacted")
    tracehouse.score(TRACE, "feedback", 0, comment="call me at 415-555-0132 or jane@example.com")
    assert tracehouse.flush(timeout_ms=5000)
    assert collector.scores[0]["comment"] == "call me at <PHONE> or <EMAIL>"


def test_capture_none_keeps_the_comment_out(collector):
    start(collector, capture_content="none")
    tracehouse.score(TRACE, "feedback", 0, comment="my email is jane@example.com")
    assert tracehouse.flush(timeout_ms=5000)
    assert "comment" not in collector.scores[0] and collector.scores[0]["value"] == 0.0


@pytest.mark.e2e
def test_score_reaches_a_real_collector(empty_collector):
    _, key = empty_collector.new_project("sdk-scores")
    tracehouse.init(endpoint=empty_collector.base_url, api_key=key)
    try:
        with tracehouse.span("answer") as handle:
            pass
        assert tracehouse.score(handle.trace_id, "helpful", 1, span_id=handle.span_id, comment="ok")
        assert tracehouse.flush(timeout_ms=20_000)
        stats = tracehouse.stats()
        assert (stats.scores_sent, stats.scores_failed) == (1, 0)
    finally:
        tracehouse.shutdown()
