"""Frame-level behaviour of compiled code: introspection from callees, tracing and
profiling, the eval breaker (threads, signals), recursion, escaping frames, refcounts."""
import gc
import inspect
import os
import signal
import sys
import threading
import time
import weakref

import pytest

import overdrive
from conftest import runs_tier1, unexpected_exits


def _compiled_run(fn, *args):
    """Run fn compiled (threshold 0) and prove it ran natively without exits."""
    overdrive.enable(threshold=0)
    try:
        before = overdrive.info(fn)
        result = fn(*args)
    finally:
        overdrive.disable()
    after = overdrive.info(fn)
    assert after["compiled"] and after["native_entries"] > before["native_entries"]
    return result, set(unexpected_exits(before, after))


def _callee_view():
    f = sys._getframe(1)
    return (f.f_code.co_name, f.f_lineno, dict(f.f_locals),
            [fi.function for fi in inspect.stack()[1:3]])


def introspected(a):
    x = a * 2
    return _callee_view()  # line checked below


def test_callee_sees_compiled_frame():
    (name, line, local_vars, stack), exits = _compiled_run(introspected, 3)
    assert name == "introspected"
    assert line == introspected.__code__.co_firstlineno + 2
    assert local_vars == {"a": 3, "x": 6}
    assert stack[0] == "introspected"
    assert not exits


class Base:
    def who(self):
        return "base"


class Derived(Base):
    def who(self):
        return "derived+" + super().who()


def call_super():
    return Derived().who(), globals() is sys.modules[__name__].__dict__, sorted(locals())


def test_super_globals_locals():
    overdrive.compile(Derived.who)
    result, exits = _compiled_run(call_super)
    assert result == ("derived+base", True, [])
    assert overdrive.info(Derived.who)["native_entries"] >= 1


def leak_frame():
    secret = [1, 2]
    return sys._getframe()


def test_escaped_frame_keeps_locals_and_line():
    frame, exits = _compiled_run(leak_frame)
    assert frame.f_locals["secret"] == [1, 2]
    assert frame.f_lineno == leak_frame.__code__.co_firstlineno + 2
    assert frame.f_code is leak_frame.__code__


def traced_target(n):
    total = 0
    for i in range(n):
        total += i
    return total


def _trace_events(fn, *args):
    events = []

    def tracer(frame, event, arg):
        if frame.f_code is fn.__code__:
            events.append((event, frame.f_lineno))
        return tracer

    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(None)
    return events


def test_settrace_on_at_entry_runs_interpreter():
    expected = _trace_events(traced_target, 3)
    overdrive.compile(traced_target)
    overdrive.enable(threshold=0)
    try:
        got = _trace_events(traced_target, 3)
    finally:
        overdrive.disable()
    assert got == expected and expected
    assert overdrive.stats()["interpreted_by_reason"].get("TRACING", 0) >= 1


def turn_on_tracing(log):
    def tracer(frame, event, arg):
        if frame.f_code.co_name == "switches_mid_call":
            log.append((event, frame.f_lineno))
        return tracer
    sys._getframe(1).f_trace = tracer
    sys.settrace(tracer)


def switches_mid_call(log):
    turn_on_tracing(log)
    a = 1
    b = a + 1
    return b


def test_settrace_switched_on_mid_call():
    log_expected = []
    switches_mid_call(log_expected)
    sys.settrace(None)
    log = []
    overdrive.compile(switches_mid_call)
    overdrive.enable(threshold=0)
    try:
        switches_mid_call(log)
    finally:
        sys.settrace(None)
        overdrive.disable()
    assert log == log_expected and log
    assert overdrive.info(switches_mid_call)["exits"].get("TRACING", 0) >= 1


def profiled(n):
    return len(range(n)) + abs(-n)


def test_setprofile_at_entry_and_mid_call():
    def record():
        events = []
        sys.setprofile(lambda f, e, a: events.append((e, getattr(a, "__name__", f.f_code.co_name))))
        try:
            profiled(3)
        finally:
            sys.setprofile(None)
        return events

    expected = record()
    overdrive.compile(profiled)
    overdrive.enable(threshold=0)
    try:
        got = record()
    finally:
        overdrive.disable()
    assert got == expected


def spin(stop):
    i = 0
    while not stop[0]:
        i = i + 1
    return i


def test_busy_loop_lets_threads_run():
    stop = [False]
    worker_count = [0]

    def worker():
        t0 = time.time()
        while time.time() - t0 < 0.3:
            worker_count[0] += 1
        stop[0] = True

    overdrive.compile(spin)
    overdrive.enable(threshold=0)
    try:
        t = threading.Thread(target=worker)
        t.start()
        spins = spin(stop)
        t.join()
    finally:
        overdrive.disable()
    assert worker_count[0] > 1000 and spins > 0
    assert overdrive.info(spin)["native_entries"] >= 1 and not unexpected_exits({}, overdrive.info(spin))


def spin_forever():
    i = 0
    while True:
        i = i + 1


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_sigint_interrupts_native_loop():
    overdrive.compile(spin_forever)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    overdrive.enable(threshold=0)
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt) as ei:
            spin_forever()
    finally:
        overdrive.disable()
        timer.cancel()
    frames = [f.name for f in __import__("traceback").extract_tb(ei.value.__traceback__)]
    assert frames[-1] == "spin_forever"
    assert overdrive.info(spin_forever)["native_entries"] >= 1


def recurse(n):
    return 0 if n == 0 else 1 + recurse(n - 1)


def test_deep_recursion_raises_recursion_error():
    overdrive.enable(threshold=0)
    try:
        assert recurse(300) == 300
        with pytest.raises(RecursionError):
            recurse(100000)
        assert recurse(50) == 50  # the count is balanced afterwards
    finally:
        overdrive.disable()
    assert overdrive.info(recurse)["native_entries"] > 300


def make_garbage(n):
    objs = [object() for _ in range(n)]
    d = {i: o for i, o in enumerate(objs)}
    s = "x" * n
    return len(d), len(s)


def test_refcounts_balanced():
    sentinel = object()

    def uses(obj, n):
        l = [obj] * n
        t = (obj, obj)
        d = {"k": obj}
        try:
            raise ValueError(obj)
        except ValueError as e:
            e2 = e
        return len(l) + len(t) + len(d) + (e2.args[0] is obj)

    overdrive.compile(uses)
    base = sys.getrefcount(sentinel)
    overdrive.enable(threshold=0)
    try:
        for _ in range(100):
            uses(sentinel, 5)
        make_garbage(100)
    finally:
        overdrive.disable()
    gc.collect()
    assert sys.getrefcount(sentinel) == base
    assert overdrive.info(uses)["native_entries"] >= 100


def test_locals_released_at_return():
    class Obj:
        pass

    def holder():
        o = Obj()
        r = weakref.ref(o)
        return r

    overdrive.compile(holder)
    overdrive.enable(threshold=0)
    try:
        r = holder()
    finally:
        overdrive.disable()
    assert r() is None


def test_code_memory_is_never_writable_and_executable():
    def f(a):
        return a + 1
    overdrive.compile(f)
    import _overdrive
    assert _overdrive._code_is_wx_safe(f) is True


def test_code_freed_with_its_code_object():
    import _overdrive
    before = _overdrive.stats()["code_memory_in_use"]
    ns = {}
    exec("def g(a):\n    return [a] * 3\n", ns)
    overdrive.compile(ns["g"])
    assert _overdrive.stats()["code_memory_in_use"] > before
    del ns
    gc.collect()
    assert _overdrive.stats()["code_memory_in_use"] == before


def test_config_validation():
    with pytest.raises(TypeError, match="accepted options"):
        overdrive.config(bogus=1)
    with pytest.raises(TypeError, match="threshold"):
        overdrive.config(threshold="3")
    with pytest.raises(ValueError, match="an int from 0 to "):
        overdrive.config(threshold=-1)
    cfg = overdrive.config(threshold=5)
    assert cfg["threshold"] == 5 and "max_code_bytes" in cfg
    overdrive.config(threshold=1)
    with pytest.raises(TypeError):
        overdrive.info(42)


def test_coroutines_compile_and_are_created_natively():
    """A coroutine function compiles (tests/test_async.py runs them); the call that creates
    the coroutine object runs its RETURN_GENERATOR natively too: nothing is interpreted."""
    async def coro():
        return 1
    assert overdrive.compile(coro) is True
    assert overdrive.info(coro)["compiled"] and overdrive.info(coro)["why_not"] is None
    overdrive.reset_stats()
    overdrive.enable(threshold=0)
    try:
        c = coro()
    finally:
        overdrive.disable()
    assert type(c).__name__ == "coroutine" and c.cr_frame.f_lasti == 0
    c.close()
    assert overdrive.stats()["interpreted_by_reason"] == {}
    assert overdrive.info(coro)["native_entries"] == 1


# ---- Python-to-Python calls made directly by compiled code (runtime/frames.c) ----------

def callee_leaks(a, b=2, c=3):
    local = a + b + c
    return sys._getframe()


def callee_raises(n):
    if n == 0:
        raise ValueError("deep")
    return callee_raises(n - 1)


def caller_of_leaks():
    frames = [callee_leaks(1), callee_leaks(1, 5), callee_leaks(1, 5, 7)]
    try:
        callee_raises(3)
    except ValueError as e:
        tb = e.__traceback__
    names = []
    while tb is not None:
        names.append((tb.tb_frame.f_code.co_name, tb.tb_lineno))
        tb = tb.tb_next
    return ([(f.f_locals["local"], f.f_back.f_code.co_name, f.f_lineno) for f in frames], names)


def test_direct_calls_escaped_frames_and_tracebacks():
    overdrive.disable()
    expected = caller_of_leaks()
    for fn in (caller_of_leaks, callee_leaks, callee_raises):
        overdrive.compile(fn)
    result, exits = _compiled_run(caller_of_leaks)
    assert result == expected
    assert overdrive.info(callee_leaks)["native_entries"] >= 3
    assert overdrive.info(callee_raises)["native_entries"] >= 4


def sum_to(n, acc=0):
    return acc if n == 0 else sum_to(n - 1, acc + n)


def test_direct_calls_recursion_and_defaults():
    overdrive.compile(sum_to)
    overdrive.enable(threshold=0)
    try:
        assert sum_to(200) == 20100
        with pytest.raises(RecursionError):
            sum_to(10 ** 6)
        assert sum_to(10) == 55
    finally:
        overdrive.disable()
    assert overdrive.info(sum_to)["native_entries"] > 200


def test_direct_calls_release_arguments():
    sentinel = object()

    def take(x, y=None):
        return x is sentinel

    def caller(o):
        r = 0
        for _ in range(50):
            r += take(o)
            r += take(o, o)
        return r

    overdrive.compile(take)
    overdrive.compile(caller)
    base = sys.getrefcount(sentinel)
    overdrive.enable(threshold=0)
    try:
        assert caller(sentinel) == 100
    finally:
        overdrive.disable()
    assert sys.getrefcount(sentinel) == base


def _settrace_then_raise(tracer):
    sys.settrace(tracer)
    sys._getframe().f_back.f_trace = tracer
    1 / 0


def settrace_and_raise(tracer):
    try:
        _settrace_then_raise(tracer)
    except ZeroDivisionError:
        pass
    return 1


def test_exception_raised_as_tracing_switches_on():
    # Regression (regrtest test_sys_settrace test_09): the exception must be reported to
    # the tracer, the handler's lines traced, and no spurious 'call' event produced.
    def record():
        events = []

        def tracer(frame, event, arg):
            if frame.f_code in (settrace_and_raise.__code__, _settrace_then_raise.__code__):
                events.append((frame.f_code.co_name, event, frame.f_lineno))
            return tracer

        try:
            settrace_and_raise(tracer)
        finally:
            sys.settrace(None)
        return events

    expected = record()
    overdrive.compile(settrace_and_raise)
    overdrive.compile(_settrace_then_raise)
    overdrive.enable(threshold=0)
    try:
        got = record()
    finally:
        overdrive.disable()
    assert got == expected and ("settrace_and_raise", "exception", settrace_and_raise.__code__.co_firstlineno + 2) in got
    # tier 1's exit (tier 2 leaves the raise to the interpreter: an ERROR exit)
    assert not runs_tier1(settrace_and_raise) or \
        overdrive.info(settrace_and_raise)["exits"].get("TRACING_THROW", 0) >= 1


NOMEMORY_CHILD = """
import _testcapi, overdrive
overdrive.enable(threshold=0)
class C: pass
for outer in range(1, 4):
    start = 10 * outer
    for j in range(100):
        if j == 0:
            _testcapi.set_nomemory(start) if outer != 3 else _testcapi.set_nomemory(start, start + 1)
        try:
            C()
        except MemoryError:
            _testcapi.remove_mem_hooks()
            print("MemoryError", outer, j)
            break
"""


def test_exceptions_under_memory_exhaustion_do_not_crash():
    # Regression (regrtest test_capi test_set_nomemory): creating the frame object for the
    # traceback can fail, and PyEval_GetFrame then clears the pending exception.
    import subprocess
    pytest.importorskip("_testcapi")
    args = [sys.executable, "-c", NOMEMORY_CHILD]
    got = subprocess.run(args, capture_output=True, text=True, timeout=60)
    stock = subprocess.run(args[:2] + [NOMEMORY_CHILD.replace("overdrive.enable(threshold=0)", "")],
                           capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr
    assert got.stdout == stock.stdout and got.stdout.count("MemoryError") == 3


CO_EXTRA_CHILD = """
import ctypes, gc, overdrive
overdrive.enable(threshold=0)
py = ctypes.pythonapi
freefunc = ctypes.CFUNCTYPE(None, ctypes.c_voidp)
calls = []
def myfree(ptr):
    calls.append(ptr)
FREE = freefunc(myfree)
index = py._PyEval_RequestCodeExtraIndex(FREE)
ns = {}
exec("def g(x):\\n    return x + 1\\n", ns)
ns["g"](1)                      # compiled: the JIT now has state on g's code object
del ns
gc.collect()
print(index, calls)
"""


def test_other_co_extra_users_are_not_called_for_jit_state():
    # Regression (regrtest test_code CoExtra tests crashed at shutdown): the JIT must not
    # make CPython call another co_extra user's free function for code objects that only
    # carry JIT state.
    import subprocess
    r = subprocess.run([sys.executable, "-c", CO_EXTRA_CHILD], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    index, calls = r.stdout.split(" ", 1)
    assert int(index) >= 1 and calls.strip() == "[]"


def _depth_seen_through_builtins():
    """Recursion depth a generator sees when resumed through next(), a METH_FASTCALL
    builtin, relative to its caller: the warmed interpreter calls next() directly
    (PRECALL_BUILTIN_FAST, not counted); generic vectorcall counts it."""
    import _testinternalcapi

    def gen():
        yield _testinternalcapi.get_recursion_depth()

    base = _testinternalcapi.get_recursion_depth()
    g = gen()
    inside = next(g)
    items = []
    items.append(len(items))  # list.append and len: the direct forms too
    return inside - base, items, len("abc"), isinstance(g, object)


def test_builtin_calls_count_recursion_depth_as_the_warmed_interpreter():
    # test.support.infinite_recursion() relies on this figure (test_support test_recursion).
    pytest.importorskip("_testinternalcapi")
    overdrive.disable()
    for _ in range(100):  # warm up: the interpreter specializes the calls
        expected = _depth_seen_through_builtins()
    got, exits = _compiled_run(_depth_seen_through_builtins)
    assert not exits
    assert got == expected == (1, [0], 3, True)


class _CheckMeta(type):
    seen = []

    def __instancecheck__(cls, inst):
        import _testinternalcapi
        if inst == "boom":
            raise ValueError("from __instancecheck__")
        cls.seen.append(_testinternalcapi.get_recursion_depth())
        return inst == 3


class _Checked(metaclass=_CheckMeta):
    pass


def _isinstance_forms():
    """isinstance(x, cls) in warmed code is the interpreter's PRECALL_NO_KW_ISINSTANCE:
    PyObject_IsInstance with no call in between (compiled code does the same, with no
    argument parsing); the other shapes are ordinary builtin calls."""
    import _testinternalcapi
    base = _testinternalcapi.get_recursion_depth()
    out = [isinstance(1, int), isinstance("a", (int, bytes)), isinstance(True, (str, (int,))),
           isinstance(_Checked(), _Checked), isinstance(3, _Checked), isinstance(4, _Checked),
           _CheckMeta.seen.pop() - base]
    for args in ((1, 5), ("boom", _Checked), (1,), (1, int, 2)):
        try:
            out.append(isinstance(*args) if len(args) != 2 else isinstance(args[0], args[1]))
        except (TypeError, ValueError) as exc:
            out.append((type(exc).__name__, str(exc)))
    return out


def test_warm_isinstance_is_the_interpreters_inline_form():
    pytest.importorskip("_testinternalcapi")
    overdrive.disable()
    for _ in range(100):  # warm up: the interpreter specializes the calls
        expected = _isinstance_forms()
    got, exits = _compiled_run(_isinstance_forms)
    assert not exits
    assert got == expected
    # __instancecheck__ sees the depth the specialized interpreter gives it: one level
    # for isinstance's own recursion guard, one for its frame; none for a builtin call.
    assert got[:7] == [True, False, True, True, True, False, 2], got
    assert got[7][0] == "TypeError" and got[8] == ("ValueError", "from __instancecheck__")


def test_cold_code_counts_builtin_calls_as_the_generic_interpreter():
    # Code the interpreter has not quickened calls builtins through vectorcall, which
    # counts them in the recursion depth (test_exceptions test_recursion_normalizing_
    # exception throws into a generator at exactly the limit from module-level code).
    pytest.importorskip("_testinternalcapi")
    import types

    def fresh():
        fn = _depth_seen_through_builtins
        return types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__)

    overdrive.disable()
    expected = fresh()()
    cold = fresh()
    got, exits = _compiled_run(cold)
    assert not exits
    assert got == expected == (2, [0], 3, True)


def _call_misbehaving_builtins(capi):
    out = []
    for fn in (capi.return_null_without_error, capi.return_result_with_error):
        try:
            fn()
        except SystemError as exc:
            out.append((str(exc), type(exc.__cause__)))
    return out


@pytest.mark.skipif(hasattr(sys, "gettotalrefcount"),
                    reason="a debug build makes a builtin returning NULL without an exception a "
                           "fatal error, in the interpreter too (_Py_CheckFunctionResult)")
def test_builtin_returning_null_without_error_is_reported_as_by_vectorcall(jit):
    # Builtins called through their C pointer get vectorcall's result check: a NULL
    # without an exception, or a result with one, is a SystemError naming the function.
    capi = pytest.importorskip("_testcapi")
    out = jit.run_both(_call_misbehaving_builtins, capi)
    assert "return_null_without_error" in out[0][0] and out[0][1] is type(None)
    assert "return_result_with_error" in out[1][0] and out[1][1] is ValueError
