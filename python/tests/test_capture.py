"""A real Dagster run (`dagster job execute`, multiprocess executor: one process per step) with the
capture storages in its dagster.yaml writes Outpost's spool: gap-free, typed, terminal last."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
EXAMPLE = PYTHON_DIR.parent / "examples" / "dagster"


def _dagster_yaml(home: Path, spool: Path, run_file: Path | None = None) -> str:
    storage = home / "storage"
    seed = f', run_file: "{run_file}"' if run_file else ""
    return f"""
run_storage:
  module: outpost_dagster.storage
  class: CancelAwareRunStorage
  config: {{base_dir: "{storage}", spool_dir: "{spool}"{seed}}}
event_log_storage:
  module: outpost_dagster.storage
  class: SpoolEventLogStorage
  config: {{base_dir: "{storage / 'history'}", spool_dir: "{spool}"}}
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
telemetry: {{enabled: false}}
"""


def _env(tmp_path: Path, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": str(PYTHON_DIR),
        "OUTPOST_DAGSTER_CONSOLE_LOG": str(tmp_path / "spool" / "dagster-console.log"),
    }


def _group_states(pgid: int) -> list[str]:
    """Each process left in the group: pid, state, kernel wait channel and command line."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
            if entry.name.isdigit() and int(fields[2]) == pgid:
                argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ")[:120].decode(errors="replace")
                found.append(f"{entry.name} {fields[0]} {(entry / 'wchan').read_text()} {argv}")
        except (OSError, IndexError, ValueError):
            continue
    return found


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _run(tmp_path: Path, job: str, config: dict) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir()
    spool.mkdir()
    (home / "dagster.yaml").write_text(_dagster_yaml(home, spool))
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = _env(tmp_path, home)
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
    # Dagster's console echo went to its own file, not to the worker's stderr.
    assert "hello world" not in proc.stderr and "STEP_START" not in proc.stderr
    assert "hello world" in (tmp_path / "spool" / "dagster-console.log").read_text()


def test_asset_materializations_are_first_class_with_their_key(tmp_path: Path) -> None:
    proc, events = _run(tmp_path, "numbers_job", {})
    assert proc.returncode == 0, proc.stderr[-2000:]
    materialized = sorted(e["assetKey"] for e in events if e["type"] == "ASSET_MATERIALIZATION")
    assert materialized == ["doubled_numbers", "raw_numbers"]
    assert all(e["data"]["dagsterEventType"] == "ASSET_MATERIALIZATION" for e in events if "assetKey" in e)


def test_a_terminated_step_is_canceled_not_failed(tmp_path: Path) -> None:
    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir()
    spool.mkdir()
    (home / "dagster.yaml").write_text(_dagster_yaml(home, spool))
    (tmp_path / "config.json").write_text(json.dumps({"ops": {"sleep_a_while": {"config": {"seconds": 120.0}}}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster", "job", "execute", "-f", "definitions.py", "-j", "slow_job",
         "-c", str(tmp_path / "config.json")],
        cwd=EXAMPLE, env=_env(tmp_path, home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    events_file = spool / "events.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if events_file.exists() and '"still sleeping"' in events_file.read_text():
            break
        time.sleep(0.2)
    # What Launcher.requestTermination does: the marker, then SIGTERM to the run worker alone (here
    # `dagster job execute`), which ends its step processes through their termination events.
    # SIGTERM to the whole group could kill a step while the worker notified its event, and
    # multiprocessing's Condition.notify then waits forever for that step to wake.
    (spool / "terminate-requested.json").write_text("{}")
    try:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not end within 60 s of SIGTERM: {_group_states(proc.pid)}")
    finally:
        _kill_group(proc.pid)
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    canceled = [e for e in events if e["type"] == "STEP_CANCELED"]
    assert [e["stepKey"] for e in canceled] == ["sleep_a_while"] and "error" not in canceled[0]
    assert not any(e["type"] == "STEP_FAILURE" for e in events)
    assert events[-1]["type"] == "RUN_CANCELED"


def test_the_run_file_seeds_the_run_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
    from dagster._serdes import serialize_value

    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir()
    spool.mkdir()
    run_file = tmp_path / "run.json"
    run_file.write_text(serialize_value(DagsterRun(job_name="greeting_job", run_id="r-1", tags={"a": "b"})))
    (home / "dagster.yaml").write_text(_dagster_yaml(home, spool, run_file))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.syspath_prepend(str(PYTHON_DIR))
    for _ in range(2):  # the worker and each step process build the storage: seeding is idempotent
        with DagsterInstance.get() as instance:
            run = instance.get_run_by_id("r-1")
            assert run is not None and run.tags == {"a": "b"}
            assert run.status == DagsterRunStatus.NOT_STARTED


def test_a_failing_op_is_a_step_failure_with_its_error_then_run_failure(tmp_path: Path) -> None:
    proc, events = _run(tmp_path, "failing_job", {})
    assert proc.returncode != 0
    failure = next(e for e in events if e["type"] == "STEP_FAILURE")
    assert failure["stepKey"] == "fail_on_purpose"
    assert failure["error"]["name"] == "Failure"
    assert "intentional failure" in failure["error"]["message"]
    assert events[-1]["type"] == "RUN_FAILURE"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_a_plain_exception_in_an_op_keeps_its_cause_the_users_error(tmp_path: Path) -> None:
    """Dagster wraps it (DagsterExecutionStepExecutionError "Error occurred while executing op");
    the user's own exception, its message and its frames, is the error's cause, as Dagster shows it."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "defs.py").write_text(
        "from dagster import Definitions, job, op\n"
        "@op\n"
        "def boom():\n"
        "    raise ValueError('kaboom from user code')\n"
        "@job\n"
        "def raise_job():\n"
        "    boom()\n"
        "defs = Definitions(jobs=[raise_job])\n"
    )
    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir()
    spool.mkdir()
    (home / "dagster.yaml").write_text(_dagster_yaml(home, spool))
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-f", "defs.py", "-j", "raise_job"],
        cwd=code, env=_env(tmp_path, home), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode != 0
    events = [json.loads(line) for line in (spool / "events.jsonl").read_text().splitlines()]
    # Dagster 1.9 and 1.11 give RUN_FAILURE no error of its own (only "Steps failed: ['boom']"),
    # 1.13 the step's: Outpost passes on what Dagster gives.
    import dagster

    kinds = ("STEP_FAILURE", "RUN_FAILURE") if tuple(int(p) for p in dagster.__version__.split(".")[:2]) >= (1, 13) else ("STEP_FAILURE",)
    if kinds == ("STEP_FAILURE",):
        run_failure = next(e for e in events if e["type"] == "RUN_FAILURE")
        assert "boom" in run_failure["message"], run_failure
    for kind in kinds:
        error = next(e for e in events if e["type"] == kind)["error"]
        assert error["name"] == "DagsterExecutionStepExecutionError", kind
        assert "The above exception was caused by the following exception:\nValueError: kaboom from user code" in error["message"], kind
        assert "defs.py\", line 4, in boom" in error["stack"], kind


def test_the_cancel_marker_makes_an_unfinished_run_read_canceling_or_canceled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
        started = instance.create_run_for_job(job_def=noop_job, status=DagsterRunStatus.STARTED)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.NOT_STARTED
        (spool / "terminate-requested.json").write_text("{}")
        # Executing: CANCELING, so the interrupted worker ends it CANCELED.
        assert instance.get_run_by_id(started.run_id).status == DagsterRunStatus.CANCELING
        # Not executing yet: CANCELED, so a worker starting now skips it (CANCELING would make
        # Dagster fail it as a worker restarted mid-cancel).
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
        # A finished run keeps its real status: the marker only steers an interrupted worker.
        instance.report_run_failed(run)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE


def test_user_metadata_and_asset_checks_are_plain_data(tmp_path: Path) -> None:
    """What Dagster's UI shows of a run besides messages: an asset's output metadata, an
    observation's, an asset check's result and a Failure's metadata are `data.metadata` (plain
    JSON by label), and a failed check says so at its severity's level."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "defs.py").write_text(
        "from dagster import (AssetCheckResult, AssetCheckSeverity, AssetKey, AssetObservation, Definitions,\n"
        "    Failure, MetadataValue, Output, TableRecord, asset, asset_check, define_asset_job)\n"
        "@asset\n"
        "def counted(context):\n"
        "    context.log_event(AssetObservation(asset_key='counted', metadata={'seen': 2}))\n"
        "    return Output([1, 2, 3], metadata={'rows': 3, 'ratio': float('nan'), 'preview': MetadataValue.md('| a |'),\n"
        "        'upstream': MetadataValue.asset(AssetKey(['raw', 'x'])),\n"
        "        'sample': MetadataValue.table([TableRecord({'a': 1})]), 'blob': 'x' * 70000})\n"
        "@asset_check(asset=counted)\n"
        "def enough_rows(counted):\n"
        "    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, metadata={'have': len(counted)})\n"
        "@asset\n"
        "def broken():\n"
        "    raise Failure(description='bad data', metadata={'bad_rows': 7, 'url': MetadataValue.url('http://x.test')})\n"
        "all_job = define_asset_job('all_job', selection='*')\n"
        "defs = Definitions(assets=[counted, broken], asset_checks=[enough_rows], jobs=[all_job])\n"
    )
    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir()
    spool.mkdir()
    (home / "dagster.yaml").write_text(_dagster_yaml(home, spool))
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-f", "defs.py", "-j", "all_job"],
        cwd=code, env=_env(tmp_path, home), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode != 0  # `broken` fails
    # Each line is strict JSON (no NaN token), as the agent reads it.
    lines = (spool / "events.jsonl").read_text().splitlines()
    events = [json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}")) for line in lines]
    materialized = next(e for e in events if e["type"] == "ASSET_MATERIALIZATION")
    metadata = materialized["data"]["metadata"]
    assert metadata["rows"] == 3 and metadata["ratio"] == "nan" and metadata["preview"] == "| a |"
    assert metadata["upstream"] == "raw/x" and metadata["sample"] == {"records": [{"a": 1}]}
    # Past METADATA_MAX_BYTES an entry stays in the Dagster record only, and that is said.
    assert "blob" not in metadata
    assert materialized["data"]["metadataLeftOut"] == {"entries": 1, "limitBytes": 65536}
    observed = next(e for e in events if e["type"] == "ASSET_OBSERVATION")
    assert observed["data"]["metadata"] == {"seen": 2}
    check = next(e for e in events if e["data"].get("dagsterEventType") == "ASSET_CHECK_EVALUATION")
    assert check["data"]["assetCheck"] == {"name": "enough_rows", "assetKey": "counted", "passed": False, "severity": "WARN"}
    assert check["data"]["metadata"] == {"have": 3}
    assert check["level"] == "warn"
    # Keyed by the checked asset, so the control plane lists it among that asset's checks.
    assert check["type"] == "ENGINE" and check["assetKey"] == "counted"
    failure = next(e for e in events if e["type"] == "STEP_FAILURE")
    assert failure["stepKey"] == "broken"
    assert failure["data"]["metadata"] == {"bad_rows": 7, "url": "http://x.test"}
