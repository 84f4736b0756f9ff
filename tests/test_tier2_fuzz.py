"""Differential fuzzing of tier 2: generated arithmetic / compare / loop functions, run
interpreted and at tier 2 with operands whose types change (int, float, bool, big int, NaN,
-0.0, inf), compared by repr (NaN-safe). Fixed seeds; TIER2_FUZZ_SEEDS=n runs more."""
import os
import random

import pytest

import overdrive

BINOPS = ["+", "-", "*", "/", "//", "%", "&", "|", "^"]
CMPS = ["<", "<=", "==", "!=", ">", ">="]
VALUES = [0, 1, -3, 7, 255, 2**31, 2**62, 2**63, -2**64, 1.5, -0.0, 0.25, float("nan"),
          float("inf"), True, False]
INT_VALUES = [0, 1, -3, 7, 100, -2**20]
VARS = ["a", "b", "c", "i", "t"]


def expr(rng, depth):
    if depth <= 0 or rng.random() < 0.3:
        if rng.random() < 0.7:
            return rng.choice(VARS)
        return repr(rng.choice([1, 2, 3, 0.5, 2.0, -1, 10**20]))
    return f"({expr(rng, depth - 1)} {rng.choice(BINOPS)} {expr(rng, depth - 1)})"


def function_source(rng, name):
    lines = [f"def {name}(a, b, c):",
             f"    t = {rng.choice(['0', '0.0', '1', 'a'])}",
             f"    for i in range({rng.randint(0, 6)}):"]
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        if kind < 0.4:
            lines.append(f"        t = {expr(rng, 2)}")
        elif kind < 0.7:
            lines.append(f"        if {expr(rng, 1)} {rng.choice(CMPS)} {expr(rng, 1)}:")
            lines.append(f"            t = t {rng.choice(['+', '-', '*'])} {expr(rng, 1)}")
            lines.append("        else:")
            lines.append(f"            {rng.choice(['a', 'b'])} = {expr(rng, 1)}")
        else:
            lines.append(f"        {rng.choice(['a', 'b', 'c'])} = {expr(rng, 2)}")
    lines.append(f"    return t, a, b, {expr(rng, 1)} {rng.choice(CMPS)} {expr(rng, 1)}")
    return "\n".join(lines) + "\n"


def outcome(f, args):
    try:
        return repr(f(*args))
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        return f"{type(exc).__name__}: {exc}"


def run_seed(seed, nfuncs=12):
    rng = random.Random(seed)
    problems = []
    for k in range(nfuncs):
        name = f"fz_{seed}_{k}"
        src = function_source(rng, name)
        ns = {}
        exec(compile(src, f"<fuzz {seed}/{k}>", "exec"), ns)
        f = ns[name]
        warm_args = [tuple(rng.choice(INT_VALUES) for _ in range(3)) for _ in range(3)]
        args = warm_args + [tuple(rng.choice(VALUES) for _ in range(3)) for _ in range(6)]
        overdrive.disable()
        expected = [outcome(f, a) for a in args]
        for _ in range(4):          # quickened by the interpreter: speculation on ints
            for a in warm_args:
                outcome(f, a)
        overdrive.enable(threshold=0, tier2_threshold=1)
        try:
            got = [outcome(f, a) for a in args]
            got2 = [outcome(f, a) for a in args]
            info = overdrive.info(f)
        finally:
            overdrive.disable()
        if got != expected or got2 != expected:
            problems.append((src, args, expected, got, got2))
        assert info["tier"] in (1, 2)
    return problems


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


@pytest.mark.parametrize("seed", range(int(os.environ.get("TIER2_FUZZ_SEEDS", "8"))))
def test_generated_functions_match_the_interpreter(seed):
    problems = run_seed(seed)
    assert not problems, problems[0]


def test_fuzzed_functions_really_run_at_tier_2():
    rng = random.Random(1234)
    ran = 0
    for k in range(10):
        ns = {}
        exec(function_source(rng, "g"), ns)
        f = ns["g"]
        overdrive.enable(threshold=0, tier2_threshold=0)
        try:
            outcome(f, (1, 2, 3))
            ran += overdrive.info(f)["tier"] == 2
        finally:
            overdrive.disable()
    assert ran >= 8
