"""The JIT's log: one line per compile and per exit from compiled code to the interpreter.

    OVERDRIVE_LOG=compile,exit python -m overdrive app.py
    overdrive.config(log="compile,exit", log_file="/tmp/jit.log")

Lines (written by the C core with one write(2) each, so no Python code runs while the JIT
is compiling or leaving compiled code):

    overdrive: compiled QUALNAME (FILE:LINE) tier T: N bytes, M instructions, U us
    overdrive: exit QUALNAME (FILE:LINE) at offset O OPNAME: REASON (description)

`exit` lines name the line and bytecode offset where the interpreter resumes and the
instruction that caused the exit. The log goes to stderr (file descriptor 2) unless
log_file names a file, which is appended to.
"""

import os

import _overdrive

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, FrozenSet, Iterator, Optional, Union

    from ._records import Line

EVENTS = ("compile", "exit")
ACCEPTED = ("a comma-separated str of events from " + ", ".join(repr(e) for e in EVENTS)
            + " (or '' to switch the log off)")
FILE_ACCEPTED = "a path (str or os.PathLike) to append the log to, or None for stderr"


def parse_events(value: str) -> "FrozenSet[str]":
    """The set of events named in `value`; ValueError naming what is accepted otherwise."""
    names = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [n for n in names if n not in EVENTS]
    if unknown:
        raise ValueError(f"unknown log event {unknown[0]!r}; accepted: {ACCEPTED}")
    return frozenset(names)


def normalize(value: str) -> str:
    """Canonical spelling of a valid log option (events in a fixed order, no repeats)."""
    chosen = parse_events(value)
    return ",".join(e for e in EVENTS if e in chosen)


def open_file(events: str, log_file: "Optional[str]") -> "Optional[BinaryIO]":
    """The file the log of `events` (a valid option value) goes to, opened for appending
    (OSError if it cannot be), or None: stderr, or the log off."""
    if not parse_events(events) or log_file is None:
        return None
    return open(log_file, "ab", buffering=0)


def switch(events: str, file: "Optional[BinaryIO]") -> None:
    """Switch the log to `events`, written to `file` (from open_file; the caller closes it:
    the C core writes to its own duplicate of the descriptor) or to stderr."""
    chosen = parse_events(events)
    _overdrive._set_log("compile" in chosen, "exit" in chosen,
                        file.fileno() if file is not None else 2)


def apply(events: str, log_file: 'Optional[Union[str, "os.PathLike[str]"]]') -> None:
    """Switch the log to `events` (a normalized option value), written to log_file or stderr."""
    file = open_file(events, None if log_file is None else os.fspath(log_file))
    try:
        switch(events, file)
    finally:
        if file is not None:
            file.close()


_LINE_PATTERN = r"^overdrive: (compiled|exit) (.+?) \((.*):(-?\d+)\) (.*)$"


def parse(text: str) -> "Iterator[Line]":
    """The log lines in `text` (other lines are skipped), e.g. for tests and tools."""
    # re and Line (a NamedTuple, so typing) are imported here, not at `import overdrive`.
    import re

    from ._records import Line

    pattern = re.compile(_LINE_PATTERN)
    for raw in text.splitlines():
        m = pattern.match(raw)
        if m:
            event = "compile" if m.group(1) == "compiled" else "exit"
            yield Line(event, m.group(2), m.group(3), int(m.group(4)), m.group(5))


def __getattr__(name: str) -> "Any":
    # overdrive.log.Line, the type of parse()'s items, is defined in overdrive._records.
    if name == "Line":
        from ._records import Line

        return Line
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
