"""The record types the tools return: overdrive.log.Line and overdrive.perfmap.Entry.

They live here, imported at their first use, because a NamedTuple needs typing, which
`import overdrive` does not import (docs/performance.md, "Start-up cost"). Each keeps the
module name it is known by, so its repr and pickling say overdrive.log / overdrive.perfmap.
"""
from __future__ import annotations

from typing import NamedTuple


class Line(NamedTuple):
    """One parsed log line."""
    __module__ = "overdrive.log"

    event: str              # "compile" or "exit"
    function: str
    filename: str
    line: int
    detail: str             # the rest: size/time for compiles, offset/opcode/reason for exits


class Entry(NamedTuple):
    """One line of a perf map: code at [start, start + size) named `name`."""
    __module__ = "overdrive.perfmap"

    start: int
    size: int
    name: str

    def __contains__(self, address: object) -> bool:
        return isinstance(address, int) and self.start <= address < self.start + self.size
