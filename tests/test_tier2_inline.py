"""Tier 2's inline pass (passes/inline.c): a call of a type's method whose body only
returns an argument (`return self`) or a constant (`return True`) becomes that value under
a guard of the function's code; no frame is pushed. Each case compares with the interpreter
and checks what tier 2 ran (its HIR, its exits)."""
import pytest

import overdrive

from conftest import allocated_blocks_growth, outcome, tier2_against_interpreter

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


class V:
    def __init__(self, x):
        self.x = x

    def must_be_vector(self):
        return self

    def is_point(self):
        return False

    def second(self, a, b):
        return b

    def nothing(self):
        return None

    def label(self):
        return "v"

    def with_default(self, a=1):
        return a

    def star(self, *args):
        return self

    def local(self):
        y = 1
        return y


class W(V):
    def must_be_vector(self):
        return V(-self.x)


def dot(a, b):
    b.must_be_vector()
    return a.x * b.must_be_vector().x + (1 if b.is_point() else 2)


def consts(a):
    return (a.nothing(), a.label(), a.is_point(), a.second(3, a.x))


def not_trivial(a):
    return (a.with_default(), a.star(1) is a, a.local())


def hir_after_inline(f):
    text = overdrive.dis_text(f, tier=2)
    return text.split(f"--- HIR of {f.__name__} after inline ---")[1].split("---")[0]


def test_return_self_and_constants_become_values():
    info = tier2_against_interpreter(dot, (V(2.0), V(3.0)), [(V(2.0), V(3.0)), (V(1.5), V(5.0))])
    assert not info["tier2"]["exits"], info["tier2"]
    hir = hir_after_inline(dot)
    assert "CallMethod" not in hir, hir
    assert hir.count("GuardIs <code V.must_be_vector>") == 2 and "<code V.is_point>" in hir


def test_arguments_and_constants_of_every_kind():
    info = tier2_against_interpreter(consts, (V(2.0),), [(V(2.0),), (V("s"),), (V(None),)])
    assert not info["tier2"]["exits"], info["tier2"]
    assert "CallMethod" not in hir_after_inline(consts)


def test_bodies_that_are_not_trivial_stay_calls():
    tier2_against_interpreter(not_trivial, (V(1),), [(V(1),), (V(2),)])
    assert hir_after_inline(not_trivial).count("CallMethod") == 3


def test_a_subclass_that_overrides_the_method_deopts():
    info = tier2_against_interpreter(dot, (V(2.0), V(3.0)),
                                     [(V(2.0), V(3.0)), (V(2.0), W(3.0)), (V(2.0), V(4.0))])
    assert info["tier2"]["exits"].get("GUARD_ATTR", 0) + info["tier2"]["exits"].get(
        "GUARD_TYPE", 0) >= 1, info["tier2"]


def _compiled_then(f, args, change):
    """f at tier 2 on args, then `change()`, then f again: both results, and info(f)."""
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        f(*args)
        first = outcome(f, args)
        assert overdrive.info(f)["tier"] == 2
        change()
        second = outcome(f, args)
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    return first, second, info


def test_code_replaced_after_compiling_deopts_to_the_new_body():
    class U:
        x = 2.0

        def me(self):
            return self

    def f(u):
        return u.me()

    def replace():
        U.me.__code__ = (lambda self: 42).__code__

    u = U()
    first, second, info = _compiled_then(f, (u,), replace)
    assert first == ("ok", u) and second == ("ok", 42)
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) >= 1, info["tier2"]


def test_method_replaced_in_the_class_after_compiling():
    class U:
        def flag(self):
            return True

    def f(u):
        return u.flag()

    def replace():
        U.flag = lambda self: "new"

    first, second, info = _compiled_then(f, (U(),), replace)
    assert first == ("ok", True) and second == ("ok", "new")


def test_no_reference_leaks():
    a, b = V(2.0), V(3.0)
    grown, tiers = allocated_blocks_growth(
        [(dot, (a, b)), (consts, (a,)), (dot, (a, W(1.0)))], threshold=0, tier2_threshold=1)
    assert tiers[0] == 2 and grown < 50, grown
