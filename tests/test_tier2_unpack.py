"""Tier 2's UNPACK_SEQUENCE (lir/lower.c, `SeqItems`): an exact tuple or an exact list of the
right length is unpacked in line, its items read from the sequence's own array (a list is
not copied into a tuple first); anything else leaves for the interpreter before anything
ran, which unpacks it or raises. Each case compares with the interpreter and checks what
tier 2 ran (its LIR, its exits)."""
import types

import pytest

import overdrive

from conftest import allocated_blocks_growth, outcome, tier2_against_interpreter

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def pairs_sum(pairs):
    total = 0.0
    for ([x1, y1], m1), ([x2, y2], m2) in pairs:
        total += (x1 - x2) * m1 + (y1 - y2) * m2
    return total


def three(seq):
    a, b, c = seq
    return (a, b, c)


class MyList(list):
    pass


class MyTuple(tuple):
    pass


def run_t2(f, warm, *calls):
    return tier2_against_interpreter(f, warm, list(calls))


PAIRS = [(([1.0, 2.0], 3.0), ([4.0, 5.0], 6.0)), (([0.5, 1.5], 2.0), ([2.5, 3.5], 1.0))]


def test_lists_and_tuples_unpacked_in_line():
    info = run_t2(pairs_sum, (PAIRS,), (PAIRS,), (PAIRS * 3,))
    assert not info["tier2"]["exits"], info["tier2"]
    lir = overdrive.dis_text(pairs_sum, tier=2).split("--- LIR")[1]
    assert lir.count("SeqItems") == 5, lir        # the pair, two tuples, two lists


@pytest.mark.parametrize("seq", [[1, 2, 3], (1, 2, 3), [1.0, "x", None]])
def test_exact_sequences_of_the_right_length_do_not_exit(seq):
    info = run_t2(three, ([7, 8, 9],), (seq,), ([4, 5, 6],))
    assert not info["tier2"]["exits"], info["tier2"]


@pytest.mark.parametrize("make", [
    lambda: [1, 2], lambda: (1, 2, 3, 4), lambda: [], lambda: "abc", lambda: "ab",
    lambda: iter([1, 2, 3]), lambda: (i for i in range(3)), lambda: MyList([1, 2, 3]),
    lambda: MyTuple((1, 2, 3)), lambda: {1: 0, 2: 0, 3: 0}, lambda: 5])
def test_anything_else_leaves_for_the_interpreter(make):
    # lengths that do not match raise the interpreter's ValueError; other iterables and
    # subclasses unpack as the interpreter does; a non-iterable raises its TypeError.
    # Each run gets its own sequence (an iterator is used up), each case a code object of
    # its own (tier 2's record of exits is per code object).
    one_three = types.FunctionType(three.__code__.replace(), globals())
    overdrive.disable()
    expected = outcome(one_three, (make(),))
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        one_three([7, 8, 9])
        assert one_three([4, 5, 6]) == (4, 5, 6)
        got = outcome(one_three, (make(),))
        info = overdrive.info(one_three)
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier"] == 2
    assert info["tier2"]["exits"].get("HELPER_DEOPT", 0) == 1, info["tier2"]


def test_items_outlive_a_temporary_sequence():
    def firsts(n):
        out = []
        for i in range(n):
            a, b = [str(i), str(i + 1)]      # the list dies right after the unpacking
            out.append(a + b)
        return out
    info = run_t2(firsts, (3,), (50,))
    assert not info["tier2"]["exits"], info["tier2"]


def test_no_reference_leaks():
    grown, tiers = allocated_blocks_growth(
        [(pairs_sum, (PAIRS,)), (three, ([1, 2, 3],)), (three, ((1, 2, 3),)),
         (three, ([1, 2],)), (three, ("abc",))],
        threshold=0, tier2_threshold=1)
    assert tiers[:2] == [2, 2] and grown < 50, grown
