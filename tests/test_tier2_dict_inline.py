"""Tier 2's generic attribute sites on instances with a materialized __dict__, in line
(lir/codegen.c; docs/tier2.md "Tier 2: attributes of instances with a dict (branch
h-t2attr)"):

* a StoreAttr over an existing entry of the instance dict (DICT_HINT: what the
  interpreter's STORE_ATTR_WITH_HINT does) stores in place, in line or in od_t2_store_attr,
  and gives the dict a new version tag (rt/attr.h od_t2_dict_version);
* a LoadMethod of a method whose instance has a dict (METHOD_WITH_DICT) probes the dict's
  index table in line for the name.

Each compares results (and the objects' state) with the interpreter and asserts that the
tier-2 road ran (`stats()["tier2"]["generic_attr"]["inline"]`)."""
import gc
import types

import pytest

import _overdrive
import overdrive
from conftest import allocated_blocks_growth, outcome


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def fresh(f):
    """f on a code object of its own (tier 2's state lives on the code object)."""
    return types.FunctionType(f.__code__.replace(co_name=f.__code__.co_name), f.__globals__,
                              None, None, f.__closure__)


def tier2_against_interpreter(f, warm, make_args, runs=1):
    """f(*make_args()) `runs` times in the interpreter (on a copy of f), then f warmed by
    the interpreter on `warm` (its attribute instructions specialize) and run again at tier 2
    (compiled at its first call). Asserts equal outcomes and that tier 2 ran f; returns the
    difference of stats()["tier2"]["generic_attr"] and info(f)."""
    other = fresh(f)
    overdrive.disable()
    expected = [outcome(other, make_args()) for _ in range(runs)]
    for _ in range(30):
        f(*warm())
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        before = dict(_overdrive.stats()["tier2"]["generic_attr"])
        frames = _overdrive.stats()["tier2"]["frames"]
        got = [outcome(f, make_args()) for _ in range(runs)]
        after = _overdrive.stats()["tier2"]["generic_attr"]
        frames = _overdrive.stats()["tier2"]["frames"] - frames
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier2"]["compiles"] >= 1 and frames >= runs, info
    return {k: after[k] - before.get(k, 0) for k in after}, info


class Square:
    """go's Squares: attributes set outside __init__ in varying orders, so the instances'
    dicts are materialized combined dicts of their own."""

    def __init__(self, pos):
        self.__dict__ = {"pos": pos, "color": 0, "ledges": 0}

    def find(self):
        return self.pos


def bump(objs, n):
    for _ in range(n):
        for o in objs:
            o.ledges = o.ledges + 1
            o.color = o.pos
    return [vars(o) for o in objs]


def test_dict_stores_run_in_line():
    f = fresh(bump)
    d, info = tier2_against_interpreter(
        f, lambda: ([Square(1)], 1), lambda: ([Square(i) for i in range(8)], 20))
    # two stores an iteration, 160 iterations: in line (the loads are LoadDictHint)
    assert d["inline"] >= 2 * 160 - 8, d
    assert info["tier2"]["exits"] == {}, info


def test_dict_stores_keep_gc_tracking_as_the_interpreter_does():
    class Plain:
        def __init__(self):
            self.__dict__ = {"a": 1}        # only atomic values: the dict is untracked

    def store(objs, v):
        for o in objs:
            o.a = v
        return [gc.is_tracked(vars(o)) for o in objs]
    f = fresh(store)
    d, _ = tier2_against_interpreter(f, lambda: ([Plain()], 2),
                                     lambda: ([Plain() for _ in range(5)], 5))
    assert d["inline"] == 4, d          # an int: the dict stays untracked, in line
    f = fresh(store)
    d, _ = tier2_against_interpreter(f, lambda: ([Plain()], 2),
                                     lambda: ([Plain() for _ in range(5)], [1]))
    assert d["inline"] == 0, d          # a list: the helper tracks each dict


def test_dict_store_gives_a_new_version_to_a_dict_used_as_globals():
    """A dict that is an instance's __dict__ and a function's globals: a store through the
    instance must be seen by the function's global loads, compiled at either tier (their
    caches compare the dict's version tag)."""
    class Holder:
        pass

    def make():
        h = Holder()
        h.__dict__ = {"x": 0, "pad": [1]}
        read = types.FunctionType(compile("def read():\n    return x\n", "<g>", "exec")
                                  .co_consts[0], h.__dict__)
        return h, read

    def store_and_read(h, read, n):
        r = []
        for k in range(n):
            h.x = k
            r.append(read())
        return r
    f = fresh(store_and_read)
    d, _ = tier2_against_interpreter(f, lambda: (*make(), 3), lambda: (*make(), 60))
    assert d["inline"] >= 50, d


def test_dict_attribute_added_and_deleted_mid_loop():
    def churn(objs):
        r = []
        for k, o in enumerate(objs):
            if k == 3:
                o.extra = 1                 # a new key: the dict's own insert
            if k == 5:
                delattr(objs[4], "ledges")  # a deleted entry: the helper adds it again
                #                             (a call: tier 2 refuses DELETE_ATTR)
            o.ledges = k
            objs[4].ledges = -k
            r.append(sorted(vars(o).items()))
        return r, [sorted(vars(o).items()) for o in objs]
    f = fresh(churn)
    d, _ = tier2_against_interpreter(f, lambda: ([Square(1) for _ in range(6)],),
                                     lambda: ([Square(i) for i in range(8)],), runs=2)
    assert d["inline"] >= 8, d


def test_dict_from_vars_and_non_str_keys():
    class Slotted:
        def __init__(self, i):
            self.a = i
            self.b = i

    def touch(objs):
        r = []
        for k, o in enumerate(objs):
            if k == 1:
                vars(o)                     # materialized from the inline values (split)
            if k == 2:
                o.__dict__[7] = "seven"     # a key that is not a str: a general dict
            if k == 3:
                o.__dict__ = {"b": 0, "a": 0}   # a combined dict, another order
            o.a = o.b + 1
            o.b = k
            r.append((o.a, o.b, sorted(map(str, vars(o)))))
        return r
    f = fresh(touch)
    tier2_against_interpreter(f, lambda: ([Slotted(0) for _ in range(2)],),
                              lambda: ([Slotted(i) for i in range(6)],), runs=2)
    f2 = fresh(bump)

    def with_general_keys():
        objs = [Square(i) for i in range(6)]
        objs[2].__dict__[("not", "str")] = 1
        return objs, 3
    d, _ = tier2_against_interpreter(f2, lambda: ([Square(1)], 1), with_general_keys)


def test_a_data_descriptor_added_to_the_class_mid_loop_wins():
    class Patched(Square):
        pass

    def unpatch():
        if "color" in Patched.__dict__:
            delattr(Patched, "color")

    seen = []

    def store(objs, patch):
        unpatch()
        seen.clear()
        for k, o in enumerate(objs):
            if k == patch:
                Patched.color = property(lambda self: "property",
                                         lambda self, v: seen.append(v))
            o.color = k
        return [o.__dict__["color"] for o in objs], len(seen)
    f = fresh(store)
    tier2_against_interpreter(f, lambda: ([Patched(1)], -1),
                              lambda: ([Patched(i) for i in range(6)], 3), runs=2)
    unpatch()


def call_find(objs):
    r = []
    for o in objs:
        r.append(o.find())
    return r


def test_methods_of_instances_with_a_dict_run_in_line():
    f = fresh(call_find)
    d, info = tier2_against_interpreter(f, lambda: ([Square(1)],),
                                        lambda: ([Square(i) for i in range(40)],))
    assert d["inline"] >= 40 - 1, d     # the first fills the site's entry
    assert info["tier2"]["exits"] == {}, info


def test_a_key_shadowing_the_method_added_mid_loop():
    def shadow(objs):
        r = []
        for k, o in enumerate(objs):
            if k == 3:
                objs[5].find = lambda: "instance attribute"
            if k == 4:
                vars(objs[6])["find"] = lambda: "through vars"
            r.append(o.find())
        return r
    f = fresh(shadow)
    d, _ = tier2_against_interpreter(f, lambda: ([Square(1)],),
                                     lambda: ([Square(i) for i in range(9)],), runs=2)
    assert d["inline"] >= 2 * 7 - 1, d  # not the shadowed two, nor the first (a fill)


def test_method_probes_past_many_keys_and_big_dicts():
    def crowd(n):
        objs = [Square(i) for i in range(6)]
        for k, o in enumerate(objs):
            for j in range(n * k):
                setattr(o, "k%d" % j, j)    # collisions, then 2-byte indices (>128 slots)
        return (objs,)
    f = fresh(call_find)
    tier2_against_interpreter(f, lambda: ([Square(1)],), lambda: crowd(3))
    tier2_against_interpreter(f, lambda: ([Square(1)],), lambda: crowd(30))


def test_a_method_patched_on_the_class_and_class_assigned_mid_loop():
    class A(Square):
        pass

    class B(Square):
        def find(self):
            return ("B", self.pos)

    def patch(objs):
        r = []
        A.find = Square.find
        for k, o in enumerate(objs):
            if k == 2:
                A.find = lambda self: ("patched", self.pos)
            if k == 4:
                objs[5].__class__ = B
            r.append(o.find())
            o.color = k                     # a store over the dict entry of a new class
        return r, [vars(o)["color"] for o in objs]
    f = fresh(patch)
    tier2_against_interpreter(f, lambda: ([A(1)],), lambda: ([A(i) for i in range(8)],), runs=2)


def test_dict_stores_and_methods_leak_nothing():
    f, g = fresh(bump), fresh(call_find)
    objs = [Square(i) for i in range(5)]
    overdrive.disable()
    for _ in range(30):
        f(objs, 1)
        g(objs)
    grown, tiers = allocated_blocks_growth([(f, (objs, 2)), (g, (objs,))],
                                           threshold=0, tier2_threshold=0)
    assert grown < 100, grown
    assert tiers == [2, 2]
