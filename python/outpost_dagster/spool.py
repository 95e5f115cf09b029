"""Appends Outpost RunEvents to a run's spool (`events.jsonl`) from several processes at once.

A Dagster run is written by the run worker and by one child process per step, so the gap-free
`seq` is assigned under an exclusive `flock` on the spool itself. The last seq is cached in a
sidecar (`events.jsonl.seq`: "last,terminal,size") and trusted only while the spool still has the
size it records; otherwise it is re-read from the spool's last line. A line cut short by a killed
writer was never shipped (the agent reads whole lines only) and is cut off before appending.
Nothing is written after a terminal event: Outpost's spool rule.
"""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any, Mapping

EVENTS_FILE = "events.jsonl"
TERMINAL_TYPES = frozenset({"RUN_SUCCESS", "RUN_FAILURE", "RUN_CANCELED"})
# Events after which the line is fsynced: the agent must see step boundaries durably.
SYNC_TYPES = TERMINAL_TYPES | {"RUN_START", "STEP_START", "STEP_SUCCESS", "STEP_FAILURE"}


def _last_line(fd: int, size: int) -> bytes:
    """The last complete line of the file (without its newline), or b"" when empty."""
    end = size - 1  # skip the final newline
    chunk = 64 * 1024
    buf = b""
    pos = end
    while pos > 0:
        start = max(0, pos - chunk)
        buf = os.pread(fd, pos - start, start) + buf
        pos = start
        nl = buf.rfind(b"\n")
        if nl >= 0:
            return buf[nl + 1 :]
    return buf


class SpoolWriter:
    """One per process; safe to use from several processes on the same spool."""

    def __init__(self, spool_dir: str) -> None:
        self.path = os.path.join(spool_dir, EVENTS_FILE)
        self.sidecar = self.path + ".seq"

    def _state(self, fd: int) -> tuple[int, bool, int]:
        size = os.fstat(fd).st_size
        try:
            with open(self.sidecar, encoding="utf-8") as f:
                last, terminal, cached_size = f.read().strip().split(",")
            if int(cached_size) == size:
                return int(last), terminal == "1", size
        except (OSError, ValueError):
            pass
        if size == 0:
            return 0, False, 0
        if os.pread(fd, 1, size - 1) != b"\n":
            # A writer died mid-line: drop the partial line, which no reader has taken.
            tail = _last_line(fd, size + 1)
            size -= len(tail)
            os.ftruncate(fd, size)
            if size == 0:
                return 0, False, 0
        line = json.loads(_last_line(fd, size))
        return int(line["seq"]), line.get("type") in TERMINAL_TYPES, size

    def append(self, event: Mapping[str, Any]) -> int | None:
        """Writes `event` with the next seq; returns it, or None when the run already ended."""
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last, terminal, _ = self._state(fd)
            if terminal:
                return None
            seq = last + 1
            line = (json.dumps({"seq": seq, **event}, separators=(",", ":"), default=str) + "\n").encode()
            os.write(fd, line)
            is_terminal = event.get("type") in TERMINAL_TYPES
            if event.get("type") in SYNC_TYPES:
                os.fsync(fd)
            size = os.fstat(fd).st_size
            tmp = f"{self.sidecar}.{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(f"{seq},{1 if is_terminal else 0},{size}")
            os.replace(tmp, self.sidecar)
            return seq
        finally:
            os.close(fd)  # releases the lock
