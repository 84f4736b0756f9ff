"""What tier 1 costs to compile, per bytecode instruction (issue 13, item 2).

usage: python bench/compile_speed.py [--reps N] [--callgrind]

Compiles every function, method and nested code object (generators included, module
bodies not) of a fixed set of standard-library modules with `overdrive.compile`, N times,
each time on a fresh copy of the code object (so every compile is a first compile, with no
feedback), and prints compile time and code bytes per bytecode instruction from
`overdrive.stats()`. Nothing else is compiled (threshold out of reach).

With --callgrind it runs itself under callgrind with 1 and 3 repetitions and prints the
instructions per bytecode instruction of the difference (start-up, imports and the module
walk cancel out): the stable figure on a noisy machine. OVERDRIVE_COMPACT in the
environment selects compact units as usual."""
import argparse
import importlib
import os
import re
import subprocess
import sys
import types

MODULES = ("difflib", "json.decoder", "json.encoder", "statistics", "inspect",
           "email.feedparser", "email._header_value_parser", "pathlib", "argparse",
           "tokenize", "string", "textwrap", "enum", "dataclasses", "csv", "fractions",
           "ast", "typing")


def code_objects():
    out = []

    def walk(co):
        for c in co.co_consts:
            if isinstance(c, types.CodeType):
                out.append(c)
                walk(c)

    for name in MODULES:
        mod = importlib.import_module(name)
        walk(mod.__loader__.get_code(mod.__name__))
    return out


def compile_all(reps):
    import overdrive
    codes = code_objects()
    overdrive.enable(threshold=2_000_000_000)
    overdrive.reset_stats()
    for _ in range(reps):
        for co in codes:
            overdrive.compile(co.replace())   # a fresh code object: a first compile
    s = overdrive.stats()
    n = s["instructions_compiled"]
    print(f"{len(codes)} code objects x {reps}: {n} bytecode instructions, "
          f"{s['compile_time_ns'] / n:.0f} ns and {s['code_bytes'] / n:.1f} bytes each "
          f"({s['compile_failures']} refused)")
    return n


def callgrind():
    counts = {}
    for reps in (1, 3):
        p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                            sys.executable, os.path.abspath(__file__), "--reps", str(reps)],
                           capture_output=True, text=True, check=True,
                           env=dict(os.environ, PYTHONHASHSEED="0"))
        total = int(re.search(r"Collected : (\d+)", p.stderr).group(1))
        n = int(re.search(r"(\d+) bytecode instructions", p.stdout).group(1))
        counts[reps] = (total, n)
        print(f"reps {reps}: {total:,} instructions; {p.stdout.strip()}")
    (t1, n1), (t3, n3) = counts[1], counts[3]
    print(f"compiling: {(t3 - t1) / (n3 - n1):,.0f} machine instructions per bytecode "
          f"instruction ({(t3 - t1) / 1e6:,.1f}M for {n3 - n1} bytecode instructions)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--callgrind", action="store_true")
    args = ap.parse_args()
    if args.callgrind:
        callgrind()
    else:
        compile_all(args.reps)


if __name__ == "__main__":
    main()
