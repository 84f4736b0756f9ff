"""Tier 2's HIR (src/tier2/hir, docs/tier2.md): golden text of small functions after
building and after the passes, the verifier on every function of several stdlib modules
the builder accepts, the verifier catching deliberately broken HIR, refusals with their
reasons, and the properties of the type lattice. Nothing here runs compiled code: tier 2
does not execute yet."""
import collections
import importlib
import itertools
import textwrap
import types

import pytest

import _overdrive
import overdrive


def hir(func, passes=()):
    """The HIR text after building and the given passes (the last stage)."""
    return _overdrive._tier2_hir(func, list(passes))[-1][1]


def golden(text):
    return textwrap.dedent(text).lstrip("\n")


# ---- golden text ---------------------------------------------------------------------------

def arith(a, b):
    c = a * b + 1
    return c - a


def branch(x):
    if x < 0:
        y = -x
    else:
        y = x
    return y


def loop_range(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def loop_while(n):
    k = 0
    while n > 1:
        n //= 2
        k += 1
    return k


def call(f, x):
    return f(x, 2) + len(x)


def attrs(p):
    p.x = p.x + p.y
    return p.norm()


def folded():
    n = 6 * 7
    if n > 40:
        return n
    return None


def maybe_unbound(c):
    if c:
        v = 1
    return v


def test_straight_line_arithmetic():
    # Locals are SSA values: `c` is v5 from its store on; before it, the frame state says
    # it is unbound (c=-). Each deopt-capable instruction carries the frame state before
    # its bytecode instruction: [@unit locals | stack].
    assert hir(arith) == golden("""
        bb0 @0
          v0:Object = Param a
          v1:Object = Param b
          v2:Null = Const NULL
          v3:Object = BinaryOp * v0 v1 [@3 a=v0 b=v1 c=- | v0 v1]
          v4:Int = Const 1
          v5:Object = BinaryOp + v3 v4 [@6 a=v0 b=v1 c=- | v3 v4]
          v6:Object = BinaryOp - v5 v0 [@11 a=v0 b=v1 c=v5 | v5 v0]
          Return v6
        """)


def test_if_else_makes_a_phi():
    assert hir(branch) == golden("""
        bb0 @0
          v0:Object = Param x
          v1:Null = Const NULL
          v2:Int = Const 0
          v3:Object = Compare < v0 v2 [@3 x=v0 y=- | v0 v2]
          v4:CBool = IsTrue v3 [@6 x=v0 y=- | v3]
          CondBranch v4 -> bb1 bb2
        bb1 @7 <- bb0
          v5:Object = UnaryOp - v0 [@8 x=v0 y=- | v0]
          Branch -> bb3
        bb2 @11 <- bb0
          Branch -> bb3
        bb3 @13 <- bb1 bb2
          v6:Object = Phi v5 v0
          Return v6
        """)


def test_for_loop_over_range():
    # The iterator stays on the stack across the loop: no phi for it (trivial phis go).
    # ForIter's value exists on its first edge only; `i` is unbound before the first item.
    assert hir(loop_range) == golden("""
        bb0 @0
          v0:Object = Param n
          v1:Null = Const NULL
          v2:Int = Const 0
          v3:Object = LoadGlobal range [@3 n=v0 total=v2 i=- |]
          v4:Object = Call v3 v0 [@12 n=v0 total=v2 i=- | NULL v3 v0]
          v5:Object = GetIter v4 [@17 n=v0 total=v2 i=- | v4]
          Branch -> bb1
        bb1 @18 <- bb0 bb2
          v6:Object = Phi v2 v10
          v7:OptObject = Phi v1 v8
          Snapshot [@18 n=v0 total=v6 i=v7 | v5]
          v8:Object = ForIter v5 -> bb2 bb3 [@18 n=v0 total=v6 i=v7 | v5]
        bb2 @19 <- bb1
          v9:Object = BinaryOp * v8 v8 [@23 n=v0 total=v6 i=v8 | v5 v6 v8 v8]
          v10:Object = BinaryOp += v6 v9 [@25 n=v0 total=v6 i=v8 | v5 v6 v9]
          Branch -> bb1
        bb3 @29 <- bb1
          Return v6
        """)


def test_while_loop():
    assert hir(loop_while) == golden("""
        bb0 @0
          v0:Object = Param n
          v1:Null = Const NULL
          v2:Int = Const 0
          v3:Int = Const 1
          v4:Object = Compare > v0 v3 [@5 n=v0 k=v2 | v0 v3]
          v5:CBool = IsTrue v4 [@8 n=v0 k=v2 | v4]
          CondBranch v5 -> bb1 bb2
        bb1 @9 <- bb0 bb1
          v6:Object = Phi v0 v9
          v7:Object = Phi v2 v11
          Snapshot [@9 n=v6 k=v7 |]
          v8:Int = Const 2
          v9:Object = BinaryOp //= v6 v8 [@11 n=v6 k=v7 | v6 v8]
          v10:Int = Const 1
          v11:Object = BinaryOp += v7 v10 [@16 n=v9 k=v7 | v7 v10]
          v12:Int = Const 1
          v13:Object = Compare > v9 v12 [@21 n=v9 k=v11 | v9 v12]
          v14:CBool = IsTrue v13 [@24 n=v9 k=v11 | v13]
          CondBranch v14 -> bb1 bb2
        bb2 @25 <- bb0 bb1
          v15:Object = Phi v0 v9
          v16:Object = Phi v2 v11
          Return v16
        """)


def test_calls():
    # CALL finds [NULL, callable, args...]: with the NULL known, a plain Call.
    assert hir(call) == golden("""
        bb0 @0
          v0:Object = Param f
          v1:Object = Param x
          v2:Null = Const NULL
          v3:Int = Const 2
          v4:Object = Call v0 v1 v3 [@7 f=v0 x=v1 | NULL v0 v1 v3]
          v5:Object = LoadGlobal len [@12 f=v0 x=v1 | v4]
          v6:Object = Call v5 v1 [@21 f=v0 x=v1 | v4 NULL v5 v1]
          v7:Object = BinaryOp + v4 v6 [@26 f=v0 x=v1 | v4 v6]
          Return v7
        """)


def test_attribute_access_and_method_call():
    assert hir(attrs) == golden("""
        bb0 @0
          v0:Object = Param p
          v1:Null = Const NULL
          v2:Object = LoadAttr x v0 [@2 p=v0 | v0]
          v3:Object = LoadAttr y v0 [@8 p=v0 | v2 v0]
          v4:Object = BinaryOp + v2 v3 [@13 p=v0 | v2 v3]
          StoreAttr x v0 v4 [@16 p=v0 | v4 v0]
          v5:OptObject = LoadMethod norm v0 [@22 p=v0 | v0]
          v6:Object = MethodSelf v5 v0
          v7:Object = CallMethod v5 v6 [@35 p=v0 | v5 v6]
          Return v7
        """)


def test_possibly_unbound_local_is_checked():
    assert hir(maybe_unbound) == golden("""
        bb0 @0
          v0:Object = Param c
          v1:Null = Const NULL
          v2:CBool = IsTrue v0 [@2 c=v0 v=- | v0]
          CondBranch v2 -> bb1 bb2
        bb1 @3 <- bb0
          v3:Int = Const 1
          Branch -> bb2
        bb2 @5 <- bb0 bb1
          v4:Int? = Phi v1 v3
          v5:Int = CheckBound v v4 [@5 c=v0 v=v4 |]
          Return v5
        """)


def test_separate_entry_when_the_first_instruction_is_a_jump_target():
    # Hand-made bytecode (the compiler always starts with RESUME, never a target):
    #   0 LOAD_FAST x; 1 POP_JUMP_FORWARD_IF_FALSE -> 3; 2 JUMP_BACKWARD -> 0;
    #   3 LOAD_CONST None; 4 RETURN_VALUE
    import dis
    op = dis.opmap
    code = bytes([op["LOAD_FAST"], 0, op["POP_JUMP_FORWARD_IF_FALSE"], 1,
                  op["JUMP_BACKWARD"], 3, op["LOAD_CONST"], 0, op["RETURN_VALUE"], 0])

    def f(x):
        return None
    co = f.__code__.replace(co_code=code, co_consts=(None,), co_linetable=b"",
                            co_exceptiontable=b"", co_stacksize=1)
    assert hir(co) == golden("""
        bb0
          v0:Object = Param x
          v1:Null = Const NULL
          Branch -> bb1
        bb1 @0 <- bb0 bb2
          Snapshot [@0 x=v0 |]
          v2:CBool = IsTrue v0 [@1 x=v0 | v0]
          CondBranch v2 -> bb2 bb3
        bb2 @2 <- bb1
          Branch -> bb1
        bb3 @3 <- bb1
          v3:NoneType = Const None
          Return v3
        """)


def test_constant_folding_and_dce_through_dis():
    text = overdrive.dis_text(folded, tier=2)
    stages = text.split("--- HIR of folded after ")
    assert [s.split(" ---")[0] for s in stages[1:]] == ["build", "constfold", "specialize", "attrs", "inline", "subscr", "unbox", "licm", "dce"]
    assert stages[2] == golden("""
        constfold ---
        bb0 @0
          v0:Null = Const NULL
          v1:Int = Const 42
          v2:Int = Const 40
          v3:Bool = Const True
          v4:CBool = Const true
          Branch -> bb1
        bb1 @9 <- bb0
          Return v1
        """)
    assert stages[9].split("--- LIR of")[0] == golden("""
        dce ---
        bb0 @0
          v0:Int = Const 42
          Branch -> bb1
        bb1 @9 <- bb0
          Return v0
        """)


def test_folding_through_locals_leaves_what_raises_or_grows():
    def f():
        a = 1
        b = 0
        c = a / b           # raises at run time: kept
        big = 1 << 40
        d = big * big       # beyond 64 bits: kept (no huge constants)
        e = a + 2           # folded
        return c, d, e
    text = hir(f, ["constfold", "dce"])
    assert "BinaryOp / " in text and "BinaryOp * " in text and "BinaryOp +" not in text
    assert "Const 3\n" in text


def test_dis_tier2_prints_and_rejects_bad_arguments(capsys):
    overdrive.dis(arith, tier=2, passes=["dce"])
    out = capsys.readouterr().out
    assert out.startswith("--- HIR of arith after build ---\nbb0 @0\n")
    assert "--- HIR of arith after dce ---" in out and "constfold" not in out
    with pytest.raises(ValueError, match="unknown tier-2 pass 'nope'"):
        overdrive.dis_text(arith, tier=2, passes=["nope"])
    with pytest.raises(ValueError, match="tier must be 1 or 2"):
        overdrive.dis_text(arith, tier=3)
    with pytest.raises(TypeError):
        overdrive.dis_text(arith, tier=2, passes="dce")
    assert [name for name, _ in overdrive.tier2_passes()] == ["constfold", "specialize", "attrs", "inline", "subscr", "unbox", "licm", "dce"]


# ---- refusals ------------------------------------------------------------------------------

def gen():
    yield 1


def kwargs_call(f, kw):
    return f(**kw)


def star_call(f, a):
    return f(*a)


@pytest.mark.parametrize("func, reason", [
    (gen, "generators and coroutines are not built yet"),
    (kwargs_call, "opcode DICT_MERGE is not modelled"),
    (star_call, "opcode CALL_FUNCTION_EX is not modelled"),
])
def test_refused_with_a_reason(func, reason):
    with pytest.raises(ValueError) as info:
        overdrive.dis_text(func, tier=2)
    assert str(info.value) == f"tier 2 cannot build {func.__qualname__}: {reason}"


# ---- the verifier on the standard library --------------------------------------------------

STDLIB = ["argparse", "collections", "inspect", "json.decoder", "json.encoder", "typing",
          "textwrap", "string", "difflib", "pprint", "csv", "fractions", "statistics",
          "heapq", "bisect", "random", "ast", "dataclasses", "enum", "functools",
          "posixpath", "shlex", "tokenize", "calendar", "configparser", "urllib.parse",
          "ipaddress", "datetime", "pathlib", "tarfile", "zipfile", "logging", "optparse",
          "traceback", "base64", "copy", "fnmatch", "glob"]


def stdlib_codes():
    seen, codes = set(), []

    def walk(co):
        if co not in seen:
            seen.add(co)
            codes.append(co)
            for c in co.co_consts:
                if isinstance(c, types.CodeType):
                    walk(c)

    for name in STDLIB:
        mod = importlib.import_module(name)
        for v in vars(mod).values():
            if isinstance(v, types.FunctionType):
                walk(v.__code__)
            elif isinstance(v, type):
                for f in vars(v).values():
                    if isinstance(f, (staticmethod, classmethod)):
                        f = f.__func__
                    if isinstance(f, types.FunctionType):
                        walk(f.__code__)
    return codes


def test_verifier_passes_on_the_stdlib_after_every_pass():
    codes = stdlib_codes()
    assert len(codes) > 2000
    accepted, refused = 0, collections.Counter()
    for co in codes:
        try:
            stages = _overdrive._tier2_hir(co)     # verifies after building and each pass
        except ValueError as exc:
            refused[str(exc).split(": ", 1)[1]] += 1
            continue
        accepted += 1
        assert [s for s, _ in stages] == ["build", "constfold", "specialize", "attrs", "inline", "subscr", "unbox", "licm", "dce"]
        assert _overdrive._tier2_hir(co) == stages, co     # deterministic
    print(f"tier 2 HIR: {accepted} of {len(codes)} accepted; refused: {refused.most_common()}")
    assert accepted > 0.3 * len(codes)
    assert all(r.startswith(("generators", "opcode ",
                             "a bare `raise`")) for r in refused), refused


# ---- the verifier catches broken HIR -------------------------------------------------------

@pytest.mark.parametrize("damage, func, expected", [
    ("phi_arity", branch, r"Phi#\d+ has 1 operands for 2 predecessors"),
    ("use_before_def", arith, r"does not dominate its use"),
    ("missing_frame_state", arith, r"BinaryOp#\d+ needs a frame state and has none"),
    ("operand_type", branch, r"CondBranch#\d+: operand 0 \(Compare#\d+\) is Object, not CBool"),
    ("stray_terminator", arith, r"terminator Branch#\d+ is not last"),
    ("stale_use", arith, r"operand 0 is not in the use list"),
])
def test_verifier_reports_damage(damage, func, expected):
    message = _overdrive._tier2_hir_corrupt(func, damage)
    assert message is not None, f"the verifier missed {damage}"
    assert __import__("re").search(expected, message), message


def test_verifier_damage_needs_something_to_damage():
    with pytest.raises(ValueError, match="cannot damage"):
        _overdrive._tier2_hir_corrupt(arith, "phi_arity")     # no phi in straight-line code
    with pytest.raises(ValueError, match="cannot damage"):
        _overdrive._tier2_hir_corrupt(arith, "no-such-damage")


# ---- the type lattice ----------------------------------------------------------------------

class A:
    pass


class B:
    pass


def lattice_samples():
    named = [n for n in _overdrive._tier2_type_names()]
    extra = ["Int|Str", "Float?", "Long|NoneType", "Str|Tuple|List"]
    instances = [A, B, (A, 7), (A, 8), int, bool, float, str]
    handle = lambda t: _overdrive._tier2_type("join", t, "Bottom")   # noqa: E731
    return [handle(t) for t in named + extra + instances]


def test_named_types_and_text():
    t = _overdrive._tier2_type
    assert t("str", int) == "Long" and t("str", bool) == "Bool" and t("str", A) == "Instance(A)"
    assert t("str", (A, 7)) == "Instance(A@7)"
    assert t("str", t("join", "Int", "BigInt")) == "Long"
    assert t("str", t("join", "Object", "Null")) == "OptObject"
    assert t("str", t("join", "Int", "Null")) == "Int?"
    assert t("str", t("join", A, B)) == "OtherObject"
    assert t("str", t("meet", A, B)) == "Bottom"
    assert t("str", t("meet", (A, 7), (A, 8))) == "Bottom"
    assert t("str", t("join", (A, 7), (A, 8))) == "Instance(A)"
    assert t("str", t("meet", A, "OtherObject")) == "Instance(A)"
    assert t("str", t("meet", "Long", "Float")) == "Bottom"
    assert t("sub", "Int", "Long") and t("sub", "Long", "Object") and t("sub", A, "Object")
    assert not t("sub", "Bool", "Long")       # exact classes: bool is not an exact int
    assert t("sub", "Object", "OptObject") and not t("sub", "OptObject", "Object")
    assert not t("sub", "CInt64", "Object") and not t("sub", "Object", "CDouble")
    assert t("sub", (A, 7), A) and not t("sub", A, (A, 7))


def test_lattice_laws():
    t = _overdrive._tier2_type
    S = lattice_samples()
    bottom, top = t("join", "Bottom", "Bottom"), t("join", "Top", "Bottom")
    for a in S:
        assert t("join", a, a) == a and t("meet", a, a) == a
        assert t("join", a, bottom) == a and t("meet", a, top) == a
        assert t("sub", bottom, a) and t("sub", a, top)
    for a, b in itertools.product(S, S):
        j, m = t("join", a, b), t("meet", a, b)
        assert j == t("join", b, a) and m == t("meet", b, a)
        assert t("sub", a, j) and t("sub", b, j) and t("sub", m, a) and t("sub", m, b)
        assert t("join", a, m) == a and t("meet", a, j) == a        # absorption
        assert t("sub", a, b) == (j == b) == (m == a)
    for a, b, c in itertools.product(S, S, S):
        assert t("join", t("join", a, b), c) == t("join", a, t("join", b, c))
        assert t("meet", t("meet", a, b), c) == t("meet", a, t("meet", b, c))
