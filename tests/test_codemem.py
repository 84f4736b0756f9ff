"""Executable memory (src/asm/codemem.c): units packed into shared pages, W^X, and memory
given back when compiled code dies."""
import gc

import pytest

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
    gc.collect()
    s0 = _overdrive.stats()
    ns, fns = _fresh_functions(60)
    for f in fns:
        assert overdrive.compile(f)
    s1 = _overdrive.stats()
    code = s1["code_bytes"] - s0["code_bytes"]
    in_use = s1["code_memory_in_use"] - s0["code_memory_in_use"]
    resident = s1["code_memory_resident"] - s0["code_memory_resident"]
    assert code <= in_use < code + 64 * len(fns)          # granules of 64 bytes
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
    # back to exactly zero once the functions are gone.
    import subprocess
    import sys
    prog = (
        "import gc, _overdrive, overdrive\n"
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
    assert out.stdout.split() == ["0", "0", "0"]
