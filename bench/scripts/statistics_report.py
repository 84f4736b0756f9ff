"""Summary statistics of generated measurements with the statistics module."""
import random
import statistics
from fractions import Fraction

rng = random.Random(42)
groups = {name: [rng.gauss(mu, 3.0) for _ in range(2500)]
          for name, mu in (("a", 10.0), ("b", 12.5), ("c", 9.0))}
report = []
for name, xs in groups.items():
    report.append((name, round(statistics.fmean(xs), 4), round(statistics.median(xs), 4),
                   round(statistics.stdev(xs), 4), round(statistics.pvariance(xs), 4),
                   [round(q, 3) for q in statistics.quantiles(xs, n=10)]))
ints = [rng.randrange(1000) for _ in range(3000)]
exact = statistics.mean(Fraction(i, 7) for i in ints[:600])
mode = statistics.multimode(i % 37 for i in ints)
corr = statistics.correlation(groups["a"][:1500], groups["b"][:1500])
reg = statistics.linear_regression(list(range(1500)), groups["c"][:1500])
dist = statistics.NormalDist.from_samples(groups["a"])
print(report[0][:5], float(exact), mode[:3], round(corr, 5), round(reg.slope, 6),
      round(dist.cdf(12), 5), round(statistics.harmonic_mean(ints[1:500]), 4))
