"""Drift, the compute step (pure): a baseline window and a current window in, one verdict per signal out.

``compute_drift(baseline, current, params)`` compares two ``DriftWindow`` s (plain arrays; no storage) on:

=============================  ==============================================  ==================================
signal                         test (statistic, p-value)                       effect size (practical threshold)
=============================  ==============================================  ==================================
``input_embedding``            energy distance between TF-IDF + SVD            2 AUC - 1 of a classifier telling
``output_embedding``           embeddings fitted on both windows, with a       the windows apart, out of fold
                               permutation p-value                             (``min_auc_delta``)
``cluster_mix``                chi-square of cluster shares + PSI; clusters    PSI (``min_psi``)
                               of a clustering run when the calls carry them,
                               else KMeans fitted on the pooled sample
``model_mix``, ``tenant_mix``  chi-square + PSI of the categories              PSI (``min_psi``)
``output_length``,             Kolmogorov-Smirnov                              Cliff's delta
``input_tokens``,                                                              (``min_cliffs_delta``)
``output_tokens``,
``cost_per_call``,
``latency_ms``, ``ttft_ms``
``error_rate``,                two-proportion z (Fisher's exact test for       Cohen's h (``min_cohens_h``)
``refusal_rate``,              small counts)
``truncation_rate``,
``negative_feedback_rate``
``score:<name>``               Kolmogorov-Smirnov of score values              Cliff's delta
``<signal>[tenant=<t>]``       the signal within one segment (the biggest      as the signal
                               ``max_segments`` tenants, ``segment_signals``)
=============================  ==============================================  ==================================

Verdicts. A signal whose windows hold fewer than the minimum sample (``min_samples``; ``min_samples_text``
for embeddings and cluster mix) is ``insufficient_data``, with the reason, and is not tested. The p-values of
the tested signals are adjusted together (Benjamini-Hochberg, giving ``q_value``); a signal is ``drift`` when
``q_value <= alpha`` *and* ``|effect_size| >= `` its practical threshold, so a huge sample does not alarm on a
trivial shift, else ``no_drift``. The report's verdict is ``drift`` if any signal drifted, ``insufficient_data``
if no signal could be tested, else ``no_drift``.

Handled on purpose: empty windows (every signal ``insufficient_data``), NaN and infinite values (left out of
the test that uses the value: see ``drift_window``), constant samples (``no_drift`` with p = 1), windows of
very different sizes (texts are sampled, at most ``max_embed`` per window, uniformly with ``seed``).
Deterministic given ``params.seed``; BLAS threads are limited to ``params.threads``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Collection, Mapping, Sequence

import numpy as np

from . import drift_stats as st
from .drift_window import NUMERIC_FIELDS, RATE_FIELDS, DriftWindow, window_from_rows

__all__ = ["DRIFT", "INSUFFICIENT_DATA", "NO_DRIFT", "SIGNAL_NAMES", "VERDICTS", "Contributor", "DriftParams",
           "DriftReport", "DriftWindow", "SignalResult", "compute_drift", "window_from_rows"]

DRIFT, NO_DRIFT, INSUFFICIENT_DATA = "drift", "no_drift", "insufficient_data"
VERDICTS = (DRIFT, NO_DRIFT, INSUFFICIENT_DATA)
SIGNAL_NAMES: tuple[str, ...] = (
    "input_embedding", "output_embedding", "cluster_mix", "model_mix", "tenant_mix", *NUMERIC_FIELDS.values(),
    *RATE_FIELDS.values(),
)  # plus "score:<name>" and "<signal>[tenant=<value>]"
_SEGMENTABLE = frozenset({*NUMERIC_FIELDS.values(), *RATE_FIELDS.values()})
_SEGMENT_DIMS = ("tenant", "model")


@dataclass(frozen=True)
class DriftParams:
    """Every knob of a drift comparison (see the module docstring)."""

    seed: int = 0
    alpha: float = 0.01                   # false-discovery rate across a report's signals (Benjamini-Hochberg)
    min_samples: int = 30                 # per window, for numeric, rate and score signals
    min_samples_text: int = 50            # per window, for embeddings and cluster mix
    max_embed: int = 600                  # texts per window embedded (uniform sample)
    permutations: int = 199               # energy test of embeddings
    folds: int = 5                        # classifier effect size of embeddings
    svd_components: int = 64
    max_text_chars: int = 1000
    mix_clusters: int = 8                 # KMeans k on the pooled sample when the calls carry no cluster ids
    min_auc_delta: float = 0.1            # practical threshold on 2 AUC - 1 (~10% of traffic distinguishable)
    min_psi: float = 0.1                  # ... on PSI (0.1: "moderate shift" by the usual rule of thumb)
    min_cliffs_delta: float = 0.147       # ... on |Cliff's delta| (0.147: "small" in Romano et al.)
    min_cohens_h: float = 0.05            # ... on |Cohen's h| (1% -> 2% is 0.083; 1.0% -> 1.1% is 0.01)
    segment_by: tuple[str, ...] = ("tenant",)
    segment_signals: tuple[str, ...] = ("cost_per_call", "error_rate")
    max_segments: int = 8
    max_score_names: int = 10
    top_terms: int = 8
    n_examples: int = 3
    signals: tuple[str, ...] | None = None  # only these signal names (and their segments); None: all
    threads: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.min_samples < 2 or self.min_samples_text < 2:
            raise ValueError("min_samples and min_samples_text must be >= 2")
        if self.max_embed < self.min_samples_text:
            raise ValueError(f"max_embed ({self.max_embed}) must be >= min_samples_text ({self.min_samples_text})")
        if self.folds < 2:
            raise ValueError(f"folds must be >= 2, got {self.folds}")
        if self.permutations < 0 or self.svd_components < 2 or self.mix_clusters < 2 or self.threads < 1:
            raise ValueError("permutations >= 0, svd_components >= 2, mix_clusters >= 2 and threads >= 1")
        if min(self.min_auc_delta, self.min_psi, self.min_cliffs_delta, self.min_cohens_h) < 0:
            raise ValueError("practical thresholds must be >= 0")
        bad = [d for d in self.segment_by if d not in _SEGMENT_DIMS]
        bad += [s for s in self.segment_signals if s not in _SEGMENTABLE]
        if bad:
            raise ValueError(f"unknown segment dimension or signal {bad}: dimensions {_SEGMENT_DIMS}, signals "
                             f"{sorted(_SEGMENTABLE)}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "DriftParams":
        """From a JSON object (unknown keys: ValueError; lists become tuples)."""
        values = dict(values or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown drift parameters {unknown}: use {', '.join(sorted(known))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass(frozen=True)
class Contributor:
    """What moved a signal: a term, a cluster, a category, a segment, or an example call."""

    kind: str                     # term | cluster | model | tenant | example | quantile
    key: str
    label: str = ""
    baseline: float | None = None  # share, rate, mean or quantile in the baseline window
    current: float | None = None
    delta: float | None = None     # current - baseline, or a contribution to the overall change
    trace_id: str = ""
    span_id: str = ""
    text: str = ""                 # a redacted preview

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None)}


@dataclass(frozen=True)
class SignalResult:
    name: str
    kind: str                       # embedding | mix | numeric | rate | score
    test: str                       # energy_permutation | chi2_psi | ks | two_proportion_z | fisher_exact | none
    verdict: str
    statistic: float | None
    p_value: float | None
    q_value: float | None           # Benjamini-Hochberg adjusted across the report
    effect_size: float | None
    effect_measure: str             # auc_delta | psi | cliffs_delta | cohens_h
    threshold: float                # practical threshold on |effect_size|
    n_baseline: int
    n_current: int
    baseline_value: float | None = None  # median or rate
    current_value: float | None = None
    change: float | None = None     # relative change of the median or rate
    direction: str = ""             # up | down | "" (embeddings and mixes)
    reason: str = ""                # why insufficient_data, or a one-line summary
    top: tuple[Contributor, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The contract's fields first, then the extensions."""
        return {
            "name": self.name, "statistic": _round(self.statistic), "p_value": _round(self.p_value, 8),
            "effect_size": _round(self.effect_size), "verdict": self.verdict, "n_baseline": self.n_baseline,
            "n_current": self.n_current, "kind": self.kind, "test": self.test, "q_value": _round(self.q_value, 8),
            "effect_measure": self.effect_measure, "threshold": self.threshold,
            "baseline_value": _round(self.baseline_value), "current_value": _round(self.current_value),
            "change": _round(self.change), "direction": self.direction, "reason": self.reason,
            "top": [c.to_dict() for c in self.top],
        }


@dataclass(frozen=True)
class DriftReport:
    verdict: str
    signals: tuple[SignalResult, ...]
    n_baseline: int
    n_current: int
    params: DriftParams = field(default_factory=DriftParams)

    @property
    def drifted(self) -> tuple[SignalResult, ...]:
        return tuple(s for s in self.signals if s.verdict == DRIFT)

    def signal(self, name: str) -> SignalResult | None:
        return next((s for s in self.signals if s.name == name), None)


def _round(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


@dataclass
class _Pending:
    """A signal before the multiple-testing step."""

    name: str
    kind: str
    test: str
    effect_measure: str
    threshold: float
    n_baseline: int
    n_current: int
    statistic: float | None = None
    p_value: float | None = None
    effect_size: float | None = None
    baseline_value: float | None = None
    current_value: float | None = None
    change: float | None = None
    direction: str = ""
    reason: str = ""
    top: list[Contributor] = field(default_factory=list)


def _insufficient(p: _Pending, minimum: int) -> bool:
    if p.n_baseline < minimum or p.n_current < minimum:
        p.reason = (f"too few samples: {p.n_baseline} in the baseline and {p.n_current} in the current window, "
                    f"at least {minimum} each needed")
        return True
    return False


def _direction(value: float | None) -> str:
    if value is None or value == 0:
        return ""
    return "up" if value > 0 else "down"


# -- breakdowns -------------------------------------------------------------------------------------------------

def _group_contributions(values_b: np.ndarray, values_c: np.ndarray, groups_b: Sequence[str],
                         groups_c: Sequence[str], kind: str, top: int = 3) -> list[Contributor]:
    """Which groups moved the overall mean: share_c * mean_c - share_b * mean_b per group (these add up to
    the change of the overall mean), the largest in size first. Values that are NaN are left out."""
    ok_b, ok_c = np.isfinite(values_b), np.isfinite(values_c)
    gb = np.array(groups_b, dtype=object)[ok_b]
    gc = np.array(groups_c, dtype=object)[ok_c]
    vb, vc = values_b[ok_b], values_c[ok_c]
    if vb.size == 0 or vc.size == 0:
        return []
    keys = sorted(set(gb) | set(gc))
    if len(keys) < 2:
        return []
    index = {k: i for i, k in enumerate(keys)}
    ib = np.fromiter((index[g] for g in gb), dtype=np.int64, count=gb.size)
    ic = np.fromiter((index[g] for g in gc), dtype=np.int64, count=gc.size)
    count_b, count_c = np.bincount(ib, minlength=len(keys)), np.bincount(ic, minlength=len(keys))
    sum_b = np.bincount(ib, weights=vb, minlength=len(keys))
    sum_c = np.bincount(ic, weights=vc, minlength=len(keys))
    contribution = sum_c / vc.size - sum_b / vb.size  # share x mean = sum / n
    rows = []
    for i in np.argsort(-np.abs(contribution), kind="stable")[:top]:
        mean_b = float(sum_b[i] / count_b[i]) if count_b[i] else None
        mean_c = float(sum_c[i] / count_c[i]) if count_c[i] else None
        rows.append(Contributor(kind=kind, key=str(keys[i]) or "(none)", baseline=_round(mean_b),
                                current=_round(mean_c), delta=_round(float(contribution[i]))))
    return rows


def _examples(window: DriftWindow, rows: np.ndarray, n: int, use_output: bool = True) -> list[Contributor]:
    from .interactions import preview

    out = []
    for i in rows[:n]:
        text = window.output_text[i] if use_output and window.output_text[i] else window.input_text[i]
        out.append(Contributor(kind="example", key=f"{window.trace_id[i]}:{window.span_id[i]}",
                               trace_id=window.trace_id[i], span_id=window.span_id[i], text=preview(text, 200)))
    return out


# -- signal families ------------------------------------------------------------------------------------------------

def _numeric(name: str, kind: str, b: np.ndarray, c: np.ndarray, params: DriftParams,
             breakdown: tuple[DriftWindow, DriftWindow] | None) -> _Pending:
    base, cur = st.finite(b), st.finite(c)
    p = _Pending(name, kind, "ks", "cliffs_delta", params.min_cliffs_delta, int(base.size), int(cur.size))
    if _insufficient(p, params.min_samples):
        return p
    result = st.ks_test(base, cur)
    assert result is not None
    p.statistic, p.p_value, p.effect_size = result.statistic, result.p_value, result.cliffs_delta
    p.baseline_value, p.current_value, p.change = (result.median_baseline, result.median_current,
                                                   result.relative_median_change)
    p.direction = _direction(result.cliffs_delta)
    qs = (50, 90, 99)
    for q, vb, vc in zip(qs, np.percentile(base, qs), np.percentile(cur, qs)):
        p.top.append(Contributor(kind="quantile", key=f"p{q}", baseline=_round(float(vb)),
                                 current=_round(float(vc)), delta=_round(float(vc - vb))))
    if breakdown is not None:
        wb, wc = breakdown
        for dim in ("model", "tenant"):
            p.top.extend(_group_contributions(b, c, getattr(wb, dim), getattr(wc, dim), dim))
    return p


def _rate(name: str, b: np.ndarray, c: np.ndarray, params: DriftParams,
          breakdown: tuple[DriftWindow, DriftWindow] | None) -> _Pending:
    base, cur = st.finite(b), st.finite(c)
    p = _Pending(name, "rate", "two_proportion_z", "cohens_h", params.min_cohens_h, int(base.size), int(cur.size))
    if _insufficient(p, params.min_samples):
        return p
    result = st.proportion_test(int((base > 0.5).sum()), base.size, int((cur > 0.5).sum()), cur.size)
    assert result is not None
    p.test = "fisher_exact" if result.exact else "two_proportion_z"
    p.statistic, p.p_value, p.effect_size = result.statistic, result.p_value, result.cohens_h
    p.baseline_value, p.current_value = result.rate_baseline, result.rate_current
    p.change = None if result.ratio is None else result.ratio - 1.0
    p.direction = _direction(result.difference)
    if breakdown is not None:
        wb, wc = breakdown
        for dim in ("model", "tenant"):
            p.top.extend(_group_contributions(b, c, getattr(wb, dim), getattr(wc, dim), dim))
        flagged = np.flatnonzero(c > 0.5)
        p.top.extend(_examples(wc, flagged, params.n_examples))
    return p


def _mix(name: str, b: Sequence[str], c: Sequence[str], params: DriftParams, kind: str,
         labels: Mapping[str, str] | None = None, minimum: int | None = None) -> _Pending:
    p = _Pending(name, "mix", "chi2_psi", "psi", params.min_psi, len(b), len(c))
    if _insufficient(p, minimum or params.min_samples):
        return p
    result = st.mix_test(b, c)
    assert result is not None
    p.statistic, p.p_value, p.effect_size = result.statistic, result.p_value, result.psi
    moves = list(zip(result.categories, result.share_baseline, result.share_current))
    grew = [m for m in moves if m[2] > m[1]][:5]
    shrank = [m for m in reversed(moves) if m[2] < m[1]][:2]
    for key, sb, sc in [*grew, *shrank]:
        p.top.append(Contributor(kind=kind, key=key or "(none)", label=(labels or {}).get(key, ""),
                                 baseline=_round(sb), current=_round(sc), delta=_round(sc - sb)))
    return p


def _sample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(rng.choice(n, limit, replace=False))


def _text_signals(baseline: DriftWindow, current: DriftWindow, params: DriftParams, wanted: Collection[str],
                  cluster_names: Mapping[str, str] | None) -> list[_Pending]:
    from .drift_embed import cluster_terms, embed_pair, kmeans_labels, term_shift

    out: list[_Pending] = []
    rng = np.random.default_rng(params.seed)
    rows_b = _sample(len(baseline), params.max_embed, rng)
    rows_c = _sample(len(current), params.max_embed, rng)
    spaces = {}
    for side, field_name in (("input", "input_text"), ("output", "output_text")):
        name = f"{side}_embedding"
        texts_b = [getattr(baseline, field_name)[i] for i in rows_b]
        texts_c = [getattr(current, field_name)[i] for i in rows_c]
        keep_b = np.array([bool(t.strip()) for t in texts_b], dtype=bool)
        keep_c = np.array([bool(t.strip()) for t in texts_c], dtype=bool)
        p = _Pending(name, "embedding", "energy_permutation", "auc_delta", params.min_auc_delta,
                     int(keep_b.sum()), int(keep_c.sum()))
        testable = name in wanted and not _insufficient(p, params.min_samples_text)
        if (testable or "cluster_mix" in wanted) and keep_b.sum() + keep_c.sum() >= 2:
            spaces[side] = embed_pair(texts_b, texts_c, n_components=params.svd_components, seed=params.seed,
                                      max_chars=params.max_text_chars)
        if name not in wanted:
            continue
        out.append(p)
        if not testable:
            continue
        space = spaces[side]
        xb, xc = space.baseline[keep_b], space.current[keep_c]
        energy = st.energy_test(xb, xc, params.permutations, params.seed)
        separability = st.classifier_auc(xb, xc, params.folds, params.seed)
        assert energy is not None and separability is not None
        p.statistic, p.p_value, p.effect_size = energy.statistic, energy.p_value, separability.delta
        p.reason = (f"energy coefficient {energy.coefficient:.4f} ({energy.permutations} permutations); "
                    f"classifier AUC {separability.auc:.3f} ({separability.folds}-fold)")
        kept_rows = np.concatenate([np.flatnonzero(keep_b), len(texts_b) + np.flatnonzero(keep_c)])
        for term, sb, sc, _z in term_shift(space.counts[kept_rows], int(keep_b.sum()), space.vocabulary,
                                           params.top_terms):
            p.top.append(Contributor(kind="term", key=term, baseline=_round(sb), current=_round(sc),
                                     delta=_round(sc - sb)))
        novel = np.argsort(-separability.scores, kind="stable")
        current_rows = rows_c[np.flatnonzero(keep_c)][novel]
        p.top.extend(_examples(current, current_rows, params.n_examples, use_output=(side == "output")))

    if "cluster_mix" in wanted:
        out.append(_cluster_mix(baseline, current, params, rows_b, rows_c, spaces, cluster_names,
                                cluster_terms, kmeans_labels))
    return out


def _cluster_mix(baseline: DriftWindow, current: DriftWindow, params: DriftParams, rows_b: np.ndarray,
                 rows_c: np.ndarray, spaces: Mapping[str, Any], cluster_names: Mapping[str, str] | None,
                 cluster_terms: Any, kmeans_labels: Any) -> _Pending:
    def labelled(w: DriftWindow) -> bool:
        return len(w) > 0 and sum(1 for c in w.cluster if c) >= 0.5 * len(w)

    if labelled(baseline) and labelled(current):  # clusters of a clustering run
        b = [c or "unassigned" for c in baseline.cluster]
        c = [c or "unassigned" for c in current.cluster]
        return _mix("cluster_mix", b, c, params, "cluster", cluster_names, params.min_samples_text)
    p = _Pending("cluster_mix", "mix", "chi2_psi", "psi", params.min_psi, len(rows_b), len(rows_c))
    if _insufficient(p, params.min_samples_text) or not spaces:
        if not p.reason:
            p.reason = "no text to cluster"
        return p
    parts = [np.vstack([s.baseline, s.current]) for s in spaces.values()]
    pooled = np.hstack(parts)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    pooled = np.divide(pooled, norms, out=np.zeros_like(pooled), where=norms > 0)
    k = min(params.mix_clusters, max(2, pooled.shape[0] // 25))
    labels = kmeans_labels(pooled, k, params.seed)
    naming = spaces.get("input") or next(iter(spaces.values()))
    names = cluster_terms(naming.counts, labels, naming.vocabulary)
    nb = len(rows_b)
    keys = [f"k{int(x)}" for x in labels]
    pending = _mix("cluster_mix", keys[:nb], keys[nb:], params, "cluster",
                   {f"k{c}": name for c, name in names.items()}, params.min_samples_text)
    pending.reason = f"KMeans (k={k}) on the pooled sample: no clustering run labels these calls"
    return pending


# -- the whole comparison -----------------------------------------------------------------------------------------

def compute_drift(baseline: DriftWindow, current: DriftWindow, params: DriftParams = DriftParams(), *,
                  skip: Collection[str] = (), cluster_names: Mapping[str, str] | None = None) -> DriftReport:
    """Compare ``current`` with ``baseline`` (see the module docstring). ``skip``: signal names left out (the
    job skips ``model_mix`` when the two windows are filtered to different models, for example);
    ``cluster_names``: labels of the clustering run's cluster ids, for the report."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=params.threads):
        return _compute(baseline, current, params, frozenset(skip), cluster_names)


def _compute(baseline: DriftWindow, current: DriftWindow, params: DriftParams, skip: frozenset[str],
             cluster_names: Mapping[str, str] | None) -> DriftReport:
    def want(name: str) -> bool:
        base_name = name.split("[", 1)[0]
        if name in skip or base_name in skip:
            return False
        if params.signals is None:
            return True
        return base_name in params.signals or name in params.signals or (
            base_name.startswith("score:") and "scores" in params.signals)

    pending: list[_Pending] = []
    text_wanted = {n for n in ("input_embedding", "output_embedding", "cluster_mix") if want(n)}
    if text_wanted:
        pending.extend(_text_signals(baseline, current, params, text_wanted, cluster_names))
    for dim in ("model", "tenant"):
        name = f"{dim}_mix"
        values_b, values_c = getattr(baseline, dim), getattr(current, dim)
        if want(name) and len(set(values_b) | set(values_c)) > 1:
            pending.append(_mix(name, values_b, values_c, params, dim))
    pair = (baseline, current)
    for field_name, name in NUMERIC_FIELDS.items():
        if want(name):
            pending.append(_numeric(name, "numeric", getattr(baseline, field_name), getattr(current, field_name),
                                    params, pair))
    for field_name, name in RATE_FIELDS.items():
        if want(name):
            pending.append(_rate(name, getattr(baseline, field_name), getattr(current, field_name), params, pair))
    names = sorted(set(baseline.scores) | set(current.scores),
                   key=lambda s: (-(len(baseline.scores.get(s, ())) + len(current.scores.get(s, ()))), s))
    for score in names[: params.max_score_names]:
        name = f"score:{score}"
        if want(name):
            empty = np.zeros(0)
            pending.append(_numeric(name, "score", baseline.scores.get(score, empty),
                                    current.scores.get(score, empty), params, None))
    pending.extend(_segments(baseline, current, params, want))

    q_values = st.benjamini_hochberg([p.p_value for p in pending])
    results = []
    for p, q in zip(pending, q_values):
        if p.p_value is None:
            verdict = INSUFFICIENT_DATA
        elif q is not None and q <= params.alpha and abs(p.effect_size or 0.0) >= p.threshold:
            verdict = DRIFT
        else:
            verdict = NO_DRIFT
        results.append(SignalResult(
            name=p.name, kind=p.kind, test=p.test if p.p_value is not None else "none", verdict=verdict,
            statistic=p.statistic, p_value=p.p_value, q_value=q, effect_size=p.effect_size,
            effect_measure=p.effect_measure, threshold=p.threshold, n_baseline=p.n_baseline,
            n_current=p.n_current, baseline_value=p.baseline_value, current_value=p.current_value, change=p.change,
            direction=p.direction, reason=p.reason, top=tuple(p.top)))
    if any(r.verdict == DRIFT for r in results):
        overall = DRIFT
    elif all(r.verdict == INSUFFICIENT_DATA for r in results):
        overall = INSUFFICIENT_DATA
    else:
        overall = NO_DRIFT
    return DriftReport(verdict=overall, signals=tuple(results), n_baseline=len(baseline), n_current=len(current),
                       params=params)


def _segments(baseline: DriftWindow, current: DriftWindow, params: DriftParams, want: Any) -> list[_Pending]:
    """The segment signals: within each of the biggest ``max_segments`` values of each ``segment_by``
    dimension (by calls in both windows) that has enough calls in both."""
    out: list[_Pending] = []
    for dim in params.segment_by:
        values_b, values_c = getattr(baseline, dim), getattr(current, dim)
        sizes: dict[str, int] = {}
        for v in (*values_b, *values_c):
            if v:
                sizes[v] = sizes.get(v, 0) + 1
        if len(sizes) < 2:
            continue  # one segment is the whole window
        ranked = sorted(sizes, key=lambda v: (-sizes[v], v))[: params.max_segments]
        arr_b, arr_c = np.array(values_b, dtype=object), np.array(values_c, dtype=object)
        for value in ranked:
            mask_b, mask_c = arr_b == value, arr_c == value
            if mask_b.sum() < params.min_samples or mask_c.sum() < params.min_samples:
                continue  # a small tenant is not reported as "insufficient" in every run
            for signal in params.segment_signals:
                name = f"{signal}[{dim}={value}]"
                if not want(name):
                    continue
                sub_b, sub_c = baseline.select(mask_b), current.select(mask_c)
                field_name = _field_of(signal)
                if signal in RATE_FIELDS.values():
                    pending = _rate(name, getattr(sub_b, field_name), getattr(sub_c, field_name), params, None)
                else:
                    pending = _numeric(name, "numeric", getattr(sub_b, field_name), getattr(sub_c, field_name),
                                       params, None)
                out.append(pending)
    return out


def _field_of(signal: str) -> str:
    for mapping in (NUMERIC_FIELDS, RATE_FIELDS):
        for field_name, name in mapping.items():
            if name == signal:
                return field_name
    raise KeyError(signal)
