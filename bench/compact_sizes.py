"""Code size and compile time per bytecode instruction, full vs compact units
(docs/performance.md "Compact first units").

usage: python bench/compact_sizes.py [BENCHMARK ...]
Runs `bench/profile_one.py NAME 1 1` (pyperformance) for each benchmark and
bench/short_script.py, each in a fresh process with OVERDRIVE_COMPACT=0 (every unit full),
auto (compact first for code without a loop: the default) and all (every first unit
compact), and prints overdrive.stats() per instruction compiled. With 0 and all,
recompile_after=0: the figures are those of first units only, full or compact; with auto
(recompile_after=1000, as by default) code_bytes also holds the full units that replaced
compact ones (column recomp), which instructions_compiled does not count."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
STATS = ("import atexit, json, os, sys, overdrive\n"
         "if os.environ['OVERDRIVE_COMPACT'] != 'auto': overdrive.config(recompile_after=0)\n"
         "atexit.register(lambda: print('@@' + json.dumps(overdrive.stats()), file=sys.stderr))\n"
         "sys.argv = sys.argv[1:]\n"
         "import runpy; runpy.run_path(sys.argv[0], run_name='__main__')\n")


def measure(argv, mode, jit_env):
    env = dict(os.environ, OVERDRIVE_COMPACT=mode, **jit_env)
    p = subprocess.run([sys.executable, "-c", STATS] + argv, env=env, capture_output=True,
                       text=True, check=True)
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("@@")][-1]
    return json.loads(line[2:])


def main():
    runs = [(name, [os.path.join(HERE, "profile_one.py"), name, "1", "1"], {})
            for name in sys.argv[1:]]
    runs.append(("short_script", [os.path.join(HERE, "short_script.py"), "--quiet"],
                 {"OVERDRIVE": "1"}))
    print(f"{'program':16} {'mode':5} {'funcs':>6} {'compact':>7} {'instrs':>7} {'bytes':>9} "
          f"{'B/instr':>8} {'ns/instr':>8} {'recomp':>6}")
    for name, argv, env in runs:
        for mode in ("0", "auto", "all"):
            s = measure(argv, mode, env)
            n = max(s["instructions_compiled"], 1)
            print(f"{name:16} {mode:5} {s['functions_compiled']:6} {s.get('functions_compact', 0):7} "
                  f"{n:7} {s['code_bytes']:9} {s['code_bytes'] / n:8.1f} "
                  f"{s['compile_time_ns'] / n:8.0f} {s['functions_recompiled']:6}")


if __name__ == "__main__":
    main()
