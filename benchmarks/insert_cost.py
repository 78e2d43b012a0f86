"""Engine cost of storing spans, per insert size: where ingest's CPU goes once spans are rows.

    .venv/bin/python -m benchmarks.insert_cost [--spans 20000] [--batches 250,1000,5000]

The same seeded load as ``benchmarks/ingest.py`` (6 KB LLM spans) is decoded and normalized once, then
inserted into a fresh embedded store through ``Store.insert_span_rows`` (what the collector's writer calls)
in inserts of each size. Prints process CPU per span during the inserts (Python encoding, the stored-span
lookup and the engine: part, indexes, views) and in the few seconds after (merges that followed), and the
active bytes per span. Small inserts cost more per span: each makes a part in spans and in every rollup.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.otlp_load import make_batches  # noqa: E402
from tracehouse.collector.normalize import normalize  # noqa: E402
from tracehouse.collector.otlp import decode_traces  # noqa: E402
from tracehouse.storage import Store  # noqa: E402
from tracehouse.storage.rows import span_row  # noqa: E402


def measure(workdir: Path, rows: list, batch: int, settle_s: float) -> dict[str, float]:
    # chDB opens one data directory per process: each insert size gets its own database in it
    store = Store.open(f"chdb://{workdir / 'data'}?database=inserts_of_{batch}")
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(0, len(rows), batch):
            store.insert_span_rows(rows[i:i + batch], dedup_token=f"bench-{i}")
        cpu1, wall1 = time.process_time(), time.perf_counter()
        time.sleep(settle_s)
        cpu2 = time.process_time()
        active = store._query("SELECT sum(bytes_on_disk) FROM system.parts WHERE active "
                              "AND database = currentDatabase()", {})[1][0][0] or 0
        n = len(rows)
        return {"insert_cpu_us": (cpu1 - cpu0) / n * 1e6, "insert_wall_us": (wall1 - wall0) / n * 1e6,
                "after_cpu_us": (cpu2 - cpu1) / n * 1e6, "active_bytes": active / n}
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--batches", default="250,1000,5000", help="insert sizes, comma-separated")
    parser.add_argument("--settle", type=float, default=6.0, help="seconds to let merges run after the inserts")
    args = parser.parse_args()
    print(f"decoding and normalizing {args.spans} spans ...", file=sys.stderr)
    rows = [span_row(normalize(raw, "bench")) for batch in make_batches(args.spans, 500, seed=1)
            for raw in decode_traces(batch.body, "protobuf")[0]]
    print(f"\n{'spans per insert':>16} {'insert CPU us/span':>19} {'wall us/span':>13} "
          f"{'merges after us/span':>21} {'active B/span':>14}")
    workdir = Path(tempfile.mkdtemp(prefix="tracehouse-insert-"))
    try:
        for size in (int(b) for b in args.batches.split(",")):
            r = measure(workdir, rows, size, args.settle)
            print(f"{size:>16,} {r['insert_cpu_us']:>19,.1f} {r['insert_wall_us']:>13,.1f} "
                  f"{r['after_cpu_us']:>21,.1f} {r['active_bytes']:>14,.0f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
