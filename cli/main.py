"""The ``tracehouse`` command: serve, dashboard, demo, up.

Server parts are imported inside the commands that need them, so ``tracehouse demo`` works with the bare SDK.
"""

from __future__ import annotations

import argparse
import logging
import sys


def _serve(args: argparse.Namespace) -> int:
    from tracehouse.collector.server import serve
    from tracehouse.collector.settings import SettingsError, load_settings
    from tracehouse.storage import StorageError

    try:
        settings = load_settings(host=args.host, port=args.port, grpc_port=args.grpc_port, storage_url=args.storage)
        serve(settings)
    except (SettingsError, StorageError) as exc:
        print(f"tracehouse serve: {exc}", file=sys.stderr)
        return 2
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from tracehouse.dashboard.run import run

    return run(port=args.port, host=args.host)


def _demo(args: argparse.Namespace) -> int:
    import tracehouse
    from tracehouse.cli.demo import generate_demo

    tracehouse.init(endpoint=args.endpoint, api_key=args.api_key, service_name="tracehouse-demo",
                    environment="demo", release="2026.11.1")

    def progress(done: int, total: int) -> None:
        print(f"\rdemo: {done}/{total} traces", end="", file=sys.stderr, flush=True)

    summary = generate_demo(traces=args.traces, seed=args.seed, progress=progress)
    ok = tracehouse.flush(timeout_ms=60_000)
    tracehouse.shutdown()
    print(f"\ndemo: sent {summary.spans} spans in {summary.traces} traces "
          f"({summary.llm_calls} LLM calls, {summary.errors} errors, {summary.tenants} tenants)", file=sys.stderr)
    if not ok:
        print("demo: some spans may not have been exported: is the collector running?", file=sys.stderr)
        return 1
    return 0


def _up(args: argparse.Namespace) -> int:
    from tracehouse.cli.up import up

    return up(host=args.host, port=args.port, dashboard_port=args.dashboard_port, storage=args.storage,
              demo_traces=args.traces)


def _worker(args: argparse.Namespace) -> int:
    from tracehouse.collector.settings import SettingsError, load_settings
    from tracehouse.collector.worker import run_worker
    from tracehouse.storage import StorageError

    try:
        return run_worker(load_settings(host=args.host, port=args.port, storage_url=args.storage))
    except (SettingsError, StorageError) as exc:
        print(f"tracehouse worker: {exc}", file=sys.stderr)
        return 2


def _docs(args: argparse.Namespace) -> int:
    from tracehouse.cli.docs_gen import main as docs_main

    return docs_main(["--out", args.out, *(["--check"] if args.check else [])])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracehouse", description="Observability and tracing for LLM apps.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the collector (OTLP ingest + query API)")
    serve.add_argument("--host", default=None, help="bind address (TRACEHOUSE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (TRACEHOUSE_PORT, default 4318)")
    serve.add_argument("--grpc-port", type=int, default=None,
                       help="OTLP/gRPC port (TRACEHOUSE_GRPC_PORT, default 4317; 0 = off)")
    serve.add_argument("--storage", default=None,
                       help="storage URL (TRACEHOUSE_STORAGE_URL, default chdb://./.tracehouse/data)")
    serve.set_defaults(func=_serve)

    dashboard = commands.add_parser("dashboard", help="run the Streamlit dashboard")
    dashboard.add_argument("--port", type=int, default=8501)
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.set_defaults(func=_dashboard)

    demo = commands.add_parser("demo", help="send realistic demo traffic through the SDK")
    demo.add_argument("--traces", type=int, default=300)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--endpoint", default=None, help="collector URL (TRACEHOUSE_ENDPOINT)")
    demo.add_argument("--api-key", default=None, help="API key with the ingest scope (TRACEHOUSE_API_KEY)")
    demo.set_defaults(func=_demo)

    up = commands.add_parser("up", help="collector + dashboard + demo data on first start")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=4318)
    up.add_argument("--dashboard-port", type=int, default=8501)
    up.add_argument("--storage", default=None)
    up.add_argument("--traces", type=int, default=300, help="demo traces loaded on first start")
    up.set_defaults(func=_up)

    worker = commands.add_parser("worker", help="run the scheduled analytics jobs (one per deployment; no ingest)")
    worker.add_argument("--host", default=None, help="bind address of /healthz (TRACEHOUSE_HOST, default 127.0.0.1)")
    worker.add_argument("--port", type=int, default=None, help="port of /healthz (TRACEHOUSE_PORT, default 4318)")
    worker.add_argument("--storage", default=None, help="storage URL (TRACEHOUSE_STORAGE_URL): a ClickHouse server")
    worker.set_defaults(func=_worker)

    from tracehouse.cli.analyze import register as register_analyze

    register_analyze(commands)
    from tracehouse.cli.admin import register as register_admin

    register_admin(commands)

    docs = commands.add_parser("docs", help="regenerate docs/configuration.md and docs/api-reference.md from the code")
    docs.add_argument("--out", default="docs", help="directory to write into (default ./docs)")
    docs.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is out of date")
    docs.set_defaults(func=_docs)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns what matters
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
