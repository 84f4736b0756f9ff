"""A tier-2 callee's own entry for tier 2's call thunk (rt/call_thunk.h
od_t2_emit_direct_entry): a call with exactly the callee's positional parameters (self
included) continues, past the thunk's checks, in code the callee's unit carries, with the
frame's sizes as immediates and the loops over arguments and locals unrolled. Counted in
stats()["tier2"]["entry_calls"] (and in "fast_calls"). Each case is compared with the
interpreter (results, exceptions and tracebacks, finalizer order, reference counts)."""
import sys

import pytest

import overdrive
from conftest import Noisy
from conftest import outcome_with_traceback as outcome


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def roads():
    """(fast calls, entry calls) so far, from one stats() call."""
    t2 = overdrive.stats()["tier2"]
    return t2["fast_calls"], t2["entry_calls"]


def run_entry(f, *calls, warm=3):
    """Each call's outcome interpreted, then at tier 2 after `warm` tier-2 runs of the
    first (the callees reach tier 2 too). Returns (outcomes, fast calls, entry calls) of
    the compared runs, without stats()'s own."""
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(warm):
            outcome(f, calls[0])
        f0, e0 = roads()
        f1, e1 = roads()
        got = []
        for a in calls:
            got.append(outcome(f, a))
        f2, e2 = roads()
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info
    assert got == expected
    return got, f2 - f1 - (f1 - f0), e2 - e1 - (e1 - e0)


def add(a, b):
    return a + b


def add3(a, b, c=10):
    return a + b + c


class Acc:
    def __init__(self):
        self.total = 0

    def step(self, x):
        self.total += x
        return self.total


def plain(n):
    t = 0
    for i in range(n):
        t = add(t, i)
    return t


def method(n):
    a = Acc()
    for i in range(n):
        a.step(i)               # LOAD_METHOD: the function, self the first argument
    return a.total


def bound(n):
    a = Acc()
    step = a.step               # a PyMethod: self from the method object (r10)
    for i in range(n):
        step(i)
    return a.total


def test_exact_calls_take_the_callees_entry():
    for f in (plain, method, bound):
        _, fast, entry = run_entry(f, (60,), (0,), (7,))
        assert entry >= 67 and entry == fast, (f.__name__, fast, entry)


def add4(a, b, c=10, d=20):
    return a + b + c + d


def with_defaults(n):
    t = 0
    for i in range(n):
        t += add4(i, 1)         # two defaults to fill: the thunk's own loops
        t += add4(i, 1, 2)      # one short: the callee's short entry takes d itself
        t += add4(i, 1, 2, 3)   # exactly positional: the callee's entry
    return t


def test_a_call_one_short_takes_the_short_entry_two_short_the_thunk():
    _, fast, entry = run_entry(with_defaults, (30,), (4,))
    assert fast == 3 * 34 and entry == 2 * 34


class Finder:
    def find(self, update=False):   # go's Square.find: called as x.find()
        return 7 if update else 3


def finds(n):
    f = Finder()
    t = 0
    for i in range(n):
        t += f.find()           # self and one short: the short entry
        t += f.find(i & 1)
    return t


def test_a_method_call_one_short_takes_the_short_entry():
    _, fast, entry = run_entry(finds, (30,), (5,))
    assert fast == 2 * 35 and entry == 2 * 35


def one_default(a, b=5):
    return a * b


def rebinds_defaults(n):
    one_default.__defaults__ = (5,)
    out = []
    for i in range(n):
        if i == 3:
            one_default.__defaults__ = (100,)     # read at each call, not compiled in
        if i == 6:
            one_default.__defaults__ = None       # a TypeError, as the interpreter's
        out.append(one_default(i))
    return out


def test_defaults_replaced_mid_loop_are_the_ones_a_call_takes():
    got, _, entry = run_entry(rebinds_defaults, (2,), (5,), (8,), warm=1)
    assert got[1][1][3:] == [300, 400]
    assert got[2][0] == "raise" and got[2][1] is TypeError
    assert entry >= 2 + 5


def make_scaler(k):
    def scale(x, by=k):         # one code, a function (and defaults) per k
        return x * by
    return scale


scalers = [make_scaler(k) for k in (2, 3, 5)]


def scales(n):
    t = 0
    for i in range(n):
        for s in scalers:
            t += s(i)
    return t


def test_functions_of_one_code_each_take_their_own_default():
    _, fast, entry = run_entry(scales, (20,), (3,))
    assert entry >= 3 * 23 and entry == fast


def frees_locals(x, y):
    tmp = Noisy(f"tmp{x}")      # its last reference is the frame's: C frees it
    y = Noisy(f"y{x}")          # the argument rebound: the old value stays the caller's
    return tmp.name + y.name


def frees_caller(n):
    out = []
    for i in range(n):
        out.append(frees_locals(i, "arg"))
        Noisy.log.append(i)
    return out, list(Noisy.log)


def test_a_callee_that_frees_its_locals_frees_them_in_the_interpreters_order():
    Noisy.log.clear()
    overdrive.disable()
    expected = outcome(frees_caller, (12,))
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            Noisy.log.clear()
            frees_caller(2)
        Noisy.log.clear()
        f0, e0 = roads()
        got = outcome(frees_caller, (12,))
        f1, e1 = roads()
    finally:
        overdrive.disable()
        Noisy.log.clear()
    assert got == expected
    assert e1 - e0 >= 12


def raises_at(x, limit):
    if x >= limit:
        raise ValueError(f"at {x}")
    return x


def raising(n):
    t = 0
    for i in range(n):
        t += raises_at(i, 9)
    return t


def test_a_raising_callee_through_its_entry_keeps_the_traceback():
    got, _, entry = run_entry(raising, (5,), (20,))
    assert got[1][0] == "raise" and got[1][1] is ValueError
    assert entry >= 5 + 9


def escapes(x):
    f = sys._getframe()         # a frame object: the clear in C
    return x + f.f_lineno


def escaping_loop(n):
    out = []
    for i in range(n):
        out.append(escapes(i))
    return out


def test_an_escaped_frame_object_takes_the_c_clear():
    _, _, entry = run_entry(escaping_loop, (20,), (3,))
    assert entry >= 23


def many_locals(a, b):
    x0 = x1 = x2 = x3 = x4 = x5 = x6 = x7 = x8 = x9 = a
    y0 = y1 = y2 = y3 = y4 = y5 = y6 = y7 = y8 = y9 = b
    z0 = z1 = z2 = z3 = z4 = z5 = z6 = z7 = z8 = z9 = a + b
    w0 = w1 = w2 = w3 = a - b
    return (x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + y0 + y1 + y2 + y3 + y4 + y5
            + y6 + y7 + y8 + y9 + z0 + z1 + z2 + z3 + z4 + z5 + z6 + z7 + z8 + z9 + w0 + w1
            + w2 + w3)


def calls_many_locals(n):
    t = 0
    for i in range(n):
        t += many_locals(i, 2)
    return t


def test_a_callee_of_more_than_32_locals_has_no_entry():
    assert many_locals.__code__.co_nlocals > 32
    _, fast, entry = run_entry(calls_many_locals, (20,), (3,))
    assert fast >= 23 and entry == 0


def keep(a, b, c):
    return a


def refs(n, obj):
    for i in range(n):
        keep(obj, i, obj)
    return sys.getrefcount(obj)


def test_argument_references_balance_through_the_entry():
    obj = object()
    overdrive.disable()
    expected = refs(50, obj)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            refs(3, obj)
        f0, e0 = roads()
        got = refs(300, obj)
        f1, e1 = roads()
    finally:
        overdrive.disable()
    assert got == expected
    assert e1 - e0 >= 300


def fact(n):
    return 1 if n < 2 else n * fact(n - 1)


def test_recursion_through_the_entry():
    _, _, entry = run_entry(fact, (30,), (5,), (1,))
    assert entry >= 29 + 4


# ---- the short entry (one argument short, the last parameter from func_defaults) ----------

def countdown(n, step=1):
    return 0 if n <= 0 else countdown(n - step) + 1     # one short: the short entry


def test_recursion_to_the_limit_through_the_short_entry():
    overdrive.disable()
    expected = outcome(countdown, (10**6,))[:2]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            countdown(3)
        got = outcome(countdown, (10**6,))[:2]
        f0, e0 = roads()        # (the traceback's own calls left out)
        f1, e1 = roads()
        ok = countdown(400)
        f2, e2 = roads()
        info = overdrive.info(countdown)
    finally:
        overdrive.disable()
    assert info["tier"] == 2
    assert got == expected == ("raise", RecursionError)
    assert ok == 400
    fast, entry = f2 - f1 - (f1 - f0), e2 - e1 - (e1 - e0)
    assert entry >= 390 and entry == fast


def fails_past(x, limit=6):
    if x >= limit:
        raise KeyError(x)
    return x


def calls_failing(n):
    t = 0
    for i in range(n):
        t += fails_past(i)       # one short
    return t


def test_a_raising_callee_through_the_short_entry_keeps_the_traceback():
    got, _, entry = run_entry(calls_failing, (4,), (12,))
    assert got[1][0] == "raise" and got[1][1] is KeyError
    assert entry >= 4 + 6


def traced_short(x, tracer=None):
    if tracer is not None:
        sys.settrace(tracer)    # tracing switched on by the callee
    return x + 1


def traces_from_callee(tracer, n):
    t = 0
    for i in range(n):
        if i == 2:
            t += traced_short(i, tracer)
        else:
            t += traced_short(i)     # one short
    return t


def test_tracing_switched_on_by_a_callee_of_the_short_entry():
    events = []
    watched = {traces_from_callee.__code__, traced_short.__code__}

    def tracer(frame, event, arg):
        if frame.f_code in watched:
            events.append((frame.f_code.co_name, event, frame.f_lineno))
        return tracer

    def run():
        events.clear()
        try:
            return traces_from_callee(tracer, 5), list(events)
        finally:
            sys.settrace(None)
    overdrive.disable()
    expected = run()
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(4):
            traces_from_callee(None, 3)
        f0, e0 = roads()
        f1, e1 = roads()
        got = run()
        f2, e2 = roads()
        info = overdrive.info(traces_from_callee)
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier"] == 2 and info["tier2"]["exits"].get("TRACING", 0) >= 1, info
    # traced_short(0), (1) one short, (2, tracer) exactly: each through an entry; none once
    # tracing is on
    fast, entry = f2 - f1 - (f1 - f0), e2 - e1 - (e1 - e0)
    assert entry >= 3 and entry == fast


def counts_up(n, by=2):
    for i in range(n):
        yield i * by


def sums_generators(n):
    t = 0
    for i in range(n):
        t += sum(counts_up(i))  # one short, but a generator: no entry of its own
    return t


def test_a_generator_function_with_defaults_takes_no_entry():
    _, fast, entry = run_entry(sums_generators, (10,), (3,))
    assert overdrive.info(counts_up)["tier"] == 1
    assert fast == 13 and entry == 0


default_obj = object()


def keeps_default(a, d=default_obj):
    return a


def refs_short(n):
    for i in range(n):
        keeps_default(i)
    return sys.getrefcount(default_obj)


def test_the_default_s_reference_balances_through_the_short_entry():
    overdrive.disable()
    expected = refs_short(50)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            refs_short(3)
        f0, e0 = roads()
        got = refs_short(300)
        f1, e1 = roads()
    finally:
        overdrive.disable()
    assert got == expected
    assert e1 - e0 >= 300
