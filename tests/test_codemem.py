"""Executable memory (src/asm/codemem.c): units packed into shared pages, W^X, and memory
given back when compiled code dies."""
import gc

import pytest
from conftest import tier1_only

import _overdrive
import overdrive


@pytest.mark.parametrize("seed", [1, 2, 12345, 0xDEADBEEF])
def test_allocator_selftest(seed):
    # Many sizes (a few bytes to more than a region), installed, run, half freed, more
    # installed into the holes: no overlap, 64-byte alignment, contents intact, every page
    # of every region r-x with live code and ---/not resident without, and everything
    # returned at the end (asm/codemem.h, od_codemem_selftest).
    _overdrive._codemem_selftest(seed, 300)


def test_selftest_arguments():
    with pytest.raises(ValueError):
        _overdrive._codemem_selftest(1, 0)


def _fresh_functions(n):
    ns = {}
    src = "".join(f"def f{i}(a, b):\n    return a * {i} + b - {i}\n\n" for i in range(n))
    exec(src, ns)
    return ns, [ns[f"f{i}"] for i in range(n)]


def test_small_units_share_pages_and_are_given_back():
    first = _fresh_functions(1)[1][0]
    assert overdrive.compile(first)      # the first compile builds tier 1's shared entry
    del first
    gc.collect()
    s0 = _overdrive.stats()
    ns, fns = _fresh_functions(60)
    for f in fns:
        assert overdrive.compile(f)
    s1 = _overdrive.stats()
    code = s1["code_bytes"] - s0["code_bytes"]
    in_use = s1["code_memory_in_use"] - s0["code_memory_in_use"]
    resident = s1["code_memory_resident"] - s0["code_memory_resident"]
    # granules of 64 bytes, each unit followed by at least 16 bytes of int3 (asm/codemem.c)
    assert code + 16 * len(fns) <= in_use < code + (16 + 64) * len(fns)
    assert resident < in_use + 2 * 4096                   # pages shared: not a page per unit
    assert all(_overdrive._code_is_wx_safe(f) for f in fns)
    assert [f(2, 3) for f in fns] == [2 * i + 3 - i for i in range(len(fns))]
    del ns, fns, f
    gc.collect()
    s2 = _overdrive.stats()
    assert s2["code_memory_in_use"] == s0["code_memory_in_use"]
    assert s2["code_memory_resident"] <= s0["code_memory_resident"]
    assert s2["code_memory_mapped"] <= s0["code_memory_mapped"]


def test_code_memory_returns_to_zero_when_compiled_code_dies():
    # A subprocess: nothing else compiled there, so in_use, resident and mapped must go
    # back to exactly what the routines all units share (tier 1's entry, built at the first
    # compile and kept for the process) take, once the functions are gone.
    import subprocess
    import sys
    prog = (
        "import gc, _overdrive, overdrive\n"
        "def first(a): return a\n"
        "assert overdrive.compile(first)\n"
        "del first; gc.collect()\n"
        "s0 = _overdrive.stats()\n"
        "print(s0['code_memory_in_use'], s0['code_memory_resident'], s0['code_memory_mapped'])\n"
        "ns = {}\n"
        "exec(''.join(f'def f{i}(a):\\n    return [a] * {i}\\n\\n' for i in range(200)), ns)\n"
        "for i in range(200): assert overdrive.compile(ns[f'f{i}'])\n"
        "s = _overdrive.stats()\n"
        "assert s['code_memory_in_use'] > 0 and s['code_memory_mapped'] > 0, s\n"
        "del ns; gc.collect()\n"
        "s = _overdrive.stats()\n"
        "print(s['code_memory_in_use'], s['code_memory_resident'], s['code_memory_mapped'])\n"
    )
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    shared, end = out.stdout.splitlines()
    assert end.split() == shared.split(), out.stdout
    assert 0 < int(shared.split()[0]) <= 1024         # the shared entry: a few granules


POLY_SRC = """
class A:
    def __init__(self): self.x = 1
class B:
    def __init__(self): self.x = 2
class C:
    def __init__(self): self.x = 3
class D:
    def __init__(self): self.x = 4
class E:
    def __init__(self): self.x = 5
def get_x(o):
    return o.x
def get_y(o):
    return o.x
"""


def _site_types(fn):
    return [e["type"].__name__ for r in _overdrive._native_map(fn)["instructions"]
            if (r.get("cache") or {}).get("kind") == "attr" for e in r["cache"]["entries"]]


def _blocks(fn):
    return _overdrive._unit_memory(fn.__code__)["attr_blocks"]


def _freed_blocks(delete):
    """Blocks freed by `delete()` and a collection, the JIT off (so none can be made)."""
    gc.collect()
    before = _overdrive._attr_blocks()
    delete()
    gc.collect()
    return before - _overdrive._attr_blocks()


@tier1_only  # tier 1's recompilation and sites: not what runs in the tier-2 stress mode
def test_attribute_site_entries_beyond_the_first_are_allocated_on_demand_and_freed():
    # helpers.h OdAttrSite: entry 0 inline, entries 1..3 in a block allocated when a second
    # receiver type comes, freed with the unit.
    ns = {}
    exec(POLY_SRC, ns)
    get_x, get_y = ns["get_x"], ns["get_y"]
    assert overdrive.compile(get_x) and overdrive.compile(get_y)
    objs = [ns[k]() for k in "ABCDE"]

    def run(fn, objs):
        overdrive.enable(threshold=0)
        try:
            return [fn(o) for o in objs]
        finally:
            overdrive.disable()

    assert run(get_y, objs[:1] * 3) == [1, 1, 1]                   # one type: no block
    assert _blocks(get_y) == 0
    assert run(get_x, objs[:4]) == [1, 2, 3, 4]                    # four types: one block
    assert _blocks(get_x) == 1
    assert sorted(_site_types(get_x)) == ["A", "B", "C", "D"]
    for _ in range(3):                                             # five: entries evicted
        assert run(get_x, objs) == [1, 2, 3, 4, 5]
    assert _blocks(get_x) == 1
    assert len(_site_types(get_x)) == 4 and _site_types(get_y) == ["A"]
    assert overdrive.info(get_x)["native_entries"] >= 19
    del get_x, get_y, objs

    def delete():
        ns.clear()
    assert _freed_blocks(delete) >= 1


RECURSIVE_SRC = POLY_SRC + """
def walk(objs, i):
    if i < len(objs):
        return objs[i].x + walk(objs, i + 1)
    return 0
"""


def _recompile_by_running(fn, calls):
    overdrive.config(recompile_after=20)
    overdrive.enable(threshold=1)
    try:
        return [fn(*args) for args in calls]
    finally:
        overdrive.disable()
        overdrive.config(recompile_after=1000)


# _unit_memory's retired_units: an empty OdUnit (its code freed) is a few hundred bytes.
EMPTY_UNIT = 1024


@tier1_only  # tier 1's recompilation and sites: not what runs in the tier-2 stress mode
def test_first_unit_is_freed_at_recompilation_when_no_frame_runs_it():
    # The recompiled unit starts from a byte copy of its predecessor's sites: the copy must
    # not share the predecessor's block of attribute entries (each unit has its own). The
    # recompiled unit builds the three types it was told of into its code; the copy gets a
    # block of its own with the predecessor's entries (what tier 2 reads as the types the
    # site met), and a fourth (D) misses into its helper, which fills that block's last entry.
    ns = {}
    exec(POLY_SRC, ns)
    get_x = ns["get_x"]
    objs = [ns[k]() for k in "ABC"]
    calls = [(o,) for o in objs] * 30 + [(ns["D"](),)] * 3
    assert _recompile_by_running(get_x, calls) == [1, 2, 3] * 30 + [4] * 3
    info, mem = overdrive.info(get_x), _overdrive._unit_memory(get_x.__code__)
    assert info["recompiled"] and not info["compact"] and mem["units"] == 2
    assert info["fixed_attr_sites"] == 1                    # A, B and C built in
    assert mem["retired_units"] < EMPTY_UNIT                # the first unit's code is gone
    assert mem["attr_blocks"] == 1                          # and its block with it
    types = _site_types(get_x)                              # A, B, C copied; D its own
    assert sorted(types) == ["A", "B", "C", "D"], types
    del get_x, objs
    assert _freed_blocks(ns.clear) >= 1


@tier1_only  # tier 1's recompilation and sites: not what runs in the tier-2 stress mode
def test_first_unit_is_kept_at_recompilation_while_a_frame_runs_it():
    # walk() recurses: it is recompiled on entering a nested frame, while the outer frames
    # still run the first unit's code (and return into it). Five receiver types: more than
    # a site has entries, so the recompiled unit builds none in and fills its own block.
    ns = {}
    exec(RECURSIVE_SRC, ns)
    walk = ns["walk"]
    objs = [ns[k]() for k in "ABCDE"] * 6
    assert _recompile_by_running(walk, [(objs, 0)] * 3) == [90] * 3
    info, mem = overdrive.info(walk), _overdrive._unit_memory(walk.__code__)
    assert info["recompiled"] and mem["units"] == 2
    assert mem["retired_units"] > EMPTY_UNIT
    assert mem["attr_blocks"] == 2                          # one per unit
    del walk, objs
    assert _freed_blocks(ns.clear) >= 2


@tier1_only  # tier 1's recompilation and sites: not what runs in the tier-2 stress mode
def test_first_unit_is_kept_while_another_thread_runs_it():
    # A thread waits (GIL released) inside the first unit's code while the main thread
    # gets the function recompiled: that thread's frame chain holds a frame of the code, so
    # the first unit stays, and the thread returns into it.
    import threading
    ns = {}
    exec("def worker(ev, n):\n    if ev is not None:\n        ev.wait()\n    return n + 1\n", ns)
    worker = ns["worker"]
    assert overdrive.compile(worker)
    ev, started, out = threading.Event(), threading.Event(), []
    overdrive.config(recompile_after=20)
    overdrive.enable(threshold=1)
    try:
        t = threading.Thread(target=lambda: (started.set(), out.append(worker(ev, 41))))
        t.start()
        started.wait()
        for _ in range(5000):                                   # at most 5 s
            if overdrive.info(worker)["native_entries"]:
                break
            threading.Event().wait(0.001)
        assert overdrive.info(worker)["native_entries"] == 1
        assert [worker(None, i) for i in range(40)] == list(range(1, 41))
        assert overdrive.info(worker)["recompiled"]
        ev.set()
        t.join()
    finally:
        overdrive.disable()
        overdrive.config(recompile_after=1000)
    assert out == [42]
    assert _overdrive._unit_memory(worker.__code__)["retired_units"] > EMPTY_UNIT


def test_heap_is_trimmed_after_compiling():
    # hook/codestate.c: malloc_trim once per 4 ms of compile time (glibc only).
    import platform
    import subprocess
    import sys
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    prog = (
        "import _overdrive, overdrive\n"
        "ns = {}\n"
        "exec(''.join(f'def f{i}(a):\\n    for x in a:\\n        a = x + {i}\\n    return a\\n\\n'"
        " for i in range(300)), ns)\n"
        "for i in range(300): assert overdrive.compile(ns[f'f{i}'])\n"
        "s = _overdrive.stats()\n"
        "print(s['compile_time_ns'], s['heap_trims'], s['heap_trim_ns'])\n"
    )
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    compile_ns, trims, trim_ns = map(int, out.stdout.split())
    assert trims <= compile_ns // 4_000_000 and (trim_ns > 0) == (trims > 0)
    if compile_ns >= 8_000_000:      # each trim restarts the count: at least one by then
        assert trims >= 1


def _mallinfo_arena():
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    return libc.mallinfo2()


def test_large_compile_scratch_is_mapped_and_given_back():
    # asm/scratch.c: a large function's scratch (code before it is installed, stubs,
    # fix-ups, decoded instructions) is mapped and unmapped outside malloc, so none of it
    # is left in glibc's heap and glibc's mmap threshold is not raised by it.
    import platform
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallinfo2 is glibc's")
    body = "".join(f"        s = s + a[{i % 7}] * {i} - b.x\n" for i in range(1500))
    ns = {}
    exec(f"def big(a, b):\n    s = 0\n    for i in range(2):\n{body}    return s\n", ns)
    gc.collect()
    before = _mallinfo_arena()
    s0 = _overdrive.stats()
    assert overdrive.compile(ns["big"])
    s1 = _overdrive.stats()
    after = _mallinfo_arena()
    assert s1["compile_scratch_in_use"] == 0                # all of it freed
    assert s1["compile_scratch_peak"] >= 1 << 20            # megabytes of scratch...
    # ... of which at most OD_SCRATCH_KEEP (512 KiB) of mappings is kept for the next compile
    assert s1["compile_scratch_kept"] <= 512 << 10
    # ... of which the heap kept nothing: it grew by the unit's own tables at most
    # (sites, native and site offsets, a few hundred KiB here).
    unit = _overdrive._unit_memory(ns["big"].__code__)
    tables = unit["sites"] + unit["native_at_unit"] + unit["cache_at_unit"] + unit["exc"]
    assert after.arena - before.arena <= tables + (256 << 10)
    assert after.hblkhd <= before.hblkhd + (256 << 10)      # no malloc mapping kept either
    assert s1["code_bytes"] > s0["code_bytes"]


def _big_function(tail: str):
    """A function whose machine code is beyond 64 KiB, with `tail` at its end."""
    body = "".join(f"    s = s + a[{i % 7}] * {i} - b\n" for i in range(1200))
    ns = {}
    exec(f"def big(a, b):\n    s = 0\n{body}{tail}", ns)
    return ns["big"]


def _table_bytes(fn):
    unit = _overdrive._unit_memory(fn.__code__)
    return unit["native_at_unit"], unit["cache_at_unit"]


@tier1_only
def test_offset_tables_are_16_bits_unless_an_offset_needs_more():
    # runtime/unit.h OdUnitTable: a unit's native-offset and site-offset tables (one entry
    # per code unit) take 2 bytes an entry while every offset fits, 4 otherwise; the
    # entries beyond 64 KiB (an exception handler, a generator's resume point at the end of
    # a large function) must still be found.
    def small(o):
        return o.real + 1
    assert overdrive.compile(small)
    entries = len(small.__code__.co_code) // 2 + 1
    assert _table_bytes(small) == (2 * entries, 2 * entries)

    handler = _big_function("    try:\n        a[99]\n    except IndexError:\n"
                            "        s = -s\n    return s\n")
    gen = _big_function("    yield s\n    yield s + 1\n")
    a = list(range(7))
    expected = (handler(a, 3), list(gen(a, 3)))
    for fn in (handler, gen):
        assert overdrive.compile(fn)
        assert overdrive.info(fn)["code_size"] > 1 << 16
        entries = len(fn.__code__.co_code) // 2 + 1
        assert _table_bytes(fn)[0] == 4 * entries      # native offsets beyond 16 bits
    overdrive.enable(threshold=0)
    try:
        handler(a, 3), list(gen(a, 3))                 # each first run: the WARMUP exit
        resumes = overdrive.stats()["interpreted_by_reason"].get("GENERATOR_RESUME", 0)
        got = (handler(a, 3), list(gen(a, 3)))
        resumes_after = overdrive.stats()["interpreted_by_reason"].get("GENERATOR_RESUME", 0)
    finally:
        overdrive.disable()
    assert got == expected
    assert overdrive.info(handler)["exceptions_handled_natively"] >= 1
    assert resumes_after == resumes                    # both resumes found native code
    for fn in (handler, gen):
        assert set(overdrive.info(fn)["exits"]) <= {"WARMUP"}


def test_compile_scratch_mappings_are_kept_for_the_next_compile():
    # asm/scratch.c: mappings freed by a compile are kept (at most 512 KiB) for the next
    # one, which takes them instead of mapping fresh pages; the kept bytes never exceed the
    # bound, and a compile of the same size leaves as much kept as before. The heap trim
    # (every 4 ms of compile time) gives them back: 40 lines compile in well under 1 ms,
    # so at most one of the three compiles trims (150 lines took 3-7 ms on a loaded host in
    # the stress mode, each compile trimmed and nothing was ever seen kept).
    body = "".join(f"        s = s + a[{i % 7}] * {i} - b.x\n" for i in range(40))
    sizes = []
    for _ in range(3):
        ns = {}
        exec(f"def mid(a, b):\n    s = 0\n    for i in range(2):\n{body}    return s\n", ns)
        assert overdrive.compile(ns["mid"])
        s = _overdrive.stats()
        assert s["compile_scratch_in_use"] == 0
        sizes.append(s["compile_scratch_kept"])
    assert all(0 <= k <= 512 << 10 for k in sizes)
    assert max(sizes) > 0               # a 40-line function's stubs (> 64 KiB) were kept


def test_kept_compile_scratch_is_given_back_when_compiles_stop_taking_it():
    # asm/scratch.c od_scratch_end_compile: a kept mapping that OD_SCRATCH_KEEP_COMPILES (2)
    # compiles in a row did not take is unmapped (stats()["compile_scratch_aged_out"]): a
    # run of large compiles no longer leaves up to 512 KiB resident for the rest of the
    # process (a pyperf worker of regex_v8 or bench_thread_pool: 0.4-0.5 MiB at its exit).
    body = "".join(f"        s = s + a[{i % 7}] * {i} - b.x\n" for i in range(40))
    for _ in range(5):               # a try in which no heap trim (4 ms of compiling) ran
        ns = {}
        exec(f"def mid(a, b):\n    s = 0\n    for i in range(2):\n{body}    return s\n", ns)
        s0 = _overdrive.stats()
        assert overdrive.compile(ns["mid"])
        s1 = _overdrive.stats()
        kept = s1["compile_scratch_kept"]
        small = []
        for k in range(2):
            exec(f"def tiny{k}(x):\n    return x + {k}\n", ns)
            assert overdrive.compile(ns[f"tiny{k}"])     # malloc'd scratch only
            small.append(_overdrive.stats())
        if small[-1]["heap_trims"] == s0["heap_trims"]:
            break
    else:
        pytest.skip("every try was trimmed (a slow host)")
    assert kept > 0                                   # mid's stubs (> 64 KiB) were kept
    assert small[0]["compile_scratch_kept"] == kept   # one compile that did not take them
    assert small[1]["compile_scratch_kept"] == 0      # the second: given back
    assert small[1]["compile_scratch_aged_out"] - s1["compile_scratch_aged_out"] == kept
    assert s1["compile_scratch_in_use"] == small[1]["compile_scratch_in_use"] == 0


def _batched_function():
    """A function of ~9,000 instructions with a stub or more each (attribute loads, index
    and arithmetic slow paths): several batches of OD_STUB_BATCH stubs (tier1/compile.c).
    `mode` picks where it fails: 0 nowhere, 1 in the first stretch, 2 in the last."""
    lines = []
    for i in range(900):
        cond = "mode == 1" if i == 3 else "mode == 2" if i == 896 else None
        if cond:
            lines.append(f"    if {cond}:\n        s = s + b.missing\n")
        lines.append(f"    s = s + a[{i % 7}] * {i} - b.x\n")
    ns = {}
    exec("def big(a, b, mode):\n    s = 0\n" + "".join(lines)
         + "    try:\n        s = s + a[99]\n    except IndexError:\n        s = -s\n"
         "    return s\n", ns)
    return ns["big"]


@tier1_only
def test_large_unit_emits_its_stubs_in_batches():
    # tier1/compile.c OD_STUB_BATCH: a unit with thousands of stubs emits them in batches
    # inside the body (jumped over), so the stubs array stays at a batch or two; stubs of
    # every batch (errors early and late, the handler at the end) behave as before.
    big = _batched_function()

    class B:
        x = 3
    a = list(range(7))
    expected = [big(a, B, 0)]
    for mode in (1, 2):
        with pytest.raises(AttributeError):
            big(a, B, mode)
    assert overdrive.compile(big)
    overdrive.enable(threshold=0)
    try:
        big(a, B, 0)                                   # the first run: the WARMUP exit
        got = [big(a, B, 0)]
        errors = []
        for mode in (1, 2):
            try:
                big(a, B, mode)
            except AttributeError as e:
                errors.append(e.__traceback__.tb_next.tb_lineno)
    finally:
        overdrive.disable()
    assert got == expected
    info = overdrive.info(big)
    assert info["native_entries"] >= 3 and set(info["exits"]) <= {"WARMUP"}
    assert info["exceptions_handled_natively"] >= 1
    # each AttributeError at its own line: `b.missing` in the first stretch, in the last
    first = big.__code__.co_firstlineno
    assert errors == [first + 6, first + 901]


def test_large_unit_scratch_is_bounded_by_batches():
    # The stubs array no longer grows with the unit (160 bytes a stub, 1-2 stubs an
    # instruction). The code census turns batching off (it wants every stub at the end), so
    # it shows what the same compile held before. Each in a process of its own, so that the
    # peak is this compile's.
    import os
    import subprocess
    import sys
    prog = (
        "import sys, _overdrive, overdrive, test_codemem as t\n"
        "_overdrive._code_census(sys.argv[1] == '1')\n"
        "big = t._batched_function()\n"
        "assert overdrive.compile(big)\n"
        "s = _overdrive.stats()\n"
        "print(s['compile_scratch_peak'], s['instructions_compiled'])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.path.dirname(os.path.abspath(__file__))}
    peaks = []
    for census in ("0", "1"):
        out = subprocess.run([sys.executable, "-c", prog, census], capture_output=True,
                             text=True, env=env)
        assert out.returncode == 0, out.stderr
        peak, ninstrs = map(int, out.stdout.split())
        assert ninstrs > 8000
        peaks.append(peak)
    batched, whole = peaks
    # Unbatched: the stubs' reservation, (16 + 3 n) * 160 bytes, grown to hold them all.
    assert whole - batched >= 3 * ninstrs * 160 - 2 * 1024 * 160, peaks
