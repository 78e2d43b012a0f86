"""Text features for drift (pure): both windows embedded in one space, the terms that moved, pooled clusters.

One TF-IDF + truncated-SVD space (``TfidfSvdEmbedder``, the clustering default) is fitted on the pooled
texts of both windows, so a topic that exists only in the current window has axes of its own. Terms follow the
clustering tokenizer (letters only: ids, amounts and numbers never become terms), with a looser ``max_df``
than clustering: a phrase in every current answer and no baseline answer is the drift, not a stop word.
Texts are cut and redacted (``FEATURE_REDACTION_KINDS``) before they are tokenized; examples shown to people
are fully redacted previews.

Deterministic given ``seed``. Empty input gives empty output, never an exception.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["TextSpace", "cluster_terms", "embed_pair", "kmeans_labels", "term_shift"]


@dataclass(frozen=True, eq=False)
class TextSpace:
    """Rows: baseline texts first, then current texts (the non-empty ones that were passed in)."""

    baseline: np.ndarray            # (n_b, d) unit rows
    current: np.ndarray             # (n_c, d)
    counts: "sparse.csr_matrix"     # (n_b + n_c, vocabulary) term counts
    vocabulary: tuple[str, ...]


def feature_text(text: str, max_chars: int) -> str:
    return _feature_text(text[:max_chars])


@functools.lru_cache(maxsize=16384)
def _feature_text(text: str) -> str:
    """Cached: production prompts are templated, so the same texts come back run after run."""
    from tracehouse.redaction import redact

    from .interactions import FEATURE_REDACTION_KINDS

    return redact(text, FEATURE_REDACTION_KINDS)


def embed_pair(baseline: Sequence[str], current: Sequence[str], *, n_components: int = 64, seed: int = 0,
               max_chars: int = 1000) -> TextSpace:
    """Embed both windows' texts in one TF-IDF + SVD space fitted on all of them."""
    from ._terms import TermSettings, fit_counts
    from .embedding import TfidfSvdEmbedder

    texts = [feature_text(t, max_chars) for t in (*baseline, *current)]
    nb = len(baseline)
    settings = TermSettings(ngram_max=1, min_df=2, max_df=0.95, max_features=20000)
    counts, vocabulary = fit_counts(texts, settings)
    if not texts or counts.shape[1] == 0:
        d = 1
        zeros = np.zeros((len(texts), d), dtype=np.float32)
        return TextSpace(zeros[:nb], zeros[nb:], counts, tuple(vocabulary))
    embedder = TfidfSvdEmbedder(n_components=n_components, seed=seed, fit_sample=len(texts))
    emb = np.nan_to_num(np.asarray(embedder.fit_transform(texts, counts), dtype=np.float64))
    return TextSpace(emb[:nb], emb[nb:], counts, tuple(vocabulary))


def term_shift(counts: "sparse.csr_matrix", n_baseline: int, vocabulary: Sequence[str], top: int
               ) -> list[tuple[str, float, float, float]]:
    """Terms whose document share moved most, as (term, baseline share, current share, z), ranked by the
    two-proportion z of the shares: the ``top`` that grew most, then up to ``top // 2`` that shrank most."""
    n_total = counts.shape[0]
    n_current = n_total - n_baseline
    if n_baseline <= 0 or n_current <= 0 or counts.shape[1] == 0 or top <= 0:
        return []
    present = counts.copy()
    present.data = np.ones_like(present.data)
    df_b = np.asarray(present[:n_baseline].sum(axis=0)).ravel()
    df_c = np.asarray(present[n_baseline:].sum(axis=0)).ravel()
    pb, pc = df_b / n_baseline, df_c / n_current
    pooled = (df_b + df_c) / n_total
    se = np.sqrt(np.maximum(pooled * (1 - pooled), 1e-12) * (1 / n_baseline + 1 / n_current))
    z = (pc - pb) / se
    grew = [i for i in np.argsort(-z, kind="stable")[:top] if z[i] > 0]
    shrank = [i for i in np.argsort(z, kind="stable")[: max(0, top // 2)] if z[i] < 0]
    return [(vocabulary[i], float(pb[i]), float(pc[i]), float(z[i])) for i in [*grew, *shrank]]


def kmeans_labels(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """KMeans labels of the rows (k capped by the number of distinct rows); all zeros for fewer than 2 rows."""
    from sklearn.cluster import KMeans

    n = x.shape[0]
    if n < 2 or k < 2:
        return np.zeros(n, dtype=np.int64)
    distinct = np.unique(np.round(x, 6), axis=0).shape[0]
    k = min(k, distinct)
    if k < 2:
        return np.zeros(n, dtype=np.int64)
    model = KMeans(n_clusters=k, n_init=3, random_state=seed, max_iter=100)
    return model.fit_predict(x).astype(np.int64)


def cluster_terms(counts: "sparse.csr_matrix", labels: np.ndarray, vocabulary: Sequence[str], n_terms: int = 3
                  ) -> dict[int, str]:
    """A short name per cluster label: its terms most over-represented against all rows (by document share)."""
    out: dict[int, str] = {}
    if counts.shape[0] == 0 or counts.shape[1] == 0:
        return {int(c): f"cluster {int(c)}" for c in np.unique(labels)}
    present = counts.copy()
    present.data = np.ones_like(present.data)
    overall = np.asarray(present.mean(axis=0)).ravel()
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        share = np.asarray(present[rows].mean(axis=0)).ravel()
        lift = share - overall
        best = [i for i in np.argsort(-lift, kind="stable")[:n_terms] if share[i] > 0]
        out[int(c)] = " / ".join(vocabulary[i] for i in best) or f"cluster {int(c)}"
    return out
