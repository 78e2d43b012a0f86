"""Term counts of a run's texts (the vocabulary that names clusters and feeds TF-IDF), and class-based TF-IDF.

Tokens are words of two or more letters (no digit, no underscore), not followed by a digit (the prefix of an
id such as ``ORD-123456``): ids, amounts, card and phone numbers never become terms, so numbers cannot name a cluster or enter the saved vocabulary. English and chat stop words are
dropped, and so are terms in more than ``max_df`` of the texts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b(?![-/#]?\d)"  # "ORD-123456", "INV-2026-..." give no "ord", "inv"
CHAT_STOP_WORDS = frozenset({
    "hi", "hello", "hey", "thanks", "thank", "thx", "please", "pls", "ok", "okay", "sure", "yes", "just", "like",
    "need", "want", "know", "let", "hope", "regards", "dear", "got", "does", "did", "doing", "really", "ll", "ve",
    "don", "didn", "doesn", "isn", "won", "re", "here", "s", "t", "d", "m",
})


@functools.lru_cache(maxsize=1)
def stop_words() -> tuple[str, ...]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return tuple(sorted(ENGLISH_STOP_WORDS | CHAT_STOP_WORDS))


@dataclass(frozen=True)
class TermSettings:
    ngram_max: int = 1
    min_df: int = 2
    max_df: float = 0.5
    max_features: int = 30000


def _vectorizer(settings: TermSettings, vocabulary: Sequence[str] | None = None) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        token_pattern=TOKEN_PATTERN, lowercase=True, stop_words=list(stop_words()),
        ngram_range=(1, settings.ngram_max), dtype=np.float32,
        min_df=1 if vocabulary is not None else settings.min_df,
        max_df=1.0 if vocabulary is not None else settings.max_df,
        max_features=None if vocabulary is not None else settings.max_features,
        vocabulary=None if vocabulary is None else list(vocabulary),
    )


def fit_counts(texts: Sequence[str], settings: TermSettings) -> tuple["sparse.csr_matrix", tuple[str, ...]]:
    """(count matrix, vocabulary). Falls back to every term when min_df/max_df leave none (tiny samples)."""
    from scipy import sparse

    if not texts:
        return sparse.csr_matrix((0, 0), dtype=np.float32), ()
    for attempt in (settings, TermSettings(settings.ngram_max, 1, 1.0, settings.max_features)):
        try:
            vectorizer = _vectorizer(attempt)
            counts = vectorizer.fit_transform(texts)
        except ValueError:  # "empty vocabulary" or "max_df corresponds to < documents than min_df"
            continue
        return sparse.csr_matrix(counts, dtype=np.float32), tuple(vectorizer.get_feature_names_out())
    return sparse.csr_matrix((len(texts), 0), dtype=np.float32), ()


def transform_counts(texts: Sequence[str], vocabulary: Sequence[str], settings: TermSettings) -> "sparse.csr_matrix":
    from scipy import sparse

    if not vocabulary:
        return sparse.csr_matrix((len(texts), 0), dtype=np.float32)
    return sparse.csr_matrix(_vectorizer(settings, vocabulary).transform(texts), dtype=np.float32)


def class_tfidf(counts: "sparse.csr_matrix", labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, vocabulary) class-based TF-IDF: term frequency within the class times
    log(1 + average words per class / the term's frequency over all classes)."""
    from scipy import sparse

    vocabulary = counts.shape[1]
    if n_classes == 0 or vocabulary == 0:
        return np.zeros((n_classes, vocabulary))
    valid = (labels >= 0) & (labels < n_classes)
    rows = np.flatnonzero(valid)
    indicator = sparse.csr_matrix((np.ones(rows.size, dtype=np.float32), (labels[valid], rows)),
                                  shape=(n_classes, counts.shape[0]))
    per_class = np.asarray((indicator @ counts).todense(), dtype=np.float64)
    words = per_class.sum(axis=1, keepdims=True)
    tf = np.divide(per_class, words, out=np.zeros_like(per_class), where=words > 0)
    term_total = per_class.sum(axis=0)
    average = float(words.mean()) if words.size else 0.0
    idf = np.log1p(np.divide(average, term_total, out=np.zeros_like(term_total), where=term_total > 0))
    return tf * idf


def top_terms(weights: np.ndarray, vocabulary: Sequence[str], n: int) -> list[tuple[str, float]]:
    """The n highest-weighted terms with positive weight, skipping a unigram already inside a chosen bigram."""
    if weights.size == 0 or n <= 0:
        return []
    order = np.argsort(-weights, kind="stable")
    chosen: list[tuple[str, float]] = []
    for i in order:
        w = float(weights[i])
        if w <= 0 or len(chosen) >= n:
            break
        term = vocabulary[i]
        words = set(term.split())
        if any(words <= set(c.split()) or set(c.split()) <= words for c, _ in chosen):
            continue
        chosen.append((term, w))
    return chosen
