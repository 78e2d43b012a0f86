"""Regenerate the README's dashboard screenshots from `tracehouse up` data (the demo's 300 traces).

    .venv/bin/python docs/images/screenshots.py

Starts `tracehouse up` in a scratch directory on free ports, runs a failure-clustering run through the API,
then opens pages in Debian's headless Chromium and writes PNGs beside this file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.browser import IDLE, chromium_page, wait_for_content, wait_for_http  # noqa: E402

OUT = Path(__file__).resolve().parent
PAGES = {"overview": ("", "div.js-plotly-plot"), "clusters": ("clusters", "div.js-plotly-plot")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="th-shots-"))
    port, dash, grpc = free_port(), free_port(), free_port()
    env = {**os.environ, "TRACEHOUSE_GRPC_PORT": str(grpc)}
    up = subprocess.Popen([str(Path(sys.executable).parent / "tracehouse"), "up", "--port", str(port),
                           "--dashboard-port", str(dash)], cwd=work, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{dash}/_stcore/health", up, timeout_s=600)
        key = json.loads((work / ".tracehouse" / "credentials.json").read_text())["api_key"]
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=60)
        run = api.post("/api/v1/analytics/clusters/runs", json={}).json()["run_id"]
        while api.get(f"/api/v1/analytics/clusters/runs/{run}").json()["status"] not in ("done", "failed"):
            time.sleep(1)
        with chromium_page(viewport={"width": 1400, "height": 1000}, timeout_ms=120_000) as page:
            for name, (path, ready) in PAGES.items():
                page.goto(f"http://127.0.0.1:{dash}/{path}")
                wait_for_content(page, ready)
                page.locator(IDLE).wait_for()
                time.sleep(1.5)  # let Plotly finish drawing
                page.screenshot(path=str(OUT / f"dashboard-{name}.png"))
                print(f"wrote {OUT / f'dashboard-{name}.png'}")
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
