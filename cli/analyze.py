"""``tracehouse analyze``: start a failure-clustering run on the collector, follow it, print the ranked clusters.

Talks to the collector's API only (DESIGN section 6): ``POST /api/v1/analytics/clusters/runs`` then polls
``GET /api/v1/analytics/clusters/runs/{run_id}`` until ``done`` or ``failed``, drawing a progress bar on stderr,
and prints the clusters table on stdout. Settings: argument > environment (``TRACEHOUSE_ENDPOINT``,
``TRACEHOUSE_API_KEY``) > default (``http://127.0.0.1:4318``), resolved in ``main``/``register`` only.

Wiring (the lead's ``cli/main.py``): ``from tracehouse.cli.analyze import register; register(commands)``.
Exit status: 0 done, 1 the run failed, 2 the collector answered with an error or could not be reached,
3 the run did not finish within ``timeout_s``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Sequence, TextIO

__all__ = ["ENDPOINT_ENV", "API_KEY_ENV", "DEFAULT_ENDPOINT", "RUNS_PATH", "analyze", "format_clusters", "main",
           "register"]

ENDPOINT_ENV = "TRACEHOUSE_ENDPOINT"
API_KEY_ENV = "TRACEHOUSE_API_KEY"
DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
RUNS_PATH = "/api/v1/analytics/clusters/runs"
_BAR = 30
_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _time(value: datetime | str | None) -> str | None:
    """RFC 3339 (UTC) for the API: a datetime (naive means UTC) or a string passed through."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def since(text: str, now: datetime | None = None) -> str:
    """``"24h"``, ``"7d"``, ``"30m"`` -> the RFC 3339 time that long before ``now``. ValueError if malformed."""
    match = _SINCE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30m, 24h or 7d")
    now = now or datetime.now(timezone.utc)
    return _time(now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])) or ""


def _detail(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error") or body)[:300]
    return str(body)[:300]


def _draw(err: TextIO, progress: float, status: str, stage: str, elapsed: float) -> None:
    done = int(round(max(0.0, min(1.0, progress)) * _BAR))
    label = f"{status} {stage}".strip()
    err.write(f"\r[{'#' * done}{'-' * (_BAR - done)}] {progress:4.0%} {label:<24} {elapsed:5.0f} s")
    err.flush()


def _fmt_money(value: Any) -> str:
    try:
        return f"{float(value):.4f}"
    except (TypeError, ValueError):
        return "-"


def format_clusters(run: Mapping[str, Any], width: int = 48) -> str:
    """The ranked clusters of a finished run as a text table (pure)."""
    clusters = list(run.get("clusters") or [])
    head = (f"run {run.get('run_id', '?')}: {run.get('n_interactions', '?')} interactions, "
            f"{len(clusters)} clusters, overall failure rate {float(run.get('failure_rate') or 0):.1%}")
    if not clusters:
        return head + "\nno clusters: no LLM interactions in this window"
    rows = [f"{'#':>3}  {'cluster':<{width}} {'size':>7} {'failed':>7} {'lift':>6}  {'95% CI':<13} "
            f"{'cost $':>9} {'p50 ms':>8}  top failure reasons"]
    for n, c in enumerate(clusters, 1):
        label = str(c.get("label") or c.get("cluster_id"))
        label = label if len(label) <= width else label[: width - 1] + "…"
        lo, hi = (c.get("lift_ci") or [0.0, 0.0])[:2]
        reasons = ", ".join(str(r) for r in c.get("top_failure_reasons") or []) or "-"
        rows.append(f"{c.get('rank', n):>3}  {label:<{width}} {int(c.get('size') or 0):>7,} "
                    f"{float(c.get('failure_rate') or 0):>7.1%} {float(c.get('lift') or 0):>6.2f}  "
                    f"{f'[{lo:.2f}, {hi:.2f}]':<13} {_fmt_money(c.get('cost_usd')):>9} "
                    f"{float(c.get('latency_p50_ms') or 0):>8.0f}  {reasons}")
    return "\n".join([head, "", *rows])


def analyze(endpoint: str, api_key: str | None, start: datetime | str | None = None,
            end: datetime | str | None = None, progress: bool = True, *, filters: Mapping[str, Any] | None = None,
            poll_s: float = 1.0, timeout_s: float = 1800.0, out: TextIO | None = None, err: TextIO | None = None,
            transport: Any = None) -> int:
    """Run a clustering job through the collector and print its ranked clusters; returns the exit status.

    ``start``/``end``: RFC 3339 strings or datetimes (the server's default window when omitted); ``filters``:
    ``{"tenant": ..., "model": ...}``. ``transport`` is an ``httpx`` transport for tests. Blocking.
    """
    import httpx

    out = out or sys.stdout
    err = err or sys.stderr
    body: dict[str, Any] = {}
    if start is not None:
        body["start"] = _time(start)
    if end is not None:
        body["end"] = _time(end)
    if filters:
        body["filters"] = dict(filters)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    began = time.monotonic()
    try:
        with httpx.Client(base_url=endpoint.rstrip("/"), headers=headers, timeout=30.0,
                          transport=transport) as client:
            response = client.post(RUNS_PATH, json=body)
            if response.status_code >= 400:
                print(f"tracehouse analyze: the collector refused the run ({response.status_code}): "
                      f"{_detail(response)}", file=err)
                return 2
            run_id = str(response.json().get("run_id") or "")
            if not run_id:
                print(f"tracehouse analyze: no run id in the answer: {response.text[:300]}", file=err)
                return 2
            while True:
                response = client.get(f"{RUNS_PATH}/{run_id}")
                if response.status_code >= 400:
                    if progress:
                        err.write("\n")
                    print(f"tracehouse analyze: reading run {run_id} failed ({response.status_code}): "
                          f"{_detail(response)}", file=err)
                    return 2
                run = response.json()
                status = str(run.get("status") or "unknown")
                elapsed = time.monotonic() - began
                if progress:
                    _draw(err, 1.0 if status == "done" else float(run.get("progress") or 0.0), status,
                          str(run.get("stage") or ""), elapsed)
                if status in ("done", "failed"):
                    break
                if elapsed > timeout_s:
                    if progress:
                        err.write("\n")
                    print(f"tracehouse analyze: run {run_id} still {status} after {timeout_s:.0f} s; follow it "
                          f"with GET {RUNS_PATH}/{run_id}", file=err)
                    return 3
                time.sleep(poll_s)
    except httpx.HTTPError as exc:
        if progress:
            err.write("\n")
        print(f"tracehouse analyze: cannot reach the collector at {endpoint}: {exc}", file=err)
        return 2
    if progress:
        err.write("\n")
    if status == "failed":
        print(f"tracehouse analyze: run {run_id} failed: {run.get('reason') or 'no reason given'}", file=err)
        return 1
    print(format_clusters(run), file=out)
    return 0


def _filters(pairs: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--filter takes key=value (e.g. tenant=acme), got {pair!r}")
        previous = found.get(key.strip())
        value = value.strip()
        found[key.strip()] = value if previous is None else [*(previous if isinstance(previous, list)
                                                               else [previous]), value]
    return found


def register(commands: Any) -> argparse.ArgumentParser:
    """Add the ``analyze`` subcommand to the ``tracehouse`` parser's subparsers."""
    parser = commands.add_parser("analyze", help="cluster interactions by failure mode (runs on the collector)")
    parser.add_argument("--endpoint", default=None, help=f"collector URL ({ENDPOINT_ENV}, default {DEFAULT_ENDPOINT})")
    parser.add_argument("--api-key", default=None, help=f"API key with the read scope ({API_KEY_ENV})")
    parser.add_argument("--start", default=None, help="window start, RFC 3339 (default: the server's, 7 days back)")
    parser.add_argument("--end", default=None, help="window end, RFC 3339 (default: now)")
    parser.add_argument("--since", default=None, help="window start as a duration back from now: 30m, 24h, 7d")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="scope the run: tenant=, model=, provider=, environment=, release=, ... (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up waiting after this many seconds")
    parser.set_defaults(func=_command)
    return parser


def _command(args: argparse.Namespace) -> int:
    try:
        start = since(args.since) if args.since else args.start
        filters = _filters(args.filter)
    except ValueError as exc:
        print(f"tracehouse analyze: {exc}", file=sys.stderr)
        return 2
    endpoint = args.endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT
    api_key = args.api_key or os.environ.get(API_KEY_ENV)
    return analyze(endpoint, api_key, start=start, end=args.end, progress=not args.no_progress, filters=filters,
                   timeout_s=args.timeout)


def main(argv: list[str] | None = None) -> int:
    """``python -m tracehouse.cli.analyze`` (the same as ``tracehouse analyze`` once registered)."""
    parser = argparse.ArgumentParser(prog="tracehouse")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["analyze", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
