"""Dagster EventLogEntry -> Outpost RunEvent (src/shared/run-events.ts).

Run and step lifecycle events keep their meaning, `context.log` lines (no dagster_event) become
LOG, and every other Dagster event becomes ENGINE with its Dagster type in `data`. The full entry
rides along as serdes JSON under `data.dagster`, so nothing Dagster said is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from dagster import EventLogEntry
from dagster._serdes import serialize_value

TYPE_MAP = {
    "PIPELINE_START": "RUN_START",
    "PIPELINE_SUCCESS": "RUN_SUCCESS",
    "PIPELINE_FAILURE": "RUN_FAILURE",
    "PIPELINE_CANCELED": "RUN_CANCELED",
    "STEP_START": "STEP_START",
    "STEP_OUTPUT": "STEP_OUTPUT",
    "STEP_SUCCESS": "STEP_SUCCESS",
    "STEP_FAILURE": "STEP_FAILURE",
}


def _level(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


def _error(dagster_event: Any) -> dict[str, str] | None:
    """The SerializableErrorInfo of a failure event, as Outpost's SerializedError."""
    info = getattr(getattr(dagster_event, "event_specific_data", None), "error", None)
    if info is None:
        return None
    name = getattr(info, "cls_name", None) or "Error"
    return {
        "name": name,
        "message": (getattr(info, "message", "") or "").strip(),
        "stack": "".join(getattr(info, "stack", []) or []),
    }


def to_run_event(entry: EventLogEntry) -> dict[str, Any]:
    dagster_event = entry.dagster_event
    dagster_type = dagster_event.event_type_value if dagster_event else None
    event: dict[str, Any] = {
        "type": TYPE_MAP.get(dagster_type or "", "ENGINE") if dagster_event else "LOG",
        "timestamp": int(entry.timestamp * 1000),
        "level": _level(entry.level if isinstance(entry.level, int) else logging.INFO),
        "message": (dagster_event.message if dagster_event and dagster_event.message else entry.user_message) or "",
        "data": {"dagsterEventType": dagster_type, "dagster": serialize_value(entry)},
    }
    step_key = entry.step_key or (dagster_event.step_key if dagster_event else None)
    if step_key:
        event["stepKey"] = step_key
    error = _error(dagster_event) if dagster_event else None
    if error:
        event["error"] = error
    return event
