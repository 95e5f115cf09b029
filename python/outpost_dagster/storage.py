"""Storages named from a run's dagster.yaml.

SpoolEventLogStorage keeps Dagster's own SQLite event log (the worker reads its events back for
step stats, retries and asset queries) and appends each event to Outpost's spool.
CancelAwareRunStorage reports a run CANCELING while the agent's cancel marker exists, so the
worker, interrupted by SIGTERM, ends the run CANCELED rather than FAILURE.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from dagster import DagsterRunStatus, EventLogEntry, StringSource
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.runs import SqliteRunStorage
from dagster._serdes import ConfigurableClassData

from outpost_dagster.event_mapping import to_run_event
from outpost_dagster.spool import SpoolWriter

CANCEL_MARKER = "cancel.requested"


class SpoolEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, spool_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
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
        super().store_event(event)
        self._spool.append(to_run_event(event))


class CancelAwareRunStorage(SqliteRunStorage):
    _spool_dir: str = ""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": StringSource, "spool_dir": StringSource}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "CancelAwareRunStorage":
        storage = cls.from_local(base_dir=config_value["base_dir"], inst_data=inst_data)
        storage._spool_dir = config_value["spool_dir"]
        return storage

    def _row_to_run(self, row: dict) -> Any:
        run = super()._row_to_run(row)
        if (
            self._spool_dir
            and not run.is_finished
            and os.path.exists(os.path.join(self._spool_dir, CANCEL_MARKER))
        ):
            return run.with_status(DagsterRunStatus.CANCELING)
        return run
