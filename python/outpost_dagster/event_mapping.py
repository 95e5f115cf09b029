"""Dagster EventLogEntry -> Outpost RunEvent (src/shared/run-events.ts).

Run and step lifecycle events keep their meaning, asset materializations and observations are
first-class (with `assetKey`, path parts joined by '/'), `context.log` lines (no dagster_event)
become LOG, and every other Dagster event becomes ENGINE with its Dagster type in `data`. A step
that Dagster reports failed because the run was interrupted while the agent had asked to
terminate it is STEP_CANCELED, not a failure. The full entry rides along as serdes JSON under
`data.dagster`, so nothing Dagster said is lost.

The metadata the user attached (an asset's `Output`/`MaterializeResult` metadata, an
observation's, an asset check's, a `Failure`'s) is also `data.metadata`, plain JSON by label, so
that the UI and API show it without decoding the serdes record. An asset check evaluation says
`data.assetCheck` (name, asset key, passed, severity), and a failed one is logged at its
severity's level (warn or error) instead of Dagster's debug, so that it is not lost among them.
"""

from __future__ import annotations

import json
import logging
import math
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


# `data.metadata` is a copy of what the serdes record already holds: past this many bytes of JSON
# the remaining entries are left to the record (an event line is at most 8 MiB for the agent).
METADATA_MAX_BYTES = 64 * 1024
# Nested values deeper than this are shown as their text (a value is user data: no recursion limit
# of its own).
MAX_DEPTH = 20


def _plain(value: Any, depth: int = 0) -> Any:
    """A metadata value as JSON: numbers, text, lists and objects as they are; an asset key as
    its `/`-joined path; a table as its records; a table schema as its columns; a float that
    JSON cannot hold (nan, inf) and anything else as its text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_DEPTH:
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    # Dagster's values are NamedTuples (`@record`s refuse iteration): ask for their fields first.
    path = getattr(value, "path", None)
    if type(path) in (list, tuple) and all(isinstance(p, str) for p in path):
        return "/".join(path)
    records = getattr(value, "records", None)
    if type(records) in (list, tuple):
        return {"records": [_plain(getattr(r, "data", r), depth + 1) for r in records]}
    columns = getattr(value, "columns", None)
    if type(columns) in (list, tuple):
        return {"columns": [{"name": getattr(c, "name", None), "type": getattr(c, "type", None)} for c in columns]}
    if type(value) in (list, tuple):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


# The events whose metadata the user wrote (engine events carry Dagster's own: pids, step keys).
USER_METADATA_EVENTS = frozenset(
    {"ASSET_MATERIALIZATION", "ASSET_OBSERVATION", "ASSET_CHECK_EVALUATION", "STEP_FAILURE", "STEP_OUTPUT"}
)


def _metadata_of(dagster_event: Any) -> Any:
    """The user's metadata the event carries (a dict of MetadataValue by label), if any."""
    if dagster_event.event_type_value not in USER_METADATA_EVENTS:
        return None
    data = getattr(dagster_event, "event_specific_data", None)
    for holder in (
        getattr(data, "materialization", None),  # ASSET_MATERIALIZATION
        getattr(data, "asset_observation", None),  # ASSET_OBSERVATION
        getattr(data, "user_failure_data", None),  # STEP_FAILURE raised as Failure(metadata=...)
        data,  # ASSET_CHECK_EVALUATION, STEP_OUTPUT
    ):
        metadata = getattr(holder, "metadata", None)
        if isinstance(metadata, dict) and metadata:
            return metadata
    return None


def _metadata(dagster_event: Any) -> tuple[dict[str, Any], int] | None:
    """`{label: value}` within METADATA_MAX_BYTES, and how many entries did not fit."""
    metadata = _metadata_of(dagster_event)
    if not metadata:
        return None
    out: dict[str, Any] = {}
    size = 2
    left = 0
    for label, value in metadata.items():
        plain = _plain(getattr(value, "value", value))
        cost = len(json.dumps({str(label): plain}, allow_nan=False))
        if size + cost > METADATA_MAX_BYTES:
            left += 1
            continue
        out[str(label)] = plain
        size += cost
    return out, left


def _asset_check(dagster_event: Any) -> dict[str, Any] | None:
    data = getattr(dagster_event, "event_specific_data", None)
    name = getattr(data, "check_name", None)
    if not isinstance(name, str):
        return None
    severity = getattr(getattr(data, "severity", None), "value", None)
    return {
        "name": name,
        "assetKey": "/".join(getattr(getattr(data, "asset_key", None), "path", None) or []),
        "passed": bool(getattr(data, "passed", False)),
        "severity": severity if isinstance(severity, str) else "ERROR",
    }


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
    if dagster_event is None:
        return event
    try:
        metadata = _metadata(dagster_event)
    except Exception:  # noqa: BLE001 - a copy for display: never fail the user's step over it
        metadata = None
    if metadata:
        event["data"]["metadata"], left = metadata
        if left:
            event["data"]["metadataLeftOut"] = {"entries": left, "limitBytes": METADATA_MAX_BYTES}
    if dagster_type == "ASSET_CHECK_EVALUATION":
        check = _asset_check(dagster_event)
        if check:
            event["data"]["assetCheck"] = check
            # Keyed by the checked asset: the control plane indexes it as the asset's check.
            if check["assetKey"]:
                event["assetKey"] = check["assetKey"]
            if not check["passed"]:
                event["level"] = "warn" if check["severity"] == "WARN" else "error"
    return event
