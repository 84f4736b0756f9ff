"""Compiled code awaiting an async generator's asend()/__anext__() awaitable (SEND of
`async for`, `await ag.asend(v)`): the generator is resumed directly (runtime/gen_resume.c)
and a value it yields comes back without the StopIteration the ordinary road raises and
catches. Each behaviour is compared with the interpreter's, and
stats()["async_gen_sends_direct"] proves the direct road was taken."""
import asyncio
import gc
import sys
import types

import overdrive
from conftest import compiled_runs_track_nothing_new, run_both_counting
from test_async import drive


def run_direct(jit, fn, *args, **kw):
    """jit.run_both, and the compiled run sent to async generators directly (stats()["async_gen_sends_direct"])."""
    return run_both_counting(jit, "async_gen_sends_direct", fn, *args, **kw)


@types.coroutine
def suspend(tag):
    """Suspends the awaiting coroutine once (an await's yield passing through asend)."""
    sent = yield ("suspended", tag)
    return sent


# ---- recursive async for (the shape of pyperformance's async_generators)

class Tree:
    def __init__(self, left, value, right):
        self.left, self.value, self.right = left, value, right

    async def __aiter__(self):
        if self.left:
            async for i in self.left:
                yield i
        yield self.value
        if self.right:
            async for i in self.right:
                yield i


def tree(values):
    n = len(values)
    if n == 0:
        return None
    i = n // 2
    return Tree(tree(values[:i]), values[i], tree(values[i + 1:]))


async def walk(t):
    out = []
    async for v in t:
        out.append(v)
    return out


def drive_tree():
    values = [0, None, (1, 2), (), StopIteration("v"), ValueError("e"), "s", 2.5] * 8
    got = drive(walk(tree(values)))
    return [repr(v) for v in got[0]], got[1]


def test_recursive_async_for(jit):
    got = run_direct(jit, drive_tree)
    assert len(got[0]) == 64 and got[1] == []


# ---- awaits inside the generator pass through; asend() values go in

async def agen_awaiting(log):
    x = yield "first"
    log.append(("got", x))
    s = await suspend("inner")
    log.append(("resumed", s))
    y = yield "second"
    log.append(("got", y))
    try:
        yield "third"
    finally:
        log.append("finally")


async def consume_asend(log):
    ag = agen_awaiting(log)
    out = [await ag.asend(None), await ag.asend("a"), await ag.__anext__()]
    try:
        await ag.asend(["b"])
    except StopAsyncIteration as e:
        out.append(("stop", e.args))
    try:
        await ag.__anext__()
    except StopAsyncIteration as e:
        out.append(("stop again", e.args))
    return out


def drive_asend():
    log = []
    return drive(consume_asend(log)), log


def test_asend_values_and_awaits(jit):
    got = run_direct(jit, drive_asend)
    assert got[0] == (["first", "second", "third", ("stop", ()), ("stop again", ())],
                      [("suspended", "inner")])
    assert got[1] == [("got", "a"), ("resumed", 1), ("got", None), "finally"]


# ---- errors: raised inside, StopIteration / StopAsyncIteration inside, reuse, running

async def agen_raises(kind):
    yield 1
    if kind == "value":
        raise ValueError("inside")
    if kind == "stopiteration":
        raise StopIteration("si")
    if kind == "stopasync":
        raise StopAsyncIteration("sai")
    yield 2


async def consume_errors():
    out = []
    for kind in ("value", "stopiteration", "stopasync", "none"):
        ag = agen_raises(kind)
        got = []
        try:
            async for v in ag:
                got.append(v)
        except Exception as e:  # noqa: BLE001 - compared with the interpreter's
            got.append((type(e).__name__, str(e), repr(e.__cause__)))
        try:
            await ag.__anext__()
        except StopAsyncIteration:
            got.append("exhausted")
        out.append(got)
    # An awaitable awaited twice, and a second __anext__ while the first is suspended in
    # an await: CPython's messages (the ordinary road).
    ag = agen_awaiting([])
    a = ag.__anext__()
    out.append(await a)
    try:
        await a
    except RuntimeError as e:
        out.append(str(e))
    a1 = ag.asend(5)
    a2 = ag.__anext__()
    out.append(a1.send(None))
    try:
        await a2
    except RuntimeError as e:
        out.append(str(e))
    try:
        await ag.aclose()
    except RuntimeError as e:
        out.append(str(e))
    return out


def drive_errors():
    return drive(consume_errors())


def test_errors_inside_and_misuse(jit):
    got = run_direct(jit, drive_errors)
    errors = got[0]
    assert errors[0][1][0] == "ValueError"
    assert errors[1][1][1] == "async generator raised StopIteration"
    assert errors[2][1][1] == "async generator raised StopAsyncIteration"
    assert "cannot reuse already awaited" in errors[5]
    assert "already running" in errors[7]


# ---- asyncio: async for across real suspensions

async def ticker(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def nested(n):
    async for i in ticker(n):
        yield i * 10


async def amain():
    return [v async for v in nested(5)], [v async for v in ticker(3)]


def drive_asyncio():
    return asyncio.run(amain())


def test_asyncio_async_for(jit):
    assert run_direct(jit, drive_asyncio, allow_exits=True) == (
        [0, 10, 20, 30, 40], [0, 1, 2])


# ---- references

class Token:
    pass


async def echo(o, n):
    for _ in range(n):
        x = yield o
        if x is not None:
            yield x


async def relay(o):
    async for v in echo(o, 3):
        yield v
    ag = echo(o, 2)
    yield await ag.asend(None)
    yield await ag.asend(o)
    await ag.aclose()


async def consume_refs(o):
    n = 0
    for _ in range(100):
        async for v in relay(o):
            n += v is o
    return n


def drive_refs(o):
    return drive(consume_refs(o))[0]


def test_refcounts_balanced(jit):
    o = Token()
    start = sys.getrefcount(o)
    assert run_direct(jit, drive_refs, o) == 500
    gc.collect()
    assert sys.getrefcount(o) == start
    compiled_runs_track_nothing_new(drive_refs, o)
    assert sys.getrefcount(o) == start
