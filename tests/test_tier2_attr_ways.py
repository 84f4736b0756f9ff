"""Tier 2's generic attribute sites with ways (rt/attr.h OdT2AttrWay, lir/codegen.c
attr_chain): a LOAD_ATTR / LOAD_METHOD / STORE_ATTR whose tier-1 site met two to four
receiver types gets one guard per type, its version tag as an immediate, and the access in
line; a receiver no way covers takes the site's own road (its entries, then the helper),
never a deopt. Each test compares with the interpreter and asserts that the ways ran: the
tier-2 frames ran, the site was compiled with ways (`generic_attr["way_sites"]`), its
executions counted under "polymorphic" without the site's own entries ("inline") or a
lookup ("misses")."""
import collections

import pytest

import _overdrive
import overdrive
from conftest import Noisy, allocated_blocks_growth, outcome


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


class A:
    def __init__(self, x):
        self.x = x

    def get(self):
        return ("A", self.x)


class B:
    def __init__(self, x):
        self.pad = 0
        self.x = x

    def get(self):
        return ("B", self.x)


class C:
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    def get(self):
        return ("C", self.x)


class D(A):
    def get(self):
        return ("D", self.x)


class E(A):             # the fifth type
    def get(self):
        return ("E", self.x)


def fresh(f):
    """A function of f's code of its own: tier 1's and tier 2's units are per code object."""
    return type(f)(f.__code__.replace(co_name=f.__code__.co_name), f.__globals__)


def read_x(objs):
    t = 0
    for o in objs:
        t += o.x
    return t


def _calls(objs):
    r = []
    for o in objs:
        r.append(o.get())
    return r


def store_x(objs, v):
    for o in objs:
        o.x = v
    return [o.x for o in objs]


def four():
    return [A(1), B(2), C(3), D(4)]


def run(f, warm, *calls):
    """Each call interpreted, then compiled: `warm` twice (tier 1 at the first call, which
    fills its sites with every type; tier 2 at the second). Returns (results interpreted,
    results compiled, info(f), the generic_attr counts and tier-2 frames the calls added,
    the way sites the compile made)."""
    f = fresh(f)
    overdrive.disable()
    expected = [outcome(f, a() if callable(a) else a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        sites = _overdrive.stats()["tier2"]["generic_attr"].get("way_sites", 0)
        outcome(f, warm)
        outcome(f, warm)
        assert overdrive.info(f)["tier"] == 2
        args = [a() if callable(a) else a for a in calls]
        t2 = _overdrive.stats()["tier2"]
        frames, before = t2["frames"], t2["generic_attr"]
        got = [outcome(f, a) for a in args]
        t2 = _overdrive.stats()["tier2"]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    d = collections.Counter({k: t2["generic_attr"].get(k, 0) - before.get(k, 0)
                             for k in t2["generic_attr"]})
    d["frames"] = t2["frames"] - frames
    return expected, got, info, d, t2["generic_attr"]["way_sites"] - sites


def test_four_types_of_a_load_are_guards_in_line():
    objs = four() * 10
    expected, got, info, d, ways = run(read_x, (objs,), (objs,), (objs[::-1],))
    assert got == expected
    assert ways >= 1 and d["frames"] >= 2 and info["tier2"]["exits"] == {}
    assert d["polymorphic"] == 2 * len(objs)
    assert d["inline"] == 0 and d["misses"] == 0         # neither entries nor lookups


def test_four_types_of_a_method_are_guards_in_line():
    objs = four() * 10
    expected, got, info, d, ways = run(_calls, (objs,), (objs,))
    assert got == expected and got[0][1][:4] == [("A", 1), ("B", 2), ("C", 3), ("D", 4)]
    assert ways >= 1 and d["frames"] >= 1 and info["tier2"]["exits"] == {}
    assert d["polymorphic"] >= len(objs) and d["inline"] == 0 and d["misses"] == 0


def test_four_types_of_a_store_are_guards_in_line():
    def objs():
        return four() * 5
    expected, got, info, d, ways = run(store_x, (objs(), 0), lambda: (objs(), 7),
                                       lambda: (objs(), "s"))
    assert got == expected
    assert ways >= 1 and d["frames"] >= 2 and info["tier2"]["exits"] == {}
    # the stores (and the list's loads) served in line; nothing looked up
    assert d["polymorphic"] >= 2 * 20 and d["inline"] == 0 and d["misses"] == 0


def test_a_fifth_type_takes_the_sites_road_not_a_deopt():
    objs = four() * 5
    mixed = objs[:7] + [E(50)] + objs[7:] + [E(60)]
    expected, got, info, d, ways = run(read_x, (objs,), (mixed,), (mixed,))
    assert got == expected
    assert ways >= 1 and info["tier"] == 2 and info["tier2"]["exits"] == {}
    assert info["tier2"]["compiles"] == 1
    assert d["misses"] == 1                  # E looked up once, then the site's entry
    assert d["inline"] == 3                  # E's other three, from that entry
    assert d["polymorphic"] == 2 * len(mixed)


def test_a_fifth_type_at_a_method_and_a_store():
    objs = four() * 5
    mixed = objs + [E(9)] * 3
    e1, g1, i1, d1, w1 = run(_calls, (objs,), (mixed,))
    assert g1 == e1 and w1 >= 1 and i1["tier2"]["exits"] == {} and d1["misses"] >= 1
    e2, g2, i2, d2, w2 = run(store_x, (objs, 0), lambda: (four() * 2 + [E(1)] * 2, 3))
    assert g2 == e2 and w2 >= 1 and i2["tier2"]["exits"] == {} and d2["misses"] >= 1


def test_a_class_patched_after_compiling_changes_its_version():
    class P1:
        def __init__(self):
            self.x = 1

        def get(self):
            return "P1.get"

    class P2(P1):
        def get(self):
            return "P2.get"

    class P3(P1):
        pass

    f, g = fresh(read_x), fresh(_calls)
    objs = [P1(), P2(), P3()] * 4
    overdrive.disable()
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(2):
            f(objs)
            g(objs)
        assert overdrive.info(f)["tier"] == overdrive.info(g)["tier"] == 2
        before = _overdrive.stats()["tier2"]["generic_attr"]
        assert f(objs) == 12 and g(objs)[:3] == ["P1.get", "P2.get", "P1.get"]
        mid = _overdrive.stats()["tier2"]["generic_attr"]
        assert mid["misses"] == before["misses"] and mid["inline"] == before["inline"]
        P1.get = lambda self: "patched"            # every version changes (P2, P3 too)
        P2.x = property(lambda self: 100)          # a data descriptor now shadows P2's x
        got_f, got_g = f(objs), g(objs)
        after = _overdrive.stats()["tier2"]["generic_attr"]
        info_f, info_g = overdrive.info(f), overdrive.info(g)
    finally:
        overdrive.disable()
    assert got_f == 1 + 100 + 1 + 1 + 100 + 1 + 1 + 100 + 1 + 1 + 100 + 1
    assert got_g[:3] == ["patched", "P2.get", "patched"]
    assert after["misses"] > mid["misses"]     # the ways no longer match: the site's road
    assert info_f["tier2"]["exits"] == {} and info_g["tier2"]["exits"] == {}


def test_a_deleted_attribute_at_a_way_raises_as_the_interpreter():
    def objs():
        o = four() * 3
        del o[5].x                                 # a B: its inline value is NULL
        return o
    expected, got, info, d, ways = run(read_x, (four() * 3,), objs)
    assert got == expected and got[0][0] == "raise"
    assert ways >= 1 and info["tier2"]["exits"] == {}


def test_a_store_over_a_last_reference_runs_its_finalizer_in_the_helper():
    objs = four() + four()
    f = fresh(store_x)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        f(objs, 0)
        f(objs, 0)
        assert overdrive.info(f)["tier"] == 2
        for o in objs:
            o.x = Noisy(type(o).__name__)          # the last reference, held by o
        Noisy.log.clear()
        f(objs, 5)
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert sorted(Noisy.log) == sorted(type(o).__name__ for o in objs)
    assert all(o.x == 5 for o in objs) and info["tier2"]["exits"] == {}


def test_a_new_attribute_keeps_the_interpreters_order():
    class N1:
        def __init__(self):
            self.a = 1

    class N2(N1):
        pass

    def set_b(objs):
        for o in objs:
            o.b = 2
        return [list(vars(o)) for o in objs]
    overdrive.disable()
    expected = set_b([N1(), N2()] * 3)
    f = fresh(set_b)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        f([N1(), N2()] * 3)
        f([N1(), N2()] * 3)
        got = f([N1(), N2()] * 3)
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert got == expected and info["tier"] == 2


def test_no_reference_leaks():
    objs = four() * 3
    cases = [(read_x, (objs,)), (_calls, (objs,)), (store_x, (objs, 3)),
             (store_x, (objs, "v"))]
    cases = [(fresh(f), a) for f, a in cases]
    grown, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=1)
    assert grown < 100, grown
    assert 2 in tiers
