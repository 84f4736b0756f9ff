"""Tables and the ratio chart for a harness results.json.

Re-render without re-running: python bench/report.py bench/results/full/results.json
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from odenv import OVERDRIVE, STOCK

COLUMNS = ("Benchmark", "Stock", "Overdrive", "Ratio", "Significant", "Mem stock",
           "Mem overdrive", "Compile", "Code", "Funcs", "Native", "Notes")


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    raise AssertionError("unreachable")


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def fmt_side(side: dict[str, Any]) -> str:
    if not side["ok"]:
        return "FAILED"
    spread = 100 * side["stdev_s"] / side["mean_s"] if side["mean_s"] else 0.0
    return f"{fmt_time(side['mean_s'])} ±{spread:.0f}%"


def fmt_significance(row: dict[str, Any]) -> str:
    if row["significant"] is None:
        return "-"
    verdict = "yes" if row["significant"] else "no"
    return f"{verdict} (t={row['t_score']:.1f})"


def cells(row: dict[str, Any]) -> list[str]:
    """The table cells of one result row (shared by the text and Markdown tables)."""
    stock, od = row[STOCK], row[OVERDRIVE]
    jit = od.get("jit") or {}
    notes = [f"{side}: {row[side]['error']}" for side in (STOCK, OVERDRIVE)
             if not row[side]["ok"]]
    if od.get("note"):
        notes.append(od["note"])
    if jit.get("tier2_functions"):
        notes.append(f"tier 2: {jit['tier2_functions']:.0f} functions, "
                     f"{jit['tier2_frames']:.0f} frames per process")
    native = jit.get("native_frame_share")
    compile_ns = jit.get("compile_time_ns")
    funcs = jit.get("functions_compiled")
    return [
        row["name"],
        fmt_side(stock),
        fmt_side(od),
        f"{row['ratio']:.2f}x" if row["ratio"] else "-",
        fmt_significance(row),
        fmt_bytes(stock.get("peak_rss_bytes")),
        fmt_bytes(od.get("peak_rss_bytes")),
        fmt_time(compile_ns / 1e9) if compile_ns is not None else "-",
        fmt_bytes(jit.get("code_bytes")),
        f"{funcs:.0f}" if funcs is not None else "-",
        f"{100 * native:.0f}%" if native is not None else "-",
        "; ".join(notes),
    ]


def geomean(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [r["ratio"] for r in rows if r["ratio"]]
    return {
        "ratio": statistics.geometric_mean(ratios) if ratios else None,
        "benchmarks": len(ratios),
        "faster": sum(1 for r in rows if r["significant"] and r["ratio"] > 1),
        "slower": sum(1 for r in rows if r["significant"] and r["ratio"] < 1),
        "not_significant": sum(1 for r in rows if r["significant"] is False),
        "failed_overdrive": sum(1 for r in rows if not r[OVERDRIVE]["ok"]),
        "failed_stock": sum(1 for r in rows if not r[STOCK]["ok"]),
    }


def geomean_line(g: dict[str, Any]) -> str:
    ratio = f"{g['ratio']:.3f}x" if g["ratio"] else "n/a"
    return (f"Geometric mean stock/overdrive over {g['benchmarks']} benchmarks: {ratio} "
            f"(>1: overdrive faster). Significantly faster: {g['faster']}, slower: "
            f"{g['slower']}, not significant: {g['not_significant']}; failed under "
            f"overdrive: {g['failed_overdrive']}, failed on stock: {g['failed_stock']}.")


def header(results: dict[str, Any]) -> str:
    od = results["overdrive"]
    status = (f"OK ({od['info'].get('file')}, version {od['info'].get('version')})"
              if od["ok"] else f"NOT AVAILABLE: {od['error']}")
    machine = results["machine"]
    lines = [
        f"overdrive benchmarks, profile {results['profile']!r}, {results['date_utc']}",
        f"machine: {machine.get('cpu_model', '?')}, {machine['cpu_count']} cores, "
        f"{machine.get('mem_total_gib', '?')} GiB, Python {machine['python']}, "
        f"load average at start {results['load_avg_start'][0]:.1f}",
        f"pyperf parameters (both sides): {params_text(results['params'])}; "
        f"long-running benchmarks: {params_text(results['long_params'])}",
        f"overdrive: {status}",
    ]
    chosen = {"OVERDRIVE_THRESHOLD": results.get("threshold"),
              "OVERDRIVE_TIER2_THRESHOLD": results.get("tier2_threshold")}
    settings = " ".join(f"{k}={v}" for k, v in chosen.items() if v is not None)
    if settings:
        lines.append(f"overdrive side: {settings}")
    lines += [f"WARNING: {w}" for w in od.get("warnings", [])]
    return "\n".join(lines)


def params_text(p: dict[str, Any]) -> str:
    return (f"{p['processes']} processes x ({p['warmups']} warm-up(s) + {p['values']} values), "
            f"values >= {p['min_time']} s")


def progress_line(row: dict[str, Any]) -> str:
    c = cells(row)
    return (f"{c[0]:28} stock {c[1]:>14}  overdrive {c[2]:>14}  {c[3]:>6}  {c[4]:14} "
            f"{c[11][:NOTES_WIDTH]}")


NOTES_WIDTH = 90  # the terminal table cuts long errors; table.md and results.json keep them


def text_table(rows: list[list[str]]) -> str:
    rows = [[*r[:-1], r[-1] if len(r[-1]) <= NOTES_WIDTH else r[-1][:NOTES_WIDTH - 3] + "..."]
            for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in (0, len(r) - 1) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(rows[0]), line(["-" * w for w in widths]),
                      *map(line, rows[1:])])


def markdown_table(rows: list[list[str]]) -> str:
    def line(r: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in r) + " |"
    align = ["---" if i in (0, len(COLUMNS) - 1) else "---:" for i in range(len(COLUMNS))]
    return "\n".join([line(rows[0]), line(align), *map(line, rows[1:])])


def excluded_text(excluded: dict[str, str]) -> str:
    """Benchmarks not run, with reasons; the many 'not in this selection' ones only counted."""
    unselected = [n for n, why in excluded.items() if why.startswith("not in this run")]
    lines = [f"- {name}: {why}" for name, why in excluded.items() if name not in unselected]
    if unselected:
        lines.append(f"- {len(unselected)} other stdlib benchmarks: not in this run's selection")
    return "\n".join(lines)


def render(results: dict[str, Any], out_dir: Path) -> str:
    """Write table.txt, table.md and ratios.png; return the text report."""
    rows = [list(COLUMNS), *(cells(r) for r in results["benchmarks"])]
    g = results["geomean"]
    footer = ("\nCompile, Code, Funcs: overdrive stats per process (mean over measured "
              "worker processes); Native: share of frames run as native code.\n"
              f"{geomean_line(g)}\n\nNot run:\n{excluded_text(results['excluded'])}")
    text = f"{header(results)}\n\n{text_table(rows)}\n{footer}"
    (out_dir / "table.txt").write_text(text + "\n")
    (out_dir / "table.md").write_text(
        f"{markdown_table(rows)}\n\n{geomean_line(g)}\n\nNot run:\n\n"
        f"{excluded_text(results['excluded'])}\n")
    plot_ratios(results, out_dir / "ratios.png")
    return text


def plot_ratios(results: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")  # no display on benchmark machines
    import matplotlib.pyplot as plt

    rows = sorted(results["benchmarks"], key=lambda r: r["ratio"] or 0.0)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.24 * len(rows)))
    for y, row in enumerate(rows):
        if row["ratio"] is None:
            side = OVERDRIVE if not row[OVERDRIVE]["ok"] else STOCK
            ax.text(1.0, y, f"  {side} FAILED", va="center", color="red", fontsize=8)
            continue
        color = ("tab:gray" if not row["significant"]
                 else "tab:green" if row["ratio"] > 1 else "tab:red")
        ax.barh(y, row["ratio"] - 1, left=1, color=color, height=0.7)
    ax.set_yticks(range(len(rows)), [r["name"] for r in rows], fontsize=8)
    ax.axvline(1, color="black", linewidth=0.8)
    g = results["geomean"]
    if g["ratio"]:
        ax.axvline(g["ratio"], color="tab:blue", linestyle="--", linewidth=1,
                   label=f"geometric mean {g['ratio']:.3f}x")
        ax.legend(loc="lower right", fontsize=8)
    # Log scale: 2x faster and 2x slower are the same distance from 1.
    ratios = [r["ratio"] for r in rows if r["ratio"]] or [1.0]
    span = max(max(ratios), 1 / min(ratios), 1.05) ** 1.15
    ax.set_xscale("log")
    ax.set_xlim(1 / span, span)
    candidates = ((0.1, 0.2, 0.25, 1 / 3, 0.5, 2 / 3, 1, 1.5, 2, 3, 4, 5, 10) if span > 1.8
                  else (0.5, 2 / 3, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2))  # readable, not crowded
    ticks = [t for t in candidates if 1 / span <= t <= span]
    ax.set_xticks(ticks, [f"{t:.3g}x" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("stock time / overdrive time  (>1: overdrive faster; "
                  "green/red significant, gray not)")
    ax.set_title(f"overdrive vs stock CPython {results['machine']['python']} "
                 f"({results['profile']}, {results['date_utc']})", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parent / "results" / "full" / "results.json"
    results = json.loads(path.read_text())
    print(render(results, path.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
