"""Projects, keys (list, revoke, rotate) and per-project settings (content policy, price overrides, retention)
through the collector app in-process on a real embedded store; the ingest path applies the settings."""

from __future__ import annotations

import json

import pytest

from tests.otlp_payloads import GENAI_CHAT_ATTRS, record_spans
from tests.test_api import ADMIN, PB, IngestClient, _with_project
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tracehouse.collector.app import create_app
from tracehouse.collector.settings import Settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
SECRET_TEXT = "Mail jane.doe@example.com or call +1 415 555 0100, card 4111 1111 1111 1111"


@pytest.fixture
def api(store, tmp_path):
    settings = Settings(admin_key=ADMIN, grpc_port=0, wal_dir=str(tmp_path / "wal"))
    with IngestClient(create_app(settings, store)) as client:
        yield _with_project(client)


def chat_span(content: str, model: str = "gpt-4o-mini") -> bytes:
    attrs = {**GENAI_CHAT_ATTRS, "gen_ai.request.model": model, "gen_ai.response.model": model,
             "gen_ai.input.messages": f'[{{"role":"user","parts":[{{"type":"text","content":"{content}"}}]}}]',
             "custom.note": content}

    def build(tracer) -> None:
        with tracer.start_as_current_span("chat", attributes=attrs):
            pass
    return encode_spans(record_spans(build)).SerializeToString()


def stored_llm_span(api) -> dict:
    items = api.get("/api/v1/spans").json()["items"]
    assert items, "no span stored"
    return items[0]


def test_keys_are_listed_without_secrets_revoked_and_rotated(api):
    project = api.project
    made = api.post(f"/api/v1/projects/{project}/keys", json={"scopes": ["read"], "name": "dashboard"},
                    headers=ADMIN_H).json()
    assert made["key"].startswith("th_") and len(made["key_id"]) == 16 and made["name"] == "dashboard"
    listed = api.get(f"/api/v1/projects/{project}/keys", headers=ADMIN_H).json()["items"]
    assert {k["key_id"] for k in listed} >= {made["key_id"]}
    assert all("key" not in k and not any(made["key"] in str(v) for v in k.values()) for k in listed)
    assert next(k for k in listed if k["key_id"] == made["key_id"])["scopes"] == ["read"]
    reader = {"Authorization": f"Bearer {made['key']}"}
    assert api.get("/api/v1/spans", headers=reader).status_code == 200

    rotated = api.post(f"/api/v1/projects/{project}/keys/{made['key_id']}/rotate", headers=ADMIN_H)
    assert rotated.status_code == 201
    new = rotated.json()
    assert new["replaces"] == made["key_id"] and new["scopes"] == ["read"] and new["name"] == "dashboard"
    assert api.get("/api/v1/spans", headers=reader).status_code == 401  # refused at once on this collector
    assert api.get("/api/v1/spans", headers={"Authorization": f"Bearer {new['key']}"}).status_code == 200

    revoked = api.delete(f"/api/v1/projects/{project}/keys/{new['key_id']}", headers=ADMIN_H)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert api.get("/api/v1/spans", headers={"Authorization": f"Bearer {new['key']}"}).status_code == 401
    active = {k["key_id"] for k in api.get(f"/api/v1/projects/{project}/keys", headers=ADMIN_H).json()["items"]}
    assert made["key_id"] not in active and new["key_id"] not in active
    every = api.get(f"/api/v1/projects/{project}/keys", params={"include_revoked": "true"}, headers=ADMIN_H)
    assert {made["key_id"], new["key_id"]} <= {k["key_id"] for k in every.json()["items"] if k["revoked"]}
    assert api.delete(f"/api/v1/projects/{project}/keys/0123456789abcdef", headers=ADMIN_H).status_code == 404
    assert api.delete(f"/api/v1/projects/{project}/keys/not-an-id", headers=ADMIN_H).status_code == 404


def test_a_project_admin_key_manages_only_its_own_project(api):
    project = api.project
    own_admin = api.post(f"/api/v1/projects/{project}/keys", json={"scopes": ["admin"]}, headers=ADMIN_H).json()
    other = api.post("/api/v1/projects", json={"name": "other"}, headers=ADMIN_H).json()["id"]
    h = {"Authorization": f"Bearer {own_admin['key']}"}
    assert api.get(f"/api/v1/projects/{project}/keys", headers=h).status_code == 200
    assert [p["id"] for p in api.get("/api/v1/projects", headers=h).json()["items"]] == [project]
    for method, path in (("GET", f"/api/v1/projects/{other}/keys"), ("POST", f"/api/v1/projects/{other}/keys"),
                         ("GET", f"/api/v1/projects/{other}/settings")):
        assert api.request(method, path, headers=h, json={"scopes": ["read"]}).status_code == 404
    assert api.post("/api/v1/projects", json={"name": "x"}, headers=h).status_code == 403
    assert api.get(f"/api/v1/projects/{project}/keys").status_code == 403  # ingest+read key: no admin scope
    assert {p["id"] for p in api.get("/api/v1/projects", headers=ADMIN_H).json()["items"]} >= {project, other}


def test_whoami_names_the_project_and_scopes(api):
    me = api.get("/api/v1/whoami").json()
    assert me["project"] == api.project and me["project_name"] == "a" and me["scopes"] == ["ingest", "read"]
    assert api.get("/api/v1/whoami", headers=ADMIN_H).json()["project"] is None
    assert api.get("/api/v1/whoami", headers={"Authorization": "Bearer th_nope"}).status_code == 401


@pytest.mark.parametrize("policy", ["full", "redacted", "none"])
def test_the_project_content_policy_wins_over_what_the_client_sent(api, policy):
    settings = api.patch(f"/api/v1/projects/{api.project}/settings", json={"redaction": policy}, headers=ADMIN_H)
    assert settings.status_code == 200 and settings.json()["redaction"] == policy
    assert api.post("/v1/traces", content=chat_span(SECRET_TEXT), headers=PB).status_code == 200
    span = stored_llm_span(api)
    body = str(span)
    if policy == "full":
        assert "jane.doe@example.com" in body and span["redacted"] is False
    elif policy == "redacted":
        assert "jane.doe@example.com" not in body and "4111 1111 1111 1111" not in body
        assert "<EMAIL>" in str(span["input_messages"]) and "<EMAIL>" in span["attributes"]["custom.note"]
        assert span["redacted"] is True
    else:
        assert "jane.doe@example.com" not in body and span["input_messages"] == [] and span["redacted"] is True
        assert "gen_ai.input.messages" not in span["attributes"]
        assert (span["model"], span["input_tokens"]) == ("gpt-4o-mini", 1200)  # the measurements stay


def test_price_overrides_win_over_the_table_and_unknown_models_get_priced(api):
    assert api.post("/v1/traces", content=chat_span("hi", model="acme-ft-7"), headers=PB).status_code == 200
    assert stored_llm_span(api)["cost_source"] == "unpriced"
    bad = api.patch(f"/api/v1/projects/{api.project}/settings", headers=ADMIN_H,
                    json={"prices": [{"model": "acme-*", "input": -1, "output": 2}]})
    assert bad.status_code == 422
    ok = api.patch(f"/api/v1/projects/{api.project}/settings", headers=ADMIN_H,
                   json={"prices": [{"model": "acme-*", "input": 10, "output": 20},
                                    {"model": "gpt-4o-mini", "input": 1, "output": 1, "cache_read": 0}]})
    assert ok.status_code == 200 and len(ok.json()["prices"]) == 2
    api.post("/v1/traces", content=chat_span("hello", model="acme-ft-7"), headers=PB)
    api.post("/v1/traces", content=chat_span("hello again"), headers=PB)
    spans = {s["model"]: s for s in api.get("/api/v1/spans", params={"limit": 10}).json()["items"]
             if s["cost_source"] == "computed"}
    # 1200 input tokens (1000 cached) and 80 output tokens; cache reads priced at 0 for gpt-4o-mini here.
    assert spans["acme-ft-7"]["cost_usd"] == pytest.approx((200 * 10 + 1000 * 10 + 80 * 20) / 1e6)
    assert spans["gpt-4o-mini"]["cost_usd"] == pytest.approx((200 * 1 + 80 * 1) / 1e6)
    cleared = api.patch(f"/api/v1/projects/{api.project}/settings", json={"prices": []}, headers=ADMIN_H)
    assert cleared.json()["prices"] == []


def test_settings_validation_and_retention(api):
    path = f"/api/v1/projects/{api.project}/settings"
    assert api.patch(path, json={"redaction": "some"}, headers=ADMIN_H).status_code == 400
    assert api.patch(path, json={"retention_days": 0}, headers=ADMIN_H).status_code == 422
    assert api.patch(path, json={"retention_days": 7}, headers=ADMIN_H).json()["retention_days"] == 7
    current = api.get(path, headers=ADMIN_H).json()
    assert current["retention_days"] == 7 and current["redaction"] == "full" and current["redaction_is_default"]
    assert api.get("/api/v1/projects/nope/settings", headers=ADMIN_H).status_code == 404


def test_export_as_parquet_and_jsonl_under_the_content_policy(api):
    import io

    import pyarrow.parquet as pq

    from tracehouse.collector.serialize import SPAN_FIELDS

    for i in range(3):
        api.post("/v1/traces", content=chat_span(f"{SECRET_TEXT} #{i}"), headers=PB)
    parquet = api.get("/api/v1/export", params={"format": "parquet"})
    assert parquet.status_code == 200 and parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == 3 and tuple(table.column_names) == SPAN_FIELDS
    row = table.to_pylist()[0]
    assert row["model"] == "gpt-4o-mini" and row["input_tokens"] == 1200 and "jane.doe@example.com" in row["input_messages"]

    # An audit export may tighten the policy for older rows, never loosen it.
    tightened = api.get("/api/v1/export", params={"redaction": "redacted"})
    assert tightened.headers["x-tracehouse-redaction"] == "redacted"
    lines = [json.loads(line) for line in tightened.text.splitlines()]
    assert len(lines) == 3 and "jane.doe@example.com" not in tightened.text and all(s["redacted"] for s in lines)
    api.patch(f"/api/v1/projects/{api.project}/settings", json={"redaction": "none"}, headers=ADMIN_H)
    loosened = api.get("/api/v1/export", params={"redaction": "full", "format": "parquet"})
    assert loosened.headers["x-tracehouse-redaction"] == "none"
    rows = pq.read_table(io.BytesIO(loosened.content)).to_pylist()
    assert all(r["input_messages"] == "[]" and "jane.doe" not in str(r) for r in rows)
    assert api.get("/api/v1/export", params={"format": "csv"}).status_code == 422


def test_an_empty_parquet_export_is_a_valid_file(api):
    import io

    import pyarrow.parquet as pq

    response = api.get("/api/v1/export", params={"format": "parquet", "tenant": "nobody"})
    assert response.status_code == 200 and pq.read_table(io.BytesIO(response.content)).num_rows == 0


def test_spans_without_a_tenant_get_the_projects_default(api):
    path = f"/api/v1/projects/{api.project}/settings"
    assert api.patch(path, json={"default_tenant": "internal"}, headers=ADMIN_H).json()["default_tenant"] == "internal"

    def build(tracer) -> None:
        with tracer.start_as_current_span("no tenant", attributes={"gen_ai.request.model": "gpt-4o-mini"}):
            pass
        with tracer.start_as_current_span("has tenant", attributes={"tracehouse.tenant": "acme"}):
            pass
    api.post("/v1/traces", content=encode_spans(record_spans(build)).SerializeToString(), headers=PB)
    tenants = {s["name"]: s["tenant"] for s in api.get("/api/v1/spans").json()["items"]}
    assert tenants == {"no tenant": "internal", "has tenant": "acme"}
    assert api.patch(path, json={"default_tenant": ""}, headers=ADMIN_H).json()["default_tenant"] == ""


def test_a_tenant_over_its_span_rate_is_shed_with_503_and_others_are_not(store, tmp_path):
    settings = Settings(admin_key=ADMIN, grpc_port=0, wal_dir=str(tmp_path / "wal"), rate_limit_tenant_spans_per_s=2)
    with IngestClient(create_app(settings, store)) as client:
        api = _with_project(client)

        def spans_of(tenant: str, n: int) -> bytes:
            def build(tracer) -> None:
                for i in range(n):
                    with tracer.start_as_current_span(f"{tenant}-{i}", attributes={"tracehouse.tenant": tenant}):
                        pass
            return encode_spans(record_spans(build)).SerializeToString()
        assert api.post("/v1/traces", content=spans_of("noisy", 2), headers=PB).status_code == 200
        shed = api.post("/v1/traces", content=spans_of("noisy", 2), headers=PB)
        assert shed.status_code == 503 and int(shed.headers["retry-after"]) >= 1
        assert api.post("/v1/traces", content=spans_of("quiet", 2), headers=PB).status_code == 200
        names = {s["name"] for s in api.get("/api/v1/spans", params={"limit": 100}).json()["items"]}
        assert names == {"noisy-0", "noisy-1", "quiet-0", "quiet-1"}  # nothing of the shed request was stored
