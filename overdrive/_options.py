"""overdrive's options: what config() accepts, validation, and the environment variables
read at start-up. Imported by config(), enable(**options) and the middleware, and at import
of the package only when one of OVERDRIVE_LOG, OVERDRIVE_LOG_FILE, OVERDRIVE_PERF_MAP or
OVERDRIVE_TIER2_THRESHOLD is set (the autoload: when OVERDRIVE_THRESHOLD is): a plain
`import overdrive` or `OVERDRIVE=1` start-up does not load it (docs/performance.md,
"Start-up cost")."""
import os
import sys

import _overdrive

from . import _parse_bool_option, _warn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict


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
# What config() returns: the int options as the C core holds them when this module is first
# imported (its defaults, or OVERDRIVE_THRESHOLD, which the autoload gives the core directly);
# the others as config() last set them.
_config: "Dict[str, Any]" = {name: value for name, value in _overdrive._get_config().items()
                             if name in ("threshold", "tier2_threshold", "max_code_bytes",
                                         "recompile_after")}
_config.update({"perf_map": False, "log": "", "log_file": None})
_APPENDABLE = "a file that can be opened for appending"


def _option(name: str) -> tuple:
    """(kind, what is accepted) of option `name`; KeyError if there is none."""
    kind, accepted = _OPTIONS[name]
    if accepted is None:
        from . import log
        accepted = log.ACCEPTED if name == "log" else log.FILE_ACCEPTED
    return kind, accepted

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

def read_environment() -> None:
    """At import of the package: the options of OVERDRIVE_LOG, OVERDRIVE_LOG_FILE,
    OVERDRIVE_PERF_MAP and OVERDRIVE_TIER2_THRESHOLD (the autoload reads OVERDRIVE,
    OVERDRIVE_THRESHOLD and OVERDRIVE_STATS_FILE), except in the launcher: the interpreter it
    re-executes reads them, and reports each problem once."""
    if _is_launcher():
        return
    _config_from_environment(os.environ,
                             {"log": "OVERDRIVE_LOG", "log_file": "OVERDRIVE_LOG_FILE"},
                             "the log stays off")
    _config_from_environment(os.environ, {"perf_map": "OVERDRIVE_PERF_MAP"},
                             "the perf map stays off")
    _config_from_environment(os.environ, {"tier2_threshold": "OVERDRIVE_TIER2_THRESHOLD"},
                             "tier 2 stays off")
