"""Write-ahead log: a request is acknowledged only after its payload is on disk (fsync).

Layout: ``DIR/NNNNNNNNNNNN.seg`` segment files of framed records, and ``DIR/checkpoint`` (what the writer has
stored). A record is ``[u32 length][u32 crc32][payload]``; a torn or corrupt tail (a crash mid-append) is cut
off at start-up, which is safe because that record was never acknowledged.

Group commit: ``append`` writes to the OS and returns a position; one flusher thread fsyncs whatever was
written since its last fsync and wakes every waiter at once, so a burst of requests shares one fsync.

Hand-over: ``append(payload, value)`` may keep ``value`` (the decoded form of the payload) in memory, up to
``memory_bytes`` of payload, until the record is stored; ``read`` then returns it as ``Record.value`` without
reading or decoding the file. The files stay the only truth: after a restart, or past the memory bound, records
are read back from disk (``value`` is None).

Thread safety: every public method may be called from any thread.

Errors:
    WALError
    └── WALFullError   the unconsumed log reached its disk bound: shed load (503 + Retry-After)
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import struct
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

logger = logging.getLogger("tracehouse.wal")
_HEADER = struct.Struct("<II")
_SEGMENT_SUFFIX = ".seg"


class WALError(Exception):
    pass


class WALFullError(WALError):
    pass


@dataclass(frozen=True, order=True)
class Position:
    """A point in the log: segment number and byte offset inside it."""

    segment: int
    offset: int


@dataclass(frozen=True)
class Record:
    """One record. Served from memory (``value`` set by ``append``), ``payload`` is empty."""

    start: Position
    end: Position
    payload: bytes
    value: Any = None


@dataclass(frozen=True)
class _Held:
    start: Position
    end: Position
    value: Any
    size: int  # payload bytes, counted against ``memory_bytes``


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_frames(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """Yield (start, end, payload) for each intact frame; stop at the first torn or corrupt one."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if end > len(data):
            return
        payload = data[offset + _HEADER.size:end]
        if zlib.crc32(payload) != crc:
            return
        yield offset, end, payload
        offset = end


class WriteAheadLog:
    def __init__(self, directory: str | os.PathLike[str], *, segment_bytes: int = 64 * 1024 * 1024,
                 max_bytes: int = 2 * 1024 * 1024 * 1024, fsync: bool = True,
                 memory_bytes: int = 128 * 1024 * 1024) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lockfile = open(self.directory / "lock", "a")
        try:
            fcntl.flock(self._lockfile.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._lockfile.close()
            raise WALError(f"another process is using the write-ahead log in {self.directory}") from exc
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self._fsync = fsync
        self.memory_bytes = memory_bytes
        # Values handed over by ``append``, keyed by where a reader continues from to reach them (the end of
        # the previous record, and the record's own start where that differs), in log order.
        self._held: OrderedDict[Position, _Held] = OrderedDict()
        self._held_bytes = 0
        self._lock = threading.Lock()
        self._synced = threading.Condition(self._lock)
        self._closed = False
        self.checkpoint = self._read_checkpoint()
        segments = self._segments()
        self._repair_tail(segments)
        current = segments[-1] if segments else max(1, self.checkpoint.segment)
        self._file = open(self._path(current), "ab")
        self._written = Position(current, self._file.tell())
        self._durable = self._written
        self._pending = self.pending_bytes()  # framed bytes on disk not yet stored (the disk bound)
        # With nothing left to store, a reader starts at the checkpoint, which may be no record's end.
        self._resume: Position | None = self.checkpoint if self._pending == 0 else None
        self._sync_requested = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="tracehouse-wal-fsync", daemon=True)
        self._flusher.start()

    # -- paths and state ------------------------------------------------------------------------
    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}{_SEGMENT_SUFFIX}"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob(f"*{_SEGMENT_SUFFIX}") if p.stem.isdigit())

    def _read_checkpoint(self) -> Position:
        data = self._checkpoint_data()
        try:
            return Position(int(data["segment"]), int(data["offset"]))
        except (ValueError, KeyError, TypeError):
            return Position(0, 0)

    def _checkpoint_data(self) -> dict:
        try:
            return json.loads((self.directory / "checkpoint").read_text())
        except (OSError, ValueError):
            return {}

    def intent(self) -> Position | None:
        """The end of the batch the writer was storing when it stopped, if it did not finish."""
        data = self._checkpoint_data().get("intent")
        return Position(int(data["segment"]), int(data["offset"])) if data else None

    def _write_checkpoint(self, data: dict) -> None:
        tmp = self.directory / "checkpoint.tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(data))
            f.flush()
            self._fsync_file(f)
        os.replace(tmp, self.directory / "checkpoint")

    def begin_batch(self, end: Position) -> None:
        """Record which records the next insert covers, so a replay after a crash repeats exactly that batch
        (same records, same deduplication token) instead of re-cutting it differently."""
        start = self.checkpoint
        self._write_checkpoint({"segment": start.segment, "offset": start.offset,
                                "intent": {"segment": end.segment, "offset": end.offset}})

    def _repair_tail(self, segments: list[int]) -> None:
        """Cut a torn last record left by a crash (it was never acknowledged)."""
        if not segments:
            return
        path = self._path(segments[-1])
        data = path.read_bytes()
        end = 0
        for _, end, _ in read_frames(data):
            pass
        if end < len(data):
            logger.warning("wal: cutting %d torn bytes from %s", len(data) - end, path.name)
            with open(path, "r+b") as f:
                f.truncate(end)
                os.fsync(f.fileno())

    @property
    def durable(self) -> Position:
        with self._lock:
            return self._durable

    def pending_bytes(self) -> int:
        """Bytes on disk not yet stored by the writer, counted from the files (start-up, stats)."""
        total = 0
        for segment in self._segments():
            if segment < self.checkpoint.segment:
                continue
            size = self._path(segment).stat().st_size if self._path(segment).exists() else 0
            total += size - (self.checkpoint.offset if segment == self.checkpoint.segment else 0)
        return total

    # -- append and group commit ----------------------------------------------------------------
    def append(self, payload: bytes, value: Any = None) -> Position:
        """Write one record (not yet durable); returns its end position for ``wait_durable``. ``value``, the
        decoded payload, is kept for ``read`` while it fits in ``memory_bytes`` (never mutate it afterwards)."""
        data = frame(payload)
        with self._lock:
            if self._closed:
                raise WALError("the write-ahead log is closed")
            if self._pending + len(data) > self.max_bytes:
                raise WALFullError(f"write-ahead log holds {self.max_bytes} bytes not yet stored")
            previous = self._written
            if self._written.offset and self._written.offset + len(data) > self.segment_bytes:
                self._rotate_locked()
            start = self._written
            self._file.write(data)
            self._file.flush()  # to the OS now; fsync comes from the flusher
            self._written = Position(self._written.segment, self._written.offset + len(data))
            self._pending += len(data)
            position = self._written
            if value is not None and self._held_bytes + len(payload) <= self.memory_bytes:
                held = _Held(start, position, value, len(payload))
                for key in {start, previous, self._resume or start}:
                    self._held[key] = held
                self._held_bytes += len(payload)
            self._resume = None
        self._sync_requested.set()
        return position

    def _rotate_locked(self) -> None:
        self._fsync_file(self._file)
        self._file.close()
        segment = self._written.segment + 1
        self._file = open(self._path(segment), "ab")
        self._written = Position(segment, 0)

    def _fsync_file(self, f) -> None:  # type: ignore[no-untyped-def]
        if self._fsync:
            os.fsync(f.fileno())

    def wait_durable(self, position: Position, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._durable < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise WALError("the write-ahead log did not reach disk in time")
                self._synced.wait(remaining)

    def _flush_loop(self) -> None:
        while True:
            self._sync_requested.wait()
            self._sync_requested.clear()
            with self._lock:
                if self._closed:
                    return
                target, f = self._written, self._file
            try:
                self._fsync_file(f)
            except (OSError, ValueError):  # ValueError: the file was rotated and closed meanwhile (already synced)
                pass
            with self._lock:
                if target > self._durable:
                    self._durable = target
                self._synced.notify_all()

    # -- reading and checkpoints (the writer) ---------------------------------------------------
    def read(self, start: Position, limit_bytes: int = 16 * 1024 * 1024) -> list[Record]:
        """Durable records after ``start``, up to about ``limit_bytes`` of payload: from memory while the
        values handed to ``append`` last, else from the files."""
        records: list[Record] = []
        size = 0
        with self._lock:
            durable = self._durable
            position = start
            while size < limit_bytes:
                held = self._held.get(position)
                if held is None or held.end > durable:
                    break
                records.append(Record(held.start, held.end, b"", held.value))
                size += held.size
                position = held.end
        if records:
            return records
        for segment in self._segments():
            if segment < start.segment or segment > durable.segment:
                continue
            begin = start.offset if segment == start.segment else 0
            stop = durable.offset if segment == durable.segment else None
            with open(self._path(segment), "rb") as f:
                f.seek(begin)
                data = f.read() if stop is None else f.read(max(0, stop - begin))
            for s, e, payload in read_frames(data):
                records.append(Record(Position(segment, begin + s), Position(segment, begin + e), payload))
                size += len(payload)
                if size >= limit_bytes:
                    return records
        return records

    def next_position(self, position: Position) -> Position:
        """Where reading continues after ``position`` (the next segment once one is exhausted)."""
        with self._lock:
            written = self._written
        if position.segment < written.segment:
            path = self._path(position.segment)
            if not path.exists() or position.offset >= path.stat().st_size:
                return Position(position.segment + 1, 0)
        return position

    def mark_stored(self, position: Position, released_bytes: int) -> None:
        """The writer stored everything before ``position``: persist it and drop consumed segments."""
        self._write_checkpoint({"segment": position.segment, "offset": position.offset})
        with self._lock:
            self.checkpoint = position
            self._pending = max(0, self._pending - released_bytes)
            current = self._written.segment
            while self._held:
                key, held = next(iter(self._held.items()))
                if held.end > position:
                    break
                del self._held[key]
                if key == held.start:
                    self._held_bytes -= held.size
        for segment in self._segments():
            if segment < position.segment and segment < current:
                self._path(segment).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._fsync_file(self._file)
            finally:
                self._file.close()
            self._synced.notify_all()
        self._sync_requested.set()
        self._lockfile.close()
