"""Calls between compiled functions: compiled code pushes the callee's frame and enters its
native code directly (tier1/fast_call.c for exact positional calls, runtime/frames.c for
keywords and defaults). Each test compares with the interpreter and proves the direct road
was taken (stats()['calls_direct'])."""
from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import traceback

import pytest

import overdrive
import _overdrive
from conftest import code_calls, runs_tier1, tier1_only_because


def _direct_calls() -> int:
    return overdrive.stats()["calls_direct"]


def _tb(exc: BaseException) -> list:
    return [(f.name, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]


def leaf(a, b):
    return a + b


def mid(x):
    return leaf(x, 1) + leaf(x, 2)


def call_loop(n):
    t = 0
    for i in range(n):
        t += mid(i)
    return t


def test_call_heavy_loop_takes_the_direct_road(jit):
    before = _direct_calls()
    assert jit.run_both(call_loop, 3000) == sum(2 * i + 3 for i in range(3000))
    # 3 calls per iteration; all but a handful (first entries) direct (tier 2 calls
    # through PyObject_Vectorcall: the count is tier 1's)
    assert not runs_tier1(call_loop) or _direct_calls() - before > 3 * 3000 - 100


class Acc:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n

    def twice(self, k):
        return self.add(k) + self.add(k)


def method_calls(n):
    a = Acc()
    t = 0
    bound = a.add                       # a bound method object: PRECALL unpacks it
    for i in range(n):
        t += a.twice(i)                 # LOAD_METHOD + CALL
        t += bound(1)
    return t, a.n


def test_method_calls_take_the_direct_road(jit):
    before = _direct_calls()
    jit.run_both(method_calls, 500)
    # twice + 2 add inside + the bound add: 4 per iteration
    assert not runs_tier1(method_calls) or _direct_calls() - before > 4 * 500 - 100


def kw_target(a, b=10, *, c=100, d=1000):
    return a + 2 * b + 3 * c + 4 * d


def posonly(a, b, /, c=5):
    return a - b + c


def keyword_calls(n):
    t = 0
    for i in range(n):
        t += kw_target(i)
        t += kw_target(i, 2)
        t += kw_target(i, c=3)
        t += kw_target(b=i, a=1, d=2)
        t += posonly(i, 1)
        t += posonly(i, 1, c=i)
    return t


def test_keywords_and_defaults_take_the_direct_road(jit):
    before = _direct_calls()
    jit.run_both(keyword_calls, 300)
    assert not runs_tier1(keyword_calls) or _direct_calls() - before > 6 * 300 - 100


def kw_leaf(a, b):
    return a * 10 + b


class KwMethods:
    def m(self, a, b):
        return a - b


def kw_exact_calls(n):
    k = KwMethods()
    t = 0
    for i in range(n):
        t += kw_leaf(i, b=1)            # the keyword names the last parameter
        t += kw_leaf(a=i, b=2)          # both, in order
        t += k.m(i, b=3)                # LOAD_METHOD's shape, with a keyword
        t += kw_leaf(b=i, a=1)          # out of order: the helper binds them
        t += posonly(i, 1, c=i)         # a keyword after the positional-only parameters
    return t


@tier1_only_because("the direct-call thunk's keyword variant")
def test_keywords_naming_the_last_parameters_take_the_thunk(jit, quick_recompile):
    before = _direct_calls()
    jit.run_both(kw_exact_calls, 300)
    assert _direct_calls() - before > 5 * 300 - 100
    assert code_calls(kw_exact_calls, "od_tier1_direct_thunk (keywords)")
    assert overdrive.info(kw_leaf)["direct_entry"]      # hot: its own entry from the thunk


def po2(a, b, /):
    return a + b


def two(a, b):
    return a - b


def bad_keyword_calls():
    out = []
    for call in (lambda: kw_target(1, a=2), lambda: kw_target(1, e=2),
                 lambda: posonly(1, b=2), lambda: kw_target(), lambda: posonly(1, 2, 3, 4),
                 # as many arguments as parameters, keywords the thunk refuses: a
                 # positional-only parameter named, a parameter given twice, an unknown name
                 lambda: po2(1, b=2), lambda: two(1, a=2), lambda: two(1, c=2)):
        try:
            call()
        except TypeError as e:
            out.append(str(e))
    return out


def test_keyword_errors_are_the_interpreters(jit):
    assert len(jit.run_both(bad_keyword_calls)) == 8


def renamed_callee_site(n):
    t = 0
    for i in range(n):
        t += kw_renamed(i, b=1)
    return t


def test_keyword_call_of_a_callee_whose_parameters_change(jit):
    """The names are checked against the callee of each call: a site that took the thunk
    gets the interpreter's binding or TypeError when the function is redefined."""
    global kw_renamed
    overdrive.enable(threshold=0)
    try:
        def kw_renamed(a, b):
            return a + 2 * b
        assert renamed_callee_site(100) == sum(range(100)) + 200
        def kw_renamed(b, a):           # 'b' is the first parameter now: given twice
            return a
        with pytest.raises(TypeError, match="multiple values for argument 'b'"):
            renamed_callee_site(3)
        def kw_renamed(a, c, b=5):      # 'b' has a default: the helper binds it
            return a + c + b
        with pytest.raises(TypeError, match="missing 1 required positional argument: 'c'"):
            renamed_callee_site(3)
        def kw_renamed(a, c=7, b=5):
            return a + c + b
        assert renamed_callee_site(10) == sum(range(10)) + 80
    finally:
        overdrive.disable()
    assert overdrive.info(renamed_callee_site)["compiled"]
    assert code_calls(renamed_callee_site, "od_tier1_direct_thunk (keywords)") or \
        not runs_tier1(renamed_callee_site)


def raiser(x):
    if x > 3:
        raise ValueError(f"bad {x}")
    return x


def caller_of_raiser(x):
    y = raiser(x)
    return y + 1


def catches(n):
    out = []
    for i in range(n):
        try:
            out.append(caller_of_raiser(i))
        except ValueError as e:
            out.append((str(e), _tb(e)))
    return out


def test_exceptions_and_traceback_lines(jit):
    before = _direct_calls()
    got = jit.run_both(catches, 8)
    assert got[5][1][-2:] == [("caller_of_raiser", caller_of_raiser.__code__.co_firstlineno + 1),
                              ("raiser", raiser.__code__.co_firstlineno + 2)]
    assert _direct_calls() > before


def frames_seen():
    f = sys._getframe(1)
    return [(f.f_code.co_name, f.f_lineno), (f.f_back.f_code.co_name, f.f_back.f_lineno)]


def introspected():
    return frames_seen()


def escaping_frame(a):
    b = a * 2
    return sys._getframe(), b


def escapes(n):
    out = []
    for i in range(n):
        fr, b = escaping_frame(i)
        out.append((fr.f_locals, fr.f_lineno, fr.f_back.f_code.co_name, b))
    return out, introspected()


def test_frames_introspection_and_escaped_frames(jit):
    before = _direct_calls()
    jit.run_both(escapes, 5)
    assert not runs_tier1(escapes) or _direct_calls() > before


def gen(n):
    for i in range(n):
        yield i * i


def uses_generator(n):
    return [sum(gen(i)) for i in range(n)]


def test_generator_functions_called_directly(jit):
    jit.run_both(uses_generator, 50)


def rec(n):
    return 0 if n == 0 else rec(n - 1) + 1


def deep(n):
    try:
        return rec(n)
    except RecursionError as e:
        return ("RecursionError", str(e))


def test_recursion_limit_and_error(jit):
    before = _direct_calls()
    assert jit.run_both(deep, 500) == 500
    assert not runs_tier1(rec) or _direct_calls() - before >= 400
    assert jit.run_both(deep, 10 ** 5)[0] == "RecursionError"


def test_uncaught_recursion_traceback_matches_stock(tmp_path):
    prog = textwrap.dedent("""
        def f(n):
            return g(n + 1)
        def g(n):
            return f(n + 1)
        f(0)
    """)
    path = tmp_path / "rec.py"
    path.write_text(prog)
    stock = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
    jit = subprocess.run([sys.executable, "-c",
                          "import overdrive; overdrive.enable(threshold=0)\n"
                          f"exec(compile(open({str(path)!r}).read(), {str(path)!r}, 'exec'))"],
                         capture_output=True, text=True)
    assert stock.returncode == jit.returncode == 1
    # The same frames below the launcher line.
    assert stock.stderr.splitlines()[-8:] == jit.stderr.splitlines()[-8:]


def tracer_events():
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_name in ("traced_leaf", "traced_mid"):
            events.append((frame.f_code.co_name, event, frame.f_lineno))
        return tracer
    return events, tracer


def traced_leaf(x, on):
    if on:
        sys.settrace(on)
    y = x + 1
    return y


def traced_mid(x, on):
    a = traced_leaf(x, None)
    b = traced_leaf(x, on)
    c = traced_leaf(x, None)
    return a + b + c


def tracing_switched_on_in_a_callee():
    events, tracer = tracer_events()
    try:
        for i in range(3):
            traced_mid(i, None)
        r = traced_mid(5, tracer)
    finally:
        sys.settrace(None)
    return r, events


def test_tracing_switched_on_during_a_direct_call(jit):
    r, events = jit.run_both(tracing_switched_on_in_a_callee, allow_exits=True)
    assert events and r == 18


def profiled():
    calls = []

    def prof(frame, event, arg):
        if event in ("call", "return") and frame.f_code.co_name in ("leaf", "mid"):
            calls.append((event, frame.f_code.co_name))
    sys.setprofile(prof)
    try:
        mid(1)
    finally:
        sys.setprofile(None)
    return calls


def test_profiling_sees_every_call(jit):
    assert jit.run_both(profiled, allow_exits=True) == [
        ("call", "mid"), ("call", "leaf"), ("return", "leaf"),
        ("call", "leaf"), ("return", "leaf"), ("return", "mid")]


def test_callee_replaced_recompiled_and_freed():
    """Sites cache nothing: a callee whose code is swapped, redefined, recompiled or freed
    is found again through the function each call."""
    ns = {}
    src = textwrap.dedent("""
        def callee(x):
            return x + K
        def site(n):
            t = 0
            for i in range(n):
                t += callee(i)
            return t
    """)
    overdrive.enable(threshold=0)
    try:
        before = _direct_calls()
        for k in range(20):
            exec(src.replace("K", str(k)), ns)     # new code objects each time
            assert ns["site"](50) == sum(range(50)) + 50 * k
            if k % 2:
                def other(x, k=k):
                    return -x - k
                ns["callee"] = other                # defaults: keyword road
                assert ns["site"](10) == -sum(range(10)) - 10 * k
                exec(src.replace("K", str(k)), ns)
            ns["callee"].__code__ = (lambda x: x * 3).__code__
            assert ns["site"](10) == 3 * sum(range(10))
            gc.collect()
        assert not runs_tier1(ns["site"]) or _direct_calls() > before
    finally:
        overdrive.disable()


def test_refcounts_balanced(jit):
    obj = object()

    def keep(a, b):
        return a

    def pass_along(n, o):
        for _ in range(n):
            keep(o, o)
        return None

    base = sys.getrefcount(obj)
    jit.run_both(pass_along, 1000, obj)
    assert sys.getrefcount(obj) == base


def last_ref_callee(a, b):
    return len(a) + len(b)


def frees_in_callee(n):
    t = 0
    for i in range(n):
        t += last_ref_callee([i], [i, i])   # the callee holds the only references
    return t


def test_callee_releases_last_references(jit):
    assert jit.run_both(frees_in_callee, 200) == 600


@pytest.mark.parametrize("n", [1, 3])
def test_locals_of_many_kinds(jit, n):
    def cells(a, b):
        def inner():
            return a + b
        return inner()

    def user(k):
        return sum(cells(i, k) for i in range(k))

    jit.run_both(user, 10 * n)


# ---- hot callees: their own direct entry (recompiled units, tier1/fast_call.c) ----------

def hot_plain(a, b):
    c = a * 2
    return c + b


def hot_frees(a, b):
    t = [a]                             # a local whose last reference goes at the return
    return len(t) + b


def hot_raises(a, b):
    if a % 7 == 3:
        raise KeyError(a)
    return a - b


def hot_escapes(a, b):
    f = sys._getframe()
    return f, a + b


def hot_locals(a, b):
    x = a + b
    return sorted(locals())             # f_locals is materialised


def hot_cell(a, b):
    def inner():
        return a + b
    return inner()


def hot_many(a, b):
    v0 = v1 = v2 = v3 = v4 = v5 = v6 = v7 = v8 = v9 = v10 = v11 = v12 = v13 = v14 = v15 = a
    return v0 + v15 + b


def drive_hot(n):
    out = []
    for i in range(n):
        r = [hot_plain(i, 1), hot_frees(i, 2), hot_cell(i, 3), hot_many(i, 4),
             hot_locals(i, 5)]
        try:
            r.append(hot_raises(i, 1))
        except KeyError as e:
            r.append(("KeyError", e.args, _tb(e)[-1][0]))
        fr, s = hot_escapes(i, 6)
        r.append((s, fr.f_back.f_code.co_name, sorted(fr.f_locals)))
        out.append(r)
    return out


@pytest.fixture
def quick_recompile():
    overdrive.config(recompile_after=20)
    yield
    overdrive.config(recompile_after=1000)


@tier1_only_because("direct entries of recompiled hot callees")
def test_hot_callees_enter_through_their_own_entry(jit, quick_recompile):
    funcs = (hot_plain, hot_frees, hot_raises, hot_escapes, hot_locals, hot_cell, hot_many)
    before = _direct_calls()
    jit.run_both(drive_hot, 300)
    assert _direct_calls() - before > 5 * 250
    for f in funcs:
        info = overdrive.info(f)
        assert info["recompiled"], f.__name__
        # its own entry, unless its frame has more locals than that entry unrolls
        assert info["direct_entry"] == (f is not hot_many), f.__name__
    assert _overdrive._native_map(hot_plain) is not None


@tier1_only_because("recompilation in the middle of a recursion (its direct entry)")
def test_hot_recursion_and_limit(jit, quick_recompile):
    assert jit.run_both(deep, 600) == 600          # recompiled mid-recursion, then hot
    assert jit.run_both(deep, 600) == 600
    assert overdrive.info(rec)["recompiled"]
    assert jit.run_both(deep, 10 ** 5)[0] == "RecursionError"


def builtin_calls(xs):
    t = 0
    for x in xs:
        t += len(x) + abs(-len(x))
    return t


def python_calls(xs):
    t = 0
    for x in xs:
        t += leaf(len(x), 1)
    return t


@pytest.mark.skipif(__import__("os").environ.get("OVERDRIVE_COMPACT") == "all",
                    reason="full units' call sites")
@tier1_only_because("recompiled call sites and the direct-call thunk")
def test_recompiled_sites_that_only_called_builtins_skip_the_thunk():
    # After recompilation with feedback, a CALL site that never called a Python function
    # goes straight to the helper (no thunk call to be refused); one that did keeps it.
    xs = ["ab", "c", "def"] * 10
    overdrive.config(recompile_after=3)
    overdrive.enable(threshold=0)
    try:
        for _ in range(6):
            builtin_calls(xs)
            python_calls(xs)
        before = _direct_calls()
        assert python_calls(xs) == sum(len(x) + 1 for x in xs)
        assert builtin_calls(xs) == 2 * sum(len(x) for x in xs)
    finally:
        overdrive.disable()
        overdrive.config(recompile_after=1000)
    assert overdrive.info(builtin_calls)["recompiled"] and overdrive.info(python_calls)["recompiled"]
    assert _direct_calls() - before >= len(xs)          # leaf() still direct
    # A recompiled site calls the thunk's variant that keeps no record.
    quiet = "od_tier1_direct_thunk (recompiled sites)"
    assert code_calls(python_calls, quiet) and not code_calls(python_calls, "od_tier1_direct_thunk")
    assert not code_calls(builtin_calls, quiet)
    assert not code_calls(builtin_calls, "od_tier1_direct_thunk")


# ---- a hot callee's own entry calls its body (tier1/compile.c emit_prologue) ------------

def hot_traced_leaf(x, on):
    if on:
        sys.settrace(on)                # tracing comes on inside the body a direct call entered
    y = x + 1
    return y


def hot_traced_mid(x, on):
    return hot_traced_leaf(x, None) + hot_traced_leaf(x, on) + hot_traced_leaf(x, None)


def hot_tracing_switched_on(n):
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_name in ("hot_traced_leaf", "hot_traced_mid"):
            events.append((frame.f_code.co_name, event, frame.f_lineno))
        return tracer
    t = 0
    try:
        for i in range(n):
            t += hot_traced_mid(i, None)
        t += hot_traced_mid(5, tracer)
        t += hot_traced_mid(6, None)    # traced now: the interpreter's road
    finally:
        sys.settrace(None)
    return t, events


@tier1_only_because("direct entries of recompiled hot callees")
def test_hot_callee_switches_tracing_on(jit, quick_recompile):
    before = _direct_calls()
    t, events = jit.run_both(hot_tracing_switched_on, 200, allow_exits=True)
    assert events and t == sum(3 * i + 3 for i in range(200)) + 18 + 21
    assert overdrive.info(hot_traced_leaf)["recompiled"]
    assert overdrive.info(hot_traced_leaf)["direct_entry"]
    assert _direct_calls() - before > 3 * 150


def hot_loop(a, b):
    t = 0
    for i in range(a):                  # a unit with back edges: its entry takes `at` (OSR)
        t += i * b
    return t


def hot_gen(a, b):
    yield a
    yield b


def drive_loops(n):
    return [(hot_loop(i % 5, 3), list(hot_gen(i, 2))) for i in range(n)]


@tier1_only_because("direct entries of recompiled hot callees")
def test_hot_callee_with_a_loop_enters_its_body_at_the_start(jit, quick_recompile):
    before = _direct_calls()
    jit.run_both(drive_loops, 300)
    assert overdrive.info(hot_loop)["recompiled"] and overdrive.info(hot_loop)["direct_entry"]
    assert not overdrive.info(hot_gen)["direct_entry"]    # a generator: the thunk's road
    assert _direct_calls() - before > 250


# ---- what the thunk does for its call site (tier1/fast_call.c emit_call_fast): the caller's
# prev_instr, the result into the call's slot, the tracing check after the call ---------------

def freeing_leaf(x, on):
    tmp = [x]                           # its last reference dies with the frame: cleared in C
    if on:
        sys.settrace(on)                # tracing comes on inside the callee
    return tmp[0] + sys._getframe(1).f_lineno - sys._getframe(1).f_code.co_firstlineno


def freeing_mid(x, on):
    a = freeing_leaf(x, None)
    b = freeing_leaf(x, on)
    return a * 100 + b * 10 + freeing_leaf(x, None)


def freeing_tracing_switched_on(n):
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_name in ("freeing_leaf", "freeing_mid"):
            events.append((frame.f_code.co_name, event, frame.f_lineno))
        return tracer
    t = []
    try:
        for i in range(n):
            t.append(freeing_mid(i, None))
        t.append(freeing_mid(5, tracer))
        t.append(freeing_mid(6, None))  # traced now: the interpreter's road
    finally:
        sys.settrace(None)
    return t, events


@pytest.mark.parametrize("n", [3, 200])
def test_tracing_switched_on_by_a_callee_cleared_in_c(jit, quick_recompile, n):
    # n=3: first units, the thunk's generic road; n=200: recompiled, the callee's own
    # direct entry. The callee's frame is cleared in C (od_rt_direct_return_into); the
    # callee reads its caller's line (prev_instr, which the thunk stores).
    before = _direct_calls()
    t, events = jit.run_both(freeing_tracing_switched_on, n, allow_exits=True)
    assert t[:n] == [i * 111 + 123 for i in range(n)]
    assert events and t[n] == 5 * 111 + 123 and t[n + 1] == 6 * 111 + 123
    assert not runs_tier1(freeing_mid) or _direct_calls() - before >= 3 * n
