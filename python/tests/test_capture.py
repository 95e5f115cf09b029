"""A real Dagster run (`dagster job execute`, multiprocess executor: one process per step) with the
capture storages in its dagster.yaml writes Outpost's spool: gap-free, typed, terminal last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
EXAMPLE = PYTHON_DIR.parent / "examples" / "dagster"


def _dagster_yaml(home: Path, spool: Path) -> str:
    storage = home / "storage"
    return f"""
run_storage:
  module: outpost_dagster.storage
  class: CancelAwareRunStorage
  config: {{base_dir: "{storage}", spool_dir: "{spool}"}}
event_log_storage:
  module: outpost_dagster.storage
  class: SpoolEventLogStorage
  config: {{base_dir: "{storage / 'history'}", spool_dir: "{spool}"}}
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
telemetry: {{enabled: false}}
"""


def _run(tmp_path: Path, job: str, config: dict) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir()
    spool.mkdir()
    (home / "dagster.yaml").write_text(_dagster_yaml(home, spool))
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(PYTHON_DIR)}
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-f", "definitions.py", "-j", job,
         "-c", str(tmp_path / "config.json")],
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=300,
    )
    lines = (spool / "events.jsonl").read_text().splitlines() if (spool / "events.jsonl").exists() else []
    return proc, [json.loads(line) for line in lines]


def test_a_successful_run_is_captured_in_order(tmp_path: Path) -> None:
    proc, events = _run(tmp_path, "greeting_job", {"ops": {"greet": {"config": {"name": "world"}}}})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events]
    assert "RUN_START" in types and types[-1] == "RUN_SUCCESS"
    for step in ("greet", "shout"):
        step_types = [e["type"] for e in events if e.get("stepKey") == step]
        assert step_types.index("STEP_START") < step_types.index("STEP_OUTPUT") < step_types.index("STEP_SUCCESS")
    logs = [e for e in events if e["type"] == "LOG"]
    assert any(e["message"] == "hello world" and e["stepKey"] == "greet" for e in logs)
    assert all(e["data"]["dagster"].startswith('{"__class__": "EventLogEntry"') for e in events)
    engine = [e for e in events if e["type"] == "ENGINE"]
    assert engine and all(e["data"]["dagsterEventType"] for e in engine)


def test_a_failing_op_is_a_step_failure_with_its_error_then_run_failure(tmp_path: Path) -> None:
    proc, events = _run(tmp_path, "failing_job", {})
    assert proc.returncode != 0
    failure = next(e for e in events if e["type"] == "STEP_FAILURE")
    assert failure["stepKey"] == "fail_on_purpose"
    assert failure["error"]["name"] == "Failure"
    assert "intentional failure" in failure["error"]["message"]
    assert events[-1]["type"] == "RUN_FAILURE"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_the_cancel_marker_makes_an_unfinished_run_read_canceling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import DagsterInstance, DagsterRunStatus, job, op

    @op
    def noop() -> None:
        pass

    @job
    def noop_job() -> None:
        noop()

    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir()
    spool.mkdir()
    (home / "dagster.yaml").write_text(_dagster_yaml(home, spool))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.syspath_prepend(str(PYTHON_DIR))
    with DagsterInstance.get() as instance:
        run = instance.create_run_for_job(job_def=noop_job)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.NOT_STARTED
        (spool / "terminate-requested.json").write_text("{}")
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELING
        # A finished run keeps its real status: the marker only steers an interrupted worker.
        instance.report_run_failed(run)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
