"""range(stop) and range(start, stop) called from tier-2 code (rt/call.c od_t2_call_range):
for exact ints that fit a long the range is made directly; anything else is range's own
call. Each case compares with the interpreter and checks that tier 2 made the ranges
(stats()["tier2"]["builtin_calls"])."""
import pytest

import overdrive

from conftest import allocated_blocks_growth, outcome

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def ranges(a, b):
    r1, r2 = range(a, b), range(b)
    total = 0
    for i in range(a, b):
        total += i
    return (total, r1, r2, len(r1), len(r2), r1.start is a, r1.stop is b, r2.stop is b,
            r2.start, r2.step, type(r1.start), list(r1)[:3], r2[-1:])


def run_t2(f, warm, *calls):
    """f's outcomes on `calls` interpreted, then at tier 2 (after `warm`); asserts equal
    and returns how many builtin calls tier 2 made during the compared calls."""
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            f(*warm)
        before = overdrive.stats()["tier2"]["builtin_calls"]
        got = [outcome(f, a) for a in calls]
        made = overdrive.stats()["tier2"]["builtin_calls"] - before
        assert overdrive.info(f)["tier"] == 2
    finally:
        overdrive.disable()
    assert got == expected
    return made


def test_ranges_of_small_ints_are_made_directly():
    made = run_t2(ranges, (2, 9), (2, 9), (9, 2), (-5, 3), (0, 0), (-2 ** 62, -2 ** 62 + 4))
    assert made >= 3 * 5, made       # three range() calls per call of ranges


@pytest.mark.parametrize("args", [
    (2 ** 70, 2 ** 70 + 3),          # beyond a long: range's own road
    (-2 ** 63, -2 ** 63 + 2),        # the smallest long
    (True, 3),                       # a bool is an int, not an exact one
    (1, 3.0),                        # TypeError
    (1, "a"),
], ids=["big", "min-long", "bool", "float", "str"])
def test_other_arguments_match_the_interpreter(args):
    run_t2(ranges, (2, 9), args)


def lengths(a, b):
    return len(range(a, b))


def test_a_length_beyond_a_long_is_ranges_own():
    run_t2(lengths, (1, 5), (-2 ** 63, 2 ** 63 - 1), (-2 ** 62, 2 ** 62), (0, 2 ** 63 - 1))


def test_range_rebound_as_a_global():
    g = ranges.__globals__
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            lengths(1, 5)
        g["range"] = lambda a, b: [a, b]
        try:
            assert lengths(1, 5) == 2
        finally:
            del g["range"]
        assert lengths(1, 5) == 4
    finally:
        overdrive.disable()


def test_no_reference_leaks():
    grown, tiers = allocated_blocks_growth(
        [(ranges, (2, 9)), (ranges, (True, 3)), (ranges, (1, 3.0)), (lengths, (0, 2 ** 63 - 1))],
        threshold=0, tier2_threshold=1)
    assert tiers[0] == 2 and grown < 50, grown


def iterate(r):
    out = []
    for i in r:
        out.append(i)
    return out[:4], len(out)


def test_iterating_ranges_of_every_kind():
    run_t2(iterate, (range(5),), (range(5),), (range(3, 9),), (range(9, 3),),
           (range(0, 10, 3),), (range(10, 0, -2),), (range(2 ** 70, 2 ** 70 + 3),),
           (range(-2 ** 63, -2 ** 63 + 3),), (range(2 ** 63 - 3, 2 ** 63 - 1),),
           (range(-1, 2),))
