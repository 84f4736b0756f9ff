"""Tier 2's `not` (HIR Not, the helper od_t2_not): True and False are answered in the
machine code (lir/codegen.c not_bool_inline), anything else goes to the helper, whose
PyObject_IsTrue may run Python code (__bool__, __len__) or raise. Compared with the
interpreter; the tier-2 frames ran and nothing exited but the errors the interpreter raises."""
import pytest

import overdrive
from conftest import tier2_against_interpreter, unexpected_exits

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


class Flags:
    def __init__(self, holding, waiting):
        self.holding = holding
        self.waiting = waiting


def waiting_not_holding(o):
    return o.waiting and not o.holding


def count_not(xs):
    n = 0
    for x in xs:
        if not x:
            n += 1
        n += (not x) is True
    return n


class Truthy:
    def __init__(self, v):
        self.v = v

    def __bool__(self):
        if self.v is None:
            raise ValueError("no truth")
        return self.v


class Sized:
    def __len__(self):
        return 0


def test_not_of_bools_and_others_as_the_interpreter():
    objs = [Flags(h, w) for h in (True, False) for w in (True, False)]
    info = tier2_against_interpreter(waiting_not_holding, (objs[0],), [(o,) for o in objs])
    assert info["tier2"]["exits"] == {}, info["tier2"]
    values = [True, False, 0, 1, 0.0, "", "a", [], [0], None, Truthy(True), Truthy(False),
              Sized()]
    tier2_against_interpreter(count_not, ([True],), [(values,), ([False] * 50,), ([True, None],)])


def test_not_raising_bool_as_the_interpreter():
    tier2_against_interpreter(count_not, ([True],), [([True, Truthy(None)],), ([Truthy(None)],)])


def test_not_in_a_hot_loop_stays_in_tier2():
    flags = [Flags(i % 3 == 0, i % 2 == 0) for i in range(300)]

    def run(fs):
        return sum(1 for f in fs if waiting_not_holding(f))

    overdrive.disable()
    expected = run(flags)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        run(flags[:5])
        before = overdrive.info(waiting_not_holding)
        got = run(flags)
        after = overdrive.info(waiting_not_holding)
    finally:
        overdrive.disable()
    assert after["tier"] == 2, after
    assert got == expected
    assert after["tier2"]["exits"] == {}, after["tier2"]
    assert not unexpected_exits(before, after), after


# ---- a truth test's line: prev_instr is set on the helper's road only (lir/codegen.c Truth) --

class LineSeer:
    """A truth that records the line its caller's frame is at when it is asked."""

    def __init__(self):
        self.lines = []

    def __bool__(self):
        import sys
        self.lines.append(sys._getframe(1).f_lineno)
        return len(self.lines) < 3


def truth_lines(o, k):
    t = k + 1
    if o:
        t += 1
    y = t * 2
    while o and t < 10:
        t += 1
    return t, y


def first_truthy(xs):
    for x in xs:
        y = x
        if y:
            return y
    return None


def lines_seen(f, args):
    o = LineSeer()
    return f(o, *args), o.lines


def test_a_truth_helper_sees_the_line_of_its_test_as_the_interpreter():
    info = tier2_against_interpreter(truth_lines, (LineSeer(), 0), [(1,), (2,)], seen=lines_seen)
    assert info["tier2"]["exits"] == {}, info["tier2"]


def test_a_raising_truth_keeps_the_traceback_line():
    from conftest import outcome_with_traceback
    tier2_against_interpreter(first_truthy, ([0, 1],),
                              [([0, Truthy(None)],), ([Truthy(None)],), ([0, 2],)],
                              seen=outcome_with_traceback)
