"""Tier 2's `s += t` on strs (rt/helpers.c od_t2_str_append): when the code's reference to
s dies at the add, the string is extended in place if no one else holds it, as the
interpreter's BINARY_OP_INPLACE_ADD_UNICODE does, so a loop building a string is linear.
Proved by the counter of in-place appends (one per append), never by time; strings kept
elsewhere are never mutated; results and exceptions equal the interpreter's."""
import sys

import pytest

import overdrive

from conftest import allocated_blocks_growth, outcome


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")

PARTS = ["abc", "d", "ef", "\u00e9", "ghij"]


def appends():
    return overdrive.stats()["tier2"]["str_appends_in_place"]


def run_t2(f, *calls):
    """Each call interpreted, then at tier 2 (after one warm-up call). Returns the in-place
    appends the tier-2 calls made."""
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        outcome(f, calls[0])
        before, frames = appends(), overdrive.stats()["tier2"]["frames"]
        got = [outcome(f, a) for a in calls]
        made = appends() - before
        ran = overdrive.stats()["tier2"]["frames"] - frames
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info
    assert ran >= len(calls)
    assert got == expected
    return made


def build(parts):
    s = str(12345) + "\u00e9"   # a fresh latin-1 string only this frame holds (an ASCII
                                # one could not take the non-ASCII parts in place)
    for p in parts:
        s += p
    return s


def build_plus(parts):
    s = "<\u00e9" + str(len(parts))
    for p in parts:
        s = s + p
    return s


def build_with_calls(n):
    s = str(-1)
    for i in range(n):
        s += str(i % 7)     # the call writes s back to the frame first
    return s


def test_100000_appends_are_all_done_in_place():
    parts = (PARTS * 20000)[:100000]
    assert run_t2(build, (parts,)) == 100000
    assert run_t2(build_plus, (parts,)) == 100000


def test_appends_in_place_after_a_write_back_of_the_local():
    # the frame's copy of s (written back before each call) is dropped first, as the
    # interpreter drops its local's reference
    assert run_t2(build_with_calls, (30000,)) == 30000


def keep_every_step(parts, kept):
    s = str(99)
    for p in parts:
        kept.append(s)
        s += p
    kept.append(s)
    return s


def alias_then_append(parts):
    s = str(7)
    out = []
    for p in parts:
        t = s
        s += p
        out.append(t)
    return out, s


def test_strings_kept_elsewhere_are_never_mutated():
    parts = PARTS * 200
    kept = []
    assert run_t2(keep_every_step, (parts, kept)) == 0
    expected = "99"
    for k, s in enumerate(kept[-len(parts) - 1:]):
        assert s == expected, k
        if k < len(parts):
            expected += parts[k]
    out, s = alias_then_append(parts)
    assert run_t2(alias_then_append, (parts,)) == 0
    assert [len(x) for x in out] == [len(str(7) + "".join(parts[:k])) for k in range(len(parts))]


def append_to_argument(s, parts):
    for p in parts:
        s += p
    return s


def test_an_argument_is_never_mutated():
    base = "".join(["x", "y", "z"])     # a fresh string the caller keeps
    parts = PARTS * 10
    run_t2(append_to_argument, (base, parts))
    assert base == "xyz"


def double(s, n):
    for _ in range(n):
        s = s + s
    return s


def mixed(xs):
    acc = xs[0]
    for x in xs[1:]:
        acc += x
    return acc


class Acc:
    def __init__(self):
        self.items = []

    def __iadd__(self, other):
        self.items.append(other)
        return self


def custom(parts):
    a = Acc()
    for p in parts:
        a += p
    return a.items


def bad(parts):
    s = str(3)
    for p in parts:
        s += p
    return s


def test_other_types_and_errors_as_the_interpreter():
    run_t2(double, ("ab", 10))
    run_t2(mixed, ([1, 2, 3],), ([[1], [2], [3]],), (["a", "b", "c"],), ([(1,), (2,)],))
    run_t2(custom, (PARTS,))
    # TypeError at the add: the code's reference is still its own, the exit shows s
    run_t2(bad, (["a", "b", 5, "c"],), (["a", b"b"],))


class TraceOn:
    """An operand whose __radd__ switches tracing on: the frame leaves tier 2 right after
    the add (a TRACING exit), with the add's result on the stack."""

    def __radd__(self, other):
        sys.settrace(lambda *a: None)
        return other + "!"


def traced(parts):
    s = str(5)
    for p in parts:
        s += p
    return s


def test_tracing_switched_on_in_the_add():
    args = ["a", "b", TraceOn(), "c"]
    expected = outcome(traced, (args,))
    sys.settrace(None)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(10):     # past the entry where CPython quickens the code
            traced(["x"])
        assert overdrive.info(traced)["tier"] == 2
        before = overdrive.info(traced)["tier2"]["exits"].get("TRACING", 0)
        got = outcome(traced, (args,))
        sys.settrace(None)
        after = overdrive.info(traced)["tier2"]["exits"].get("TRACING", 0)
    finally:
        sys.settrace(None)
        overdrive.disable()
    assert got == expected
    assert after == before + 1, overdrive.info(traced)["tier2"]


def test_no_reference_leaks():
    parts = PARTS * 5
    cases = [(build, (parts,)), (build_with_calls, (20,)), (alias_then_append, (parts,)),
             (append_to_argument, ("q" * 3, parts)), (bad, (["a", 1],)), (double, ("x", 3)),
             (mixed, ([[1], [2]],))]
    grown, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=1)
    assert all(t == 2 for t in tiers), tiers
    assert grown < 200, grown
