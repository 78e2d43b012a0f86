"""A run's fitted model, saved so new spans can be assigned between runs (pure serialisation).

Arrays go into one ``.npz`` (``allow_pickle=False``: loading a model never runs code), base64-encoded so it fits
a ClickHouse ``String`` column through any client. The embedder's own arrays are prefixed ``embedder.``.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FittedModel:
    embedder: str
    embedder_arrays: dict[str, np.ndarray]
    vocabulary: tuple[str, ...]
    term_settings: dict[str, Any]
    cluster_ids: tuple[str, ...]          # aligned with centroids
    centroids: np.ndarray                 # (k, d), unit rows
    anchors: np.ndarray                   # (k, 2)
    projection: np.ndarray                # (d, 2)
    scales: np.ndarray                    # (k,) cloud scale per cluster
    outlier_min_similarity: float
    outlier_id: str
    max_text_chars: int
    meta: dict[str, Any] = field(default_factory=dict)

    def to_text(self) -> str:
        header = {
            "embedder": self.embedder, "term_settings": self.term_settings, "cluster_ids": list(self.cluster_ids),
            "outlier_min_similarity": self.outlier_min_similarity,
            "outlier_id": self.outlier_id, "max_text_chars": self.max_text_chars, "meta": self.meta,
        }
        arrays = {f"embedder.{k}": v for k, v in self.embedder_arrays.items()}
        vocab = np.array(self.vocabulary, dtype=str) if self.vocabulary else np.zeros(0, dtype="<U1")
        buffer = io.BytesIO()
        np.savez_compressed(buffer, header=np.array(json.dumps(header)), vocabulary=vocab,
                            centroids=self.centroids.astype(np.float32), anchors=self.anchors.astype(np.float64),
                            projection=self.projection.astype(np.float32), scales=self.scales.astype(np.float64),
                            **arrays)
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> "FittedModel":
        try:
            with np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False) as npz:
                header = json.loads(str(npz["header"]))
                embedder_arrays = {k.split(".", 1)[1]: npz[k] for k in npz.files if k.startswith("embedder.")}
                return cls(
                    embedder=header["embedder"], embedder_arrays=embedder_arrays,
                    vocabulary=tuple(str(t) for t in npz["vocabulary"]), term_settings=header["term_settings"],
                    cluster_ids=tuple(header["cluster_ids"]), centroids=npz["centroids"], anchors=npz["anchors"],
                    projection=npz["projection"], scales=npz["scales"],
                    outlier_min_similarity=float(header["outlier_min_similarity"]),
                    outlier_id=header["outlier_id"], max_text_chars=int(header["max_text_chars"]),
                    meta=header.get("meta", {}),
                )
        except (ValueError, KeyError, OSError) as exc:
            raise ValueError(f"unreadable saved cluster model: {exc}") from exc
