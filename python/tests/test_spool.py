"""SpoolWriter: one gap-free seq across processes, the terminal rule, and recovery of a cut line."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

from outpost_dagster.spool import EVENTS_FILE, SpoolWriter


def _lines(spool: Path) -> list[dict]:
    return [json.loads(line) for line in (spool / EVENTS_FILE).read_text().splitlines()]


def _write_many(spool_dir: str, who: int, n: int) -> None:
    writer = SpoolWriter(spool_dir)
    for i in range(n):
        writer.append({"type": "LOG", "timestamp": 0, "message": f"{who}:{i}"})


def test_seq_is_gap_free_across_concurrent_processes(tmp_path: Path) -> None:
    procs = [multiprocessing.Process(target=_write_many, args=(str(tmp_path), w, 200)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    events = _lines(tmp_path)
    assert [e["seq"] for e in events] == list(range(1, 801))
    # Every writer's lines are all there, each in its own order.
    for w in range(4):
        mine = [int(e["message"].split(":")[1]) for e in events if e["message"].startswith(f"{w}:")]
        assert mine == list(range(200))


def test_nothing_is_written_after_a_terminal_event(tmp_path: Path) -> None:
    w = SpoolWriter(str(tmp_path))
    assert w.append({"type": "RUN_START", "timestamp": 1}) == 1
    assert w.append({"type": "RUN_SUCCESS", "timestamp": 2}) == 2
    assert w.append({"type": "ENGINE", "timestamp": 3, "message": "Process for run exited"}) is None
    assert SpoolWriter(str(tmp_path)).append({"type": "LOG", "timestamp": 4}) is None
    assert [e["type"] for e in _lines(tmp_path)] == ["RUN_START", "RUN_SUCCESS"]


def test_a_stale_sidecar_or_a_cut_line_does_not_break_the_sequence(tmp_path: Path) -> None:
    w = SpoolWriter(str(tmp_path))
    w.append({"type": "RUN_START", "timestamp": 1})
    w.append({"type": "LOG", "timestamp": 2})
    # A writer killed mid-line, before it could update the sidecar.
    with open(tmp_path / EVENTS_FILE, "ab") as f:
        f.write(b'{"seq":3,"type":"LO')
    assert w.append({"type": "LOG", "timestamp": 3, "message": "after the crash"}) == 3
    os.remove(str(tmp_path / EVENTS_FILE) + ".seq")
    assert w.append({"type": "RUN_SUCCESS", "timestamp": 4}) == 4
    assert [e["seq"] for e in _lines(tmp_path)] == [1, 2, 3, 4]
