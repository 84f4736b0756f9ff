"""Start-up autoload: imported (through the top-level _overdrive_autoload guard) by
overdrive-autoload.pth when OVERDRIVE is set.

OVERDRIVE=1 enables the JIT in every Python process of the environment;
OVERDRIVE_THRESHOLD=N sets the compile threshold; OVERDRIVE_STATS_FILE=path appends one
JSON line of stats() per process at exit (used by the benchmark and regrtest runners).
`python -m overdrive --stats` re-executes the interpreter with _OVERDRIVE_LAUNCHER_STATS set
to its pid: that process (and not its children: the variable is removed here) prints stats()
to stderr at exit.
Nothing here stops the interpreter from starting or the program from running: each problem
is one line on stderr naming the variable and what it accepts. A bad OVERDRIVE leaves the JIT
off; a bad OVERDRIVE_THRESHOLD leaves the threshold at its default and the JIT on; a stats
file that cannot be opened is not written. (The package itself reads OVERDRIVE_LOG,
OVERDRIVE_LOG_FILE and OVERDRIVE_PERF_MAP at import, the same way.)
"""
import os


def start() -> None:
    # Removed first, whatever happens next: neither the program nor its children see it.
    stats_pid = os.environ.pop("_OVERDRIVE_LAUNCHER_STATS", None)

    import overdrive

    value = os.environ.get("OVERDRIVE", "")
    try:
        on = overdrive._parse_bool_option("OVERDRIVE", value)
    except ValueError as exc:
        overdrive._warn(f"{exc}; ignored, the JIT stays off")
        return
    if not on:
        return
    overdrive._config_from_environment(os.environ, {"threshold": "OVERDRIVE_THRESHOLD"},
                                       f"the threshold stays {overdrive.config()['threshold']}")
    if stats_pid == str(os.getpid()):
        # What `--stats`'s exit handler needs, imported now, before the JIT is on (so none
        # of it is compiled or counted) and not at exit: importing a module during
        # finalization resets CPython's record of an unhandled KeyboardInterrupt, and the
        # process then exits with status 1 instead of dying by SIGINT (test_runpy TestExit).
        # The OVERDRIVE_STATS_FILE writer imports nothing (overdrive._json_text).
        import json  # noqa: F401
    try:
        overdrive.enable()
    except Exception as exc:  # noqa: BLE001 - never break interpreter start-up
        overdrive._warn(f"OVERDRIVE={value} but the JIT cannot be enabled "
                        f"({type(exc).__name__}: {exc}); the JIT stays off")
        return
    if stats_pid == str(os.getpid()):
        import atexit

        atexit.register(_print_stats)
    path = os.environ.get("OVERDRIVE_STATS_FILE")
    if path:
        try:
            open(path, "a", encoding="utf-8").close()
        except OSError as exc:
            overdrive._warn(f"OVERDRIVE_STATS_FILE must be {overdrive._APPENDABLE}, got "
                            f"{path!r} ({exc.strerror or exc}); ignored, no stats are written")
            return
        import atexit

        atexit.register(overdrive._append_stats_line, path)


def _print_stats() -> None:
    """`python -m overdrive --stats`: stats() as JSON on stderr at exit (json was imported
    at start-up, see start())."""
    import json
    import sys

    import overdrive

    print(json.dumps(overdrive.stats(), indent=1), file=sys.stderr)


start()
