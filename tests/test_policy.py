"""The compile policy: when the hook compiles a code object (src/hook/hook.c,
docs/performance.md "Short programs and the compile policy").

threshold 0 compiles everything at its first entry; threshold 1 code with a loop at its
first entry and the rest at the second; threshold N > 1 (the default, 200) code without a
loop at its (N+1)-th entry, code with a loop of the program's own files at its first
entry, and code with a loop of the standard library or an installed package (but not the
__main__ script) once its interpreted entries took as long as compiling it is expected to
(at the latest at the (N+1)-th entry); so is any loop code of
at least 1024 code units (hook.c OD_RENT_CODE_UNITS). info() shows the rent paid and due
(rent_paid_ns, rent_due_ns). A count or a rent is acted on only when it was reached at
pace: the last threshold entries (the rent's time) within a twentieth of the process's age
(hook.c count_window_hot, rent_paid_at_pace)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import tier1_only

import overdrive

SOURCE = textwrap.dedent("""
    def no_loop(x):
        return x + 1

    def with_loop(n):
        total = 0
        for i in range(n):
            total += i
        return total

    def gen(n):
        for i in range(n):
            yield i
""")


@pytest.fixture(autouse=True)
def _default_threshold_after_each_test():
    yield
    overdrive.disable()
    overdrive.config(threshold=200)


def fresh(filename: str = "<policy test>") -> dict:
    """New code objects (the JIT's per-code counts start at zero), as if from `filename`."""
    namespace: dict = {}
    exec(compile(SOURCE, filename, "exec"), namespace)
    return namespace


def compiled(fn) -> bool:
    return overdrive.info(fn)["compiled"]


def test_default_threshold_is_200():
    code = "import overdrive; print(overdrive.config()['threshold'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items()
                              if not k.startswith("OVERDRIVE")}, check=True)
    assert out.stdout.strip() == "200"


def test_threshold_0_compiles_everything_at_its_first_entry():
    ns = fresh()
    overdrive.enable(threshold=0)
    ns["no_loop"](1)
    ns["with_loop"](3)
    assert compiled(ns["no_loop"]) and compiled(ns["with_loop"])
    assert overdrive.info(ns["no_loop"])["interpreted_entries"] == 0


def test_threshold_1_loop_at_first_entry_the_rest_at_the_second():
    ns = fresh(os.path.join(sys._stdlib_dir, "policy_fake.py"))  # even stdlib code
    overdrive.enable(threshold=1)
    ns["with_loop"](3)
    assert compiled(ns["with_loop"])
    ns["no_loop"](1)
    assert not compiled(ns["no_loop"])
    ns["no_loop"](1)
    assert compiled(ns["no_loop"])
    assert overdrive.info(ns["no_loop"])["interpreted_entries"] == 1


def test_threshold_n_compiles_code_without_a_loop_at_entry_n_plus_1():
    ns = fresh()
    overdrive.enable(threshold=7)
    for _ in range(7):
        ns["no_loop"](1)
    info = overdrive.info(ns["no_loop"])
    assert not info["compiled"] and info["interpreted_entries"] == 7
    ns["no_loop"](1)
    assert compiled(ns["no_loop"])


def test_program_loops_compile_at_their_first_entry():
    ns = fresh("/home/user/app.py")
    overdrive.enable(threshold=50)
    assert ns["with_loop"](3) == 3
    assert compiled(ns["with_loop"])
    assert overdrive.info(ns["with_loop"])["interpreted_entries"] == 0


def _large_loop(lines: int) -> str:
    # One loop around a long body, as in regex_v8's block functions (run once or twice).
    body = "".join(f"        total += len(str(i + {k}))\n" for k in range(lines))
    return f"def large(n):\n    total = 0\n    for i in range(n):\n{body}    return total\n"


def test_large_program_loops_are_rented():
    namespace: dict = {}
    exec(compile(_large_loop(100), "/home/user/app.py", "exec"), namespace)
    large = namespace["large"]
    assert len(large.__code__.co_code) // 2 >= 1024
    overdrive.enable(threshold=1000)
    for _ in range(3):               # short runs: far less than compiling would cost
        large(1)
    assert not compiled(large)
    rent = overdrive.info(large)
    # The rent is elapsed time: on a loaded machine a short run that was descheduled can
    # pay it (the next call then compiles). Otherwise the long run below is interpreted.
    paid_by_short_runs = rent["rent_paid_ns"] >= rent["rent_due_ns"] > 0
    large(20_000)                    # its own time in the interpreter pays the rent
    large(1)
    assert compiled(large)
    assert overdrive.info(large)["interpreted_entries"] == (3 if paid_by_short_runs else 4), rent


@tier1_only
def test_rented_loop_code_runs_compact_until_its_loop_is_hot():
    # hook/codestate.c OD_COMPACT_LOOP_BACKEDGES: rented loop code is first compiled
    # compact (a third of the size: its time may be the C it calls); once a call runs 100
    # iterations, its frame leaves at the loop header, the full unit is compiled from what
    # the compact one's sites saw, and the frame goes on in it, at the header, in the same
    # call. Short calls do not add up.
    namespace: dict = {}
    exec(compile(_large_loop(100), "/home/user/app.py", "exec"), namespace)
    large = namespace["large"]
    expected = {n: large(n) for n in (1, 60, 300)}   # interpreted
    before = overdrive.stats()
    overdrive.enable(threshold=1000)
    try:
        large(20_000)                    # its own time in the interpreter pays the rent
        got = {1: large(1)}              # compiled here: compact
        info = overdrive.info(large)
        assert info["compiled"] and info["compact"] and not info["recompiled"]
        for _ in range(3):
            got[60] = large(60)          # 180 iterations, 60 a call: still compact
        assert overdrive.info(large)["compact"]
        got[300] = large(300)            # the 100th iteration of a call: the full unit
        info = overdrive.info(large)
    finally:
        overdrive.disable()
    after = overdrive.stats()
    assert got == expected
    assert not info["compact"] and info["recompiled"]
    # five calls (the frame that moved over to the full unit at the header counts once)
    assert info["native_entries"] == 5 and set(info["exits"]) <= {"WARMUP"}
    assert after["functions_compact"] - before["functions_compact"] == 1
    assert after["functions_recompiled"] - before["functions_recompiled"] == 1
    # The compact unit's code was freed at once: no frame of it was on a frame chain.
    assert after["retired_units_freed"] - before["retired_units_freed"] == 1


@tier1_only
def test_rented_compact_code_counts_iterations_per_call_when_called_directly():
    # tier1/compile.c emit_prologue: the count of a compact unit's back edges starts again
    # at every fresh entry, including a direct call from compiled code (which enters at the
    # body, after the shared entry's first bytes). It did not, and regex_v8's block
    # functions (3-45 iterations a call, called from the benchmark's compiled loop) moved to
    # their full units after a few calls: 0.45 MB more code in a pyperf worker.
    namespace: dict = {}
    src = _large_loop(100) + ("def driver(n):\n    t = 0\n    for _ in range(1):\n"
                              "        t += large(n)\n    return t\n")
    exec(compile(src, "/home/user/app.py", "exec"), namespace)
    large, driver = namespace["large"], namespace["driver"]
    expected = [driver(60) for _ in range(5)] + [driver(300)]     # interpreted
    overdrive.enable(threshold=1000)
    try:
        large(20_000)                    # its own time in the interpreter pays the rent
        large(1)                         # compiled here: compact
        driver(1), driver(1)             # driver compiled (a program's loop), its call warm
        before = overdrive.stats()
        got = [driver(60) for _ in range(5)]   # 300 iterations, 60 a call, called directly
        after = overdrive.stats()
        still_compact = overdrive.info(large)["compact"]
        got.append(driver(300))          # the 100th iteration of one call: the full unit
        info = overdrive.info(large)
    finally:
        overdrive.disable()
    assert got == expected
    assert after["calls_direct"] - before["calls_direct"] >= 5    # large's calls were direct
    assert still_compact
    assert not info["compact"] and info["recompiled"]


def test_rented_generator_loops_are_compiled_in_full():
    # A generator's frame cannot move to another unit at a loop header, so its rented loop
    # code gets the full unit from the start.
    src = _large_loop(100).replace("    return total\n", "    yield total\n")
    namespace: dict = {}
    exec(compile(src, "/home/user/app.py", "exec"), namespace)
    large = namespace["large"]
    overdrive.enable(threshold=1000)
    try:
        for _ in range(3):
            list(large(20_000))
    finally:
        overdrive.disable()
    info = overdrive.info(large)
    assert info["compiled"] and not info["compact"]


def test_info_shows_the_rent_paid_and_due():
    # Rented loop code (the standard library's, or of 1024 code units or more) shows what
    # its interpreted entries paid and what it owes: its size times the mean compile time
    # per code unit so far; once paid, it is compiled at its next entry.
    small = fresh(os.path.join(sys._stdlib_dir, "policy_fake.py"))["with_loop"]
    namespace: dict = {}
    exec(compile(_large_loop(100), "/home/user/app.py", "exec"), namespace)
    large = namespace["large"]
    program = fresh("/home/user/app2.py")["with_loop"]
    overdrive.enable(threshold=1000)
    small(1)
    large(1)
    overdrive.disable()              # nothing compiles between the readings below
    small_info, large_info = overdrive.info(small), overdrive.info(large)
    assert not small_info["compiled"] and not large_info["compiled"]
    assert "rented" in large_info["why_not"] and "rented" in small_info["why_not"]
    assert 0 < small_info["rent_paid_ns"] < small_info["rent_due_ns"]
    assert 0 < large_info["rent_paid_ns"] < large_info["rent_due_ns"]
    units = {fn: len(fn.__code__.co_code) // 2 for fn in (small, large)}
    assert units[small] < 1024 <= units[large]
    assert (small_info["rent_due_ns"] / units[small]
            == pytest.approx(large_info["rent_due_ns"] / units[large], rel=1e-9))
    overdrive.enable(threshold=1000)
    program(1)                       # program code below the rent size: not rented
    assert overdrive.info(program)["rent_due_ns"] == 0 and compiled(program)
    while overdrive.info(large)["rent_paid_ns"] < overdrive.info(large)["rent_due_ns"]:
        large(2_000)
    large(1)
    info = overdrive.info(large)
    assert info["compiled"] and info["rent_paid_ns"] == info["rent_due_ns"] == 0


def test_program_loops_below_the_rent_size_compile_at_their_first_entry():
    namespace: dict = {}
    exec(compile(_large_loop(10), "/home/user/app.py", "exec"), namespace)
    large = namespace["large"]
    assert len(large.__code__.co_code) // 2 < 1024
    overdrive.enable(threshold=1000)
    large(1)
    assert compiled(large)


def test_stdlib_loops_wait_until_interpreting_them_cost_a_compile():
    ns = fresh(os.path.join(sys._stdlib_dir, "policy_fake.py"))
    overdrive.enable(threshold=1000)
    with_loop = ns["with_loop"]
    for _ in range(3):               # short runs: far less than compiling would cost
        with_loop(1)
    assert not compiled(with_loop)
    with_loop(200_000)               # milliseconds in the interpreter: the rent is paid
    assert not compiled(with_loop)   # (decided at the next entry)
    with_loop(1)
    assert compiled(with_loop)
    assert overdrive.info(with_loop)["interpreted_entries"] == 4


# Never-run padding makes it big: its expected compile cost (per code unit) then dwarfs
# the scheduling noise of a loaded machine in its own time.
CALLER = textwrap.dedent("""
    def calls_back(callback, n):
        for i in range(n):
            callback()
        if n < 0:
""") + "".join(f"        n = n * {k} + {k}\n" for k in range(400))


def _slow_callback():             # a frame of its own (program code, not compiled: no loop)
    t = time.perf_counter() + 0.003
    while time.perf_counter() < t:
        pass


def test_stdlib_rent_is_the_frames_own_time_not_its_callees():
    # A stdlib loop whose time goes to the frames it calls (importlib's _find_spec running
    # module bodies) does not pay its rent with their time: after several milliseconds
    # spent in its callee it is still interpreted; its own time pays it as before.
    namespace: dict = {}
    exec(compile(CALLER, os.path.join(sys._stdlib_dir, "policy_fake.py"), "exec"), namespace)
    calls_back = namespace["calls_back"]
    overdrive.enable(threshold=1000)
    for _ in range(4):
        calls_back(_slow_callback, 2)       # 6 ms each, nearly all of it in the callee
    assert not compiled(calls_back), overdrive.info(calls_back)
    calls_back(int, 300_000)                # its own loop: milliseconds, calling C only
    calls_back(int, 1)
    assert compiled(calls_back)


def test_stdlib_loops_compile_at_the_threshold_at_the_latest():
    # CALLER's never-run padding makes its rent (its expected compile time) far more than a
    # loaded machine's scheduling noise can pay in five short calls (a small function's
    # rent, tens of microseconds, was paid early by one preemption now and then).
    namespace: dict = {}
    exec(compile(CALLER, os.path.join(sys._stdlib_dir, "policy_fake.py"), "exec"), namespace)
    calls_back = namespace["calls_back"]
    overdrive.enable(threshold=5)
    for _ in range(5):
        calls_back(int, 1)
    assert not compiled(calls_back), overdrive.info(calls_back)
    calls_back(int, 1)
    assert compiled(calls_back)


@pytest.mark.parametrize("path", [
    os.path.join(sys._stdlib_dir, "site-packages", "pkg", "mod.py"),
    "/home/user/venv/lib/python3.11/site-packages/pkg/mod.py",
    "/usr/lib/python3/dist-packages/pkg/mod.py",
])
def test_installed_packages_loops_are_rented_as_the_stdlibs(path):
    # An installed package's loops are a library's routines (pytest's collection and
    # reporting: 200 loop functions compiled at their first call in six's test suite).
    ns = fresh(path)
    overdrive.enable(threshold=1000)
    with_loop = ns["with_loop"]
    with_loop(3)
    assert not compiled(with_loop)
    with_loop(200_000)               # milliseconds in the interpreter: the rent is paid
    with_loop(1)
    assert compiled(with_loop)
    assert overdrive.info(with_loop)["interpreted_entries"] == 2


MAIN_IN_SITE_PACKAGES = textwrap.dedent("""
    import overdrive, sys
    sys.path.insert(0, sys.argv[1])
    import policy_lib                 # a module beside the script: an installed package's
    overdrive.enable(threshold=1000)
    def with_loop(n):
        total = 0
        for i in range(n):
            total += i
        return total
    with_loop(3)
    policy_lib.lib_loop(3)
    print(overdrive.info(with_loop)["compiled"], overdrive.info(policy_lib.lib_loop)["compiled"])
""")


def test_the_main_script_is_the_program_even_in_site_packages(tmp_path):
    # pyperformance's benchmarks are scripts in site-packages (pyperformance/data-files):
    # the script's own loops compile at their first entry, as any program's; a module it
    # imports from there is rented.
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "app.py").write_text(MAIN_IN_SITE_PACKAGES)
    (site / "policy_lib.py").write_text(
        "def lib_loop(n):\n    t = 0\n    for i in range(n):\n        t += i\n    return t\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERDRIVE")}
    out = subprocess.run([sys.executable, str(site / "app.py"), str(site)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]


def test_frozen_modules_are_the_stdlib():
    ns = fresh("<frozen policy_fake>")
    overdrive.enable(threshold=50)
    ns["with_loop"](3)
    assert not compiled(ns["with_loop"])


def test_stdlib_generators_pay_their_rent_on_resumes():
    ns = fresh(os.path.join(sys._stdlib_dir, "policy_fake.py"))
    overdrive.enable(threshold=10**6)
    g = ns["gen"](300_000)
    next(g)                          # the first resume: interpreted, timed
    assert not compiled(ns["gen"])
    for _ in g:                      # each resume is timed until the rent is paid
        if compiled(ns["gen"]):
            break
    assert compiled(ns["gen"])


def test_results_are_the_same_under_every_policy():
    expected = [fresh()["with_loop"](n) for n in range(50)]
    for threshold in (0, 1, 3, 200):
        for filename in ("/home/user/app.py", os.path.join(sys._stdlib_dir, "x.py"),
                         "/venv/lib/python3.11/site-packages/pkg/x.py"):
            ns = fresh(filename)
            overdrive.enable(threshold=threshold)
            try:
                got = [ns["with_loop"](n) for n in range(50)]
                got_gen = list(ns["gen"](20))
            finally:
                overdrive.disable()
            assert got == expected and got_gen == list(range(20))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_young_forked_child_compiles_only_its_programs_loops():
    # hook.c OD_FORK_SETTLE_NS (50 ms): a forked child compiles nothing for a count or a
    # rent, and recompiles nothing, until it has lived that long (a short-lived pool
    # worker would compile again, in each child, what only children run); its program's
    # own loops still compile at their first entry. Afterwards it compiles as its parent.
    # While young it keeps no books (hook.c eval_young): no count, no rent, no state for
    # loop-free code it meets first; compiled code runs.
    ns = fresh("/home/user/app.py")
    hot = fresh("/home/user/hot.py")["no_loop"]
    lib = fresh(os.path.join(sys._stdlib_dir, "policy_young.py"))["with_loop"]
    recompile_after = overdrive.config()["recompile_after"]
    try:
        _young_forked_child(ns, hot, lib)
    finally:
        overdrive.disable()
        overdrive.config(recompile_after=recompile_after)


def _young_forked_child(ns: dict, hot, lib) -> None:
    import json

    overdrive.enable(threshold=7, recompile_after=5)
    for _ in range(8):
        hot(1)                                   # compiled in the parent, not recompiled
    assert compiled(hot) and not overdrive.info(hot)["recompiled"]
    parent_hot = overdrive.info(hot)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                 # the child: report, never return
        try:
            os.close(r)
            t0 = time.monotonic()
            for _ in range(20):
                ns["no_loop"](1)
                hot(1)
            loop = ns["with_loop"](3)
            lib_sum = lib(1000)
            young = time.monotonic() - t0 < 0.03
            early = [compiled(ns["no_loop"]), overdrive.info(hot)["recompiled"],
                     compiled(ns["with_loop"])]
            books = [overdrive.info(hot)["entries"], overdrive.info(hot)["native_entries"],
                     overdrive.info(ns["no_loop"])["entries"],
                     overdrive.info(lib)["entries"], overdrive.info(lib)["rent_paid_ns"]]
            time.sleep(0.06)
            results = [ns["no_loop"](1), hot(1)]
            # a young child's calls did not count: no_loop compiles at its 8th call from
            # now (tier 2's stress mode promotes `hot` instead: tier 2's units are never
            # recompiled)
            counted = compiled(ns["no_loop"])
            for _ in range(7):
                ns["no_loop"](1)
            late = [compiled(ns["no_loop"]),
                    overdrive.info(hot)["recompiled"] or overdrive.info(hot)["tier"] == 2]
            os.write(w, json.dumps([young, early, books, counted, late, loop, lib_sum,
                                    results]).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        young, early, books, counted, late, loop, lib_sum, results = json.loads(f.read())
    os.waitpid(pid, 0)
    assert loop == 3 and lib_sum == 499500 and results == [2, 2]
    if young:                                    # (a child descheduled 30 ms proves nothing)
        assert early == [False, False, True]
        # hot's unit ran 20 times uncounted; no_loop and lib were never counted, and lib's
        # loop paid no rent
        assert books == [parent_hot["entries"], parent_hot["native_entries"] + 20, 0, 0, 0]
        assert not counted
    assert late == [True, True]
    for _ in range(8):                           # the parent is no young child
        ns["no_loop"](1)
    assert compiled(ns["no_loop"])


def test_the_counts_of_dead_code_start_from_zero_for_new_code():
    # hook/codestate.c: the code states' counts live in dense blocks of their own, and a
    # dead code object's slot is taken by the next state made: it must start from zero.
    import gc

    overdrive.enable(threshold=1000)
    expected = [i % 5 + 1 for i in range(60)]
    for round_ in range(3):
        fns = [fresh(f"/home/user/counts{round_}.py")["no_loop"] for _ in range(60)]
        for fn, n in zip(fns, expected):
            for _ in range(n):
                fn(1)
        assert [overdrive.info(fn)["entries"] for fn in fns] == expected
        assert [overdrive.info(fn)["interpreted_entries"] for fn in fns] == expected
        del fns, fn
        gc.collect()


def test_rent_is_counted_in_real_time_whatever_the_clock():
    # Rent is counted with the cheapest clock (the CPU's invariant time-stamp counter when
    # there is one: stats()["rent_clock"]) and reported in nanoseconds: a rented frame that
    # waits 30 ms in a C call it makes has paid about that.
    assert overdrive.stats()["rent_clock"] in ("tsc", "monotonic")
    namespace: dict = {}
    source = "import time\ndef waits(n):\n    for i in range(n):\n        time.sleep(0.03)\n"
    exec(compile(source, os.path.join(sys._stdlib_dir, "policy_sleep.py"), "exec"), namespace)
    waits = namespace["waits"]
    overdrive.enable(threshold=1000)
    started = time.perf_counter_ns()
    waits(1)
    elapsed = time.perf_counter_ns() - started
    overdrive.disable()
    info = overdrive.info(waits)
    assert not info["compiled"] and "rented" in info["why_not"]
    assert 30_000_000 * 0.9 <= info["rent_paid_ns"] <= elapsed * 1.1


def _run_fresh_process(source: str) -> list:
    """`source` run in a new process (its age starts there); its last line of output, as JSON."""
    import json
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def _window_in_fresh_process(enable: str, spread_calls: int, window_calls: int,
                             bunched_calls: int, field: str) -> tuple:
    """In a fresh process enabled with `enable`: `spread_calls` entries of a function 50 ms
    apart (in a process well under a second old), then `window_calls` more in
    microseconds (the next window), and `bunched_calls` entries of another function in
    quick succession. info()[field] of the first after each part and of the second, and
    every call's result."""
    return _run_fresh_process(f"""
        import json, time
        import overdrive
        overdrive.enable({enable})
        def spread_out(x):
            return x + 1
        def bunched(x):
            return x + 1
        results = []
        for _ in range({spread_calls}):
            time.sleep(0.05)
            results.append(spread_out(1))
        spread = overdrive.info(spread_out)["{field}"]
        for _ in range({window_calls}):
            results.append(spread_out(1))
        next_window = overdrive.info(spread_out)["{field}"]
        for _ in range({bunched_calls}):
            results.append(bunched(1))
        print(json.dumps([spread, next_window, overdrive.info(bunched)["{field}"], results]))
    """)


def test_a_count_reached_slowly_for_the_processs_age_waits_for_a_faster_window():
    # hook.c count_window_hot: entries spread over more than a twentieth of the process's
    # age (a short program's library code, met now and then over its whole life) are not
    # a reason to compile; the next `threshold` entries are a new window, and a fast one
    # compiles. The same entries in quick succession compile at threshold + 1 as ever.
    # (150 ms between the 1st and the 4th entry; entries 5-7 the next window.)
    spread, next_window, bunched, results = _window_in_fresh_process(
        "threshold=3", 4, 3, 4, "compiled")
    assert results == [2] * 11
    assert (spread, next_window, bunched) == (False, True, True)


def test_tier2_waits_for_a_window_of_entries_fast_for_the_processs_age():
    # hook.c tier2_window_hot: the same rule for tier 2. A tier-1 function whose last
    # tier2_threshold entries took more than a twentieth of the process's age stays in tier 1
    # (a short program's routine met now and then); its next window, in quick succession,
    # promotes it. Thresholds 0 and 1 (the stress mode) are not paced.
    # (Compiled by tier 1 at once; 200 ms between the entries of tier 2's first window.)
    spread, next_window, bunched, results = _window_in_fresh_process(
        "threshold=1, tier2_threshold=3", 5, 5, 6, "tier")
    assert results == [2] * 16
    assert (spread, next_window, bunched) == (1, 2, 2)


def test_a_rent_paid_slowly_for_the_processs_age_is_not_yet_a_reason_to_compile():
    # hook.c rent_paid_at_pace: rented loop code whose interpreted time paid its rent over
    # a long stretch of the process's life has to pay proportionally more; the same rent
    # paid in quick succession compiles at the next entry, as before. The rent is paid in
    # a handful of calls, so one call preempted on a loaded machine can pay it many times
    # over (and then, rightly, compile), and the JIT's clock (the time-stamp counter) and
    # perf_counter need not agree to the millisecond on a loaded VM: each attempt reports
    # its own figures, and one that paid at a clear distance from the rule's boundary must
    # stay interpreted (without the rule, every paid rent compiles at the next entry).
    attempts, bunched = _run_fresh_process(f"""
        import time
        born = time.perf_counter()        # (no later than the JIT's own clock starts)
        import json, os, sys
        import overdrive
        source = "def with_loop(n):\\n    for i in range(n):\\n        pass\\n"
        def rented():
            ns = {{}}
            exec(compile(source, os.path.join(sys._stdlib_dir, "policy_fake.py"), "exec"), ns)
            return ns["with_loop"]
        overdrive.enable(threshold=100000)
        def pay(fn, gap, batch):
            for _ in range(5000):             # short calls until the rent is paid
                info = overdrive.info(fn)
                if info["entries"] and info["rent_paid_ns"] >= info["rent_due_ns"]:
                    return info["rent_paid_ns"], info["rent_due_ns"]
                time.sleep(gap)
                for _ in range(batch):
                    fn(10)
            raise AssertionError("the rent was never paid")
        attempts = []
        for _ in range(5):
            spread_out = rented()
            first = time.perf_counter()
            paid, due = pay(spread_out, 0.01, 1)  # over tens of milliseconds of short calls
            now = time.perf_counter()
            spread_out(10)
            # how far from compiling the rule is: the time taken against the time paid
            # for, scaled by the allowance (a twentieth of the age)
            margin = due * (now - first) / (paid * (now - born) / 20)
            attempts.append([margin, overdrive.info(spread_out)["compiled"]])
            if margin >= 2 and not attempts[-1][1]:
                break
        time.sleep(0.3)                   # (an older process allows a longer time)
        bunched = rented()
        pay(bunched, 0, 20)               # paid within a millisecond or two
        bunched(10)
        print(json.dumps([attempts, overdrive.info(bunched)["compiled"]]))
    """)
    assert [margin for margin, compiled in attempts if margin >= 2 and not compiled], attempts
    assert bunched
