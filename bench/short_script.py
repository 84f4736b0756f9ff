"""A short stdlib script (issue 13): difflib, decimal, statistics and json, each run a few
times, as a program that ends before most of its functions get hot. Prints the JIT's
stats() and the peak RSS as one JSON line (for docs/performance.md "Compact first units").

usage: OVERDRIVE=1 [OVERDRIVE_COMPACT=0|auto|all] python bench/short_script.py
       python bench/short_script.py            (stock: no JIT)"""
import decimal
import difflib
import json
import resource
import statistics
import sys


def work():
    a = [f"line {i} {'x' * (i % 7)}\n" for i in range(120)]
    b = a[:40] + [f"changed {i}\n" for i in range(10)] + a[50:]
    diff = list(difflib.unified_diff(a, b, "a", "b"))
    ratio = difflib.SequenceMatcher(None, "".join(a[:30]), "".join(b[:30])).ratio()
    ctx = decimal.Context(prec=30)
    total = sum((ctx.divide(decimal.Decimal(i), decimal.Decimal(7)) for i in range(1, 200)),
                decimal.Decimal(0))
    data = [float(i % 17) * 1.5 for i in range(500)]
    st = (statistics.mean(data), statistics.median(data), statistics.pstdev(data),
          statistics.fmean(data), statistics.mode([1, 2, 2, 3]))
    doc = json.dumps({"diff": diff[:20], "ratio": ratio, "total": str(total), "st": st},
                     sort_keys=True, indent=1)
    return len(json.loads(doc)["diff"]), len(doc)


for _ in range(3):
    result = work()

out = {"result": result, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
try:
    import overdrive
    if overdrive.is_enabled():
        s = overdrive.stats()
        out.update({k: s[k] for k in ("functions_compiled", "functions_compact",
                                      "functions_recompiled", "instructions_compiled",
                                      "code_bytes", "compile_time_ns") if k in s})
except ImportError:
    pass
print(json.dumps(out), file=sys.stderr if "--quiet" in sys.argv else sys.stdout)
