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


hook_to_set = None     # (sys.settrace or sys.setprofile, the function to give it)


class SwitchesOn:
    def __add__(self, other):
        setter, fn = hook_to_set
        setter(fn)              # tracing or profiling switched on inside the dunder
        return 1


def switched(n):
    t = 0
    x = SwitchesOn()
    for i in range(n):
        t += i
        if i >= 2:              # the first call switches the hook on, the later ones see it
            t += x + x
    return t


@pytest.mark.parametrize("setter", [sys.settrace, sys.setprofile], ids=["trace", "profile"])
def test_tier1_tracing_or_profiling_switched_on_inside_a_dunder(setter):
    # The dunder is called by the runtime (counted), switches a hook on, and the rest of
    # the compiled caller continues in the interpreter: every event as the interpreter's.
    events = []
    watched = {switched.__code__, SwitchesOn.__add__.__code__}

    def hook(frame, event, arg):
        if frame.f_code in watched:
            events.append((frame.f_code.co_name, event, frame.f_lineno))
        return hook

    def run():
        global hook_to_set
        events.clear()
        hook_to_set = (setter, hook)
        try:
            return switched(5), list(events)
        finally:
            setter(None)
            hook_to_set = None
    overdrive.disable()
    expected = run()
    overdrive.enable(threshold=0, tier2_threshold=-1)
    try:
        for _ in range(3):
            switched(2)         # compiled; never reaches the dunder
        d0 = calls_dunder()
        got = run()
        made = calls_dunder() - d0
        info = overdrive.info(switched)
    finally:
        overdrive.disable()
    assert got == expected
    assert expected[1], "the hook saw nothing: the test would prove nothing"
    assert info["compiled"] and info["tier"] == 1, info
    assert made == 1
    assert info["exits"].get("TRACING", 0) >= 1, info
