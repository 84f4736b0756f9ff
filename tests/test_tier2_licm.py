"""Tier 2's licm pass: int/float guards and unboxes of values defined outside a loop move
to a preheader on the loop's entry edge, and resume at the loop header when they fail."""
import dis
import types

import pytest

import overdrive
from conftest import outcome


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def horner(x, n):
    s = 0.0
    i = 0
    while i < n:
        s = s * x + 1.0
        i += 1
    return s


def scaled_grid(x, n):
    t = 0.0
    for i in range(n):
        for j in range(n):
            t += x * 0.5
    return t


def fresh(f):
    """A copy of f with a code object of its own (tier 2's state is per code object)."""
    return types.FunctionType(f.__code__.replace(), f.__globals__, f.__name__)


def warm(f, *args, n=10):
    """Quickened by the interpreter (the feedback tier 2 reads)."""
    overdrive.disable()
    for _ in range(n):
        outcome(f, args)


def hir_after(f, stage):
    return dict(overdrive._overdrive._tier2_hir(f.__code__, None))[stage]


def loop_headers(f):
    """Byte offsets of the loop headers (the targets of backward jumps)."""
    return {i.argval for i in dis.get_instructions(f) if "BACKWARD" in i.opname}


def blocks(text):
    """{block header line: [instruction lines]} of a HIR text."""
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("bb"):
            cur = out.setdefault(line, [])
        elif cur is not None:
            cur.append(line.strip())
    return out


def loop_blocks(text):
    """{block line: instructions} of the blocks inside loops: the natural loop of each back
    edge (the block itself, or a predecessor at a later bytecode offset than the block it
    enters: a preheader has its header's offset)."""
    bbs = blocks(text)
    line = {h.split()[0]: h for h in bbs}
    at = {name: int(h.split()[1][1:]) for name, h in line.items()}
    preds = {name: (h.split("<-")[1].split() if "<-" in h else []) for name, h in line.items()}
    inside = set()
    for header in line:
        for latch in preds[header]:
            if latch != header and at[latch] <= at[header]:
                continue
            loop, work = {header}, [latch]
            while work:
                b = work.pop()
                if b not in loop:
                    loop.add(b)
                    work.extend(preds[b])
            inside |= loop
    return {line[name]: bbs[line[name]] for name in inside}


def test_guard_and_unbox_of_a_parameter_move_to_a_preheader():
    horner = fresh(globals()["horner"])
    warm(horner, 0.5, 100)
    before, after = hir_after(horner, "unbox"), hir_after(horner, "licm")
    loop_before = [i for body in loop_blocks(before).values() for i in body]
    loop_after = [i for body in loop_blocks(after).values() for i in body]
    assert any("GuardType Float v0" in i for i in loop_before)
    assert not any("GuardType" in i or "UnboxFloat" in i for i in loop_after), after
    # the preheader: entered only from the entry block, resuming at the header if the guard fails
    (header,) = {h for h in loop_blocks(after)}
    at = header.split()[1]
    pre = [(h, body) for h, body in blocks(after).items()
           if h.split()[1] == at and h != header]
    assert len(pre) == 1, after
    pre_header, pre_body = pre[0]
    assert pre_header.endswith("<- bb0")
    assert pre_body[0].startswith(f"v") and f"GuardType Float v0 [{at} " in pre_body[0]
    assert "UnboxFloat v0" in pre_body[1]
    assert pre_body[-1] == f"Branch -> {header.split()[0]}"


def test_hoisted_loop_runs_at_tier_2_with_the_interpreters_results():
    horner, scaled_grid = fresh(globals()["horner"]), fresh(globals()["scaled_grid"])
    warm(horner, 0.5, 100)
    warm(scaled_grid, 0.25, 20)
    calls = [(0.5, 100), (1.5, 7), (-2.0, 3), (0.0, 0)]
    grid_calls = [(0.25, 20), (3.5, 4), (-0.5, 0)]
    expected = [outcome(horner, a) for a in calls] + [outcome(scaled_grid, a) for a in grid_calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            got = [outcome(horner, a) for a in calls] + [outcome(scaled_grid, a) for a in grid_calls]
            assert got == expected
        info, grid = overdrive.info(horner), overdrive.info(scaled_grid)
    finally:
        overdrive.disable()
    assert info["tier"] == 2 and grid["tier"] == 2, (info, grid)
    assert info["tier2"]["exits"] == {} and grid["tier2"]["exits"] == {}
    # x's guard left both loops of scaled_grid
    before, after = hir_after(scaled_grid, "unbox"), hir_after(scaled_grid, "dce")
    assert any("GuardType Float v0" in i for body in loop_blocks(before).values() for i in body)
    assert not any("GuardType" in i for body in loop_blocks(after).values() for i in body), after


def test_a_failing_hoisted_guard_resumes_at_the_loop_header():
    horner = fresh(globals()["horner"])
    warm(horner, 0.5, 100)
    overdrive.disable()
    # from a cold copy: an int met by horner's own interpreted code would be a miss of its
    # BINARY_OP_MULTIPLY_FLOAT, and tier 2 would not guard x (passes/specialize.c
    # stays_mixed)
    cold = fresh(horner)
    expected = [outcome(cold, (3, 10)), outcome(cold, ("x", 0)), outcome(cold, ("x", 2))]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        horner(0.5, 100)
        horner(0.5, 100)
        assert overdrive.info(horner)["tier"] == 2
        got = [outcome(horner, (3, 10))]                      # an int: the guard fails
        info = overdrive.info(horner)
        got += [outcome(horner, ("x", 0)), outcome(horner, ("x", 2))]
    finally:
        overdrive.disable()
    assert got == expected
    places = [(off, why) for off, why, *_ in info["tier2"]["exit_places"]]
    assert places == [(min(loop_headers(horner)), "GUARD_TYPE")], info["tier2"]
    assert expected[2][:2] == ("raise", TypeError)


def test_a_loop_that_is_not_entered_checks_nothing():
    horner = fresh(globals()["horner"])
    warm(horner, 0.5, 100)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        horner(0.5, 100)
        horner(0.5, 100)
        for _ in range(50):
            assert horner("not a float", 0) == 0.0    # the preheader is on the entry edge
        info = overdrive.info(horner)
    finally:
        overdrive.disable()
    assert info["tier"] == 2 and info["tier2"]["exits"] == {}, info


def test_guards_that_keep_failing_at_the_header_stay_in_the_loop():
    horner = fresh(globals()["horner"])
    warm(horner, 0.5, 100)
    expected = fresh(horner)(2, 5)      # cold: no miss in horner's own feedback
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        horner(0.5, 100)
        horner(0.5, 100)
        for _ in range(40):
            assert horner(2, 5) == expected
        info = overdrive.info(horner)
    finally:
        overdrive.disable()
    header = min(loop_headers(horner))
    counts = {off: n for off, why, _, n in info["tier2"]["exit_places"] if why == "GUARD_TYPE"}
    # 16 at the header, then recompiled without hoisting it. The 16 frames that left ran
    # `s * x` on the int in the interpreter: misses of its BINARY_OP_MULTIPLY_FLOAT, so the
    # recompiled unit guards x nowhere (passes/specialize.c stays_mixed: the site is
    # generic, `+ 1.0` a float operation on its number) and no exit follows (before
    # branch h-t2mix its guard in the loop failed 16 times more, at its own instruction)
    assert counts.get(header) == 16, info["tier2"]
    assert info["tier2"]["compiles"] == 2
    assert counts == {header: 16}, info["tier2"]
    hir = hir_after(horner, "dce")
    assert "GuardType Float v0" not in hir and "UnboxNumber" in hir, hir

