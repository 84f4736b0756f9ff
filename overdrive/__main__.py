"""python -m overdrive [options] (script | -m module | -c command) [args...]

Runs a program like `python` does, with the JIT enabled from the start.
Options: --threshold N, --stats (print overdrive.stats() to stderr at exit).
"""
from __future__ import annotations

import runpy
import sys

import overdrive

USAGE = ("usage: python -m overdrive [--threshold N] [--stats] "
         "(script.py | -m module | -c command) [args...]")


def main(argv: list) -> int:
    options = {}
    show_stats = False
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--threshold" and argv:
            try:
                options["threshold"] = overdrive._from_text("threshold", argv.pop(0), "--threshold")
            except ValueError as exc:
                print(f"overdrive: {exc}\n{USAGE}", file=sys.stderr)
                return 2
        elif opt == "--stats":
            show_stats = True
        elif opt in ("--help",):
            print(USAGE)
            return 0
        else:
            print(f"overdrive: unknown option {opt!r}\n{USAGE}", file=sys.stderr)
            return 2
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    if show_stats:
        import atexit
        import json

        atexit.register(lambda: print(json.dumps(overdrive.stats(), indent=1), file=sys.stderr))
    overdrive.enable(**options)
    if argv[0] == "-m" and len(argv) > 1:
        sys.argv = argv[1:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    elif argv[0] == "-c" and len(argv) > 1:
        sys.argv = ["-c"] + argv[2:]
        code = compile(argv[1], "<string>", "exec")
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    else:
        sys.argv = argv
        runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
