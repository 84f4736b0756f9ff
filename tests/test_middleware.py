"""overdrive.wsgi / overdrive.asgi middleware, end to end: a Flask app under gunicorn and a
plain ASGI app under uvicorn, served on 127.0.0.1 from a socket the test opened (so no port
race), checked through their responses and a stats endpoint that reports what the JIT did in
the worker process. Every wait is bounded; every server is shut down by the test."""
from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import pytest

import _overdrive
import overdrive
from overdrive import asgi, wsgi
from conftest import TIER2_STRESS

FLASK_APP = """
    import os
    import overdrive
    from flask import Flask, jsonify
    from overdrive.wsgi import Middleware

    app = Flask(__name__)

    def fib(n):
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return a

    @app.route("/fib/<int:n>")
    def handler(n):
        return jsonify(n=n, value=fib(n), pid=os.getpid())

    @app.route("/stats")
    def jit_stats():
        return jsonify(handler=overdrive.info(handler), fib=overdrive.info(fib),
                       stats=overdrive.stats(), enabled=overdrive.is_enabled(), pid=os.getpid())

    application = Middleware(app, threshold=1)   # the handler is compiled on its 2nd request
"""

ASGI_APP = """
    import json
    import os
    import overdrive
    from overdrive.asgi import Middleware

    def checksum(data):
        total = 0
        for b in data:
            total = (total * 31 + b) & 0xFFFFFFFF
        return total

    def page(path):
        if path == "/stats":
            return {"checksum": overdrive.info(checksum), "app": overdrive.info(app),
                    "enabled": overdrive.is_enabled(), "pid": os.getpid()}
        return {"path": path, "checksum": checksum(path.encode() * 50), "pid": os.getpid()}

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = json.dumps(page(scope["path"])).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    application = Middleware(app)
"""


def _needs(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install 'overdrive[test]')")


def _env(app_dir):
    env = dict(os.environ)
    for k in ("OVERDRIVE", "OVERDRIVE_LOG", "OVERDRIVE_LOG_FILE", "OVERDRIVE_PERF_MAP"):
        env.pop(k, None)
    roots = [str(app_dir), os.path.dirname(os.path.dirname(os.path.abspath(overdrive.__file__))),
             os.path.dirname(os.path.abspath(_overdrive.__file__))]
    env["PYTHONPATH"] = os.pathsep.join(roots + [p for p in [env.get("PYTHONPATH")] if p])
    return env


class Server:
    """A server process given a listening socket on 127.0.0.1; stopped on exit."""

    def __init__(self, args_for_fd, app_dir):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.set_inheritable(True)
        self.port = self.sock.getsockname()[1]
        fd = self.sock.fileno()
        self.log = open(app_dir / "server.log", "w+")
        self.proc = subprocess.Popen([sys.executable] + args_for_fd(fd), cwd=app_dir,
                                     env=_env(app_dir), pass_fds=(fd,), stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def get(self, path, deadline_s=30.0):
        """JSON of GET path; retries (bounded) while the server is still starting."""
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                    assert r.status == 200
                    return json.loads(r.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server not answering {path}:\n{self.output()}")
                time.sleep(0.2)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the session we started
                    self.proc.wait(timeout=10)
        finally:
            self.sock.close()
            self.log.close()


def _fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def test_flask_under_gunicorn_runs_handlers_compiled(tmp_path):
    _needs("flask", "gunicorn")
    (tmp_path / "flask_app.py").write_text(textwrap.dedent(FLASK_APP))
    args = lambda fd: ["-m", "gunicorn", "--workers", "1", "--bind", f"fd://{fd}",  # noqa: E731
                       "--graceful-timeout", "5", "flask_app:application"]
    with Server(args, tmp_path) as server:
        for n in range(20, 30):
            assert server.get(f"/fib/{n}")["value"] == _fib(n)
        stats = server.get("/stats")
        assert server.proc.poll() is None
        master = server.proc.pid
    assert stats["enabled"] and stats["pid"] != master  # enabled in the worker, not the master
    for name in ("handler", "fib"):
        info = stats[name]
        assert info["compiled"] and info["tier"] in ((1, 2) if TIER2_STRESS else (1,)), info
        assert info["native_entries"] >= 8, info  # compiled on the 2nd request (threshold=1)
    assert stats["stats"]["functions_compiled"] > 0 and stats["stats"]["frames_native"] > 0


def test_asgi_app_under_uvicorn_runs_handler_code_compiled(tmp_path):
    _needs("uvicorn")
    (tmp_path / "asgi_app.py").write_text(textwrap.dedent(ASGI_APP))
    args = lambda fd: ["-m", "uvicorn", "--fd", str(fd), "--lifespan", "on",  # noqa: E731
                       "--log-level", "warning", "asgi_app:application"]
    with Server(args, tmp_path) as server:
        for i in range(10):
            body = server.get(f"/item/{i}")
            assert body["path"] == f"/item/{i}"
            expect = 0
            for b in f"/item/{i}".encode() * 50:
                expect = (expect * 31 + b) & 0xFFFFFFFF
            assert body["checksum"] == expect
        stats = server.get("/stats")
        assert server.proc.poll() is None
    assert stats["enabled"] and stats["pid"] == body["pid"]
    info = stats["checksum"]
    # WARMUP is the one expected exit per code object (the interpreter quickens it).
    exits = {k: v for k, v in info["exits"].items() if k != "WARMUP"}
    assert info["compiled"] and info["native_entries"] >= 9 and exits == {}, info
    # The ASGI coroutine itself is compiled too: every request after the first creates and
    # resumes it natively.
    app_exits = {k: v for k, v in stats["app"]["exits"].items() if k != "WARMUP"}
    assert stats["app"]["compiled"] and stats["app"]["native_entries"] >= 9, stats["app"]
    assert app_exits == {}, stats["app"]


# ---- in-process behaviour -------------------------------------------------------------------

def test_wsgi_middleware_enables_lazily_once_per_process():
    calls = []

    def app(environ, start_response):
        calls.append(overdrive.is_enabled())
        start_response("200 OK", [])
        return [b"ok"]

    mw = wsgi.Middleware(app, threshold=3)
    assert not overdrive.is_enabled()  # nothing happens before the first request
    try:
        assert mw({}, lambda *a: None) == [b"ok"]
        assert calls == [True] and mw.jit.pid == os.getpid()
        assert overdrive.config()["threshold"] == 3
        overdrive.disable()
        mw({}, lambda *a: None)  # same process: not enabled again behind the user's back
        assert calls == [True, False]
        mw.jit.pid = -1  # as seen from a forked worker
        mw({}, lambda *a: None)
        assert calls == [True, False, True]
    finally:
        overdrive.config(threshold=1)


def test_asgi_middleware_enables_on_first_call():
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["type"], overdrive.is_enabled()))

    mw = asgi.Middleware(app)
    assert not overdrive.is_enabled()
    asyncio.run(mw({"type": "http"}, None, None))
    assert seen == [("http", True)]


def test_middleware_options_are_validated_at_creation():
    with pytest.raises(TypeError, match="unknown overdrive option 'treshold'"):
        wsgi.Middleware(lambda e, s: [], treshold=3)
    with pytest.raises(ValueError, match="option 'threshold' must be an int from 0 to 2147483647"):
        asgi.Middleware(lambda s, r, w: None, threshold=-1)
