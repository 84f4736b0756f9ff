"""Tier 2's roads for attributes in instance dicts and for globals past their versions:

* `LoadDictHint` (passes/attrs.c): a LOAD_ATTR whose feedback (tier 1's site, or the
  interpreter's LOAD_ATTR_WITH_HINT) names an entry of the instance's own dict becomes
  `GuardTypeVersion; LoadDictHint`, read in line (LIR `LoadDictEntry`), deopting when the
  entry is not where the hint says;
* the inline hit path of a generic LoadAttr's site (lir/codegen.c, attr_load_inline):
  counted in `stats()["tier2"]["generic_attr"]["inline"]`;
* the global loads' sites (rt/helpers.c od_t2_load_global): counted in
  `stats()["tier2"]["global_loads"]`.

Each compares results, exceptions and tracebacks with the interpreter and asserts that the
tier-2 road ran."""
import sys

import pytest

import _overdrive
import overdrive
from conftest import allocated_blocks_growth, outcome, outcome_with_traceback


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


@pytest.fixture
def site_entries_only():
    """The generic sites' own entries alone: tier 2 otherwise tests the receiver types tier
    1's site met in line before them (rt/attr.h ways; tests/test_tier2_attr_ways.py), and
    those would take the hits these tests count."""
    before = _overdrive._t2_attr_ways(False)
    yield
    _overdrive._t2_attr_ways(before)


class Big:
    """Instances whose __dict__ is a combined dict of their own, as go's Squares' are
    (a split one, materialized from the inline values, makes LOAD_ATTR_WITH_HINT miss)."""

    def __init__(self, i):
        self.__dict__ = {"a": i, "b": 10 * i}


def read_b(objs):
    t = 0
    for o in objs:
        t = t + o.b
    return t


def collect_b(objs):
    r = []
    for o in objs:             # a loop, not a comprehension: in f's own code
        r.append(o.b)
    return r


def fresh(f):
    """f on a code object of its own (tier 2's state lives on the code object)."""
    import types
    return types.FunctionType(f.__code__.replace(co_name=f.__code__.co_name), f.__globals__,
                              None, None, f.__closure__)


def interpreted(f, *args, n=30):
    overdrive.disable()
    for _ in range(n):
        f(*args)


def interpreted_then_tier2(f, run, *warm_args):
    """run() in the interpreter, then again with f warmed by the interpreter (on warm_args)
    and compiled by tier 2 at its next call: (the interpreter's result, tier 2's, info(f))."""
    overdrive.disable()
    expected = run()
    interpreted(f, *warm_args)
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        got = run()
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    return expected, got, info


def run_tier2(f, warm_args, *calls, tb=False):
    """f warmed by the interpreter only (its LOAD_ATTRs specialize), then each call in the
    interpreter and at tier 2 (compiled at its first call): (outcomes equal asserted),
    info(f), the tier-2 frames run and the stats' difference."""
    run = outcome_with_traceback if tb else outcome
    # the interpreter's outcomes on a copy: its misses would spoil f's specialization
    other = fresh(f)
    expected = [run(other, a() if callable(a) else a) for a in calls]
    interpreted(f, *warm_args)
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        before = _overdrive.stats()["tier2"]
        got = [run(f, a() if callable(a) else a) for a in calls]
        after = _overdrive.stats()["tier2"]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier2"]["compiles"] >= 1, info
    return info, after["frames"] - before["frames"], before, after


def test_hinted_loads_become_load_dict_hint():
    f = fresh(read_b)
    interpreted(f, [Big(i) for i in range(5)])
    text = _overdrive._tier2_hir(f, ["attrs"])[-1][1]
    assert "LoadDictHint b dict[1]" in text and "LoadAttr" not in text, text
    assert "GuardTypeVersion" in text


def test_hinted_loads_run_in_line_without_exits_or_helpers():
    f = fresh(read_b)
    objs = [Big(i) for i in range(50)]
    info, frames, before, after = run_tier2(f, ([Big(1)],), (objs,), (objs[:3],), ([],))
    assert frames >= 3 and info["tier2"]["exits"] == {}
    assert after["generic_attr"].get("dict", 0) == before["generic_attr"].get("dict", 0)
    assert "LoadDictEntry" in _overdrive._tier2_lir(f)


def test_an_entry_at_another_index_deopts():
    class Two:
        def __init__(self, first):
            self.__dict__ = {"b": 2, "a": 1} if first else {"a": 1, "b": 2}

    f = fresh(collect_b)

    def objs():
        r = [Two(False) for _ in range(6)]
        r[3] = Two(True)            # "b" at index 0, the hint says 1
        return (r,)
    info, frames, _, _ = run_tier2(f, ([Two(False)],), objs, objs)
    assert frames >= 2
    assert set(info["tier2"]["exits"]) == {"GUARD_ATTR"}, info


def test_a_deleted_entry_raises_as_the_interpreter_does():
    f = fresh(collect_b)

    def objs():
        r = [Big(i) for i in range(4)]
        del r[2].b
        return (r,)
    info, frames, _, _ = run_tier2(f, ([Big(1)],), objs, tb=True)
    assert frames >= 1 and info["tier2"]["exits"].get("GUARD_ATTR", 0) >= 1


def test_a_class_attribute_behind_a_deleted_entry():
    class WithDefault(Big):
        b = "class"

    f = fresh(collect_b)

    def objs():
        r = [WithDefault(i) for i in range(4)]
        del r[1].b                  # the class attribute shows through
        return (r,)
    info, frames, _, _ = run_tier2(f, ([WithDefault(1)],), objs)
    assert frames >= 1 and info["tier2"]["exits"].get("GUARD_ATTR", 0) >= 1


def test_a_property_added_to_the_class_mid_run_wins():
    class Patched(Big):
        pass

    def unpatch():
        if "b" in Patched.__dict__:
            del Patched.b                   # (DELETE_ATTR: tier 2 refuses its function)

    def read(objs, patch):
        unpatch()                           # each run (and the warm-up) starts unpatched
        r = []
        for k, o in enumerate(objs):
            if k == patch:
                Patched.b = property(lambda self: "property")
            r.append(o.b)
        return r
    f = fresh(read)

    def args():
        return ([Patched(i) for i in range(4)], 2)
    info, frames, _, _ = run_tier2(f, ([Patched(1)], -1), args, args)
    assert frames >= 2 and info["tier2"]["exits"].get("GUARD_ATTR", 0) >= 1


@pytest.mark.skipif(hasattr(sys, "gettotalrefcount"),
                    reason="CPython 3.11's debug build asserts an exact dict in its own "
                    "LOAD_ATTR_WITH_HINT, where the deopt continues: stock python3.11-dbg "
                    "aborts on this program without overdrive")
def test_a_dict_subclass_as_the_instance_dict_deopts():
    class D(dict):
        pass

    f = fresh(collect_b)

    def objs():
        r = [Big(i) for i in range(3)]
        r[1].__dict__ = D(a=1, b="subclass")   # same keys, another type
        return (r,)
    info, frames, _, _ = run_tier2(f, ([Big(1)],), objs)
    assert frames >= 1 and info["tier2"]["exits"].get("GUARD_ATTR", 0) >= 1


def test_dict_hint_loads_leak_nothing():
    f = fresh(read_b)
    interpreted(f, [Big(1)])
    objs = [Big(i) for i in range(5)]
    grown, tiers = allocated_blocks_growth([(f, (objs,))], threshold=0, tier2_threshold=0)
    assert grown < 100, grown
    assert tiers == [2]


# ---- the inline hit path of a generic site ------------------------------------------------

class P:
    def __init__(self, x):
        self.x = x


class Q:
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x


class BigX:
    def __init__(self, x):
        self.__dict__ = {"x": x}


class R(BigX):
    x = property(lambda self: "property")     # a data descriptor: the dict's x is hidden


def read_x(objs):
    r = []
    for o in objs:
        r.append(o.x)
    return r


@pytest.mark.parametrize("first", [P(1), Q(2), BigX(3)], ids=["values", "slot", "dict"])
@pytest.mark.usefixtures("site_entries_only")
def test_generic_site_first_entry_is_read_in_line(first):
    f = fresh(read_x)
    others = [P(7), Q(8), BigX(9), R(1)]
    # a polymorphic warm-up: the site stays generic; its first entry is `first`'s type
    objs = [first] * 5 + others
    overdrive.disable()
    expected = outcome(f, (objs,))
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        f([first] + others)         # tier 1 fills its site: polymorphic
        f([first])                  # tier 2 compiled; its own site's entry 0 is first's
        assert overdrive.info(f)["tier"] == 2
        before = _overdrive.stats()["tier2"]["generic_attr"]
        got = outcome(f, (objs,))
        after = _overdrive.stats()["tier2"]["generic_attr"]
    finally:
        overdrive.disable()
    assert got == expected
    assert after["polymorphic"] - before.get("polymorphic", 0) == len(objs)
    # first's five, and the one of its type among the others; the rest through the helper,
    # which fills the site's other entries
    assert after["inline"] - before["inline"] == 6
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        before = _overdrive.stats()["tier2"]["generic_attr"]
        got = outcome(f, (objs,))
        after = _overdrive.stats()["tier2"]["generic_attr"]
    finally:
        overdrive.disable()
    assert got == expected
    # now every entry in line (entries 1.. too) but R's property
    assert after["inline"] - before["inline"] == len(objs) - 1


def test_generic_site_deleted_attributes_take_the_helper():
    f = fresh(read_x)
    objs = [P(1), Q(2)]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            f(objs)
        gone = P(5)
        del gone.x
        got = outcome(f, ([P(1), gone],))
        slot = Q(3)
        del slot.x
        got2 = outcome(f, ([slot],))
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    overdrive.disable()
    assert got == outcome(f, ([P(1), gone],)) and got[0] == "raise"
    assert got2 == outcome(f, ([slot],)) and got2[0] == "raise"
    assert info["tier"] == 2 and info["tier2"]["exits"] == {"ERROR": 2}


# ---- global loads' sites --------------------------------------------------------------------

COUNT = 0
ANSWER = 42


def bump_and_read(n):
    global COUNT
    t = 0
    for _ in range(n):
        COUNT += 1              # the globals' version changes at every write
        t = t + ANSWER + len("ab")
    return t


def test_global_loads_past_their_version_use_the_site():
    f = fresh(bump_and_read)
    overdrive.disable()
    expected = outcome(f, (100,))
    interpreted(f, 3)
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        before = _overdrive.stats()["tier2"]["global_loads"]
        got = outcome(f, (100,))
        after = _overdrive.stats()["tier2"]["global_loads"]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert got == expected and info["tier"] == 2 and info["tier2"]["exits"] == {}
    d = {k: after[k] - before[k] for k in after}
    # COUNT (load before the store), ANSWER by the index; len by the builtin (each load
    # after the first of each name)
    assert d["globals_index"] >= 2 * 98 and d["builtin"] >= 98, d


def shadow_len(n):
    r = []
    for _ in range(n):
        r.append(len("abc"))
    return r


def test_a_builtin_shadowed_by_a_new_global_mid_run():
    f = fresh(shadow_len)
    g = f.__globals__

    def run():
        r = []
        for k in range(6):
            if k == 3:
                g["len"] = lambda s: "global"
            r.append(f(2))
            g["COUNT"] = k      # the globals' version moves on
        g.pop("len", None)
        return r
    expected, got, info = interpreted_then_tier2(f, run, 1)
    assert got == expected and info["tier"] == 2


def test_a_global_deleted_and_rebound_mid_run():
    f = fresh(bump_and_read)
    g = f.__globals__

    def run():
        r = []
        for k in range(5):
            r.append(outcome(f, (3,)))
            if k == 1:
                del g["ANSWER"]
            if k == 3:
                g["ANSWER"] = 7
        g["ANSWER"] = 42
        return r
    expected, got, info = interpreted_then_tier2(f, run, 1)
    assert expected[2][0] == "raise"    # NameError
    assert got == expected and info["tier"] == 2


def test_global_sites_leak_nothing():
    f = fresh(bump_and_read)
    grown, tiers = allocated_blocks_growth([(f, (20,))], threshold=0, tier2_threshold=0)
    assert grown < 100, grown
    assert tiers == [2]




# ---- the inline hit path of a generic LoadMethod ---------------------------------------------

def method_classes():
    """Fresh classes each time: a shadowing instance attribute grows its class's shared keys
    for good."""
    class M0:
        def __init__(self):
            self.v = 0

        def get(self):
            return "M0"         # (no attribute read: only call_get's sites are counted)

    class M1(M0):
        def get(self):
            return "M1"

    class M2(M0):
        pass

    class MSlots:
        __slots__ = ()

        def get(self):
            return "slots"
    return (M0, M1, M2, MSlots)


def call_get(objs):
    r = []
    for o in objs:
        r.append(o.get())
    return r


def _instance_get():
    return "instance attribute"


@pytest.mark.usefixtures("site_entries_only")
def test_generic_method_sites_hit_in_line_and_shadowing_is_seen():
    f = fresh(call_get)

    def runs(classes):
        objs = [cls() for cls in classes * 3]
        shadowed = [cls() for cls in classes * 3]
        # a new name in M1's shared keys, on the first M1 the run meets (its site's entry
        # still says the keys lacked it): shadowed[5], shadowed[9] not shadowed
        shadowed[1].get = _instance_get
        return [(objs,), (shadowed,), (objs,)]
    overdrive.disable()
    expected = [outcome(f, a) for a in runs(method_classes())]
    classes = method_classes()
    warm = [cls() for cls in classes * 3]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        f(warm)                         # tier 1: polymorphic
        f(warm)                         # tier 2 compiled; its own site filled
        assert overdrive.info(f)["tier"] == 2
        calls = runs(classes)   # before counting: __init__'s own store is not call_get's
        before = _overdrive.stats()["tier2"]["generic_attr"]
        got = [outcome(f, a) for a in calls]
        after = _overdrive.stats()["tier2"]["generic_attr"]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert got == expected and got[0][1][:2] == ["M0", "M1"]
    assert got[1][1][1] == "instance attribute" and got[1][1][5] == got[1][1][9] == "M1"
    assert info["tier2"]["exits"] == {}
    n = 12
    assert after["polymorphic"] - before.get("polymorphic", 0) == 3 * n
    # in line but for the M1s once their keys grew (the helper; its entry refilled)
    assert after["inline"] - before["inline"] >= 2 * n
