"""Dagster Pipes messages carried on a job's log stream (the pattern of Dagster's k8s pod-log reader).

A remote job has no shared filesystem with the orchestrator, but its output is collected anyway:
dstack keeps every job's stdout/stderr. The child's ``open_dagster_pipes()`` is told (through the
``DAGSTER_PIPES_MESSAGES`` bootstrap variable) to write each Pipes message as one JSON line on
stderr; this reader gets the log stream back -- in whatever chunks the log service returns it --
rebuilds lines, hands Pipes messages to Dagster and keeps everything else as plain output.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster_pipes import PIPES_PROTOCOL_VERSION_FIELD, PipesDefaultMessageWriter

#: Line breaks as they arrive from a pseudo-terminal ("\r\n") or a progress bar ("\r").
_LINE_BREAK = re.compile(r"[\r\n]+")
_MESSAGE_START = '{"' + PIPES_PROTOCOL_VERSION_FIELD + '"'


class PipesLogStreamMessageReader(dg.PipesMessageReader):
    """Reads Pipes messages out of a log stream fed to :meth:`consume` in order.

    Args:
        stream: where the child writes messages (``stderr`` or ``stdout``; a job's log usually
            merges both, as dstack's runner does).
        forward: called with each line that is not a Pipes message (e.g. ``context.log.debug``).
        tail_lines: how many such lines to keep for error messages.
    """

    def __init__(self, stream: str = PipesDefaultMessageWriter.STDERR,
                 forward: Callable[[str], None] | None = None, tail_lines: int = 40) -> None:
        self.stream = stream
        self.forward = forward
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._pending = ""
        self._handler: Any = None
        self.messages_read = 0

    @contextmanager
    def read_messages(self, handler: Any) -> Iterator[dict[str, Any]]:
        """Yields the writer params for the child; messages are handled as logs are consumed."""
        self._handler = handler
        try:
            yield {PipesDefaultMessageWriter.STDIO_KEY: self.stream}
        finally:
            self.flush()
            self._handler = None

    def consume(self, chunk: bytes | str) -> None:
        """Feeds the next piece of the log stream (chunks need not end at line breaks)."""
        text = chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else chunk
        parts = _LINE_BREAK.split(self._pending + text)
        self._pending = parts.pop()  # text after the last break: an unfinished line
        for line in parts:
            self._line(line)

    def flush(self) -> None:
        """Handles an unfinished last line (the stream has ended)."""
        if self._pending:
            line, self._pending = self._pending, ""
            self._line(line)

    def tail(self) -> list[str]:
        """The last plain (non-message) lines, for error messages."""
        return list(self._tail)

    def no_messages_debug_text(self) -> str:
        """What Dagster says when no Pipes message arrived (where to look)."""
        return (f"Attempted to read Pipes messages from the job's log stream ({self.stream}); "
                "check the job's logs (`dstack logs <run>`).")

    def _line(self, line: str) -> None:
        # A message may follow other output on the same line (a progress bar without a newline).
        start = line.find(_MESSAGE_START)
        if start >= 0 and self._handler is not None:
            try:
                message = json.loads(line[start:])
            except ValueError:
                message = None
            if isinstance(message, dict) and PIPES_PROTOCOL_VERSION_FIELD in message:
                self.messages_read += 1
                self._handler.handle_message(message)
                line = line[:start]
        if line.strip():
            self._tail.append(line)
            if self.forward is not None:
                self.forward(line)


def whole_lines(path: str, should_stop: Callable[[], bool], poll_s: float = 0.01) -> Iterator[str]:
    """The lines of a file another process appends to, each only once it is whole.

    Dagster's own file tailing hands on what ``readline`` returns at the end of the file, which can
    be half a line: a message longer than the writer's buffer arrives in several writes. Parsed
    half-way, it fails, the reader thread dies and every later message (benchmark rows) is lost.
    After ``should_stop`` (the writer has exited) the rest of the file is read, a last unterminated
    line included.
    """
    pending = ""
    with open(path, encoding="utf-8") as stream:
        while True:
            chunk = stream.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    yield pending
                    pending = ""
            elif should_stop():
                if pending.strip():
                    yield pending
                return
            else:
                time.sleep(poll_s)


class WholeLineTempFileMessageReader(dg.PipesMessageReader):
    """``dg.PipesTempFileMessageReader`` that parses only whole lines (:func:`whole_lines`): the
    local launcher's reader of the harness's Pipes messages."""

    @contextmanager
    def read_messages(self, handler: Any) -> Iterator[dict[str, Any]]:
        """Tails a fresh temporary file on a thread for the session's length; yields where to write."""
        closed = threading.Event()
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "messages")
            open(path, "w", encoding="utf-8").close()

            def read() -> None:
                try:
                    for line in whole_lines(path, closed.is_set):
                        handler.handle_message(json.loads(line))
                except Exception:
                    handler.report_pipes_framework_exception(f"{type(self).__name__} reader thread", sys.exc_info())
                    raise

            thread = threading.Thread(target=read, daemon=True)
            thread.start()
            try:
                yield {PipesDefaultMessageWriter.FILE_PATH_KEY: path,
                       PipesDefaultMessageWriter.INCLUDE_STDIO_IN_MESSAGES_KEY: False}
            finally:
                closed.set()
                thread.join()

    def no_messages_debug_text(self) -> str:
        """What the session says when no message arrived."""
        return "Attempted to read messages from a local temporary file (whole lines only)."
