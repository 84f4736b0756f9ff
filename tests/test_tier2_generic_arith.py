"""Tier 2's generic BinaryOp (rt/helpers.c od_t2_binary_op): a site it does not specialize
(no feedback, as here: compiled at its first call; its feedback mixed ints and floats; or
its guards kept failing) computes ints of one digit,
floats, and a float with such an int without the number protocol
(runtime/ops_arith.c od_rt_binary_numbers), everything else through it. Compared with the
interpreter on every pairing, results and exceptions."""
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
