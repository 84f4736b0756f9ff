"""Generate a source tree in a temporary directory, then walk and inspect it with pathlib."""
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

root = Path(tempfile.mkdtemp(prefix="od-bench-"))
try:
    for a in range(8):
        for b in range(6):
            d = root / f"pkg{a}" / f"sub{b}"
            d.mkdir(parents=True)
            for c in range(6):
                suffix = (".py", ".txt", ".json")[c % 3]
                (d / f"file{c}{suffix}").write_text(f"# {a}/{b}/{c}\n" + "x = 1\n" * (c + a))
    counts = {}
    size = 0
    digest = hashlib.sha256()
    for _ in range(3):
        for p in sorted(root.rglob("*")):
            if p.is_file():
                counts[p.suffix] = counts.get(p.suffix, 0) + 1
                size += p.stat().st_size
                rel = p.relative_to(root)
                digest.update(str(rel.with_suffix(".bak")).encode())
        py = [p for p in root.glob("pkg*/sub*/*.py") if p.stem.endswith(("1", "3"))]
        texts = sum(len(p.read_text().splitlines()) for p in py)
        parents = {p.parent.name for p in root.rglob("*.json")}
    walked = sum(len(files) for _, _, files in os.walk(root))
finally:
    shutil.rmtree(root)
print(sorted(counts.items()), size, texts, sorted(parents)[:2], walked, digest.hexdigest()[:12])
