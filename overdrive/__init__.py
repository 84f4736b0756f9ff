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
# that `python -c pass` has not already imported (os, sys) besides its own modules and the
# C core; the tools load what they need (dis, json, re, typing, ...) on first use.
# tests/test_startup.py checks it; docs/performance.md, "Start-up cost", has the figures.
import os
import sys

if sys.version_info[:2] != (3, 11):
    raise ImportError("overdrive supports CPython 3.11 only")

import _overdrive

TYPE_CHECKING = False
if TYPE_CHECKING:
    import types
    from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple, Union

    _CodeLike = Union[Callable[..., Any], types.CodeType]

__all__ = ["enable", "disable", "is_enabled", "config", "info", "stats", "reset_stats",
           "compile", "supported_opcodes", "dis", "dis_text", "dis_native", "dis_native_text",
           "dump_native", "tier2_passes"]

_CodeType = type((lambda: None).__code__)   # types.CodeType, without importing types

# Options: name -> (kind, description of what is accepted). The bounds of the int options
# are the C core's (_overdrive.LIMITS: what its fields hold), which refuses anything outside
# them too.
def _int_accepted(name: str, meaning: str) -> str:
    lo, hi = _overdrive.LIMITS[name]
    if hi & (hi + 1) == 0:
        hi_text = f"{hi} = 2**{hi.bit_length()}-1"
    elif hi & (hi - 1) == 0:
        hi_text = f"{hi} = 2**{hi.bit_length() - 1}"
    else:
        hi_text = str(hi)
    return f"an int from {lo} to {hi_text} ({meaning})"


_OPTIONS: "Dict[str, tuple]" = {
    "threshold": ("int", _int_accepted(
        "threshold", "interpreted calls before a function is compiled; "
        "0 compiles everything on first execution")),
    "max_code_bytes": ("int", _int_accepted(
        "max_code_bytes", "bytes of executable memory for compiled code")),
    "tier2_threshold": ("int", _int_accepted(
        "tier2_threshold", "frame entries after which a compiled function is compiled again "
        "by the optimizing tier 2; -1 never, 0 at the first call")),
    "recompile_after": ("int", _int_accepted(
        "recompile_after", "native entries after which a function is compiled once more "
        "from what its caches recorded; 0 never recompiles")),
    "perf_map": ("bool", "True or False (append each compiled function to /tmp/perf-<pid>.map)"),
    "log": ("log", None),         # None: overdrive.log says (imported when needed)
    "log_file": ("path", None),
}
_config: "Dict[str, Any]" = {"threshold": 200, "tier2_threshold": -1, "max_code_bytes": 512 << 20,
                           "recompile_after": 1000, "perf_map": False, "log": "",
                           "log_file": None}
_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False, "": False}
_BOOL_ACCEPTED = "1 or 0 (or true/false, yes/no, on/off)"
_APPENDABLE = "a file that can be opened for appending"


def _option(name: str) -> tuple:
    """(kind, what is accepted) of option `name`; KeyError if there is none."""
    kind, accepted = _OPTIONS[name]
    if accepted is None:
        from . import log
        accepted = log.ACCEPTED if name == "log" else log.FILE_ACCEPTED
    return kind, accepted


def __getattr__(name: str) -> "Any":
    """The submodules log and perfmap, imported on first use (not at start-up)."""
    if name in ("log", "perfmap"):
        __import__(f"{__name__}.{name}")       # (importlib would import more)
        return sys.modules[f"{__name__}.{name}"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _shown(value: "Any") -> str:
    """A refused value for an error message: short, and never failing (3.11 refuses str()
    of an int over 4300 digits; a user object's repr may raise)."""
    if isinstance(value, int) and value.bit_length() > 256:
        return f"an int of {value.bit_length()} bits"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - any repr() failure: describe by type
        text = f"a {type(value).__name__} object"
    return text if len(text) <= 200 else text[:200] + "..."


def _validate(name: str, value: "Any", label: "str | None" = None) -> "Any":
    """The value option `name` will hold (an exact int, bool or str: log events in canonical
    order, a path as str), or TypeError/ValueError naming the option (or `label`, e.g. an
    environment variable) and what it accepts. No side effect."""
    if name not in _OPTIONS:
        raise TypeError(f"unknown overdrive option {name!r}; accepted options: "
                        + ", ".join(sorted(_OPTIONS)))
    kind, accepted = _option(name)
    label = label or f"option {name!r}"
    wrong_type = TypeError(f"{label} must be {accepted}, not {type(value).__name__}")
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise wrong_type
        number = int.__index__(value)     # an int subclass's own value, as an exact int
        lo, hi = _overdrive.LIMITS[name]
        if not lo <= number <= hi:
            raise ValueError(f"{label} must be {accepted}, got {_shown(value)}")
        return number
    if kind == "bool":
        if not isinstance(value, bool):
            raise wrong_type
        return value
    if kind == "log":
        if not isinstance(value, str):
            raise wrong_type
        from . import log
        try:
            return log.normalize(value)
        except ValueError:
            raise ValueError(f"{label} must be {accepted}, got {_shown(value)}") from None
    # a path: opened only when the log is switched on (see _configure)
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise wrong_type
    try:
        path = os.fspath(value)
    except Exception as exc:  # noqa: BLE001 - whatever a user's __fspath__ raises
        raise TypeError(f"{label} must be {accepted}, but os.fspath() of the "
                        f"{type(value).__name__} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(path, str):
        raise TypeError(f"{label} must be {accepted}, not {type(value).__name__} "
                        f"(its path is {type(path).__name__})")
    if not path or "\0" in path:
        raise ValueError(f"{label} must be {accepted}, got {_shown(value)}")
    return str.__str__(path)


def _from_text(name: str, text: str, label: str) -> "Any":
    """The value of option `name` written as `text` in an environment variable or on the
    command line (`label`), or ValueError naming the label and what it accepts."""
    kind, accepted = _option(name)
    if kind == "bool":
        return _parse_bool_option(label, text)
    if kind == "int":
        try:
            return _validate(name, int(text), label)
        except ValueError:  # not an int (or out of range): show the text as written
            raise ValueError(f"{label} must be {accepted}, got {_shown(text)}") from None
    return _validate(name, text, label)


def _parse_bool_option(label: str, text: str) -> bool:
    word = text.strip().lower()
    if word not in _BOOL_WORDS:
        raise ValueError(f"{label} must be {_BOOL_ACCEPTED}, got {_shown(text)}")
    return _BOOL_WORDS[word]


def config(**options: "Any") -> "Dict[str, Any]":
    """Set options and return the full config. All are validated before any is applied, and a
    refused call (TypeError or ValueError naming the option and what it accepts) changes
    nothing: not config(), not the JIT's values, not the log, not the perf map."""
    _configure(options)
    return dict(_config)


def _configure(options: "Dict[str, Any]", labels: "Dict[str, str] | None" = None) -> None:
    """config() with `labels` naming where an option came from (an environment variable)."""
    labels = labels or {}
    new = dict(_config)
    for name, value in options.items():
        new[name] = _validate(name, value, labels.get(name))
    old = dict(_config)
    log_changed = (new["log"], new["log_file"]) != (old["log"], old["log_file"])
    # The steps that can fail come first, the log's switch (a dup(2)) last; whatever fails
    # after the C values are set puts them back.
    log_target = _open_log_file(new, options, labels) if log_changed else None
    try:
        _overdrive._set_config(new["threshold"], new["max_code_bytes"], new["recompile_after"],
                               new["tier2_threshold"])
        try:
            if new["perf_map"] != old["perf_map"]:
                _switch_perf_map(new["perf_map"], old["perf_map"], labels)
            if log_changed:
                from . import log
                log.switch(new["log"], log_target)
        except BaseException:
            _overdrive._set_perf_map(old["perf_map"])
            _overdrive._set_config(old["threshold"], old["max_code_bytes"], old["recompile_after"],
                                   old["tier2_threshold"])
            raise
    finally:
        if log_target is not None:
            log_target.close()
    _config.update(new)


def _open_log_file(new: "Dict[str, Any]", options: "Dict[str, Any]", labels: "Dict[str, str]"):
    from . import log
    try:
        return log.open_file(new["log"], new["log_file"])
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        message = (f"{labels.get('log_file', 'option ' + repr('log_file'))} must be "
                   f"{_APPENDABLE}, got {_shown(new['log_file'])} ({reason})")
        if "log_file" not in options:
            message = f"{labels.get('log', 'option ' + repr('log'))} cannot be switched on: {message}"
        raise ValueError(message) from exc


def _switch_perf_map(on: bool, was_on: bool, labels: "Dict[str, str]") -> None:
    from . import perfmap
    try:
        perfmap.apply(on, was_on)
    except OSError as exc:  # the map of functions compiled before could not be written
        raise ValueError(f"{labels.get('perf_map', 'option ' + repr('perf_map'))} cannot be "
                         f"switched on: cannot append to {perfmap.path()} "
                         f"({exc.strerror or exc})") from exc


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


# The tools are in overdrive._dis, imported at their first use (it needs the stdlib's dis,
# dataclasses, json and re, which this package does not import at start-up).

def dis(func: "_CodeLike", *, file: "Optional[TextIO]" = None, tier: int = 1,
        passes: "Optional[Sequence[str]]" = None) -> None:
    """Print the function's bytecode with, per instruction: its source line, the native code
    range it compiled to, what its inline cache has seen, and whether it exits to the
    interpreter (and why). Works for functions not compiled yet too (says why not).

    tier=2 prints instead tier 2's HIR (SSA form, see docs/tier2.md) after building and
    after each pass of `passes` (pass names, see tier2_passes(); default: all, in order),
    then (default pipeline only) its LIR with the registers the allocator chose and the exits,
    from a fresh compile that is not installed. Raises ValueError naming the reason when tier
    2 cannot build the function. dis_native(f) shows the machine code of the unit f runs,
    tier 2's included."""
    text = dis_text(func, tier=tier, passes=passes)
    print(text, end="", file=file if file is not None else sys.stdout)


def dis_text(func: "_CodeLike", *, tier: int = 1, passes: "Optional[Sequence[str]]" = None) -> str:
    """The text dis() prints."""
    if tier == 2:
        return _hir_text(func, passes)
    if tier != 1:
        raise ValueError(f"tier must be 1 or 2, not {tier!r}")
    if passes is not None:
        raise ValueError("passes= applies to tier=2 only")
    from . import _dis

    return _dis.dis_text(func)


def tier2_passes() -> "List[Tuple[str, str]]":
    """(name, description) of tier 2's HIR passes, in their default order."""
    return list(_overdrive._tier2_passes())


def _hir_text(func: "_CodeLike", passes: "Optional[Sequence[str]]") -> str:
    code = _code_of(func)
    if isinstance(passes, str):
        raise TypeError("passes must be a sequence of pass names, not a str")
    # A function, not only its code: the speculation passes read its globals.
    target = func if type(func).__name__ == "function" else code
    stages = _overdrive._tier2_hir(target, None if passes is None else list(passes))
    out = []
    for stage, text in stages:
        out.append(f"--- HIR of {code.co_qualname} after {stage} ---\n")
        out.append(text)
    if passes is None:
        out.append(f"--- LIR of {code.co_qualname} (registers allocated) ---\n")
        try:
            out.append(_overdrive._tier2_lir(target))
        except ValueError as exc:
            out.append(f"{exc}\n")
    return "".join(out)


def dis_native(func: "_CodeLike", *, file: "Optional[TextIO]" = None) -> None:
    """Print the function's machine code as x86-64 assembly, interleaved with the bytecode
    instructions and source lines it came from; calls are named by the runtime helper or
    C-API function they call. Needs capstone (pip install 'overdrive[dis]')."""
    from . import _dis

    _dis.dis_native(func, file=file)


def dis_native_text(func: "_CodeLike") -> str:
    """The text dis_native() prints. Raises ImportError (saying what to install) without
    capstone, ValueError if the function is not compiled."""
    from . import _dis

    return _dis.dis_native_text(func)


def dump_native(func: "_CodeLike", path: "Union[str, os.PathLike[str]]") -> str:
    """Write the function's raw machine code to `path` and a JSON sidecar to path + '.json'
    (load address, per-instruction native offsets, source lines, helper symbol addresses).
    Returns the sidecar's path. Raises ValueError if the function is not compiled."""
    from . import _dis

    return _dis.dump_native(func, path)


def _code_of(func: "_CodeLike") -> "types.CodeType":
    if isinstance(func, _CodeType):
        return func
    code = getattr(func, "__code__", None)
    if isinstance(code, _CodeType):
        return code
    raise TypeError(f"expected a Python function, method or code object, "
                    f"not {type(func).__name__}")


def _json_text(value: object) -> str:
    """`value` (dicts with str keys, lists, tuples, str, int, float, bool, None: what
    stats() returns) as compact JSON. The stats writer runs in every process of a benchmark
    or test run, python_startup's `python -c pass` children too: importing json there cost
    each of them 12 ms (json.decoder compiles its regular expressions), and importing
    anything at exit is not allowed (see _append_stats_line)."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) \
            else "null"
    if isinstance(value, str):
        if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
            return f'"{value}"'
        return '"' + "".join(c if " " <= c <= "~" and c not in '"\\' else
                             "\\" + c if c in '"\\' else
                             "".join(f"\\u{u:04x}" for u in _utf16_units(c))
                             for c in value) + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_json_text(str(k))}: {_json_text(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_json_text(v) for v in value) + "]"
    return _json_text(str(value))


def _utf16_units(c: str) -> "tuple[int, ...]":
    """The UTF-16 code units of one character (JSON's \\u escapes)."""
    n = ord(c)
    if n < 0x10000:
        return (n,)
    n -= 0x10000
    return (0xD800 | (n >> 10), 0xDC00 | (n & 0x3FF))


def _append_stats_line(path: str) -> None:
    """At exit (OVERDRIVE_STATS_FILE): one JSON line of stats(). Nothing may be imported
    here: importing a module during finalization resets CPython's record of an unhandled
    KeyboardInterrupt, and the process would exit with status 1 instead of dying by SIGINT
    (test_runpy TestExit); _json_text needs no import."""
    line = _json_text({"pid": os.getpid(), "argv": sys.argv, "stats": stats()})
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError as exc:  # at exit: one line, never a traceback
        _warn(f"cannot append stats to OVERDRIVE_STATS_FILE {path!r} ({exc.strerror or exc})")


def _warn(message: str) -> None:
    """One line on stderr, for problems at start-up and exit (which must not raise)."""
    if sys.stderr is not None:
        try:
            print(f"overdrive: {message}", file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - a closed or broken stderr: nowhere to report
            pass


def _config_from_environment(environ: "os._Environ[str]", variables: "Dict[str, str]",
                             otherwise: str) -> bool:
    """Set the options of `variables` ({option: environment variable}; unset or empty ones
    are skipped) together. Never raises: a bad value, or a file that cannot be opened, is one
    line on stderr naming the variable and what it accepts, ending with `otherwise` (what
    holds instead), and none of them is set. True if they were set."""
    options: "Dict[str, Any]" = {}
    labels: "Dict[str, str]" = {}
    try:
        for name, variable in variables.items():
            text = environ.get(variable, "")
            if text:
                options[name] = _from_text(name, text, variable)
                labels[name] = variable
        if options:
            _configure(options, labels)
    except (TypeError, ValueError) as exc:
        _warn(f"{exc}; ignored, {otherwise}")
        return False
    return True


def _is_launcher() -> bool:
    """Whether this process is `python -m overdrive`, importing the package on its way to
    overdrive/__main__.py, which only re-executes the interpreter: while runpy imports the
    package, sys.argv[0] is still "-m", and the module python's command line names after -m
    is ours."""
    if sys.argv[:1] != ["-m"]:
        return False
    args = list(getattr(sys, "orig_argv", []))[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--check-hash-based-pycs":
            i += 2
            continue
        if not arg.startswith("-") or arg.startswith("--") or arg == "-":
            return False
        k = next((j for j, ch in enumerate(arg[1:], 1) if ch in "cmWX"), None)
        if k is None:
            i += 1
            continue
        value = arg[k + 1:] or (args[i + 1] if i + 1 < len(args) else "")
        if arg[k] in "cm":
            return arg[k] == "m" and value in ("overdrive", "overdrive.__main__")
        i += 1 if arg[k + 1:] else 2
    return False


# Read at import (the autoload reads OVERDRIVE, OVERDRIVE_THRESHOLD and OVERDRIVE_STATS_FILE),
# except in the launcher: the interpreter it re-executes reads them, and reports each
# problem once.
if not _is_launcher():
    _config_from_environment(os.environ,
                             {"log": "OVERDRIVE_LOG", "log_file": "OVERDRIVE_LOG_FILE"},
                             "the log stays off")
    _config_from_environment(os.environ, {"perf_map": "OVERDRIVE_PERF_MAP"},
                             "the perf map stays off")
    _config_from_environment(os.environ, {"tier2_threshold": "OVERDRIVE_TIER2_THRESHOLD"},
                             "tier 2 stays off")
