"""Tier 2 end to end: HIR with guards -> LIR -> registers -> machine code, run and compared
with the interpreter, with its exits (deoptimization) checked by reason."""
import signal
import sys

import pytest

import _overdrive
import overdrive
from conftest import allocated_blocks_growth, outcome


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def warm(f, *args, n=10):
    """Quickened by the interpreter (the feedback tier 2 reads)."""
    overdrive.disable()
    for _ in range(n):
        outcome(f, args)


def run_t2(f, *calls, tier2_threshold=1):
    """Each call's outcome interpreted, then at tier 2 (asserting tier 2 ran)."""
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=tier2_threshold)
    try:
        outcome(f, calls[0])            # tier 1, then tier 2 from the next entry
        before = overdrive.info(f)["native_entries"]
        got = [outcome(f, a) for a in calls]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert info["tier"] == 2 or info["tier2"]["compiles"] > 0, info
    assert info["native_entries"] > before
    assert got == expected
    return info


def int_loop(n):
    t = 0
    i = 0
    while i < n:
        t = t + i * 3
        i += 1
    return t


def spectral_a(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


def spectral_times(u, n):
    out = []
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += spectral_a(i, j) * u[j]
        out.append(s)
    return out


def nbody_step(bodies, dt, steps):
    for _ in range(steps):
        for a in range(len(bodies)):
            xa, ya, va = bodies[a]
            for b in range(a + 1, len(bodies)):
                xb, yb, vb = bodies[b]
                dx = xa - xb
                dy = ya - yb
                d2 = dx * dx + dy * dy + 0.01
                va = va - dx * dt / d2
            bodies[a] = (xa + va * dt, ya, va)
    return bodies


def test_int_loop_runs_at_tier_2_and_matches():
    warm(int_loop, 100)
    info = run_t2(int_loop, (0,), (10,), (1000,))
    assert info["tier"] == 2 and info["tier2"]["exits"] == {}


def test_float_kernels_match():
    warm(spectral_times, [1.0] * 8, 8)
    warm(spectral_a, 1, 2, n=40)
    run_t2(spectral_times, ([1.0] * 8, 8), ([0.5] * 20, 20))
    run_t2(spectral_a, (1, 2), (0, 0), (100, 3))
    bodies = [(0.0, 1.0, 0.1), (1.0, 0.5, -0.2), (2.0, -1.0, 0.0)]
    warm(nbody_step, list(bodies), 0.01, 3)
    run_t2(nbody_step, (list(bodies), 0.01, 5), (list(bodies), 0.02, 10))


def test_lir_text_shows_registers_and_exits():
    warm(int_loop, 100)
    text = _overdrive._tier2_lir(int_loop)
    assert "IntAdd" in text and "GuardInt" in text and "INT_OVERFLOW" in text
    assert "(r12)" in text or "(r13)" in text


def mixed(xs):
    t = 0
    for x in xs:
        t = t + x
    return t


def test_type_change_mid_loop_deopts():
    warm(mixed, list(range(50)))
    info = run_t2(mixed, (list(range(50)),), ([1, 2, 2.5, 3],), ([1, 2, "a"],), (["a", "b"],))
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) >= 2


def int_and_float(n, x):
    s = 0.0
    for i in range(1, n):
        s += 1.0 / ((i + 3) * (i + 4) + i)      # float / int
        s += x * i - i / x + (i + 0.5)          # float * int, int / float, int + float
    return s


def scaled(k, x):
    return (k * x, x - k, k / x, x / k)


def test_int_and_float_operands_become_double_arithmetic():
    """An int operand of a float operation is converted as float's arithmetic converts it
    (IntToFloat): exact to 2**53, rounded to nearest even beyond; the results, the
    ZeroDivisionErrors, infinities and -0.0 are the interpreter's (NaNs: the fuzzer)."""
    warm(int_and_float, 50, 1.5, n=12)
    info = run_t2(int_and_float, (50, 1.5), (10, 2.25), (3, -0.5), (2, float("inf")))
    assert info["tier2"]["exits"] == {}, info["tier2"]
    after = dict(_overdrive._tier2_hir(int_and_float.__code__, None))["dce"]
    assert after.count("IntToFloat") == 2 and "BinaryOp" not in after, after   # i once
    warm(scaled, 3, 1.5, n=12)
    big = 2**53 + 1                                  # not a double: rounded as float() does
    run_t2(scaled, (3, 1.5), (big, 0.5), (-(2**59) + 7, 3.0), (0, -0.0), (7, float("-inf")),
           (5, 0.0), (0, 2.0), (2**61, 1.5))          # 0.0 and 0 divisors; 2**61: no int64
    after = dict(_overdrive._tier2_hir(scaled.__code__, None))["dce"]
    assert after.count("IntToFloat") == 1, after        # k converted once for all four


def floor_div_mod(n, d):
    t = 0
    for i in range(-n, n):
        t += (i * 7) // d + (i * 5) % d + (i + 3) * (i + 4) // 2
    return t


def test_int_floor_division_and_modulo_round_as_python_does():
    """// towards minus infinity, % with the divisor's sign, on every sign combination; a
    zero divisor exits (INT_DIV) and the interpreter raises its own ZeroDivisionError."""
    warm(floor_div_mod, 50, 3, n=12)
    calls = [(50, 3), (50, -3), (20, 1), (20, -1), (9, 7), (9, -7), (3, 2**59), (3, -(2**59))]
    info = run_t2(floor_div_mod, *calls)
    assert info["tier2"]["exits"] == {}, info["tier2"]
    after = dict(_overdrive._tier2_hir(floor_div_mod.__code__, None))["dce"]
    assert after.count("IntFloorDiv") == 2 and after.count("IntMod") == 1, after
    info = run_t2(floor_div_mod, (4, 0), (4, 5))
    assert info["tier2"]["exits"].get("INT_DIV", 0) >= 1, info["tier2"]


def test_results_of_unboxed_arithmetic_need_no_feedback_of_their_own():
    """`//` and int `/` have no specialized form in the interpreter, so no feedback names
    their operands; when an operand is the box of an earlier unboxed operation (spectral
    norm's `1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)`) it is an int64 or a double all the
    same: the whole expression stays unboxed, with the interpreter's results and its
    ZeroDivisionError (an exit) on the edge cases."""
    overdrive.disable()
    for k in range(40):
        spectral_a(k, k + 1)                # the interpreter's feedback: + and * of ints
    after = dict(_overdrive._tier2_hir(spectral_a.__code__, None))["dce"]
    assert "BinaryOp" not in after, after
    assert "IntFloorDiv" in after and "FloatDiv" in after and "IntToFloat" in after, after
    info = run_t2(spectral_a, (1, 2), (0, 0), (100, 3), (-1, 0), (-3, -4), (2**20, 2**21),
                  (2**30, 2**30), (-2, 1), (2**31, 2**31), (2**62, 1))
    assert info["tier2"]["exits"].get("FLOAT_ZERO_DIV", 0) >= 1, info["tier2"]   # (-1, 0)
    assert info["tier2"]["exits"].get("INT_OVERFLOW", 0) >= 1, info["tier2"]     # 2**31


def pow2_div_mod(n, k):
    t = 0
    for i in range(-n, n):
        j = i * k
        t += j // 2 + j // 8 * 3 + j % 4 + j % 1024 - (j // 1) + j % 1 + j // -4 + j % -8
    return t


def test_floor_division_and_modulo_by_a_power_of_two_are_shifts_and_masks():
    """`x // 2**k` is an arithmetic shift (towards minus infinity, as Python rounds) and
    `x % 2**k` the low bits (the divisor's sign: never negative): no helper call. Other
    divisors (1, negative ones) keep IntFloorDiv / IntMod."""
    warm(pow2_div_mod, 30, 3, n=12)
    info = run_t2(pow2_div_mod, (30, 3), (30, -7), (5, 2**40 + 1), (5, -(2**45) - 3), (0, 1),
                  (2, 2**59 - 1))
    assert info["tier2"]["exits"] == {}, info["tier2"]
    lir = _overdrive._tier2_lir(pow2_div_mod)
    assert lir.count("IntSar") == 2 and "IntSar v" in lir, lir
    assert lir.count("IntAnd") == 2, lir      # % 4 and % 1024
    after = dict(_overdrive._tier2_hir(pow2_div_mod.__code__, None))["dce"]
    assert after.count("IntFloorDiv") == 4 and after.count("IntMod") == 4, after


def int_ratios(n, d):
    t = 0.0
    for i in range(-n, n):
        t += (i * 3 + 1) / d            # int / int: a float
        t += i / (n + 1)
    return t


def ratio(a, b):
    return (a + 0) / (b + 0)            # unboxed ints by the interpreter's feedback on +


def test_int_true_division_rounds_as_long_true_divide():
    """int / int is IntTrueDiv: one IEEE division of the two exact doubles while both are
    below 2**53 in magnitude (long_true_divide's own fast path, so the same bits); a zero
    divisor or a larger operand exits (INT_DIV) and the interpreter raises or computes."""
    # the interpreter does not specialize `/`: the operand classes come from tier 1's site
    # (run_t2 runs the first call in tier 1)
    info = run_t2(int_ratios, (20, 3), (20, -3), (7, 1), (30, 7), (5, -(2**52)), (3, 2**53 - 1))
    assert info["tier2"]["exits"] == {}, info["tier2"]
    after = dict(_overdrive._tier2_hir(int_ratios.__code__, None))["dce"]
    assert after.count("IntTrueDiv") == 2 and "BinaryOp" not in after, after
    warm(ratio, 1, 3, n=40)
    after = dict(_overdrive._tier2_hir(ratio.__code__, None))["dce"]
    assert "IntTrueDiv" in after and "BinaryOp" not in after, after
    lim = 2**53
    calls = [(1, 3), (-1, 3), (2, -7), (0, 5), (0, -5), (-0, -1), (10, 4), (lim - 1, 3),
             (-(lim - 1), lim - 1), (lim - 1, 1), (1, lim - 1), (12345678901234, 97)]
    info = run_t2(ratio, *calls)
    assert info["tier2"]["exits"] == {}, info["tier2"]
    import math
    assert math.copysign(1.0, ratio(0, -5)) == -1.0
    # a zero divisor, operands of 2**53 and beyond (double rounding), beyond int64: exits
    info = run_t2(ratio, (1, 3), (1, 0), (0, 0), (lim, 3), (lim + 1, 3), (3, lim + 1),
                  (-lim - 1, 7), (2**62 + 1, 3), (2**70, 3))
    assert info["tier2"]["exits"].get("INT_DIV", 0) >= 4, info["tier2"]
    assert ratio(lim + 1, 3) == (lim + 1) / 3          # (not (lim + 1.0) / 3)


class Scaled:
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x


def rescale(p, norm):
    p.x /= norm                 # no specialized form in the interpreter: tier 1's site says
    return p.x                  # float / float


def test_tier_2_compiles_after_tier_1_ran_so_its_sites_have_recorded():
    """With tier 1's threshold above tier2_threshold, tier 2 used to compile in the same
    entry as tier 1, before any tier-1 site had recorded an operand class: `p.x /= norm`
    stayed a generic BinaryOp. Now tier 1 runs once first."""
    import re
    pytest.importorskip("capstone")
    overdrive.disable()
    expected = [outcome(rescale, (Scaled(float(k)), 2.0)) for k in range(30)]
    overdrive.enable(threshold=5, tier2_threshold=2)
    try:
        got = [outcome(rescale, (Scaled(float(k)), 2.0)) for k in range(30)]
        info = overdrive.info(rescale)
        calls = set(re.findall(r"; call (\w+)", overdrive.dis_native_text(rescale)))
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier"] == 2 and info["tier2"]["exits"] == {}, info
    assert "od_t2_binary_op" not in calls, calls


def accumulate(xs):
    total = 0
    for x in xs:
        total += x * 0.5
    return total


def test_an_accumulator_that_starts_as_an_int_takes_floats_without_exits():
    """`total = 0` then floats added: the interpreter's feedback says float + float, so a
    float guard on total would fail on every call's first iteration; UnboxNumber takes the
    int 0 as float + int does. A loop that never runs still returns the int."""
    data = [0.1 * k for k in range(100)]
    warm(accumulate, data, n=12)
    info = run_t2(accumulate, (data,), ([],), ([1.5],), ([-0.0],), ([1e308, 1e308],))
    assert info["tier2"]["exits"] == {}, info["tier2"]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        assert overdrive.info(accumulate)["tier"] == 2
        before = overdrive.info(accumulate)["native_entries"]
        empty, one = accumulate([]), accumulate([2.0])
        ran = overdrive.info(accumulate)["native_entries"] - before
    finally:
        overdrive.disable()
    assert ran == 2 and type(empty) is int and empty == 0 and one == 1.0   # (== says 0 == 0.0)
    after = dict(_overdrive._tier2_hir(accumulate.__code__, None))["dce"]
    assert "UnboxNumber" in after, after


def zobrist(keys, picks):
    h = 0
    for k in picks:
        h ^= keys[k]            # 63-bit keys, as go's Zobrist hash has them
        h ^= keys[k + 1] & 0x7FFFFFFF
    return h


def int_ops(a, b):
    return (a ^ b, a & b, a | b, a - b, a + b, a < b, a == b)


def test_ints_of_three_digits_below_2_63_are_unboxed():
    """GuardInt takes any int64 value: three 30-bit digits whose top one is below 8 (|x| <
    2**63), so 63-bit keys stay unboxed (they were GUARD_TYPE exits, then generic code);
    2**63 and beyond, and -2**63 (a top digit of 8), still exit."""
    import random
    rnd = random.Random(5)
    keys = [rnd.randrange(2**63) for _ in range(64)]
    keys += [2**63 - 1, 2**60, 2**60 - 1, 7 * 2**60 + 5]
    picks = [rnd.randrange(len(keys) - 1) for _ in range(300)]
    warm(zobrist, keys, picks, n=12)
    info = run_t2(zobrist, (keys, picks), (keys, list(range(len(keys) - 1))), (keys, []))
    assert info["tier2"]["exits"] == {}, info["tier2"]
    edges = [0, 1, -1, 2**30 - 1, 2**30, -(2**30), 2**60 - 1, 2**60, -(2**60), 2**62 + 12345,
             -(2**62) - 7, 2**63 - 1, -(2**63) + 1, 7 * 2**60, -(7 * 2**60) - 3]
    warm(int_ops, 2**62 + 1, 2**61 + 3, n=40)
    info = run_t2(int_ops, *[(a, b) for a in edges for b in edges])
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) == 0, info["tier2"]
    beyond = [-(2**63), 2**63, 2**64 + 5, -(2**64), 8 * 2**60, 2**90]
    warm(int_ops_again, 2**62 + 1, 2**61 + 3, n=40)
    info = run_t2(int_ops_again, (1, 2), *[(a, 3) for a in beyond])
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) == len(beyond), info["tier2"]


def int_ops_again(a, b):
    return (a ^ b, a & b, a | b, a - b, a + b, a < b, a == b)


def test_int_overflow_deopts():
    big = (2**62, 2**62)

    def add(a, b):
        return a + b
    warm(add, 1, 2, n=40)
    info = run_t2(add, (1, 2), big, (2**63, 1), (-2**62, -2**62 - 5))
    assert info["tier2"]["exits"].get("INT_OVERFLOW", 0) + info["tier2"]["exits"].get("GUARD_TYPE", 0) >= 2


G = 5


def uses_global(n):
    global G
    s = 0
    for i in range(n):
        s += G
        if i == n // 2:
            G = G + 1
    return s


def test_global_rebound_during_loop_is_seen():
    global G
    warm(uses_global, 10)
    G = 5
    overdrive.disable()
    expected = uses_global(20)
    G = 5
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        got = uses_global(20)
        info = overdrive.info(uses_global)
    finally:
        overdrive.disable()
    G = 5
    # GlobalValue: the value as a constant while the dicts keep their versions, looked up
    # again once they changed (no exit: module code writing its globals is common)
    assert got == expected and info["tier"] == 2 and info["tier2"]["exits"] == {}
    assert "GlobalLoad" in _overdrive._tier2_lir(uses_global)


def traced_loop(n, hook):
    t = 0
    for i in range(n):
        t += i
        if i == 2:
            hook()
    return t


def test_tracing_switched_on_during_a_call_leaves_tier_2():
    events = []

    def tracer(frame, event, arg):
        if frame.f_code is traced_loop.__code__:
            events.append((event, frame.f_lineno))
        return tracer

    def switch_on():
        sys._getframe(1).f_trace = tracer
        sys.settrace(tracer)

    def run():
        events.clear()
        try:
            return traced_loop(5, switch_on), list(events)
        finally:
            sys.settrace(None)
    overdrive.disable()
    expected = run()
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        got = run()
        info = overdrive.info(traced_loop)
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier"] == 2 and info["tier2"]["exits"].get("TRACING", 0) >= 1


def raises_at(d, k):
    return d[k] + 1


def test_exceptions_unwind_in_the_interpreter_with_the_same_traceback():
    import traceback

    def tb(f, *a):
        try:
            f(*a)
        except Exception as exc:  # noqa: BLE001
            return type(exc), [(x.name, x.lineno) for x in traceback.extract_tb(exc.__traceback__)][1:]
    overdrive.disable()
    expected = [tb(raises_at, {}, 1), tb(raises_at, {1: "x"}, 1)]
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        got = [tb(raises_at, {}, 1), tb(raises_at, {1: "x"}, 1)]
        info = overdrive.info(raises_at)
    finally:
        overdrive.disable()
    assert got == expected and info["tier2"]["exits"].get("ERROR") == 2


def test_a_deopt_storm_recompiles_without_the_speculation_then_gives_up():
    def add(a, b):
        return a + b
    warm(add, 1, 2, n=40)
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        for _ in range(200):
            assert add(1.5, 2) == 3.5
        info = overdrive.info(add)
    finally:
        overdrive.disable()
    assert info["tier2"]["compiles"] >= 2
    # after the recompile the site is generic: no more exits
    assert info["tier2"]["exits"]["GUARD_TYPE"] < 200


def test_stats_count_tier2():
    warm(int_loop, 100)
    frames = overdrive.stats()["tier2"]["frames"]
    run_t2(int_loop, (10,), (11,), (12,))
    s = overdrive.stats()["tier2"]
    assert s["functions"] >= 1 and set(s) >= {"functions", "frames", "refused", "recompiled",
                                                "given_up", "exits"}
    assert s["frames"] - frames >= 3      # frames tier-2 code ran


def test_reset_stats_zeroes_tier2_counters():
    warm(mixed, list(range(50)))
    run_t2(mixed, (list(range(50)),), ([1, 2, 2.5, 3],))
    s = overdrive.stats()["tier2"]
    assert s["functions"] >= 1 and s["frames"] >= 2 and s["exits"], s
    overdrive.reset_stats()
    s = overdrive.stats()["tier2"]
    assert (s["functions"], s["frames"], s["direct_calls"], s["recompiled"], s["exits"]) \
        == (0, 0, 0, 0, {}), s
    assert not any(v for k, v in s["generic_attr"].items()), s


def test_refused_functions_stay_in_tier_1():
    def gen():
        yield 1
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        assert list(gen()) == [1]
        info = overdrive.info(gen)
    finally:
        overdrive.disable()
    assert info["tier"] == 1


def test_dis_tier2_shows_hir_then_lir_and_dis_native_the_tier2_code():
    warm(int_loop, 100)
    text = overdrive.dis_text(int_loop, tier=2)
    assert "--- HIR of int_loop after specialize ---" in text
    lir = text.split("--- LIR of int_loop (registers allocated) ---")[1]
    assert "IntAdd" in lir and "Poll" in lir and "exits" in lir
    pytest.importorskip("capstone")
    run_t2(int_loop, (10,))
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        int_loop(5)
    finally:
        overdrive.disable()
    native = overdrive.dis_native_text(int_loop)
    assert "tier 2:" in native and "tier-2 prologue" in native and "jo " in native


class _Marker:
    pass


_MARKER = _Marker()
_MARKER_KEPT = [_MARKER] * 1000     # an over-release shows in its count before it frees it


def _settrace_returning_marker(tracer):
    sys.settrace(tracer)
    return _MARKER


def switches_tracing_on(tracer, how):
    if how:
        _settrace_returning_marker(tracer)  # a call statement: its result is popped
    else:
        sys.settrace(tracer)                # likewise (the result is None)
    sys.settrace(None)


def test_tracing_exit_after_a_call_statement_keeps_the_result_reference():
    """The TRACING exit after a call whose result nothing uses pushes that result for the
    interpreter's POP_TOP: it was released before the exit took its reference, so every
    sys.settrace(tracer) statement run in tier 2 released None once too often (test_pdb and
    test_sys_settrace then died in none_dealloc at interpreter finalization)."""
    def tracer(frame, event, arg):
        return tracer

    def measure():
        none0, marker0 = sys.getrefcount(None), sys.getrefcount(_MARKER)
        for k in range(200):
            switches_tracing_on(tracer, k & 1)
        return sys.getrefcount(None) - none0, sys.getrefcount(_MARKER) - marker0

    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        switches_tracing_on(tracer, 0)
        got = measure()
        info = overdrive.info(switches_tracing_on)
    finally:
        sys.settrace(None)
        overdrive.disable()
    assert info["tier"] == 2 and info["tier2"]["exits"].get("TRACING", 0) >= 200, info
    assert got == (0, 0)


def _leak_cases():
    def arith(a, b):
        x = a * b + G
        y = x - a
        return x ^ y | (a & 7)

    def method_and_attr(o, n):
        r = []
        for i in range(n):
            r.append(o.real + i)
        return len(r)
    return [(arith, (-7, 9)), (arith, (2**40, 2**30)), (arith, (1.5, 2)),
            (method_and_attr, (3, 5)), (mixed, ([1, 2.5, "x"],)), (raises_at, ({}, 1)),
            (spectral_times, ([1.0] * 4, 4)), (sees_locals, (3, 0.5, "o")),
            (param_kept, ([1],)), (escapes, (4,))]


def test_no_reference_leaks():
    grown, tiers = allocated_blocks_growth(_leak_cases(), threshold=0, tier2_threshold=0)
    assert grown < 100, grown
    assert 2 in tiers


# ---- locals seen from outside: written back before code that may run Python ----------------

def _peek():
    """The caller's locals as its frame shows them (values by repr; `views` left out)."""
    f = sys._getframe(1)
    return tuple(sorted((k, repr(v)) for k, v in f.f_locals.items() if k != "views"))


def sees_locals(n, x, o):
    i = 0
    f = 0.5
    acc = []
    views = [_peek()]
    while i < n:
        f = f * 1.5 + x          # unboxed float
        i += 1                   # unboxed int
        acc.append(i)            # an object local, changed in place
        views.append(_peek())    # the callee reads f_locals
        n = n - 0                # an argument written back with another value
        o = o + "."
    return views


def param_kept(a):
    b = a
    a = [len(b)]
    view = _peek()               # the frame's slot `a` no longer holds the argument
    return b, a, view


def test_callee_sees_the_locals_of_a_tier2_frame():
    warm(sees_locals, 4, 0.25, "o")
    info = run_t2(sees_locals, (4, 0.25, "o"), (0, 1.0, "p"), (3, 2, "q"))
    assert info["tier"] == 2
    text = overdrive.dis_text(sees_locals, tier=2)
    lir = text.split("--- LIR")[1]
    # the loop's arithmetic is unboxed, and the write-back names the changed locals
    assert "IntAdd" in lir and "FAdd" in lir and "Sync" in lir and "write back" in lir
    warm(param_kept, object())
    run_t2(param_kept, ([1, 2],), ("xyz",))
    assert overdrive.info(param_kept)["tier"] == 2


def escapes(n):
    total = 0
    fr = sys._getframe()
    s = 0.0
    for i in range(n):
        total += i
        s += 0.5
    label = "done"
    return fr


def test_escaped_frame_keeps_the_locals_tier2_had_at_return():
    def view(fr):
        return (fr.f_lineno, sorted((k, repr(v)) for k, v in fr.f_locals.items() if k != "fr"))
    warm(escapes, 5)
    expected = view(escapes(5))
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        escapes(5)
        got = [view(escapes(5)) for _ in range(3)]
        info = overdrive.info(escapes)
    finally:
        overdrive.disable()
    assert info["tier"] == 2
    assert got == [expected] * 3


def test_a_loop_without_calls_writes_nothing_back():
    """Only the eval breaker's poll (out of line) and the return (when the frame has a
    frame object) know the locals to write back: the loop itself has no Sync."""
    warm(int_loop, 100)
    run_t2(int_loop, (100,))
    lir = overdrive.dis_text(int_loop, tier=2).split("--- LIR")[1]
    body = [ln for ln in lir.splitlines() if ln.strip().startswith("Sync")]
    assert body == [ln for ln in body if "(frame object)" in ln], body


def test_huge_frames_are_refused():
    """Frame states hold every local and stack slot, so the cost is instructions times
    slots: namedtuple's __new__ with 5000 fields took minutes and 1.5 GB in the stress mode."""
    names = ", ".join(f"a{k}" for k in range(600))
    big = eval(f"lambda {names}: ({names})")
    with pytest.raises(ValueError, match="too many locals and stack slots"):
        overdrive.dis_text(big, tier=2)
    small = eval("lambda " + ", ".join(f"a{k}" for k in range(100)) + ": a0")
    assert "LIR" in overdrive.dis_text(small, tier=2)


def signalled_during_call(setitimer, work, arg, flags):
    setitimer(signal.ITIMER_REAL, 1e-6)     # fires during work(arg), a C call
    work(arg)
    return flags[0]


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_a_signal_during_a_call_is_handled_after_the_call():
    """The interpreter checks the eval breaker after CALL: a Python signal handler runs
    before the next instruction (test_signal's test_setitimer_tiny)."""
    flags = [False]

    def handler(signum, frame):
        flags[0] = True
    old = signal.signal(signal.SIGALRM, handler)
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        got = []
        for _ in range(3):
            flags[0] = False
            got.append(signalled_during_call(signal.setitimer, sorted, range(300_000), flags))
        info = overdrive.info(signalled_during_call)
    finally:
        overdrive.disable()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert info["tier"] == 2
    assert got == [True, True, True]


def quickened_by_the_interpreter(x, y):
    a, b = x, y
    return a + b


def test_the_interpreter_quickens_code_that_runs_in_tier_2():
    """Tier 2 keeps CPython's warm-up count at entry and lets the interpreter run the frame
    at which it quickens the code object (test_dis's adaptive disassemblies)."""
    import dis
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        for _ in range(10):
            assert quickened_by_the_interpreter(1, 2) == 3
        info = overdrive.info(quickened_by_the_interpreter)
    finally:
        overdrive.disable()
    names = [i.opname for i in dis.get_instructions(quickened_by_the_interpreter, adaptive=True)]
    assert info["tier"] == 2 and info["tier2"]["exits"] == {}, info
    assert "RESUME_QUICK" in names and "LOAD_FAST__LOAD_FAST" in names, names


class _Finalized:
    lines = []

    def __del__(self):
        _Finalized.lines.append(sys._getframe(1).f_lineno - releases_at_none.__code__.co_firstlineno)


def releases_at_none(make):
    x = make()
    # the interpreter releases x's object at the next line
    x = None
    return x


def test_rebinding_a_local_to_none_releases_its_object_at_that_line():
    """`x = None` runs the finalizer of x's object at that line (test_warnings'
    test_tracemalloc: a ResourceWarning's line)."""
    overdrive.disable()
    _Finalized.lines.clear()
    releases_at_none(_Finalized)
    expected = list(_Finalized.lines)
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        _Finalized.lines.clear()
        releases_at_none(_Finalized)
        got = list(_Finalized.lines)
        info = overdrive.info(releases_at_none)
    finally:
        overdrive.disable()
    assert info["tier"] == 2
    assert expected == [3] and got == expected


# ---- list iteration stepped in line (ForIter, lir/codegen.c list_next_inline) -----------

class ListSub(list):
    pass


def iterate(make, grow):
    xs = make()                         # fresh each call: the loop mutates it
    t = []
    for x in xs:
        t.append(x)
        if grow and len(xs) < 6:
            xs.append(len(xs))         # seen by the running iterator
        if grow == 2 and xs:
            del xs[0]                   # the index moves past items
    return t


def test_list_iteration_in_line_matches_the_interpreter():
    calls = [(lambda: [1, 2, 3], 0), (list, 0), (lambda: [1], 1), (lambda: [5, 6, 7], 2),
             (lambda: ListSub([4, 5]), 0), (lambda: (1, 2), 0), (lambda: iter([7, 8]), 0),
             (lambda: range(3), 0)]
    info = run_t2(iterate, *calls)
    assert info["tier"] == 2 and info["tier2"]["exits"] == {}, info
