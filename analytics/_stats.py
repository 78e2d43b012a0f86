"""Rates, lifts and their confidence intervals (pure; never NaN).

Lift = a cluster's failure rate / the run's overall failure rate. Its interval is the Wilson score interval of
the cluster's rate divided by the overall rate, which treats the overall rate as known: fair when the cluster
is a small part of the traffic, somewhat narrow for a cluster that is most of it. With no failure anywhere the
lift is 1.0 with interval [1.0, 1.0] (no cluster stands out).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


def z_value(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0.0, 1.0) for n == 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


def lift(failures: int, size: int, overall_rate: float, z: float) -> tuple[float, float, float]:
    """(lift, low, high) of a cluster against the overall failure rate."""
    if overall_rate <= 0.0 or size <= 0:
        return 1.0, 1.0, 1.0
    low, high = wilson(failures, size, z)
    return failures / size / overall_rate, low / overall_rate, high / overall_rate


def percentile(values: np.ndarray, q: float) -> float:
    """The q-th percentile of the finite values; 0.0 when there are none."""
    finite = values[np.isfinite(values)] if values.size else values
    return float(np.percentile(finite, q)) if finite.size else 0.0


def finite_sum(values: np.ndarray) -> float:
    return float(np.nansum(np.where(np.isfinite(values), values, 0.0))) if values.size else 0.0
