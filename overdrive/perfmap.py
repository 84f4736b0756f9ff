"""Perf maps: name compiled code for perf(1) and other native profilers.

    OVERDRIVE_PERF_MAP=1 python -m overdrive app.py
    overdrive.config(perf_map=True)

While on, every compile appends one line to /tmp/perf-<pid>.map, the file perf reads to
symbolize code that no ELF file describes:

    START SIZE py::QUALNAME:FILE:LINE        (START and SIZE in hex)

The C core writes the lines (at compile time, with no Python code running) and takes the
pid at each write, so forked workers (gunicorn, multiprocessing) each get their own map.
Switching the map on also writes the lines of functions compiled before, found among the
live function objects. The map is never truncated or deleted by overdrive: perf expects it
to outlive the process.
"""

import os

import _overdrive

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional

    from ._records import Entry


def path(pid: "Optional[int]" = None) -> str:
    """Where the map of process `pid` (default: this one) is written."""
    return f"/tmp/perf-{os.getpid() if pid is None else pid}.map"


def apply(on: bool, was_on: bool) -> None:
    _overdrive._set_perf_map(on)
    if on and not was_on and _overdrive.stats()["functions_compiled"]:
        _add_already_compiled()


def _add_already_compiled() -> None:
    """Lines for code compiled while the map was off: every live function's code object
    (code without a live function, such as a finished module body, has no caller left)."""
    import gc
    import types

    seen = set()
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType):
            code = obj.__code__
            if id(code) not in seen:
                seen.add(id(code))
                _overdrive._perf_map_add(code)


def read(pid: "Optional[int]" = None) -> "List[Entry]":
    """The entries of a perf map (of `pid`, default this process); [] if there is none."""
    from ._records import Entry

    entries = []
    try:
        with open(path(pid), encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 2)
                if len(parts) == 3:
                    entries.append(Entry(int(parts[0], 16), int(parts[1], 16), parts[2]))
    except FileNotFoundError:
        pass
    return entries


def __getattr__(name: str) -> "Any":
    # overdrive.perfmap.Entry, the type of read()'s items, is defined in overdrive._records
    # (a NamedTuple needs typing, which `import overdrive` does not import).
    if name == "Entry":
        from ._records import Entry

        return Entry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
