"""The collector app in-process (TestClient) on a real embedded store: protocol, auth, query routes."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tracehouse.collector.app import create_app
from tracehouse.collector.settings import Settings

from .otlp_payloads import encoded_genai_trace

ADMIN = "admin-secret"
PB = {"content-type": "application/x-protobuf"}
DATA = Path(__file__).parent / "data"


class IngestClient(TestClient):
    """A TestClient whose OTLP posts return once the writer has stored what was acknowledged, so a test can
    read its spans back at once (in production that takes up to ``writer_max_delay_ms``)."""

    def post(self, url, *args, **kwargs):  # type: ignore[override]
        response = super().post(url, *args, **kwargs)
        if str(url).endswith("/v1/traces"):
            assert self.app.state.pipeline.wait_stored()
        return response


@pytest.fixture
def api(store, tmp_path):
    settings = Settings(admin_key=ADMIN, grpc_port=0, max_body_bytes=64 * 1024, wal_dir=str(tmp_path / "wal"))
    with IngestClient(create_app(settings, store)) as client:
        yield _with_project(client)


def _with_project(client):
    admin = {"Authorization": f"Bearer {ADMIN}"}
    project = client.post("/api/v1/projects", json={"name": "a"}, headers=admin).json()["id"]
    key = client.post(f"/api/v1/projects/{project}/keys", json={"scopes": ["ingest", "read"]}, headers=admin).json()["key"]
    client.headers["Authorization"] = f"Bearer {key}"
    client.project = project  # type: ignore[attr-defined]
    return client


def new_key(client: TestClient, scopes: list[str]) -> str:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    project = client.post("/api/v1/projects", json={"name": "other"}, headers=admin).json()["id"]
    return client.post(f"/api/v1/projects/{project}/keys", json={"scopes": scopes}, headers=admin).json()["key"]


def test_health(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready"}


def test_ingest_protobuf_answers_protobuf_and_stores(api):
    response = api.post("/v1/traces", content=encoded_genai_trace(), headers=PB)
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse()
    parsed.ParseFromString(response.content)
    assert not parsed.HasField("partial_success")
    spans = api.get("/api/v1/spans").json()["items"]
    assert {s["name"] for s in spans} == {"invoke_agent support", "chat gpt-4o-mini", "execute_tool lookup"}
    chat = next(s for s in spans if s["kind"] == "llm")
    assert chat["model"] == "gpt-4o-mini-2024-07-18" and chat["tenant"] == "acme" and chat["cost_usd"] > 0
    assert chat["start_time"].endswith("Z") and len(chat["start_time"]) == 30


def test_ingest_json_gzip_and_deflate(api):
    body = (DATA / "otlp_trace_example.json").read_bytes()
    for encoding, payload in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        response = api.post("/v1/traces", content=payload,
                            headers={"content-type": "application/json", "content-encoding": encoding})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
    trace = api.get("/api/v1/traces/5b8efff798038103d269b633813fc60c").json()
    assert len(trace["spans"]) == 1  # the second post was a duplicate of the first
    assert trace["spans"][0]["start_time"] == "2018-12-13T14:51:00.000000000Z"


@pytest.mark.parametrize("headers, body, status", [
    ({"content-type": "text/plain"}, b"x", 415),
    ({"content-type": "application/json", "content-encoding": "br"}, b"x", 415),
    ({"content-type": "application/json"}, b"{bad", 400),
    ({"content-type": "application/x-protobuf"}, b"\xff\xff\xff", 400),
    ({"content-type": "application/json"}, b"x" * (64 * 1024 + 1), 413),
    ({"content-type": "application/json", "content-encoding": "gzip"}, gzip.compress(b" " * (200 * 1024)), 413),
])
def test_bad_requests_get_a_clear_4xx_and_store_nothing(api, headers, body, status):
    response = api.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == status
    if headers["content-type"] == "application/json":
        assert response.json()["message"]
    assert api.get("/api/v1/spans").json()["items"] == []


def test_protobuf_errors_are_rpc_status(api):
    response = api.post("/v1/traces", content=b"\xff\xff", headers=PB)
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    assert response.status_code == 400 and "protobuf" in status.message


def test_partial_success_when_some_spans_are_invalid(api):
    body = json.loads((DATA / "otlp_trace_example.json").read_text())
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({**spans[0], "spanId": "0000000000000000"})
    response = api.post("/v1/traces", json=body)
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert len(api.get("/api/v1/spans", params={"start": "2018-12-13T00:00:00Z", "end": "2018-12-14T00:00:00Z"}).json()["items"]) == 1


def test_auth_is_required_and_scoped(api):
    no_key = TestClient(api.app)
    assert no_key.get("/api/v1/spans").status_code == 401
    assert no_key.post("/v1/traces", content=encoded_genai_trace(), headers=PB).status_code == 401
    assert no_key.get("/api/v1/spans", headers={"Authorization": "Bearer th_nope"}).status_code == 401
    ingest_only = new_key(api, ["ingest"])
    assert no_key.get("/api/v1/spans", headers={"Authorization": f"Bearer {ingest_only}"}).status_code == 403
    assert api.post("/api/v1/projects", json={"name": "x"}).status_code == 403
    assert no_key.get("/api/v1/spans", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 403


def test_one_projects_key_never_reads_another_projects_data(api):
    api.post("/v1/traces", content=encoded_genai_trace(), headers=PB)
    trace_id = api.get("/api/v1/spans").json()["items"][0]["trace_id"]
    other = TestClient(api.app, headers={"Authorization": f"Bearer {new_key(api, ['ingest', 'read'])}"})
    assert other.get("/api/v1/spans").json()["items"] == []
    assert other.get("/api/v1/traces").json()["items"] == []
    assert other.get(f"/api/v1/traces/{trace_id}").status_code == 404
    assert other.get("/api/v1/spans", params={"trace_id": trace_id}).json()["items"] == []
    assert other.get("/api/v1/metrics").json()["items"] == []


def test_trace_list_tree_and_metrics(api):
    api.post("/v1/traces", content=encoded_genai_trace(), headers=PB)
    (summary,) = api.get("/api/v1/traces").json()["items"]
    assert summary["name"] == "invoke_agent support" and summary["span_count"] == 3
    assert summary["status"] == "error" and summary["models"] == ["gpt-4o-mini-2024-07-18"]
    trace = api.get(f"/api/v1/traces/{summary['trace_id']}").json()
    root = next(s for s in trace["spans"] if s["parent_span_id"] is None)
    assert all(s["parent_span_id"] == root["span_id"] for s in trace["spans"] if s is not root)
    metrics = api.get("/api/v1/metrics", params={"group_by": "kind", "interval": "hour"}).json()
    assert metrics["interval"] == "hour"
    assert {m["group"]: m["spans"] for m in metrics["items"]} == {"agent": 1, "llm": 1, "tool": 1}
    assert api.get("/api/v1/spans", params={"q": "order 123"}).json()["items"][0]["kind"] == "llm"


@pytest.mark.parametrize("params", [
    {"start": "yesterday"}, {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    {"cursor": "!!"}, {"status": "broken"}, {"limit": 0},
])
def test_bad_query_parameters_are_400s(api, params):
    assert api.get("/api/v1/spans", params=params).status_code in (400, 422)


def test_scores(api):
    response = api.post("/api/v1/scores", json={"trace_id": "a" * 32, "name": "thumbs", "value": 1})
    assert response.status_code == 201 and len(response.json()["score_id"]) == 32
    assert api.post("/api/v1/scores", json={"trace_id": "nothex", "name": "x", "value": 1}).status_code == 422


def test_langfuse_path_takes_basic_project_and_key(api):
    import base64
    key = api.headers["Authorization"].split()[1]
    good = base64.b64encode(f"{api.project}:{key}".encode()).decode()
    wrong_public = base64.b64encode(f"someone-else:{key}".encode()).decode()
    path = "/api/public/otel/v1/traces"
    assert api.post(path, content=encoded_genai_trace(), headers={**PB, "Authorization": f"Basic {wrong_public}"}).status_code == 401
    assert api.post(path, content=encoded_genai_trace(), headers={**PB, "Authorization": "Basic !!"}).status_code == 401
    assert api.post(path, content=encoded_genai_trace(), headers={**PB, "Authorization": f"Basic {good}"}).status_code == 200
    assert len(api.get("/api/v1/spans").json()["items"]) == 3
    # Basic is for the Langfuse path only
    assert api.get("/api/v1/spans", headers={"Authorization": f"Basic {good}"}).status_code == 401


@pytest.mark.parametrize("logs_first", [False, True])
def test_log_record_content_joins_its_span_in_either_order(api, logs_first):
    golden = Path(__file__).parent / "data" / "golden"
    spans_body, logs_body = (golden / "otel_genai_events.json").read_bytes(), (golden / "otel_genai_events.logs.json").read_bytes()
    posts = [("/v1/logs", logs_body), ("/v1/traces", spans_body)] if logs_first else [("/v1/traces", spans_body), ("/v1/logs", logs_body)]
    for path, body in posts:
        response = api.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 200, response.text
        api.app.state.pipeline.wait_stored()
    trace_id = json.loads(spans_body)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"].lower()
    spans = api.get(f"/api/v1/traces/{trace_id}").json()["spans"]
    llm = next(s for s in spans if s["kind"] == "llm")
    assert llm["input_messages"] and llm["output_messages"]
    assert llm["input_text"] and llm["output_text"]


def test_logs_endpoint_rejects_bad_bodies(api):
    assert api.post("/v1/logs", content=b"{bad", headers={"content-type": "application/json"}).status_code == 400
    assert api.post("/v1/logs", content=b"x", headers={"content-type": "text/plain"}).status_code == 415


def test_usage_per_project_and_tenant(api):
    api.post("/v1/traces", content=encoded_genai_trace(), headers=PB)
    usage = api.get("/api/v1/usage").json()
    assert usage["day"]["spans"] == 3 and usage["month"]["spans"] >= 3
    assert usage["day"]["input_tokens"] == 1200 and usage["day"]["cost_usd"] > 0
    acme = api.get("/api/v1/usage", params={"tenant": "acme"}).json()
    assert acme["tenant"] == "acme" and acme["day"]["spans"] == 1
    assert api.get("/api/v1/usage", params={"tenant": "nobody"}).json()["day"]["spans"] == 0


def test_export_streams_every_span_as_json_lines(api):
    api.post("/v1/traces", content=encoded_genai_trace(), headers=PB)
    response = api.get("/api/v1/export")
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 3 and {line["kind"] for line in lines} == {"agent", "llm", "tool"}
    assert api.get("/api/v1/export", params={"tenant": "acme"}).text.count("\n") == 1


def test_rate_limits_answer_429_for_the_api_and_503_for_ingest(store, tmp_path):
    settings = Settings(admin_key=ADMIN, grpc_port=0, wal_dir=str(tmp_path / "wal"), rate_limit_requests_per_s=2)
    with IngestClient(create_app(settings, store)) as client:
        _with_project(client)
        statuses = [client.get("/api/v1/spans").status_code for _ in range(4)]
        assert statuses[:2] == [200, 200] and 429 in statuses
        limited = client.get("/api/v1/spans")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        ingest = client.post("/v1/traces", content=encoded_genai_trace(), headers=PB)
        assert ingest.status_code == 503 and ingest.headers["Retry-After"]


def test_span_rate_limit_sheds_ingest(store, tmp_path):
    # 0.1 span/s: the first request takes the whole (capped) burst; the next would need 10 s of refill.
    settings = Settings(admin_key=ADMIN, grpc_port=0, wal_dir=str(tmp_path / "wal"), rate_limit_spans_per_s=0.1)
    with IngestClient(create_app(settings, store)) as client:
        _with_project(client)
        assert client.post("/v1/traces", content=encoded_genai_trace(), headers=PB).status_code == 200  # 3 spans
        second = client.post("/v1/traces", content=encoded_genai_trace(), headers=PB)
        assert second.status_code == 503 and second.headers["Retry-After"]
        status = status_pb2.Status()
        status.ParseFromString(second.content)
        assert "span rate limit" in status.message
