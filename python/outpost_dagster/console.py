"""Keeps Dagster's console echo out of the run's stderr.

A job without loggers of its own gets Dagster's colored console logger, which writes one
formatted line per event to stderr: a duplicate of the structured events in `events.jsonl`
that would otherwise read as user output. When the agent names a file in
OUTPOST_DAGSTER_CONSOLE_LOG, the console logger writes there instead (same lines, nothing lost);
the user's own prints and stderr writes stay in stderr.log. Any failure here leaves Dagster as is.
"""

from __future__ import annotations

import logging
import os

ENV = "OUTPOST_DAGSTER_CONSOLE_LOG"
_installed = False


def redirect_console_echo() -> None:
    """Idempotent; called when the storages load, which is before any run logger exists."""
    global _installed
    path = os.environ.get(ENV)
    if _installed or not path:
        return
    try:
        import dagster._loggers as loggers_module  # long-lived: the console logger's home since 0.x

        original = loggers_module.create_console_logger
    except (ImportError, AttributeError):
        return

    def create_console_logger(name: str, level: object) -> logging.Logger:
        logger = original(name, level)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                logger.removeHandler(handler)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                file_handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
                file_handler.setFormatter(handler.formatter)  # as stderr got it (not a tty: no colors)
                file_handler.setLevel(handler.level)
                logger.addHandler(file_handler)
        return logger

    loggers_module.create_console_logger = create_console_logger
    _installed = True
