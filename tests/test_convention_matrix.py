"""The convention x field table of the closing note, computed from the golden payloads (one per convention):
which canonical fields each convention's LLM spans fill. Cells the convention cannot carry (it has no
attribute for them) are pinned as such, so a regression in any other cell fails here."""

from __future__ import annotations

from tests.test_conventions_golden import CASES, normalized

FIELDS = ("provider", "model", "input_tokens", "output_tokens", "cost_usd", "input_messages", "output_messages",
          "session", "user", "tenant")
# Fields a convention has no attribute for. Tenant is ours (``tracehouse.tenant``, or Traceloop's customer_id
# association property): Langfuse, OpenInference and OpenLIT spans get the project's default tenant instead
# (``default_tenant`` setting, tests/test_projects_api.py). OpenLIT has no session attribute.
NOT_CARRIED: dict[str, set[str]] = {"langfuse": {"tenant"}, "openinference": {"tenant"},
                                    "openlit": {"session", "tenant"}}


def matrix() -> dict[str, dict[str, bool]]:
    table = {}
    for case in CASES:
        llm = [r for r in normalized(case).values() if r.kind == "llm"]
        table[case] = {field: any(getattr(r, field) not in ("", 0, 0.0, (), None) for r in llm) for field in FIELDS}
    return table


def test_convention_field_matrix(capsys):
    table = matrix()
    with capsys.disabled():
        print("\n| convention | " + " | ".join(FIELDS) + " |")
        print("|---" * (len(FIELDS) + 1) + "|")
        for case, row in table.items():
            print(f"| {case} | " + " | ".join("yes" if row[f] else "-" for f in FIELDS) + " |")
    missing = {case: sorted(f for f, filled in row.items() if not filled and f not in NOT_CARRIED.get(case, set()))
               for case, row in table.items()}
    assert not any(missing.values()), missing
