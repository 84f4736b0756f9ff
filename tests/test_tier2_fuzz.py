"""Differential fuzzing of tier 2: generated functions run interpreted and at tier 2 with
operands whose types change, compared by repr (NaN-safe).

Two generators: arithmetic / compare / loop functions over numbers (int, float, bool, big
int, NaN, -0.0, inf), and functions over objects, containers and calls (attribute loads
and stores on instances of a plain class, a subclass with a property and a class with
__slots__; list and dict subscripts, appends, len; calls of a global function and of a
method; int and float subclasses among the operands), whose results and the objects' state
after the call are compared. Fixed seeds; TIER2_FUZZ_SEEDS=n runs more, and

    python tests/test_tier2_fuzz.py [--start S] [--seeds N]

runs N seeds of both generators from S outside pytest and prints the count of functions
compared and every difference found (docs/tier2.md, "Differential fuzzing")."""
import os
import random
import sys

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


def interpreted_then_tier2(f, warm, args, run):
    """run(f, a) for each of args in the interpreter; then f warmed by the interpreter on
    `warm` (quickened: speculation on ints) and run on args twice with tier 2 on (compiled
    at its second call): (expected, got, got again, info(f))."""
    overdrive.disable()
    expected = [run(f, a) for a in args]
    for _ in range(4):
        for a in warm:
            run(f, a)
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        got = [run(f, a) for a in args]
        got2 = [run(f, a) for a in args]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    return expected, got, got2, info


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
        expected, got, got2, info = interpreted_then_tier2(f, warm_args, args, outcome)
        if got != expected or got2 != expected:
            problems.append((src, args, expected, got, got2))
        assert info["tier"] in (1, 2)
    return problems


# ---- functions over objects, containers and calls

class I(int):
    """An int subclass: not an exact int, so tier 2's int speculation must not apply."""


class F(float):
    """A float subclass."""


class P:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def m(self, v):
        return self.x + v

    def __repr__(self):
        return f"{type(self).__name__}({self.x!r}, {self.y!r})"


class Q(P):
    """x is a property here: the same attribute name, another kind of access."""
    @property
    def x(self):
        return self._x

    @x.setter
    def x(self, v):
        self._x = v


class S:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def m(self, v):
        return self.x - v

    def __repr__(self):
        return f"S({self.x!r}, {self.y!r})"


OBJ_VALUES = [0, 1, -3, 7, 2**62, 2**63, 1.5, -0.0, True, I(5), F(2.5), "s", None]


def h(v):
    return v * 2


def obj_expr(rng, depth):
    if depth <= 0 or rng.random() < 0.35:
        return rng.choice(["a", "b", "t", "o.x", "o.y", "len(L)", "i", "1", "2", "0.5"])
    kind = rng.random()
    if kind < 0.45:
        return f"({obj_expr(rng, depth - 1)} {rng.choice(['+', '-', '*', '//', '%'])} " \
               f"{obj_expr(rng, depth - 1)})"
    if kind < 0.6:
        return f"h({obj_expr(rng, depth - 1)})"
    if kind < 0.75:
        return f"o.m({obj_expr(rng, depth - 1)})"
    if kind < 0.9:
        return f"L[{obj_expr(rng, depth - 1)} % 3]"
    return f"D.get({rng.choice(['k', 'j', 'a'])!r}, {obj_expr(rng, depth - 1)})"


def obj_function_source(rng, name):
    lines = [f"def {name}(a, b, o, L, D):",
             f"    t = {rng.choice(['0', 'a', 'o.x', 'L[0]'])}",
             f"    for i in range({rng.randint(0, 5)}):"]
    for _ in range(rng.randint(1, 5)):
        kind = rng.random()
        if kind < 0.25:
            lines.append(f"        t = {obj_expr(rng, 2)}")
        elif kind < 0.4:
            lines.append(f"        o.{rng.choice(['x', 'y'])} = {obj_expr(rng, 1)}")
        elif kind < 0.5:
            lines.append(f"        L.append({obj_expr(rng, 1)})")
        elif kind < 0.6:
            lines.append(f"        L[{rng.choice(['0', '1', '-1', 'i % 3'])}] = {obj_expr(rng, 1)}")
        elif kind < 0.7:
            lines.append(f"        D[{rng.choice(['k', 'j'])!r}] = {obj_expr(rng, 1)}")
        elif kind < 0.8:
            lines.append(f"        if {obj_expr(rng, 1)} {rng.choice(CMPS)} {obj_expr(rng, 1)}:")
            lines.append(f"            t = {obj_expr(rng, 1)}")
            lines.append("        else:")
            lines.append(f"            a, b = b, {obj_expr(rng, 1)}")
        elif kind < 0.9:
            lines.append(f"        {rng.choice(['a', 'b'])} = {obj_expr(rng, 2)}")
        else:
            lines.append("        if len(L) > 6:")
            lines.append("            del L[0]")
    lines.append(f"    return t, a, b")
    return "\n".join(lines) + "\n"


def obj_args(rng, plain):
    """Arguments for one call, as a recipe: fresh objects are built from it for each run."""
    values = INT_VALUES if plain else OBJ_VALUES
    cls = P if plain else rng.choice([P, P, Q, S])
    return (rng.choice(values), rng.choice(values), cls, rng.choice(values),
            rng.choice(values), [rng.choice(values) for _ in range(3)],
            {"k": rng.choice(values)})


def obj_outcome(f, recipe):
    a, b, cls, x, y, items, d = recipe
    o, L, D = cls(x, y), list(items), dict(d)
    try:
        got = repr(f(a, b, o, L, D))
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        got = f"{type(exc).__name__}: {exc}"
    return f"{got} | {o!r} {L!r} {D!r}"


def run_obj_seed(seed, nfuncs=12):
    """(problems, functions that ran at tier 2) for one seed of the object generator."""
    rng = random.Random(seed)
    problems, at_tier2 = [], 0
    for k in range(nfuncs):
        name = f"fo_{seed}_{k}"
        src = obj_function_source(rng, name)
        ns = {"h": h}
        exec(compile(src, f"<fuzz-obj {seed}/{k}>", "exec"), ns)
        f = ns[name]
        warm = [obj_args(rng, True) for _ in range(3)]
        args = warm + [obj_args(rng, False) for _ in range(6)]
        expected, got, got2, info = interpreted_then_tier2(f, warm, args, obj_outcome)
        if got != expected or got2 != expected:
            problems.append((src, args, expected, got, got2))
        at_tier2 += info["tier2"]["compiles"] > 0
    return problems, at_tier2


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


@pytest.mark.parametrize("seed", range(int(os.environ.get("TIER2_FUZZ_SEEDS", "8"))))
def test_generated_object_functions_match_the_interpreter(seed):
    problems, _ = run_obj_seed(seed)
    assert not problems, problems[0]


def test_object_functions_really_run_at_tier_2():
    # Most generated functions must reach tier 2 (the rest are refused or given up, which
    # the comparison above would not notice).
    compiled = sum(run_obj_seed(seed, nfuncs=10)[1] for seed in (11, 12))
    assert compiled >= 14


def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="long differential fuzzing runs of tier 2")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1000)
    opts = ap.parse_args(argv)
    before = overdrive.config()["tier2_threshold"]
    functions = found = tier2 = 0
    for seed in range(opts.start, opts.start + opts.seeds):
        problems = run_seed(seed)
        obj_problems, at_tier2 = run_obj_seed(seed)
        functions += 24
        tier2 += at_tier2
        for p in problems + obj_problems:
            found += 1
            print(f"DIFFERENCE seed {seed}:\n{p[0]}args {p[1]!r}\nexpected {p[2]!r}\n"
                  f"got {p[3]!r}\nagain {p[4]!r}", flush=True)
        if (seed - opts.start + 1) % 500 == 0:
            print(f"{seed - opts.start + 1} seeds, {functions} functions, {found} differences",
                  flush=True)
    overdrive.config(tier2_threshold=before)
    print(f"seeds {opts.start}..{opts.start + opts.seeds - 1}: {functions} functions compared "
          f"(9 argument tuples each, twice at tier 2; {tier2} object functions compiled by "
          f"tier 2), {found} differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
