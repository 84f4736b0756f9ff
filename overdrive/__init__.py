"""overdrive: a drop-in JIT compiler for CPython 3.11.

    import overdrive
    overdrive.enable()          # compile hot functions to x86-64 from now on
    overdrive.dis(func)         # bytecode beside native code, inline caches, exits
    overdrive.dis_native(func)  # the x86-64 itself (pip install 'overdrive[dis]')

Everything here is a thin, typed front over the C core `_overdrive`. Environment variables
read at import: OVERDRIVE_LOG=compile,exit, OVERDRIVE_LOG_FILE=path, OVERDRIVE_PERF_MAP=1
(see docs/tools.md), OVERDRIVE_TIER2_THRESHOLD=N (docs/tier2.md).
"""

# Start-up cost: with OVERDRIVE=1 every process imports this package, so it imports nothing
# that `python -c pass` has not already imported (os, sys) besides the C core, and holds
# only what start-up runs: the option machinery (overdrive._options), the tools
# (overdrive._tools, then overdrive._dis with dis, json, re, ...), the log and perf map
# modules and the stats-file writer (overdrive._statsfile) are imported when first used.
# tests/test_startup.py checks it; docs/performance.md, "Start-up cost", has the figures.
import os
import sys

if sys.version_info[:2] != (3, 11):
    raise ImportError("overdrive supports CPython 3.11 only")


def _load_core():
    """The C core `_overdrive`, a top-level module installed beside this package. Loaded
    from there directly: `import _overdrive` would look for it in every sys.path entry
    before site-packages first (200K instructions at each start-up under OVERDRIVE=1). A
    core found elsewhere (a source tree, an editable install) is imported as usual; either
    way `import _overdrive` finds it in sys.modules afterwards."""
    core = sys.modules.get("_overdrive")
    if core is not None:
        return core
    import _imp

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                        "_overdrive" + _imp.extension_suffixes()[0])
    if os.path.isfile(path):
        bootstrap = sys.modules["_frozen_importlib"]
        loader = sys.modules["_frozen_importlib_external"].ExtensionFileLoader("_overdrive", path)
        return bootstrap._load(bootstrap.spec_from_loader("_overdrive", loader, origin=path))
    import _overdrive

    return _overdrive


_overdrive = _load_core()

TYPE_CHECKING = False
if TYPE_CHECKING:
    import types
    from typing import Any, Callable, Dict, List, Tuple, Union

    _CodeLike = Union[Callable[..., Any], types.CodeType]

__all__ = ["enable", "disable", "is_enabled", "config", "info", "stats", "reset_stats",
           "compile", "supported_opcodes", "dis", "dis_text", "dis_native", "dis_native_text",
           "dump_native", "tier2_passes"]

_CodeType = type((lambda: None).__code__)   # types.CodeType, without importing types

# Names defined by a module imported on first use: name -> module (None: the submodule of
# that name). The public ones are in __all__ and dir(); the private ones are for the
# package's own tools and tests.
_LAZY = {"dis": "_tools", "dis_text": "_tools", "dis_native": "_tools",
         "dis_native_text": "_tools", "dump_native": "_tools",
         "log": None, "perfmap": None,
         "_OPTIONS": "_options", "_validate": "_options", "_from_text": "_options",
         "_APPENDABLE": "_options", "_config_from_environment": "_options"}
_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False, "": False}
_BOOL_ACCEPTED = "1 or 0 (or true/false, yes/no, on/off)"


def __getattr__(name: str) -> "Any":
    """The names of _LAZY, imported on first use (not at start-up)."""
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    __import__(f"{__name__}.{module or name}")       # (importlib would import more)
    value = sys.modules[f"{__name__}.{module or name}"]
    if module is not None:
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> "List[str]":
    return sorted(set(globals()) | set(__all__) | {"log", "perfmap"})


def _parse_bool_option(label: str, text: str) -> bool:
    word = text.strip().lower()
    if word not in _BOOL_WORDS:
        raise ValueError(f"{label} must be {_BOOL_ACCEPTED}, got {_shown(text)}")
    return _BOOL_WORDS[word]


def _shown(value: "Any") -> str:
    from ._options import _shown

    return _shown(value)


def config(**options: "Any") -> "Dict[str, Any]":
    """Set options and return the full config. All are validated before any is applied, and a
    refused call (TypeError or ValueError naming the option and what it accepts) changes
    nothing: not config(), not the JIT's values, not the log, not the perf map."""
    from . import _options

    _options._configure(options)
    return dict(_options._config)


def enable(**options: "Any") -> None:
    """Install the JIT for this interpreter (options as for config())."""
    if options:
        config(**options)
    _overdrive.enable()


def disable() -> None:
    """Stop compiling and running compiled code in new calls."""
    _overdrive.disable()


def is_enabled() -> bool:
    return bool(_overdrive.is_enabled())


def info(func: "_CodeLike") -> "Dict[str, Any]":
    """What the JIT knows about one function: tier, compiled or why not, counts, exits."""
    return _overdrive.info(_code_of(func))


def stats() -> "Dict[str, Any]":
    """Global counters: functions compiled, compile time, code bytes, frames native vs
    interpreted, exits to the interpreter by reason and opcode."""
    return _overdrive.stats()


def reset_stats() -> None:
    _overdrive.reset_stats()


def compile(func: "_CodeLike") -> bool:
    """Compile now. Returns True, or raises ValueError saying why it cannot be compiled."""
    ok, why = _overdrive.compile(_code_of(func))
    if not ok:
        raise ValueError(f"cannot compile {getattr(func, '__qualname__', func)!r}: {why}")
    return True


def supported_opcodes() -> list:
    return list(_overdrive.supported_opcodes())


def tier2_passes() -> "List[Tuple[str, str]]":
    """(name, description) of tier 2's HIR passes, in their default order."""
    return list(_overdrive._tier2_passes())


def _code_of(func: "_CodeLike") -> "types.CodeType":
    if isinstance(func, _CodeType):
        return func
    code = getattr(func, "__code__", None)
    if isinstance(code, _CodeType):
        return code
    raise TypeError(f"expected a Python function, method or code object, "
                    f"not {type(func).__name__}")


def _warn(message: str) -> None:
    """One line on stderr, for problems at start-up and exit (which must not raise)."""
    if sys.stderr is not None:
        try:
            print(f"overdrive: {message}", file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - a closed or broken stderr: nowhere to report
            pass


# The options of OVERDRIVE_LOG, OVERDRIVE_LOG_FILE, OVERDRIVE_PERF_MAP and
# OVERDRIVE_TIER2_THRESHOLD are read at import (overdrive._options.read_environment); when
# none is set, which is the usual start-up, overdrive._options is not imported.
if any(map(os.environ.get, ("OVERDRIVE_LOG", "OVERDRIVE_LOG_FILE", "OVERDRIVE_PERF_MAP",
                            "OVERDRIVE_TIER2_THRESHOLD"))):
    from . import _options as _options_module

    _options_module.read_environment()
    del _options_module
