"""Tier 2: reference counts as Python sees them. A local holds one reference to its object,
as in the interpreter, also once tier 2 wrote it back into the frame before a call
(`lower.c` lend_to_frame: test_imp's `sys.getrefcount` check failed in the stress mode),
and an object whose last local is rebound dies at the same point as in the interpreter.
Each function is measured against itself (counts taken before and during a call in the
same frame), so what its caller holds cancels out, and through locals: an argument passed
on to a call has no reference of the code's own in tier 2 where the interpreter's stack
holds one (docs/tier2.md, Limits)."""
import sys
import weakref

import pytest

import overdrive
from conftest import outcome, unexpected_exits


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


class Obj:
    pass


def identity(o):
    return o


def held_by_a_local_only(holder):
    obj = holder[0]                 # a local (not an argument: see the module's doc)
    before = sys.getrefcount(obj)
    m = identity(obj)               # a call's result, held by m only
    len("")                         # m written back
    during = sys.getrefcount(obj)   # m is not on the stack of this call
    return during - before, m is obj


def passed_as_the_argument(holder):
    obj = holder[0]                 # a local (not an argument: see the module's doc)
    before = sys.getrefcount(obj)
    m = identity(obj)
    len("")
    return sys.getrefcount(m) - before   # m on the stack of this call


def held_by_two_locals(holder):
    obj = holder[0]                 # a local (not an argument: see the module's doc)
    before = sys.getrefcount(obj)
    m = identity(obj)
    n = m
    len("")
    return sys.getrefcount(obj) - before, n is m


def rebound_by_the_call(holder):
    obj = holder[0]                 # a local (not an argument: see the module's doc)
    before = sys.getrefcount(obj)
    m = identity(obj)
    len("")
    m = sys.getrefcount(obj)        # the old m dies at this call: the frame keeps it
    return m - before


def in_a_loop(holder, n):
    obj = holder[0]
    before = sys.getrefcount(obj)
    seen = []
    m = None
    for _ in range(n):
        seen.append(sys.getrefcount(obj) - before)  # m: the previous iteration's (a phi)
        m = identity(obj)
        seen.append(sys.getrefcount(obj) - before)
    return seen, m is obj


def held_by_a_container_too(holder):
    obj = holder[0]                 # a local (not an argument: see the module's doc)
    before = sys.getrefcount(obj)
    box = [obj]
    first = box[0]
    len("")
    return sys.getrefcount(obj) - before, first is obj


COUNTED = [
    (held_by_a_local_only, 1),
    (passed_as_the_argument, 1),
    (held_by_two_locals, 1),
    (rebound_by_the_call, 1),
    (in_a_loop, 2),
    (held_by_a_container_too, 1),
]


def _args(nargs, obj):
    return ([obj],) if nargs == 1 else ([obj], 4)


@pytest.mark.parametrize("fn,nargs", COUNTED, ids=[f.__name__ for f, _ in COUNTED])
def test_reference_counts_of_locals_are_the_interpreters(fn, nargs):
    obj = Obj()
    overdrive.disable()
    expected = [outcome(fn, _args(nargs, obj)) for _ in range(3)]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        outcome(fn, _args(nargs, obj))            # tier 1; tier 2 from the next entry
        outcome(fn, _args(nargs, obj))
        before = overdrive.info(fn)
        got = [outcome(fn, _args(nargs, obj)) for _ in range(3)]
        after = overdrive.info(fn)
    finally:
        overdrive.disable()
    assert after["tier"] == 2, after
    assert after["native_entries"] >= before["native_entries"] + 3
    assert unexpected_exits(before, after) == {}
    assert after["tier2"]["exits"] == before["tier2"]["exits"]
    assert got == expected


# ---- when objects die --------------------------------------------------------------------

def dies_when_rebound(log, make):
    a = make()
    weakref.finalize(a, log.append, "a dead")
    log.append("made")              # a written back before this call
    a = identity(1)                 # a's object dies here in the interpreter
    log.append("rebound")
    b = make()
    weakref.finalize(b, log.append, "b dead")
    b = None
    log.append("b = None")
    c = make()
    weakref.finalize(c, log.append, "c dead")
    log.append("c made")
    c = log.append("c rebound by a call")   # c's old object dies after that call
    log.append("end")
    return a, b, c


def test_an_object_dies_when_its_last_local_is_rebound_as_in_the_interpreter():
    overdrive.disable()
    expected = []
    dies_when_rebound(expected, Obj)
    assert expected.index("a dead") < expected.index("rebound")
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        dies_when_rebound([], Obj)
        dies_when_rebound([], Obj)
        before = overdrive.info(dies_when_rebound)
        got = []
        dies_when_rebound(got, Obj)
        after = overdrive.info(dies_when_rebound)
    finally:
        overdrive.disable()
    assert after["tier"] == 2 and after["native_entries"] > before["native_entries"], after
    assert unexpected_exits(before, after) == {}
    assert got == expected


# ---- balance: what is lent to the frame comes back, also when the call raises -------------

def raises_with_a_local_lent(obj, fail):
    m = identity(obj)
    len("")
    fail(obj)                       # m lent to the frame during the call
    return m


def raises_where_a_local_dies(obj, fail):
    m = identity(obj)
    len("")
    m = fail(obj)                   # the old m handed to the frame at the call
    return m


def _fail_on_odd(o, _count=[0]):
    _count[0] += 1
    if _count[0] & 1:
        raise ValueError("odd")
    return o


@pytest.mark.parametrize("fn", [raises_with_a_local_lent, raises_where_a_local_dies])
def test_references_balance_over_many_calls_and_exceptions(fn):
    obj = Obj()
    overdrive.disable()
    expected = [outcome(fn, (obj, _fail_on_odd)) for _ in range(4)]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        outcome(fn, (obj, _fail_on_odd))
        outcome(fn, (obj, _fail_on_odd))
        base = sys.getrefcount(obj)
        for _ in range(10000):
            outcome(fn, (obj, _fail_on_odd))
        grown = sys.getrefcount(obj) - base
        got = [outcome(fn, (obj, _fail_on_odd)) for _ in range(4)]
        info = overdrive.info(fn)
    finally:
        overdrive.disable()
    assert info["tier2"]["compiles"] > 0 and info["tier2"]["exits"].get("ERROR", 0) >= 5000, info
    assert grown == 0
    assert got == expected
