# overdrive's start-up autoload, imported by overdrive-autoload.pth (installed at the top
# of site-packages) when OVERDRIVE is set and not empty. The .pth line is that short because
# site.py compiles it in every process of the environment, with or without OVERDRIVE: the
# check of its value (0/false/no/off) here instead saves each of them 0.25M instructions.
#
# OVERDRIVE=1 enables the JIT in every Python process of the environment;
# OVERDRIVE_THRESHOLD=N sets the compile threshold; OVERDRIVE_STATS_FILE=path appends one
# JSON line of stats() per process at exit (used by the benchmark and regrtest runners).
# `python -m overdrive --stats` re-executes the interpreter with _OVERDRIVE_LAUNCHER_STATS set
# to its pid: that process (and not its children: the variable is removed here) prints stats()
# to stderr at exit.
#
# Nothing here stops the interpreter from starting or the program from running: each problem
# is one line on stderr naming the variable and what it accepts. A package that cannot be
# imported (a missing or broken C extension) leaves the JIT off, instead of site.py printing a
# traceback for the .pth line: that is why this module lives outside the package. A bad
# OVERDRIVE leaves the JIT off; a bad OVERDRIVE_THRESHOLD leaves the threshold at its default
# and the JIT on; a stats file that cannot be opened is not written. (The package itself reads
# OVERDRIVE_LOG, OVERDRIVE_LOG_FILE, OVERDRIVE_PERF_MAP and OVERDRIVE_TIER2_THRESHOLD at
# import, the same way.) Being a module, it runs once even when site.py reads the .pth twice
# (a virtual environment's lib64 -> lib link).
#
# Every process of the environment runs this: it is one module, it loads only the C core
# (from beside this file, without a sys.path search) and what the variables that are set
# need; the package is the program's to import (docs/performance.md, "Start-up cost").
#
# Every docstring of this module is a comment: site.py runs it in every process started with
# OVERDRIVE set, and a docstring is one more constant to unmarshal from the .pyc each time.
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
    # The C core alone, from beside this file when it is there (a regular install), as
    # the package loads it (overdrive._load_core, which then finds it in sys.modules); else
    # through the package. The package is not imported: a program that does not import it
    # does not pay for it (0.5M instructions and 10 page faults at each start-up).
    import _imp

    path = os.path.join(os.path.dirname(__file__), "_overdrive" + _imp.extension_suffixes()[0])
    if "_overdrive" in sys.modules or not os.path.isfile(path):
        return _import_overdrive()._overdrive
    bootstrap = sys.modules["_frozen_importlib"]
    loader = sys.modules["_frozen_importlib_external"].ExtensionFileLoader("_overdrive", path)
    return bootstrap._load(bootstrap.spec_from_loader("_overdrive", loader, origin=path))


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
        return      # the JIT is off: not even the C core is loaded
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
        # Checked before the JIT is on: _append has a loop, and code with a loop outside
        # the standard library is compiled at its first call (0.1 ms and a first code page
        # in every process of a benchmark run, python_startup's too).
        try:
            _append(path, b"")
        except OSError as exc:
            _warn(f"OVERDRIVE_STATS_FILE must be {_APPENDABLE}, got "
                  f"{path!r} ({exc.strerror or exc}); ignored, no stats are written")
            path = None
    if launcher_stats or path:
        # What the exit handlers need, imported now, before the JIT is on (so none of it is
        # compiled or counted) and not at exit: importing a module during finalization
        # resets CPython's record of an unhandled KeyboardInterrupt, and the process then
        # exits with status 1 instead of dying by SIGINT (test_runpy TestExit). The
        # OVERDRIVE_STATS_FILE writer (below) imports nothing; `--stats` needs json.
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
        atexit.register(_append_stats_line, path, core)


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


# The OVERDRIVE_STATS_FILE writer: at exit, one JSON line of stats() per process. It is here,
# not in the package, because every process of a benchmark run loads it (each `python -c
# pass` of python_startup too): a module of its own would cost them 0.4M instructions more.
_APPENDABLE = "a file that can be opened for appending"


def _append_stats_line(path: str, core) -> None:
    # At exit (OVERDRIVE_STATS_FILE): one JSON line of stats(). Nothing may be imported
    # here: importing a module during finalization resets CPython's record of an unhandled
    # KeyboardInterrupt, and the process would exit with status 1 instead of dying by SIGINT
    # (test_runpy TestExit). The JSON is the C core's (module/json_line.c): a writer in Python
    # cost every process 0.5M instructions at exit.
    record = {"pid": os.getpid(), "argv": sys.argv, "stats": core.stats()}
    # The JIT is switched off first: it would compile this writer's loops (code with a loop
    # outside the standard library is compiled at its first call), at exit, for nothing.
    # What runs after this (atexit handlers registered before the autoload registered this
    # one, finalization) runs in the interpreter, as it would without the JIT.
    core.disable()
    try:
        _append(path, core._json_line(record))    # ASCII JSON, written in C (json_line.h)
    except OSError as exc:  # at exit: one line, never a traceback
        _warn(f"cannot append stats to OVERDRIVE_STATS_FILE {path!r} ({exc.strerror or exc})")


def _append(path: str, data: bytes) -> None:
    # Append `data` to the file `path` (created if missing) with one write(2) in O_APPEND
    # mode, so that the lines of processes writing at the same time do not mix; no text layer
    # (a TextIOWrapper looks up its codec: 0.3M instructions). _append(path, b"") checks at
    # start-up that the file can be appended to. OSError if not.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


start()
