"""Tier 2's FloatPow (specialize.c, rt/helpers.c od_t2_float_pow): `x ** y` of two floats
by feedback runs libm's pow on the unboxed values for a positive finite base and a finite
exponent, as float_pow does there; every other case exits (FLOAT_POW) and the interpreter
computes it or raises. Results must be the interpreter's bit for bit."""
import math
import struct

import pytest

import overdrive

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def power(x, y):
    return x ** y


def mag(dx, dy):
    return (dx * dx + dy * dy) ** (-1.5)


def bits(r):
    if r[0] != "ok":
        return r
    return ("ok", struct.pack("<d", r[1]))


def outcome(f, args):
    try:
        return bits(("ok", f(*args)))
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        return ("raise", type(exc), str(exc))


CASES = [(2.0, 0.5), (3.7, -1.5), (1e-3, 2.25), (0.1, 3.0), (1.0, 12.5), (5.0, 0.0),
         (10.0, 400.0),            # overflow: OverflowError
         (10.0, -400.0),           # underflow to 0.0: fine
         (1e-310, 1.0 + 1e-15),    # a subnormal result (ERANGE, not 0): the interpreter's
         (-2.0, 2.0), (-2.0, 0.5), (0.0, -1.0), (0.0, 2.0), (math.inf, 2.0), (2.0, math.inf),
         (math.nan, 1.0), (2.0, math.nan), (2.0, -0.0), (1.5, 7.0)]


def test_float_pow_is_the_interpreters_bit_for_bit():
    overdrive.disable()
    expected = [outcome(power, c) for c in CASES]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        power(2.0, 0.5)                     # tier 1 records float ** float
        got = [outcome(power, c) for c in CASES]
        info = overdrive.info(power)
    finally:
        overdrive.disable()
    assert got == expected
    assert "FloatPow" in overdrive.dis_text(power, tier=2)
    assert info["tier2"]["exits"].get("FLOAT_POW", 0) >= 1, info["tier2"]


def test_constant_exponent():
    args = [(0.5, 0.25), (3.0, 4.0), (1e-200, 1e-200), (1e200, 1e200)]
    overdrive.disable()
    expected = [outcome(mag, a) for a in args]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        mag(1.0, 2.0)
        got = [outcome(mag, a) for a in args]
        assert overdrive.info(mag)["tier"] == 2
    finally:
        overdrive.disable()
    assert got == expected
    text = overdrive.dis_text(mag, tier=2)
    assert "FloatPow" in text.split("after specialize ---")[1].split("---")[0]
