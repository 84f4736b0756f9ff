# overdrive's start-up autoload, the Python road. overdrive-autoload.pth (installed at the
# top of site-packages) is one line: with OVERDRIVE set and not empty, it imports the C core
# and calls its _autoload() (src/module/autoload.c), which handles the usual settings itself
# (OVERDRIVE=1, a plain OVERDRIVE_THRESHOLD, an OVERDRIVE_STATS_FILE that can be appended to)
# and imports this module for everything else: a value to refuse or report, the variables
# the package reads, `python -m overdrive --stats`. Importing it runs start(), the whole
# start-up; the C road does what start() would do for the settings it takes. The .pth line
# is that short because site.py compiles it in every process of the environment, with or
# without OVERDRIVE.
#
# OVERDRIVE=1 enables the JIT in every Python process of the environment;
# OVERDRIVE_THRESHOLD=N sets the compile threshold; OVERDRIVE_STATS_FILE=path appends one
# JSON line of stats() per process at exit (used by the benchmark and regrtest runners).
# `python -m overdrive --stats` re-executes the interpreter with _OVERDRIVE_LAUNCHER_STATS set
# to its pid: that process (and not its children: the variable is removed here) prints stats()
# to stderr at exit.
#
# Nothing here stops the interpreter from starting or the program from running: each problem
# is one line on stderr naming the variable and what it accepts. A bad OVERDRIVE leaves the
# JIT off; a bad OVERDRIVE_THRESHOLD leaves the threshold at its default and the JIT on; a
# stats file that cannot be opened is not written. (The package itself reads OVERDRIVE_LOG,
# OVERDRIVE_LOG_FILE, OVERDRIVE_PERF_MAP and OVERDRIVE_TIER2_THRESHOLD at import, the same
# way.) A C core that cannot be imported at all (a broken install) is site.py's to report,
# as for any .pth line that fails; the program runs, without the JIT.
#
# The package is the program's to import (docs/performance.md, "Start-up cost"): this
# module imports it only for what the C core alone cannot do.
#
# Every docstring of this module is a comment: a docstring is one more constant to
# unmarshal from the .pyc each time.
import os
import sys


def _import_overdrive():
    # The package: from beside this file when it is there (a regular install), loaded
    # directly, not found by `import overdrive` looking in every sys.path entry before
    # site-packages; otherwise (an editable install) imported as usual. Only for what the
    # C core alone cannot do: the OVERDRIVE_* variables the package reads at import, a value
    # to refuse, a problem to report.
    init = os.path.join(os.path.dirname(__file__), "overdrive", "__init__.py")
    if "overdrive" not in sys.modules and os.path.isfile(init):
        bootstrap = sys.modules["_frozen_importlib"]
        external = sys.modules["_frozen_importlib_external"]
        spec = external.spec_from_file_location(
            "overdrive", init, loader=external.SourceFileLoader("overdrive", init),
            submodule_search_locations=[os.path.dirname(init)])
        return bootstrap._load(spec)
    import overdrive

    return overdrive


def _load_core():
    # The C core: the .pth line imported it before calling its _autoload(), which imported
    # this module; imported by the package otherwise (a test may import this module alone).
    core = sys.modules.get("_overdrive")
    return core if core is not None else _import_overdrive()._overdrive


# What OVERDRIVE may be to switch the JIT on without the package checking it; any other
# value that is not "off" goes to the package, which accepts or refuses it.
_ON = ("1", "true", "yes", "on")
# Variables the package reads at import: when one is set, the package is imported.
_PACKAGE_VARIABLES = ("OVERDRIVE_LOG", "OVERDRIVE_LOG_FILE", "OVERDRIVE_PERF_MAP",
                      "OVERDRIVE_TIER2_THRESHOLD")


def start() -> None:
    # Removed first, whatever happens next: neither the program nor its children see it.
    stats_pid = os.environ.pop("_OVERDRIVE_LAUNCHER_STATS", None)
    value = os.environ.get("OVERDRIVE", "")
    word = value.strip().lower()
    if word in ("", "0", "false", "no", "off"):
        return      # the JIT is off
    try:
        if word in _ON and not any(map(os.environ.get, _PACKAGE_VARIABLES)):
            core = _load_core()
        else:
            overdrive = _import_overdrive()
            core = overdrive._overdrive
    except Exception as exc:  # noqa: BLE001 - never break interpreter start-up
        if sys.stderr is not None:
            print(f"overdrive: OVERDRIVE={value} but the JIT cannot be loaded "
                  f"({type(exc).__name__}: {exc}); the JIT stays off",
                  file=sys.stderr, flush=True)
        return
    if word not in _ON:     # the package accepts it or says what it accepts
        try:
            if not overdrive._parse_bool_option("OVERDRIVE", value):
                return
        except ValueError as exc:
            _warn(f"{exc}; ignored, the JIT stays off")
            return
    threshold = os.environ.get("OVERDRIVE_THRESHOLD")
    if threshold:
        _set_threshold(core, threshold)
    launcher_stats = stats_pid == str(os.getpid())
    path = os.environ.get("OVERDRIVE_STATS_FILE")
    if path:
        # Opened (and created) now, as the writer will open it at exit: a file that cannot
        # be is reported at start-up, not at exit.
        try:
            os.close(os.open(path, _APPEND_FLAGS, 0o666))
        except OSError as exc:
            _warn(f"OVERDRIVE_STATS_FILE must be {_APPENDABLE}, got "
                  f"{path!r} ({exc.strerror or exc}); ignored, no stats are written")
            path = None
    if launcher_stats or path:
        # What the exit handlers need, imported now, before the JIT is on (so none of it is
        # compiled or counted) and not at exit: importing a module during finalization
        # resets CPython's record of an unhandled KeyboardInterrupt, and the process then
        # exits with status 1 instead of dying by SIGINT (test_runpy TestExit). The
        # OVERDRIVE_STATS_FILE writer (the C core's) imports nothing; `--stats` needs json.
        import atexit

        if launcher_stats:
            import json  # noqa: F401
    try:
        core.enable()
    except Exception as exc:  # noqa: BLE001 - never break interpreter start-up
        _warn(f"OVERDRIVE={value} but the JIT cannot be enabled "
              f"({type(exc).__name__}: {exc}); the JIT stays off")
        return
    if launcher_stats:
        atexit.register(_print_stats, core)
    if path:
        atexit.register(core._write_stats_line, path)


def _warn(message: str) -> None:
    # One line on stderr, as the package's _warn writes it. Not that function: the
    # package may not be loaded, and the stats writer must not import it at exit.
    if sys.stderr is not None:
        try:
            print(f"overdrive: {message}", file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - a closed or broken stderr: nowhere to report
            pass


def _set_threshold(core, text: str) -> None:
    # OVERDRIVE_THRESHOLD: an int in range (what the package's option check accepts) is
    # given to the C core here; anything else goes through overdrive._options, which says
    # what it accepts (0.7M instructions to import: not at each start-up of a benchmark run
    # with a threshold), and so does any value once overdrive._options is imported (another
    # OVERDRIVE_* variable needed it), which then holds config()'s values.
    lo, hi = core.LIMITS["threshold"]
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is not None and lo <= value <= hi and "overdrive._options" not in sys.modules:
        c = core._get_config()    # overdrive._options reads its values from here
        core._set_config(value, c["max_code_bytes"], c["recompile_after"], c["tier2_threshold"])
        return
    _import_overdrive()
    from overdrive import _options

    _options._config_from_environment(os.environ, {"threshold": "OVERDRIVE_THRESHOLD"},
                                      f"the threshold stays {_options._config['threshold']}")


def _print_stats(core) -> None:
    # `python -m overdrive --stats`: stats() as JSON on stderr at exit (json was imported
    # at start-up, see start()), with the JIT off, so that it does not compile json's encoder
    # at exit.
    import json

    stats = core.stats()
    core.disable()
    print(json.dumps(stats, indent=1), file=sys.stderr)


# How the stats writer (the C core's _write_stats_line, module/autoload.h) opens the file.
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_APPENDABLE = "a file that can be opened for appending"


start()
