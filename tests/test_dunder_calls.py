"""Tier 1's BINARY_OP on an instance of a class whose __add__, __sub__, __mul__ or
__truediv__ is Python code (runtime/nb_slots.c od_rt_binary_dunder, the helper's road after
its number fast paths): the dunder called on a frame pushed by the helper instead of
PyNumber_* -> slot_nb_* -> vectorcall -> the hook. Tier 2 takes the same road
(tests/test_tier2_dunder.py). Compared with the interpreter, the calls counted in
stats()["calls_dunder"] (either tier's)."""
import sys

import pytest

import overdrive
from conftest import outcome_with_traceback as outcome
from test_tier2_dunder import V, arith, divides, not_implemented, run_compiled, shapes


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def calls_dunder():
    return overdrive.stats()["calls_dunder"]


def run_t1(f, *calls, warm=2):
    """Each call's outcome interpreted, then compiled (tier 2 off) after `warm` runs of
    the first. Returns (outcomes, dunder calls of the compared runs, info(f))."""
    return run_compiled(f, *calls, tier=1, warm=warm, counter=calls_dunder)


def test_tier1_calls_the_dunder_of_same_class_and_number_operands():
    _, made, _ = run_t1(arith, (20,), (3,))
    assert made == 7 * 23


def test_tier1_dunder_exception_keeps_the_traceback():
    got, made, _ = run_t1(divides, (2,), (6,))
    assert got[1][0] == "raise" and got[1][1] is ZeroDivisionError
    assert made == 2 + 4


def test_tier1_not_implemented_and_other_shapes_match():
    got, made, _ = run_t1(not_implemented, (3,), (5,))
    assert made == 3 * 8
    got, made, _ = run_t1(shapes, (3,), (5,))
    assert made == 8


def test_tier1_dunder_references_balance():
    a, b = V(1, 1), V(2, 2)

    def refs(n):
        for _ in range(n):
            a - b
            a * 3
        return sys.getrefcount(a), sys.getrefcount(b)
    overdrive.disable()
    expected = refs(10)
    overdrive.enable(threshold=0, tier2_threshold=-1)
    try:
        refs(2)
        d0 = calls_dunder()
        got = refs(200)
        made = calls_dunder() - d0
    finally:
        overdrive.disable()
    assert got == expected
    assert made == 400
