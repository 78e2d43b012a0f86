"""tracehouse analytics: failure-mode clustering and drift jobs (load -> compute -> save).

Public surface: the failure rules (``signals``), the pure clustering compute (``compute_clusters``, ``assign``)
and the jobs that run it inside the collector (``ClusterJobs``). Heavy imports (scikit-learn) happen when a
computation runs, not when this package is imported.
"""

from .clustering import ClusterParams, ClusterResult, ClusterSummary, assign, compute_clusters
from .embedding import Embedder, SentenceEmbedder, TfidfSvdEmbedder, select_embedder
from .interactions import Interaction, Score, ToolError
from .jobs import ClusterJobs, JobQueueFull, PeriodicHandle
from .signals import SIGNALS, Signal, SignalRules, detect, detect_all

__all__ = [
    "SIGNALS",
    "ClusterJobs",
    "ClusterParams",
    "ClusterResult",
    "ClusterSummary",
    "Embedder",
    "Interaction",
    "JobQueueFull",
    "PeriodicHandle",
    "Score",
    "SentenceEmbedder",
    "Signal",
    "SignalRules",
    "TfidfSvdEmbedder",
    "ToolError",
    "assign",
    "compute_clusters",
    "detect",
    "detect_all",
    "select_embedder",
]
