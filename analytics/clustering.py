"""Failure-mode clustering, the compute step (pure): interactions and their signals in, ranked clusters out.

``compute_clusters`` embeds every interaction (request + answer, redacted), picks the number of clusters,
clusters with spherical MiniBatchKMeans, sets apart an outlier group, names each cluster by its distinctive
terms (class-based TF-IDF), and measures each: size, failure rate, lift over the run's overall failure rate with
a Wilson-based confidence interval, top failure reasons, cost, latency, representative examples and a 2-D map
position for every member. Clusters are ranked by excess failures, ``size x (lift - 1)``. Ids continue the
previous run's clusters they match (``previous``), so a cluster keeps its id across runs.

Deterministic given ``ClusterParams.seed`` and the input order (the job loads interactions in a canonical
order). Handled on purpose: an empty window gives a result with no cluster; fewer than ``min_points``
interactions give one cluster of everything; empty texts land in the outlier group; no value is NaN or
infinite. ``assign`` places new interactions with a saved ``FittedModel`` (nearest centroid, same map).

Choosing k: MiniBatchKMeans over-clusters (``k_max``), then average-linkage agglomeration merges clusters whose
centroids are at least ``merge_similarity`` alike, so k follows the data (thresholds are per embedder:
``EMBEDDER_THRESHOLDS``). The evaluation
(``benchmarks/clustering.py --compare``) shows why: on templated production-like traffic the silhouette keeps
rising with k (it picks the largest candidate and splits every topic, ARI ~0.6), while over-cluster-and-merge
recovers the planted topics (ARI > 0.9) at several seeds, sizes and SVD widths. HDBSCAN (``method="hdbscan"``,
fitted on a sample) is the alternative; it cannot run on 100k points within the time budget.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from . import _layout, _matching, _stats, _terms
from ._state import FittedModel
from .embedding import Embedder, embedder_from_state, select_embedder
from .interactions import FEATURE_REDACTION_KINDS, Interaction, interaction_text, preview
from .signals import Signal, SignalRules

__all__ = ["OUTLIER_ID", "Assignment", "ClusterParams", "ClusterResult", "ClusterSummary", "Example",
           "FittedModel", "PreviousCluster", "ReasonCount", "assign", "compute_clusters"]

OUTLIER_ID = "outliers"
# Cosine scales differ by space: LSA vectors of unrelated texts sit near 0, sentence-model vectors near 0.2-0.4.
# Calibrated with benchmarks/clustering.py (merge similarity, outlier threshold) per embedder.
EMBEDDER_THRESHOLDS: Mapping[str, tuple[float, float]] = {"tfidf-svd": (0.2, 0.2), "minilm-l6-v2": (0.6, 0.3)}
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ClusterParams:
    """Every knob of a clustering run. ``k=None`` chooses k: MiniBatchKMeans with ``k_max`` clusters, then
    clusters whose centroids are at least ``merge_similarity`` alike (average linkage) are merged."""

    seed: int = 0
    embedder: str = "auto"                 # auto | tfidf | sentence
    sentence_max_interactions: int = 20000  # "auto" uses the sentence model (when installed) up to this many
    method: str = "kmeans"                 # kmeans | hdbscan
    k: int | None = None
    k_max: int = 40                        # over-clustering before the merge (at most sqrt(n))
    merge_similarity: float | None = None  # merge clusters whose centroids are this alike (average linkage)
    svd_components: int = 96
    fit_sample: int = 20000
    ngram_max: int = 1
    min_df: int = 2
    max_df: float = 0.5
    max_features: int = 30000
    max_text_chars: int = 1000
    outlier_min_similarity: float | None = None  # cosine to the nearest centroid below this -> outlier group
    min_cluster_size: int = 5
    min_cluster_share: float = 0.002       # a cluster smaller than this share of the run joins the outliers
    min_points: int = 20                   # below this, one cluster of everything
    label_terms: int = 3
    profile_terms: int = 50
    n_examples: int = 5
    top_reasons: int = 3
    confidence: float = 0.95
    match_min_similarity: float = 0.3
    max_interactions: int = 200_000        # the job loads at most this many (the most recent)
    threads: int = 1                       # BLAS/OpenMP threads (oversubscribed BLAS threads crawl on a busy host)

    def __post_init__(self) -> None:
        if self.method not in ("kmeans", "hdbscan"):
            raise ValueError(f"method must be kmeans or hdbscan, got {self.method!r}")
        if self.embedder not in ("auto", "tfidf", "sentence"):
            raise ValueError(f"embedder must be auto, tfidf or sentence, got {self.embedder!r}")
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be >= 1 or None, got {self.k}")
        if self.k_max < 2 or any(v is not None and not -1.0 <= v <= 1.0
                                 for v in (self.merge_similarity, self.outlier_min_similarity)):
            raise ValueError("k_max must be >= 2, merge_similarity and outlier_min_similarity in [-1, 1]")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if self.max_interactions < 1 or self.max_text_chars < 1 or self.svd_components < 2 or self.threads < 1:
            raise ValueError("max_interactions, max_text_chars and threads must be >= 1, svd_components >= 2")

    def thresholds(self, embedder: str) -> tuple[float, float]:
        """(merge_similarity, outlier_min_similarity): as set, else the embedder's calibrated defaults."""
        merge, outlier = EMBEDDER_THRESHOLDS.get(embedder, EMBEDDER_THRESHOLDS["tfidf-svd"])
        return (merge if self.merge_similarity is None else self.merge_similarity,
                outlier if self.outlier_min_similarity is None else self.outlier_min_similarity)

    def term_settings(self) -> _terms.TermSettings:
        return _terms.TermSettings(self.ngram_max, self.min_df, self.max_df, self.max_features)


@dataclass(frozen=True)
class ReasonCount:
    signal: str
    count: int
    share: float          # of the cluster's interactions
    example: str          # the most common reason text for this signal in the cluster

    def text(self) -> str:
        return f"{self.signal} ({self.share:.0%})"


@dataclass(frozen=True)
class Example:
    trace_id: str
    span_id: str
    input_preview: str
    output_preview: str
    failed: bool
    reasons: tuple[str, ...]
    similarity: float


@dataclass(frozen=True)
class PreviousCluster:
    cluster_id: str
    profile: Mapping[str, float]


@dataclass(frozen=True)
class ClusterSummary:
    cluster_id: str
    rank: int
    label: str
    terms: tuple[str, ...]
    is_outlier: bool
    size: int
    failures: int
    failure_rate: float
    lift: float
    lift_ci: tuple[float, float]
    score: float                           # size x (lift - 1): failures in excess of the overall rate
    top_failure_reasons: tuple[ReasonCount, ...]
    examples: tuple[Example, ...]
    cost_usd: float
    latency_p50_ms: float
    latency_p95_ms: float
    x: float
    y: float
    profile: tuple[tuple[str, float], ...]
    previous_similarity: float = 0.0       # how well it matched the previous run's cluster (0: new)


@dataclass(frozen=True)
class ClusterResult:
    """Clusters ranked (outlier group last); member arrays aligned with the input interactions."""

    n_interactions: int
    n_failed: int
    failure_rate: float
    k: int
    embedder: str
    method: str
    k_fitted: int                          # clusters before the merge
    clusters: tuple[ClusterSummary, ...]
    member_index: np.ndarray               # (n,) index into ``clusters``
    x: np.ndarray
    y: np.ndarray
    similarity: np.ndarray
    failed: np.ndarray                     # (n,) bool
    signals: tuple[tuple[Signal, ...], ...]
    model: FittedModel | None = field(default=None, repr=False)

    def member_cluster_ids(self) -> list[str]:
        ids = [c.cluster_id for c in self.clusters]
        return [ids[i] for i in self.member_index]


@dataclass(frozen=True)
class Assignment:
    """New interactions placed with a saved model; arrays aligned with the input."""

    cluster_ids: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    similarity: np.ndarray


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _emit(progress: Progress | None, fraction: float, stage: str) -> None:
    if progress is not None:
        progress(fraction, stage)


def _texts(interactions: Sequence[Interaction], embedder: Embedder, max_chars: int) -> list[str]:
    kinds = FEATURE_REDACTION_KINDS if embedder.name == "tfidf-svd" else None
    cache: dict[tuple[str, str], str] = {}
    out = []
    for i in interactions:
        key = (i.request, i.response)
        text = cache.get(key)
        if text is None:
            text = cache[key] = interaction_text(i, max_chars, kinds)
        out.append(text)
    return out


def _kmeans(x: np.ndarray, k: int, seed: int, n_init: int = 3) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import MiniBatchKMeans

    model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=n_init, batch_size=min(4096, x.shape[0]),
                            max_iter=100, max_no_improvement=10, reassignment_ratio=0.01)
    labels = model.fit_predict(x)
    return model.cluster_centers_.astype(np.float32), labels


def _sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def _merge(centroids: np.ndarray, labels: np.ndarray, merge_similarity: float) -> np.ndarray:
    """Merge over-split clusters: average-linkage agglomeration of the centroids, joining groups whose
    centroids' mean cosine similarity is at least ``merge_similarity``. Returns the merged labels."""
    from sklearn.cluster import AgglomerativeClustering

    used = np.unique(labels)
    directed = used[np.linalg.norm(centroids[used], axis=1) > 0]
    flat = used[np.linalg.norm(centroids[used], axis=1) == 0]
    groups = np.arange(directed.size)
    if directed.size >= 2:
        groups = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                         distance_threshold=1.0 - merge_similarity).fit_predict(centroids[directed])
    to_group = np.zeros(centroids.shape[0], dtype=np.int64)
    to_group[directed] = groups
    to_group[flat] = (int(groups.max()) + 1 if groups.size else 0) + np.arange(flat.size)
    return to_group[labels]


def _mean_directions(emb: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    sums = np.zeros((k, emb.shape[1]), dtype=np.float64)
    inside = (labels >= 0) & (labels < k)
    np.add.at(sums, labels[inside], emb[inside])
    return _unit(sums.astype(np.float32))


def _hdbscan_centroids(emb: np.ndarray, params: ClusterParams, min_size: int) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    rows = _sample_rows(emb.shape[0], min(params.fit_sample, 5000), params.seed)
    x = emb[rows]
    labels = HDBSCAN(min_cluster_size=max(min_size, int(0.01 * x.shape[0])), copy=True).fit_predict(x)
    found = sorted(set(labels.tolist()) - {-1})
    if not found:
        return np.zeros((0, emb.shape[1]), dtype=np.float32)
    return np.stack([x[labels == c].mean(axis=0) for c in found]).astype(np.float32)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def _nearest(emb: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if centroids.shape[0] == 0 or emb.shape[0] == 0:
        return np.zeros(emb.shape[0], dtype=np.int64), np.zeros(emb.shape[0], dtype=np.float32)
    sims = emb @ centroids.T
    nearest = np.argmax(sims, axis=1)
    return nearest, np.nan_to_num(sims[np.arange(emb.shape[0]), nearest]).astype(np.float32)


def _partition(emb: np.ndarray, params: ClusterParams, merge_similarity: float,
               outlier_min_similarity: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(labels with -1 for outliers, unit centroids of the kept clusters in size order, clusters first fitted).

    Rows with no direction (empty text, or no known term) are outliers whatever the threshold."""
    n = emb.shape[0]
    min_size = max(params.min_cluster_size, int(math.ceil(params.min_cluster_share * n)))
    everything = np.zeros(n, dtype=np.int64)
    if n < params.min_points:
        return everything, _mean_directions(emb, everything, 1), 1
    live = np.flatnonzero(np.linalg.norm(emb, axis=1) > 0)
    if live.size < max(2, min_size):
        return everything, _mean_directions(emb, everything, 1), 1
    x = emb[live]
    if params.method == "hdbscan":
        centroids = _unit(_hdbscan_centroids(x, params, min_size))
        fitted = centroids.shape[0]
        if fitted == 0:
            return everything, _mean_directions(emb, everything, 1), 0
        labels, _ = _nearest(x, centroids)
    elif params.k is not None:
        fitted = max(1, min(params.k, live.size - 1))
        _, labels = _kmeans(x, fitted, params.seed)
    else:
        fitted = max(2, min(params.k_max, live.size // min_size, int(math.sqrt(live.size))))
        centroids, labels = _kmeans(x, fitted, params.seed)
        labels = _merge(_unit(centroids), labels, merge_similarity)
    k = int(labels.max()) + 1
    centroids = _mean_directions(x, labels, k)
    nearest, sim = _nearest(emb, centroids)
    labels = np.where((sim >= outlier_min_similarity) & (np.linalg.norm(emb, axis=1) > 0), nearest, -1)
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    kept = [int(c) for c in np.argsort(-sizes, kind="stable") if sizes[c] >= min_size]
    if not kept:  # nothing coherent: one cluster of everything, rather than all outliers
        return everything, _mean_directions(emb, everything, 1), fitted
    remap = np.full(k, -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    labels = np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)
    return labels, _mean_directions(emb, labels, len(kept)), fitted


def _reasons(members: np.ndarray, signals: Sequence[Sequence[Signal]], wanted: frozenset[str], size: int,
             top: int) -> tuple[ReasonCount, ...]:
    counts: Counter[str] = Counter()
    texts: dict[str, Counter[str]] = {}
    for m in members:
        seen = set()
        for s in signals[m]:
            if s.name in wanted and s.name not in seen:
                seen.add(s.name)
                counts[s.name] += 1
                texts.setdefault(s.name, Counter())[s.reason] += 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return tuple(ReasonCount(name, n, n / size if size else 0.0, texts[name].most_common(1)[0][0])
                 for name, n in ordered)


def _examples(members: np.ndarray, sim: np.ndarray, failed: np.ndarray, interactions: Sequence[Interaction],
              signals: Sequence[Sequence[Signal]], wanted: frozenset[str], n: int) -> tuple[Example, ...]:
    """The most central members, half of them failing ones when the cluster has failures."""
    if n <= 0 or members.size == 0:
        return ()
    order = members[np.lexsort((members, -sim[members]))]
    central = [int(m) for m in order[: n - n // 2]]
    failing = [int(m) for m in order if failed[m] and int(m) not in central][: n // 2]
    rest = [int(m) for m in order if int(m) not in central and int(m) not in failing]
    chosen = (central + failing + rest)[:n]
    out = []
    for m in chosen:
        i = interactions[m]
        out.append(Example(i.trace_id, i.span_id, preview(i.request), preview(i.response), bool(failed[m]),
                           tuple(f"{s.name}: {s.reason}" for s in signals[m] if s.name in wanted),
                           round(float(sim[m]), 4)))
    return tuple(out)


def _empty(params: ClusterParams, embedder_name: str) -> ClusterResult:
    nothing = np.zeros(0)
    return ClusterResult(0, 0, 0.0, 0, embedder_name, params.method, 0, (), _readonly(np.zeros(0, dtype=np.int64)),
                         _readonly(nothing.copy()), _readonly(nothing.copy()), _readonly(nothing.copy()),
                         _readonly(np.zeros(0, dtype=bool)), (), None)


def compute_clusters(
    interactions: Sequence[Interaction],
    signals: Sequence[Sequence[Signal]],
    params: ClusterParams = ClusterParams(),
    *,
    rules: SignalRules = SignalRules(),
    embedder: Embedder | None = None,
    previous: Sequence[PreviousCluster] = (),
    id_salt: str = "",
    progress: Progress | None = None,
) -> ClusterResult:
    """Cluster ``interactions`` (with their ``signals``, aligned) and describe every cluster (see the module
    docstring). ``embedder`` overrides ``params.embedder``; ``id_salt`` makes new cluster ids unique per run;
    ``progress(fraction, stage)`` is called between stages (it cannot change the result)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=params.threads):
        return _compute(interactions, signals, params, rules, embedder, previous, id_salt, progress)


def _compute(interactions: Sequence[Interaction], signals: Sequence[Sequence[Signal]], params: ClusterParams,
             rules: SignalRules, embedder: Embedder | None, previous: Sequence[PreviousCluster], id_salt: str,
             progress: Progress | None) -> ClusterResult:
    if len(signals) != len(interactions):
        raise ValueError(f"{len(interactions)} interactions but {len(signals)} signal tuples")
    n = len(interactions)
    kind = params.embedder
    if kind == "auto" and n > params.sentence_max_interactions:
        kind = "tfidf"  # the sentence model embeds ~200 texts/s here: keep big runs bounded
    embedder = embedder or select_embedder(kind, seed=params.seed, n_components=params.svd_components,
                                           fit_sample=params.fit_sample)
    if n == 0:
        _emit(progress, 1.0, "done")
        return _empty(params, embedder.name)
    wanted = frozenset(rules.failure_signals)
    failed = np.array([any(s.name in wanted for s in sig) for sig in signals], dtype=bool)

    _emit(progress, 0.05, "preparing text")
    texts = _texts(interactions, embedder, params.max_text_chars)
    settings = params.term_settings()
    counts, vocabulary = _terms.fit_counts(texts, settings)
    _emit(progress, 0.25, "embedding")
    emb = embedder.fit_transform(texts, counts)
    emb = np.nan_to_num(np.asarray(emb, dtype=np.float32))
    _emit(progress, 0.5, "clustering")
    merge_similarity, outlier_min_similarity = params.thresholds(embedder.name)
    labels, centroids, k_fitted = _partition(emb, params, merge_similarity, outlier_min_similarity)
    k = centroids.shape[0]
    nearest, sim_all = _nearest(emb, centroids)
    sim = np.where(labels >= 0, (emb * centroids[np.maximum(labels, 0)]).sum(axis=1), sim_all).astype(np.float32)
    _emit(progress, 0.7, "naming")

    outliers = np.flatnonzero(labels < 0)
    classes = np.where(labels >= 0, labels, k)
    weights = _terms.class_tfidf(counts, classes, k + 1)
    profiles = [dict(_terms.top_terms(weights[c], vocabulary, params.profile_terms)) for c in range(k)]
    matched = _matching.match(profiles, [(p.cluster_id, p.profile) for p in previous], params.match_min_similarity)
    ids = [pid if pid is not None else _matching.new_cluster_id(id_salt, c) for c, (pid, _) in enumerate(matched)]

    _emit(progress, 0.8, "layout")
    anchor_xy = _layout.anchors(centroids.astype(np.float64))
    inliers = labels >= 0
    proj = _layout.projection((emb[inliers] - centroids[labels[inliers]]).astype(np.float64), params.seed)
    scales = _layout.cloud_scales((emb - centroids[nearest]) @ proj, labels, k)
    xy = _layout.place(emb, nearest, centroids, anchor_xy, proj, scales)

    _emit(progress, 0.85, "measuring")
    overall = float(failed.mean())
    z = _stats.z_value(params.confidence)
    cost = np.array([i.cost_usd for i in interactions], dtype=np.float64)
    latency = np.array([i.duration_ms for i in interactions], dtype=np.float64)
    summaries: list[ClusterSummary] = []
    groups = [(c, np.flatnonzero(labels == c)) for c in range(k)] + ([(-1, outliers)] if outliers.size else [])
    for c, members in groups:
        size = int(members.size)
        failures = int(failed[members].sum())
        lift, lo, hi = _stats.lift(failures, size, overall, z)
        if c >= 0:
            terms = tuple(t for t, _ in _terms.top_terms(weights[c], vocabulary, params.label_terms))
            label = ", ".join(terms) or f"cluster {c + 1}"
            cluster_id, center = ids[c], anchor_xy[c]
            profile = tuple((t, round(w, 6)) for t, w in profiles[c].items())
            previous_similarity = matched[c][1]
        else:
            terms = tuple(t for t, _ in _terms.top_terms(weights[k], vocabulary, params.label_terms))
            label = "outliers" + (f" ({', '.join(terms)})" if terms else "")
            cluster_id, center, profile, previous_similarity = OUTLIER_ID, xy[members].mean(axis=0), (), 0.0
        summaries.append(ClusterSummary(
            cluster_id=cluster_id, rank=0, label=label, terms=terms, is_outlier=c < 0, size=size,
            failures=failures, failure_rate=failures / size if size else 0.0, lift=lift, lift_ci=(lo, hi),
            score=size * (lift - 1.0),
            top_failure_reasons=_reasons(members, signals, wanted, size, params.top_reasons),
            examples=_examples(members, sim, failed, interactions, signals, wanted, params.n_examples),
            cost_usd=_stats.finite_sum(cost[members]), latency_p50_ms=_stats.percentile(latency[members], 50),
            latency_p95_ms=_stats.percentile(latency[members], 95), x=float(center[0]), y=float(center[1]),
            profile=profile, previous_similarity=previous_similarity,
        ))

    order = sorted(range(len(summaries)),
                   key=lambda s: (summaries[s].is_outlier, -summaries[s].score, -summaries[s].size, s))
    ranked = tuple(_with_rank(summaries[s], r + 1) for r, s in enumerate(order))
    position = np.empty(len(summaries), dtype=np.int64)
    position[order] = np.arange(len(order))
    group_of = np.where(labels >= 0, labels, k)  # the outlier group is summaries[k] when present
    member_index = position[np.minimum(group_of, len(summaries) - 1)]

    model = FittedModel(
        embedder=embedder.name, embedder_arrays=embedder.state(), vocabulary=vocabulary,
        term_settings=asdict(settings), cluster_ids=tuple(ids), centroids=centroids, anchors=anchor_xy,
        projection=proj, scales=scales, outlier_min_similarity=outlier_min_similarity, outlier_id=OUTLIER_ID,
        max_text_chars=params.max_text_chars, meta={"seed": params.seed, "k_fitted": k_fitted},
    )
    _emit(progress, 1.0, "done")
    return ClusterResult(
        n_interactions=n, n_failed=int(failed.sum()), failure_rate=overall, k=k, embedder=embedder.name,
        method=params.method, k_fitted=k_fitted, clusters=ranked, member_index=_readonly(member_index),
        x=_readonly(xy[:, 0].copy()), y=_readonly(xy[:, 1].copy()), similarity=_readonly(sim),
        failed=_readonly(failed), signals=tuple(tuple(s) for s in signals), model=model,
    )


def _with_rank(summary: ClusterSummary, rank: int) -> ClusterSummary:
    from dataclasses import replace

    return replace(summary, rank=rank)


def assign(interactions: Sequence[Interaction], model: FittedModel, embedder: Embedder | None = None,
           threads: int = 1) -> Assignment:
    """Place new interactions with a run's saved model: nearest centroid (or the outlier group) and map position."""
    n = len(interactions)
    if n == 0 or model.centroids.shape[0] == 0:
        zeros = np.zeros(n)
        return Assignment(tuple([model.outlier_id] * n), zeros, zeros.copy(), zeros.copy())
    from threadpoolctl import threadpool_limits

    embedder = embedder or embedder_from_state(model.embedder, model.embedder_arrays)
    with threadpool_limits(limits=threads):
        return _assign(interactions, model, embedder)


def _assign(interactions: Sequence[Interaction], model: FittedModel, embedder: Embedder) -> Assignment:
    texts = _texts(interactions, embedder, model.max_text_chars)
    settings = _terms.TermSettings(**model.term_settings)
    counts = _terms.transform_counts(texts, model.vocabulary, settings)
    emb = np.nan_to_num(np.asarray(embedder.transform(texts, counts), dtype=np.float32))
    centroids = np.asarray(model.centroids, dtype=np.float32)
    nearest, sim = _nearest(emb, centroids)
    xy = _layout.place(emb, nearest, centroids, model.anchors, model.projection, model.scales)
    ids = tuple(model.cluster_ids[c] if s >= model.outlier_min_similarity else model.outlier_id
                for c, s in zip(nearest.tolist(), sim.tolist()))
    return Assignment(ids, xy[:, 0].copy(), xy[:, 1].copy(), sim.astype(np.float64))
