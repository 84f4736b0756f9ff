"""What the JIT compiled in one program, by how often each function was called.

    OVERDRIVE=1 python bench/compile_census.py bench/scripts/csv_sales.py [args...]

Runs the program (as __main__, with the JIT on from start-up through OVERDRIVE=1), then
looks up every code object still reachable from a live function (nested code included)
and prints, per bucket of calls (hook entries), how many code objects were compiled, their
bytecode instructions, compile time and code bytes, split by whether the code has a loop.
Code that is gone by exit (most module bodies) is missing from the buckets; the last line
gives overdrive.stats()'s totals to compare with. --json prints one record per code object.
"""
from __future__ import annotations

import atexit
import gc
import json
import runpy
import sys
import types

import overdrive

BUCKETS = [(1, 1), (2, 2), (3, 10), (11, 50), (51, 200), (201, 1000), (1001, None)]
BACKWARD = {"JUMP_BACKWARD", "POP_JUMP_BACKWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_TRUE",
            "POP_JUMP_BACKWARD_IF_NONE", "POP_JUMP_BACKWARD_IF_NOT_NONE"}


def has_loop(code: types.CodeType) -> bool:
    import dis
    return any(i.opname in BACKWARD for i in dis.get_instructions(code))


def live_code() -> list[types.CodeType]:
    seen: dict[int, types.CodeType] = {}
    todo = [o.__code__ for o in gc.get_objects() if isinstance(o, types.FunctionType)]
    while todo:
        code = todo.pop()
        if id(code) in seen:
            continue
        seen[id(code)] = code
        todo.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return list(seen.values())


def records() -> list[dict]:
    out = []
    for code in live_code():
        info = overdrive.info(code)
        if not info["entries"]:
            continue
        out.append({"name": code.co_qualname, "file": code.co_filename,
                    "line": code.co_firstlineno, "loop": has_loop(code),
                    "entries": info["entries"], "native_entries": info["native_entries"],
                    "compiled": info["compiled"], "instructions": info["bytecode_instructions"],
                    "compile_ns": info["compile_ns"] or 0, "code_size": info["code_size"] or 0})
    return out


def bucket_of(entries: int) -> str:
    for lo, hi in BUCKETS:
        if entries >= lo and (hi is None or entries <= hi):
            return f"{lo}" if lo == hi else f"{lo}-{hi}" if hi else f">{lo - 1}"
    return "?"


def report(as_json: bool) -> None:
    overdrive.disable()   # nothing the census itself runs is compiled or counted
    stats = overdrive.stats()
    recs = records()
    if as_json:
        for r in recs:
            print(json.dumps(r), file=sys.stderr)
        return
    rows: dict[tuple[str, bool], list[float]] = {}
    for r in recs:
        if not r["compiled"]:
            continue
        key = (bucket_of(r["entries"]), r["loop"])
        acc = rows.setdefault(key, [0, 0, 0, 0, 0])
        acc[0] += 1
        acc[1] += r["instructions"]
        acc[2] += r["compile_ns"]
        acc[3] += r["code_size"]
        acc[4] += r["entries"]
    order = {bucket_of(lo): i for i, (lo, _) in enumerate(BUCKETS)}
    print("calls       loop  compiled  instrs  compile ms  code KiB", file=sys.stderr)
    for (b, loop), (n, instrs, ns, size, _) in sorted(rows.items(),
                                                      key=lambda kv: (order[kv[0][0]], kv[0][1])):
        print(f"{b:>10}  {'yes' if loop else 'no':>4}  {n:8}  {instrs:6}  {ns / 1e6:10.1f}  "
              f"{size / 1024:8.0f}", file=sys.stderr)
    print(f"stats(): {stats['functions_compiled']} compiled, "
          f"{stats['instructions_compiled']} instrs, {stats['compile_time_ns'] / 1e6:.1f} ms, "
          f"{stats['code_bytes'] / 1024:.0f} KiB; frames native {stats['frames_native']}, "
          f"interpreted {stats['frames_interpreted']} {stats['interpreted_by_reason']}",
          file=sys.stderr)


def main() -> None:
    as_json = sys.argv[1:2] == ["--json"]
    args = sys.argv[2:] if as_json else sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    atexit.register(report, as_json)
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
