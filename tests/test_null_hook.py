"""bench/null_hook.py's instrument: a PEP 523 hook that only runs the interpreter (what any
eval-frame JIT costs on 3.11 before it does anything; docs/performance.md "Ninth session")."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_null_hook_runs_a_script_unchanged_and_compiles_nothing(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent("""
        import sys, _overdrive
        def leaf(a, b): return a + b
        def mid(x): return leaf(x, 1) + leaf(x, 2)
        print(sum(mid(i) for i in range(int(sys.argv[1]))), sys.argv[1:])
        s = _overdrive.stats()
        print(s["functions_compiled"], s["frames_native"], _overdrive.is_enabled())
    """))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "null_hook.py"),
                          str(script), "1000"], capture_output=True, text=True, check=True)
    stock = subprocess.run([sys.executable, str(script), "1000"], capture_output=True,
                           text=True, check=True)
    assert out.stdout.splitlines()[0] == stock.stdout.splitlines()[0] == "1002000 ['1000']"
    assert out.stdout.splitlines()[1] == "0 0 False"


def test_null_hook_is_refused_while_the_jit_is_on_and_disable_removes_it():
    code = textwrap.dedent("""
        import overdrive, _overdrive
        overdrive.enable()
        try:
            _overdrive._null_hook()
        except RuntimeError as e:
            print("refused:", "JIT must be off" in str(e))
        overdrive.disable()
        _overdrive._null_hook()
        overdrive.enable()            # the JIT's hook replaces it
        print(overdrive.is_enabled())
        overdrive.disable()
        print(overdrive.is_enabled())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["refused:", "True", "True", "False"]
