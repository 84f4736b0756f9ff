"""overdrive: a drop-in JIT compiler for CPython 3.11.

    import overdrive
    overdrive.enable()          # compile hot functions to x86-64 from now on

Everything here is a thin, typed front over the C core `_overdrive`.
"""
from __future__ import annotations

import json
import os
import sys
import types
from typing import Any, Callable, Dict, Union

if sys.version_info[:2] != (3, 11):
    raise ImportError("overdrive supports CPython 3.11 only")

import _overdrive

__all__ = ["enable", "disable", "is_enabled", "config", "info", "stats", "reset_stats",
           "compile", "supported_opcodes"]

_CodeLike = Union[Callable[..., Any], types.CodeType]

# Options and their validators: name -> (type, check, description of what is accepted).
_OPTIONS: Dict[str, tuple] = {
    "threshold": (int, lambda v: v >= 0,
                  "an int >= 0 (interpreted calls before a function is compiled; "
                  "0 compiles everything on first execution)"),
    "max_code_bytes": (int, lambda v: v >= 4096,
                       "an int >= 4096 (bound on executable memory for compiled code)"),
}
_config: Dict[str, Any] = {"threshold": 1, "max_code_bytes": 512 << 20}


def _validate(name: str, value: Any) -> Any:
    if name not in _OPTIONS:
        raise TypeError(f"unknown overdrive option {name!r}; accepted options: "
                        + ", ".join(sorted(_OPTIONS)))
    typ, check, accepted = _OPTIONS[name]
    if not isinstance(value, typ) or isinstance(value, bool):
        raise TypeError(f"option {name!r} must be {accepted}, not {type(value).__name__}")
    if not check(value):
        raise ValueError(f"option {name!r} must be {accepted}, got {value!r}")
    return value


def _parse_int_option(env_name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{env_name} must be an integer, got {text!r}") from None


def config(**options: Any) -> Dict[str, Any]:
    """Set options (validated all together before any is applied); return the full config."""
    validated = {name: _validate(name, value) for name, value in options.items()}
    new = dict(_config, **validated)
    _overdrive._set_config(new["threshold"], new["max_code_bytes"])
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


def _code_of(func: _CodeLike) -> types.CodeType:
    if isinstance(func, types.CodeType):
        return func
    code = getattr(func, "__code__", None)
    if isinstance(code, types.CodeType):
        return code
    raise TypeError(f"expected a Python function, method or code object, "
                    f"not {type(func).__name__}")


def _append_stats_line(path: str) -> None:
    line = json.dumps({"pid": os.getpid(), "argv": sys.argv, "stats": stats()})
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
