"""Outpost's capture of Dagster run events into Outpost's run spool.

Put on PYTHONPATH of a Dagster run worker (never pip-installed into the user's environment) and
named from the run's dagster.yaml. Imports only public or long-lived Dagster modules so one copy
works from dagster 1.9 to 1.13.
"""

__all__ = ["SpoolWriter", "to_run_event"]

from outpost_dagster.event_mapping import to_run_event
from outpost_dagster.spool import SpoolWriter
