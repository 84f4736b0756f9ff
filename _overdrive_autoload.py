"""overdrive's start-up autoload guard, imported by overdrive-autoload.pth (installed at the
top of site-packages) when OVERDRIVE is set to anything but 0/false/no/off.

It lives outside the package so that a package that cannot be imported (a missing or
broken C extension) is reported in one line on stderr, and the program runs without the JIT,
instead of site.py printing a traceback for the .pth line. Being a module, it runs once even
when site.py reads the .pth twice (a virtual environment's lib64 -> lib link). The work is
done by overdrive._autoload, which reports its own problems the same way.
"""
import os
import sys


def _load() -> None:
    try:
        import overdrive._autoload  # noqa: F401 - enables the JIT as the environment says
    except Exception as exc:  # noqa: BLE001 - never break interpreter start-up
        if sys.stderr is not None:
            print(f"overdrive: OVERDRIVE={os.environ.get('OVERDRIVE', '')} but the JIT cannot "
                  f"be loaded ({type(exc).__name__}: {exc}); the JIT stays off",
                  file=sys.stderr, flush=True)


_load()
