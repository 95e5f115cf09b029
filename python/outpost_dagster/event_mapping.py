"""Dagster EventLogEntry -> Outpost RunEvent (src/shared/run-events.ts).

Run and step lifecycle events keep their meaning, asset materializations and observations are
first-class (with `assetKey`, path parts joined by '/'), `context.log` lines (no dagster_event)
become LOG, and every other Dagster event becomes ENGINE with its Dagster type in `data`. A step
that Dagster reports failed because the run was interrupted while the agent had asked to
terminate it is STEP_CANCELED, not a failure. The full entry rides along as serdes JSON under
`data.dagster`, so nothing Dagster said is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from dagster import EventLogEntry
from dagster._serdes import serialize_value

# Dagster's event type values kept their legacy PIPELINE_* spelling on the wire.
TYPE_MAP = {
    "PIPELINE_START": "RUN_START",
    "PIPELINE_SUCCESS": "RUN_SUCCESS",
    "PIPELINE_FAILURE": "RUN_FAILURE",
    "PIPELINE_CANCELED": "RUN_CANCELED",
    "RUN_START": "RUN_START",
    "RUN_SUCCESS": "RUN_SUCCESS",
    "RUN_FAILURE": "RUN_FAILURE",
    "RUN_CANCELED": "RUN_CANCELED",
    "STEP_START": "STEP_START",
    "STEP_OUTPUT": "STEP_OUTPUT",
    "STEP_SUCCESS": "STEP_SUCCESS",
    "STEP_FAILURE": "STEP_FAILURE",
    "ASSET_MATERIALIZATION": "ASSET_MATERIALIZATION",
    "ASSET_OBSERVATION": "ASSET_OBSERVATION",
}

# How Dagster marks a step stopped by SIGTERM/SIGINT (ErrorSource.INTERRUPT, since 0.x).
INTERRUPTED_ERRORS = frozenset({"DagsterExecutionInterruptedError", "KeyboardInterrupt"})


def _level(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


CAUSED_BY = "The above exception was caused by the following exception:"
DURING = "The above exception occurred during handling of the following exception:"
# A cycle cannot be serialized, but a deep chain can be long: the first few links say enough.
MAX_CHAINED = 10


def _error(dagster_event: Any) -> dict[str, str] | None:
    """The SerializableErrorInfo of a failure event, as Outpost's SerializedError.

    Its cause (or, without one, its context) is chained into the message and the stack with
    Python's and Dagster's own words: an op's plain exception arrives wrapped in
    DagsterExecutionStepExecutionError, and the user's exception is only its cause.
    """
    info = getattr(getattr(dagster_event, "event_specific_data", None), "error", None)
    if info is None:
        return None
    name = getattr(info, "cls_name", None) or "Error"
    message = (getattr(info, "message", "") or "").strip()
    stack = "".join(getattr(info, "stack", []) or [])
    link = info
    for _ in range(MAX_CHAINED):
        cause = getattr(link, "cause", None)
        context = None if cause else getattr(link, "context", None)
        link = cause or context
        if link is None:
            break
        header = CAUSED_BY if cause else DURING
        text = (getattr(link, "message", "") or "").strip()
        message += f"\n\n{header}\n{text}"
        stack += f"\n{header}\n{text}\n" + "".join(getattr(link, "stack", []) or [])
    return {"name": name, "message": message, "stack": stack}


def _interrupted(dagster_event: Any) -> bool:
    data = getattr(dagster_event, "event_specific_data", None)
    source = getattr(getattr(data, "error_source", None), "value", None)
    cls_name = getattr(getattr(data, "error", None), "cls_name", None)
    return source == "INTERRUPT" or cls_name in INTERRUPTED_ERRORS


def _asset_key(dagster_event: Any) -> str | None:
    try:
        key = dagster_event.asset_key
    except Exception:  # noqa: BLE001 - an event without one raises on some versions
        return None
    path = getattr(key, "path", None)
    return "/".join(path) if path else None


def to_run_event(entry: EventLogEntry, terminating: bool = False) -> dict[str, Any]:
    """`terminating`: the agent asked to terminate the run (its marker is in the spool)."""
    dagster_event = entry.dagster_event
    dagster_type = dagster_event.event_type_value if dagster_event else None
    outpost_type = TYPE_MAP.get(dagster_type or "", "ENGINE") if dagster_event else "LOG"
    if outpost_type == "STEP_FAILURE" and terminating and _interrupted(dagster_event):
        outpost_type = "STEP_CANCELED"
    event: dict[str, Any] = {
        "type": outpost_type,
        "timestamp": int(entry.timestamp * 1000),
        "level": _level(entry.level if isinstance(entry.level, int) else logging.INFO),
        "message": (dagster_event.message if dagster_event and dagster_event.message else entry.user_message) or "",
        "data": {"dagsterEventType": dagster_type, "dagster": serialize_value(entry)},
    }
    step_key = entry.step_key or (dagster_event.step_key if dagster_event else None)
    if step_key:
        event["stepKey"] = step_key
    if outpost_type in ("ASSET_MATERIALIZATION", "ASSET_OBSERVATION"):
        asset_key = _asset_key(dagster_event)
        if asset_key:
            event["assetKey"] = asset_key
    error = _error(dagster_event) if dagster_event and outpost_type != "STEP_CANCELED" else None
    if error:
        event["error"] = error
    return event
