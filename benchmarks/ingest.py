"""Ingest benchmark: a seeded OTLP protobuf load against a real collector process on the embedded store.

    .venv/bin/python benchmarks/ingest.py [--spans 50000] [--batch 500] [--clients 4]

Measures spans/s acknowledged and spans/s queryable end to end, visibility latency p50/p99 (acknowledged ->
returned by the query API, sampled), bytes per span on disk (ClickHouse data and the write-ahead log), the
collector's peak RSS and its CPU time per span (all threads, the engine's included), and the machine's load
average during the run (the machine is shared: a busy one makes every number worse). Disk is given twice:
everything in the data directory, and the active parts alone (without parts merges replaced, which
ClickHouse deletes after 8 minutes). Prints a table.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.otlp_load import Batch, make_batches  # noqa: E402

ADMIN = "bench-admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dir_bytes(path: Path) -> int:
    """Bytes of the files under ``path``; a merge may remove its temporary files while we count."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    return total


def active_part_bytes(data: Path) -> int:
    """Bytes of the parts the tables hold now; the data directory also keeps parts replaced by merges for
    ClickHouse's old_parts_lifetime (8 minutes), which ``disk_bytes_per_span`` counts."""
    from tracehouse.storage import Store

    store = Store.open(f"chdb://{data}", migrate=False)
    try:
        return int(store._query("SELECT sum(bytes_on_disk) FROM system.parts WHERE active", {})[1][0][0] or 0)
    finally:
        store.close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def start_collector(workdir: Path, port: int) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "tracehouse"
    env = {**os.environ, "TRACEHOUSE_ADMIN_KEY": ADMIN, "TRACEHOUSE_GRPC_PORT": "0"}
    log = (workdir / "collector.log").open("wb")
    process = subprocess.Popen([str(exe), "serve", "--port", str(port), "--storage", f"chdb://{workdir / 'data'}"],
                               stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("collector did not start; see " + str(workdir / "collector.log"))


def make_key(base: str) -> str:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    project = httpx.post(f"{base}/api/v1/projects", json={"name": "bench"}, headers=admin).json()["id"]
    return httpx.post(f"{base}/api/v1/projects/{project}/keys", json={"scopes": ["ingest", "read"]},
                      headers=admin).json()["key"]


def stored_count(client: httpx.Client) -> int:
    metrics = client.get("/api/v1/metrics", params={"interval": "day", "start": "2000-01-01T00:00:00Z"}).json()
    return sum(item["spans"] for item in metrics["items"])


def run(spans: int, batch_size: int, clients: int, seed: int) -> dict[str, float]:
    print(f"generating {spans} spans ...", file=sys.stderr)
    batches = make_batches(spans, batch_size, seed)
    wire_bytes = sum(len(b.body) for b in batches)
    workdir = Path(tempfile.mkdtemp(prefix="tracehouse-bench-"))
    port = free_port()
    process = start_collector(workdir, port)
    base = f"http://127.0.0.1:{port}"
    key = make_key(base)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
    work: queue.Queue[tuple[int, Batch]] = queue.Queue()
    for item in enumerate(batches):
        work.put(item)
    acked_at: dict[int, float] = {}
    retries = [0]
    latencies: list[float] = []
    lock = threading.Lock()

    def sender() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            while True:
                try:
                    index, batch = work.get_nowait()
                except queue.Empty:
                    return
                while True:
                    response = client.post("/v1/traces", content=batch.body)
                    if response.status_code == 200:
                        break
                    with lock:
                        retries[0] += 1
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                with lock:
                    acked_at[index] = time.monotonic()

    def visibility_probe() -> None:
        """Every 10th batch: how long from its acknowledgement until the API returns its last span."""
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            for index in range(0, len(batches), 10):
                while index not in acked_at:
                    time.sleep(0.005)
                trace_id = batches[index].trace_ids[-1]
                while client.get(f"/api/v1/traces/{trace_id}").status_code != 200:
                    time.sleep(0.02)
                latencies.append(time.monotonic() - acked_at[index])

    print(f"sending with {clients} clients ...", file=sys.stderr)
    cpu_before = cpu_seconds(process.pid)
    began = time.monotonic()
    threads = [threading.Thread(target=sender) for _ in range(clients)]
    probe = threading.Thread(target=visibility_probe)
    for t in [*threads, probe]:
        t.start()
    for t in threads:
        t.join()
    acked_s = time.monotonic() - began
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        while stored_count(client) < spans:
            time.sleep(0.05)
        queryable_s = time.monotonic() - began
        probe.join()
        duplicates = stored_count(client) - spans
    rss = peak_rss_mb(process.pid)
    cpu = cpu_seconds(process.pid) - cpu_before
    load = os.getloadavg()[0]
    data_bytes = dir_bytes(workdir / "data")
    process.terminate()
    process.wait(30)
    active_bytes = active_part_bytes(workdir / "data")
    shutil.rmtree(workdir, ignore_errors=True)
    latencies.sort()
    return {
        "spans": spans, "wire_kb_per_span": wire_bytes / spans / 1024,
        "acked_spans_per_s": spans / acked_s, "queryable_spans_per_s": spans / queryable_s,
        "visibility_p50_ms": statistics.median(latencies) * 1000,
        "visibility_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "disk_bytes_per_span": data_bytes / spans, "active_bytes_per_span": active_bytes / spans, "peak_rss_mb": rss, "retries_503": retries[0],
        "duplicates": duplicates, "collector_cpu_us_per_span": cpu / spans * 1e6, "load_avg_1m": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(args.spans, args.batch, args.clients, args.seed)
    targets = {"queryable_spans_per_s": ">= 10,000", "visibility_p99_ms": "< 2,000",
               "disk_bytes_per_span": "< 2,000", "peak_rss_mb": "< 1,024", "duplicates": "0"}
    print(f"\n{'metric':<24}{'value':>14}   target")
    print("-" * 52)
    for name, value in result.items():
        shown = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
        print(f"{name:<24}{shown:>14}   {targets.get(name, '')}")


if __name__ == "__main__":
    main()
