"""Run a Python script under an eval-frame hook that does nothing but call the interpreter:
what any PEP 523 JIT costs on CPython 3.11 before it does anything (the interpreter inlines
no Python-to-Python call while a hook is installed, so every call takes the vectorcall road
and a fresh C-level interpreter loop). overdrive's own dispatch and compiled code are the
rest of its difference from stock (docs/performance.md, "Ninth session").

usage: python bench/null_hook.py [--off] SCRIPT [ARGS...]
e.g.   valgrind --tool=callgrind python bench/null_hook.py bench/scripts/email_parse.py

--off runs the script the same way (runpy, _overdrive imported) without the hook: the
baseline to compare with, since this runner's own imports are not the script's.
"""
import runpy
import sys

import _overdrive


def main() -> None:
    off = len(sys.argv) > 1 and sys.argv[1] == "--off"
    if off:
        del sys.argv[1]
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    if not off:
        _overdrive._null_hook()
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
