"""One pass over a span's attributes: prefix groups and namespaces, computed once per span (pure).

Flattened conventions (OpenInference ``llm.input_messages.N.*``, OpenLLMetry ``gen_ai.prompt.N.*``, ...) are
found by prefix. Scanning every attribute once here, instead of once per normalization step, keeps the hot
path linear in the number of attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

# Prefixes whose keys are collected into groups: prefix -> {rest of key: value}.
GROUP_PREFIXES = (
    "llm.input_messages.", "llm.output_messages.", "llm.prompts.", "llm.choices.", "llm.tools.",
    "gen_ai.prompt.", "gen_ai.completion.", "gen_ai.request.",
    "traceloop.association.properties.", "langfuse.trace.metadata.", "langfuse.observation.metadata.",
)
_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class SpanView:
    attrs: Mapping[str, Any]
    namespaces: frozenset[str]  # first dotted segment of every key: "gen_ai", "llm", "langfuse", ...
    groups: Mapping[str, Mapping[str, Any]]

    def group(self, prefix: str) -> Mapping[str, Any]:
        return self.groups.get(prefix, _EMPTY)


def view_of(attrs: Mapping[str, Any]) -> SpanView:
    groups: dict[str, dict[str, Any]] = {}
    # One C-level prefix test per key; the loop over prefixes runs only for the keys that matched.
    for key in [k for k in attrs if k.startswith(GROUP_PREFIXES)]:
        for prefix in GROUP_PREFIXES:
            if key.startswith(prefix):
                groups.setdefault(prefix, {})[key[len(prefix):]] = attrs[key]
                break
    return SpanView(attrs, frozenset([k.partition(".")[0] for k in attrs]), groups)


def indexed(group: Mapping[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """``{"0.role": r, "1.content": c, "name": x}`` -> ``[(0, {"role": r}), (1, {"content": c})]``, sorted."""
    items: dict[int, dict[str, Any]] = {}
    for key, value in group.items():
        head, _, rest = key.partition(".")
        if rest and head.isdigit():
            items.setdefault(int(head), {})[rest] = value
    return sorted(items.items())


def sub(group: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Keys of ``group`` under ``prefix``, with the prefix removed."""
    n = len(prefix)
    return {k[n:]: v for k, v in group.items() if k.startswith(prefix)}
