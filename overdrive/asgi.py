"""ASGI middleware: the JIT on in whichever process serves the requests.

    from overdrive.asgi import Middleware
    app = Middleware(app)                    # any ASGI 3 app: Starlette, FastAPI, Django ...

The JIT is enabled lazily in the serving process, at the first call it receives (the
lifespan start-up event under uvicorn, or the first request), once per process, so worker
processes forked by the server each get it. Options are those of overdrive.config(),
validated when the middleware is created.

Tier 1 compiles ordinary functions; coroutines (`async def`) run in the interpreter, so
the speed-up comes from the synchronous code your handlers call.
"""
from __future__ import annotations

from .wsgi import EnablePerProcess

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Awaitable, Callable, MutableMapping

    Scope = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
    Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

__all__ = ["Middleware"]


class Middleware:
    """Wraps an ASGI 3 application; the JIT is enabled in the serving process on first call."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], **options: Any) -> None:
        self.app = app
        self.jit = EnablePerProcess(options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.jit.ensure()
        await self.app(scope, receive, send)
