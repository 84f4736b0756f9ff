"""python -m overdrive [--threshold N] [--stats] [python options] [program] [args...]

Runs a program exactly as `python` would with the same command line, with the JIT on from
the start. program is what follows `python` on its own command line: `script.py`, a
directory or zip file with `__main__.py`, `-m module`, `-c command`, `-` (read stdin), or
nothing (the REPL; a program read from stdin when it is not a terminal).

How: this launcher does not run the program itself. It replaces its own process (os.execve:
same pid, same open files) with the same interpreter, given the interpreter options that
came before `-m overdrive` and the command line that follows overdrive's own options, and
sets OVERDRIVE=1 (plus OVERDRIVE_THRESHOLD=N for --threshold) in the environment. The
overdrive-autoload.pth start-up hook then enables the JIT while the interpreter starts, and
CPython's own main runs the program: sys.argv, sys.path[0], __main__, tracebacks, error
messages and exit codes are CPython's. Child Python processes inherit OVERDRIVE=1 and so
run under the JIT too (docs/tools.md).
"""
from __future__ import annotations

import os
import sys

PTH = "overdrive-autoload.pth"
USAGE = """\
usage: python -m overdrive [--threshold N] [--stats] [python options] [program] [args...]

Runs the program as `python [python options] [program] [args...]` would, with the JIT on.
program: script.py | directory or zip with __main__.py | -m module | -c command | - (stdin)
         | nothing (the REPL, or a program read from stdin when it is not a terminal)

overdrive options (before the program):
  --threshold N   interpreted calls before a function is compiled (int >= 0; default 1;
                  0 compiles every function on its first execution)
  --stats         print overdrive.stats() as JSON to stderr when the program exits
  --help          this text (python -h lists python's options)

The program runs in this process, re-executed as
`python [options before -m overdrive] [python options] [program] [args...]` with OVERDRIVE=1
(and OVERDRIVE_THRESHOLD=N) in its environment; Python processes it starts inherit those
variables and run under the JIT too."""

# Python's own command-line syntax (Python/getopt.c, CPython 3.11): the short options that
# take a value (attached, as in -Wd, or the next argument) and the long options.
_PY_SHORT_WITH_VALUE = "cmWX"
_PY_LONG_WITH_VALUE = {"--check-hash-based-pycs"}
_PY_LONG = {"--help", "--version", "--help-all", "--help-env", "--help-xoptions"}
_OUR_NAMES = ("overdrive", "overdrive.__main__")

# Read by the autoload (_overdrive_autoload) in the re-executed process: print stats() to
# stderr at exit if this is that process (same pid after exec). The autoload removes the
# variable at start-up, so neither the program nor its children see it.
STATS_ENV = "_OVERDRIVE_LAUNCHER_STATS"


class UsageError(Exception):
    """A bad overdrive option or environment: one line on stderr, exit status 2."""


def _threshold_accepted() -> str:
    from ._options import _OPTIONS

    return _OPTIONS["threshold"][1]


def _threshold(text: str, origin: str) -> str:
    """The value of --threshold (or OVERDRIVE_THRESHOLD), checked as the JIT will read it."""
    from ._options import _from_text

    try:
        return str(_from_text("threshold", text, origin))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _value_option(arg: str) -> "int | None":
    """Index in a cluster of python's short options (-bWd) of the first one that takes a
    value (c, m, W, X), or None."""
    return next((k for k, ch in enumerate(arg[1:], 1) if ch in _PY_SHORT_WITH_VALUE), None)


def parse(args: list) -> tuple:
    """Split the arguments after `-m overdrive` into overdrive's options and python's
    command line. Overdrive's options may come anywhere before the program, between
    python's options; everything else is passed on unchanged and in order (python itself
    reports what it does not accept). Returns (options, python_args); options may have
    "threshold" (a str), "stats" and "help"."""
    options: dict = {}
    rest: list = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--help":
            options["help"] = True
            i += 1
        elif arg == "--stats":
            options["stats"] = True
            i += 1
        elif arg == "--threshold" or arg.startswith("--threshold="):
            if "=" in arg:
                value = arg.partition("=")[2]
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                raise UsageError(f"--threshold needs a value: {_threshold_accepted()}")
            options["threshold"] = _threshold(value, "--threshold")
            i += 1
        elif arg == "--" or arg == "-" or not arg.startswith("-"):
            break  # python's end of options, stdin, or the script: the program starts
        elif arg.startswith("--"):
            if arg in _PY_LONG_WITH_VALUE:
                rest.extend(args[i:i + 2])
                i += 2
            elif arg in _PY_LONG:
                rest.append(arg)
                i += 1
            else:
                raise UsageError(f"unknown option {arg!r}; overdrive's options are "
                                 "--threshold N, --stats and --help (python -h lists "
                                 "python's)")
        else:
            k = _value_option(arg)
            if k is not None and arg[k] in "cm":
                break  # -c command / -m module: the program starts
            rest.append(arg)
            i += 1
            if k is not None and k == len(arg) - 1 and i < len(args):
                rest.append(args[i])  # the value of -W / -X
                i += 1
    return options, rest + args[i:]


def interpreter_options() -> list:
    """The options this interpreter was started with, before `-m overdrive`: verbatim from
    sys.orig_argv, so that all of them carry over (-i, -u, -x, -R, -X ..., -W ...), or, when
    overdrive was not started by `-m overdrive`, rebuilt from sys.flags as multiprocessing
    does."""
    argv = list(getattr(sys, "orig_argv", []))[1:]
    out: list = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _PY_LONG_WITH_VALUE:
            out.extend(argv[i:i + 2])
            i += 2
            continue
        if arg == "-" or not arg.startswith("-") or arg.startswith("--"):
            break
        k = _value_option(arg)
        if k is None:
            out.append(arg)
            i += 1
            continue
        value, used = arg[k + 1:], 1
        if not value and i + 1 < len(argv):
            value, used = argv[i + 1], 2
        if arg[k] == "m":
            if value in _OUR_NAMES:
                if k > 1:
                    out.append(arg[:k])  # options in the same cluster, as in -Im overdrive
                return out
            break
        if arg[k] == "c":
            break
        out.extend(argv[i:i + used])  # -W value / -X value
        i += used
    import subprocess

    return subprocess._args_from_interpreter_flags()


def startup_hook_problem() -> "str | None":
    """Why the re-executed interpreter would not run overdrive's start-up hook, or None.
    The hook is the .pth file `pip install` puts at the top of site-packages; the site
    module runs it at start-up unless python runs with -S."""
    if sys.flags.no_site or "site" not in sys.modules:
        return "python runs with -S (no site module, so no .pth start-up hooks)"
    import site

    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    if any(os.path.isfile(os.path.join(d, PTH)) for d in dirs):
        return None
    return (f"{PTH} is not in this interpreter's site-packages ({', '.join(dirs)}): "
            "overdrive is not installed there with pip (pip install ., or pip install -e .)")


def main(argv: list) -> int:
    try:
        options, program = parse(argv)
        if options.get("help"):
            print(USAGE)
            return 0
        if "threshold" not in options and "OVERDRIVE_THRESHOLD" in os.environ:
            _threshold(os.environ["OVERDRIVE_THRESHOLD"], "OVERDRIVE_THRESHOLD")
        problem = startup_hook_problem()
        if problem is not None:
            raise UsageError("cannot run the program with the JIT: " + problem)
    except UsageError as exc:
        print(f"python -m overdrive: {exc}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env["OVERDRIVE"] = "1"
    if "threshold" in options:
        env["OVERDRIVE_THRESHOLD"] = options["threshold"]
    if options.get("stats"):
        env[STATS_ENV] = str(os.getpid())
    else:
        env.pop(STATS_ENV, None)
    orig = getattr(sys, "orig_argv", None)
    argv0 = orig[0] if orig else sys.executable  # python's messages name it as typed
    new_argv = [argv0] + interpreter_options() + program
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, new_argv, env)
    except OSError as exc:
        print(f"python -m overdrive: cannot run {sys.executable}: {exc}", file=sys.stderr)
        return 1
    return 1  # not reached: execve returns only by raising


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
