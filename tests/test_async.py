"""Coroutines and async generators run natively: await, async with, async for, async
generators' yields (asend/athrow/aclose), async comprehensions, and the error cases of each.

Every test runs the same coroutine interpreted and compiled, compares results, exceptions
and tracebacks, and asserts that each named coroutine function was compiled and entered
natively, with no exit to the interpreter other than those the test expects."""
from __future__ import annotations

import asyncio
import types

import pytest

import overdrive
from conftest import outcome_with_traceback, unexpected_exits


class Yield:
    """An awaitable that suspends the awaiting coroutine once, yielding `tag`."""

    def __init__(self, tag):
        self.tag = tag

    def __await__(self):
        sent = yield self.tag
        return (self.tag, sent)


def drive(coro):
    """Run a coroutine by hand: what it yields is recorded, and each resume sends the
    number of suspensions so far; the result is (return value, what was yielded)."""
    yielded = []
    sent = None
    while True:
        try:
            y = coro.send(sent)
        except StopIteration as stop:
            return stop.value, yielded
        yielded.append(y)
        sent = len(yielded)


def run_async_both(coro_fn, *args, native=(), exits=None):
    """Drive coro_fn(*args) interpreted, then with the JIT at threshold 0; the outcomes must
    be equal. Each function in `native` (coro_fn by default) must be compiled by tier 1 and
    entered natively; `exits` is {function: {reason: count}} of the exits expected (none
    otherwise)."""
    native = native or (coro_fn,)
    run = lambda: drive(coro_fn(*args))  # noqa: E731 - one frame in both tracebacks
    overdrive.disable()
    expected = outcome_with_traceback(run, (), {})
    before = {f: overdrive.info(f) for f in native}
    overdrive.enable(threshold=0)
    try:
        got = outcome_with_traceback(run, (), {})
    finally:
        overdrive.disable()
    for f in native:
        after = overdrive.info(f)
        assert after["compiled"], f"{f.__qualname__} not compiled: {after['why_not']}"
        assert after["tier"] == 1
        assert after["native_entries"] > before[f]["native_entries"], f.__qualname__
        assert unexpected_exits(before[f], after) == (exits or {}).get(f, {}), f.__qualname__
    assert got == expected
    return got


async def leaf(x):
    got = await Yield(x)
    return got[0] + got[1]


async def awaits_coroutines(n):
    total = 0
    for i in range(n):
        total += await leaf(i)
    return total


def test_await_coroutines_and_awaitables():
    got = run_async_both(awaits_coroutines, 5, native=(awaits_coroutines, leaf))
    assert got[0] == "ok" and got[1][1] == [0, 1, 2, 3, 4]


@types.coroutine
def old_style(x):
    sent = yield ("old", x)
    return sent * 10


async def awaits_generator_based(n):
    total = 0
    for i in range(n):
        total += await old_style(i)
    return total


def test_await_generator_based_coroutine():
    got = run_async_both(awaits_generator_based, 3)
    assert got[1] == (60, [("old", 0), ("old", 1), ("old", 2)])


class Ctx:
    def __init__(self, log, suppress=False):
        self.log, self.suppress = log, suppress

    async def __aenter__(self):
        self.log.append("enter")
        await Yield("aenter")
        return self

    async def __aexit__(self, typ, val, tb):
        self.log.append(("exit", typ.__name__ if typ else None))
        await Yield("aexit")
        return self.suppress


async def async_with(raise_inside, suppress):
    log = []
    try:
        async with Ctx(log, suppress) as c:
            log.append(c is not None)
            await Yield("body")
            if raise_inside:
                raise KeyError("inside")
    except KeyError as e:
        log.append(("caught", str(e)))
    return log


@pytest.mark.parametrize("raise_inside, suppress", [(False, False), (True, False), (True, True)])
def test_async_with(raise_inside, suppress):
    got = run_async_both(async_with, raise_inside, suppress,
                         native=(async_with, Ctx.__aenter__, Ctx.__aexit__))
    assert got[0] == "ok" and got[1][1] == ["aenter", "body", "aexit"]


class Counter:
    def __init__(self, n):
        self.i, self.n = 0, n

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.i >= self.n:
            raise StopAsyncIteration
        self.i += 1
        await Yield(("next", self.i))
        return self.i


async def agen(n):
    for i in range(n):
        await Yield(("agen", i))
        yield i * 2


async def async_for(n, stop_at):
    out = []
    async for v in Counter(n):
        out.append(v)
    async for v in agen(n):
        if v == stop_at:
            break
        out.append(v)
    out.append([v async for v in agen(3)])
    out.append({v: 1 async for v in Counter(2)})
    return out


@pytest.mark.parametrize("stop_at", [-1, 4])
def test_async_for_and_async_generators(stop_at):
    got = run_async_both(async_for, 4, stop_at, native=(async_for, agen, Counter.__anext__))
    assert got[0] == "ok"


async def agen_values(n):
    for i in range(n):
        yield [i]        # a fresh object per value: what each wrapper holds must be its own


async def agen_nested(n):
    async for v in agen_values(n):
        yield v
        yield v[0]


async def sum_nested(n):
    total = 0
    async for v in agen_nested(n):
        total += v[0] if isinstance(v, list) else v
    return total


def test_async_generator_yields_reuse_the_wrapper_free_list():
    """Thousands of yields from nested async generators: compiled code takes its value
    wrappers from the interpreter's free list (which the wrappers' dealloc refills), so the
    values, their reference counts and the results stay the interpreter's."""
    from conftest import code_calls
    got = run_async_both(sum_nested, 3000, native=(sum_nested, agen_nested, agen_values))
    assert got == ("ok", (2 * sum(range(3000)), []))
    assert code_calls(agen_values, "od_rt_async_gen_wrap")
    import sys
    values = [[i] for i in range(3)]
    before = [sys.getrefcount(v) for v in values]

    async def over(vals):
        out = []
        async for v in agen_list(vals):
            out.append(v)
        return out

    overdrive.enable(threshold=0)
    try:
        for _ in range(200):
            assert drive(over(values)) == (values, [])
    finally:
        overdrive.disable()
    assert [sys.getrefcount(v) for v in values] == before


async def agen_list(vals):
    for v in vals:
        yield v


async def agen_protocol():
    ag = agen(5)
    first = await ag.asend(None)
    second = await ag.__anext__()
    try:
        await ag.athrow(ValueError("thrown"))
    except ValueError as e:
        thrown = str(e)
    await ag.aclose()
    try:
        await ag.__anext__()
    except StopAsyncIteration:
        done = True
    return first, second, thrown, done


def test_async_generator_asend_athrow_aclose():
    got = run_async_both(agen_protocol, native=(agen_protocol, agen))
    assert got[1][0] == (0, 2, "thrown", True)


class BadAwait:
    def __await__(self):
        return 42


class CoroAwait:
    def __await__(self):
        return leaf(1)


class BadAnext:
    def __aiter__(self):
        return self

    def __anext__(self):
        return 5


async def errors(kind):
    if kind == "not_awaitable":
        return await 3
    if kind == "bad_await":
        return await BadAwait()
    if kind == "coro_await":
        return await CoroAwait()
    if kind == "not_ctx":
        async with object():
            pass
    if kind == "not_aiterable":
        async for _ in object():
            pass
    if kind == "bad_anext":
        async for _ in BadAnext():
            pass
    if kind == "reused":
        c = leaf(2)
        await c
        return await c
    if kind == "awaited_twice":
        c = leaf(3)
        c.send(None)
        return await c
    if kind == "raised_in_anext":
        async for _ in raising_agen():
            pass
    return kind


async def raising_agen():
    yield 1
    raise OSError("from the async generator")


# The cases left to the interpreter (their message depends on what it alone knows) exit
# once per call, at GET_AWAITABLE or at END_ASYNC_FOR.
@pytest.mark.filterwarnings("ignore:coroutine 'leaf' was never awaited:RuntimeWarning")
@pytest.mark.parametrize("kind, exits", [
    ("not_awaitable", {"HELPER_DEOPT": 1}),
    ("bad_await", {}),
    ("coro_await", {}),
    ("not_ctx", {}),
    ("not_aiterable", {}),
    ("bad_anext", {"HELPER_DEOPT": 1}),
    ("reused", {}),
    ("awaited_twice", {"HELPER_DEOPT": 1}),
    ("raised_in_anext", {"HELPER_DEOPT": 1}),
])
def test_error_cases_match_the_interpreter(kind, exits):
    got = run_async_both(errors, kind, exits={errors: exits})
    assert got[0] == "raise"


async def gather_tasks(n):
    async def one(i):
        await asyncio.sleep(0)
        return i * i
    results = await asyncio.gather(*(one(i) for i in range(n)))
    async with asyncio.timeout(10):
        await asyncio.sleep(0)
    return sum(results)


def test_asyncio_event_loop():
    overdrive.disable()
    expected = asyncio.run(gather_tasks(20))
    overdrive.enable(threshold=0)
    try:
        got = asyncio.run(gather_tasks(20))
    finally:
        overdrive.disable()
    info = overdrive.info(gather_tasks)
    assert got == expected == sum(i * i for i in range(20))
    assert info["compiled"] and info["native_entries"] > 0
    assert not unexpected_exits({}, info)


def test_creation_is_native():
    """The calls that create coroutines (and the async generators they iterate) run
    RETURN_GENERATOR natively: no frame at all is left to the interpreter."""
    overdrive.reset_stats()
    run_async_both(async_for, 3, -1, native=(async_for, agen, Counter.__anext__))
    s = overdrive.stats()
    assert s["interpreted_by_reason"] == {}, s["interpreted_by_reason"]
    assert s["exits"].get("HELPER_DEOPT", 0) == 0


def make_coro():
    return leaf(7)


def test_coroutine_origin_tracking_leaves_creation_to_the_interpreter():
    """With sys.set_coroutine_origin_tracking_depth() on, the interpreter creates the
    coroutine (it computes cr_origin from the frames): that one instruction exits."""
    import sys

    def origins():
        c = make_coro()
        origin = c.cr_origin
        c.close()
        return origin

    sys.set_coroutine_origin_tracking_depth(2)
    try:
        overdrive.disable()
        expected = origins()
        before = overdrive.info(leaf)
        overdrive.enable(threshold=0)
        try:
            got = origins()
        finally:
            overdrive.disable()
    finally:
        sys.set_coroutine_origin_tracking_depth(0)
    after = overdrive.info(leaf)
    assert got == expected and got[0][2] == "make_coro"
    assert unexpected_exits(before, after) == {"HELPER_DEOPT": 1}
    # Entered natively twice: the creation (which left at RETURN_GENERATOR) and close(),
    # which throws GeneratorExit into the created coroutine.
    assert after["native_entries"] == before["native_entries"] + 2
