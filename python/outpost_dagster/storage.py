"""Storages named from a run's dagster.yaml.

SpoolEventLogStorage keeps Dagster's own SQLite event log for Dagster events (the worker reads
them back for step stats, retries and asset queries) and appends every event to Outpost's spool;
plain log lines go to the spool only.
CancelAwareRunStorage seeds the run the agent wrote (`run_file`, serdes DagsterRun) and reports
it CANCELING while the agent's terminate marker exists, so the worker, interrupted by SIGTERM,
ends the run CANCELED rather than FAILURE. The marker is the one Launcher.requestTermination
writes: `terminate-requested.json` in the spool (SPOOL_FILES.terminated in run-events.ts).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from dagster import DagsterRun, DagsterRunStatus, EventLogEntry, Field, StringSource
from dagster._core.errors import DagsterRunAlreadyExists
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.runs import SqliteRunStorage
from dagster._serdes import ConfigurableClassData, deserialize_value

from outpost_dagster.console import redirect_console_echo
from outpost_dagster.event_mapping import to_run_event
from outpost_dagster.spool import SpoolWriter

TERMINATE_MARKER = "terminate-requested.json"
_NOT_EXECUTING = frozenset({DagsterRunStatus.NOT_STARTED, DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING})

# Storages load before any run logger is made: the console echo goes to its own file from here.
redirect_console_echo()


def terminate_requested(spool_dir: str) -> bool:
    return bool(spool_dir) and os.path.exists(os.path.join(spool_dir, TERMINATE_MARKER))


class SpoolEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, spool_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        self._spool_dir = spool_dir
        self._spool = SpoolWriter(spool_dir)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": StringSource, "spool_dir": StringSource}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "SpoolEventLogStorage":
        return cls(inst_data=inst_data, **config_value)

    def store_event(self, event: EventLogEntry) -> None:
        # Each SQLite write is a commit of its own (~30 ms on a loaded 2-core box): plain
        # `context.log` lines, which Dagster never reads back during a run, go to the spool only.
        if event.dagster_event is not None:
            super().store_event(event)
        self._spool.append(to_run_event(event, terminating=terminate_requested(self._spool_dir)))


class CancelAwareRunStorage(SqliteRunStorage):
    _spool_dir: str = ""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "base_dir": StringSource,
            "spool_dir": StringSource,
            "run_file": Field(StringSource, is_required=False),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "CancelAwareRunStorage":
        storage = cls.from_local(base_dir=config_value["base_dir"], inst_data=inst_data)
        storage._spool_dir = config_value["spool_dir"]
        run_file = config_value.get("run_file")
        if run_file:
            storage._seed(run_file)
        return storage

    def _seed(self, run_file: str) -> None:
        """Inserts the agent-written run once; every step process builds this storage again."""
        with open(run_file, encoding="utf-8") as f:
            run = deserialize_value(f.read(), DagsterRun)
        if self.has_run(run.run_id):
            return
        try:
            self.add_run(run)
        except DagsterRunAlreadyExists:
            pass

    def _row_to_run(self, row: dict) -> Any:
        run = super()._row_to_run(row)
        if run.is_finished or not terminate_requested(self._spool_dir):
            return run
        # Terminated before execution began (the SIGTERM found no process yet): CANCELED makes
        # the worker skip execution; CANCELING here would make Dagster fail the run as a worker
        # restarted mid-cancel. The agent then ends it RUN_CANCELED (no terminal event of its own).
        if run.status in _NOT_EXECUTING:
            return run.with_status(DagsterRunStatus.CANCELED)
        return run.with_status(DagsterRunStatus.CANCELING)
