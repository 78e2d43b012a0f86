"""The write-ahead log and the writer, in-process with real files and fsync."""

from __future__ import annotations

import threading

import pytest

from tracehouse.collector.wal import Position, WALError, WALFullError, WriteAheadLog, frame, read_frames
from tracehouse.collector.writer import Writer, decode_batch, encode_batch
from tracehouse.storage import QueryError


def read_all(wal: WriteAheadLog):
    """Every durable record from the checkpoint on, across segments, and the position after the last."""
    records, position = [], wal.checkpoint
    while True:
        batch = wal.read(position)
        if not batch:
            moved = wal.next_position(position)
            if moved == position:
                return records, position
            position = moved
            continue
        records += batch
        position = batch[-1].end


def test_frames_stop_at_a_torn_or_corrupt_tail():
    data = frame(b"one") + frame(b"two")
    assert [p for _, _, p in read_frames(data)] == [b"one", b"two"]
    assert [p for _, _, p in read_frames(data[:-1])] == [b"one"]
    corrupt = bytearray(data)
    corrupt[-1] ^= 0xFF
    assert [p for _, _, p in read_frames(bytes(corrupt))] == [b"one"]


def test_append_is_durable_and_readable_in_order(tmp_path):
    wal = WriteAheadLog(tmp_path)
    positions = [wal.append(f"r{i}".encode()) for i in range(5)]
    wal.wait_durable(positions[-1])
    assert [r.payload for r in wal.read(wal.checkpoint)] == [f"r{i}".encode() for i in range(5)]
    wal.close()


def test_group_commit_serves_concurrent_writers(tmp_path):
    wal = WriteAheadLog(tmp_path)
    def worker(n: int) -> None:
        for i in range(50):
            wal.wait_durable(wal.append(f"{n}-{i}".encode()))
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wal.read(wal.checkpoint, limit_bytes=10**9)) == 400
    wal.close()


def test_segments_rotate_and_consumed_ones_are_deleted(tmp_path):
    wal = WriteAheadLog(tmp_path, segment_bytes=100)
    for i in range(10):
        wal.wait_durable(wal.append(b"x" * 40))
    segments = sorted(tmp_path.glob("*.seg"))
    assert len(segments) >= 4
    records, position = read_all(wal)
    assert len(records) == 10
    wal.mark_stored(position, sum(r.end.offset - r.start.offset for r in records))
    assert len(list(tmp_path.glob("*.seg"))) == 1  # only the segment being written stays
    assert wal.pending_bytes() == 0
    wal.close()


def test_torn_tail_is_cut_at_restart(tmp_path):
    wal = WriteAheadLog(tmp_path)
    wal.wait_durable(wal.append(b"kept"))
    wal.close()
    (segment,) = tmp_path.glob("*.seg")
    with open(segment, "ab") as f:
        f.write(frame(b"torn")[:-2])  # a crash mid-append: never acknowledged
    wal = WriteAheadLog(tmp_path)
    assert [r.payload for r in wal.read(wal.checkpoint)] == [b"kept"]
    wal.wait_durable(wal.append(b"after"))
    assert [r.payload for r in wal.read(wal.checkpoint)] == [b"kept", b"after"]
    wal.close()


def test_disk_bound_sheds_load_and_frees_when_stored(tmp_path):
    wal = WriteAheadLog(tmp_path, max_bytes=200)
    while True:
        try:
            wal.wait_durable(wal.append(b"y" * 50))
        except WALFullError:
            break
    records = wal.read(wal.checkpoint)
    wal.mark_stored(records[-1].end, sum(r.end.offset - r.start.offset for r in records))
    wal.wait_durable(wal.append(b"y" * 50))  # room again
    wal.close()


def test_one_process_per_log_directory(tmp_path):
    wal = WriteAheadLog(tmp_path)
    import subprocess
    import sys
    code = f"from tracehouse.collector.wal import WriteAheadLog; WriteAheadLog({str(tmp_path)!r})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "another process" in result.stderr
    wal.close()
    with pytest.raises(WALError):
        wal.append(b"closed")


class FlakyStore:
    """Fails the first ``failures`` inserts like an unreachable ClickHouse, then stores; dedups on token."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.rows: list = []
        self.tokens: set[str] = set()
        self.calls = 0

    def insert(self, spans, token):
        self.calls += 1
        if self.calls <= self.failures:
            raise QueryError("connection refused")
        if token not in self.tokens:
            self.tokens.add(token)
            self.rows.extend(spans)


def test_writer_rides_out_a_storage_outage_and_loses_nothing(tmp_path):
    wal = WriteAheadLog(tmp_path)
    store = FlakyStore(failures=3)
    writer = Writer(wal, store.insert, batch_rows=10, max_delay_s=0.01)
    writer.start()
    for i in range(30):
        wal.wait_durable(wal.append(encode_batch([f"span-{i}"])))
    writer.stop(timeout=30)
    assert sorted(store.rows) == sorted(f"span-{i}" for i in range(30))
    assert writer.stats.failures == 3
    wal.close()


def test_replay_after_a_crash_repeats_the_same_batch_with_the_same_token(tmp_path):
    wal = WriteAheadLog(tmp_path)
    for i in range(5):
        wal.wait_durable(wal.append(encode_batch([i])))
    records = wal.read(wal.checkpoint)
    wal.begin_batch(records[2].end)  # the writer announced records 0-2, inserted them, then crashed
    wal.close()
    store = FlakyStore(failures=0)
    store.tokens.add(f"wal-{records[0].start.segment}-{records[0].start.offset}-"
                     f"{records[2].end.segment}-{records[2].end.offset}")  # that insert did land
    wal = WriteAheadLog(tmp_path)
    writer = Writer(wal, store.insert, batch_rows=100, max_delay_s=0.01)
    writer.start()
    assert writer.replayed.wait(10)
    writer.stop()
    assert sorted(store.rows) == [3, 4]  # 0-2 deduplicated by token, 3-4 stored once
    wal.close()


def test_batch_codec_round_trips():
    assert decode_batch(encode_batch([{"a": 1}, (2, "x")])) == [{"a": 1}, (2, "x")]
    assert Position(1, 5) < Position(2, 0)


def test_values_handed_to_append_are_read_from_memory_until_stored(tmp_path):
    wal = WriteAheadLog(tmp_path, segment_bytes=60, memory_bytes=51)
    values = [[i] for i in range(6)]
    for v in values:  # 17-byte payloads, 25-byte frames: two per segment, three in memory
        wal.wait_durable(wal.append(encode_batch(v), v))
    records, position = read_all(wal)
    assert [r.value is v for r, v in zip(records, values)] == [True, True, True, False, False, False]
    assert [r.value if r.value is not None else decode_batch(r.payload) for r in records] == values
    wal.mark_stored(position, sum(r.end.offset - r.start.offset for r in records))
    wal.wait_durable(wal.append(encode_batch([9]), [9]))  # the bound was released with the stored records
    assert wal.read(position)[0].value == [9]
    wal.close()
    wal = WriteAheadLog(tmp_path)  # after a restart, only the files
    assert [decode_batch(r.payload) for r in wal.read(wal.checkpoint)] == [[9]]
    wal.close()


def test_writer_cuts_batches_by_bytes_as_well_as_rows(tmp_path):
    wal = WriteAheadLog(tmp_path)
    store = FlakyStore(failures=0)
    batches: list[int] = []

    def insert(spans, token):
        batches.append(len(spans))
        store.insert(spans, token)

    writer = Writer(wal, insert, batch_rows=1000, max_delay_s=5, batch_bytes=1000)
    for i in range(40):
        payload = [f"{i}-{j}" for j in range(10)]  # about 100 bytes a record
        end = wal.append(encode_batch(payload), payload if i % 2 else None)  # from memory and from the file
    wal.wait_durable(end)
    writer.start()
    writer.stop(timeout=30)
    assert sorted(store.rows) == sorted(f"{i}-{j}" for i in range(40) for j in range(10))
    assert len(batches) >= 4 and max(batches) <= 140  # ~1000 bytes each, not one 400-span batch after 5 s
    wal.close()
