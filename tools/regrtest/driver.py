"""Run CPython's regrtest and record one JSON line per test-module result.

Usage: python driver.py RESULTS.jsonl [regrtest arguments...]

Why a driver instead of parsing regrtest's printed summary or --junit-xml:
  * the summary is prose meant for humans and changes between point releases;
  * --junit-xml only contains modules whose worker reported back, so exactly
    the interesting cases (a worker that segfaulted, aborted or hung until the
    timeout) are missing from it.
regrtest's main process funnels every module result -- including crashes,
timeouts and re-runs -- through TestResults.accumulate_result(), so we wrap
that one method and append each TestResult to a JSON-lines file as it
arrives.  Results written so far survive even if the main process is killed.

The tests themselves always run in worker processes (the runner always passes
-j), so this wrapper never executes inside a process that runs test code.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

# Tracebacks of a badly broken module can be huge; keep the head and the tail.
MAX_TRACEBACK_CHARS = 6000


def _clip(text: str) -> str:
    if len(text) <= MAX_TRACEBACK_CHARS:
        return text
    half = MAX_TRACEBACK_CHARS // 2
    return text[:half] + "\n[... clipped ...]\n" + text[-half:]


# Worker output is only available one level up, in RunWorkers._process_result;
# it is stashed here for the accumulate_result() call it makes.  Both run in
# regrtest's main thread, one result at a time.
_current_worker: dict[str, Any] = {}
MAX_OUTPUT_CHARS = 8000
# Outcomes whose worker output is worth keeping: that is where the
# faulthandler traceback of a segfault or a timeout ends up.
_KEEP_OUTPUT = {"UNCAUGHT_EXC", "WORKER_FAILED", "WORKER_BUG", "TIMEOUT", "INTERRUPTED"}


def _install_hook(results_path: str) -> None:
    from test.libregrtest import results as rt_results
    from test.libregrtest import run_workers

    original_process = run_workers.RunWorkers._process_result

    def _process_result(self: Any, item: Any) -> Any:
        _current_worker.clear()
        if not item[0]:  # item = (False, MultiprocessResult)
            mp_result = item[1]
            _current_worker.update(result=mp_result.result,
                                   err_msg=mp_result.err_msg,
                                   stdout=mp_result.worker_stdout or "")
        try:
            return original_process(self, item)
        finally:
            _current_worker.clear()

    run_workers.RunWorkers._process_result = _process_result
    original = rt_results.TestResults.accumulate_result

    def accumulate_result(self: Any, result: Any, runtests: Any) -> None:
        record: dict[str, Any] = {
            "test": result.test_name,
            "state": result.state,
            "duration": result.duration,
            "rerun": bool(runtests.rerun),
            "match_tests": [list(f) if isinstance(f, tuple) else f
                            for f in (runtests.match_tests or ())],
            "errors": [[name, _clip(tb)] for name, tb in (result.errors or [])],
            "failures": [[name, _clip(tb)] for name, tb in (result.failures or [])],
            "stats": None,
        }
        if _current_worker.get("result") is result:
            record["err_msg"] = _current_worker["err_msg"]
            if result.state in _KEEP_OUTPUT:
                record["output_tail"] = _current_worker["stdout"][-MAX_OUTPUT_CHARS:]
        if result.stats is not None:
            record["stats"] = {"tests_run": result.stats.tests_run,
                               "failures": result.stats.failures,
                               "skipped": result.stats.skipped}
        # Append + flush per record: a killed run still leaves usable data.
        with open(results_path, "a", encoding="utf-8") as fp:
            fp.write(json.dumps(record) + "\n")
        original(self, result, runtests)

    rt_results.TestResults.accumulate_result = accumulate_result


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: driver.py RESULTS.jsonl [regrtest args...]")
    results_path = os.path.abspath(sys.argv[1])
    # run.py reads our output through a pipe and echoes it live; without this
    # regrtest's progress lines would arrive in 8 KiB bursts.  (Not -u or
    # PYTHONUNBUFFERED: those would leak into the test processes.)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # Behave like "python -m test": cwd first on sys.path, not this directory.
    sys.path[0] = ""
    _install_hook(results_path)
    from test.libregrtest.main import main as regrtest_main
    sys.argv = [sys.argv[0], *sys.argv[2:]]
    regrtest_main()


if __name__ == "__main__":
    main()
