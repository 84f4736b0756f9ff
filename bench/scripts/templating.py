"""Render a report with string.Template, str.format and f-strings, as report scripts do."""
import random
import string
from datetime import date, timedelta

rng = random.Random(9)
HEADER = string.Template("Report for $customer ($cid) -- period $start to $end\n$rule\n")
ROW = "{date:%Y-%m-%d} | {item:<24} | {qty:>5d} | {price:>10,.2f} | {total:>12,.2f}"


class Formatter(string.Formatter):
    def format_field(self, value, spec):
        if spec == "money":
            return f"${value:,.2f}"
        return super().format_field(value, spec)


fmt = Formatter()
out = []
grand = 0.0
for cid in range(80):
    start = date(2024, 1, 1) + timedelta(days=cid)
    out.append(HEADER.substitute(customer=f"Customer {cid}", cid=f"C{cid:05}", start=start,
                                 end=start + timedelta(days=30), rule="-" * 72))
    total = 0.0
    for i in range(rng.randint(10, 40)):
        qty, price = rng.randint(1, 99), rng.uniform(0.5, 999)
        line_total = qty * price
        total += line_total
        out.append(ROW.format(date=start + timedelta(days=i), item=f"item-{rng.randrange(999)}",
                              qty=qty, price=price, total=line_total))
    out.append(fmt.format("Total: {0:money}  Average: {1:money}", total, total / (i + 1)))
    out.append(f"{'':=^72}\n{cid!r:>4} {total:e} {total:.3%} {int(total):#x} {int(total):_}")
    grand += total
text = "\n".join(out)
safe = string.Template("$a $b ${c}x $$").safe_substitute(a=1, c=3)
print(len(text), text.count("\n"), round(grand, 2), safe, string.capwords("hello big world"))
