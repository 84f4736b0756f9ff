"""Tier 2's generic BinaryOp (rt/helpers.c od_t2_binary_op): a site it does not specialize
(no feedback, as here: compiled at its first call; its feedback mixed ints and floats; or
its guards kept failing) computes ints of one digit,
floats, and a float with such an int without the number protocol
(runtime/ops_arith.c od_rt_binary_numbers), everything else through it. Compared with the
interpreter on every pairing, results and exceptions."""
import sys
import types

import pytest

import overdrive

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


class MyFloat(float):
    def __sub__(self, other):
        return "sub"


def ops(a, b):
    out = [a + b, a - b, a * b]
    try:
        out.append(a / b)
    except ZeroDivisionError as exc:
        out.append(("ZeroDivisionError", str(exc)))
    try:
        out.append(a // b)
    except ZeroDivisionError as exc:
        out.append(("ZeroDivisionError", str(exc)))
    return out


PAIRS = [(3, 4), (-7, 2), (2 ** 29, 3), (2 ** 40, 3), (1.5, 2), (2, 1.5), (1.5, -0.0),
         (0, 0.0), (5, 0), (7.0, 0), (True, 2.5), (MyFloat(1.5), 2), (-(2 ** 30), 1.0),
         (float("nan"), 1), (1e308, 10), (3, 4.0), (2.5, 2.5)]


def test_generic_arithmetic_as_the_interpreter():
    overdrive.disable()
    reference = types.FunctionType(ops.__code__.replace(), globals())   # ops stays cold
    expected = [repr(reference(a, b)) for a, b in PAIRS]
    # tier 2 at the first call: no feedback yet, so every arithmetic site is generic
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        got = [repr(ops(a, b)) for a, b in PAIRS]
        info = overdrive.info(ops)
        text = overdrive.dis_text(ops, tier=2)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info["tier2"]
    assert got == expected
    hir = text.split("--- LIR")[0].split("after dce ---")[1]
    assert hir.count(" BinaryOp ") >= 3, hir      # the generic sites


def mixed(xs, k):
    s = 0.0
    for x in xs:
        s = s + x * k - x / 2
        s += 1
    return s


MIXED = [([1, 2.5, -3, 0, 7.25, 2 ** 29], 3), ([0.5, 1, 2], 0.25), ([1, 2, 3], 2),
         ([2 ** 40, 1.5], 2.0), ([float("inf"), -0.0, 1], -1), ([1.0, 2.0], 0)]


def test_generic_float_arithmetic_in_line():
    """A float with a float or a one-digit int is done in the machine code (no helper):
    counted in number_ops_inline; two ints, big ints and zero divisors take the helper."""
    expected, got, before, after, info = interpreter_and_tier2(mixed, MIXED)
    assert info["tier"] == 2, info["tier2"]
    assert got == expected
    inline = after["number_ops_inline"] - before["number_ops_inline"]
    if hasattr(sys, "gettotalrefcount"):
        # A build that counts references makes every float through PyFloat_FromDouble (no
        # float from the free list in line, lir/codegen.c): all of them the helper's road.
        assert inline == 0
    else:
        # 4 float operations per float item at least; the int-only call adds none of its own
        assert inline >= 20
    assert after["exits"] == before["exits"]


def outcome(f, args):
    try:
        return ("ok", f(*args))
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        return ("raise", type(exc).__name__, str(exc))


def interpreter_and_tier2(f, argsets):
    """f's outcomes on each argument tuple from a cold copy in the interpreter, then from f
    at tier 2 on its first call (no feedback: generic sites), with tier 2's stats before and
    after, and f's info: (expected, got, before, after, info)."""
    overdrive.disable()
    reference = types.FunctionType(f.__code__.replace(), globals())
    expected = [repr(outcome(reference, args)) for args in argsets]
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        before = overdrive.stats()["tier2"]
        got = [repr(outcome(f, args)) for args in argsets]
        after = overdrive.stats()["tier2"]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    return expected, got, before, after, info


def compares(a, b):
    return [a < b, a <= b, a > b, a >= b, a == b, a != b]


CMP_PAIRS = [(1, 2), (2, 1), (3, 3), (-1, 0), (1.5, 2), (2, 1.5), (0.0, -0.0), (1.0, 1),
             (float("nan"), 1.0), (1, float("nan")), (float("nan"), float("nan")),
             (2 ** 40, 2.0 ** 40), (2 ** 53 + 1, 2.0 ** 53), (True, 1.0), (float("inf"), 2 ** 29),
             (-(2 ** 30) + 1, -1e9), ("a", "b"), (None, None)]


def test_generic_compares_as_the_interpreter():
    """Compare of two numbers (floats, one-digit ints) in line, everything else (big ints,
    bools, strs, None) through PyObject_RichCompare: the interpreter's answers, NaN too."""
    expected, got, before, after, info = interpreter_and_tier2(compares, CMP_PAIRS)
    assert info["tier"] == 2, info["tier2"]
    assert got == expected
    assert after["number_ops_inline"] - before["number_ops_inline"] >= 6 * 11
    grown = {k: n - before["exits"].get(k, 0) for k, n in after["exits"].items()
             if n != before["exits"].get(k, 0)}
    assert grown == {"ERROR": 1}            # None < None: TypeError, raised by the interpreter
