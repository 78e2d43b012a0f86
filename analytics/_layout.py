"""The 2-D map (pure): cluster anchors from their centroid distances, members in a cloud around their anchor.

A member's position is ``anchor[c] + scale[c] * (embedding - centroid[c]) @ projection``, its distance from the
anchor clipped to ``1.5 x`` the cloud's radius. Anchors come from classical MDS of the centroid distances (similar
clusters end up near each other), their distance from the centre compressed (square root) so far clusters do
not leave the rest in a corner, then are pushed apart until neighbours are at least one unit apart, so clouds
(radius 0.25-0.55, growing with the square root of the cluster's size) do not overlap: a plain 2-D PCA of the
embedding piles most clusters into the middle. The projection is the top two principal axes of the
within-cluster residuals. The layout is linear given its saved arrays, so new spans are placed the same way.
"""

from __future__ import annotations

import numpy as np

_RADIUS = 0.4                  # cloud radius (90th percentile of member distances) of a median-sized cluster
_RADIUS_RANGE = (0.25, 0.55)
_MAX_RADIUS_FACTOR = 1.5       # members farther out (outliers) are pulled in to this multiple of the radius
_SPREAD_ROUNDS = 200


def _fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Eigenvectors have no sign: make each column's largest-magnitude entry positive (determinism)."""
    if vectors.size == 0:
        return vectors
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return vectors * signs


def _spread(pos: np.ndarray) -> np.ndarray:
    """Push anchors apart until every pair is at least 1 apart (deterministic, keeps the overall shape)."""
    k = pos.shape[0]
    pos = pos.copy()
    fallback = np.stack([np.cos(np.arange(k)), np.sin(np.arange(k))], axis=1)  # direction for coincident anchors
    for _ in range(_SPREAD_ROUNDS):
        diff = pos[:, None, :] - pos[None, :, :]
        dist = np.sqrt(np.sum(diff * diff, axis=2)) + np.eye(k) * 1e9
        close = dist < 1.0
        if not close.any():
            break
        unit = np.where(dist[..., None] > 1e-9, diff / np.maximum(dist, 1e-9)[..., None],
                        (fallback[:, None, :] - fallback[None, :, :]))
        push = np.where(close, (1.0 - np.minimum(dist, 1.0)) / 2.0, 0.0)[..., None] * unit
        pos += push.sum(axis=1) * 0.5
    return pos - pos.mean(axis=0)


def anchors(centroids: np.ndarray) -> np.ndarray:
    """(k, 2) anchor positions (see the module docstring)."""
    k = centroids.shape[0]
    if k <= 1:
        return np.zeros((k, 2))
    diff = centroids[:, None, :] - centroids[None, :, :]
    d2 = np.sum(diff * diff, axis=2)
    j = np.eye(k) - 1.0 / k
    b = -0.5 * j @ d2 @ j
    values, vectors = np.linalg.eigh(b)
    order = np.argsort(values)[::-1][:2]
    pos = _fix_signs(vectors[:, order]) * np.sqrt(np.clip(values[order], 0.0, None))
    if pos.shape[1] < 2:
        pos = np.hstack([pos, np.zeros((k, 2 - pos.shape[1]))])
    pos = pos - pos.mean(axis=0)
    radius = np.sqrt(np.sum(pos * pos, axis=1, keepdims=True))
    pos = pos * np.sqrt(np.divide(1.0, radius, out=np.zeros_like(radius), where=radius > 1e-12))  # r -> sqrt(r)
    dist = np.sqrt(np.sum((pos[:, None, :] - pos[None, :, :]) ** 2, axis=2)) + np.eye(k) * 1e9
    spacing = float(np.median(dist.min(axis=1)))
    pos = pos / spacing if np.isfinite(spacing) and spacing > 1e-9 else np.zeros_like(pos)
    return np.nan_to_num(_spread(pos))


def projection(residuals: np.ndarray, seed: int, sample: int = 5000) -> np.ndarray:
    """(d, 2): the top two principal axes of the residuals (zeros when there is nothing to spread)."""
    d = residuals.shape[1] if residuals.ndim == 2 else 0
    out = np.zeros((d, 2))
    if residuals.shape[0] < 2 or d == 0:
        return out
    rows = residuals
    if rows.shape[0] > sample:
        rows = rows[np.sort(np.random.default_rng(seed).choice(rows.shape[0], sample, replace=False))]
    centred = rows - rows.mean(axis=0)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    axes = _fix_signs(vt[:2].T)
    out[:, : axes.shape[1]] = axes
    return out


def cloud_scales(local: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(k,) factors that turn each cluster's projected residuals into a cloud of the right radius."""
    scales = np.zeros(k)
    sizes = np.bincount(labels[labels >= 0], minlength=k).astype(float)
    median = float(np.median(sizes[sizes > 0])) if (sizes > 0).any() else 1.0
    radius = np.sqrt(np.sum(local * local, axis=1)) if local.size else np.zeros(0)
    for c in range(k):
        r = radius[labels == c]
        r90 = float(np.percentile(r, 90)) if r.size else 0.0
        target = float(np.clip(_RADIUS * np.sqrt(sizes[c] / median), *_RADIUS_RANGE)) if median > 0 else _RADIUS
        scales[c] = target / r90 if r90 > 1e-9 else 0.0
    return scales


def place(embeddings: np.ndarray, nearest: np.ndarray, centroids: np.ndarray, anchor_xy: np.ndarray,
          proj: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(n, 2) map positions of embeddings whose nearest cluster is ``nearest``."""
    if embeddings.shape[0] == 0 or centroids.shape[0] == 0:
        return np.zeros((embeddings.shape[0], 2))
    local = ((embeddings - centroids[nearest]) @ proj) * scales[nearest][:, None]
    radius = np.sqrt(np.sum(local * local, axis=1))
    limit = _MAX_RADIUS_FACTOR * _RADIUS_RANGE[1]
    shrink = np.where(radius > limit, limit / np.maximum(radius, 1e-12), 1.0)
    return np.nan_to_num(anchor_xy[nearest] + local * shrink[:, None])
