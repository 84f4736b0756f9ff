"""Running one pyperformance benchmark script under pyperf, on one side (stock or overdrive)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from odenv import OVERDRIVE_VARS, child_env
from suite import Script

# Lines that name the cause of a crash in a traceback or interpreter abort.
_ERROR_LINE = re.compile(
    r"^(\w+\.)*\w*(Error|Exception|Exit|Interrupt|Warning)\b.*"
    r"|^Fatal Python error.*|.*Segmentation fault.*|.*core dumped.*")


@dataclass
class Outcome:
    ok: bool
    error: str | None
    wall_s: float
    runner_pid: int | None  # the pyperf main process; its overdrive stats are not a benchmark's


def remove_stale(*paths: Path | None) -> None:
    """Delete results of an earlier harness run: pyperf appends, stats files too."""
    for path in paths:
        if path is not None and path.exists():
            path.unlink()


def run_pyperf(script: Script, side: str, pyperf_argv: list[str], json_path: Path,
               log: Path, timeout_s: float, stats_file: Path | None = None,
               python: str = sys.executable,
               options: dict[str, str] | None = None) -> Outcome:
    """Run `script` with pyperf, appending its runs to `json_path` and its output to `log`."""
    cmd = [python, str(script.runscript), *script.extra_opts, *pyperf_argv,
           f"--inherit-environ={','.join(OVERDRIVE_VARS)}", "--append", str(json_path)]
    start = time.monotonic()
    with log.open("a") as log_file:
        log_file.write(f"$ {' '.join(cmd)}\n")
        log_file.flush()
        output_start = log_file.tell()
        # A session of its own, so a timeout can stop the pyperf workers too.
        proc = subprocess.Popen(cmd, env=child_env(side, stats_file, options), stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=log.parent)  # whatever a benchmark writes stays here
        try:
            returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return Outcome(False, f"timed out after {timeout_s:.0f} s",
                           time.monotonic() - start, proc.pid)
    wall = time.monotonic() - start
    if returncode != 0:
        with log.open() as log_file:
            log_file.seek(output_start)
            return Outcome(False, crash_summary(log_file.read(), returncode), wall, proc.pid)
    return Outcome(True, None, wall, proc.pid)


def crash_summary(output: str, returncode: int) -> str:
    """One line saying why a pyperf run failed.

    A crashing worker prints its own traceback first; pyperf's runner then adds
    a generic "failed with exit code N". The first names the cause, the last
    says how it ended, so both are kept.
    """
    lines = [line.strip() for line in output.splitlines()
             if _ERROR_LINE.match(line.strip()) and "Warning" not in line.split(":")[0]]
    if not lines:
        tail = [line.strip() for line in output.splitlines() if line.strip()]
        return f"exit code {returncode}" + (f": {tail[-1]}" if tail else "")
    if len(lines) == 1 or lines[0] == lines[-1]:
        return lines[0]
    return f"{lines[0]} [{lines[-1]}]"
