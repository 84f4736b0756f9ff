"""Tier 2's calls of Python functions (rt/call.c): the callee's frame pushed and its code
entered through the runtime's direct entry, not vectorcall. Each case is compared with the
interpreter (results, exceptions, tracebacks, trace events), with the caller running at
tier 2 and the direct calls counted (stats()["tier2"]["direct_calls"])."""
import subprocess
import sys
import textwrap

import pytest

import _overdrive
import overdrive
from conftest import outcome_with_traceback


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


outcome = outcome_with_traceback   # conftest: result or exception, with traceback


def direct_calls():
    return overdrive.stats()["tier2"]["direct_calls"]


def run_t2(f, *calls, counter=None, warm=1):
    """Each call's outcome interpreted, then with f at tier 2 (its first `warm` calls at
    tier 1, tier 2 from the next). Returns (info(f), what `counter` (direct calls by default)
    counted during the tier-2 runs)."""
    counter = counter or direct_calls
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(warm):
            outcome(f, calls[0])
        before = counter()
        got = [outcome(f, a) for a in calls]
        made = counter() - before
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info
    assert got == expected
    return info, made


# ---- callees -----------------------------------------------------------------------------

def add(a, b):
    return a + b


def add3(a, b, c=10):
    return a + b + c


def kwonly(a, *, k=5):
    return a * k


def star(*args):
    return len(args)


def make_closure(k):
    def inner(x):
        return x + k
    return inner


class Acc:
    def __init__(self):
        self.total = 0

    def step(self, x):
        self.total += x
        return self.total


def boom(x):
    if x == 7:
        raise ValueError(f"boom at {x}")
    return x


# ---- callers (module-level: tier 2 refuses closures) -------------------------------------

def calls_plain(n):
    t = 0
    for i in range(n):
        t = add(t, i)
    return t


def calls_method(n):
    a = Acc()
    for i in range(n):
        a.step(i)             # LOAD_METHOD + CALL: CallMethod with the function
    return a.total


def calls_bound(n):
    a = Acc()
    step = a.step             # a bound method object: Call with a PyMethod
    for i in range(n):
        step(i)
    return a.total


def calls_other_shapes(n, closure):
    t = 0
    for i in range(n):
        t += add3(i, 1)           # a default filled
        t += add3(i, 1, c=2)      # a keyword
        t += kwonly(i, k=3)       # keyword-only
        t += star(i, i)           # *args: vectorcall
        t += closure(i)           # a closure (the callee has free variables)
    return t


def calls_raising(n):
    t = 0
    for i in range(n):
        t += boom(i)
    return t


def test_plain_calls_are_direct_and_match():
    info, made = run_t2(calls_plain, (100,), (0,), (37,))
    assert made >= 130      # (a callee's first calls go through the hook, which tiers it)
    assert not info["tier2"]["exits"], info["tier2"]["exits"]


def test_method_calls_are_direct_and_match():
    _, made = run_t2(calls_method, (50,), (3,))
    assert made >= 53


def test_bound_method_objects_are_called_directly():
    _, made = run_t2(calls_bound, (50,), (3,))
    assert made >= 53


def test_defaults_keywords_star_args_and_closures_match():
    _, made = run_t2(calls_other_shapes, (20, make_closure(3)), (5, make_closure(-1)))
    # defaults, keywords and the closure are built by the runtime's frame push; *args is not
    assert made >= 4 * 25 - 4


def test_a_raising_callee_unwinds_through_both_frames():
    """The traceback names the tier-2 caller at its call line, then the callee."""
    info, _ = run_t2(calls_raising, (5,), (10,), (20,))
    assert info["tier2"]["exits"].get("ERROR", 0) >= 2


def test_direct_calls_keep_the_argument_references_balanced():
    """The operands stay the caller's after a direct call (the frame took its own)."""
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        takes_and_drops(object())
        o = object()
        start = sys.getrefcount(o)
        before = direct_calls()
        for _ in range(5):
            takes_and_drops(o)
        made = direct_calls() - before
        assert sys.getrefcount(o) == start
        assert overdrive.info(takes_and_drops)["tier"] == 2
    finally:
        overdrive.disable()
    assert made >= 5 * 40


def keep_arg(x):
    return x


def takes_and_drops(o):
    for _ in range(20):
        keep_arg(o)
        Acc.step(Acc(), 1)


# ---- the callee changes ------------------------------------------------------------------

def rebinding_loop(n):
    global target
    t = 0
    for i in range(n):
        t += target(i)
        if i == n // 3:
            target = second_target              # defaults: the runtime fills them
        elif i == 2 * n // 3:
            target = abs                        # not a Python function: vectorcall
    return t


def first_target(x):
    return x * 2


def second_target(x, y=100):
    return x + y


target = first_target


def test_a_callee_rebound_mid_loop():
    global target

    def reset():
        global target
        target = first_target
    overdrive.disable()
    reset()
    expected = outcome(rebinding_loop, (30,))
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        reset()
        rebinding_loop(3)
        reset()
        before = direct_calls()
        got = outcome(rebinding_loop, (30,))
        made = direct_calls() - before
        info = overdrive.info(rebinding_loop)
    finally:
        overdrive.disable()
        target = first_target
    assert info["tier"] == 2
    assert got == expected
    assert made >= 20


# ---- recursion ---------------------------------------------------------------------------

def recurse(n):
    if n == 0:
        return 0
    return recurse(n - 1) + 1


def test_recursion_limit_raises_recursion_error_through_direct_calls():
    overdrive.disable()
    expected = outcome(recurse, (10**6,))[:2]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        recurse(3)
        before = direct_calls()
        got = outcome(recurse, (10**6,))[:2]
        ok = recurse(500)
        made = direct_calls() - before
        info = overdrive.info(recurse)
    finally:
        overdrive.disable()
    assert info["tier"] == 2
    assert got == expected == ("raise", RecursionError)
    assert ok == 500
    assert made > 500


def test_deep_recursion_through_direct_calls_in_a_subprocess():
    """50,000 frames deep (stock 3.11 survives it at setrecursionlimit(100000)): the C
    stack is switched as for every frame entry, and RecursionError stays clean."""
    prog = textwrap.dedent("""
        import sys
        import overdrive
        overdrive.enable(threshold=0, tier2_threshold=1)
        sys.setrecursionlimit(100000)
        def rec(n):
            if n == 0:
                return 0
            return rec(n - 1) + 1
        for _ in range(3):
            rec(10)
        assert overdrive.info(rec)["tier"] == 2
        before = overdrive.stats()["tier2"]["direct_calls"]
        print(rec(50000))
        try:
            rec(10**6)
        except RecursionError:
            print("RecursionError")
        print(rec(1000))
        print(overdrive.stats()["tier2"]["direct_calls"] - before > 50000)
    """)
    r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["50000", "RecursionError", "1000", "True"]


# ---- tracing -----------------------------------------------------------------------------

def traced_callee(tracer):
    sys._getframe(1).f_trace = tracer
    sys.settrace(tracer)
    x = 1
    return x + 1


def caller_of_tracer(tracer, n):
    t = 0
    for i in range(n):
        t += add(i, 1)
        if i == 2:
            t += traced_callee(tracer)
    return t


def test_tracing_switched_on_inside_a_direct_callee():
    events = []
    watched = {caller_of_tracer.__code__, traced_callee.__code__, add.__code__}

    def tracer(frame, event, arg):
        if frame.f_code in watched:
            events.append((frame.f_code.co_name, event, frame.f_lineno))
        return tracer

    def run():
        events.clear()
        try:
            return caller_of_tracer(tracer, 5), list(events)
        finally:
            sys.settrace(None)
    overdrive.disable()
    expected = run()
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):      # tier 1, tier 2 (its first entry quickens), tier 2
            caller_of_tracer(None, 1)
        before = direct_calls()
        got = run()
        made = direct_calls() - before
        info = overdrive.info(caller_of_tracer)
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier"] == 2 and info["tier2"]["exits"].get("TRACING", 0) >= 1, info
    assert made >= 3


# ---- tiering -----------------------------------------------------------------------------

def hot_callee(x):
    return x + 1


def calls_hot(n):
    t = 0
    for i in range(n):
        t = hot_callee(t)
    return t


def test_a_callee_of_tier2_code_still_reaches_tier_2():
    """Until the hook promotes a tier-1 callee, tier 2 calls it through vectorcall, so the
    hook counts its entries as before."""
    overdrive.enable(threshold=0, tier2_threshold=20)
    try:
        for _ in range(25):
            calls_hot(2)
        assert overdrive.info(calls_hot)["tier"] == 2
        calls_hot(100)
        callee = overdrive.info(hot_callee)
        before = direct_calls()
        assert calls_hot(100) == 100
        made = direct_calls() - before
    finally:
        overdrive.disable()
    assert callee["tier"] == 2
    assert made >= 100


# ---- the machine-code road (rt/call_thunk.c) ---------------------------------------------
# Exact positional calls of a compiled Python function (plain, bound method object,
# self.method() through LOAD_METHOD) are made by tier 2's call thunk, counted in
# stats()["tier2"]["fast_calls"] (and in "direct_calls", the sum of both direct roads);
# everything else goes on to the C helper (rt/call.c) with the operands unchanged.

def fast_calls():
    return overdrive.stats()["tier2"]["fast_calls"]


def roads():
    """(direct calls, fast calls) so far, from one stats() call."""
    t2 = overdrive.stats()["tier2"]
    return t2["direct_calls"], t2["fast_calls"]


def run_fast(f, *calls, warm=3):
    """Like run_t2, after `warm` tier-2 runs of the first call (so that the callees are at
    tier 2 too, which the thunk enters directly). Returns (info(f), direct calls, fast
    calls) of the compared runs, without those stats() itself makes (it is Python code
    that tier 2 compiles too)."""
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(warm):
            outcome(f, calls[0])
        d0, f0 = roads()
        d1, f1 = roads()
        got = []
        for a in calls:             # (not a comprehension: tier 2 compiles those, and its
            got.append(outcome(f, a))   # call of outcome() would be counted)
        d2, f2 = roads()
        made, fast = d2 - d1 - (d1 - d0), f2 - f1 - (f1 - f0)
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info
    assert got == expected
    return info, made, fast


def test_plain_calls_take_the_machine_code_road():
    info, made, fast = run_fast(calls_plain, (100,), (0,), (37,))
    assert fast >= 137 and made == fast     # no call took the C road
    assert not info["tier2"]["exits"], info["tier2"]["exits"]


def test_method_calls_through_load_method_take_the_machine_code_road():
    _, made, fast = run_fast(calls_method, (50,), (3,))
    assert fast >= 53 and made == fast


def test_bound_method_objects_take_the_machine_code_road():
    """A PyMethod: the function called with self first (method_vectorcall's order)."""
    _, made, fast = run_fast(calls_bound, (50,), (3,))
    assert fast >= 53 and made == fast


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def moved(self, dx, dy):
        return Point(self.x + dx, self.y + dy)

    def norm1(self):
        return abs(self.x) + abs(self.y)


def walk(n):
    p = Point(0, 0)
    total = 0
    for i in range(n):
        p = p.moved(i, -1)
        total += p.norm1()
    return total, p.x, p.y


def test_argument_references_and_results_of_the_machine_code_road():
    _, _, fast = run_fast(walk, (40,), (1,))
    assert fast >= 2 * 41


def wrong_argc(n):
    t = 0
    for i in range(n):
        t += add(i, 1)
        if i == n - 1:
            t += add(i)             # TypeError: the thunk refuses, vectorcall raises
    return t


def test_a_wrong_argument_count_goes_on_to_the_helper_and_raises_the_same():
    _, _, fast = run_fast(wrong_argc, (10,), (3,))
    assert fast >= 13       # (and the traceback module's own calls)


def defaults_and_keywords(n):
    t = 0
    for i in range(n):
        t += add3(i, 1)             # a default to fill: the thunk fills it
        t += add3(i, 1, c=2)        # a keyword: the C road
        t += add(a=i, b=2)          # keywords only: the C road
        t += add3(i, 1, 3)          # exactly positional: the thunk
    return t


def test_defaults_are_filled_and_keywords_go_on_to_the_c_road():
    _, made, fast = run_fast(defaults_and_keywords, (20,), (5,))
    assert fast == 2 * 25
    assert made - fast == 2 * 25


def two_defaults(a, b=2, c=3):
    return (a, b, c)


def changing_defaults(n):
    out = []
    for i in range(n):
        out.append(two_defaults(i))
        out.append(two_defaults(i, -i))
        if i == n // 2:
            two_defaults.__defaults__ = (20, 30)
        if i == n - 2:
            two_defaults.__defaults__ = (300,)      # b has none now: TypeError
    return out


def test_defaults_read_at_each_call_and_too_few_arguments_raise_the_same():
    def reset():
        two_defaults.__defaults__ = (2, 3)
    try:
        reset()
        overdrive.disable()
        expected = outcome(changing_defaults, (8,))
        overdrive.enable(threshold=0, tier2_threshold=1)
        for _ in range(3):
            reset()
            outcome(changing_defaults, (8,))
        reset()
        f0 = fast_calls()
        got = outcome(changing_defaults, (8,))
        fast = fast_calls() - f0
        info = overdrive.info(changing_defaults)
    finally:
        overdrive.disable()
        reset()
    assert info["tier"] == 2
    assert got == expected and got[0] == "raise" and got[1] is TypeError
    assert fast >= 2 * 7


def test_a_raising_callee_on_the_machine_code_road_keeps_the_traceback():
    info, _, fast = run_fast(calls_raising, (5,), (10,), (20,))
    assert fast >= 5 + 7 + 7
    assert info["tier2"]["exits"].get("ERROR", 0) >= 2


def test_recursion_limit_on_the_machine_code_road():
    overdrive.disable()
    expected = outcome(recurse, (10**6,))[:2]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            recurse(3)
        f0 = fast_calls()
        got = outcome(recurse, (10**6,))[:2]
        ok = recurse(500)
        fast = fast_calls() - f0
        info = overdrive.info(recurse)
    finally:
        overdrive.disable()
    assert info["tier"] == 2
    assert got == expected == ("raise", RecursionError)
    assert ok == 500
    assert fast > 500


def test_a_callee_rebound_mid_loop_on_the_machine_code_road():
    global target
    overdrive.disable()
    target = first_target
    expected = outcome(rebinding_loop, (30,))
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            target = first_target
            rebinding_loop(3)
            second_target(1)
            second_target(1)
        target = first_target
        f0 = fast_calls()
        got = outcome(rebinding_loop, (30,))
        fast = fast_calls() - f0
        info = overdrive.info(rebinding_loop)
    finally:
        overdrive.disable()
        target = first_target
    assert info["tier"] == 2
    assert got == expected
    assert fast >= 20       # first_target's calls, and second_target's (its default filled)


def test_tracing_switched_on_inside_a_callee_of_the_machine_code_road():
    events = []
    watched = {caller_of_tracer.__code__, traced_callee.__code__, add.__code__}

    def tracer(frame, event, arg):
        if frame.f_code in watched:
            events.append((frame.f_code.co_name, event, frame.f_lineno))
        return tracer

    def run():
        events.clear()
        try:
            return caller_of_tracer(tracer, 5), list(events)
        finally:
            sys.settrace(None)
    overdrive.disable()
    expected = run()
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(4):
            caller_of_tracer(None, 3)
        f0 = fast_calls()
        got = run()
        fast = fast_calls() - f0
        info = overdrive.info(caller_of_tracer)
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier"] == 2 and info["tier2"]["exits"].get("TRACING", 0) >= 1, info
    assert fast >= 3        # add(0..2, 1) and traced_callee itself; none once tracing is on


def caller_locals(k):
    frame = sys._getframe(1)
    seen = {name: v for name, v in frame.f_locals.items() if name != "acc"}
    return (frame.f_code.co_name, frame.f_lineno, sorted(seen.items()), k)


def looks_back(n):
    acc = []
    x = 1.5
    for i in range(n):
        x = x * 2.0
        acc.append(caller_locals(i))
    return acc


def test_frames_and_locals_seen_by_a_callee_of_the_machine_code_road():
    _, _, fast = run_fast(looks_back, (4,), (2,))
    # 6 calls of caller_locals, and from each (tier 2 since it compiles MAKE_FUNCTION) one
    # of its dict comprehension
    assert fast == 2 * 6


def gen_callee(n):
    for i in range(n):
        yield i * 2


def calls_generator(n):
    t = 0
    for i in range(n):
        g = gen_callee(i)            # a generator function: its frame moves into the
        t += sum(g)                  # generator, the pushed frame is left empty
    return t


def test_generator_functions_called_from_tier2_code():
    """Tier 2 refuses generator code, so the callee stays at tier 1 for good, which the
    thunk enters directly: RETURN_GENERATOR leaves the pushed frame empty (stacktop 0)."""
    _, _, fast = run_fast(calls_generator, (10,), (3,))
    assert overdrive.info(gen_callee)["tier"] == 1
    assert fast == 13


def test_the_machine_code_road_keeps_references_balanced():
    """Each kind of call, 300 rounds: the allocated blocks do not grow."""
    from conftest import allocated_blocks_growth
    cases = [(calls_plain, (20,)), (calls_method, (10,)), (calls_bound, (10,)),
             (walk, (10,)), (wrong_argc, (5,)), (calls_raising, (9,)),
             (calls_generator, (4,)), (defaults_and_keywords, (3,))]
    growth, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=1)
    assert growth < 50, (growth, tiers)


# ---- the write-back before a call, inline (lir/codegen.c sync_inline) --------------------
# When none of the locals to write back needs boxing (objects, constants, arguments, bools),
# the code stores them itself instead of calling od_t2_sync; unboxed ints and floats are
# boxed first by the code (BoxInt/BoxFloat's helpers, lower.c prebox), so no write-back
# before a call calls od_t2_sync. A callee sees the same locals either way.

def peek_locals():
    f = sys._getframe(1)
    return sorted((k, repr(v)) for k, v in f.f_locals.items() if k != "seen")


def writes_objects(o, n):
    seen = []
    for i in range(n):
        x = [o, i]              # a new object each round: the old one released
        y = (o, n)
        z = o                   # an argument's value
        w = None                # a constant
        seen.append(peek_locals())
    return seen


def writes_floats(o):
    x = o * 2.5                 # an unboxed float: boxed before the write-back
    return peek_locals()


def writes_unboxed_in_a_loop(n, d):
    s = 0.0
    t = 0
    seen = []
    for i in range(n):
        s += d                  # unboxed float and int accumulators, boxed and written
        t += i * 1000           # back before every call (t: small ints, then not)
        seen.append(peek_locals())
    return seen, repr(s), t


def calls_of(func):
    import re
    text = overdrive.dis_native_text(func)
    return set(re.findall(r"; call (\w+)", text))


def test_write_back_without_boxing_is_inline():
    pytest.importorskip("capstone")
    _, _, fast = run_fast(writes_objects, ("a", 4), ("b", 0), (3, 2))
    assert fast >= 6
    assert "od_t2_sync" not in calls_of(writes_objects), calls_of(writes_objects)
    run_fast(writes_floats, (2.0,), (0.5,))
    assert "od_t2_sync" not in calls_of(writes_floats), calls_of(writes_floats)
    assert "od_t2_box_float" in calls_of(writes_floats), calls_of(writes_floats)
    run_fast(writes_unboxed_in_a_loop, (6, 0.25), (0, 1.0), (3, float("nan")), (4, -0.0))
    calls = calls_of(writes_unboxed_in_a_loop)
    assert {"od_t2_box_float", "od_t2_box_int"} <= calls, calls
    # od_t2_sync only where the write-back happens at run time, out of line (the eval
    # breaker handled, a ForIter on an iterator that is not a builtin one), not at the
    # Syncs before the calls
    import re
    lir = _overdrive._tier2_lir(writes_unboxed_in_a_loop)
    unconditional = re.findall(r"^  Sync  \[.*write back", lir, re.M)
    at_run_time = re.findall(r"(Poll|ForIter|Truth|Sync \(frame object\)) .*write back", lir)
    assert len(unconditional) >= 2, lir
    native = overdrive.dis_native_text(writes_unboxed_in_a_loop)
    assert native.count("; call od_t2_sync") == len(at_run_time), (native.count("; call od_t2_sync"), lir)


def test_inline_write_back_keeps_references_balanced():
    from conftest import allocated_blocks_growth
    growth, tiers = allocated_blocks_growth([(writes_objects, ("a", 5)), (walk, (5,)),
                                             (writes_floats, (1.5,)),
                                             (writes_unboxed_in_a_loop, (5, 0.5))],
                                            threshold=0, tier2_threshold=1)
    assert 2 in tiers
    assert growth < 50, growth


# ---- builtins and method descriptors through their C pointer (rt/call.c) ----------------

class _Meta(type):
    def __instancecheck__(cls, obj):
        return obj == "yes"


class _Checked(metaclass=_Meta):
    pass


def calls_builtins(xs, t, n):
    out = []
    out.append(isinstance(xs, t))               # isinstance in line, no argument parsing
    out.append(isinstance(n, _Checked))         # runs __instancecheck__
    out.append(len(xs))
    out.append(max(xs, default=n))              # keywords: METH_FASTCALL | METH_KEYWORDS
    out.append(divmod(n, 3))                    # METH_FASTCALL: raises for n == 0 below
    out.append(abs(n))                          # METH_O
    out.append(xs.count(1))                     # a method descriptor, METH_O
    out.append(",".join(map(str, xs)))          # method descriptor on a str
    out.append(isinstance(n))                   # a wrong argument count: the same TypeError
    return out


def builtin_calls():
    return overdrive.stats()["tier2"]["builtin_calls"]


def test_builtins_are_called_through_their_c_pointer_and_match():
    calls = [([1, 2, 1], list, 5), ((1,), tuple, "yes"), ([], dict, 0)]
    overdrive.disable()
    expected = [outcome(calls_builtins, a) for a in calls]
    assert all(e[0] == "raise" for e in expected)
    info, _ = run_t2(calls_builtins, *calls)
    assert info["tier2"]["exits"].get("ERROR", 0) >= 1, info     # raised in tier-2 code
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        before = builtin_calls()
        outcome(calls_builtins, calls[0])
        made = builtin_calls() - before
    finally:
        overdrive.disable()
    assert made >= 16, made         # every builtin call above, and 8 out.append


# ---- classes of Python code instantiated as tier 1's PY_INIT form (rt/call.c) ------------

class Vec:
    def __init__(self, x, y=0, *, z=0):
        self.x = x
        self.y = y
        self.z = z


class BadInit:
    def __init__(self, x):
        return x            # not None: TypeError, as slot_tp_init raises it


class FailingInit:
    def __init__(self, x):
        if x == 3:
            raise KeyError(x)
        self.x = x


class Nested:
    def __init__(self, n):
        self.inner = Nested(n - 1) if n else None


class WithNew:
    def __new__(cls, x):
        o = super().__new__(cls)
        o.made_by_new = True
        return o

    def __init__(self, x):
        self.x = x


class Abstract(__import__("abc").ABC):
    @__import__("abc").abstractmethod
    def f(self):
        pass


def makes_instances(n, cls, kw):
    t = 0
    for i in range(n):
        if kw:
            o = cls(i, y=2, z=i)
            t += o.x + o.y + o.z
        else:
            o = cls(i)
            t += len(vars(o))
    return t


def init_calls():
    return overdrive.stats()["tier2"]["init_calls"]


@pytest.mark.parametrize("cls, kw", [(Vec, True), (Vec, False), (BadInit, False),
                                     (FailingInit, False), (Nested, False), (WithNew, False),
                                     (Abstract, False)])
def test_classes_are_instantiated_through_their_init_and_match(cls, kw):
    calls = [(5, cls, kw), (0, cls, kw), (30, cls, kw)]
    # three warm calls: tier 1, then tier 2 for makes_instances and the __init__s
    _, made = run_t2(makes_instances, *calls, counter=init_calls, warm=3)
    if cls in (Vec, BadInit, FailingInit, Nested):
        assert made >= 1, made          # the PY_INIT road ran
    elif cls is WithNew:
        assert made == 0, made          # a __new__ of its own: vectorcall
    # (Abstract: object's __init__, vectorcall; its TypeError's traceback is extracted by
    # library code that may itself run at tier 2 and instantiate classes, so no count)


def test_instantiation_keeps_the_argument_references_balanced():
    arg = object()

    def make(n, a):
        for _ in range(n):
            Vec(a)
        return sys.getrefcount(a)

    overdrive.disable()
    expected = make(10, arg)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            make(10, arg)
        before = init_calls()
        got = make(300, arg)
        made = init_calls() - before
    finally:
        overdrive.disable()
    assert made == 300
    assert got == expected


# ---- len(x) of the global len: a helper of its own (rt/call.c od_t2_call_len) -------------

class _Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        if self.n < 0:
            raise ValueError("negative")
        return self.n


def lengths(xs):
    t = 0
    for x in xs:
        t += len(x)
    return t


def _takes_its_own_helper(fn, calls, helper, n):
    """fn's outcomes for `calls` at tier 2 are the interpreter's (run_t2), its code calls
    `helper`, and the first call counts at least n builtin calls (the helper's own count;
    stats() itself, called from tier-2 code, may add to it). Returns the expected outcomes."""
    overdrive.disable()
    expected = [outcome(fn, a) for a in calls]
    run_t2(fn, *calls)
    assert helper in _native_text(fn)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        before = builtin_calls()
        assert outcome(fn, calls[0]) == expected[0]
        made = builtin_calls() - before
    finally:
        overdrive.disable()
    assert made >= n, made
    return expected


def test_len_of_the_global_len_takes_its_own_helper_and_matches():
    data = [[1, 2], (3,), "abcd", {1: 2}, _Sized(7), b"xy"]
    calls = [(data,), ([],), ([_Sized(-1)],), ([5],)]       # raises twice (ValueError, TypeError)
    _takes_its_own_helper(lengths, calls, "od_t2_call_len", len(data))


def _native_text(f):
    """The machine code f runs now, with the helpers it calls named."""
    return overdrive.dis_native_text(f)


def test_len_rebound_after_the_compile_is_called_as_the_new_global():
    g = globals()
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            assert lengths([[1], [2, 3]]) == 3
        assert overdrive.info(lengths)["tier"] == 2
        g["len"] = lambda x: 100
        got = lengths([[1], [2, 3]])
    finally:
        del g["len"]
        overdrive.disable()
    assert got == 200
    assert lengths([[1], [2, 3]]) == 3


# ---- isinstance(x, cls) of the global isinstance: a helper of its own ---------------------
# (rt/call.c od_t2_call_isinstance)

class _Strict(type):
    def __instancecheck__(cls, obj):
        if obj is None:
            raise LookupError("no None here")
        return obj == 3


class _ByCheck(metaclass=_Strict):
    pass


class _Base:
    pass


class _Derived(_Base):
    pass


def kinds(xs, cls):
    t = []
    for x in xs:
        t.append(isinstance(x, cls))
    return t


def test_isinstance_of_the_global_isinstance_takes_its_own_helper_and_matches():
    data = [_Base(), _Derived(), 3, "s", 4.0]
    calls = [(data, _Base), (data, int), (data, (str, float)), (data, _ByCheck),
             ([3, None], _ByCheck),                 # __instancecheck__ raises
             (data, 5)]                             # not a class: TypeError
    expected = _takes_its_own_helper(kinds, calls, "od_t2_call_isinstance", len(data))
    assert [e[0] for e in expected][-2:] == ["raise", "raise"]


def test_isinstance_rebound_after_the_compile_is_called_as_the_new_global():
    g = globals()
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            assert kinds([1, "a"], int) == [True, False]
        assert overdrive.info(kinds)["tier"] == 2
        g["isinstance"] = lambda x, c: "mine"
        got = kinds([1, "a"], int)
    finally:
        del g["isinstance"]
        overdrive.disable()
    assert got == ["mine", "mine"]
    assert kinds([1, "a"], int) == [True, False]
