"""Imports show the layers (STYLE habit 1): each module is imported in a fresh interpreter and we check
what it pulled in."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import tracehouse

FORBIDDEN = {
    "tracehouse": {"fastapi", "clickhouse_connect", "chdb", "streamlit", "sklearn", "tracehouse.storage",
                   "tracehouse.collector", "genai_prices"},
    "tracehouse.storage": {"fastapi", "streamlit", "sklearn", "tracehouse.collector"},
    "tracehouse.collector.otlp": {"fastapi", "clickhouse_connect", "streamlit"},
    "tracehouse.collector.normalize": {"fastapi", "clickhouse_connect", "streamlit"},
    "tracehouse.collector.conventions": {"fastapi", "clickhouse_connect", "streamlit"},
    "tracehouse.collector.pricing": {"fastapi", "clickhouse_connect", "streamlit"},
    "tracehouse.dashboard.figures": {"tracehouse.storage", "clickhouse_connect", "chdb", "fastapi"},
    "tracehouse.dashboard.api_client": {"tracehouse.storage", "clickhouse_connect", "chdb", "fastapi"},
}


def loaded_modules(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_module_does_not_import_a_higher_layer(module):
    loaded = loaded_modules(module)
    assert not {m for m in loaded if m in FORBIDDEN[module] or m.split(".")[0] in FORBIDDEN[module]}


def test_public_surface_is_pinned():
    assert sorted(tracehouse.__all__) == [
        "LLMCallHandle", "RetrievalHandle", "SDKSettings", "SDKStats", "SpanHandle", "ToolCallHandle", "TraceContext",
        "context", "current_context", "flush", "init", "instrument_anthropic", "instrument_openai", "llm_call",
        "observe", "retrieval", "score", "shutdown", "span", "stats", "tool_call", "wrap",
    ]
