"""The README's demo (bench/demo.py, `make demo`): its report of overdrive.stats() takes every
section stats() has, nested ones included (tier2's exits and attribute reasons are dicts of
dicts: the report raised TypeError on them and `make demo` failed)."""
import importlib.util
import sys
from pathlib import Path

import overdrive

DEMO = Path(__file__).resolve().parent.parent / "bench" / "demo.py"


def load_demo():
    if str(DEMO.parent) not in sys.path:
        sys.path.append(str(DEMO.parent))        # its sibling module odenv
    spec = importlib.util.spec_from_file_location("overdrive_demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_reports_every_section_of_stats():
    demo = load_demo()
    stats = overdrive.stats()
    assert any(isinstance(v, dict) and any(isinstance(x, dict) for x in v.values())
               for v in stats.values()), "stats() has no nested section to report"
    lines = demo.describe_stats(stats)
    text = "\n".join(lines)
    assert "functions compiled:" in text and "tier2:" in text, text
    # a nested section's numbers come out as section.name
    nested = {"tier2": {"frames": 3, "exits": {"GUARD_TYPE": 7}, "off": True, "why": "x"}}
    (line,) = [l for l in demo.describe_stats(nested) if "tier2:" in l]
    assert "exits.GUARD_TYPE 7" in line and "frames 3" in line, line
    assert "off" not in line.split(":", 1)[1] and "why" not in line, line
