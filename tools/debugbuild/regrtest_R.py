"""CPython's regrtest leak hunter (-R) with the deltas it measured written down.

    python regrtest_R.py --record FILE -- -R 3:3 test_grammar ...   # runs regrtest
    python regrtest_R.py --summarize FILE [--markdown]               # prints the deltas

regrtest's dash_R() only prints the per-run deltas of sys.gettotalrefcount(),
sys.getallocatedblocks() (minus sys._getquickenedcount()) and the file descriptor count
when it judges them a leak (every measured run >= 1). To show what it saw in every case,
`--record` makes the counters that dash_R() reads (and only when dash_R() itself reads
them) append their values to FILE, and marks where each test's dash_R() starts and ends.
Nothing is kept in Python objects between reads, so recording does not move the counters.
The JIT is switched on, or not, by the environment (OVERDRIVE=1 OVERDRIVE_THRESHOLD=0 and
the overdrive-autoload .pth), exactly as for `python -m test`.
"""
from __future__ import annotations

import argparse
import os
import sys


def _install_recorder(path: str, label: str = "") -> None:
    from test.libregrtest import refleak

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    dash_R_code = refleak.dash_R.__code__
    real = {"rc": sys.gettotalrefcount, "blocks": sys.getallocatedblocks,
            "quick": sys._getquickenedcount}
    getframe = sys._getframe
    write = os.write

    def recorder(tag, fn):
        prefix = tag.encode() + b" "

        def read():
            value = fn()
            if getframe(1).f_code is dash_R_code:
                write(fd, prefix + b"%d\n" % value)
            return value
        return read

    sys.gettotalrefcount = recorder("rc", real["rc"])
    sys.getallocatedblocks = recorder("blocks", real["blocks"])
    sys._getquickenedcount = recorder("quick", real["quick"])

    real_dash_R = refleak.dash_R

    def dash_R(ns, test_name, test_func):
        jit = "off"
        if "_overdrive" in sys.modules:     # the autoload loads the C core alone
            jit = "on" if sys.modules["_overdrive"].is_enabled() else "off"
        if label:
            jit += "," + label
        write(fd, f"begin {test_name} {ns.huntrleaks[0]} {ns.huntrleaks[1]} jit={jit}\n"
              .encode())
        failed = real_dash_R(ns, test_name, test_func)
        write(fd, f"end {test_name} {'LEAKED' if failed else 'clean'}\n".encode())
        return failed

    refleak.dash_R = dash_R


def parse(path: str) -> list:
    """[{test, jit, verdict, rc: [...], blocks: [...]}] with regrtest's measured deltas."""
    out, cur = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "begin":
                if cur is not None:  # the previous dash_R never returned: a test failed
                    out.append(_unfinished(cur, "FAILED"))
                cur = {"test": parts[1], "warmups": int(parts[2]), "runs": int(parts[3]),
                       "jit": parts[4].split("=", 1)[1].replace(",", " "), "rc": [], "blocks": [], "quick": []}
            elif parts[0] == "end" and cur is not None:
                cur["verdict"] = parts[2]
                n = cur["warmups"]
                blocks = [b - q for b, q in zip(cur["blocks"], cur["quick"])]
                # dash_R's deltas: each read minus the previous one; the first `warmups`
                # deltas are warm-up (the very first is against 0).
                cur["rc_deltas"] = [b - a for a, b in zip(cur["rc"], cur["rc"][1:])][n - 1:]
                cur["blocks_deltas"] = [b - a for a, b in zip(blocks, blocks[1:])][n - 1:]
                out.append(cur)
                cur = None
            elif cur is not None and parts[0] in ("rc", "blocks", "quick"):
                cur[parts[0]].append(int(parts[1]))
    if cur is not None:
        out.append(_unfinished(cur, "FAILED"))
    return out


def _unfinished(cur: dict, verdict: str) -> dict:
    # dash_R() stops at the first run whose tests fail (or the process died): no verdict on
    # leaks, only what was read before.
    cur["verdict"] = f"{verdict} (tests failed in run {len(cur['rc']) + 1}; no leak verdict)"
    cur["rc_deltas"] = cur["blocks_deltas"] = []
    return cur


def summarize(path: str, markdown: bool) -> str:
    rows = parse(path)
    lines = []
    if markdown:
        lines.append("| test | JIT | regrtest verdict | reference deltas | block deltas |")
        lines.append("|---|---|---|---|---|")
    for r in rows:
        if markdown:
            lines.append(f"| {r['test']} | {r['jit']} | {r['verdict']} | {r['rc_deltas']} | "
                         f"{r['blocks_deltas']} |")
        else:
            lines.append(f"{r['test']:<24} jit={r['jit']:<3} {r['verdict']:<8} "
                         f"refs={r['rc_deltas']} blocks={r['blocks_deltas']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", help="run regrtest (arguments after --) and record to FILE")
    ap.add_argument("--summarize", help="print the deltas recorded in FILE")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--label", default="", help="a word recorded beside jit=on/off")
    ap.add_argument("regrtest_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.summarize:
        print(summarize(args.summarize, args.markdown))
        return
    if not args.record:
        ap.error("--record FILE or --summarize FILE")
    rest = args.regrtest_args
    if rest and rest[0] == "--":
        rest = rest[1:]
    _install_recorder(args.record, args.label)
    sys.argv = [sys.argv[0]] + rest
    from test.libregrtest import main as regrtest_main
    regrtest_main()


if __name__ == "__main__":
    main()
