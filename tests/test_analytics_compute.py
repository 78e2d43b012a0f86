"""The clustering compute step (pure): small synthetic corpora, determinism, edge cases, no NaN anywhere."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from benchmarks.clustering import generate_corpus
from tracehouse.analytics import _stats
from tracehouse.analytics._matching import match
from tracehouse.analytics._state import FittedModel
from tracehouse.analytics.clustering import (OUTLIER_ID, ClusterParams, ClusterResult, PreviousCluster, assign,
                                             compute_clusters)
from tracehouse.analytics.embedding import Embedder, TfidfSvdEmbedder, select_embedder
from tracehouse.analytics.interactions import Interaction
from tracehouse.analytics.signals import SignalRules, detect_all

PARAMS = ClusterParams(embedder="tfidf")
TOPICS = {
    "refund": ("I want a refund for my damaged {x}", "Your refund for the {x} is approved and will arrive soon."),
    "password": ("How do I reset my password on the {x} app", "Click forgot password on the {x} sign-in page."),
    "shipping": ("Where is my parcel with the {x}, tracking has not moved",
                 "Your parcel with the {x} is in transit with the carrier."),
    "invoice": ("Extract this invoice from {x} as JSON", '{{"vendor": "{x}", "total": 12.5}}'),
}
THINGS = ("lamp", "chair", "phone", "desk", "shoes", "kettle", "blender", "monitor", "camera", "watch")


def corpus(per_topic: int = 30, seed: int = 0) -> tuple[list[Interaction], list[str]]:
    rng = np.random.default_rng(seed)
    out, labels = [], []
    n = 0
    for topic, (q, a) in TOPICS.items():
        for _ in range(per_topic):
            x = THINGS[int(rng.integers(len(THINGS)))]
            refused = topic == "password" and rng.random() < 0.5
            answer = "I'm sorry, but I can't help with that." if refused else a.format(x=x)
            out.append(Interaction(trace_id=f"{n:032x}", span_id=f"{n:016x}", start_time_ns=n, request=q.format(x=x),
                                   response=answer, cost_usd=0.001, duration_ms=100.0 + n))
            labels.append(topic)
            n += 1
    return out, labels


def run(interactions, params=PARAMS, **kw) -> ClusterResult:
    return compute_clusters(interactions, detect_all(interactions), params, **kw)


def all_numbers(result: ClusterResult) -> list[float]:
    values = [result.failure_rate, *result.x.tolist(), *result.y.tolist(), *result.similarity.tolist()]
    for c in result.clusters:
        values += [c.failure_rate, c.lift, *c.lift_ci, c.score, c.cost_usd, c.latency_p50_ms, c.latency_p95_ms,
                   c.x, c.y, *(w for _, w in c.profile), *(r.share for r in c.top_failure_reasons)]
    return values


def test_recovers_topics_names_them_and_ranks_the_failing_one_first():
    interactions, labels = corpus()
    result = run(interactions)
    ids = result.member_cluster_ids()
    by_topic = {t: {ids[n] for n, lab in enumerate(labels) if lab == t} for t in TOPICS}
    assert all(len(v) <= 2 for v in by_topic.values())  # each topic mostly in one cluster
    top = result.clusters[0]
    assert top.cluster_id in by_topic["password"] and top.lift > 1.5
    assert top.top_failure_reasons[0].signal == "refusal"
    assert top.lift_ci[0] <= top.lift <= top.lift_ci[1]
    assert top.examples and any(e.failed for e in top.examples)
    names = " ".join(c.label for c in result.clusters)
    assert "refund" in names and "parcel" in names or "tracking" in names
    assert [c.rank for c in result.clusters] == list(range(1, len(result.clusters) + 1))
    assert sum(c.size for c in result.clusters) == len(interactions)


def test_deterministic_given_the_seed():
    interactions, _ = corpus()
    a, b = run(interactions), run(interactions)
    assert [dataclasses.astuple(c) for c in a.clusters] == [dataclasses.astuple(c) for c in b.clusters]
    assert np.array_equal(a.x, b.x) and np.array_equal(a.member_index, b.member_index)


def test_empty_window_gives_an_empty_result():
    result = run([])
    assert result.n_interactions == 0 and result.clusters == () and result.model is None
    assert result.failure_rate == 0.0 and result.member_cluster_ids() == []


@pytest.mark.parametrize("n", [1, 2, 3, 7, 19])
def test_tiny_samples_give_one_cluster_of_everything_without_nan(n):
    interactions, _ = corpus(per_topic=5)
    result = run(interactions[:n])
    assert len(result.clusters) == 1 and result.clusters[0].size == n
    assert all(math.isfinite(v) for v in all_numbers(result))


def test_no_nan_with_empty_texts_zero_costs_and_no_failures():
    interactions, _ = corpus()
    blanks = [dataclasses.replace(interactions[0], trace_id=f"b{n}", span_id=f"b{n}", request="", response="",
                                  finish_reason="tool_call") for n in range(5)]
    clean = [dataclasses.replace(x, response='{"ok": true}') for x in interactions] + blanks
    result = run(clean)
    assert result.n_failed == 0 and result.failure_rate == 0.0
    assert all(c.lift == 1.0 and c.lift_ci == (1.0, 1.0) for c in result.clusters)
    assert all(math.isfinite(v) for v in all_numbers(result))
    ids = result.member_cluster_ids()
    assert {ids[n] for n in range(len(clean) - 5, len(clean))} == {OUTLIER_ID}  # empty text has no direction


def test_identical_texts_do_not_break_the_layout():
    one = Interaction("t", "s", request="hello there", response="hi")
    result = run([dataclasses.replace(one, span_id=str(n)) for n in range(40)])
    assert all(math.isfinite(v) for v in all_numbers(result))


def test_outlier_group_is_last_and_marked():
    interactions, _ = corpus()
    odd = Interaction("odd", "odd", request="zzqx vvrrt kkplm", response="qqwwe rrtty")
    result = run(interactions + [odd], ClusterParams(embedder="tfidf", outlier_min_similarity=0.5))
    assert result.clusters[-1].is_outlier and result.clusters[-1].cluster_id == OUTLIER_ID
    assert result.member_cluster_ids()[-1] == OUTLIER_ID
    assert all(not c.is_outlier for c in result.clusters[:-1])


def test_ids_continue_across_runs_through_profile_matching():
    interactions, _ = corpus(seed=0)
    first = run(interactions, id_salt="run-1")
    previous = [PreviousCluster(c.cluster_id, dict(c.profile)) for c in first.clusters if not c.is_outlier]
    later, _ = corpus(seed=1)  # other draws of the same kinds of traffic
    second = run(later, previous=previous, id_salt="run-2")
    kept = {c.cluster_id for c in second.clusters} & {p.cluster_id for p in previous}
    assert len(kept) >= len(previous) - 1
    fresh = run(later, id_salt="run-3")
    assert not {c.cluster_id for c in fresh.clusters} & {p.cluster_id for p in previous} - {OUTLIER_ID}


def test_matching_is_one_to_one_and_thresholded():
    out = match([{"a": 1.0}, {"a": 0.9, "b": 0.1}, {"z": 1.0}], [("x", {"a": 1.0}), ("y", {"q": 1.0})], 0.3)
    assert [m[0] for m in out].count("x") == 1 and out[2] == (None, 0.0)


def test_fixed_k_and_hdbscan_methods_run():
    interactions, _ = corpus()
    assert len([c for c in run(interactions, ClusterParams(embedder="tfidf", k=3)).clusters if not c.is_outlier]) <= 3
    assert run(interactions, ClusterParams(embedder="tfidf", method="hdbscan")).clusters


def test_assign_places_new_interactions_like_the_run_did():
    interactions, _ = corpus()
    result = run(interactions)
    model = FittedModel.from_text(result.model.to_text())  # through its stored form
    placed = assign(interactions[:20], model)
    assert list(placed.cluster_ids) == result.member_cluster_ids()[:20]
    assert np.allclose(placed.x, result.x[:20], atol=1e-4) and np.allclose(placed.y, result.y[:20], atol=1e-4)
    assert assign([], model).cluster_ids == ()


def test_saved_model_loading_never_unpickles():
    with pytest.raises(ValueError, match="unreadable"):
        FittedModel.from_text("bm90IGEgbW9kZWw=")


def test_progress_is_reported_and_monotonic():
    seen: list[float] = []
    run(corpus()[0], progress=lambda f, stage: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_params_are_validated():
    with pytest.raises(ValueError):
        ClusterParams(method="dbscan")
    with pytest.raises(ValueError):
        ClusterParams(confidence=1.5)
    with pytest.raises(ValueError):
        compute_clusters(corpus()[0], [], PARAMS)


def test_lift_interval_math():
    z = _stats.z_value(0.95)
    assert abs(z - 1.95996) < 1e-4
    lift, lo, hi = _stats.lift(30, 100, 0.1, z)
    assert lift == pytest.approx(3.0) and lo < 3.0 < hi
    assert _stats.lift(0, 10, 0.1, z)[1] == 0.0
    assert _stats.lift(5, 10, 0.0, z) == (1.0, 1.0, 1.0)
    assert _stats.wilson(0, 0, z) == (0.0, 1.0)
    assert _stats.percentile(np.array([np.nan, np.inf]), 50) == 0.0


def test_embedders_meet_the_protocol_and_default_to_tfidf_without_the_extra():
    assert isinstance(TfidfSvdEmbedder(), Embedder)
    assert select_embedder("tfidf").name == "tfidf-svd"
    with pytest.raises(ValueError):
        select_embedder("word2vec")


def test_the_benchmark_corpus_meets_its_targets_at_a_small_size():
    corpus_ = generate_corpus(3000, seed=3)
    signals = detect_all(corpus_.interactions, corpus_.tool_errors, corpus_.scores, SignalRules())
    result = compute_clusters(corpus_.interactions, signals, PARAMS)
    from sklearn.metrics import adjusted_rand_score

    topics = np.array(corpus_.topics)
    real = topics != "noise"
    assert adjusted_rand_score(topics[real], np.array(result.member_cluster_ids())[real]) >= 0.7
