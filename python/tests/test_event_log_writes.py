"""Which events reach Dagster's own SQLite event log in a captured run.

Each `SqliteEventLogStorage.store_event` is a SQLite commit of its own (~30 ms on the shared
2-core bench machine), so an op logging 10,000 lines spent minutes in it. Plain `context.log`
lines (no `dagster_event`) are never read back by Dagster during a run (step stats, retries and
asset queries read Dagster events only), so they go to the spool alone; Dagster events still go
to both.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from test_capture import _run


def test_log_lines_reach_the_spool_only_and_dagster_events_both(tmp_path: Path) -> None:
    proc, events = _run(tmp_path, "greeting_job", {"ops": {"greet": {"config": {"name": "world"}}}})
    assert proc.returncode == 0, proc.stderr[-2000:]
    logs = [e for e in events if e["type"] == "LOG"]
    assert any(e["message"] == "hello world" for e in logs)
    history = tmp_path / "home" / "storage" / "history"
    dbs = [p for p in history.glob("*.db") if p.name != "index.db"]
    assert len(dbs) == 1, sorted(p.name for p in history.iterdir())
    with sqlite3.connect(dbs[0]) as db:
        plain = db.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type IS NULL").fetchone()[0]
        typed = db.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type IS NOT NULL").fetchone()[0]
    assert plain == 0
    # Every Dagster event the spool has is in SQLite too (SQLite also keeps the few the spool
    # drops after the terminal event).
    assert typed >= len([e for e in events if e["type"] != "LOG"]) > 0
