"""Tier 2's attribute accesses by tier 1's site feedback (passes/attrs.c): the HIR they
become, and every way the speculation can fail at run time (another receiver type, a
deleted attribute, a patched class, an assigned __class__), each compared with the
interpreter with the deopt and the tier-2 run asserted."""
import re
import sys

import pytest

import _overdrive
import overdrive
from conftest import allocated_blocks_growth, outcome


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def run_t2(f, *calls, setup=None):
    """Each call's outcome interpreted, then with tier 2 (tier 1 runs the first call and
    records its attribute sites; tier 2 compiles at the next entry). `setup()` makes fresh
    arguments' state before each run. Returns info(f) after the tier-2 run."""
    def each():
        if setup:
            setup()
        return [outcome(f, a() if callable(a) else a) for a in calls]
    overdrive.disable()
    expected = each()
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        if setup:
            setup()
        first = calls[0]() if callable(calls[0]) else calls[0]
        outcome(f, first)               # tier 1: fills the sites
        before = overdrive.info(f)["native_entries"]
        got = each()
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert info["tier2"]["compiles"] > 0, info
    assert info["native_entries"] > before
    assert got == expected
    return info


def attr_exits(info):
    return info["tier2"]["exits"].get("GUARD_ATTR", 0)


def hir_after(f, args, passes):
    """f run by tier 1 (its sites record the receivers), then its HIR after `passes`,
    with the type version tags (the process's history decides them) masked."""
    overdrive.enable(threshold=0, tier2_threshold=-1)
    try:
        for _ in range(3):
            f(*args)
    finally:
        overdrive.disable()
    text = _overdrive._tier2_hir(f, passes)[-1][1]
    return re.sub(r"version=\d+", "version=V", text)


def golden(s):
    import textwrap
    return textwrap.dedent(s).lstrip("\n")


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def scaled(self, k):
        return self.x * k + self.y * k

    def norm1(self):
        return self.x + self.y


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


class SlotX:
    __slots__ = ("x",)

    def __init__(self):
        self.x = 0


def sum_xy(p):
    return p.x + p.y


# ---- the HIR ------------------------------------------------------------------------------

def test_golden_hir_one_guard_for_two_loads_of_self():
    text = hir_after(Point.norm1, (Point(1, 2),), ["specialize", "attrs", "dce"])
    assert text == golden("""
        bb0 @0
          v0:Object = Param self
          v1:Object = GuardTypeVersion version=V v0 [@2 self=v0 | v0]
          v2:Object = LoadInstanceValue x values[0] v1 [@2 self=v0 | v0]
          v3:Object = LoadInstanceValue y values[1] v1 [@8 self=v0 | v2 v0]
          v4:Object = GuardType Int v2 [@13 self=v0 | v2 v3]
          v5:CInt64 = UnboxInt v2 [@13 self=v0 | v2 v3]
          v6:Object = GuardType Int v3 [@13 self=v0 | v2 v3]
          v7:CInt64 = UnboxInt v3 [@13 self=v0 | v2 v3]
          v8:CInt64 = IntAdd v5 v7 [@13 self=v0 | v2 v3]
          v9:Long = BoxInt v8 [@13 self=v0 | v2 v3]
          Return v9
        """)



def calls_between(p, q):
    a = p.x
    q.scaled(2)          # a call may change anything: p is guarded again after it
    return a + p.y


def test_a_call_between_two_accesses_needs_a_second_guard():
    text = hir_after(calls_between, (Point(1, 2), Point(3, 4)), ["attrs"])
    assert text.count("GuardTypeVersion") == 3, text   # p, q, p again
    assert "LoadTypeMethod scaled" in text and "LoadMethod" not in text


def test_slots_and_stores_in_hir():
    def swap(s):
        t = s.a
        s.a = s.b
        s.b = t
    text = hir_after(swap, (Slotted(1, 2),), ["attrs"])
    assert "LoadSlot a +16" in text and "LoadSlot b +24" in text
    assert "StoreSlot a +16" in text and "StoreSlot b +24" in text
    # the second store follows the first (a barrier: its old value's release may run code)
    assert text.count("GuardTypeVersion") == 2, text


def test_polymorphic_and_unfed_sites_stay_generic():
    def get_x(o):
        return o.x
    overdrive.enable(threshold=0, tier2_threshold=-1)
    try:
        for o in (Point(1, 2), SlotX(), Point(3, 4)):
            get_x(o)
    finally:
        overdrive.disable()
    assert "LoadAttr x why=polymorphic" in _overdrive._tier2_hir(get_x, ["attrs"])[-1][1]

    def never_ran(o):
        return o.zz
    assert "LoadAttr zz v0" in _overdrive._tier2_hir(never_ran, ["attrs"])[-1][1]  # no_feedback

    def module_and_class(m, c):
        return m.sep + c.__name__
    import os
    overdrive.enable(threshold=0, tier2_threshold=-1)
    try:
        for _ in range(3):
            module_and_class(os, Point)
    finally:
        overdrive.disable()
    text = _overdrive._tier2_hir(module_and_class, ["attrs"])[-1][1]
    assert "LoadAttr sep why=module" in text and "LoadAttr __name__ why=" in text, text


# ---- running it ---------------------------------------------------------------------------

def loop_sum(objs):
    t = 0
    for o in objs:
        t = t + o.x + o.y
    return t


def test_loads_run_in_tier_2_without_exits():
    pts = [Point(i, 2 * i) for i in range(50)]
    info = run_t2(loop_sum, (pts,), (pts[:3],), ([],))
    assert info["tier"] == 2 and info["tier2"]["exits"] == {}
    lir = _overdrive._tier2_lir(loop_sum)
    assert "GuardVersion" in lir and "LoadField" in lir and "GUARD_ATTR" in lir


class Other:
    def __init__(self, x, y):
        self.y = y          # another class, another order
        self.x = x


def test_receiver_type_changes_in_the_middle_of_a_loop():
    pts = [Point(i, i) for i in range(20)]
    mixed = pts[:10] + [Other(100, 200)] + pts[10:]
    info = run_t2(loop_sum, (pts,), (mixed,), (mixed,), (pts,))
    assert attr_exits(info) >= 1
    assert info["tier"] == 2


def read_x(objs):
    r = []
    for o in objs:
        r.append(o.x)
    return r


def test_attribute_deleted_in_the_middle_of_a_loop():
    def args():
        objs = [Point(i, i) for i in range(6)]
        del objs[3].x                     # NULL in its inline values: AttributeError
        return (objs,)
    info = run_t2(read_x, ([Point(1, 2)] * 4,), args, args)
    assert attr_exits(info) >= 1


def test_deleted_attribute_raises_as_the_interpreter_does():
    def args():
        p = Point(1, 2)
        del p.y
        return (p,)
    info = run_t2(sum_xy, (Point(1, 2),), args, (Point(3, 4),))
    assert attr_exits(info) >= 1


def test_deleted_slot_raises_as_the_interpreter_does():
    def get_b(s):
        return s.b

    def args():
        s = Slotted(1, 2)
        del s.b
        return (s,)
    info = run_t2(get_b, (Slotted(1, 2),), args, (Slotted(5, 6),))
    assert attr_exits(info) >= 1


class Patched:
    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v


def _negated(self):
    return -self.v


def patch_get():
    Patched.get = _negated          # the type's version changes


def call_get_with_patch(objs, patch_at):
    r = []
    i = 0
    for o in objs:
        if i == patch_at:
            patch_get()
        r.append(o.get())
        i += 1
    return r


def test_method_patched_on_the_class_mid_loop():
    original = Patched.get

    def restore():
        Patched.get = original
    objs = [Patched(i) for i in range(10)]
    info = run_t2(call_get_with_patch, (objs, -1), (objs, 5), (objs, -1), setup=restore)
    restore()
    assert attr_exits(info) >= 1


class Counter:
    def __init__(self):
        self.n = 0


def patch_n():
    Counter.n = property(lambda self: 1000)   # a data descriptor now wins


def read_n(objs, patch_at):
    r = []
    i = 0
    for o in objs:
        if i == patch_at:
            patch_n()
        r.append(o.n)
        i += 1
    return r


def test_class_attribute_patched_to_a_data_descriptor_mid_loop():
    def restore():
        if "n" in Counter.__dict__:
            del Counter.n
    objs = [Counter() for _ in range(8)]
    info = run_t2(read_n, (objs, -1), (objs, 4), (objs, -1), setup=restore)
    restore()
    assert attr_exits(info) >= 1


class PointB(Point):
    def norm1(self):
        return 1000


def norms(objs, switch_at):
    r = []
    i = 0
    for o in objs:
        if i == switch_at:
            o.__class__ = PointB                  # same layout, another type
        r.append(o.norm1() + o.x)
        i += 1
    return r


def test_class_assigned_mid_loop():
    def args(switch_at):
        return lambda: ([Point(i, i) for i in range(8)], switch_at)
    info = run_t2(norms, args(-1), args(3), args(-1), args(6))
    assert attr_exits(info) >= 1


# ---- stores -------------------------------------------------------------------------------

def move(p, n):
    for _ in range(n):
        p.x = p.x + 1
        p.y = p.y * 2 % 1000003
    return (p.x, p.y)


def test_stores_to_inline_values_and_their_references():
    info = run_t2(move, lambda: (Point(1, 2), 100), lambda: (Point(5, 7), 1000))
    assert info["tier2"]["exits"] == {}
    big = object()
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        def store(p, v):
            p.x = v
        for _ in range(5):
            store(Point(1, 2), 3)
        p = Point(1, 2)
        before = sys.getrefcount(big)
        for _ in range(100):
            store(p, big)
        assert sys.getrefcount(big) == before + 1      # p.x holds one: old values released
        store(p, 0)
        assert sys.getrefcount(big) == before
        assert overdrive.info(store)["tier"] == 2
    finally:
        overdrive.disable()


class Lazy:
    def __init__(self):
        self.a = 1

    def fill(self):
        self.c = 3          # names in the shared keys, set later and in another order
        self.b = 2


def fills(n):
    r = []
    for _ in range(n):
        o = Lazy()
        o.fill()
        r.append(list(vars(o)))
    return r


def test_new_attributes_keep_the_insertion_order():
    info = run_t2(Lazy.fill, (Lazy(),), (Lazy(),))
    assert info["tier2"]["exits"] == {}
    run_t2(fills, (3,), (10,))


def test_slot_stores():
    def put(s, v):
        s.a = v
        s.b = v + 1
        return (s.a, s.b)
    run_t2(put, (Slotted(0, 0), 5), (Slotted(1, 1), 7))

    def args():
        s = Slotted(1, 2)
        del s.a                 # storing into an empty slot is fine
        return (s, 3)
    run_t2(put, args, args)


def test_a_failing_guard_stops_being_speculated_on():
    objs = [Point(1, 2), Other(3, 4)] * 100
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            sum_xy(Point(1, 2))
        for o in objs:
            assert sum_xy(o) == o.x + o.y
        info = overdrive.info(sum_xy)
    finally:
        overdrive.disable()
    assert info["tier2"]["compiles"] >= 2
    assert attr_exits(info) < 100


def test_no_reference_leaks():
    objs = [Point(i, i) for i in range(10)]
    cases = [(loop_sum, (objs,)), (move, (Point(1, 2), 5)), (Lazy.fill, (Lazy(),)),
             (sum_xy, (Point(1, 2),)), (norms, ([Point(1, 2), Point(3, 4)], 1))]
    grown, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=1)
    assert grown < 100, grown
    assert 2 in tiers


# ---- the interpreter's specialization as the feedback --------------------------------------

def interpreted(f, *args, n=30):
    """f run by the interpreter only (its adaptive instructions specialize)."""
    overdrive.disable()
    for _ in range(n):
        f(*args)


class Shadowable:
    def __init__(self):
        self.v = 1

    def get(self):
        return self.v


def call_get(objs):
    r = []
    for o in objs:
        r.append(o.get())
    return r


def _shadow(self_unused=None):
    return "instance attribute"


def test_interpreter_specialization_is_the_feedback_when_tier_1_never_ran():
    def norm(p):
        return p.x + p.y
    interpreted(norm, Point(1, 2))
    text = _overdrive._tier2_hir(norm, ["attrs"])[-1][1]
    assert "LoadInstanceValue x values[0]" in text and "LoadAttr" not in text
    interpreted(call_get, [Shadowable()])
    text = _overdrive._tier2_hir(call_get, ["attrs"])[-1][1]
    assert "GuardSharedKeys keys_version=" in text and "LoadTypeMethod get" in text


def test_a_method_shadowed_by_a_new_instance_attribute_deopts():
    fresh = {}

    def new_class():            # shadowing adds a key to the class's shared keys for good
        class Shadowed(Shadowable):
            pass
        fresh["cls"] = Shadowed

    def plain():
        return ([fresh["cls"]() for _ in range(3)],)

    def shadowing():
        objs = [fresh["cls"]() for _ in range(6)]
        objs[4].get = _shadow               # a new name in the shared keys
        return (objs,)
    info = run_t2(call_get, plain, shadowing, shadowing, setup=new_class)
    assert attr_exits(info) >= 1


def test_guards_from_the_interpreter_s_feedback_deopt_too():
    class Shadowed(Shadowable):
        pass

    def call_get(objs):         # a fresh code object: no tier-1 unit, no site
        r = []
        for o in objs:
            r.append(o.get())
        return r
    interpreted(call_get, [Shadowed()])
    assert "keys_version=" in _overdrive._tier2_hir(call_get, ["attrs"])[-1][1]
    objs = [Shadowed() for _ in range(6)]
    objs[4].get = _shadow
    overdrive.enable(threshold=0, tier2_threshold=0)    # tier 2 at once: tier 1 never ran
    try:
        got = call_get(objs)
        info = overdrive.info(call_get)
    finally:
        overdrive.disable()
    assert got == [1, 1, 1, 1, "instance attribute", 1]
    assert info["tier2"]["compiles"] >= 1 and attr_exits(info) >= 1


# ---- generic sites: tier 2's own inline caches (rt/attr.c) ----------------------------------



def fresh_copy(f):
    """f on a code object of its own: tier 2's state lives on the code object, and the
    functions above were compiled by other tests."""
    import types
    return types.FunctionType(f.__code__.replace(co_name=f.__code__.co_name), f.__globals__)


def run_generic(f, warm, *calls):
    """Each call's outcome interpreted, then in tier 2 after `warm` ran three times (tier 1
    fills its sites, tier 2 compiles, its own sites fill: callees too)." Returns (info(f), the generic_attr counts the tier-2
    calls added, every reason present): the caller asserts which sites stayed generic, why,
    and what they missed."""
    f = fresh_copy(f)
    overdrive.disable()
    expected = [outcome(f, a() if callable(a) else a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):              # tier 1; tier 2 compiled; its sites filled
            outcome(f, warm)
        assert overdrive.info(f)["tier"] == 2
        # read in this frame, which started interpreted and stays so: no attribute site
        # of Python code between the two readings but f's
        t2 = _overdrive.stats()["tier2"]
        frames, before = t2["frames"], t2["generic_attr"]
        got = [outcome(f, a() if callable(a) else a) for a in calls]
        t2 = _overdrive.stats()["tier2"]
        ran, after = t2["frames"] - frames, t2["generic_attr"]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert got == expected
    assert ran >= len(calls), "tier-2 code did not run"
    import collections
    return info, collections.Counter({k: after.get(k, 0) - before.get(k, 0) for k in after})


class Third:
    def __init__(self, x):
        self.x = x


class Fourth(Third):
    pass


class Fifth(Third):
    pass


def test_a_polymorphic_site_hits_its_own_entries():
    objs = [Point(1, 2), Other(3, 4), Third(5)] * 20
    info, d = run_generic(read_x, (objs,), (objs,), (objs,))
    assert info["tier2"]["exits"] == {}
    assert d["polymorphic"] == 2 * len(objs)
    assert d["misses"] == 0                 # tier 2's site filled at the warm-up


def test_a_new_type_at_a_polymorphic_site_mid_loop_is_a_miss_not_a_deopt():
    objs = [Point(1, 2), Other(3, 4)] * 10
    mixed = objs[:7] + [Fourth(9)] + objs[7:] + [Fifth(10)]
    info, d = run_generic(read_x, (objs,), (mixed,), (mixed,))
    assert info["tier2"]["exits"] == {} and info["tier"] == 2
    assert d["polymorphic"] == 2 * len(mixed)
    assert d["misses"] == 2                 # each new type once, then it has an entry


def test_a_megamorphic_site_stays_correct():
    classes = [type(f"K{i}", (Third,), {}) for i in range(9)]
    objs = [c(i) for i, c in enumerate(classes)] * 5
    info, d = run_generic(read_x, (objs[:4],), (objs,), (objs[::-1],))
    assert d["polymorphic"] == 2 * len(objs) and d["misses"] > 0
    assert info["tier2"]["exits"] == {}


def read_mod(m, n, rebind_at):
    t = 0
    for i in range(n):
        if i == rebind_at:
            m.val = 100
        t += m.val
    return t


def test_a_module_attribute_rebound_mid_loop():
    import types
    m = types.ModuleType("mod_for_tier2")

    def fresh():
        setattr(m, "val", 1)        # not an attribute site: fresh() may run in tier 2 too
        return (m, 20, 10)
    info, d = run_generic(read_mod, (m, 3, -1), fresh, fresh)
    assert info["tier2"]["exits"] == {}
    assert d["module"] == 2 * 20            # the loads; the store is a module site too
    # per run: the first load (fresh() rebound m.val: a new dict version), the store (no
    # entry kind stores into a module) and the load after it
    assert d["misses"] == 2 * 3


class Consts:
    SCALE = 3

    def __init__(self, v):
        self.v = v

    def scaled(self):
        return self.v * self.SCALE

    @staticmethod
    def twice(x):
        return 2 * x


def class_reads(objs, rebind_at):
    t = 0
    for i, o in enumerate(objs):
        if i == rebind_at:
            Consts.SCALE = 5            # a class attribute rebound: a new type version
        t += Consts.SCALE + o.SCALE     # (an o.v here would deopt: its guard is the
    return t                            # type's version, which the rebinding changes)


def test_class_attributes_rebound_mid_loop():
    objs = [Consts(i) for i in range(12)]

    def fresh():
        Consts.SCALE = 3
        return (objs, 6)
    try:
        info, d = run_generic(class_reads, (objs[:2], -1), fresh, fresh)
    finally:
        Consts.SCALE = 3
    assert info["tier2"]["exits"] == {}
    assert d["class"] == 2 * 12 and d["method_as_attr"] == 2 * 12
    assert d["misses"] >= 2 * 2             # each site once per rebind


def _neg(x):
    return -x


def call_twice(objs, patch_at):
    r = []
    for i, o in enumerate(objs):
        if i == patch_at:
            Consts.twice = staticmethod(_neg)
        r.append(Consts.twice(o))
    return r


def test_a_class_method_patched_mid_loop():
    original = Consts.__dict__["twice"]

    def fresh():
        setattr(Consts, "twice", original)  # not an attribute site: fresh() may be tier 2 too
        return (list(range(10)), 4)
    try:
        info, d = run_generic(call_twice, (list(range(3)), -1), fresh, fresh)
    finally:
        Consts.twice = original
    assert info["tier2"]["exits"] == {}
    # per run: the first load (fresh() patched the class), the store (a class's attribute
    # is not stored through an entry) and the load after it
    assert d["class"] == 2 * 10 and d["misses"] == 2 * 3, d


class WithDict:
    def __init__(self, a):
        self.a = a
        self.__dict__["b"] = a + 1      # a materialized __dict__: no inline values

    def total(self):
        return self.a + self.b


def dict_reads(objs):
    t = 0
    for o in objs:
        o.c = o.a + 1               # (idempotent: the same objects run in both tiers)
        t += o.total() + o.c
    return t


def test_instance_dict_sites():
    def objs():
        return ([WithDict(i) for i in range(10)],)
    info, d = run_generic(dict_reads, objs(), objs(), objs())   # built before: __init__ has
                                                                # sites of its own
    assert info["tier2"]["exits"] == {}
    assert d["dict"] == 2 * 10 * 5 and d["method_with_dict"] == 2 * 10
    assert d["misses"] == 0


class DictHinted:
    def __init__(self, first, a, b):
        # a dict of its own, not sharing the class's keys: "b" at index 1, or 0
        self.__dict__ = {"a": a, "b": b} if first == "a" else {"b": b, "a": a}


def read_b(objs):
    r = []
    for o in objs:
        r.append(o.b)
    return r


class DictHintedToo(DictHinted):
    pass


def test_instance_dict_hints_checked_on_every_hit():
    """At a polymorphic site (the generic road: a monomorphic one is speculated on,
    test_tier2_dict_attrs.py)."""
    def args():
        objs = [DictHinted("a", i, 10 * i) for i in range(8)]
        objs[3] = DictHinted("b", 3, 30)    # "b" at another index of its dict
        del objs[6].__dict__["a"]           # entries before "b" removed: its index holds
        return (objs,)

    def deleted():
        objs = args()[0]
        del objs[5].b                       # a deleted entry: AttributeError
        return (objs,)
    warm = ([DictHinted("a", i, i) for i in range(4)] + [DictHintedToo("a", 9, 9)],)
    # built before the run: __init__ has generic sites of its own
    info, d = run_generic(read_b, warm, args(), deleted(), args())
    assert info["tier2"]["exits"] == {"ERROR": 1}
    assert d["polymorphic"] == 8 + 6 + 8
    # per run: objs[3] (the other index: its type's one entry refilled) and objs[4] (back
    # again); the second run stops at the deleted entry, which misses too
    assert d["misses"] == 2 + 3 + 2


def test_generic_sites_raise_as_the_interpreter_does():
    def get_zz(objs):
        return [o.zz for o in objs]

    def read_all(objs):
        r = []
        for o in objs:
            r.append(o.x)
        return r
    objs = [Point(1, 2), Other(3, 4), object()]
    run_generic(read_all, (objs[:2],), (objs,), (objs[:2],))


def set_x(objs, v):
    r = []
    for o in objs:
        o.x = v
        r.append(o.x)
    return r


def test_polymorphic_stores_and_their_references():
    big = 10 ** 40
    objs = [Point(1, 2), Other(3, 4), SlotX(), Third(5)]
    before = sys.getrefcount(big)
    info, d = run_generic(set_x, (objs, 0), (objs, big), (objs, 7), (objs, big))
    assert info["tier2"]["exits"] == {}
    assert d["polymorphic"] == 3 * 2 * len(objs) and d["misses"] == 0
    assert sys.getrefcount(big) == before + len(objs)   # each object holds one
    set_x(objs, 0)
    assert sys.getrefcount(big) == before


def test_polymorphic_loads_of_deleted_attributes_raise_as_the_interpreter_does():
    def args():
        objs = [Point(1, 2), Other(3, 4), SlotX(), Third(5)]
        del objs[1].x
        return (objs,)

    def args_slot():
        objs = [Point(1, 2), Other(3, 4), SlotX(), Third(5)]
        del objs[2].x
        return (objs,)
    good = ([Point(1, 2), Other(3, 4), SlotX(), Third(5)],)
    info, d = run_generic(read_x, good, args, args_slot, good)
    assert info["tier2"]["exits"] == {"ERROR": 2}          # raised, not deopted
    assert d["misses"] == 2                 # the NULLs: the runtime raises


def test_generic_sites_leak_nothing():
    import types
    m = types.ModuleType("mod_for_leaks")
    m.val = 1
    objs = [Point(1, 2), Other(3, 4), Third(5)]
    cases = [(fresh_copy(read_x), (objs,)), (read_mod, (m, 5, 2)), (class_reads, ([Consts(1)] * 3, -1)),
             (dict_reads, ([WithDict(1), WithDict(2)],)), (call_twice, ([1, 2], -1)),
             (fresh_copy(set_x), ([Point(1, 2), SlotX(), Third(3)], 10 ** 30))]
    grown, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=1)
    assert grown < 100, grown
    assert tiers.count(2) == len(cases), tiers


# ---- prev_instr set on the generic site's slow path only (CallH `prev`) ------------------

class _PlainX:
    def __init__(self):
        self.x = -1                     # an inline value: the site's hit, in line


class _PropertyX:
    @property
    def x(self):
        """The caller's line, relative to its first: what the interpreter's prev_instr says."""
        return sys._getframe(1).f_lineno - reads_x_lines.__code__.co_firstlineno


def reads_x_lines(objs):
    out = []
    for o in objs:
        a = o.x                         # generic (two classes): the property runs here
        out.append(a)
    b = objs[-1].x                      # and here, two lines further
    out.append(b)
    return out


def test_code_run_by_a_generic_site_sees_its_line():
    """A generic LoadAttr sets prev_instr on its helper's road only (an in-line hit runs no
    Python code): a property run through the helper still finds the line it is read at."""
    objs = [_PlainX(), _PropertyX(), _PlainX(), _PropertyX()]
    info, counts = run_generic(reads_x_lines, ([_PlainX(), _PropertyX()],), (objs,))
    assert info["tier"] == 2 and counts["polymorphic"] >= 4, (info, counts)
    text = overdrive.dis_text(reads_x_lines, tier=2)
    assert re.search(r"CallH .*'x' prev \d+", text), text


class Noisy:
    log: list = []

    def __init__(self, n):
        self.n = n

    def __del__(self):
        Noisy.log.append(("freed", self.n))


def replace_x(objs, n):
    log = Noisy.log = []
    for o in objs:
        o.x = Noisy(n)
        log.append(("stored", n))
    return log


def test_polymorphic_stores_that_free_the_old_value_run_its_finalizer_in_place():
    """A store whose old value's last reference is the object's goes to the helper (the
    in-line store only takes hits that free nothing): the finalizer runs during the store,
    before the next line, as in the interpreter."""
    def objects():
        return [Point(1, 2), Other(3, 4), SlotX(), Third(5)]

    def holding_noisy():
        objs = objects()
        for o in objs:
            o.x = Noisy(-1)         # held by the object alone
        return (objs, 1)
    info, d = run_generic(replace_x, (objects(), 0), holding_noisy, holding_noisy,
                          lambda: (objects(), 3))
    assert info["tier2"]["exits"] == {}     # the order of "freed" and "stored" compared above


def set_x_twice(objs, v):
    for o in objs:
        o.x = v
        o.x = v            # over itself: the old value is the new one
    return [sys.getrefcount(o.x) > 2 for o in objs]


def test_in_line_store_of_the_value_it_replaces():
    objs = [Point(1, 2), Other(3, 4), SlotX(), Third(5)]
    info, d = run_generic(set_x_twice, (objs, 0), (objs, object()), (objs, 2.5))
    assert info["tier2"]["exits"] == {}
    assert d["inline"] >= 2 * len(objs)


class Shape:
    def __init__(self, a, b):
        self.a = a
        self.b = b


class Square(Shape):
    pass


class Circle(Shape):
    pass


def _identity(x):
    return x


def three_sites_on_self(self):
    # three accesses to self, each after a call (a barrier: three guards of self)
    t = _identity(self.a)
    t = _identity(t + self.b)
    return _identity(t + self.a * self.b)


def test_a_receiver_whose_guard_kept_failing_is_generic_at_every_access():
    """Tier 2 speculates on Square (the first receivers), then meets Circles: the first
    guard of self fails until that access goes to no_speculate, and the recompilation
    leaves every access to self generic, not only that one (before, the second and third
    guards failed next, a storm and a recompilation each, and after four compiles the
    function went back to tier 1 for good)."""
    squares = [Square(i, 2) for i in range(8)]
    mixed = [Square(i, 2) if i % 2 else Circle(i, 3) for i in range(400)]
    overdrive.disable()
    expected = [three_sites_on_self(o) for o in squares * 3 + mixed]
    got = []
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for o in squares * 3:
            got.append(three_sites_on_self(o))
        assert overdrive.info(three_sites_on_self)["tier"] == 2     # speculating on Square
        for o in mixed:
            got.append(three_sites_on_self(o))
        info = overdrive.info(three_sites_on_self)
        stats = overdrive.stats()["tier2"]
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier"] == 2 and not info["tier2"]["off"], info
    assert info["tier2"]["compiles"] == 2, info["tier2"]
    places = {p[0] for p in info["tier2"]["exit_places"]}
    assert len(places) == 1, info["tier2"]["exit_places"]
    assert stats["generic_attr"].get("no_speculate", 0) > 0
