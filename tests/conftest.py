"""Shared fixtures: a real collector process on a free loopback port, and an in-process embedded store.

chDB allows one data directory per process, so in-process tests share one directory for the whole run and
isolate by database (a fresh database per fixture use).
"""

from __future__ import annotations


import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

ADMIN_KEY = "test-admin-" + uuid.uuid4().hex
REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Collector:
    base_url: str
    api_key: str
    admin_key: str
    project: str
    process: subprocess.Popen
    data_dir: Path
    log_path: Path

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {key or self.api_key}"},
                            timeout=30)

    def new_project(self, name: str, scopes: tuple[str, ...] = ("ingest", "read")) -> tuple[str, str]:
        admin = {"Authorization": f"Bearer {self.admin_key}"}
        project = httpx.post(f"{self.base_url}/api/v1/projects", json={"name": name}, headers=admin).json()["id"]
        key = httpx.post(f"{self.base_url}/api/v1/projects/{project}/keys", json={"scopes": list(scopes)},
                         headers=admin).json()["key"]
        return project, key


def start_collector(tmp: Path, env_extra: dict[str, str] | None = None, create_project: bool = True) -> Collector:
    port = free_port()
    data_dir = tmp / "data"
    log_path = tmp / "collector.log"
    # Scheduled analytics off: a long-lived test collector must not start clustering runs in the background.
    env = {**os.environ, "TRACEHOUSE_ADMIN_KEY": ADMIN_KEY, "TRACEHOUSE_SCHEDULED_JOBS": "0",
           # Several test collectors run at once: each gets its own gRPC port.
           "TRACEHOUSE_GRPC_PORT": str(free_port()), **(env_extra or {})}
    process = subprocess.Popen(
        [str(BIN / "tracehouse"), "serve", "--port", str(port), "--storage", f"chdb://{data_dir}"],
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=tmp,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"collector exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(f"collector not ready in 60 s:\n{log_path.read_text()}")
    collector = Collector(base_url, "", ADMIN_KEY, "", process, data_dir, log_path)
    if create_project:
        collector.project, collector.api_key = collector.new_project("test")
    return collector


def stop_collector(collector: Collector) -> None:
    collector.process.terminate()
    try:
        collector.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        collector.process.kill()


def run_demo(collector: Collector, traces: int, seed: int = 7) -> dict:
    """Load demo traffic through the real SDK and OTLP path (the `tracehouse demo` command)."""
    result = subprocess.run(
        [str(BIN / "tracehouse"), "demo", "--traces", str(traces), "--seed", str(seed),
         "--endpoint", collector.base_url, "--api-key", collector.api_key],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    # Acknowledged spans become queryable within the writer's delay: wait for all of them (over the demo's whole
    # time span: some traces start more than a day back).
    window = {"limit": 1000, "start": "2000-01-01T00:00:00Z"}
    with collector.client() as client:
        wait_until(lambda: len(client.get("/api/v1/traces", params=window).json()["items"]) >= traces)
    return {"stderr": result.stderr}


def wait_until(predicate, timeout_s: float = 30.0, interval_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """A collector process with demo data (60 traces, seed 7) already loaded."""
    c = start_collector(tmp_path_factory.mktemp("collector"))
    try:
        run_demo(c, traces=60)
        yield c
    finally:
        stop_collector(c)


@pytest.fixture(scope="session")
def empty_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """A collector process with no data; tests create their own projects on it."""
    c = start_collector(tmp_path_factory.mktemp("empty-collector"))
    try:
        yield c
    finally:
        stop_collector(c)


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def store(chdb_dir: Path):
    """An in-process embedded store on a fresh database."""
    from tracehouse.storage import Store

    s = Store.open(f"chdb://{chdb_dir}?database=t_{uuid.uuid4().hex[:12]}")
    yield s


