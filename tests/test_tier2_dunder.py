"""Tier 2's generic BinaryOp on an instance of a class whose __add__, __sub__, __mul__ or
__truediv__ is Python code (rt/call.c od_t2_binary_dunder): the dunder called on a frame
pushed by the helper, as a Call of it, instead of PyNumber_* -> slot_nb_* -> vectorcall ->
the hook; only when the right operand is of the same class or an exact int or float.
Each case is compared with the interpreter (results, exceptions and tracebacks, trace
events, reference counts) with the dunder calls counted (stats()["tier2"]["dunder_calls"])."""
import sys

import pytest

import overdrive
from conftest import outcome_with_traceback as outcome


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def dunders():
    return overdrive.stats()["tier2"]["dunder_calls"]


def run_compiled(f, *calls, tier, warm, counter):
    """Each call's outcome interpreted, then compiled at `tier` (tier 1: tier 2 off) after
    `warm` runs of the first. Returns (outcomes, `counter()`'s growth over the compared
    runs, info(f))."""
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1 if tier == 2 else -1)
    try:
        for _ in range(warm):
            outcome(f, calls[0])
        d0 = counter()
        got = []
        for a in calls:
            got.append(outcome(f, a))
        made = counter() - d0
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert info["compiled"] and info["tier"] == tier, info
    assert got == expected
    return got, made, info


def run_dunder(f, *calls, warm=3):
    """run_compiled at tier 2, counting tier 2's dunder calls: (outcomes, dunder calls)."""
    got, made, _ = run_compiled(f, *calls, tier=2, warm=warm, counter=dunders)
    return got, made


class V:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, other):
        return V(self.x + other.x, self.y + other.y)

    def __sub__(self, other):
        return V(self.x - other.x, self.y - other.y)

    def __mul__(self, k):
        if isinstance(k, V):
            return self.x * k.x + self.y * k.y
        return V(self.x * k, self.y * k)

    def __truediv__(self, k):
        if k == 0:
            raise ZeroDivisionError("V / 0")
        return V(self.x / k, self.y / k)

    def __repr__(self):
        return f"V({self.x}, {self.y})"

    def __eq__(self, other):
        return isinstance(other, V) and (self.x, self.y) == (other.x, other.y)


def arith(n):
    a, b = V(1, 2), V(3, 5)
    out = []
    for i in range(n):
        c = a + b - V(i, i)         # same class
        d = c * 2 * 0.5             # an int, then a float on the right
        out.append((d / 2, c * a, d / 4.0))
    return out


def test_same_class_and_number_operands_call_the_dunder():
    got, made = run_dunder(arith, (20,), (3,))
    assert made == 7 * 23


def divides(n):
    out = []
    for i in range(n):
        out.append(V(i, 1) / (3 - i))   # ZeroDivisionError from the dunder at i == 3
    return out


def test_an_exception_in_the_dunder_keeps_the_traceback():
    got, made = run_dunder(divides, (2,), (6,))
    assert got[1][0] == "raise" and got[1][1] is ZeroDivisionError
    assert made == 2 + 4


class Partial:
    def __add__(self, other):
        return NotImplemented       # the number protocol's TypeError

    def __mul__(self, other):
        return NotImplemented       # then int's and float's own slot: NotImplemented too


def not_implemented(n):
    p, q = Partial(), Partial()
    out = []
    for i in range(n):
        for op in (lambda: p + q, lambda: p * 2, lambda: p * 1.5):
            try:
                out.append(op())
            except TypeError as e:
                out.append(str(e))
    return out


def test_not_implemented_raises_the_interpreters_type_error():
    got, made = run_dunder(not_implemented, (3,), (5,))
    assert "unsupported operand type(s) for +: 'Partial' and 'Partial'" in got[0][1]
    assert made == 3 * 8


class Seq(list):
    def __add__(self, other):       # a list subclass: defining __add__ cleared its
        return NotImplemented       # sq_concat, so NotImplemented is the TypeError


class Right:
    def __radd__(self, other):      # only the reflected dunder: __add__ is not found
        return "radd"


class Sub(V):
    def __rsub__(self, other):      # a subclass on the right comes first
        return "rsub"


def shapes(n):
    out = []
    for i in range(n):
        for op in (lambda: Seq([i]) + Seq([1]), lambda: V(1, 1) - Sub(2, 2),
                   lambda: V(1, 1) * True, lambda: Right() + Right()):
            try:
                out.append(op())
            except TypeError as e:
                out.append(str(e))
    return out


def test_other_shapes_take_the_number_protocol():
    got, made = run_dunder(shapes, (3,), (5,))
    assert "unsupported operand type(s) for +: 'Seq' and 'Seq'" in got[0][1]
    assert got[0][1][1] == "rsub"
    # only Seq + Seq calls its dunder itself: a subclass on the right, a bool, no __add__
    # take the number protocol
    assert made == 8


class Rebound:
    def __sub__(self, other):
        return 1


def rebinding(n):
    Rebound.__sub__ = lambda self, other: 1
    a, b = Rebound(), Rebound()
    out = []
    for i in range(n):
        if i == 3:
            Rebound.__sub__ = lambda self, other: 2     # looked up at each operation
        out.append(a - b)
    return out


def test_a_dunder_rebound_mid_loop_is_the_one_called():
    got, made = run_dunder(rebinding, (2,), (6,))
    assert got[1][1] == [1, 1, 1, 2, 2, 2]
    assert made >= 6


class Deep:
    def __init__(self, n):
        self.n = n

    def __sub__(self, other):
        return 0 if self.n <= 0 else (Deep(self.n - 1) - other) + 1


def deep(n):
    return Deep(n) - Deep(0)


def test_recursion_through_dunders_to_the_limit():
    overdrive.disable()
    expected = outcome(deep, (10**6,))[:2]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            deep(3)
        got = outcome(deep, (10**6,))[:2]
        d0 = dunders()
        ok = deep(300)
        made = dunders() - d0
    finally:
        overdrive.disable()
    assert got == expected == ("raise", RecursionError)
    assert ok == 300
    assert made >= 290


tracer_to_set = None


class Tracing:
    def __add__(self, other):
        sys.settrace(tracer_to_set)     # tracing switched on inside the dunder
        return 1


def traced(n):
    t = 0
    x = Tracing()
    for i in range(n):
        t += i
        if i == 2:
            t += x + x
    return t


def test_tracing_switched_on_inside_a_dunder():
    events = []
    watched = {traced.__code__, Tracing.__add__.__code__}

    def tracer(frame, event, arg):
        if frame.f_code in watched:
            events.append((frame.f_code.co_name, event, frame.f_lineno))
        return tracer

    def run():
        global tracer_to_set
        events.clear()
        tracer_to_set = tracer
        try:
            return traced(5), list(events)
        finally:
            sys.settrace(None)
            tracer_to_set = None
    overdrive.disable()
    expected = run()
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(4):
            traced(2)
        d0 = dunders()
        got = run()
        made = dunders() - d0
        info = overdrive.info(traced)
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier"] == 2 and info["tier2"]["exits"].get("TRACING", 0) >= 1, info
    assert made == 1


def test_dunder_calls_keep_references_balanced():
    from conftest import allocated_blocks_growth
    cases = [(arith, (5,)), (divides, (5,)), (not_implemented, (2,)), (shapes, (2,))]
    growth, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=1)
    assert growth < 100, growth
    a, b = V(1, 1), V(2, 2)

    def refs(n):
        for _ in range(n):
            a - b
            a * 3
        return sys.getrefcount(a), sys.getrefcount(b)
    overdrive.disable()
    expected = refs(10)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            refs(2)
        d0 = dunders()
        got = refs(200)
        made = dunders() - d0
    finally:
        overdrive.disable()
    assert got == expected
    assert made == 400
