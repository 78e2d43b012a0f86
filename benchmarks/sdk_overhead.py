"""SDK overhead benchmark: one command, prints a table.

1. Per-call cost on the application thread of one instrumented LLM call (``tracehouse.llm_call`` with realistic
   messages, tools, parameters and usage) against the bare OpenTelemetry SDK doing the same span with the same
   attributes (a hand-written conversion to the OTel message shape, ``BatchSpanProcessor`` with the same queue
   settings, the same OTLP/HTTP exporter), interleaved in one run. Goal: at most 1.25x.
   The cost is the CPU time of the calling thread (``time.thread_time_ns``); wall time, which also contains the
   exporter thread's share of the GIL, is printed beside it.
2. Throughput: calls offered at a fixed rate (default 2,000/s for 30 s) through ``tracehouse`` exporting over
   OTLP/HTTP to a local fake endpoint (a subprocess that answers 200): spans exported per second, drops, failures.

    .venv/bin/python benchmarks/sdk_overhead.py                      # full run (under a minute)
    .venv/bin/python benchmarks/sdk_overhead.py --duration 5 --calls 3000 --rounds 5   # CI-sized

Both parts send real OTLP over loopback; the exporter runs on a background thread in both arms, so its CPU and
GIL use land on the application thread equally in both.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "gpt-4o-mini"
SYSTEM = ("You are the support assistant of Acme Cloud. Answer briefly and precisely, cite the help-center "
          "article you used, never invent prices, and escalate billing disputes to a human agent. ") * 2
TOOLS = [{"type": "function", "function": {
    "name": "get_invoice", "description": "Look up an invoice by number for the current customer.",
    "parameters": {"type": "object", "properties": {"number": {"type": "string"}}, "required": ["number"]}}}]
MESSAGES = [
    {"role": "user", "content": "Hi, I was charged twice for invoice INV-2024-0193 last month. Can you check "
                                "what happened and whether I get a refund? My plan is the Team plan."},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_8f2k", "type": "function", "function": {
        "name": "get_invoice", "arguments": "{\"number\": \"INV-2024-0193\"}"}}]},
    {"role": "tool", "tool_call_id": "call_8f2k", "content": "{\"number\": \"INV-2024-0193\", \"amount\": 49.0, "
                                                             "\"charges\": 2, \"status\": \"paid\"}"},
    {"role": "user", "content": "So what now?"},
]
PARAMS = {"temperature": 0.2, "max_tokens": 512, "seed": 42, "top_p": 1.0}
OUTPUT = ("I can see invoice INV-2024-0193 was charged twice (2 x $49.00). The duplicate charge will be refunded "
          "automatically within 5-7 business days; you do not need to do anything. (Help center: Billing > "
          "Duplicate charges)")
USAGE = dict(input_tokens=412, output_tokens=61, cache_read_tokens=256, reasoning_tokens=None)


# -- the fake OTLP endpoint (a subprocess) ----------------------------------------------------------------
def serve() -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


def start_endpoint() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())  # type: ignore[union-attr]
    return proc, f"http://127.0.0.1:{port}"


# -- the two arms ---------------------------------------------------------------------------------------
def bare_arm(endpoint: str, processor: Any = None):
    """The bare OpenTelemetry SDK: what an application would write by hand for the same span."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind

    provider = TracerProvider(resource=Resource.create({"service.name": "bench-bare"}), shutdown_on_exit=False)
    provider.add_span_processor(processor or BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint + "/v1/traces"), max_queue_size=8192, max_export_batch_size=512,
        schedule_delay_millis=500))
    tracer = provider.get_tracer("bench")

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def to_otel(m: dict[str, Any]) -> dict[str, Any]:
        if m["role"] == "tool":
            return {"role": "tool", "parts": [{"type": "tool_call_response", "id": m["tool_call_id"],
                                               "response": m["content"]}]}
        parts = [{"type": "text", "content": m["content"]}] if m.get("content") else []
        parts += [{"type": "tool_call", "id": c["id"], "name": c["function"]["name"],
                   "arguments": json.loads(c["function"]["arguments"])} for c in m.get("tool_calls") or ()]
        return {"role": m["role"], "parts": parts}

    def call() -> None:
        attrs = {"tracehouse.span.kind": "llm", "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                 "gen_ai.request.model": MODEL}
        attrs.update({"gen_ai.request." + k: v for k, v in PARAMS.items()})
        attrs["gen_ai.input.messages"] = dumps([to_otel(m) for m in MESSAGES])
        attrs["gen_ai.system_instructions"] = dumps([{"type": "text", "content": SYSTEM}])
        attrs["gen_ai.tool.definitions"] = dumps([{"type": "function", **t["function"]} for t in TOOLS])
        with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=attrs) as span:
            span.set_attributes({
                "gen_ai.output.messages": dumps([{"role": "assistant", "parts": [{"type": "text", "content": OUTPUT}],
                                                  "finish_reason": "stop"}]),
                "gen_ai.response.finish_reasons": ["stop"], "gen_ai.response.model": MODEL + "-2024-07-18",
                "gen_ai.response.id": "chatcmpl-123", "gen_ai.usage.input_tokens": USAGE["input_tokens"],
                "gen_ai.usage.output_tokens": USAGE["output_tokens"],
                "gen_ai.usage.cache_read.input_tokens": USAGE["cache_read_tokens"],
            })

    return provider, call


def tracehouse_call() -> None:
    import tracehouse

    with tracehouse.llm_call(provider="openai", model=MODEL, messages=MESSAGES, system=SYSTEM, tools=TOOLS,
                             params=PARAMS) as c:
        c.set_output(OUTPUT, finish_reason="stop", response_model=MODEL + "-2024-07-18", response_id="chatcmpl-123",
                     **USAGE)


def check_same_attributes() -> bool:
    """Both arms, exported to memory once: are the attribute sets identical?"""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import tracehouse

    memory = InMemorySpanExporter()
    tracehouse.init(exporter=memory)
    tracehouse_call()
    tracehouse.flush()
    ours = dict(memory.get_finished_spans()[0].attributes)
    tracehouse.shutdown()
    bare_memory = InMemorySpanExporter()
    provider, call = bare_arm("http://127.0.0.1:9", SimpleSpanProcessor(bare_memory))
    call()
    bare = dict(bare_memory.get_finished_spans()[0].attributes)
    provider.shutdown()
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in ours.items()} == {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in bare.items()}


def per_call(endpoint: str, calls: int, rounds: int) -> dict[str, Any]:
    import tracehouse

    tracehouse.init(endpoint=endpoint, service_name="bench-tracehouse")
    provider, bare = bare_arm(endpoint)
    arms = {"bare": bare, "tracehouse": tracehouse_call}
    results: dict[str, list[float]] = {name: [] for name in arms}  # CPU us per call on this thread
    wall: dict[str, list[float]] = {name: [] for name in arms}
    for fn in arms.values():  # warm up
        for _ in range(500):
            fn()
    for r in range(rounds):
        order = list(arms.items()) if r % 2 == 0 else list(reversed(arms.items()))
        for name, fn in order:
            tracehouse.flush()
            provider.force_flush()
            gc.collect()
            start, cpu_start = time.perf_counter_ns(), time.thread_time_ns()
            for _ in range(calls):
                fn()
            results[name].append((time.thread_time_ns() - cpu_start) / calls / 1000)
            wall[name].append((time.perf_counter_ns() - start) / calls / 1000)
    tracehouse.flush()
    provider.force_flush()
    stats = tracehouse.stats()
    tracehouse.shutdown()
    provider.shutdown()
    bare_us = statistics.median(results["bare"])
    ours_us = statistics.median(results["tracehouse"])
    return {"bare_us": bare_us, "ours_us": ours_us, "ratio": ours_us / bare_us, "rounds": results, "stats": stats,
            "bare_wall_us": statistics.median(wall["bare"]), "ours_wall_us": statistics.median(wall["tracehouse"])}


def throughput(endpoint: str, rate: int, duration: float) -> dict[str, Any]:
    import tracehouse

    tracehouse.init(endpoint=endpoint, service_name="bench-throughput")
    tick = 0.01
    per_tick = rate * tick
    offered = 0
    max_queued = 0
    start = time.perf_counter()
    due = 0.0
    next_tick = start
    while True:
        now = time.perf_counter()
        if now - start >= duration:
            break
        due += per_tick
        while offered < int(due):
            tracehouse_call()
            offered += 1
        max_queued = max(max_queued, tracehouse.stats().spans_queued)
        next_tick += tick
        delay = next_tick - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.perf_counter() - start
    flushed = tracehouse.flush(timeout_ms=60_000)
    drained = time.perf_counter() - start
    stats = tracehouse.stats()
    tracehouse.shutdown()
    return {"offered": offered, "elapsed": elapsed, "drained": drained, "flushed": flushed, "stats": stats,
            "max_queued": max_queued}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3_000, help="calls per arm per round (per-call part)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (per-call part)")
    parser.add_argument("--rate", type=int, default=2_000, help="calls per second offered (throughput part)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of offered load (throughput part)")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    proc, endpoint = start_endpoint()
    rows: list[tuple[str, str]] = []
    try:
        if not args.skip_overhead:
            same = check_same_attributes()
            r = per_call(endpoint, args.calls, args.rounds)
            rows += [
                ("per call: bare OpenTelemetry SDK, app-thread CPU (median us)", f"{r['bare_us']:.1f}"),
                ("per call: tracehouse.llm_call, app-thread CPU (median us)", f"{r['ours_us']:.1f}"),
                ("per call: ratio tracehouse / bare (goal <= 1.25)", f"{r['ratio']:.2f}"),
                ("per call: wall time incl. exporter GIL share, bare / tracehouse (us)",
                 f"{r['bare_wall_us']:.1f} / {r['ours_wall_us']:.1f}"),
                ("per call: identical span attributes in both arms", "yes" if same else "NO"),
                ("per call: rounds x calls per arm", f"{args.rounds} x {args.calls}"),
                ("per call: tracehouse spans dropped / failed", f"{r['stats'].spans_dropped} / {r['stats'].spans_failed}"),
            ]
        if not args.skip_throughput:
            t = throughput(endpoint, args.rate, args.duration)
            s = t["stats"]
            rows += [
                ("throughput: offered calls/s (target)", f"{args.rate}"),
                ("throughput: achieved calls/s", f"{t['offered'] / t['elapsed']:.0f}"),
                ("throughput: duration s", f"{t['elapsed']:.1f}"),
                ("throughput: spans exported", f"{s.spans_exported}"),
                ("throughput: spans exported per second", f"{s.spans_exported / t['drained']:.0f}"),
                ("throughput: spans dropped / failed", f"{s.spans_dropped} / {s.spans_failed}"),
                ("throughput: max queue depth seen", f"{t['max_queued']}"),
                ("throughput: flushed within 60 s", "yes" if t["flushed"] else "NO"),
            ]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    width = max(len(k) for k, _ in rows)
    print(f"{'measure'.ljust(width)} | value")
    print(f"{'-' * width}-+-{'-' * 10}")
    for key, value in rows:
        print(f"{key.ljust(width)} | {value}")
    print(f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
