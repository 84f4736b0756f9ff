"""Tier 2 on arithmetic whose operands are ints and floats by turns (branch h-t2mix).

A BINARY_OP or COMPARE_OP whose interpreter form missed since it specialized for ints or
floats (hir/feedback.c od_feedback_number_mix), an operation on one of its operands, and
one on its result, are not speculated on (passes/specialize.c stays_mixed): a guard on the
classes the feedback names last would fail at every other operand, the site would go to
no_speculate after 16 deopts and the function be compiled again, one site at a time, until
tier 2 gave it up (raytrace's Vector.dot). The generic BinaryOp does `+ - * /` of floats and
one-digit ints in line (lir/codegen.c number_binary_inline: two ints too, the small int
from CPython's cache or a new one), the generic Compare likewise; bools, big ints,
subclasses and everything else take the helper. Never a deopt: one compile, results the
interpreter's."""
import sys
import types

import pytest

import overdrive

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


class MyInt(int):
    pass


class MyFloat(float):
    def __sub__(self, other):
        return ("sub", float(self), other)


def kernel(xs, ys):
    out = []
    for k in range(len(xs)):
        a = xs[k]
        b = ys[k]
        c = a * b
        out.append((c + a, a - b, a / b, a < b, c >= 1))
    return out


# ints and floats by turns, then bools, big ints, subclasses, results beyond the small-int
# cache and two-digit ones, in the middle of the loop
PAIRS = [(1, 2.5), (2.5, 3), (1.5, 0.5), (3, 4), (-7, 2), (2.0, 2.0), (7, -3), (0.25, 8),
         (True, 2.0), (3, False or 5), (2 ** 70, 3), (3, 2 ** 70), (MyInt(5), 2.0),
         (2.0, MyInt(5)), (MyFloat(1.5), 2), (2 ** 29, 3), (-(2 ** 29), -5), (200, 300),
         (2 ** 30, 1.5), (1e308, 10.0), (float("nan"), 1), (1, float("inf")), (100, 2),
         (-3, 0.5), (16, 4)]


def columns(n):
    xs = [PAIRS[k % len(PAIRS)][0] for k in range(n)]
    ys = [PAIRS[k % len(PAIRS)][1] for k in range(n)]
    return xs, ys


def test_alternating_ints_and_floats_compile_once_and_never_deopt():
    xs, ys = columns(500)
    overdrive.disable()
    reference = types.FunctionType(kernel.__code__.replace(), globals())
    expected = repr(reference(xs, ys))
    for _ in range(3):                  # quickened, and every site's misses counted
        kernel(xs, ys)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        kernel(xs, ys)                  # tier 1, then tier 2 from the next entry
        before = overdrive.stats()["tier2"]
        got = [repr(kernel(xs, ys)) for _ in range(20)]
        after = overdrive.stats()["tier2"]
        info = overdrive.info(kernel)
        text = overdrive.dis_text(kernel, tier=2)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info["tier2"]
    assert got == [expected] * 20
    t2 = info["tier2"]
    assert t2["compiles"] == 1 and not t2["off"], t2
    assert t2["exits"].get("GUARD_TYPE", 0) == 0, t2
    hir = text.split("--- LIR")[0].split("after dce ---")[1]
    assert "FloatMul" not in hir and "IntMul" not in hir, hir
    assert hir.count(" BinaryOp ") >= 4, hir
    # two numbers of which none is a big int, bool or subclass: in line, no helper
    assert after["number_ops_inline"] - before["number_ops_inline"] >= 20 * 500, after
    assert after["exits"].get("GUARD_TYPE", 0) == before["exits"].get("GUARD_TYPE", 0)


def floats_only(xs, ys):
    out = []
    for k in range(len(xs)):
        out.append(xs[k] * ys[k] + xs[k])
    return out


def test_sites_that_never_missed_are_still_speculated():
    xs = [0.5 * k for k in range(200)]
    ys = [1.5 + k for k in range(200)]
    overdrive.disable()
    expected = floats_only(xs, ys)
    for _ in range(3):
        floats_only(xs, ys)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        floats_only(xs, ys)
        got = floats_only(xs, ys)
        text = overdrive.dis_text(floats_only, tier=2)
        info = overdrive.info(floats_only)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info["tier2"]
    assert got == expected
    hir = text.split("--- LIR")[0].split("after dce ---")[1]
    assert "FloatMul" in hir and "FloatAdd" in hir, hir


def int_ops(a, b):
    return (a + b, a - b, a * b, a / b)


INT_PAIRS = [(3, 4), (-7, 2), (2 ** 29, 3), (-(2 ** 29), 2 ** 29), (255, 1), (256, 1),
             (-5, -1), (-6, 1), (0, 7), (2 ** 30 - 1, 2 ** 30 - 1), (-(2 ** 30) + 1, 1)]


def test_generic_int_arithmetic_in_line_as_the_interpreter():
    """Two one-digit ints at a generic site (no feedback: tier 2 at the first call):
    `+ - *` as int64s, the small int from the cache or a new int, `/` as one division of
    exact doubles; identity of cached small ints kept."""
    overdrive.disable()
    reference = types.FunctionType(int_ops.__code__.replace(), globals())
    expected = [repr(reference(a, b)) for a, b in INT_PAIRS]
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        before = overdrive.stats()["tier2"]
        results = [int_ops(a, b) for a, b in INT_PAIRS]
        after = overdrive.stats()["tier2"]
        info = overdrive.info(int_ops)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info["tier2"]
    assert [repr(r) for r in results] == expected
    inline = after["number_ops_inline"] - before["number_ops_inline"]
    if hasattr(sys, "gettotalrefcount"):
        # A build that counts references takes the helper's road for ints too (the total
        # count is the helper's to keep: lir/codegen.c number_binary_inline); `/` of two
        # ints makes its float through PyFloat_FromDouble there too.
        assert inline == 0
    else:
        # every call but the first (tier 1's) at tier 2, all four operations in line
        assert inline >= 4 * (len(INT_PAIRS) - 1)
    for r in results:
        for v in r[:3]:
            if -5 <= v <= 256:
                assert v is int(str(v))     # the cache's object


def test_no_reference_leaks():
    xs, ys = columns(200)
    overdrive.disable()
    for _ in range(3):
        kernel(xs, ys)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(20):
            kernel(xs, ys)
        before = sys.getallocatedblocks()
        for _ in range(300):
            kernel(xs, ys)
        grown = sys.getallocatedblocks() - before
        info = overdrive.info(kernel)
    finally:
        overdrive.disable()
    assert info["tier"] == 2
    assert grown < 100, grown


def scaled(xs, f):
    out = []
    for x in xs:
        out.append(f * 1.5 + x)     # a float plus an int or a float: a float either way
    return out


def test_a_float_known_without_a_guard_takes_the_other_as_a_number():
    """`f * 1.5 + x` where x is an int or a float by turns: FloatAdd on x's UnboxNumber, the
    result unboxed; no exit for ints and floats, and a bool, a big int, a subclass (an exit
    each: the interpreter computes) give the interpreter's results."""
    xs = [1, 2.5, -3, 0.25, 2 ** 40, 7] * 20
    odd = [True, 2 ** 80, 10 ** 400, MyInt(3), 1.0]
    overdrive.disable()
    cold = types.FunctionType(scaled.__code__.replace(), globals())
    expected, expected_odd = repr(cold(xs, 0.5)), repr([outcome(cold, [v], 0.5) for v in odd])
    for _ in range(3):
        scaled(xs, 0.5)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        scaled(xs, 0.5)
        got = [repr(scaled(xs, 0.5)) for _ in range(5)]
        info = overdrive.info(scaled)
        got_odd = repr([outcome(scaled, [v], 0.5) for v in odd])
        text = overdrive.dis_text(scaled, tier=2)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info["tier2"]
    assert got == [expected] * 5 and got_odd == expected_odd
    assert info["tier2"]["exits"] == {} and info["tier2"]["compiles"] == 1, info["tier2"]
    hir = text.split("--- LIR")[0].split("after dce ---")[1]
    assert "UnboxNumber" in hir and "FloatAdd" in hir, hir


def outcome(f, *args):
    try:
        return ("ok", f(*args))
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        return ("raise", type(exc).__name__, str(exc))
