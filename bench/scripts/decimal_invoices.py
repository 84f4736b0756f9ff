"""Invoices with exact decimal arithmetic: line totals, tax, rounding, a summary."""
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, getcontext, localcontext
import random

getcontext().prec = 28
CENT = Decimal("0.01")
rng = random.Random(7)
RATES = {"std": Decimal("0.20"), "reduced": Decimal("0.055"), "zero": Decimal("0")}


class Line:
    def __init__(self, sku, qty, price, rate):
        self.sku, self.qty, self.price, self.rate = sku, qty, price, rate

    def net(self):
        return (self.price * self.qty).quantize(CENT, ROUND_HALF_UP)

    def tax(self):
        return (self.net() * RATES[self.rate]).quantize(CENT, ROUND_HALF_EVEN)


def invoice(n):
    lines = [Line(f"SKU{rng.randrange(1000):04}", rng.randint(1, 20),
                  Decimal(rng.randrange(50, 50000)) / 100, rng.choice(list(RATES)))
             for _ in range(n)]
    net = sum((l.net() for l in lines), Decimal(0))
    tax = sum((l.tax() for l in lines), Decimal(0))
    discount = (net * Decimal("0.03")).quantize(CENT) if net > 1000 else Decimal(0)
    return net, tax, discount, net + tax - discount


totals = [invoice(rng.randint(5, 40)) for _ in range(700)]
grand = sum((t[3] for t in totals), Decimal(0))
with localcontext() as ctx:
    ctx.prec = 50
    mean = grand / len(totals)
    root = mean.sqrt()
print(grand, mean.quantize(CENT), root.quantize(Decimal("0.000001")),
      max(t[3] for t in totals), sum(1 for t in totals if t[2]))
