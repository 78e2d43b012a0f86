"""Two-sample statistics for drift (pure numpy/scipy; deterministic given a seed; never NaN or infinite).

Every test takes the baseline sample first and the current sample second, so a positive effect means "the
current window is higher / larger". Inputs may hold NaN or infinities: numeric tests drop them first, and a
sample that is empty after that gives ``None`` (the caller reports ``insufficient_data``). Results are frozen
dataclasses with plain floats.

==========================  ======================================  =======================================
test                        statistic                               effect size
==========================  ======================================  =======================================
``ks``                      Kolmogorov-Smirnov D (exact for small    Cliff's delta, P(cur > base) -
                            samples, asymptotic for large)           P(cur < base), in [-1, 1]
``two_proportion``          pooled z (Fisher's exact p-value when    Cohen's h, 2 asin sqrt(p_cur) -
                            an expected cell count is below 5)       2 asin sqrt(p_base)
``chi2_psi``                chi-square of the 2 x k table (sparse    population stability index (PSI)
                            categories merged into one)
``energy``                  energy distance (V-statistic), with a    energy coefficient E / (2 E|X - Y|)
                            permutation p-value                      in [0, 1] (0 iff same distribution)
``classifier_auc``          (effect size only) out-of-fold AUC of a  2 AUC - 1: Cliff's delta of the
                            logistic regression telling the          classifier scores, about the share of
                            windows apart                            current traffic unlike the baseline
==========================  ======================================  =======================================

``classifier_auc`` gives no p-value on purpose: combining the folds' Mann-Whitney tests is anti-conservative
(each fold's model learned from the other folds' labels, so the folds' statistics are positively correlated;
measured: 10% of p-values below 0.01 on no-drift controls), and a valid one would need the whole
cross-validation repeated per permutation. The energy test supplies the p-value; the classifier the effect.

Permutation p-values are ``(1 + #{permuted >= observed}) / (1 + P)``. When the observed statistic is above every
permutation, that floor (1 / (1 + P)) would stop a strong shift from surviving a multiple-testing correction,
so the tail is then read from a gamma distribution moment-matched to the permutation distribution (the usual
approximation for energy / MMD statistics), never above the floor.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["ClassifierResult", "EnergyResult", "KsResult", "MixResult", "ProportionResult", "benjamini_hochberg", "cliffs_delta",
           "classifier_auc", "cohens_h", "energy_test", "finite", "ks_test", "mix_test", "proportion_test", "psi",
           "relative_change"]

_EXPECTED_MIN = 5.0  # chi-square and z approximations need expected counts of at least 5 per cell


def finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite values as float64 (NaN and infinities dropped)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def _clean(value: float, default: float = 0.0) -> float:
    value = float(value)
    return value if math.isfinite(value) else default


def _p(value: float) -> float:
    value = float(value)
    return min(1.0, max(0.0, value)) if math.isfinite(value) else 1.0


# -- multiple testing ------------------------------------------------------------------------------------------

def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order. ``None`` entries (signals not
    tested) stay ``None`` and do not count in the family."""
    idx = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    m = len(idx)
    if m == 0:
        return out
    p = np.array([_p(p_values[i]) for i in idx])  # type: ignore[arg-type]
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(adjusted, 1.0)
    for i, value in zip(idx, q):
        out[i] = float(value)
    return out


# -- numeric samples -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KsResult:
    statistic: float       # KS D in [0, 1]
    p_value: float
    cliffs_delta: float    # P(cur > base) - P(cur < base)
    median_baseline: float
    median_current: float
    relative_median_change: float | None  # None when the baseline median is 0 and the current one is not
    n_baseline: int
    n_current: int


def cliffs_delta(baseline: np.ndarray, current: np.ndarray) -> float:
    """P(current > baseline) - P(current < baseline) over all pairs, in O(n log n). 0.0 for an empty sample."""
    base = np.sort(finite(baseline))
    cur = finite(current)
    if base.size == 0 or cur.size == 0:
        return 0.0
    below = np.searchsorted(base, cur, side="left").astype(np.float64)   # baseline values < each current value
    above = base.size - np.searchsorted(base, cur, side="right")         # baseline values > each current value
    return _clean((below.sum() - above.sum()) / (base.size * cur.size))


def relative_change(baseline: float, current: float) -> float | None:
    """(current - baseline) / |baseline|; 0.0 when both are 0, None when only the baseline is 0."""
    if baseline == 0.0:
        return 0.0 if current == 0.0 else None
    return _clean((current - baseline) / abs(baseline))


def ks_test(baseline: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray) -> KsResult | None:
    """Two-sample Kolmogorov-Smirnov with Cliff's delta; None when a sample has no finite value."""
    from scipy import stats

    base, cur = finite(baseline), finite(current)
    if base.size == 0 or cur.size == 0:
        return None
    if np.array_equal(np.unique(base), np.unique(cur)) and np.unique(base).size == 1:
        d, p = 0.0, 1.0  # both constant and equal: scipy would warn; nothing moved
    else:
        with warnings.catch_warnings():  # "exact calculation unsuccessful, switching to asymp" is expected
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ks_2samp(base, cur, alternative="two-sided", method="auto")
        d, p = float(result.statistic), float(result.pvalue)
    mb, mc = float(np.median(base)), float(np.median(cur))
    return KsResult(statistic=_clean(d), p_value=_p(p), cliffs_delta=cliffs_delta(base, cur), median_baseline=mb,
                    median_current=mc, relative_median_change=relative_change(mb, mc), n_baseline=int(base.size),
                    n_current=int(cur.size))


# -- proportions -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProportionResult:
    statistic: float       # z (current - baseline)
    p_value: float
    cohens_h: float
    rate_baseline: float
    rate_current: float
    difference: float      # rate_current - rate_baseline
    ratio: float | None    # rate_current / rate_baseline; None when the baseline rate is 0
    exact: bool            # Fisher's exact test gave the p-value
    x_baseline: int
    n_baseline: int
    x_current: int
    n_current: int


def cohens_h(p_baseline: float, p_current: float) -> float:
    return _clean(2.0 * math.asin(math.sqrt(min(1.0, max(0.0, p_current))))
                  - 2.0 * math.asin(math.sqrt(min(1.0, max(0.0, p_baseline)))))


def proportion_test(x_baseline: int, n_baseline: int, x_current: int, n_current: int) -> ProportionResult | None:
    """Two-proportion z-test (pooled), switching to Fisher's exact test when an expected cell count is below 5.
    None when a window has no trials. Both rates 0 (or both 1) give z = 0, p = 1."""
    from scipy import stats

    xb, nb, xc, nc = int(x_baseline), int(n_baseline), int(x_current), int(n_current)
    if nb <= 0 or nc <= 0:
        return None
    if not (0 <= xb <= nb and 0 <= xc <= nc):
        raise ValueError(f"successes must be within 0..n, got {xb}/{nb} and {xc}/{nc}")
    pb, pc = xb / nb, xc / nc
    pooled = (xb + xc) / (nb + nc)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / nb + 1.0 / nc))
    z = (pc - pb) / se if se > 0 else 0.0
    expected = min(pooled * nb, (1 - pooled) * nb, pooled * nc, (1 - pooled) * nc)
    exact = se > 0 and expected < _EXPECTED_MIN
    if se == 0:
        p = 1.0
    elif exact:
        p = float(stats.fisher_exact([[xb, nb - xb], [xc, nc - xc]]).pvalue)
    else:
        p = float(2.0 * stats.norm.sf(abs(z)))
    return ProportionResult(statistic=_clean(z), p_value=_p(p), cohens_h=cohens_h(pb, pc), rate_baseline=pb,
                            rate_current=pc, difference=pc - pb, ratio=None if pb == 0 else _clean(pc / pb),
                            exact=exact, x_baseline=xb, n_baseline=nb, x_current=xc, n_current=nc)


# -- categorical mix -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MixResult:
    statistic: float                 # chi-square
    p_value: float
    dof: int
    psi: float
    categories: tuple[str, ...]      # every category seen, largest growth in share first
    share_baseline: tuple[float, ...]
    share_current: tuple[float, ...]
    n_baseline: int
    n_current: int


def psi(baseline_counts: np.ndarray, current_counts: np.ndarray, pseudo: float = 0.5) -> float:
    """Population stability index, sum (q - p) ln(q / p), with ``pseudo`` counts added to every category (so a
    category empty in one window gives a large but finite term). 0.0 for empty input."""
    b = np.asarray(baseline_counts, dtype=np.float64)
    c = np.asarray(current_counts, dtype=np.float64)
    if b.size == 0 or b.sum() <= 0 or c.sum() <= 0:
        return 0.0
    p = (b + pseudo) / (b.sum() + pseudo * b.size)
    q = (c + pseudo) / (c.sum() + pseudo * c.size)
    return _clean(float(np.sum((q - p) * np.log(q / p))))


def mix_test(baseline: Sequence[str], current: Sequence[str]) -> MixResult | None:
    """Chi-square test of homogeneity of two categorical samples plus PSI. Categories whose expected count is
    below 5 in either window are merged into one before the chi-square (PSI uses every category). None when a
    sample is empty."""
    from scipy import stats

    base = [str(v) for v in baseline]
    cur = [str(v) for v in current]
    if not base or not cur:
        return None
    categories = sorted(set(base) | set(cur))
    index = {c: i for i, c in enumerate(categories)}
    b = np.bincount([index[v] for v in base], minlength=len(categories)).astype(np.float64)
    c = np.bincount([index[v] for v in cur], minlength=len(categories)).astype(np.float64)
    nb, nc = b.sum(), c.sum()
    total = b + c
    expected_b, expected_c = total * nb / (nb + nc), total * nc / (nb + nc)
    sparse = (expected_b < _EXPECTED_MIN) | (expected_c < _EXPECTED_MIN)
    tb = np.append(b[~sparse], b[sparse].sum())
    tc = np.append(c[~sparse], c[sparse].sum())
    keep = (tb + tc) > 0
    tb, tc = tb[keep], tc[keep]
    if tb.size < 2:
        chi2, p, dof = 0.0, 1.0, 0
    else:
        chi2, p, dof, _ = stats.chi2_contingency(np.vstack([tb, tc]), correction=False)
    share_b, share_c = b / nb, c / nc
    order = np.argsort(-(share_c - share_b), kind="stable")
    return MixResult(statistic=_clean(chi2), p_value=_p(p), dof=int(dof), psi=psi(b, c),
                     categories=tuple(categories[i] for i in order),
                     share_baseline=tuple(float(share_b[i]) for i in order),
                     share_current=tuple(float(share_c[i]) for i in order), n_baseline=int(nb), n_current=int(nc))


# -- multivariate (embeddings) ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnergyResult:
    statistic: float         # energy distance 2A - B - C (V-statistic)
    p_value: float
    coefficient: float       # E / (2A) in [0, 1]: the effect size
    permutations: int
    exceeded: int            # permuted statistics >= the observed one
    n_baseline: int
    n_current: int
    novelty: np.ndarray      # per current row: distance to its nearest baseline row (for examples)


def _distances(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return np.sqrt(d2)


def _energy_from_sums(zdz: np.ndarray, zs: np.ndarray, total: float, n1: int, n2: int) -> tuple[np.ndarray, np.ndarray]:
    """Energy distance and mean cross distance A from zDz (within group 1), z.s and 1.D.1."""
    within1 = zdz
    cross = zs - zdz
    within2 = total - 2.0 * zs + zdz
    a = cross / (n1 * n2)
    e = 2.0 * a - within1 / (n1 * n1) - within2 / (n2 * n2)
    return e, a


def energy_test(baseline: np.ndarray, current: np.ndarray, permutations: int = 199, seed: int = 0) -> EnergyResult | None:
    """Energy-distance two-sample test of row vectors (Euclidean distance) with a permutation p-value (see the
    module docstring). None when a sample has no rows. Memory: (n_baseline + n_current)^2 floats, so callers
    subsample (``DriftParams.max_embed``)."""
    x = np.nan_to_num(np.asarray(baseline, dtype=np.float64))
    y = np.nan_to_num(np.asarray(current, dtype=np.float64))
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] == 0 or y.shape[0] == 0:
        return None
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"baseline rows have {x.shape[1]} dimensions, current rows {y.shape[1]}")
    n1, n2 = x.shape[0], y.shape[0]
    pooled = np.vstack([x, y])
    d = _distances(pooled)
    row_sums = d.sum(axis=1)
    total = float(row_sums.sum())
    z0 = np.zeros(n1 + n2)
    z0[:n1] = 1.0
    observed_e, observed_a = _energy_from_sums(np.array([z0 @ d @ z0]), np.array([z0 @ row_sums]), total, n1, n2)
    observed = float(observed_e[0])
    novelty = d[n1:, :n1].min(axis=1)
    if observed <= 0 or total <= 0:
        return EnergyResult(0.0, 1.0, 0.0, 0, 0, n1, n2, novelty)
    coefficient = _clean(observed / (2.0 * float(observed_a[0]))) if observed_a[0] > 0 else 0.0
    permutations = max(0, int(permutations))
    if permutations == 0:
        return EnergyResult(observed, 1.0, coefficient, 0, 0, n1, n2, novelty)
    rng = np.random.default_rng(seed)
    labels = np.zeros((n1 + n2, permutations))
    for j in range(permutations):
        labels[rng.permutation(n1 + n2)[:n1], j] = 1.0
    dz = d @ labels
    null, _ = _energy_from_sums(np.einsum("ij,ij->j", labels, dz), labels.T @ row_sums, total, n1, n2)
    exceeded = int(np.sum(null >= observed - 1e-12 * abs(observed)))
    p = (1 + exceeded) / (1 + permutations)
    if exceeded == 0:
        p = min(p, _gamma_tail(null, observed))
    return EnergyResult(observed, _p(p), min(1.0, max(0.0, coefficient)), permutations, exceeded, n1, n2, novelty)


def _gamma_tail(null: np.ndarray, observed: float) -> float:
    """P(X >= observed) for a gamma distribution with the permutation distribution's mean and variance."""
    from scipy import stats

    mean, var = float(np.mean(null)), float(np.var(null, ddof=1)) if null.size > 1 else 0.0
    if mean <= 0 or var <= 0:
        return 1.0
    shape, scale = mean * mean / var, var / mean
    return _p(float(stats.gamma.sf(observed, shape, scale=scale)))


@dataclass(frozen=True)
class ClassifierResult:
    auc: float               # out-of-fold AUC of "current" against "baseline" (mean over folds)
    delta: float             # 2 AUC - 1: the effect size
    folds: int
    n_baseline: int
    n_current: int
    scores: np.ndarray       # out-of-fold P(current) of every current row (for examples)


def classifier_auc(baseline: np.ndarray, current: np.ndarray, folds: int = 5, seed: int = 0,
                   regularization: float = 1.0) -> ClassifierResult | None:
    """How well a logistic regression tells the windows' rows apart, out of fold (an effect size, no p-value:
    see the module docstring). None when a sample has fewer than 2 rows."""
    from scipy import stats
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    x = np.nan_to_num(np.asarray(baseline, dtype=np.float64))
    y = np.nan_to_num(np.asarray(current, dtype=np.float64))
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] < 2 or y.shape[0] < 2:
        return None
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"baseline rows have {x.shape[1]} dimensions, current rows {y.shape[1]}")
    n1, n2 = x.shape[0], y.shape[0]
    data = np.vstack([x, y])
    labels = np.r_[np.zeros(n1, dtype=int), np.ones(n2, dtype=int)]
    k = max(2, min(int(folds), n1, n2))
    oof = np.full(n1 + n2, 0.5)
    aucs = []
    for train, test in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(data, labels):
        if np.ptp(data[train], axis=0).max(initial=0.0) == 0.0:
            scores = np.full(test.size, 0.5)  # identical rows: nothing to learn
        else:
            model = LogisticRegression(C=regularization, max_iter=300)
            model.fit(data[train], labels[train])
            scores = model.predict_proba(data[test])[:, 1]
        oof[test] = scores
        y_test = labels[test]
        m1, m2 = int((y_test == 0).sum()), int((y_test == 1).sum())
        u = float(stats.rankdata(scores)[y_test == 1].sum()) - m2 * (m2 + 1) / 2.0
        aucs.append(u / (m1 * m2))
    auc = _clean(float(np.mean(aucs)), 0.5)
    return ClassifierResult(auc=auc, delta=_clean(2 * auc - 1), folds=k, n_baseline=n1, n_current=n2,
                            scores=oof[n1:])
