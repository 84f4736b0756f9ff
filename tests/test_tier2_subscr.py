"""Tier 2's subscr pass (passes/subscr.c): `xs[k]` and `xs[k] = v` of an exact list by a
constant index become a guard of the list class and the item read or written in place
(LoadListItem / StoreListItem), from tier 1's BINARY_SUBSCR feedback; a str subscripted by an
int stays a Subscr, on a container guarded as a str. Each case compares with the interpreter
and checks what tier 2 ran (its HIR, its exits)."""
import pytest

import overdrive

from conftest import allocated_blocks_growth, outcome, tier2_against_interpreter

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def bump(v, d):
    v[0] -= d * 2.0
    v[1] += d
    v[2] = v[2] * d
    return v[0] + v[1] + v[2]


class MyList(list):
    def __getitem__(self, k):
        return 100.0


def run_t2(f, warm, *calls):
    """f's first call (warm) at tier 1, the others at tier 2; each compared with the
    interpreter (on copies of list arguments, which the calls mutate)."""
    def copy(args):
        return tuple(MyList(a) if type(a) is MyList else list(a) if type(a) is list
                     else dict(a) if type(a) is dict else a
                     for a in args)
    return tier2_against_interpreter(f, copy(warm), list(calls),
                                     lambda g, a: outcome(g, copy(a)))


def test_items_read_and_written_in_place():
    info = run_t2(bump, ([1.0, 2.0, 3.0], 0.5), ([1.0, 2.0, 3.0], 0.5), ([4.0, 5.0, 6.0], 2.0))
    assert not info["tier2"]["exits"], info["tier2"]
    text = overdrive.dis_text(bump, tier=2)
    hir = text.split("--- HIR of bump after subscr ---")[1].split("---")[0]
    assert hir.count("LoadListItem") == 6 and hir.count("StoreListItem") == 3
    assert hir.count("GuardType List") == 1           # one guard for the nine accesses
    assert " Subscr " not in hir and "StoreSubscr" not in hir


def test_out_of_range_index_raises_as_the_interpreter():
    info = run_t2(bump, ([1.0, 2.0, 3.0], 0.5), ([1.0, 2.0], 0.5), ([1.0], 0.5))
    assert info["tier2"]["exits"].get("LIST_INDEX", 0) >= 1, info["tier2"]


def test_not_a_list_deopts():
    info = run_t2(bump, ([1.0, 2.0, 3.0], 0.5), ((1.0, 2.0, 3.0), 0.5),
                  (MyList([1.0, 2.0, 3.0]), 0.5), ({0: 1.0, 1: 2.0, 2: 3.0}, 0.5))
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) >= 3, info["tier2"]


def test_no_reference_leaks():
    xs = [1.0, 2.0, 3.0]
    grown, tiers = allocated_blocks_growth(
        [(bump, (xs, 0.5)), (bump, ([1.0], 0.5)), (bump, ((1.0, 2.0, 3.0), 0.5))],
        threshold=0, tier2_threshold=1)
    assert tiers[0] == 2 and grown < 50, grown


# ---- by an index computed at run time (LoadListItemAt / StoreListItemAt) ------------------

def swap_at(xs, pos, i):
    """go's EmptySet.set and random_choice: items by int indices held in variables."""
    xs[i] = xs[pos]
    xs[pos] = i
    return xs[i] + xs[pos]


def hir_after_subscr(f):
    text = overdrive.dis_text(f, tier=2)
    return text.split(f"--- HIR of {f.__name__} after subscr ---")[1].split("---")[0]


def test_items_by_a_run_time_index_in_place():
    info = run_t2(swap_at, ([5, 6, 7, 8], 1, 2), ([5, 6, 7, 8], 1, 2), ([1, 2, 3], 0, 0),
                  ([9] * 40, 39, 17))
    assert not info["tier2"]["exits"], info["tier2"]
    hir = hir_after_subscr(swap_at)
    assert hir.count("LoadListItemAt") == 3 and hir.count("StoreListItemAt") == 2, hir
    assert " Subscr " not in hir and "StoreSubscr" not in hir
    assert "LoadField" in overdrive.dis_text(swap_at, tier=2)


@pytest.mark.parametrize("args", [
    ([5, 6, 7, 8], -1, 2),          # negative: the interpreter's own road
    ([5, 6, 7, 8], 1, -4),
    ([5, 6, 7, 8], 4, 2),           # out of range: IndexError
    ([5, 6, 7, 8], 1, 9),
    ([5, 6, 7, 8], 2 ** 40, 0),     # two digits
    ([5, 6, 7, 8], True, 2),        # a bool is an int, not an exact one
    ([5, 6, 7, 8], 1.0, 2),         # TypeError
    ([5, 6, 7, 8], "a", 2),
], ids=["neg-load", "neg-store", "range-load", "range-store", "big", "bool", "float", "str"])
def test_run_time_index_misses_deopt_and_match_the_interpreter(args):
    info = run_t2(swap_at, ([5, 6, 7, 8], 1, 2), args)
    exits = info["tier2"]["exits"]
    assert exits.get("LIST_INDEX", 0) + exits.get("GUARD_TYPE", 0) >= 1, exits


def test_run_time_index_on_other_containers_deopts():
    info = run_t2(swap_at, ([5, 6, 7, 8], 1, 2), ((5, 6, 7, 8), 1, 2),
                  (MyList([5, 6, 7, 8]), 1, 2), ({1: 5, 2: 6}, 1, 2))
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) >= 3, info["tier2"]


class Noisy:
    freed = 0

    def __del__(self):
        Noisy.freed += 1


def test_run_time_index_stores_release_the_old_item_and_leak_nothing():
    xs = [Noisy() for _ in range(4)]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        swap_at([5, 6, 7, 8], 1, 2)
        swap_at([5, 6, 7, 8], 1, 2)
        Noisy.freed = 0
        ys = list(xs)
        del xs
        swap_at(ys, 1, 2)           # ys[2] = ys[1]; ys[1] = 2: the old ys[2] and ys[1]
        assert overdrive.info(swap_at)["tier"] == 2
    except TypeError:
        pass                         # Noisy + int: after the stores
    finally:
        overdrive.disable()
    assert Noisy.freed == 1 and isinstance(ys[2], Noisy) and ys[1] == 2
    grown, tiers = allocated_blocks_growth(
        [(swap_at, ([1, 2, 3, 4], 1, 2)), (swap_at, ([1, 2, 3, 4], -1, 2)),
         (swap_at, ((1, 2, 3, 4), 1, 2)), (swap_at, ([object()] * 4, 3, 0))],
        threshold=0, tier2_threshold=1)
    assert tiers[0] == 2 and grown < 50, grown


def store_by(xs, k, v):
    xs[k] = v
    return xs


def test_a_slice_store_stops_being_speculated_on():
    overdrive.disable()
    for _ in range(30):                 # the interpreter: STORE_SUBSCR_LIST_INT
        store_by([1, 2, 3], 1, 5)
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        assert store_by([1, 2, 3], 2, 5) == [1, 2, 5]
        assert "StoreListItemAt" in overdrive.dis_text(store_by, tier=2)
        for _ in range(40):
            assert store_by([1, 2, 3], slice(0, 2), [9]) == [9, 3]
        info = overdrive.info(store_by)
    finally:
        overdrive.disable()
    assert info["tier2"]["compiles"] >= 2, info
    assert info["tier2"]["exits"].get("LIST_INDEX", 0) < 40, info


def pick(xs, k):
    return xs[k]


class MyTuple(tuple):
    def __getitem__(self, k):
        return "mine"


def test_generic_subscr_of_lists_and_tuples():
    """A Subscr left generic (compiled at its first call: no feedback) reads an exact list
    or tuple by an exact int in range in the machine code; negative or big indexes, bools,
    slices, subclasses, dicts and out-of-range indexes go to PyObject_GetItem: each as the
    interpreter, IndexError and TypeError included."""
    import types
    cases = [([1, 2, 3], 0), ([1, 2, 3], 2), ((4, 5), 1), ((4, 5), 0), ([1], 1), ((), 0),
             ([1, 2, 3], -1), ((4, 5), -2), ([1, 2], 2 ** 40), ([1, 2], True), ((7, 8), 1.0),
             ([1, 2, 3], slice(1, None)), (MyTuple((1, 2)), 0), ({0: "d"}, 0), ("ab", 1),
             (list(range(100)), 99), (tuple(range(2 ** 10)), 2 ** 10 - 1)]
    overdrive.disable()
    reference = types.FunctionType(pick.__code__.replace(), globals())
    expected = [outcome(reference, c) for c in cases]
    overdrive.enable(threshold=0, tier2_threshold=0)
    try:
        got = [outcome(pick, c) for c in cases]
        info = overdrive.info(pick)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info
    assert got == expected
    assert set(info["tier2"]["exits"]) <= {"ERROR"}, info["tier2"]   # the raising cases


def test_generic_subscr_references():
    """The item read in line has a reference of its own: no leak, no early free."""
    items = [object() for _ in range(4)]
    cases = [(pick, (items, 1)), (pick, (tuple(items), 3)), (pick, ([1.5], 0))]
    grown, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=0)
    assert tiers == [2, 2, 2]
    assert grown < 50, grown


# ---- by an unboxed int64 index (an At access of the int64 itself, not of its box) --------

def shifted(xs, i, d):
    """chaos's `U[ii + d - ik]`: indices computed as int64s, boxed only for the access."""
    xs[i - d] = xs[i + d] * 2
    return xs[i + d - 1] + xs[i - d]


def test_computed_indices_are_not_boxed():
    info = run_t2(shifted, ([1, 2, 3, 4, 5], 2, 1), ([1, 2, 3, 4, 5], 2, 1),
                  ([7] * 30, 10, 3), ([1, 2, 3], 1, 0))
    assert not info["tier2"]["exits"], info["tier2"]
    hir = overdrive.dis_text(shifted, tier=2).split("after dce ---")[1].split("--- LIR")[0]
    assert hir.count("LoadListItemAt") == 3 and hir.count("StoreListItemAt") == 1, hir
    assert hir.count("BoxInt") == 2, hir     # the item stored and the result: no index


@pytest.mark.parametrize("args", [
    ([1, 2, 3, 4, 5], 0, 1),        # i - d == -1: the interpreter's negative index
    ([1, 2, 3, 4, 5], 4, 1),        # i + d == 5: IndexError
    ([1, 2, 3, 4, 5], -3, -1),      # both negative
    ([1, 2, 3, 4, 5], 2 ** 40, 0),  # far out of range
    ([1, 2, 3, 4, 5], 2 ** 63 - 1, 1),   # i + d overflows int64
    ([1, 2, 3, 4, 5], 2, True),     # a bool
], ids=["neg", "range", "both-neg", "far", "overflow", "bool"])
def test_unboxed_index_misses_deopt_and_match_the_interpreter(args):
    info = run_t2(shifted, ([1, 2, 3, 4, 5], 2, 1), args)
    assert info["tier2"]["exits"], info["tier2"]


def test_unboxed_index_leaks_nothing():
    grown, tiers = allocated_blocks_growth(
        [(shifted, ([1.0, 2.0, 3.0, 4.0, 5.0], 2, 1)), (shifted, ([1, 2, 3, 4, 5], 0, 1)),
         (shifted, ([1, 2, 3, 4, 5], 4, 1))], threshold=0, tier2_threshold=1)
    assert tiers[0] == 2 and grown < 50, grown


# ---- a str's characters (the Subscr stays, on a container guarded as a str) ----------------

def skip_chars(src, pos, chars):
    """tomllib's: a parser's loop over its text, a character at a time."""
    try:
        while src[pos] in chars:
            pos += 1
    except IndexError:
        pass
    return pos


class MyStr(str):
    def __getitem__(self, k):
        return str.__getitem__(self, k).upper()


def test_str_characters_by_a_run_time_index():
    src = " \t " * 50 + "x"
    info = run_t2(skip_chars, (src, 0, frozenset(" \t")), (src, 0, frozenset(" \t")),
                  (src, 140, frozenset(" \t")), ("  é€ x", 0, frozenset(" é€")))
    assert not info["tier2"]["exits"], info["tier2"]
    hir = hir_after_subscr(skip_chars)
    assert hir.count("GuardType Str") == 1, hir           # one guard for both subscripts
    assert hir.count(" Subscr ") == 2, hir
    # with its container a str, the subscript runs no Python code: no write-back before it;
    # the write-back before `in` stores the box `pos += 1` made (not a box made again): the
    # loop calls the subscript's and the `in`'s helpers, nothing else
    lir = overdrive.dis_text(skip_chars, tier=2).split("--- LIR")[1]
    loop = lir.split("IntAdd")[1].split("CondJump")[0]
    assert "Sync" not in loop.split("CallH")[0], loop
    assert loop.count("CallH") == 2 and loop.count("Sync") == 1, loop


@pytest.mark.parametrize("args", [
    ("   ", 0, frozenset(" ")),           # runs off the end: IndexError caught
    ("ab", -1, frozenset("b")),           # negative index: the helper's generic road
    ("ab", 2 ** 40, frozenset("b")),      # IndexError from a big index
    ("ab", 1.0, frozenset("b")),          # TypeError
    (MyStr("  x"), 0, frozenset(" ")),    # a subclass: the guard fails
    ([" ", " ", "x"], 0, frozenset(" ")), # a list
    ((" ", "x"), 0, frozenset(" ")),
], ids=["end", "neg", "big", "float", "subclass", "list", "tuple"])
def test_str_index_misses_match_the_interpreter(args):
    def call(f, a):
        return outcome(f, tuple(MyStr(x) if type(x) is MyStr else x for x in a))
    info = tier2_against_interpreter(skip_chars, ("  x", 0, frozenset(" ")), [args], call)
    assert info["tier2"]["compiles"] >= 1, info


def test_str_subscript_leaks_nothing():
    grown, tiers = allocated_blocks_growth(
        [(skip_chars, ("  \u20ac x", 0, frozenset(" \u20ac"))), (skip_chars, ("ab", 1.0, "b")),
         (skip_chars, ([" ", "x"], 0, " "))],
        threshold=0, tier2_threshold=1)
    assert tiers[0] == 2 and grown < 50, grown
