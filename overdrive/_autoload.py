"""Start-up autoload: imported by overdrive-autoload.pth when OVERDRIVE is set.

OVERDRIVE=1 enables the JIT in every Python process of the environment;
OVERDRIVE_THRESHOLD=N sets the compile threshold; OVERDRIVE_STATS_FILE=path appends one
JSON line of stats() per process at exit (used by the benchmark and regrtest runners).
`python -m overdrive --stats` re-executes the interpreter with _OVERDRIVE_LAUNCHER_STATS set
to its pid: that process (and not its children: the variable is removed here) prints stats()
to stderr at exit.
Errors are reported on stderr and never stop the interpreter from starting.
"""
import os
import sys


def _start() -> None:
    # Removed first, whatever happens next: neither the program nor its children see it.
    stats_pid = os.environ.pop("_OVERDRIVE_LAUNCHER_STATS", None)

    import overdrive

    options = {}
    threshold = os.environ.get("OVERDRIVE_THRESHOLD")
    if threshold is not None:
        options["threshold"] = overdrive._parse_int_option("OVERDRIVE_THRESHOLD", threshold)
    overdrive.enable(**options)
    path = os.environ.get("OVERDRIVE_STATS_FILE")
    if path:
        import atexit

        atexit.register(overdrive._append_stats_line, path)
    if stats_pid == str(os.getpid()):
        import atexit
        import json

        atexit.register(lambda: print(json.dumps(overdrive.stats(), indent=1), file=sys.stderr))


try:
    _start()
except Exception as exc:  # never break interpreter start-up
    print(f"overdrive: autoload failed: {exc}", file=sys.stderr)
