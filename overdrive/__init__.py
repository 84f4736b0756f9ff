"""overdrive: a drop-in JIT compiler for CPython 3.11.

    import overdrive
    overdrive.enable()          # compile hot functions to x86-64 from now on
    overdrive.dis(func)         # bytecode beside native code, inline caches, exits
    overdrive.dis_native(func)  # the x86-64 itself (pip install 'overdrive[dis]')

Everything here is a thin, typed front over the C core `_overdrive`. Environment variables
read at import: OVERDRIVE_LOG=compile,exit, OVERDRIVE_LOG_FILE=path, OVERDRIVE_PERF_MAP=1
(see docs/tools.md).
"""
from __future__ import annotations

# Start-up cost: with OVERDRIVE=1 every process imports this package, so it imports nothing
# that `python -c pass` has not already imported (os, sys) besides its own modules and the
# C core; the tools load what they need (dis, json, re, typing, ...) on first use.
# tests/test_startup.py checks it; docs/performance.md, "Start-up cost", has the figures.
import os
import sys

if sys.version_info[:2] != (3, 11):
    raise ImportError("overdrive supports CPython 3.11 only")

import _overdrive

from . import log, perfmap

TYPE_CHECKING = False
if TYPE_CHECKING:
    import types
    from typing import Any, Callable, Dict, Optional, TextIO, Union

    _CodeLike = Union[Callable[..., Any], types.CodeType]

__all__ = ["enable", "disable", "is_enabled", "config", "info", "stats", "reset_stats",
           "compile", "supported_opcodes", "dis", "dis_text", "dis_native", "dis_native_text",
           "dump_native"]

_CodeType = type((lambda: None).__code__)   # types.CodeType, without importing types

# Options and their validators: name -> (type, check, description of what is accepted).
_OPTIONS: Dict[str, tuple] = {
    "threshold": (int, lambda v: v >= 0,
                  "an int >= 0 (interpreted calls before a function is compiled; "
                  "0 compiles everything on first execution)"),
    "max_code_bytes": (int, lambda v: v >= 4096,
                       "an int >= 4096 (bound on executable memory for compiled code)"),
    "recompile_after": (int, lambda v: v >= 0,
                        "an int >= 0 (native entries after which a function is compiled "
                        "once more from what its caches recorded; 0 never recompiles)"),
    "perf_map": (bool, lambda v: True,
                 "True or False (append each compiled function to /tmp/perf-<pid>.map)"),
    "log": (str, lambda v: _is_log_option(v), log.ACCEPTED),
    "log_file": ((str, os.PathLike, type(None)), lambda v: True, log.FILE_ACCEPTED),
}
_config: Dict[str, Any] = {"threshold": 1, "max_code_bytes": 512 << 20,
                           "recompile_after": 1000, "perf_map": False, "log": "",
                           "log_file": None}


def _is_log_option(value: str) -> bool:
    try:
        log.parse_events(value)
    except ValueError:
        return False
    return True


def _validate(name: str, value: Any) -> Any:
    if name not in _OPTIONS:
        raise TypeError(f"unknown overdrive option {name!r}; accepted options: "
                        + ", ".join(sorted(_OPTIONS)))
    typ, check, accepted = _OPTIONS[name]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise TypeError(f"option {name!r} must be {accepted}, not {type(value).__name__}")
    if not check(value):
        raise ValueError(f"option {name!r} must be {accepted}, got {value!r}")
    return value


def _parse_int_option(env_name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{env_name} must be an integer, got {text!r}") from None


def _parse_bool_option(env_name: str, text: str) -> bool:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{env_name} must be 1 or 0 (or true/false, yes/no, on/off), got {text!r}")


def config(**options: Any) -> Dict[str, Any]:
    """Set options (validated all together before any is applied); return the full config."""
    validated = {name: _validate(name, value) for name, value in options.items()}
    if "log" in validated:
        validated["log"] = log.normalize(validated["log"])
    if validated.get("log_file") is not None:
        validated["log_file"] = os.fspath(validated["log_file"])
    new = dict(_config, **validated)
    # The log first: opening its file is the one step that can fail, and then nothing changed.
    if (new["log"], new["log_file"]) != (_config["log"], _config["log_file"]):
        log.apply(new["log"], new["log_file"])
    _overdrive._set_config(new["threshold"], new["max_code_bytes"], new["recompile_after"])
    if new["perf_map"] != _config["perf_map"]:
        perfmap.apply(new["perf_map"], _config["perf_map"])
    _config.update(new)
    return dict(_config)


def enable(**options: Any) -> None:
    """Install the JIT for this interpreter (options as for config())."""
    if options:
        config(**options)
    _overdrive.enable()


def disable() -> None:
    """Stop compiling and running compiled code in new calls."""
    _overdrive.disable()


def is_enabled() -> bool:
    return bool(_overdrive.is_enabled())


def info(func: _CodeLike) -> Dict[str, Any]:
    """What the JIT knows about one function: tier, compiled or why not, counts, exits."""
    return _overdrive.info(_code_of(func))


def stats() -> Dict[str, Any]:
    """Global counters: functions compiled, compile time, code bytes, frames native vs
    interpreted, exits to the interpreter by reason and opcode."""
    return _overdrive.stats()


def reset_stats() -> None:
    _overdrive.reset_stats()


def compile(func: _CodeLike) -> bool:
    """Compile now. Returns True, or raises ValueError saying why it cannot be compiled."""
    ok, why = _overdrive.compile(_code_of(func))
    if not ok:
        raise ValueError(f"cannot compile {getattr(func, '__qualname__', func)!r}: {why}")
    return True


def supported_opcodes() -> list:
    return list(_overdrive.supported_opcodes())


# The tools are in overdrive._dis, imported at their first use (it needs the stdlib's dis,
# dataclasses, json and re, which this package does not import at start-up).

def dis(func: _CodeLike, *, file: Optional[TextIO] = None) -> None:
    """Print the function's bytecode with, per instruction: its source line, the native code
    range it compiled to, what its inline cache has seen, and whether it exits to the
    interpreter (and why). Works for functions not compiled yet too (says why not)."""
    from . import _dis

    _dis.dis(func, file=file)


def dis_text(func: _CodeLike) -> str:
    """The text dis() prints."""
    from . import _dis

    return _dis.dis_text(func)


def dis_native(func: _CodeLike, *, file: Optional[TextIO] = None) -> None:
    """Print the function's machine code as x86-64 assembly, interleaved with the bytecode
    instructions and source lines it came from; calls are named by the runtime helper or
    C-API function they call. Needs capstone (pip install 'overdrive[dis]')."""
    from . import _dis

    _dis.dis_native(func, file=file)


def dis_native_text(func: _CodeLike) -> str:
    """The text dis_native() prints. Raises ImportError (saying what to install) without
    capstone, ValueError if the function is not compiled."""
    from . import _dis

    return _dis.dis_native_text(func)


def dump_native(func: _CodeLike, path: Union[str, os.PathLike[str]]) -> str:
    """Write the function's raw machine code to `path` and a JSON sidecar to path + '.json'
    (load address, per-instruction native offsets, source lines, helper symbol addresses).
    Returns the sidecar's path. Raises ValueError if the function is not compiled."""
    from . import _dis

    return _dis.dump_native(func, path)


def _code_of(func: _CodeLike) -> types.CodeType:
    if isinstance(func, _CodeType):
        return func
    code = getattr(func, "__code__", None)
    if isinstance(code, _CodeType):
        return code
    raise TypeError(f"expected a Python function, method or code object, "
                    f"not {type(func).__name__}")


def _append_stats_line(path: str) -> None:
    # The counters first; then json, with the JIT off: importing it runs re and enum code
    # that the JIT would otherwise compile in every process at exit (it is not imported at
    # start-up any more, docs/performance.md, "Start-up cost").
    record = {"pid": os.getpid(), "argv": sys.argv, "stats": stats()}
    was_enabled = is_enabled()
    _overdrive.disable()
    try:
        import json

        line = json.dumps(record)
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    finally:
        if was_enabled:
            _overdrive.enable()


def _config_from_environment(environ: "os._Environ[str]") -> None:
    """Apply OVERDRIVE_LOG, OVERDRIVE_LOG_FILE and OVERDRIVE_PERF_MAP; a bad value raises
    ValueError naming the variable and what it accepts."""
    options: Dict[str, Any] = {}
    if environ.get("OVERDRIVE_LOG"):
        text = environ["OVERDRIVE_LOG"]
        if not _is_log_option(text):
            raise ValueError(f"OVERDRIVE_LOG must be {log.ACCEPTED}, got {text!r}")
        options["log"] = text
    if environ.get("OVERDRIVE_LOG_FILE"):
        options["log_file"] = environ["OVERDRIVE_LOG_FILE"]
    if "OVERDRIVE_PERF_MAP" in environ:
        options["perf_map"] = _parse_bool_option("OVERDRIVE_PERF_MAP", environ["OVERDRIVE_PERF_MAP"])
    if options:
        config(**options)


_config_from_environment(os.environ)
