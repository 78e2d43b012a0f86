"""Replay and compare (issue 10): re-send recorded LLM calls, whole agent trajectories or batches of calls to
a provider, store the answers as new traces linked to the originals, and compare interactions or cohorts.

Public surface (what the collector's routes use):

- ``Providers.from_settings(openai_base_url, openai_api_key, anthropic_base_url, anthropic_api_key)``
- ``replay_span(store, project, span_id, trace_id, overrides, providers)`` and ``replay_span_events`` (SSE)
- ``replay_trajectory(store, project, trace_id, overrides, providers)``
- ``BatchReplays(store, providers).submit(project, filters, overrides)`` / ``.get(project, run_id)``
- ``compare_spans(a, b)``, ``compare_cohorts(a_spans, b_spans, seed)``, ``find_span``, ``select_spans``
- errors: ``ReplayError`` and subclasses, each with ``http_status``

Layers: pure modules (``_convert``, ``scoring``, ``compare``, ``_records``) import no client library;
``providers`` imports ``openai`` / ``anthropic`` only when a call is made.
"""

from ._select import find_span, select_spans
from .batch import MAX_BATCH_SPANS, BatchReplays
from .compare import compare_cohorts, compare_spans
from .errors import (InvalidReplayRequest, NotReplayable, ProviderError, ProviderNotConfigured, ReplayBusy,
                     ReplayError, RunNotFound, SpanNotFound)
from .providers import (AnthropicProvider, OpenAIProvider, Provider, Providers, ReplayRequest, ReplayResult,
                        TokenUsage)
from .replay import ReplayOverrides, replay_span, replay_span_events
from .scoring import Evaluator
from .trajectory import replay_trajectory

__all__ = [
    "MAX_BATCH_SPANS", "AnthropicProvider", "BatchReplays", "Evaluator", "InvalidReplayRequest", "NotReplayable",
    "OpenAIProvider", "Provider", "ProviderError", "ProviderNotConfigured", "Providers", "ReplayBusy", "ReplayError",
    "ReplayOverrides", "ReplayRequest", "ReplayResult", "RunNotFound", "SpanNotFound", "TokenUsage",
    "compare_cohorts", "compare_spans", "find_span", "replay_span", "replay_span_events", "replay_trajectory",
    "select_spans",
]
