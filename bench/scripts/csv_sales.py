"""Generate a sales CSV, read it back with DictReader, aggregate and write a summary CSV."""
import csv
import io
import random
from collections import defaultdict

rng = random.Random(11)
REGIONS = ["north", "south", "east", "west", "centre"]
PRODUCTS = [f"prod-{i}" for i in range(40)]

out = io.StringIO()
w = csv.writer(out)
w.writerow(["date", "region", "product", "units", "unit_price", "note"])
for i in range(12000):
    w.writerow([f"2024-{i % 12 + 1:02}-{i % 28 + 1:02}", rng.choice(REGIONS), rng.choice(PRODUCTS),
                rng.randint(1, 50), f"{rng.uniform(1, 200):.2f}",
                rng.choice(["", "rush", 'said "hi", left', "multi\nline"])])

totals = defaultdict(float)
units = defaultdict(int)
months = defaultdict(float)
for row in csv.DictReader(io.StringIO(out.getvalue())):
    amount = int(row["units"]) * float(row["unit_price"])
    totals[(row["region"], row["product"])] += amount
    units[row["product"]] += int(row["units"])
    months[row["date"][:7]] += amount

summary = io.StringIO()
dw = csv.DictWriter(summary, fieldnames=["region", "product", "total"])
dw.writeheader()
for (region, product), total in sorted(totals.items()):
    dw.writerow({"region": region, "product": product, "total": f"{total:.2f}"})
best = max(units, key=units.get)
print(len(summary.getvalue().splitlines()), best, units[best], round(sum(months.values()), 2))
