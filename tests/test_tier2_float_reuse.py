"""Tier 2 boxes a float into the object of one that dies there (lir/lower.c
reuse_dying_float, lir/codegen.c float_into_dying): the last iteration's temporary (`dx`
rebound each time round a loop) when the code holds the only reference to it, and a list
item, slot or inline value read and stored back (`v[0] -= d`) when the container and the
code hold the only two. Nothing else may see the object change: an alias (a local, another
list, a tuple) keeps the old value, a float subclass is not reused, values are the
interpreter's bit for bit. That the in-place road ran shows in identity: the interpreter's
`v[0] -= d` makes a new float each time (two objects by turns, from the free list), tier 2
keeps one."""
import math
import struct
import sys
import types

import pytest

import overdrive

from conftest import allocated_blocks_growth, outcome, tier2_against_interpreter

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def bits(values):
    return [struct.pack("<d", v) for v in values]


def two_source_boxes(f):
    lir = overdrive.dis_text(f, tier=2).split("--- LIR")[1]
    return [line for line in lir.splitlines() if "= BoxFloat v" in line and "), v" in line]


def integrate(pos, vel, dt, n):
    # nbody's shape: list items read, changed and stored back; temporaries rebound
    for _ in range(n):
        dx = pos[0] - pos[1]
        dy = pos[1] - pos[2]
        mag = dt * (dx * dx + dy * dy + 1.0)
        vel[0] -= dx * mag
        vel[1] += dy * mag
        pos[0] += dt * vel[0]
        pos[1] += dt * vel[1]
        pos[2] -= dt * mag
    return pos + vel + [dx, dy, mag]


def run_integrate(p, v, dt, n):
    return bits(integrate(list(p), list(v), dt, n))


START = ([1.0, 0.5, -0.25], [0.0, 0.125], 0.01, 200)
CASES = [
    START,
    ([0.0, -0.0, 0.0], [-0.0, 0.0], 0.5, 50),
    ([1e300, -1e300, 5e-324], [1e308, -1e308], 10.0, 20),      # infinities on the way
    ([math.nan, 1.0, 2.0], [0.0, 1.0], 0.1, 10),
    ([math.inf, -math.inf, 0.0], [0.0, 0.0], 1.0, 5),
]


def test_in_place_boxes_are_the_interpreters_bit_for_bit():
    info = tier2_against_interpreter(integrate, START, CASES,
                                     lambda g, a: run_integrate(*a))
    assert not info["tier2"]["exits"], info["tier2"]
    assert len(two_source_boxes(integrate)) >= 6, overdrive.dis_text(integrate, tier=2)


def bump(v, d, n):
    ids = set()
    for _ in range(n):
        v[0] -= d
        ids.add(id(v[0]))
    return len(ids)


def test_a_list_item_stored_back_keeps_its_object():
    overdrive.disable()
    assert bump([1.0], 0.5, 20) == 2            # the interpreter: two floats by turns
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        bump([1.0], 0.5, 3)
        v = [1.0]
        assert bump(v, 0.5, 20) == 1            # tier 2: the one object, changed in place
        info = overdrive.info(bump)
    finally:
        overdrive.disable()
    assert info["tier"] == 2 and not info["tier2"]["exits"], info
    assert v == [1.0 - 20 * 0.5]
    assert extra_refs(v, [float(len(v)) / 3.0]) == 0  # the list's reference, no other


def extra_refs(v, w):
    """References to v[0] beyond those to w[0], an item nothing else holds, each read into
    a local and counted the same way (what the caller's frame holds cancels out)."""
    a = v[0]
    b = w[0]
    return sys.getrefcount(a) - sys.getrefcount(b)


def bump_aliased(v, d, n):
    seen = []
    for _ in range(n):
        old = v[0]              # a local holds the item: it must keep its value
        v[0] -= d
        seen.append(old)
    return seen


def bump_shared(v, w, d, n):
    for _ in range(n):
        v[0] -= d               # w holds the same float the first time round
    return v[0], w[0]


def bump_subclass(v, d, n):
    for _ in range(n):
        v[0] -= d
    return v[0], type(v[0]).__name__


class F(float):
    pass


def copied(a):
    return [list(p) if isinstance(p, list) else p for p in a]


def test_an_item_a_local_also_holds_keeps_its_value():
    info = tier2_against_interpreter(bump_aliased, ([1.0], 0.5, 3),
                                     [([2.0], 0.25, 10), ([-0.0], 1.0, 4)],
                                     lambda g, a: bits(g(*copied(a))))
    assert not info["tier2"]["exits"], info["tier2"]


def test_an_item_another_list_also_holds_keeps_its_value():
    x = 1.5 + len(sys.argv) * 0.0       # a float made here, not a constant of the code

    def seen(g, a):
        v, w = [x], [x]                 # both lists hold the one float x
        return g(v, w, 0.5, 7), w[0], x
    info = tier2_against_interpreter(bump_shared, ([1.0], [1.0], 0.5, 3), [(), ()], seen)
    assert not info["tier2"]["exits"], info["tier2"]
    assert x == 1.5


def test_a_float_subclass_is_not_reused():
    info = tier2_against_interpreter(bump_subclass, ([1.0], 0.5, 3),
                                     [([F(2.0)], 0.25, 1), ([F(2.0)], 0.25, 5)],
                                     lambda g, a: repr(g(*copied(a))))
    # the subtraction's guard meets the subclass: an exit, the interpreter's result
    assert info["tier"] == 2


class P:
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x


class Q:
    def __init__(self, x):
        self.x = x


def shift(o, d, n):
    for _ in range(n):
        o.x -= d
    return o.x


def shift_q(o, d, n):       # its own sites: a Q after P's would fail the slot's guard
    for _ in range(n):
        o.x -= d
    return o.x


@pytest.mark.parametrize("cls, shift", [(P, shift), (Q, shift_q)])
def test_a_slot_and_an_inline_value_stored_back(cls, shift):
    def seen(g, a):
        o = cls(a[0] + len(sys.argv) * 0.0)     # a float made here, not a constant
        r = g(o, a[1], a[2])
        return struct.pack("<d", r), extra_refs([o.x], [float(len(sys.argv)) / 3.0])
    info = tier2_against_interpreter(shift, (cls(1.0), 0.5, 3),
                                     [(1.0, 0.5, 10), (-0.0, 0.0, 3), (1e308, -1e308, 2)],
                                     seen)
    assert not info["tier2"]["exits"], info["tier2"]
    assert two_source_boxes(shift), overdrive.dis_text(shift, tier=2)


def test_no_reference_leaks():
    cases = [(integrate, ([1.0, 0.5, -0.25], [0.0, 0.125], 0.01, 20)),
             (bump, ([1.0], 0.5, 20)), (bump_aliased, ([1.0], 0.5, 5)),
             (shift, (P(1.0), 0.5, 5)), (shift_q, (Q(1.0), 0.5, 5)),
             (bump_subclass, ([F(1.0)], 0.5, 5))]
    growth, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=1)
    assert growth < 50, (growth, tiers)
    assert 2 in tiers, tiers


class G(float):
    pass


def dot3(ps, qs):
    out = []
    for k in range(len(ps)):
        p = ps[k]
        q = qs[k]
        # generic sites (ints and floats by turns): each `+` whose left sum dies there
        # takes the in-line `+` road of od_t2_str_append, the sum into that float
        out.append(p[0] * q[0] + p[1] * q[1] + p[2] * q[2])
    return out


SPECIAL = [-0.0, 1e308, 2 ** 70, True, G(1.5), float("nan"), float("inf"), 2 ** 29, -3]


def mixed_row(k, shift):
    # every column an int and a float by turns (each site misses in the interpreter), and
    # now and then a value the in-line road leaves to the helper or must get right
    row = [(k % 7 - 3) if (k + j + shift) % 2 else (k % 5) * 0.75 - 1.0 for j in range(3)]
    if k % 13 == 0:
        row[k % 3] = SPECIAL[(k // 13) % len(SPECIAL)]
    return tuple(row)


def test_a_sum_goes_into_its_dying_left_float():
    n = 300
    ps = [mixed_row(k, 0) for k in range(n)]
    qs = [mixed_row(k * 5 + 1, 1) for k in range(n)]
    overdrive.disable()
    expected = repr(types.FunctionType(dot3.__code__.replace(), globals())(ps, qs))
    for _ in range(3):                  # quickened, the sites' misses counted
        dot3(ps, qs)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        dot3(ps, qs)
        before = overdrive.stats()["tier2"]["number_ops_inline"]
        got = [repr(dot3(ps, qs)) for _ in range(10)]
        after = overdrive.stats()["tier2"]["number_ops_inline"]
        info = overdrive.info(dot3)
    finally:
        overdrive.disable()
    assert info["tier"] == 2 and info["tier2"]["compiles"] == 1, info["tier2"]
    assert not info["tier2"]["exits"], info["tier2"]
    assert got == [expected] * 10
    if not hasattr(sys, "gettotalrefcount"):   # a debug build boxes out of line, uncounted
        assert after - before >= 10 * n * 4, (before, after)
    growth, tiers = allocated_blocks_growth([(dot3, (ps[:20], qs[:20]))],
                                            threshold=0, tier2_threshold=1)
    assert growth < 50 and 2 in tiers, (growth, tiers)


def sum_of_products(p, q):
    return p[0] * q[0] + p[1] * q[1]


@pytest.mark.parametrize("p, q", [
    ((10 ** 200, 1.5), (10 ** 200, 2.0)),       # int + float: OverflowError
    ((2 ** 53 + 1, 1.0), (1, 0.0)),             # an int no double holds, plus a float
    ((1.5, 10 ** 400), (2.0, 1)),               # float + huge int: OverflowError
    ((float("nan"), 1), (1.0, 2)), ((-0.0, 0), (1.0, 5)), ((G(2.5), 1.0), (1.0, 2.0)),
    ((1e308, 1e308), (10.0, 10.0)),             # inf
])
def test_sums_that_raise_or_round_are_the_interpreters(p, q):
    # the sum's left product dies at the `+`: its own float may be given the sum
    warm = ((1.5, 2), (2, 0.5))
    info = tier2_against_interpreter(sum_of_products, warm,
                                     [warm, (p, q), warm, ((1, 2.5), (0.5, 3)), (p, q)],
                                     lambda g, a: repr(outcome(g, a)))
    assert info["tier"] == 2
