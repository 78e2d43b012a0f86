"""Dashboard benchmark: page render times in a real browser over a large data set (the issue's 1 million spans).

    .venv/bin/python benchmarks/dashboard.py --spans 1000000              # the target: every page < 2 s
    .venv/bin/python benchmarks/dashboard.py --spans 1000000 --dir /tmp/th-dash   # kept, for --reuse
    .venv/bin/python benchmarks/dashboard.py --dir /tmp/th-dash --reuse    # time the pages again, no load
    .venv/bin/python benchmarks/dashboard.py --dir /tmp/th-dash --reuse --compare-with /tmp/old/dashboard --rounds 3

Loads ``--spans`` spans straight into the embedded store through the storage benchmark's bulk path
(``benchmarks/query.py``: rows generated inside ClickHouse by ``INSERT ... SELECT``, rollups filled by their
materialized views, then compacted), in a child process so the data directory is free again for the collector.
The spans (traces of 1-7 spans: agents, LLM calls, tools, retrieval; tenants, users, sessions, prompt
versions) cover the last ``--days`` days, so with the default of one day the dashboard's default range
(24 hours) holds all of them. Then it starts a collector over that directory, adds ``tracehouse demo`` traffic
(through the SDK), finishes one clustering run and one drift run over the last hour (what the analysis pages
open by default), starts ``tracehouse dashboard`` and drives Debian's headless Chromium through every page.

For each page it reports, in the page's own clock from navigation start: when its main content is visible,
and when Streamlit's script run is over (the whole page drawn), on the first visit (the dashboard's API cache
cold) and on a revisit within the cache's TTL; with ``--rounds N``, the median of N such pairs. It also times the
query-API calls behind the pages, so a slow page points at its endpoint. A ``--dir`` is kept (a temporary work
directory is removed unless ``--keep``); ``--reuse`` times the pages again over the data loaded there. The spans
age with the clock: reload after a few hours. ``--compare-with`` serves a second copy of the dashboard package
(say, the last commit's: ``git archive HEAD dashboard | tar -x -C /tmp/old``) beside the current one and times
every page on both, back to back: on a shared machine, before/after numbers taken minutes apart are not
comparable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.browser import IDLE, chromium_missing, chromium_page, running_dashboard, wait_for_content  # noqa: E402
from benchmarks.ingest import free_port  # noqa: E402
from tracehouse.dashboard.data import CACHE_TTL_S  # noqa: E402

TARGET_S = 2.0
ADMIN = "bench-admin"
BENCH_FILE = "dashboard-bench.json"  # in the work directory: the key and what was loaded, for --reuse
VIEWPORT = {"width": 1400, "height": 1200}
ERROR_BOX = "[data-testid=stAlertContentError]"
EXCEPTION = "[data-testid=stException]"
ANY_CONTENT = "div.js-plotly-plot, [data-testid=stDataFrame], [data-testid=stMetric], [data-testid=stAlert]"


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    ready: str  # CSS selector of the main content, or text:... for an empty state


def pages(trace_id: str, session_id: str) -> list[Page]:
    return [
        Page("overview", "/", "div.js-plotly-plot"),
        Page("traces", "/traces", "[data-testid=stDataFrame]"),
        Page("traces (filtered)", "/traces?min_ms=2000&sort=slowest", "[data-testid=stDataFrame]"),
        Page("trace", f"/trace?trace_id={trace_id}", "div.js-plotly-plot"),
        Page("sessions", "/sessions", "[data-testid=stDataFrame]"),
        Page("session", f"/sessions?session_id={session_id}", "[data-testid=stChatMessage]"),
        Page("cost", "/cost", "div.js-plotly-plot"),
        Page("quality", "/quality", "div.js-plotly-plot"),
        Page("failure clusters", "/clusters", "div.js-plotly-plot, [data-testid=stAlert]"),  # map, or no runs
        Page("drift", "/drift", "[data-testid=stDataFrame]"),
        Page("replay & compare", "/replay", "text:Replay"),
    ]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- load: the storage benchmark's bulk path, in a child process (chDB holds its directory per process) -------
def bulk_load(data_dir: str, spans: int, days: float) -> dict[str, Any]:
    """Create the project and a key, insert ``spans`` synthetic spans ending now, let merges settle and
    compact the rollups. Runs in a child process: returns what the parent needs."""
    from benchmarks import query
    from tracehouse.storage import Store

    store = Store.open(f"chdb://{data_dir}")
    try:
        project = store.create_project("dashboard-bench", project_id=query.PROJECT)
        key = store.create_key(project, ["ingest", "read"])
        stored, load_s = query.load(store, spans, days, datetime.now(timezone.utc))
        merge_s = query.wait_for_merges(store)
        compact_s = store.compact_rollups()
    finally:
        store.close()
    return {"key": key, "spans": stored, "days": days, "load_s": load_s, "merge_s": merge_s,
            "compact_s": compact_s, "loaded_at": time.time()}


def start_collector(workdir: Path, port: int) -> subprocess.Popen:
    """``tracehouse serve`` over ``workdir/data``; scheduled analytics off, so no background run skews a page."""
    env = {**os.environ, "TRACEHOUSE_ADMIN_KEY": ADMIN, "TRACEHOUSE_SCHEDULED_JOBS": "0"}
    with (workdir / "collector.log").open("ab") as out:
        process = subprocess.Popen([str(Path(sys.executable).parent / "tracehouse"), "serve", "--port", str(port),
                                    "--storage", f"chdb://{workdir / 'data'}"],
                                   stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the collector exited; see {workdir / 'collector.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit(f"the collector did not start; see {workdir / 'collector.log'}")


def stop(process: subprocess.Popen, grace_s: float = 30) -> None:
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_demo(base: str, key: str, traces: int) -> None:
    if traces <= 0:
        return
    exe = Path(sys.executable).parent / "tracehouse"
    subprocess.run([str(exe), "demo", "--traces", str(traces), "--endpoint", base, "--api-key", key],
                   check=True, capture_output=True, timeout=600)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def finish_analytics_runs(client: httpx.Client, timeout_s: float) -> list[str]:
    """One finished clustering run and one finished drift run (last hour; the hour before as the baseline),
    unless the project has them already. Returns what was done, for the log."""
    now = datetime.now(timezone.utc)
    hour_ago, two_ago = now - timedelta(hours=1), now - timedelta(hours=2)
    wanted = {
        "clusters": {"start": rfc3339(hour_ago), "end": rfc3339(now)},
        "drift": {"baseline": {"start": rfc3339(two_ago), "end": rfc3339(hour_ago)},
                  "current": {"start": rfc3339(hour_ago), "end": rfc3339(now)}},
    }
    done = []
    for kind, body in wanted.items():
        path = f"/api/v1/analytics/{kind}/runs"
        runs = client.get(path).json().get("items") or []
        if any(r.get("status") == "done" for r in runs):
            done.append(f"{kind}: a finished run exists")
            continue
        began = time.monotonic()
        run_id = client.post(path, json=body).raise_for_status().json()["run_id"]
        while (run := client.get(f"{path}/{run_id}").json())["status"] not in ("done", "failed"):
            if time.monotonic() - began > timeout_s:
                raise SystemExit(f"the {kind} run {run_id} is still {run['status']} after {timeout_s:.0f} s")
            time.sleep(1.0)
        if run["status"] == "failed":
            raise SystemExit(f"the {kind} run {run_id} failed: {run.get('reason')}")
        done.append(f"{kind}: run {run_id} in {time.monotonic() - began:.1f} s")
    return done


def sample_ids(client: httpx.Client) -> tuple[str, str]:
    """A demo trace with LLM calls (else any recent trace), and the busiest session among recent spans."""
    spans = client.get("/api/v1/spans", params={"limit": 1000, "kind": "agent"}).json()["items"]
    if not spans:
        spans = client.get("/api/v1/spans", params={"limit": 100}).json()["items"]
    demo = [s for s in spans if s.get("service") == "tracehouse-demo"] or spans
    counts: dict[str, int] = {}
    for s in demo:
        if s.get("session"):
            counts[s["session"]] = counts.get(s["session"], 0) + 1
    return demo[0]["trace_id"], max(counts, key=counts.get) if counts else ""


def stored_spans(client: httpx.Client, start: str, end: str) -> int:
    items = client.get("/api/v1/metrics", params={"interval": "day", "start": start, "end": end}).json()["items"]
    return sum(item["spans"] for item in items)


def time_api(client: httpx.Client, trace_id: str, session_id: str) -> list[tuple[str, float]]:
    """Wall time of the query-API calls the pages make (each once, the last 24 hours)."""
    now = datetime.now(timezone.utc)
    window = {"start": rfc3339(now - timedelta(hours=24)), "end": rfc3339(now + timedelta(minutes=1))}
    last_hour = {**window, "start": rfc3339(now - timedelta(hours=1))}
    calls = [
        ("metrics, hourly", "/api/v1/metrics", {**window, "interval": "hour"}),
        ("metrics, hourly by model", "/api/v1/metrics", {**window, "interval": "hour", "group_by": "model"}),
        ("metrics, daily by tenant", "/api/v1/metrics", {**window, "interval": "day", "group_by": "tenant"}),
        ("metrics, llm by prompt version", "/api/v1/metrics", {**window, "interval": "hour", "kind": "llm",
                                                                "group_by": "prompt_version"}),
        ("traces, newest 50", "/api/v1/traces", {**window, "limit": 50}),
        ("traces, newest 1000, last hour", "/api/v1/traces", {**last_hour, "limit": 1000}),
        ("traces, newest 1000 (24 h)", "/api/v1/traces", {**window, "limit": 1000}),
        ("traces, status=error", "/api/v1/traces", {**window, "status": "error", "limit": 50}),
        ("spans, newest 200 llm, last hour", "/api/v1/spans", {**last_hour, "kind": "llm", "limit": 200}),
        ("spans, one session", "/api/v1/spans", {**window, "session": session_id, "limit": 1000}),
        ("one trace", f"/api/v1/traces/{trace_id}", {}),
        ("clustering runs", "/api/v1/analytics/clusters/runs", {"limit": 50}),
        ("drift runs", "/api/v1/analytics/drift/runs", {"limit": 50}),
    ]
    out = []
    for name, path, params in calls:
        began = time.monotonic()
        client.get(path, params=params).raise_for_status()
        out.append((name, time.monotonic() - began))
    return out


@dataclass(frozen=True)
class Timing:
    content_s: float  # navigation start -> main content visible
    done_s: float  # navigation start -> the script run over (everything drawn)
    problem: str = ""


def render(page: Any, url: str, ready: str, timeout_ms: int) -> Timing:
    """Open ``url`` and time it in the page's own clock (``performance.now()`` counts from navigation start)."""
    page.goto(url, wait_until="commit", timeout=timeout_ms)
    wait_for_content(page, ready, timeout_ms)
    content = page.evaluate("performance.now()") / 1000
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    done = page.evaluate("performance.now()") / 1000
    problem = ""
    for selector, what in ((EXCEPTION, "exception"), (ERROR_BOX, "error box")):
        if page.locator(selector).count():
            problem = f"{what}: " + " ".join(page.locator(selector).first.inner_text().split())[:120]
    return Timing(content, done, problem)


Results = dict[str, list[tuple[str, Timing, Timing]]]  # dashboard label -> (page, first visit, revisit)


def browse(dashboards: dict[str, str], trace_id: str, session_id: str, range_key: str, timeout_ms: int,
           only: set[str], rounds: int) -> Results:
    """Every page on every dashboard (label -> base URL), ``rounds`` times; each timing is the median of its
    rounds. With two dashboards, each page is timed on both, one right after the other (who goes first
    alternates), so a busy machine slows both alike. A round takes minutes, far beyond the API cache's TTL, so
    every round's first visit is a cold one (a round of a few pages waits for the TTL to pass)."""
    samples: dict[tuple[str, str], list[tuple[Timing, Timing]]] = {}
    with chromium_page(VIEWPORT, timeout_ms) as page:
        # Warm the browser's cache of the app's JavaScript, Plotly's included, on another range so the
        # dashboards' data caches stay cold for the timed pages.
        warm_range = "30d" if range_key == "1h" else "1h"
        for dash in dashboards.values():
            render(page, f"{dash}/?range={warm_range}", ANY_CONTENT, timeout_ms)
        order = list(dashboards)
        for round_no in range(1, rounds + 1):
            began = time.monotonic()
            for p in pages(trace_id, session_id):
                if only and p.name not in only:
                    continue
                for label in order:
                    url = f"{dashboards[label]}{p.path}{'&' if '?' in p.path else '?'}range={range_key}"
                    first = render(page, url, p.ready, timeout_ms)
                    again = render(page, url, p.ready, timeout_ms)
                    samples.setdefault((label, p.name), []).append((first, again))
                    log(f"round {round_no}, {p.name} ({label}): content {first.content_s:.2f} s, done "
                        f"{first.done_s:.2f} s; revisit {again.content_s:.2f} / {again.done_s:.2f} s {first.problem}")
                order.reverse()
            if round_no < rounds:  # a short round (--page): wait out the API cache, so the next visit is cold
                time.sleep(max(0.0, CACHE_TTL_S + 1 - (time.monotonic() - began)))
    results: Results = {label: [] for label in dashboards}
    for (label, name), visits in samples.items():
        results[label].append((name, _median([v[0] for v in visits]), _median([v[1] for v in visits])))
    return results


def _median(timings: list[Timing]) -> Timing:
    return Timing(statistics.median(t.content_s for t in timings), statistics.median(t.done_s for t in timings),
                  next((t.problem for t in timings if t.problem), ""))


def report(meta: dict[str, Any], in_window: int, range_key: str, results: Results, api: list[tuple[str, float]],
           analytics: list[str], rounds: int) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nDashboard pages: {meta['spans']:,} bulk-loaded spans over {meta['days']:g} day(s) (+ demo traffic), "
          f"{in_window:,} spans in the range {range_key}")
    if meta.get("load_s"):
        print(f"bulk load {meta['load_s']:.1f} s ({meta['spans'] / meta['load_s']:,.0f} spans/s), merges "
              f"{meta['merge_s']:.0f} s, rollups compacted in {meta['compact_s']:.1f} s")
    print("analytics: " + "; ".join(analytics))
    print(f"{os.cpu_count()} CPUs, load average now {load}. Seconds from navigation start (median of {rounds} "
          f"round(s)); target < {TARGET_S:.0f} s. 'content': the page's main content visible; 'done': Streamlit's "
          "run over.")
    for label, rows in results.items():
        print(f"\n{label}")
        print(f"{'page':<20}{'first: content':>16}{'done':>8}{'revisit: content':>19}{'done':>8}")
        print("-" * 71)
        for name, first, again in rows:
            flag = "" if first.done_s < TARGET_S else "  over target"
            print(f"{name:<20}{first.content_s:>14.2f} s{first.done_s:>6.2f} s{again.content_s:>17.2f} s"
                  f"{again.done_s:>6.2f} s{flag}{'  ' + first.problem if first.problem else ''}")
    print(f"\n{'query API call':<34}{'time':>10}")
    print("-" * 44)
    for name, seconds in api:
        print(f"{name:<34}{seconds * 1000:>8.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans to bulk-load (default 1,000,000)")
    parser.add_argument("--days", type=float, default=1.0, help="days the spans cover, ending now (default 1)")
    parser.add_argument("--demo-traces", type=int, default=100, help="tracehouse demo traces on top")
    parser.add_argument("--range", default="24h", choices=["1h", "24h", "7d", "30d"], help="the dashboard's range")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a page may take before failing")
    parser.add_argument("--analytics-timeout", type=float, default=600.0, help="seconds an analytics run may take")
    parser.add_argument("--no-analytics", action="store_true", help="no clustering or drift run before the pages")
    parser.add_argument("--page", action="append", default=[], help="time only this page (repeatable)")
    parser.add_argument("--rounds", type=int, default=1, help="visit every page this many times; medians shown")
    parser.add_argument("--dir", default=None, help="work directory, kept (default: a new one under /tmp, removed)")
    parser.add_argument("--reuse", action="store_true", help="time the pages over the data loaded in --dir")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (data, logs)")
    parser.add_argument("--compare-with", type=Path, default=None, metavar="DIR",
                        help="also serve the dashboard package from DIR (an older copy: git archive HEAD dashboard "
                             "| tar -x -C /tmp/old, then /tmp/old/dashboard) and time both, page by page")
    args = parser.parse_args()
    if reason := chromium_missing():
        raise SystemExit(reason)
    if args.reuse and not args.dir:
        parser.error("--reuse needs --dir")

    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="tracehouse-dash-bench-"))
    meta_file = workdir / BENCH_FILE
    if args.reuse:
        if not meta_file.exists():
            parser.error(f"{meta_file} is missing: load into {workdir} first (the same command without --reuse)")
        meta = json.loads(meta_file.read_text())
        meta["load_s"] = 0.0
    else:
        if (workdir / "data").exists():
            parser.error(f"{workdir / 'data'} exists: pass --reuse to use it, or another --dir")
        workdir.mkdir(parents=True, exist_ok=True)
        log(f"bulk-loading {args.spans:,} spans over {args.days:g} day(s) into {workdir / 'data'}")
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            meta = pool.submit(bulk_load, str(workdir / "data"), args.spans, args.days).result()
        meta_file.write_text(json.dumps(meta))
        log(f"loaded {meta['spans']:,} spans in {meta['load_s']:.1f} s")
    keep = args.keep or bool(args.dir)

    collector = start_collector(workdir, port := free_port())
    base, key = f"http://127.0.0.1:{port}", meta["key"]
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=300) as client:
            if not args.reuse:
                log(f"sending {args.demo_traces} demo traces through the SDK")
                run_demo(base, key, args.demo_traces)
            analytics = (["none (--no-analytics)"] if args.no_analytics
                         else finish_analytics_runs(client, args.analytics_timeout))
            log("analytics: " + "; ".join(analytics))
            now = datetime.now(timezone.utc)
            span = {"1h": 1, "24h": 24, "7d": 168, "30d": 720}[args.range]
            in_window = stored_spans(client, rfc3339(now - timedelta(hours=span)), rfc3339(now + timedelta(hours=1)))
            trace_id, session_id = sample_ids(client)
            api = time_api(client, trace_id, session_id)
        with contextlib.ExitStack() as stack:
            dashboards = {"current": stack.enter_context(
                running_dashboard(base, key, free_port(), workdir / "dashboard.log"))}
            if args.compare_with is not None:
                dashboards[f"served from {args.compare_with}"] = stack.enter_context(running_dashboard(
                    base, key, free_port(), workdir / "dashboard-compared.log", source=args.compare_with))
            results = browse(dashboards, trace_id, session_id, args.range, int(args.timeout * 1000),
                             set(args.page), max(1, args.rounds))
    finally:
        stop(collector)
        if keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report(meta, in_window, args.range, results, api, analytics, max(1, args.rounds))


if __name__ == "__main__":
    main()
