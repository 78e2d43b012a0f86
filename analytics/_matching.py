"""Cluster identity across runs: match a run's clusters to the previous run's by their term profiles (pure).

A profile is a cluster's class-based TF-IDF weights over its top terms. Profiles live in the space of words,
which every run shares whatever its fitted embedding, so clusters of runs with different vocabularies or
embedders still compare. The assignment maximises total cosine similarity (Hungarian method); a pair below
``min_similarity`` is no match, and the new cluster gets a new id.
"""

from __future__ import annotations

import hashlib
import math
from typing import Mapping, Sequence

import numpy as np


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na > 0 and nb > 0 else 0.0


def new_cluster_id(salt: str, index: int) -> str:
    """A fresh id (12 lowercase hex), deterministic given the run's salt and the cluster's index."""
    return hashlib.sha256(f"{salt}:{index}".encode()).hexdigest()[:12]


def match(new: Sequence[Mapping[str, float]], previous: Sequence[tuple[str, Mapping[str, float]]],
          min_similarity: float) -> list[tuple[str | None, float]]:
    """For each new profile, the previous cluster id it continues (or None) and the similarity."""
    out: list[tuple[str | None, float]] = [(None, 0.0)] * len(new)
    if not new or not previous:
        return out
    from scipy.optimize import linear_sum_assignment

    sim = np.array([[cosine(a, b) for _, b in previous] for a in new], dtype=np.float64)
    rows, cols = linear_sum_assignment(-sim)
    for r, c in zip(rows, cols):
        if sim[r, c] >= min_similarity:
            out[r] = (previous[c][0], float(sim[r, c]))
    return out
