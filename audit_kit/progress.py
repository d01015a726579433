"""What `audit-kit run` shows while it works: plain lines, or tqdm bars on a terminal.

`Lines` prints the run's plain lines (what the console shows when stdout is not a terminal: a log,
CI, a pipe; tests pin them). `Bars` prints the same lines above two tqdm bars: one over the files
ingest reads (file name and rows once read) and one over the modules (which are done, which are
running). `for_stream` picks one by whether the stream is a terminal.

The runner calls `line` for every plain line, `file` from ingest's hook (`ingest(config, on_file=...)`)
and `stage` / `running` / `advance` / `close` around the modules.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Callable, TextIO


class Lines:
    """Plain lines only; every other call is a no-op."""

    def __init__(self, emit: Callable[[str], None] = print):
        self.emit = emit

    def line(self, text: str) -> None:
        self.emit(text)

    def stage(self, name: str, total: int) -> None:
        """A stage with `total` steps begins (ingest: files; modules: notebooks)."""

    def file(self, table: str, path: Path, rows: int | None) -> None:
        """Ingest's hook: `rows` is None when the file starts, its rows read when it is done."""

    def running(self, names: list[str]) -> None:
        """The modules executing now."""

    def advance(self, note: str = "") -> None:
        """One step of the stage done (`note`: what it was)."""

    def close(self) -> None:
        """The stage is over."""


class Bars(Lines):
    """tqdm bars on `stream` (a terminal); the plain lines are written above them."""

    def __init__(self, stream: TextIO):
        super().__init__(lambda text: self._write(text))
        self.stream = stream
        self.bar = None
        self.done: list[str] = []
        self.rows = 0

    def _write(self, text: str) -> None:
        from tqdm import tqdm

        tqdm.write(text, file=self.stream)

    def stage(self, name: str, total: int) -> None:
        from tqdm import tqdm

        self.close()
        self.done, self.rows = [], 0
        size = {} if _sized(self.stream) else {"ncols": 100, "nrows": 24}
        self.bar = tqdm(total=total, desc=name, file=self.stream, leave=False, dynamic_ncols=not size, **size,
                        bar_format="{desc}: {n}/{total} {bar} {elapsed}{postfix}")

    def file(self, table: str, path: Path, rows: int | None) -> None:
        if self.bar is None:
            return
        if rows is None:
            self.bar.set_postfix_str(f"{self.rows:,} rows; reading {table}: {path.name}")
        else:
            self.rows += rows
            self.bar.set_postfix_str(f"{self.rows:,} rows; {table}: {path.name} {rows:,}", refresh=False)
            self.bar.update(1)

    def running(self, names: list[str]) -> None:
        if self.bar is not None:
            done = f"done: {', '.join(self.done)}; " if self.done else ""
            self.bar.set_postfix_str(f"{done}running: {', '.join(names) or '-'}")

    def advance(self, note: str = "") -> None:
        if self.bar is not None:
            if note:
                self.done.append(note)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _sized(stream: TextIO) -> bool:
    """Whether the terminal tells its size (the bars then follow it). A terminal of no size (a
    pseudo-terminal nobody sized) gets 100 × 24: tqdm would take it for a screen of no rows and hide
    the bars."""
    import os

    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False
    return size.columns > 0 and size.lines > 0


def for_stream(stream: TextIO = sys.stdout) -> Lines:
    """Bars when `stream` is a terminal, plain lines (flushed at once) otherwise."""
    if stream.isatty():
        return Bars(stream)
    return Lines(lambda text: print(text, file=stream, flush=True))


def as_progress(progress: Lines | Callable[[str], None]) -> Lines:
    """A `Lines` (or `Bars`) as given; a plain callable receives the plain lines."""
    return progress if isinstance(progress, Lines) else Lines(progress)
