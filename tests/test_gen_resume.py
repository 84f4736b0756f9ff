"""Compiled code resuming a compiled generator or coroutine directly (SEND, FOR_ITER ->
runtime/gen_resume.c), without gen_send_ex2 and the eval-frame hook in between. Each
behaviour is compared with the interpreter, and stats()["generator_resumes_direct"] proves
the direct road was taken."""
import asyncio
import gc
import sys
import weakref

import pytest

import overdrive
from conftest import (compiled_runs_track_nothing_new, full_tier, run_both_counting,
                      tier1_only_because)


def direct_resumes():
    return overdrive.stats()["generator_resumes_direct"]


def run_direct(jit, fn, *args, **kw):
    """jit.run_both, and the compiled run resumed generators directly (stats()["generator_resumes_direct"])."""
    return run_both_counting(jit, "generator_resumes_direct", fn, *args, **kw)


# ---- yield from chains, FOR_ITER, return values, send

def leaf(n):
    got = []
    for i in range(n):
        x = yield i
        got.append(x)
    return ("leaf", got)


def chain(depth, n):
    if depth == 0:
        r = yield from leaf(n)
    else:
        r = yield from chain(depth - 1, n)
    return (depth, r)


def collect(g):
    out = []
    for v in g:
        out.append(v)
    return out


def wrap_return(g):
    r = yield from g
    yield ("returned", r)


def drive_chain_for():
    return collect(wrap_return(chain(20, 6)))


def drive_chain_send():
    g = wrap_return(chain(20, 4))
    out = [g.send(None)]
    for v in ("a", ["b"], None, 4.5):
        out.append(g.send(v))
    out.append(next(g))
    try:
        next(g)
    except StopIteration as e:
        out.append(("stop", e.value))
    return out


def ret_value(v):
    yield 1
    return v


def drive_return_values():
    out = []
    for v in (None, 0, (1, 2), (), StopIteration("x"), ValueError("e")):
        def take(v=v):
            r = yield from ret_value(v)
            yield r
        out.append([repr(x) for x in collect(take())])
    return out


def drive_comprehensions():
    return [x * 2 for x in leaf(5)], sum(v for v in leaf(7)), list(leaf(3))


@pytest.mark.parametrize("fn", [drive_chain_for, drive_chain_send, drive_return_values,
                                drive_comprehensions])
def test_chains_and_values(jit, fn):
    run_direct(jit, fn)


# ---- StopIteration raised inside: RuntimeError chained from it

def bad_gen(via):
    yield 1
    if via == "raise":
        raise StopIteration("inside")
    next(iter(()))


def bad_outer(via):
    yield from bad_gen(via)


async def bad_coro():
    raise StopIteration("coro")


async def awaits_bad():
    return await bad_coro()


def drive_stopiteration():
    out = []
    for via in ("raise", "next"):
        for consumer in (collect, lambda g: collect(bad_outer(via))):
            try:
                consumer(bad_gen(via))
            except RuntimeError as e:
                out.append((str(e), type(e.__cause__).__name__,
                            e.__cause__.args, e.__suppress_context__))
    c = awaits_bad()
    try:
        c.send(None)
    except RuntimeError as e:
        out.append((str(e), type(e.__cause__).__name__, e.__cause__.args))
    return out


def test_stopiteration_inside_becomes_runtimeerror(jit):
    got = run_direct(jit, drive_stopiteration)
    assert got[0][0] == "generator raised StopIteration"
    assert got[-1][0] == "coroutine raised StopIteration"


# ---- exceptions through both frames: the traceback's lines

def raising_leaf():
    yield 1
    raise ValueError("deep")


def raising_mid():
    yield from raising_leaf()


def drive_raise_for():
    for _ in raising_mid():
        pass


def drive_raise_send():
    g = raising_mid()
    g.send(None)
    g.send(None)


@pytest.mark.parametrize("fn", [drive_raise_for, drive_raise_send])
def test_exception_tracebacks(jit, fn):
    got = run_direct(jit, fn)
    assert got[0] == "raise" and got[1] is ValueError
    assert [name for name, _ in got[3]][-2:] == ["raising_mid", "raising_leaf"]


# ---- sys.exc_info() inside, while the consumer handles an exception

def exc_gen():
    yield repr(sys.exc_info()[1])
    try:
        raise KeyError("inner")
    except KeyError:
        yield repr(sys.exc_info()[1])
    yield repr(sys.exc_info()[1])


def drive_exc_info():
    out = []
    g = exc_gen()
    out.append(collect_some(g, 1))
    try:
        raise ValueError("outer")
    except ValueError:
        out.append(collect(g))
        out.append(repr(sys.exc_info()[1]))
        out.append(collect(exc_gen()))
    out.append(repr(sys.exc_info()[1]))
    out.append(collect(exc_gen()))
    return out


def drive_exc_info_seen_by_consumer():
    # The generator is suspended inside its own except block: the consumer must still see
    # its own exception state, not the generator's.
    out = []
    for v in exc_gen():
        out.append((v, repr(sys.exc_info()[1])))
    try:
        raise ValueError("outer")
    except ValueError:
        for v in exc_gen():
            out.append((v, repr(sys.exc_info()[1])))
    return out


def collect_some(g, n):
    out = []
    for v in g:
        out.append(v)
        if len(out) == n:
            break
    return out


def test_exc_info_chaining(jit):
    got = run_direct(jit, drive_exc_info)
    assert got[1] == ["KeyError('inner')", "ValueError('outer')"]
    got = run_direct(jit, drive_exc_info_seen_by_consumer)
    assert got[1] == ("KeyError('inner')", "None")


# ---- running state: gi_running, resuming itself, f_back

def selfish():
    g = yield
    yield g.gi_running
    try:
        next(g)
    except ValueError as e:
        yield str(e)
    try:
        yield from g
    except ValueError as e:
        yield "yield from: " + str(e)
    yield sys._getframe().f_back.f_code.co_name
    yield sys._getframe(1).f_code.co_name


def drive_running():
    g = selfish()
    out = [g.send(None), g.send(g)]
    for v in g:
        out.append(v)
    return out, g.gi_running, g.gi_frame


def frame_gen():
    f = sys._getframe()
    yield f.f_back.f_code.co_name, f.f_back.f_lineno
    yield f.f_back.f_code.co_name, f.f_back.f_lineno


def drive_f_back():
    g = frame_gen()
    out = []
    for v in g:
        out.append(v)
        out.append(g.gi_frame.f_back)
    return out


def test_running_and_frames(jit):
    got = run_direct(jit, drive_running)
    assert got[0][1] is True
    assert "already executing" in got[0][2]
    assert got[0][3].startswith("yield from:")
    run_direct(jit, drive_f_back)


# ---- coroutines: await chains

async def cleaf(i):
    await asyncio.sleep(0)
    return i


async def cchain(depth, i):
    if depth == 0:
        return await cleaf(i)
    return await cchain(depth - 1, i) + 1


async def cmain():
    total = 0
    for i in range(10):
        total += await cchain(20, i)
    return total


def drive_asyncio():
    return asyncio.run(cmain())


def test_coroutine_await_chains(jit):
    assert run_direct(jit, drive_asyncio, allow_exits=True) == 245


# ---- closed or collected mid-iteration

def with_finally(log, n):
    try:
        for i in range(n):
            yield i
    finally:
        log.append("finally")


def drive_close():
    log = []
    g = wrap_return(with_finally(log, 10))
    for v in g:
        if v == 3:
            break
    log.append(g.gi_frame is not None)
    g.close()
    log.append(g.gi_frame)
    g2 = with_finally(log, 10)
    r = weakref.ref(g2)
    for v in g2:
        if v == 2:
            break
    del g2
    gc.collect()
    log.append(r())
    return log


def test_close_and_collect(jit):
    assert run_direct(jit, drive_close) == [True, "finally", None, "finally", None]


# ---- tracing switched on inside the generator: the interpreter takes over

def traced_gen(events):
    def tracer(frame, event, arg):
        if frame.f_code.co_name == "traced_gen":
            events.append((event, frame.f_lineno - traced_gen.__code__.co_firstlineno))
        return tracer
    yield 1
    sys._getframe().f_trace = tracer
    sys.settrace(tracer)
    yield 2
    yield 3


def drive_tracing():
    events = []
    try:
        out = collect(traced_gen(events))
    finally:
        sys.settrace(None)
    return out, events


def test_tracing_switched_on_inside(jit):
    got = run_direct(jit, drive_tracing, allow_exits=True)
    assert got[1], "the tracer saw nothing"


# ---- an exit to the interpreter inside the resumed generator

def exiting_gen():
    yield 1
    x = 1
    del x
    try:
        print(x)  # noqa: F821 - unbound on purpose: compiled code exits here
    except UnboundLocalError:
        yield "unbound"
    yield 3


def drive_exit():
    return collect(exiting_gen()), collect(wrap_return(exiting_gen()))


def test_exit_inside_resumed_generator(jit):
    run_direct(jit, drive_exit, allow_exits=True)


# ---- references

class Token:
    pass


def echo_gen(o):
    x = yield o
    while x is not None:
        x = yield x
    return o


def drive_refs(o):
    for _ in range(200):
        for v in echo_gen(o):
            pass
        g = wrap_return(echo_gen(o))
        g.send(None)
        g.send(o)
        g.send(None)
        for v in g:
            pass
    return sys.getrefcount(o)


def test_refcounts_balanced(jit):
    o = Token()
    start = sys.getrefcount(o)
    run_direct(jit, drive_refs, o)
    assert sys.getrefcount(o) == start
    compiled_runs_track_nothing_new(drive_refs, o)
    assert sys.getrefcount(o) == start


# ---- deep chains: SEND calls the receiver's native code itself, one call per level

def deep(d):
    if d == 0:
        yield 1
        r = yield 2
        return r
    r = yield from deep(d - 1)
    return (d, r) if d % 100 == 0 else r


def drive_deep(depth):
    out = []
    g = deep(depth)
    out.append(next(g))
    out.append(g.send("x"))
    try:
        g.send("y")
    except StopIteration as e:
        out.append(e.value)
    except RecursionError as e:
        out.append(("RecursionError", str(e)))
    try:
        out.append(sum(deep(depth)))
    except RecursionError as e:
        out.append(("RecursionError", str(e)))
    return out


def test_deep_chains_and_the_recursion_limit(jit):
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(600)
    try:
        got = run_direct(jit, drive_deep, 450)
        assert got[:2] == [1, 2] and got[2][0] == 400
        got = run_direct(jit, drive_deep, 1000)
        assert got[:2] == ("raise", RecursionError)
    finally:
        sys.setrecursionlimit(limit)


# ---- FOR_ITER of a recompiled unit whose site met a generator: the in-line call

def loop_over(g):
    out = []
    for v in g:
        out.append(v)
    return out


def drive_for_iter_sites():
    out = [loop_over(leaf(5)), loop_over(wrap_return(chain(3, 2))), loop_over([1, 2]),
           loop_over(iter(range(3)))]
    try:
        loop_over(bad_gen("raise"))
    except RuntimeError as e:
        out.append((str(e), repr(e.__cause__)))
    try:
        loop_over(raising_mid())
    except ValueError as e:
        out.append(repr(e))
    return out


@full_tier
@tier1_only_because("FOR_ITER of recompiled units")
def test_recompiled_for_iter_calls_the_generator_in_line(jit):
    import types
    fn = types.FunctionType(loop_over.__code__.replace(), globals(), "loop_over")
    overdrive.config(recompile_after=20)
    try:
        overdrive.enable(threshold=0)
        for _ in range(40):
            fn(leaf(3))
        overdrive.disable()
        assert overdrive.info(fn)["recompiled"]
        try:
            text = overdrive.dis_native_text(fn)
        except ImportError:
            text = None
        if text is not None:
            assert "; call od_rt_for_iter_begin" in text
            assert "; call the generator's native code where it resumes" in text
        globals()["loop_over"], saved = fn, loop_over
        try:
            before = direct_resumes()
            got = jit.run_both(drive_for_iter_sites, allow_exits=True)
            assert direct_resumes() > before
            assert overdrive.info(fn)["native_entries"] > 40
        finally:
            globals()["loop_over"] = saved
        assert got[0] == [0, 1, 2, 3, 4] and got[2] == [1, 2]
        assert got[4][0] == "generator raised StopIteration"
    finally:
        overdrive.disable()
        overdrive.config(recompile_after=1000)


# ---- next() from C and from the interpreter: PyGen_Type's tp_iternext (gen_resume.c)

def counted_squares(n):
    for i in range(n):
        yield i * i


def raises_after(n):
    for i in range(n):
        yield i
    raise KeyError("after")


def stop_inside():
    yield 1
    raise StopIteration("inside")        # a RuntimeError, from the generator


def returns(v):
    yield 1
    return v


def consume_from_c():
    out = [sum(counted_squares(50)), list(counted_squares(5)), set(counted_squares(4)),
           "".join(str(i) for i in range(12)), sorted(counted_squares(3), reverse=True)]
    for make in (lambda: list(raises_after(3)), lambda: list(stop_inside())):
        try:
            make()
        except (KeyError, RuntimeError) as e:
            out.append((type(e).__name__, str(e), type(e.__cause__).__name__))
    for v in (None, 0, (1, 2), StopIteration("x")):
        it = returns(v)
        out.append(next(it))
        try:
            next(it)
        except StopIteration as e:
            out.append(("stop", repr(e.value)))
    it = counted_squares(3)
    out.append([next(it), it.__next__(), next(it, "end"), next(it, "end")])   # both roads
    return out


def nexts_direct():
    return overdrive.stats()["generator_nexts_direct"]


@full_tier
def test_generators_iterated_from_c_resume_on_the_direct_road(jit):
    # list(g), sum(g), set(genexpr), "".join(genexpr) and next(g) call PyGen_Type's
    # tp_iternext: while the hook is installed, a compiled generator resumes there directly,
    # with the interpreter's results, exceptions and StopIteration values.
    before = nexts_direct()
    run_direct(jit, consume_from_c)
    assert nexts_direct() > before + 50


async def leaf_coro(i):
    await asyncio.sleep(0)
    return i * 2


async def gather_coros(n):
    tasks = [asyncio.ensure_future(leaf_coro(i)) for i in range(n)]
    return sum(await asyncio.gather(*tasks))


def run_tasks():
    return asyncio.run(gather_coros(30))


@full_tier
def test_asyncio_task_steps_resume_compiled_coroutines_on_the_direct_road(jit):
    # asyncio's task steps send to their coroutine with PyIter_Send: the coroutine type's
    # am_send, ours while the hook is installed.
    before = nexts_direct()
    assert run_direct(jit, run_tasks) == sum(i * 2 for i in range(30))
    assert nexts_direct() > before + 30


def _type_slots():
    """(tp_iter, tp_iternext, am_send) of the generator type and am_send of the coroutine
    type, read with ctypes from their PyTypeObject (3.11's layout: tp_as_async the 11th
    pointer-sized field, tp_iter the 28th; am_send the 4th of PyAsyncMethods)."""
    import ctypes
    import types

    def field(addr, k):
        return ctypes.c_void_p.from_address(addr + k * ctypes.sizeof(ctypes.c_void_p)).value

    gen, coro = id(types.GeneratorType), id(types.CoroutineType)
    return (field(gen, 27), field(gen, 28), field(field(gen, 10), 3), field(field(coro, 10), 3),
            field(field(gen, 10), 0), field(field(coro, 10), 0))


def test_the_generator_types_slots_are_ours_only_while_the_hook_is_installed():
    import ctypes
    self_iter = ctypes.cast(ctypes.pythonapi.PyObject_SelfIter, ctypes.c_void_p).value
    overdrive.disable()
    stock = _type_slots()
    # (3.11's layout: both types' am_send is PyGen_am_send; only coroutines have am_await)
    assert stock[0] == self_iter and stock[2] == stock[3] and not stock[4] and stock[5]
    overdrive.enable()
    try:
        ours = _type_slots()
        assert ours[0] == self_iter and all(o != s for o, s in zip(ours[1:4], stock[1:4]))
        overdrive.enable()                      # (enabled twice: still CPython's to put back)
    finally:
        overdrive.disable()
    assert _type_slots() == stock
    assert list(counted_squares(4)) == [0, 1, 4, 9] and run_tasks() == 870
