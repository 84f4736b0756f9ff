"""Smaller tier-1 code (docs/tier1.md, "Code size"): the frame register's bias (one-byte
displacements for the first 23 slots), LOAD_FAST and STORE_FAST without their tests where
the local is known bound, no warm-up check in quickened code, 64-bit constants after the
code, and the code census. Each test proves the shape was taken (native code, info() counters) and that
the compiled code gives the interpreter's results, exceptions and tracebacks."""
import _overdrive
import overdrive
import pytest
from conftest import full_tier, run_in_unit, tier1_only_because


# ---- the frame register's bias: slots on both sides of the one-byte displacements --------

def many_locals(n):
    a0 = n; a1 = a0 + 1; a2 = a1 + 1; a3 = a2 + 1; a4 = a3 + 1; a5 = a4 + 1; a6 = a5 + 1
    a7 = a6 + 1; a8 = a7 + 1; a9 = a8 + 1; a10 = a9 + 1; a11 = a10 + 1; a12 = a11 + 1
    a13 = a12 + 1; a14 = a13 + 1; a15 = a14 + 1; a16 = a15 + 1; a17 = a16 + 1
    a18 = a17 + 1; a19 = a18 + 1; a20 = a19 + 1; a21 = a20 + 1; a22 = a21 + 1
    a23 = a22 + 1; a24 = a23 + 1; a25 = a24 + 1
    t = (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17,
         a18, a19, a20, a21, a22, a23, a24, a25)
    del a20
    try:
        return a20
    except UnboundLocalError as e:
        return t, str(e), a25 - a0


def test_slots_near_and_past_the_one_byte_displacements(jit):
    assert jit.run_both(many_locals, 5, allow_exits=True)[2] == 25
    assert jit.run_both(many_locals, 2**70, allow_exits=True)[0][-1] == 2**70 + 25
    assert jit.run_both(many_locals, 1.5, allow_exits=True)[0][22] == 23.5


# ---- LOAD_FAST of a local known bound ------------------------------------------------------

def same_stretch(a):
    x = a + 1
    return x


def after_a_branch(a):
    if a:
        x = a + 1
    return x


def deleted_in_the_stretch(a):
    x = a
    del x
    return x


def gen_deleting(a):
    x = a
    yield x
    y = x + 1
    del x
    yield y
    yield x


def restored(a):
    x = a
    x = x + 1          # BINARY_OP then STORE_FAST: the helper may unbind x (str appends)
    x = -x
    a = str(x)
    return a, x


def _store_fast_tests(fn, name):
    """For each STORE_FAST to `name`: whether its native code tests the old value for NULL
    (`test rdi, rdi`) before releasing it."""
    native = _overdrive._native_map(fn)
    rows, code = native["instructions"], native["code"]
    return [b"\x48\x85\xff" in code[r["native_offset"]:nxt["native_offset"]]
            for r, nxt in zip(rows, rows[1:])
            if r["opname"] == "STORE_FAST" and fn.__code__.co_varnames[r["oparg"]] == name]


def _load_fast_checks(fn, name):
    """For each LOAD_FAST of local `name` in fn's unit: whether its native code tests the
    local for NULL (`test rax, rax` and a `je` to the exit stub)."""
    native = _overdrive._native_map(fn)
    rows, code = native["instructions"], native["code"]
    out = []
    for r, nxt in zip(rows, rows[1:]):
        if r["opname"] == "LOAD_FAST" and fn.__code__.co_varnames[r["oparg"]] == name:
            body = code[r["native_offset"]:nxt["native_offset"]]
            out.append(b"\x48\x85\xc0\x0f\x84" in body or b"\x48\x85\xc0\x74" in body)
    return out


@full_tier
@tier1_only_because("LOAD_FAST's unbound check in tier 1's native code")
def test_a_local_stored_in_the_same_stretch_is_loaded_without_a_check(jit):
    assert jit.run_both(same_stretch, 2) == 3
    assert jit.run_both(after_a_branch, 2) == 3
    got = jit.run_both(after_a_branch, 0, allow_exits=True)     # the check's exit
    assert got[:2] == ("raise", UnboundLocalError), got
    assert overdrive.info(after_a_branch)["exits"].get("UNBOUND_LOCAL"), overdrive.info(after_a_branch)
    got = jit.run_both(deleted_in_the_stretch, 2, allow_exits=True)
    assert got[:2] == ("raise", UnboundLocalError), got
    assert _load_fast_checks(after_a_branch, "x") == [True]
    assert _load_fast_checks(same_stretch, "x") == [False]
    assert _load_fast_checks(deleted_in_the_stretch, "x") == [True]


@full_tier
@tier1_only_because("STORE_FAST's NULL test in tier 1's native code")
def test_a_store_to_a_local_known_bound_releases_the_old_value_without_a_test(jit):
    assert jit.run_both(restored, 4) == ("-5", -5)
    assert jit.run_both(restored, 2**64)[1] == -(2**64 + 1)
    # unknown; after a BINARY_OP; bound
    assert _store_fast_tests(restored, "x") == [True, True, False]
    assert _store_fast_tests(restored, "a") == [False]           # an argument


def test_generator_resumed_after_a_delete_still_checks(jit):
    def run(a):
        g = gen_deleting(a)
        out = [next(g), next(g)]
        try:
            out.append(next(g))
        except UnboundLocalError as e:
            out.append(str(e))
        return out
    got = jit.run_both(run, 4, allow_exits=True)
    assert got[:2] == [4, 5] and "x" in got[2], got


# ---- code compiled after the interpreter quickened it ---------------------------------------

LEAN_SOURCE = """
class A:
    def __init__(self):
        self.x = 1

class B:
    def __init__(self):
        self.y = 0
        self.x = 2

def get(o, k):
    v = o.x
    return v + k

def looping(o, n):
    t = 0
    for _ in range(n):
        t += o.x
    return t
"""


def _warmed() -> dict:
    ns: dict = {}
    exec(LEAN_SOURCE, ns)
    overdrive.disable()
    for i in range(30):      # quickened at the 8th call: LOAD_ATTR_INSTANCE_VALUE for A
        ns["get"](ns["A"](), i)
        ns["looping"](ns["A"](), 2)
    return ns


def _run_in_unit(fn, calls):
    return run_in_unit(fn, calls)[0]


# ---- the census ----------------------------------------------------------------------------

@full_tier
@tier1_only_because("tier 1's code census")
def test_code_census_counts_every_byte_of_the_units_it_saw(jit):
    import types
    f1, f2 = (types.FunctionType(f.__code__.replace(), globals()) for f in (many_locals, after_a_branch))
    _overdrive._code_census(True)
    try:
        jit.run_both(f1, 3, allow_exits=True)
        jit.run_both(f2, 1)
        c = _overdrive._code_census()
    finally:
        _overdrive._code_census(False)
    assert c["units"] == 2
    main = sum(b for _, b in c["main"].values())
    stubs = sum(b for byop in c["stubs"].values() for _, b in byop.values())
    assert main + stubs + c["prologue"] + c["unit_tails"] == c["code_bytes"], c
    sizes = overdrive.info(f1)["code_size"] + overdrive.info(f2)["code_size"]
    assert c["code_bytes"] == sizes
    assert c["main"]["STORE_FAST"][0] >= 28 and c["stubs"]["exit"], c   # a0..a25, t, x; e


# ---- RESUME of code already quickened: no warm-up count ------------------------------------

@full_tier
@tier1_only_because("tier 1's RESUME")
def test_quickened_code_has_no_warmup_check():
    """co_warmup stays 0 once the code is quickened: a unit compiled after that has no
    warm-up check (the census counts no WARMUP stub), one compiled before keeps it and
    leaves the quickening call (its 8th) to the interpreter."""
    ns, fresh = _warmed(), {}
    exec(LEAN_SOURCE, fresh)
    _overdrive._code_census(True)
    try:
        overdrive.compile(ns["get"])
        after_quickening = _overdrive._code_census()
        _overdrive._code_census(True)
        overdrive.compile(fresh["get"])
        before_quickening = _overdrive._code_census()
    finally:
        _overdrive._code_census(False)
    assert not after_quickening["stubs"]["warmup"], after_quickening["stubs"]
    assert before_quickening["stubs"]["warmup"]["RESUME"][0] == 1, before_quickening["stubs"]
    _run_in_unit(ns["get"], [(ns["A"](), i) for i in range(12)])
    A = fresh["A"]
    overdrive.enable(threshold=10**6)
    try:
        got = [fresh["get"](A(), i) for i in range(12)]
    finally:
        overdrive.disable()
    assert got == list(range(1, 13))
    assert overdrive.info(fresh["get"])["exits"] == {"WARMUP": 1}, overdrive.info(fresh["get"])


# ---- 64-bit immediates as constants after the code ------------------------------------------

def with_constants(a):
    s = "a constant"
    if a is None:
        return s, None
    return s, a + 1.5, a is True


@full_tier
@tier1_only_because("tier 1's constant pool")
def test_64_bit_values_are_loaded_from_one_copy_after_the_code(jit):
    assert jit.run_both(with_constants, 2) == ("a constant", 3.5, False)
    assert jit.run_both(with_constants, None) == ("a constant", None)
    if id("a constant") <= 0xFFFFFFFF:
        pytest.skip("objects below 4 GiB are 32-bit immediates (a non-PIE interpreter)")
    native = _overdrive._native_map(with_constants)
    code, start = native["code"], native["data_offset"]
    assert start < native["code_size"] and (native["code_size"] - start) % 8 == 0, native
    values = [int.from_bytes(code[i:i + 8], "little") for i in range(start, len(code), 8)]
    assert len(set(values)) == len(values), values               # one copy of each
    assert id("a constant") in values, values
    pytest.importorskip("capstone", reason="capstone not installed")
    text = overdrive.dis_native_text(with_constants)
    assert "qword ptr [rip + " in text and "; const 'a constant'" in text, text
