"""Tier 2's math calls and float powers on unboxed doubles (passes/specialize.c,
rt/helpers.c od_t2_float_pow, lir FSqrt and OD_CHK_MATH): a call of one argument of
math.sqrt, sin, cos, tan, exp, log or fabs, found as a global (`from math import sqrt`) or a
module's attribute (`math.sqrt`), becomes FloatSqrt (sqrtsd in line) or FloatMath (the C
function) on the argument's double, the callee guarded by identity; `x ** k` of a float by
an int constant becomes FloatPow on k's double. Whatever CPython would raise or compute
otherwise (a domain or range error, a bool or a float subclass argument, a complex power)
leaves for the interpreter. Results must be the interpreter's bit for bit."""
import math
import random
import struct
import types
from math import cos, exp, fabs, log, sin, sqrt, tan

import pytest

import overdrive

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


class F(float):
    """A float subclass: math converts it by its value, float's `**` is inherited."""


class G(float):
    def __float__(self):        # PyFloat_AsDouble reads the value, not this
        return 42.0


def bits(v):
    if isinstance(v, float):
        return ("float", type(v).__name__, struct.pack("<d", v))
    return (type(v).__name__, repr(v))


def outcome(f, args):
    try:
        return ("ok", bits(f(*args)))
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        return ("raise", type(exc), str(exc))


def run_t2(f, calls):
    """Each call's outcome interpreted, then at tier 2 (after one warm call, the first);
    returns info(f) and the tier-2 text."""
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        outcome(f, calls[0])
        text = overdrive.dis_text(f, tier=2)
        got = [outcome(f, a) for a in calls]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert got == expected
    return info, text


ARGS = [1.5, 2.0, 0.0, -0.0, -1.0, -2.5, 1e-310, 1e300, 710.0, -745.5, 1e22, math.pi / 2,
        math.inf, -math.inf, math.nan, -math.nan, 0, 1, 7, -3, 2 ** 30 - 1, -(2 ** 30 - 1), 2 ** 30,
        2 ** 53 + 1, 2 ** 62, 10 ** 400,
        -(10 ** 400), True, False, F(2.25), F(-1.0), G(3.0), "x", None]


def g_sqrt(x): return sqrt(x)
def g_sin(x): return sin(x)
def g_cos(x): return cos(x)
def g_tan(x): return tan(x)
def g_exp(x): return exp(x)
def g_log(x): return log(x)
def g_fabs(x): return fabs(x)
def m_sqrt(x): return math.sqrt(x)
def m_sin(x): return math.sin(x)
def m_cos(x): return math.cos(x)
def m_tan(x): return math.tan(x)
def m_exp(x): return math.exp(x)
def m_log(x): return math.log(x)
def m_fabs(x): return math.fabs(x)


@pytest.mark.parametrize("f", [g_sqrt, g_sin, g_cos, g_tan, g_exp, g_log, g_fabs,
                               m_sqrt, m_sin, m_cos, m_tan, m_exp, m_log, m_fabs],
                         ids=lambda f: f.__name__)
def test_math_call_is_the_interpreters_bit_for_bit(f):
    name = f.__name__[2:]
    info, text = run_t2(f, [(a,) for a in ARGS])
    assert info["tier"] == 2, info
    op = "FloatSqrt" if name == "sqrt" else f"FloatMath {name}"
    assert op in text, text
    assert "GuardIs <builtin_function_or_method>" in text


def test_domain_errors_exit_and_raise():
    info, _ = run_t2(g_sqrt, [(4.0,), (-1.0,), (9.0,)])
    assert info["tier2"]["exits"].get("FLOAT_MATH", 0) >= 1, info["tier2"]
    info, _ = run_t2(g_log, [(4.0,), (0.0,), (-1.0,), (9.0,)])
    assert info["tier2"]["exits"].get("FLOAT_MATH", 0) >= 2, info["tier2"]
    info, _ = run_t2(g_exp, [(1.0,), (1000.0,)])      # OverflowError: math range error
    assert info["tier2"]["exits"].get("FLOAT_MATH", 0) >= 1, info["tier2"]


def hypot(xs):
    t = 0.0
    for x in xs:
        t += sqrt(x * x + 1.0)
    return t


def test_float_argument_in_a_loop_stays_unboxed():
    xs = [i * 0.25 for i in range(100)]
    info, text = run_t2(hypot, [(xs,), (xs[::-1],)])
    assert info["tier"] == 2
    spec = text.split("after specialize ---")[1].split("---")[0]
    assert "FloatSqrt" in spec and "UnboxNumber" not in spec, spec
    assert info["tier2"]["exits"] == {}, info["tier2"]


# ---- the callee rebound ----------------------------------------------------------------

msqrt = math.sqrt


def rebinding(n, other):
    global msqrt
    t = 0.0
    for i in range(n):
        if i == n // 2:
            msqrt = other
        t += msqrt(i * 0.5)
    msqrt = math.sqrt
    return t


@pytest.mark.parametrize("other", [math.cos, abs, lambda x: -x], ids=["cos", "abs", "lambda"])
def test_global_rebound_mid_loop_deoptimizes(other):
    overdrive.disable()
    expected = outcome(rebinding, (50, other))
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        rebinding(4, math.sqrt)
        assert "FloatSqrt" in overdrive.dis_text(rebinding, tier=2)
        got = outcome(rebinding, (50, other))
        info = overdrive.info(rebinding)
    finally:
        overdrive.disable()
    assert got == expected
    assert info["tier"] == 2
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) >= 1, info["tier2"]


mod = types.ModuleType("mod")    # not imported here: `mod.sqrt(x)` is a method call
mod.sqrt = math.sqrt


def module_attr(n):
    t = 0.0
    for i in range(n):
        if i == n // 2:
            mod.sqrt = math.exp
        t += mod.sqrt(i * 0.5)
    mod.sqrt = math.sqrt
    return t


def test_module_attribute_replaced_mid_loop_deoptimizes():
    overdrive.disable()
    expected = outcome(module_attr, (40,))
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        module_attr(2)
        mod.sqrt = math.sqrt
        assert "FloatSqrt" in overdrive.dis_text(module_attr, tier=2)
        got = outcome(module_attr, (40,))
        info = overdrive.info(module_attr)
    finally:
        overdrive.disable()
        mod.sqrt = math.sqrt
    assert got == expected
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) >= 1, info["tier2"]


_real_math = math
fake_math = types.ModuleType("fake_math")
fake_math.sqrt = math.exp


def module_rebound(n):
    global math
    t = 0.0
    for i in range(n):
        if i == n // 2:
            math = fake_math
        t += math.sqrt(i * 0.5)        # LoadAttr of the global module, then Call
    math = _real_math
    return t


def test_module_global_rebound_mid_loop_deoptimizes():
    global math
    overdrive.disable()
    try:
        expected = outcome(module_rebound, (40,))
        overdrive.enable(threshold=0, tier2_threshold=1)
        module_rebound(2)
        text = overdrive.dis_text(module_rebound, tier=2)
        got = outcome(module_rebound, (40,))
        info = overdrive.info(module_rebound)
    finally:
        overdrive.disable()
        math = _real_math
    assert "LoadAttr sqrt" in text and "FloatSqrt" in text, text
    assert got == expected
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) >= 1, info["tier2"]


# ---- float ** int constant, float ** float ---------------------------------------------

def square(x): return x ** 2
def cube(x): return x ** 3
def inverse(x): return x ** -1
def zeroth(x): return x ** 0
def power(x, y): return x ** y


POW_ARGS = [1.5, -1.5, 2.0, 0.0, -0.0, 1.0, -1.0, 1e200, -1e200, 1e-200, 3e-162, math.inf,
            -math.inf, math.nan, F(1.5), 3]


@pytest.mark.parametrize("f", [square, cube, inverse, zeroth], ids=lambda f: f.__name__)
def test_float_to_an_int_constant(f):
    info, text = run_t2(f, [(a,) for a in POW_ARGS])
    assert info["tier"] == 2
    spec = text.split("after specialize ---")[1].split("---")[0]
    assert "FloatPow" in spec, spec


POW_CASES = [(2.0, 0.5), (-2.0, 3.0), (-2.0, 2.0), (-2.0, -3.0), (-2.0, 0.5), (-1.0, 1e300),
             (-1.0, 3.0), (0.0, 2.0), (-0.0, 3.0), (-0.0, 2.0), (0.0, -1.0), (-0.0, -3.0),
             (0.0, 0.0), (-8.0, 1.0 / 3), (-10.0, 401.0), (-10.0, -401.0), (-1e-310, 3.0),
             (1.5, -0.0), (math.nan, 0.0), (-math.inf, 3.0),
             # around the in-line road's edges (codegen pow_inline): DBL_MIN, subnormal and
             # zero results, overflow, a base next to 1, 5e-324 as a base
             (2.0, -1022.0), (2.0, -1022.5), (2.0, -1074.0), (2.0, -1075.5), (0.5, 1075.0),
             (10.0, 308.5), (10.0, 308.25), (1.0000001, 1e10), (0.9999999, 1e10),
             (5e-324, 0.5), (5e-324, -0.5), (1.7976931348623157e308, 1.0000001), (3.0, 1e-300)]


def test_float_pow_negative_and_zero_bases():
    info, _ = run_t2(power, [(2.0, 0.5)] + POW_CASES)
    assert info["tier"] == 2


# ---- differential fuzzing: math calls and powers in generated expressions ---------------

FUZZ_FUNCS = ["sqrt", "sin", "cos", "tan", "exp", "log", "fabs", "math.sqrt", "math.sin",
              "math.exp", "math.log"]
FUZZ_EXPONENTS = ["2", "3", "-1", "0", "-2", "0.5", "-1.5", "2.0", "3.0"]
FUZZ_VALUES = [0.0, -0.0, 1.5, -2.5, 0.25, 1e300, -1e-310, math.inf, -math.inf, math.nan, 0,
               3, -7, 2 ** 40, True, F(2.0)]


def fuzz_expr(rng, depth):
    if depth <= 0 or rng.random() < 0.25:
        return rng.choice(["a", "b", "t", "x", "0.5", "2", "-1.5"])
    r = rng.random()
    if r < 0.45:
        return f"{rng.choice(FUZZ_FUNCS)}({fuzz_expr(rng, depth - 1)})"
    if r < 0.65:
        return f"({fuzz_expr(rng, depth - 1)} ** {rng.choice(FUZZ_EXPONENTS)})"
    return f"({fuzz_expr(rng, depth - 1)} {rng.choice('+-*/')} {fuzz_expr(rng, depth - 1)})"


def fuzz_function(rng, name):
    return "\n".join([
        f"def {name}(a, b):",
        "    t = 0.5",
        "    for x in (a, b, 0.75):",
        f"        t = {fuzz_expr(rng, 3)}",
        "    return t",
    ])


def fuzz_outcome(f, args):
    try:
        r = f(*args)
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        return ("raise", type(exc), str(exc))
    # The sign of zeros and infinities is compared; a NaN's is not: which operand's NaN an
    # SSE add or multiply of two NaNs returns depends on the order the C compiler chose,
    # and CPython's builds differ (Debian's debug build returns the other one's for
    # `nan + nan` from an invalid operation than the release build).
    sign = math.copysign(1.0, r) if isinstance(r, float) and not math.isnan(r) else 0
    return ("ok", type(r).__name__, repr(r), sign)


def fuzz_run(seed, n):
    """n generated functions compared with the interpreter (asserts); how many of them had a
    FloatSqrt, FloatMath or FloatPow at tier 2."""
    rng = random.Random(seed)
    space = {"math": math, "sqrt": sqrt, "sin": sin, "cos": cos, "tan": tan, "exp": exp,
             "log": log, "fabs": fabs}
    pairs = [(rng.choice(FUZZ_VALUES), rng.choice(FUZZ_VALUES)) for _ in range(24)]
    ran = 0
    for k in range(n):
        name = f"fz{k}"
        source = fuzz_function(rng, name)
        exec(source, space)
        f = space[name]
        overdrive.disable()
        expected = [fuzz_outcome(f, p) for p in pairs]
        overdrive.enable(threshold=0, tier2_threshold=1)
        try:
            fuzz_outcome(f, (1.25, 0.5))
            fuzz_outcome(f, (1.25, 0.5))
            text = overdrive.dis_text(f, tier=2)
            got = [fuzz_outcome(f, p) for p in pairs]
        finally:
            overdrive.disable()
        assert got == expected, (source, pairs)
        ran += any(op in text for op in ("FloatSqrt", "FloatMath", "FloatPow"))
    return ran


def test_fuzz_math_and_powers():
    assert fuzz_run(1213, 60) >= 30
