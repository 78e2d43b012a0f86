"""``tracehouse up``: collector + dashboard on the embedded store, demo data on first start.

State lives under ``./.tracehouse/``: the chDB data directory and ``credentials.json`` (mode 0600) with the
local admin key and the local project's key, so a second ``up`` prints the same key. Ctrl-C stops both
processes cleanly.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

STATE_DIR = Path(".tracehouse")
CREDENTIALS = STATE_DIR / "credentials.json"
DEMO_MARKER = STATE_DIR / "demo-loaded"


def _load_credentials() -> dict[str, str]:
    try:
        return json.loads(CREDENTIALS.read_text())
    except (OSError, ValueError):
        return {}


def _save_credentials(creds: dict[str, str]) -> None:
    STATE_DIR.mkdir(exist_ok=True)
    CREDENTIALS.write_text(json.dumps(creds, indent=2))
    CREDENTIALS.chmod(0o600)


def _wait_ready(url: str, process: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the collector exited with code {process.returncode}; see the log above")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the collector did not become ready at {url} within {timeout_s:.0f} s")


def _ensure_project(url: str, creds: dict[str, str]) -> None:
    """Create the local project and its key once; keys are stored hashed, so we keep our copy here."""
    headers = {"Authorization": f"Bearer {creds['admin_key']}"}
    if creds.get("api_key"):
        probe = httpx.get(f"{url}/api/v1/spans", params={"limit": 1},
                          headers={"Authorization": f"Bearer {creds['api_key']}"}, timeout=10)
        if probe.status_code == 200:
            return
    project = httpx.post(f"{url}/api/v1/projects", json={"name": "local"}, headers=headers, timeout=10)
    project.raise_for_status()
    creds["project"] = project.json()["id"]
    key = httpx.post(f"{url}/api/v1/projects/{creds['project']}/keys", json={"scopes": ["ingest", "read"]},
                     headers=headers, timeout=10)
    key.raise_for_status()
    creds["api_key"] = key.json()["key"]
    _save_credentials(creds)


def up(host: str, port: int, dashboard_port: int, storage: str | None, demo_traces: int) -> int:
    creds = _load_credentials()
    creds["admin_key"] = os.environ.get("TRACEHOUSE_ADMIN_KEY") or creds.get("admin_key") or (
        "th_admin_" + secrets.token_urlsafe(24))
    _save_credentials(creds)
    exe = [sys.executable, "-m", "tracehouse.cli.main"]
    url = f"http://{host}:{port}"
    env = {**os.environ, "TRACEHOUSE_ADMIN_KEY": creds["admin_key"]}
    serve_cmd = [*exe, "serve", "--host", host, "--port", str(port)] + (["--storage", storage] if storage else [])
    processes: list[subprocess.Popen] = [subprocess.Popen(serve_cmd, env=env)]
    try:
        _wait_ready(url, processes[0])
        _ensure_project(url, creds)
        client_env = {**os.environ, "TRACEHOUSE_ENDPOINT": url, "TRACEHOUSE_API_KEY": creds["api_key"]}
        if not DEMO_MARKER.exists() and demo_traces > 0:
            print(f"tracehouse up: loading {demo_traces} demo traces (first start only)", flush=True)
            if subprocess.run([*exe, "demo", "--traces", str(demo_traces)], env=client_env).returncode == 0:
                DEMO_MARKER.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        processes.append(subprocess.Popen([*exe, "dashboard", "--host", host, "--port", str(dashboard_port)],
                                          env=client_env))
        print(
            "\n  tracehouse is up\n"
            f"  collector (OTLP + API): {url}   API docs: {url}/docs\n"
            f"  OTLP/gRPC:              {host}:{os.environ.get('TRACEHOUSE_GRPC_PORT') or 4317}\n"
            f"  dashboard:              http://{host}:{dashboard_port}\n"
            f"  API key (ingest, read): {creds['api_key']}\n"
            f"  admin key:              {creds['admin_key']}\n"
            f"  send traces with:       TRACEHOUSE_ENDPOINT={url} TRACEHOUSE_API_KEY=<the key above>\n"
            "  Ctrl-C stops both.\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        failed = next(p for p in processes if p.poll() is not None)
        print(f"tracehouse up: a process exited with code {failed.returncode}; stopping", file=sys.stderr)
        return failed.returncode or 1
    except KeyboardInterrupt:
        print("\ntracehouse up: stopping", flush=True)
        return 0
    except (RuntimeError, httpx.HTTPError) as exc:
        print(f"tracehouse up: {exc}", file=sys.stderr)
        return 1
    finally:
        for p in reversed(processes):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in processes:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
