"""Where tier 1's machine code goes: bytes by opcode, main line and out of line.

    python bench/code_census.py email_parse argparse_cli     # bench/scripts/NAME.py
    python bench/code_census.py path/to/app.py --top 30
    python bench/code_census.py email_parse --json out.json  # the raw totals too

Runs each program as bench/scripts.py runs it (`OVERDRIVE=1 python SCRIPT` in a scratch
directory, whole process) with tier 1's code census on (tier1/census.c, through
_overdrive._code_census): every unit compiled, including first units later freed by their
recompilation, adds its bytes by the opcode of the instruction they belong to, on the main
line (the straight-line code between two instructions' labels) and in each kind of
out-of-line stub (slow paths, cold variants, helper-failure, error, exit, deallocation,
eval-breaker and flush stubs; a shared stub counts for the instruction that first asked for
it). Sizes are final, after jump relaxation. The rest of a unit (prologue, thunks, shared
tails, epilogue) is "unit overhead".

The report: per opcode, instructions compiled, main-line bytes (and per instruction),
out-of-line bytes (and per instruction), share of all code; then the stub kinds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SCRIPTS_DIR = BENCH_DIR / "scripts"

# Runs in the measured process: the census on from the first line of the program, the totals
# and overdrive.stats() written at exit (after the program's own atexit handlers).
BOOT = r"""
import atexit, json, runpy, sys
import _overdrive
_overdrive._code_census(True)
out = sys.argv[1]
def dump():
    import overdrive
    with open(out, "w") as f:
        json.dump({"census": _overdrive._code_census(), "stats": overdrive.stats()}, f)
atexit.register(dump)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run(script: Path, python: str, env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERDRIVE")}
    env["OVERDRIVE"] = "1"
    env.setdefault("PYTHONHASHSEED", "0")
    env.update(env_extra)
    with tempfile.TemporaryDirectory(prefix="od-census-") as tmp:
        out = Path(tmp) / "census.json"
        proc = subprocess.run([python, "-c", BOOT, str(out), str(script)], cwd=tmp, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0 or not out.exists():
            raise SystemExit(f"{script}: exit status {proc.returncode}\n{proc.stderr[-2000:]}")
        return json.loads(out.read_text())


def report(name: str, data: dict, top: int) -> str:
    c, st = data["census"], data["stats"]
    total = c["code_bytes"]
    ninstr = sum(n for n, _ in c["main"].values())
    out_of_line: dict[str, int] = {}
    by_kind: dict[str, list[int]] = {}
    for kind, byop in c["stubs"].items():
        for op, (n, b) in byop.items():
            out_of_line[op] = out_of_line.get(op, 0) + b
            k = by_kind.setdefault(kind, [0, 0])
            k[0] += n
            k[1] += b
    main_total = sum(b for _, b in c["main"].values())
    stub_total = sum(out_of_line.values())
    overhead = c["prologue"] + c["unit_tails"]
    lines = [
        f"## {name}",
        "",
        f"{c['units']} units ({c['compact_units']} compact), {ninstr} instructions, "
        f"{total} bytes: {total / max(ninstr, 1):.1f} bytes per instruction "
        f"(main line {main_total / max(ninstr, 1):.1f}, out of line "
        f"{stub_total / max(ninstr, 1):.1f}, unit overhead {overhead / max(ninstr, 1):.1f}). "
        f"stats(): code_bytes {st['code_bytes']} / instructions_compiled "
        f"{st['instructions_compiled']} = "
        f"{st['code_bytes'] / max(st['instructions_compiled'], 1):.1f}",
        "",
        "| opcode | instructions | main bytes | main B/instr | out-of-line bytes "
        "| ool B/instr | share |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ops = sorted(set(c["main"]) | set(out_of_line),
                 key=lambda op: -(c["main"].get(op, [0, 0])[1] + out_of_line.get(op, 0)))
    for op in ops[:top]:
        n, mb = c["main"].get(op, [0, 0])
        ob = out_of_line.get(op, 0)
        lines.append(f"| {op} | {n} | {mb} | {mb / max(n, 1):.1f} | {ob} | {ob / max(n, 1):.1f} "
                     f"| {100 * (mb + ob) / total:.1f}% |")
    lines.append(f"| (unit overhead) | {c['units']} units | {c['prologue']} (prologues) | | "
                 f"{c['unit_tails']} (thunks, tails) | | {100 * overhead / total:.1f}% |")
    lines += ["", "| stub kind | stubs | bytes | bytes/stub | share |", "| --- | ---: | ---: | ---: | ---: |"]
    for kind, (n, b) in sorted(by_kind.items(), key=lambda kv: -kv[1][1]):
        if n:
            lines.append(f"| {kind} | {n} | {b} | {b / n:.1f} | {100 * b / total:.1f}% |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("programs", nargs="+", help="bench/scripts name or a script path")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--top", type=int, default=25, help="opcodes listed (largest first)")
    ap.add_argument("--json", help="write the raw totals of every program here")
    ap.add_argument("--env", action="append", default=[], metavar="VAR=VALUE",
                    help="extra environment of the measured process")
    args = ap.parse_args()
    extra = dict(e.split("=", 1) for e in args.env)
    raw = {}
    for prog in args.programs:
        path = Path(prog) if prog.endswith(".py") else SCRIPTS_DIR / f"{prog}.py"
        data = run(path.resolve(), args.python, extra)
        raw[path.stem] = data
        print(report(path.stem, data, args.top))
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
