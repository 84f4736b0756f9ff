"""What the JIT holds in memory at the end of a program, by kind.

usage: OVERDRIVE=1 .venv/bin/python bench/memory_census.py SCRIPT [ARGS...]

Runs SCRIPT (its output discarded), then at exit prints to stderr one line: VmHWM/VmRSS,
glibc's heap (mallinfo2: arena, in use, free), overdrive.stats()'s code memory, and the sum
of _overdrive._unit_memory() over every code object reachable from a live function (per
code object state, units, native/site offset tables, sites, exception tables, code, and
what retired units hold). Used for the memory figures in docs/performance.md.
"""
import atexit
import contextlib
import gc
import io
import runpy
import sys
import types


def _status() -> dict:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    return out


def _codes() -> list:
    seen, out = set(), []

    def walk(co):
        if id(co) in seen:
            return
        seen.add(id(co))
        out.append(co)
        for c in co.co_consts:
            if isinstance(c, types.CodeType):
                walk(c)

    for o in gc.get_objects():
        if isinstance(o, types.FunctionType):
            walk(o.__code__)
    return out


def _report() -> None:
    kib = _status()
    import ctypes   # after reading the peak: importing it costs memory too

    class _MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MallInfo2
    mi = libc.mallinfo2()
    kib.update(heap=mi.arena // 1024, heap_used=mi.uordblks // 1024,
               heap_free=mi.fordblks // 1024)
    line = {"KiB": kib}
    if "_overdrive" in sys.modules:
        import _overdrive
        s = _overdrive.stats()
        line["stats"] = {k: s[k] for k in ("functions_compiled", "code_bytes",
                                           "code_memory_in_use", "code_memory_resident",
                                           "code_memory_mapped")}
        tot = {"code_objects_with_state": 0}
        for co in _codes():
            d = _overdrive._unit_memory(co)
            if d is None:
                continue
            tot["code_objects_with_state"] += 1
            for k, v in d.items():
                tot[k] = tot.get(k, 0) + v
        line["bytes"] = tot
    sys.stderr.write(f"memory_census {line}\n")


if __name__ == "__main__":
    atexit.register(_report)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    with contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path(script, run_name="__main__")
