"""WSGI middleware: the JIT on in whichever process serves the requests.

    from overdrive.wsgi import Middleware
    application = Middleware(app)            # app: Flask, Django's WSGIHandler, any WSGI app

Pre-forking servers (gunicorn, uWSGI) import the application in a master process and serve
requests in forked workers. The JIT's state is per process, so the middleware enables it
lazily, in the process that handles a request, on its first request. Options are those of
overdrive.config() (e.g. threshold=10), validated when the middleware is created so a typo
fails at start-up rather than on the first request.
"""
from __future__ import annotations

import os

import overdrive
from overdrive._options import _validate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Optional

__all__ = ["Middleware"]


class EnablePerProcess:
    """Enables the JIT once in each process that calls ensure() (a fork starts over)."""

    def __init__(self, options: dict) -> None:
        for name, value in options.items():
            _validate(name, value)
        self.options = dict(options)
        self.pid: Optional[int] = None   # process in which the JIT was enabled

    def ensure(self) -> None:
        # A race between threads of one process only enables twice, which is harmless, so
        # no lock (a lock inherited across fork() could be held by a thread that is gone).
        if self.pid != os.getpid():
            overdrive.enable(**self.options)
            self.pid = os.getpid()


class Middleware:
    """Wraps a WSGI application; the JIT is enabled in the serving process on first request."""

    def __init__(self, app: Callable[..., Iterable[bytes]], **options: Any) -> None:
        self.app = app
        self.jit = EnablePerProcess(options)

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.jit.ensure()
        return self.app(environ, start_response)
