"""Tier 2's subscr pass (passes/subscr.c): `xs[k]` and `xs[k] = v` of an exact list by a
constant index become a guard of the list class and the item read or written in place
(LoadListItem / StoreListItem), from tier 1's BINARY_SUBSCR feedback. Each case compares
with the interpreter and checks what tier 2 ran (its HIR, its exits)."""
import pytest

import overdrive

from conftest import allocated_blocks_growth

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def outcome(f, args):
    try:
        return ("ok", f(*args))
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        return ("raise", type(exc), str(exc))


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
    overdrive.disable()
    expected = [outcome(f, copy(a)) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        f(*copy(warm))
        got = [outcome(f, copy(a)) for a in calls]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info
    assert got == expected
    return info


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
