"""Progress of CLI commands that wait (Metabase start-up, its schema sync): the provider's INFO log
lines on stderr, so stdout stays clean for ``--json``. On a terminal each line replaces the last."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


class _ProgressHandler(logging.Handler):
    def __init__(self, stream, started: float):
        super().__init__(logging.INFO)
        self.stream = stream
        self.started = started
        self.live = stream.isatty()
        self.pending_newline = False

    def emit(self, record: logging.LogRecord) -> None:
        text = f"[{time.monotonic() - self.started:5.1f}s] {record.getMessage()}"
        if self.live:
            self.stream.write("\r\033[K" + text)
            self.pending_newline = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.pending_newline:
            self.stream.write("\n")
            self.stream.flush()


@contextmanager
def progress(logger_name: str = "dango_provider", stream=None) -> Iterator[None]:
    """Show what the provider logs at INFO while the block runs."""
    handler = _ProgressHandler(stream or sys.stderr, time.monotonic())
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.finish()
